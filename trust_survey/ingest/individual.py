"""Individual returns: survey-platform CSV exports and many-respondent SPSS/CSV files.

An instrument whose audience is ``individual`` (``individual_review``) is keyed by a pseudonymous
respondent id, which the store keeps where an organisation's ODS code goes (``org_code``). Each
respondent is **one submission**, whatever the file held: a workbook holds one respondent, an SPSS or
CSV file one case per respondent, a platform export one row per respondent. So a respondent's later
answer (in any format) supersedes the earlier one, ``diff RESPONDENT_ID`` compares that respondent's
two answers, and one bad row rejects that respondent only. Every submission of a file records the
file (``submission_files``), so ingesting the same file again is a no-op.

A **platform export** (CSV, or a workbook with one sheet) is recognised by its header rows: the mapping
file (``--mapping FILE``, else any in ``<instruments>/mappings/``, else one shipped with the toolkit for
the usual platforms, ``trust_survey/data/platform_mappings/``) whose header layout names the largest
share of the file's columns (as mapped, dropped or personal columns), when that share is at least
:data:`PLATFORM_MIN_SHARE` (see :mod:`trust_survey.ingest.platform_layout`). A CSV in the instrument's
own variable names is not a platform export and is read by variable names like an SPSS file.
The mapping turns labels into codes, leaves personal columns
(names, emails, IP addresses) unread, reports unknown columns (P001) and redacts email addresses typed
into text answers (P006): no name or email reaches the answers table or the wide views.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trust_survey.ingest.issues import Issue, display
from trust_survey.ingest.readers import DataRecord

log = logging.getLogger(__name__)

PLATFORM_MIN_SHARE = 0.5   # of a file's non-blank headers the mapping must explain
PLATFORM_KIND = "platform"
SHIPPED_MAPPINGS = Path(__file__).resolve().parent.parent / "data" / "platform_mappings"


@dataclass(frozen=True)
class Mapping:
    path: Path
    mapping: object            # trust_survey.ingest.platform_csv.PlatformMapping
    explicit: bool = False
    shipped: bool = False      # one of the toolkit's own mappings for the usual platforms

    @property
    def describe(self) -> str:
        what = f"the shipped {self.mapping.platform} mapping" if self.shipped and self.mapping.platform else "mapping"
        return f"{what} {self.path.name}"


def find_mappings(instruments_dir: Path | None, explicit: Path | None = None, registry=None) -> list[Mapping]:
    """The mapping files to try: ``explicit`` first (checked against its instrument; a bad one raises
    DefinitionError), then every ``*.yaml`` in ``<instruments_dir>/mappings`` (a broken one is skipped
    with a log message: it only matters when a file needs it, and then the file is reported unknown)."""
    from trust_survey.errors import DefinitionError, TrustSurveyError
    from trust_survey.ingest.platform_csv import load_mapping

    out: list[Mapping] = []
    if explicit is not None:
        mapping = load_mapping(explicit)
        try:
            inst = registry.get(mapping.instrument, mapping.version) if registry is not None else None
        except TrustSurveyError as exc:
            raise DefinitionError(f"{explicit}: this mapping is for {mapping.instrument} version {mapping.version}, "
                                  f"which is not defined here ({exc}); fix 'instrument' or 'version' in the mapping "
                                  "file") from None
        out.append(Mapping(Path(explicit), load_mapping(explicit, inst), True))
    folder = Path(instruments_dir) / "mappings" if instruments_dir else None
    if folder is not None and folder.is_dir():
        for path in sorted(folder.glob("*.y*ml")):
            if explicit is not None and path.resolve() == Path(explicit).resolve():
                continue
            try:
                out.append(Mapping(path, load_mapping(path)))
            except TrustSurveyError as exc:
                log.warning("mapping file %s was skipped: %s", path, exc)
    out.extend(shipped_mappings(registry))
    return out


def shipped_mappings(registry=None) -> list[Mapping]:
    """The toolkit's mappings for the usual platforms, for the instrument versions ``registry`` defines
    (all of them without a registry)."""
    from trust_survey.errors import TrustSurveyError
    from trust_survey.ingest.platform_csv import load_mapping

    out = []
    for path in sorted(SHIPPED_MAPPINGS.glob("*.yaml")):
        mapping = load_mapping(path)
        if registry is not None:
            try:
                registry.get(mapping.instrument, mapping.version)
            except TrustSurveyError:
                continue
        out.append(Mapping(path, mapping, shipped=True))
    return out


def _norm(text) -> str:
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


def platform_share(columns: list[str], mapping) -> float:
    """The share of a file's non-blank headers that the mapping names (mapped, dropped or personal)."""
    from trust_survey.ingest.platform_layout import explained_share

    return explained_share(columns, mapping)


def choose_mapping(record: DataRecord, mappings: list[Mapping]) -> Mapping | None:
    """The mapping whose header layout explains this export's columns best, if one explains enough; the one
    given with ``--mapping`` whenever it explains enough."""
    from trust_survey.ingest.platform_layout import best_mapping

    explicit = [m for m in mappings if m.explicit]
    found = best_mapping(record.columns, record.rows, explicit, PLATFORM_MIN_SHARE)[0] if explicit else None
    return found or best_mapping(record.columns, record.rows, mappings, PLATFORM_MIN_SHARE)[0]


