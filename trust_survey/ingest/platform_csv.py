"""Read a CSV exported by an online survey platform into the instrument's field ids.

A mapping file (``instruments/mappings/<instrument>.platform.v<n>.yaml``) declares which platform column
holds which field, how the platform's answer labels turn into codes, and which columns to drop. Columns
the mapping marks ``drop`` or ``personal`` (names, email and IP addresses), instrument items flagged
``personal: true`` and email items never reach the returned table. Columns the mapping does not know are
reported (P001, with a suggestion) and left out, never guessed.

Issue codes: P001 unknown column · P002 mapped column not in the file (an error, so the file is refused,
unless the mapping lists it under ``optional``) · P003 answer label not recognised ·
P004 not a number · P005 repeated respondent id · P006 email addresses in an unknown column or a text answer ·
P007 a column name used twice in the file · P008 a phone or NHS number removed from a text answer. Email
addresses, UK phone numbers and NHS numbers typed into a kept text answer are replaced
(:mod:`trust_survey.common.redact`), so none reaches an analysis table even through a mis-mapped column.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trust_survey.errors import DefinitionError, InputFileError, NotFoundError, did_you_mean
from trust_survey.instruments.model import CHOICE_TYPES, NUMERIC_TYPES, AnswerField, Instrument
from trust_survey.common.redact import EMAIL, EMAIL_REDACTED, redact, removal_note  # noqa: F401 - EMAIL* re-exported
from trust_survey.ingest.platform_layout import HeaderNames, export_names, header_problems
from trust_survey.common.yamlfile import read_yaml


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class PlatformMapping(_Strict):
    """What one mapping file may say. Label keys are matched ignoring case and repeated spaces."""

    instrument: str
    version: int = Field(ge=1)
    platform: str | None = None
    description: str | None = None
    header_rows: int = Field(default=1, ge=1, le=5)  # some platforms add question-text rows under the names
    header_names: HeaderNames | None = None  # how a column's name is built from those rows (default: row 1)
    columns: dict[str, str] = Field(min_length=1)  # platform column -> field id
    value_sets: dict[str, dict[str, int]] = Field(default_factory=dict)  # shared label -> code tables
    values: dict[str, dict[str, int] | str] = Field(default_factory=dict)  # field -> table, or a value set name
    drop: list[str] = Field(default_factory=list)  # platform bookkeeping to ignore
    personal: list[str] = Field(default_factory=list)  # names, emails, IP addresses: never read
    optional: list[str] = Field(default_factory=list)  # mapped columns a file may lack (else P002 is an error)

    @model_validator(mode="before")
    @classmethod
    def _optional_columns(cls, raw: Any) -> Any:
        """``columns: {"Q5": {field: years_nhs, optional: true}}`` is ``"Q5": years_nhs`` plus "Q5" in optional."""
        if not isinstance(raw, dict) or not isinstance(raw.get("columns"), dict):
            return raw
        columns, optional = {}, list(raw.get("optional") or [])
        for column, target in raw["columns"].items():
            if isinstance(target, dict) and set(target) <= {"field", "optional"} and "field" in target:
                columns[column] = target["field"]
                if target.get("optional") is True:
                    optional.append(column)
            else:
                columns[column] = target
        return {**raw, "columns": columns, "optional": optional}

    def labels_for(self, field_id: str) -> dict[str, int]:
        table = self.values.get(field_id, {})
        return dict(self.value_sets.get(table, {})) if isinstance(table, str) else dict(table)


@dataclass(frozen=True)
class Issue:
    """One finding about a platform CSV, in the shape every validation report uses."""

    file: str
    row: int | None
    column: str | None
    value: str | None
    code: str
    severity: Literal["error", "warning"]
    message: str
    sheet: str | None = None
    cell: str | None = None

    def to_dict(self) -> dict:
        return asdict(self)


def _norm(text: Any) -> str:
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


def _structure_problems(raw: dict, exc: ValidationError) -> list[str]:
    """pydantic errors as ``path.to.key: problem`` lines, without pydantic's union-branch tags."""
    problems = []
    for err in exc.errors():
        parts = list(err["loc"])
        if parts[-1:] == ["[key]"]:  # a bad key: name it as written, not by pydantic's stand-in
            parts = parts[:-1]
            parts[-1] = err["input"]
        loc = [str(p) for p in parts]
        if loc[:1] == ["values"] and len(loc) > 2:  # values.<field>.<union branch>...: say it once, plainly
            branch = loc.pop(2)
            given = (raw.get("values") or {}).get(loc[1])
            if isinstance(given, dict) != branch.startswith("dict"):
                continue
            if not isinstance(given, dict):
                problems.append(f"values.{loc[1]}: expected a table of label: code, or the name of a value set")
                continue
        where = ".".join(loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = list(PlatformMapping.model_fields) if len(loc) == 1 else []
            problems.append(f"{where}: unknown key{did_you_mean(loc[-1], allowed)}")
        elif err["type"] == "missing":
            problems.append(f"{where}: required key is missing")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if err["type"] == "string_type" and isinstance(err.get("input"), (bool, int, float)):
                msg += f" (YAML read {err['input']!r} as a {type(err['input']).__name__}: put it in quotes)"
            problems.append(f"{where}: {msg}")
    return problems


@functools.lru_cache(maxsize=16)
def _parse_mapping(path: str, stamp: tuple) -> PlatformMapping:
    raw = read_yaml(path, "mapping")
    if not isinstance(raw, dict):
        raise DefinitionError(f"{path}: a mapping file must be a mapping of keys",
                              details=[f"{path}: (top level): expected a mapping, found {type(raw).__name__}"])
    try:
        return PlatformMapping.model_validate(raw)
    except ValidationError as exc:
        problems = _structure_problems(raw, exc)
        raise DefinitionError(f"{path}: {len(problems)} problem(s) in the mapping",
                              details=[f"{path}: {p}" for p in problems]) from None


def mapping_problems(mapping: PlatformMapping, inst: Instrument) -> list[str]:
    """Checks against the instrument: every target is a form field, every code is one of its choices."""
    problems = []
    if mapping.instrument != inst.id:
        problems.append(f"instrument: the mapping is for '{mapping.instrument}', not '{inst.id}'")
    if mapping.version != inst.version:
        problems.append(f"version: the mapping is for version {mapping.version}, not {inst.version}")
    problems.extend(header_problems(mapping.header_names, mapping.header_rows))
    fields = {f.field_id: f for f in inst.fields()}
    targets: dict[str, str] = {}
    for column, field_id in mapping.columns.items():
        where = f"columns.{column}"
        f = fields.get(field_id)
        if f is None:
            problems.append(f"{where}: '{field_id}' is not a field of {inst.key}{did_you_mean(field_id, fields)}")
        elif f.table:
            problems.append(f"{where}: '{field_id}' is a column of table '{f.table}'; a platform CSV has one row "
                            "per respondent, so it can only fill form items")
        if field_id in targets:
            problems.append(f"{where}: field '{field_id}' is already filled from column '{targets[field_id]}'")
        targets.setdefault(field_id, column)
    mapped = {_norm(c) for c in mapping.columns}
    for column in mapping.optional:
        if _norm(column) not in mapped:
            problems.append(f"optional: '{column}' is not under columns{did_you_mean(column, mapping.columns)}")
    for key in ("drop", "personal"):
        for column in getattr(mapping, key):
            if _norm(column) in mapped:
                problems.append(f"{key}: '{column}' is also listed under columns; it cannot be both read and dropped")
    for field_id, table in mapping.values.items():
        where = f"values.{field_id}"
        f = fields.get(field_id)
        if field_id not in targets:
            problems.append(f"{where}: '{field_id}' is not filled by any column{did_you_mean(field_id, targets)}")
            continue
        if f is None or f.table:
            continue
        if f.type not in CHOICE_TYPES:
            problems.append(f"{where}: '{field_id}' is a {f.type} item; labels only apply to choice items")
            continue
        if isinstance(table, str) and table not in mapping.value_sets:
            problems.append(f"{where}: unknown value set '{table}'{did_you_mean(table, mapping.value_sets)}")
            continue
        codes = {c.value for c in _choices(inst, f)} | {m.value for m in inst.spss_missing}
        for label, code in mapping.labels_for(field_id).items():
            if code not in codes:
                problems.append(f"{where}: '{label}' maps to {code}, which is not a code of '{field_id}' "
                                f"(codes: {', '.join(map(str, sorted(codes)))})")
    return problems


def load_mapping(path: Path, inst: Instrument | None = None) -> PlatformMapping:
    """Load a mapping file strictly; with ``inst``, also check it against the instrument.

    Raises DefinitionError whose ``details`` are ``file: path.to.key: problem`` lines, all at once.
    """
    path = Path(path)
    stamp = (path.stat().st_mtime_ns, path.stat().st_size) if path.exists() else ()
    mapping = _parse_mapping(str(path), stamp)
    if inst is not None:
        problems = mapping_problems(mapping, inst)
        if problems:
            raise DefinitionError(f"{path}: {len(problems)} problem(s) in the mapping for {inst.key}",
                                  details=[f"{path}: {p}" for p in problems])
    return mapping


def analysis_fields(inst: Instrument) -> list[AnswerField]:
    """The form fields a respondent table may hold: never personal items, never email addresses."""
    return [f for f in inst.fields() if f.table is None and not f.item.personal and f.item.type != "email"]


def _choices(inst: Instrument, f: AnswerField) -> list:
    """A field's choices: the item's list, or yes/no for one option of a multiple-choice item."""
    return inst.lists()["yes_no"] if f.option is not None else inst.choices_for(f.item)


def _suggest(label: str, labels: list[str]) -> str:
    """A near-miss suggestion for an answer label, also catching the same words in another order."""
    hint = did_you_mean(label, labels)
    if hint:
        return hint
    words = sorted(_norm(label).split())
    same = [option for option in labels if sorted(_norm(option).split()) == words]
    return f"; did you mean '{same[0]}'?" if same else ""


def _label_lookup(mapping: PlatformMapping, inst: Instrument, f: AnswerField) -> dict[str, int]:
    """Label -> code for a choice field: the instrument's labels, codes and values, then the mapping's."""
    lookup: dict[str, int] = {}
    for c in _choices(inst, f):
        lookup[_norm(c.value)] = c.value
        lookup[_norm(c.label)] = c.value
        if c.code:
            lookup[_norm(c.code)] = c.value
    lookup.update({_norm(label): code for label, code in mapping.labels_for(f.field_id).items()})
    return lookup


def apply_mapping(raw: pd.DataFrame, mapping: PlatformMapping, inst: Instrument,
                  source: str = "") -> tuple[pd.DataFrame, list[Issue]]:
    """Turn a platform export (every cell a string, columns as the platform names them) into field ids.

    ``raw``'s index should be the file's row numbers (the header is row 1). Returns a DataFrame with one
    column per analysis field of the instrument (see :func:`analysis_fields`; fields the file lacks are
    blank), choice and integer fields as nullable integer codes, and the list of issues found.
    """
    issues: list[Issue] = []
    headers = [str(c) for c in raw.columns]
    by_norm: dict[str, int] = {}
    for pos, header in enumerate(headers):
        key = _norm(header)
        if key in by_norm:
            issues.append(Issue(source, None, header, None, "P007", "warning",
                                f"column '{header}' appears more than once; only the first is read"))
            continue
        by_norm[key] = pos
    ignored = {_norm(c) for c in mapping.drop} | {_norm(c) for c in mapping.personal}
    mapped = {_norm(c) for c in mapping.columns}
    unfound = [c for c in mapping.columns if _norm(c) not in by_norm]
    unknown = []
    for key, pos in by_norm.items():
        header = headers[pos]
        if key in mapped or key in ignored:
            continue
        unknown.append(header)
        hint = did_you_mean(header, unfound, cutoff=0.5)
        issues.append(Issue(source, None, header, None, "P001", "warning",
                            f"column '{header}' is not in the mapping and was left out; add it to 'columns', "
                            f"'drop' or 'personal' in the mapping file{hint}"))
        cells = raw.iloc[:, pos].dropna().astype(str)
        if cells.str.contains(EMAIL).any():
            issues.append(Issue(source, None, header, None, "P006", "warning",
                                f"column '{header}' looks like it holds email addresses; list it under "
                                "'personal' in the mapping file"))

    keep = {f.field_id: f for f in analysis_fields(inst)}
    out = pd.DataFrame(index=raw.index)
    targets = {field_id: column for column, field_id in mapping.columns.items()}
    optional = {_norm(c) for c in mapping.optional}
    for column in unfound:
        field_id = mapping.columns[column]
        hint = did_you_mean(column, unknown, cutoff=0.5) or did_you_mean(column, headers, cutoff=0.5)
        if field_id == inst.id_item:
            issues.append(Issue(source, None, column, None, "P002", "error",
                                f"the respondent id column '{column}' ({field_id}) is not in the file, so no row "
                                f"can be told apart{hint}; fix 'columns' in the mapping file (or the export)"))
        elif field_id in keep and _norm(column) in optional:
            issues.append(Issue(source, None, column, None, "P002", "warning",
                                f"column '{column}' (field {field_id}) is not in the file, so {field_id} is blank "
                                f"(the mapping marks it optional){hint}"))
        elif field_id in keep:
            issues.append(Issue(source, None, column, None, "P002", "error",
                                f"column '{column}' (field {field_id}) is not in the file, so every answer to "
                                f"{field_id} would be lost{hint}; fix its name under 'columns' in the mapping "
                                "file, or mark it 'optional: true' if the survey did not ask it"))
    for field_id, f in keep.items():
        column = targets.get(field_id)
        if column is None or _norm(column) not in by_norm:
            out[field_id] = pd.Series(pd.NA, index=raw.index, dtype=_dtype(f))
            continue
        header = headers[by_norm[_norm(column)]]
        cells = raw.iloc[:, by_norm[_norm(column)]].astype("string").str.strip()
        cells = cells.mask(cells == "")
        out[field_id] = _convert(cells, f, mapping, inst, source, header, issues)

    id_item = inst.id_item
    if id_item in out.columns:
        ids = out[id_item].dropna()
        for value, rows in ids.groupby(ids).groups.items():
            if len(rows) > 1:
                issues.append(Issue(source, int(rows[-1]), targets.get(id_item), str(value), "P005", "warning",
                                    f"{id_item} '{value}' appears on rows {', '.join(map(str, rows))}; "
                                    "keep one response per respondent"))
    out.index.name = "row"
    return out, issues


def _dtype(f: AnswerField) -> str:
    if f.type in CHOICE_TYPES or f.type == "integer":
        return "Int64"
    if f.type == "decimal":
        return "Float64"
    return "string"


def _convert(cells: pd.Series, f: AnswerField, mapping: PlatformMapping, inst: Instrument, source: str,
             header: str, issues: list[Issue]) -> pd.Series:
    if f.type in CHOICE_TYPES:
        lookup = _label_lookup(mapping, inst, f)
        labels = sorted(set(mapping.labels_for(f.field_id)) | {c.label for c in _choices(inst, f)})
        codes = []
        seen: dict[str, Any] = {}   # a choice column holds a handful of labels, each many times
        for row, cell in cells.items():
            if pd.isna(cell):
                codes.append(pd.NA)
                continue
            code = seen[cell] if cell in seen else seen.setdefault(cell, lookup.get(_norm(cell)))
            if code is None:
                issues.append(Issue(source, int(row), header, str(cell), "P003", "error",
                                    f"row {row}, column '{header}': '{cell}' is not an answer of {f.field_id}"
                                    f"{_suggest(cell, labels)}; add it under 'values.{f.field_id}' "
                                    "in the mapping file"))
            codes.append(pd.NA if code is None else code)
        return pd.Series(codes, index=cells.index, dtype="Int64")
    if f.type in NUMERIC_TYPES:
        numbers = pd.to_numeric(cells.str.replace(",", "", regex=False), errors="coerce")
        bad = cells.notna() & (numbers.isna() | ((numbers % 1 != 0) if f.type == "integer" else False))
        for row, cell in cells[bad].items():
            kind = "a whole number" if f.type == "integer" else "a number"
            issues.append(Issue(source, int(row), header, str(cell), "P004", "error",
                                f"row {row}, column '{header}': '{cell}' is not {kind} ({f.field_id})"))
        numbers = numbers.mask(bad)
        return numbers.astype("Int64") if f.type == "integer" else numbers.astype("Float64")
    text = cells.astype("string")
    out = []
    for row, cell in text.items():
        if pd.isna(cell):
            out.append(cell)
            continue
        clean, kinds = redact(str(cell))
        out.append(clean)
        for kind in kinds:
            code, removed = removal_note(kind, f.field_id)
            issues.append(Issue(source, int(row), header, None, code, "warning",
                                f"row {row}, column '{header}': {removed}"))
    return pd.Series(out, index=text.index, dtype="string")


def read_frame(path: Path, header_rows: int = 1, encoding: str | None = None) -> pd.DataFrame:
    """Read a CSV as strings with its header row's names kept as they are (duplicates included).

    Read by :func:`trust_survey.csvread.read_records` (a truncated or malformed file is refused whole).
    Rows are indexed by their record number in the file (header = 1); extra header rows and records
    with every cell blank (as a spreadsheet re-save leaves behind) are skipped.
    """
    from trust_survey.csvread import blank, read_records

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file")
    try:
        table = read_records(path, encoding=encoding)
    except InputFileError as exc:
        raise InputFileError(f"{path}: {exc}", code=exc.code) from None
    headers = [str(h).strip() for h in table.header]
    skip = header_rows - 1
    frame = pd.DataFrame(table.records[skip:], columns=range(len(headers)), index=table.numbers[skip:], dtype=object)
    frame.columns = headers
    return frame[[not blank(record) for record in table.records[skip:]]]


def read_platform_csv(path: Path, mapping_path: Path, inst: Instrument,
                      encoding: str | None = None) -> tuple[pd.DataFrame, list[Issue]]:
    """Read a survey-platform export through its mapping: (responses in field ids, issues)."""
    mapping = load_mapping(mapping_path, inst)
    raw = read_frame(path, 1, encoding)
    if mapping.header_names is not None or mapping.header_rows > 1:   # names from the header rows (platform_layout)
        raw.columns = export_names(list(raw.columns), raw.values.tolist(), mapping)
        raw = raw.iloc[mapping.header_rows - 1:]
    return apply_mapping(raw, mapping, inst, source=str(path))


def issues_frame(issues: list[Issue]) -> pd.DataFrame:
    """The issues as a table with the report's usual columns."""
    cols = ["file", "sheet", "cell", "row", "column", "value", "code", "severity", "message"]
    return pd.DataFrame([i.to_dict() for i in issues], columns=cols)