def grid_record(path: Path, grid: list[list]) -> DataRecord | None:
    """A one-sheet workbook's grid as a CSV-like record (every value as text), for a platform mapping;
    None when the sheet is empty."""
    rows = [[None if v is None or display(v).strip() == "" else display(v) for v in row] for row in grid]
    numbered = [(n, row) for n, row in enumerate(rows, start=1) if any(v is not None for v in row)]
    if not numbered:
        return None
    header = [v or "" for v in numbered[0][1]]
    width = len(header)
    body = [row[:width] + [None] * (width - len(row)) for _, row in numbered[1:]]
    return DataRecord(Path(path), "csv", header, body, {}, [], [n for n, _ in numbered[1:]])


def workbook_platform(book, mappings: list[Mapping]) -> tuple[DataRecord, Mapping] | None:
    """A workbook with one visible sheet (Microsoft Forms' "Open in Excel", Google Forms downloaded as .xlsx
    or .ods) read as a platform export, with the mapping that fits its header; None when it is not one."""
    sheets = [name for name in book.sheet_names if book.visibility.get(name, "visible") == "visible"]
    if len(sheets) != 1 or not mappings:
        return None
    record = grid_record(book.path, book.grid(sheets[0]))
    found = choose_mapping(record, mappings) if record is not None else None
    return (record, found) if found is not None else None


def platform_source(found: Mapping) -> str:
    """What the ledger's ``identified_by`` says for a platform export: the mapping that read it."""
    return f"platform:{found.path.name}"


def platform_record(record: DataRecord, found: Mapping, registry) -> tuple[DataRecord, object, list[Issue]]:
    """Read a platform export through its mapping: (a record in the instrument's variable names with
    codes as values, the instrument, the mapping's findings as issues)."""
    from trust_survey.ingest.platform_csv import apply_mapping, load_mapping
    from trust_survey.ingest.platform_layout import export_names

    from trust_survey.errors import TrustSurveyError
    from trust_survey.ingest.issues import FileProblem

    mapping = found.mapping
    try:
        inst = registry.get(mapping.instrument, mapping.version)
        load_mapping(found.path, inst)   # checked against the instrument
    except TrustSurveyError as exc:
        raise FileProblem("F008", f"it looks like a survey-platform export for {mapping.instrument} "
                                  f"v{mapping.version}, but the mapping file {found.path.name} cannot be used: "
                                  f"{exc}; fix the mapping file or the instrument definitions") from None
    name = record.path.name
    skip = mapping.header_rows - 1
    rows, numbers = record.rows[skip:], record.numbers[skip:]
    raw = pd.DataFrame(rows, columns=range(len(record.columns)), index=numbers, dtype=object)
    raw.columns = export_names(record.columns, record.rows, mapping)
    frame, found_issues = apply_mapping(raw, mapping, inst, source=name)
    issues = [Issue("W032", f"read as a survey-platform export through {found.describe} ({len(frame)} "
                            f"respondent(s))", file=name, value=found.path.name)]
    for i in found_issues:
        issues.append(Issue(i.code, i.message, file=name, row=i.row, column=i.column or "",
                            value=i.value or "", severity=i.severity))
    fields = {f.field_id: f for f in inst.fields()}
    columns = [fields[c].var_name for c in frame.columns]
    values = []
    for row in frame.itertuples(index=False, name=None):
        values.append([None if v is None or v is pd.NA or (isinstance(v, float) and v != v)
                       else (int(v) if hasattr(v, "__int__") and not isinstance(v, str) and float(v).is_integer()
                             else v) for v in row])
    mapped = DataRecord(record.path, PLATFORM_KIND, columns, values, {}, list(record.issues),
                        [int(n) for n in frame.index])
    return mapped, inst, issues


def minimised_copy(record: DataRecord, mapping, inst) -> bytes:
    """What is archived (and quarantined) of a platform export instead of the download: its header rows and
    records with only the columns read into answers (mapped to a field that is neither personal nor an
    email), free text redacted as it is stored, as UTF-8 CSV. Personal, dropped and unknown columns are left
    out; so is a repeated column (only the first is read). The download's own sha256 stays in the ledger."""
    from trust_survey.instruments.model import CHOICE_TYPES, NUMERIC_TYPES
    from trust_survey.common.redact import redact
    from trust_survey.ingest.platform_csv import analysis_fields
    from trust_survey.writers import csv_bytes

    fields = {f.field_id: f for f in analysis_fields(inst)}
    wanted = {_norm(c): f for c, f in mapping.columns.items() if f in fields}
    keep, text, seen = [], set(), set()
    for pos, column in enumerate(record.columns):
        key = _norm(column)
        if key in wanted and key not in seen:
            seen.add(key)
            keep.append(pos)
            if fields[wanted[key]].type not in CHOICE_TYPES | NUMERIC_TYPES:
                text.add(pos)
    header_rows = mapping.header_rows - 1
    rows = []
    for k, row in enumerate(record.rows):
        cells = ["" if row[i] is None else str(row[i]) for i in keep]
        if k >= header_rows:
            cells = [redact(c)[0] if i in text and c else c for i, c in zip(keep, cells)]
        rows.append(cells)
    return csv_bytes([record.columns[i] for i in keep], rows)


def split_cases(record: DataRecord) -> list[DataRecord]:
    """One single-case record per case of an individual instrument's record file, each carrying the file's
    own findings (such as W030, read as Windows-1252); they are stored once, with the first respondent."""
    return [DataRecord(record.path, record.kind, record.columns, [row], record.notes, list(record.issues), [number])
            for row, number in zip(record.rows, record.numbers)]


def part_sha(file_sha: str, number: int, respondent: str) -> str:
    """A stable ledger key for one respondent's part of a many-respondent file."""
    return hashlib.sha256(f"{file_sha}:{number}:{respondent}".encode()).hexdigest()
