"""``ingest``: take in every return given, validate it, store it, and report on all of them.

:func:`ingest_paths` runs the stages in order:

1. **collect** the files (folders recursively), recognise each by its content (:mod:`.sniff`), hash
   it, and group an SPSS/CSV return's record files (``<stem>.sav`` + ``<stem>__<table>.sav``) into one
   unit; a unit already in the ledger (same sha256) is a no-op, reported as such;
2. **examine** each unit: read (:mod:`.readers`), identify (:mod:`.identify`), find every answer
   (:mod:`.extract`), clean it (:mod:`.clean`) and check cross-field rules and duplicates
   (:mod:`.validate`); large runs do this on every core while Great Expectations loads;
3. **column rules** once per instrument version, over one tidy checks table of every unit of the run;
4. **store** every unit, oldest first (so a resubmission supersedes the return before it), all in one
   transaction (all or nothing); should that fail, each unit is stored in its own transaction so one
   bad unit blocks no other. Unreadable and rejected files are also copied to the quarantine;
5. **report**: ``issues.csv``, ``issues.json``, ``files.csv`` and ``report.html`` in the run folder.
"""
from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from trust_survey import store
from trust_survey.errors import InputFileError
from trust_survey.ingest.clean import Cleaner
from trust_survey.ingest.engines import make_engine
from trust_survey.ingest.extract import FORM, Extracted, case_locator, extract_records, extract_workbook
from trust_survey.ingest.identify import (
    Identity, check_agreement, field_map, identify_records, identify_respondent, identify_workbook,
    instrument_of_records, is_individual, records_round,
)
from trust_survey.ingest.individual import (
    Mapping, choose_mapping, minimised_copy, part_sha, platform_record, platform_source, split_cases,
    workbook_platform,
)
from trust_survey.ingest.issues import COLUMNS, ERROR, FileProblem, Issue, display
from trust_survey.ingest.individual import find_mappings
from trust_survey.ingest.pool import can_fork, gc_frozen, gc_paused, run_forked, workers_for
from trust_survey.ingest.readers import BookReader, read_csv, read_sav
from trust_survey.ingest.sniff import DEFAULT_MAX_MB, WORKBOOK_KINDS, sniff
from trust_survey.ingest.report import write_report
from trust_survey.ingest.validate import (
    ColumnRule, RuledFields, UnitChecks, build_checks, column_issues, column_rules, cross_issues,
    plan_checks, ruled_fields, unit_checks,
)
from trust_survey.instruments.loader import Registry, load_registry
from trust_survey.instruments.model import Instrument
from trust_survey.common.hashing import sha256_file

log = logging.getLogger(__name__)

#: Files found in folders that are never returns (our own outputs); named explicitly they are read.
NOT_RETURNS = {"distribution.csv", "simulation_manifest.csv", "simulation_injections.csv",
               "simulation_job_titles.csv", "individual_manifest.csv", "issues.csv", "files.csv"}
RETURN_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".sav", ".zsav", ".txt"}
#: Saved emails found in a folder: read by trust_survey.distribute.mailin (their attachments), not listed as skipped.
MAIL_SUFFIXES = {".eml", ".msg"}
#: DuckDB's memory limit while ingest stores a run (see ingest_paths).
INGEST_DB_MEMORY = "128MB"
ORG_NAME_FIELD = "org_name"   # the form item the builder pre-fills with the organisation's name
ENGINES = ("gx", "pandas")


@dataclass
class Unit:
    """One return: a workbook, or the record files of one SPSS/CSV return."""

    name: str
    paths: list[Path]
    kind: str
    sha256: str
    files: list[dict]
    received_at: dt.datetime
    note: str = ""
    problems: list[Issue] = field(default_factory=list)   # why it is refused unread (F codes), if it is
    part_of: str = ""   # one respondent of a many-respondent file: that file's name

    @property
    def size(self) -> int:
        return sum(f["bytes"] for f in self.files)


@dataclass
class Examined:
    unit: Unit
    identity: Identity | None = None
    extracted: Extracted | None = None
    issues: list[Issue] = field(default_factory=list)
    parts: list["Examined"] | None = None   # a many-respondent file: one Examined per respondent
    answer_rows: list[tuple] = field(default_factory=list)   # for the store (see _answer_rows)
    checks: UnitChecks | None = None                         # for the column rules

    @property
    def fatal(self) -> bool:
        return self.identity is None

    @property
    def errors(self) -> int:
        return sum(i.severity == ERROR for i in self.issues)

    @property
    def warnings(self) -> int:
        return sum(i.severity != ERROR for i in self.issues)

    @property
    def outcome(self) -> str:
        if self.fatal:
            return "quarantined"
        if self.errors:
            return "rejected"
        return "accepted_with_warnings" if self.warnings else "accepted"


@dataclass
class FileOutcome:
    file: str
    status: str
    org_code: str = ""
    instrument: str = ""
    round: int | None = None
    submission_id: int | None = None
    supersedes: int | None = None
    errors: int = 0
    warnings: int = 0
    identified_by: str = ""
    message: str = ""


@dataclass
class IngestResult:
    out_dir: Path
    outcomes: list[FileOutcome]
    issues: pd.DataFrame
    paths: dict[str, Path]
    skipped: list[Path]
    strict: bool = False

    def count(self, *statuses: str) -> int:
        return sum(o.status in statuses for o in self.outcomes)

    @property
    def exit_code(self) -> int:
        bad = self.count("rejected", "quarantined") or any(o.errors for o in self.outcomes)
        if self.strict and any(o.warnings for o in self.outcomes):
            bad = True
        return 1 if bad else 0


# ---- 1. collect -------------------------------------------------------------------------------------------

def _special(path: Path) -> str:
    """What ``path`` itself is when it is not a plain file or folder (its link is not followed): a symbolic
    link, a named pipe, a device or a socket; "" for a file or a folder."""
    try:
        mode = path.lstat().st_mode
    except OSError:
        return ""
    if stat.S_ISLNK(mode):
        return "link"
    if stat.S_ISFIFO(mode):
        return "pipe"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "device"
    if stat.S_ISSOCK(mode):
        return "socket"
    return ""


def _walk(folder: Path) -> Iterable[Path]:
    """Everything under ``folder`` but folders and hidden names, never following a link (to a file or a
    folder) nor going into one; a folder that cannot be opened is given as itself."""
    try:
        entries = list(os.scandir(folder))
    except OSError:
        yield folder
        return
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        else:
            yield Path(entry.path)


def collect_files(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """Files to read (folders walked recursively) and files skipped as clearly not returns.

    Symbolic links, named pipes, devices and sockets are skipped, whether found in a folder or named:
    none is ever opened (a link could lead out of the returns folder to any file on the system; a pipe
    would wait for ever)."""
    files, skipped = [], []
    for path in paths:
        path = Path(path)
        if _special(path):
            skipped.append(path)
        elif path.is_dir():
            for child in sorted(_walk(path)):
                if child.suffix.lower() in MAIL_SUFFIXES and not _special(child):
                    continue
                if (_special(child) or child.is_dir() or child.name in NOT_RETURNS or child.name.startswith("~$")
                        or child.suffix.lower() not in RETURN_SUFFIXES):
                    skipped.append(child)
                else:
                    files.append(child)
        elif path.is_file():
            files.append(path)
        else:
            raise FileNotFoundError(path)
    seen, unique = set(), []
    for f in files:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, skipped


SPECIAL_REASONS = {
    "link": "a symbolic link, which is never followed (it could lead to any file on this computer, and "
            "unzipping an archive can make one); if it is a return, copy the file itself here and ingest again",
    "pipe": "a named pipe (FIFO), not a file; it was not opened",
    "device": "a device, not a file; it was not opened",
    "socket": "a socket, not a file; it was not opened",
}


def skip_reason(path: Path) -> str:
    """Why a file found in a folder was not read, in words an analyst can act on."""
    special = _special(path)
    if special == "link" and path.is_dir():
        return ("a symbolic link to a folder, which is never followed (it could lead anywhere on this computer); "
                "if it holds returns, name the folder itself")
    if special:
        return SPECIAL_REASONS[special]
    if path.is_dir():
        return "a folder that could not be opened (check its permissions)"
    suffix = path.suffix.lower()
    if path.name in NOT_RETURNS:
        return "one of trust-survey's own files (a register, manifest or report), not a return"
    if path.name.startswith("~$"):
        return "an Office lock file, left when a workbook is open; not a return"
    if suffix == ".xlsb":
        return ("an Excel Binary Workbook (.xlsb), which is not accepted: ask the trust to open it in Excel and "
                "save it as Excel Workbook (.xlsx)")
    return (f"not a return format ({suffix or 'no extension'}): returns are .xlsx, .xlsm, .xls, .ods, .csv, .txt, "
            ".sav or .zsav; if this is one, ask for it in one of those, or name the file to read it anyway")


def _received(path: Path) -> dt.datetime:
    return dt.datetime.fromtimestamp(path.stat().st_mtime).replace(microsecond=0)


DATA_FAMILIES = {".csv": "csv", ".txt": "csv", ".sav": "sav", ".zsav": "sav"}


def _group_key(path: Path, family: str) -> tuple:
    """Which return a record file belongs to: ``<stem>.sav`` and ``<stem>__<table>.sav`` share one."""
    stem = path.stem.rsplit("__", 1)[0] if "__" in path.stem else path.stem
    return path.parent, stem, family


def make_units(files: list[Path], max_mb: float) -> list[Unit]:
    """Sniff and hash every file; group SPSS/CSV record files of one return into one unit.

    A record file refused unread (binary content in a CSV, a damaged .sav…) stays in its return's unit
    and refuses the whole return: one half-read is never stored as if it were complete."""
    groups: dict[tuple, list[tuple[Path, str, str, str]]] = {}
    refused: dict[tuple, list[tuple[Path, dict, Issue]]] = {}
    units: list[Unit] = []
    for path in files:
        info = {"file_name": path.name, "bytes": path.lstat().st_size, "path": path}
        try:
            sniffed = sniff(path, max_mb)
        except FileProblem as exc:
            problem = Issue(exc.code, exc.message, file=path.name)
            if _special(path):   # became a link or a pipe since it was collected: neither read nor copied
                sha = hashlib.sha256(f"not a file: {path}".encode()).hexdigest()
                units.append(Unit(path.name, [path], "unknown", sha, [], dt.datetime.now().replace(microsecond=0),
                                  problems=[problem]))
                continue
            sha = sha256_file(path)   # streamed in blocks, so an oversized file costs no memory
            family = DATA_FAMILIES.get(path.suffix.lower())
            if family:
                refused.setdefault(_group_key(path, family), []).append((path, {**info, "sha256": sha}, problem))
            else:
                units.append(Unit(path.name, [path], "unknown", sha, [{**info, "sha256": sha}], _received(path),
                                  problems=[problem]))
            continue
        sha = sha256_file(path)
        if sniffed.kind in WORKBOOK_KINDS:
            units.append(Unit(path.name, [path], sniffed.kind, sha, [{**info, "sha256": sha}], _received(path),
                              sniffed.note))
            continue
        family = "sav" if sniffed.kind in ("sav", "zsav") else "csv"
        groups.setdefault(_group_key(path, family), []).append((path, sha, sniffed.kind, sniffed.note))
    for key, bad in refused.items():
        if key not in groups:   # a file on its own, or every file of its return refused: each on its own
            units.extend(Unit(p.name, [p], "unknown", f["sha256"], [f], _received(p), problems=[issue])
                         for p, f, issue in bad)
    for (folder, stem, family), members in groups.items():
        members.sort(key=lambda m: ("__" in m[0].stem, m[0].name))
        bad = refused.get((folder, stem, family), [])
        files_info = [{"file_name": p.name, "bytes": p.stat().st_size, "path": p, "sha256": s}
                      for p, s, _, _ in members] + [f for _, f, _ in bad]
        hashes = sorted(f["sha256"] for f in files_info)
        sha = hashes[0] if len(hashes) == 1 else hashlib.sha256("\n".join(hashes).encode()).hexdigest()
        paths = [m[0] for m in members] + [p for p, _, _ in bad]
        first = min(paths, key=lambda p: ("__" in p.stem, p.name))
        name = first.name if len(paths) == 1 else f"{stem}.{family} (+{len(paths) - 1} record files)"
        note = "; ".join(sorted({n for *_, n in members if n}))
        problems = []
        for p, _, issue in bad:
            others = ", ".join(q.name for q in paths if q != p)
            problems.append(Issue(issue.code, f"{issue.message}. This file is one record file of the return "
                                              f"{name} (with {others}), so the whole return was refused and nothing "
                                              "from it stored: a return is stored whole or not at all; ask the "
                                              "trust to resend all its files", file=p.name))
        units.append(Unit(name, paths, family, sha, files_info, max(_received(p) for p in paths), note,
                          problems=problems))
    return units


# ---- 2. examine -------------------------------------------------------------------------------------------

class Context:
    """What examining needs, built once per run: the registry, a cleaner per instrument version, and the
    database whose archive a readable return's files are copied to (``None``: not archived while examined)."""

    def __init__(self, registry: Registry, round_: int | None, mappings: list[Mapping] | None = None,
                 archive_db: Path | None = None):
        self.registry = registry
        self.round = round_
        self.mappings = mappings or []
        self.archive_db = archive_db
        self._cleaners: dict[str, Cleaner] = {}
        self._rules: dict[str, list[ColumnRule]] = {}
        self._ruled: dict[str, RuledFields] = {}

    def cleaner(self, inst: Instrument) -> Cleaner:
        if inst.key not in self._cleaners:
            self._cleaners[inst.key] = Cleaner(inst)
        return self._cleaners[inst.key]

    def rules(self, inst: Instrument) -> list[ColumnRule]:
        if inst.key not in self._rules:
            self._rules[inst.key] = column_rules(inst, self.cleaner(inst))
        return self._rules[inst.key]

    def ruled_fields(self, inst: Instrument) -> RuledFields:
        if inst.key not in self._ruled:
            self._ruled[inst.key] = ruled_fields(inst, self.rules(inst))
        return self._ruled[inst.key]


def examine(unit: Unit, ctx: Context) -> Examined:
    """Read, identify, extract and clean one unit; never raises for a bad file."""
    if unit.problems:
        return Examined(unit, issues=list(unit.problems))
    issues = []
    if unit.note:
        issues.append(Issue("W024", f"{unit.note}", file=unit.name))
    try:
        if unit.kind in WORKBOOK_KINDS:
            book = BookReader(unit.paths[0], unit.kind)
            try:
                platform = workbook_platform(book, ctx.mappings)
                if platform is not None:
                    return _examine_platform(unit, *platform, issues, ctx)
                identity = identify_workbook(book, ctx.registry, unit.name, ctx.round)
                extracted = extract_workbook(book, identity, unit.name)
                if book.macros:
                    issues.append(Issue("W031", "the workbook contains macros; they were not run", file=unit.name))
            finally:
                book.close()
        else:
            records = [_read_record(p, unit) for p in unit.paths]
            stem = unit.paths[0].stem.rsplit("__", 1)[0]
            found = choose_mapping(records[0], ctx.mappings) if unit.kind == "csv" and len(records) == 1 else None
            if found is not None:
                return _examine_platform(unit, records[0], found, issues, ctx)
            inst, source, notes = instrument_of_records(records, ctx.registry)
            if is_individual(inst):
                return _examine_respondents(unit, records, inst, source, notes, issues, ctx)
            identity = identify_records(records, ctx.registry, unit.name, ctx.round)
            extracted = extract_records(records, identity, stem)
    except FileProblem as exc:
        _withhold_unreadable_export(unit, ctx)
        return Examined(unit, issues=issues + [Issue(exc.code, exc.message, file=unit.name)])
    except MemoryError:
        return Examined(unit, issues=issues + [Issue("F011", "reading it needed more memory than a return should; "
                                                             "it was refused", file=unit.name)])
    except Exception as exc:  # noqa: BLE001 - one strange file must not stop the run
        log.debug("unexpected error reading %s", unit.name, exc_info=True)
        return Examined(unit, issues=issues + [Issue(
            "F001", f"could not be read ({type(exc).__name__}: {str(exc)[:200]}); it was quarantined. If the file "
                    "opens normally in Excel, report this as a trust-survey bug", file=unit.name)])
    return _checked(unit, identity, extracted, issues, ctx)


def _examine_platform(unit: Unit, raw, found: Mapping, issues: list[Issue], ctx: Context) -> Examined:
    """A survey-platform export (CSV or one-sheet workbook) read through its mapping; what is archived of it
    is its minimised copy (only the columns read into answers, free text redacted)."""
    record, inst, platform_issues = platform_record(raw, found, ctx.registry)
    unit.files[0]["minimised"] = minimised_copy(raw, found.mapping, inst)
    if any(i.is_error and i.row is None for i in platform_issues):   # e.g. a mapped column missing
        return Examined(unit, issues=issues + record.issues + platform_issues)
    return _examine_respondents(unit, [record], inst, platform_source(found), {}, issues + platform_issues, ctx)


def _read_record(path: Path, unit: Unit):
    """One record file of an SPSS/CSV return; a problem with it names it and refuses the whole return."""
    try:
        return read_sav(path) if unit.kind == "sav" else read_csv(path)
    except FileProblem as exc:
        if len(unit.paths) == 1:
            raise
        raise FileProblem(exc.code, f"{path.name}: {exc.message}. The whole return was refused and nothing from "
                                    "it stored: a return is stored whole or not at all") from None


def _withhold_unreadable_export(unit: Unit, ctx: Context) -> None:
    """A survey-platform export that cannot be read (truncated, malformed) cannot have its personal columns
    removed, so it is not copied to the quarantine: only its reason is written there."""
    if unit.kind != "csv" or len(unit.paths) != 1 or not ctx.mappings or "minimised" in unit.files[0]:
        return
    from trust_survey.csvread import read_head

    head = read_head(unit.paths[0], 5)   # a mapping may name up to 5 header rows
    if not head:
        return
    found = choose_mapping(DataRecordHeader(head[0], head[1:]), ctx.mappings)
    if found is not None:
        unit.files[0]["withhold"] = found.path.name


@dataclass
class DataRecordHeader:
    """Just enough of a record for :func:`choose_mapping`: its column names and the rows that follow them."""

    columns: list[str]
    rows: list[list[str]]


def examine_and_archive(unit: Unit, ctx: Context) -> Examined:
    """:func:`examine`, then copy a readable unit's files to the archive (content-addressed, so a copy
    made for a run that is then rolled back is harmless). Done here so the copies, which are mostly
    waiting on the disk, overlap with other units' reading; if a copy fails, storing tries again and
    reports the failure."""
    ex = examine(unit, ctx)
    if ctx.archive_db is not None and any(not p.fatal for p in (ex.parts or [ex])):
        try:
            for f in unit.files:
                f["archive_path"] = archive(ctx.archive_db, f)
        except OSError:
            log.debug("archiving %s while examining failed; storing will try again", unit.name, exc_info=True)
    return ex


def _checked(unit: Unit, identity: Identity, extracted: Extracted, issues: list[Issue], ctx: Context) -> Examined:
    """Clean every answer and check cross-field rules; the column rules come later, over the whole run."""
    issues.extend(identity.issues)
    issues.extend(extracted.issues)
    issues.extend(_clean_cells(identity, extracted, ctx.cleaner(identity.instrument)))
    try:
        _identity_agrees(identity, extracted)
    except FileProblem as exc:   # quarantined: what the checks found is moot, but the answer's cell is kept
        kept = [i for i in issues if i.code == "V012"]
        return Examined(unit, issues=kept + [Issue(exc.code, exc.message, file=unit.name)])
    if not identity.org_name:
        identity.org_name = next((c.text for c in extracted.cells if c.field_id == ORG_NAME_FIELD and c.text), "")
    issues.extend(cross_issues(identity.instrument, extracted))
    inst = identity.instrument
    ex = Examined(unit, identity, extracted, issues, answer_rows=_answer_rows(identity, extracted),
                  checks=unit_checks(ctx.ruled_fields(inst), extracted))
    extracted.cells = []   # all that later stages need is above: the cells need not travel back from a worker
    return ex


def _identity_agrees(identity: Identity, extracted: Extracted) -> None:
    """Raise FileProblem F014 unless every place the return states who it is from agrees: a workbook's
    meta sheet, cover sheet, file name and the organisation (or respondent) answered in its form."""
    inst = identity.instrument
    stated = dict(identity.stated)
    answered = next((c for c in extracted.cells if c.field_id == inst.id_item and c.record == FORM and c.text
                     and c.sheet), None)
    if answered is not None:
        stated[f"the answer in {answered.sheet}!{answered.cell}"] = {"organisation": answered.text}
    check_agreement(stated)


def _examine_respondents(unit: Unit, records: list, inst: Instrument, source: str, notes: dict,
                         file_issues: list[Issue], ctx: Context) -> Examined:
    """A file of an individual instrument: one :class:`Examined` part per respondent (case or row).

    Findings about the whole file go with its first readable respondent (so they are stored once);
    findings about a row go with that row's respondent; an error in one row rejects that respondent only.
    """
    row_issues: dict[int, list[Issue]] = {}
    whole: list[Issue] = []
    for issue in file_issues:
        (row_issues.setdefault(issue.row, []) if issue.row is not None else whole).append(issue)
    records_round(notes, unit.name, ctx.round)   # no round at all is the file's problem, not each row's
    cases = [case for record in records for case in split_cases(record)]
    if not cases:
        raise FileProblem("F010", "the file holds no responses (a header row and nothing under it)")
    _check_id_variable(records, inst, notes, len(cases))
    parts: list[Examined] = []
    stem = unit.paths[0].stem.rsplit("__", 1)[0]
    with gc_paused():
        _examine_cases(unit, cases, inst, source, notes, ctx, stem, whole, row_issues, parts)
    if whole and all(p.fatal for p in parts):   # no readable respondent to carry the file's findings
        parts[0].issues[:0] = whole
    return Examined(unit, issues=list(whole), parts=parts)


def _examine_cases(unit: Unit, cases: list, inst: Instrument, source: str, notes: dict, ctx: Context, stem: str,
                   whole: list[Issue], row_issues: dict[int, list[Issue]], parts: list[Examined]) -> None:
    """:func:`_examine_respondents`' loop: one :class:`Examined` per case appended to ``parts``."""
    for case in cases:
        number = case.numbers[0]
        label = "case" if case.kind in ("sav", "zsav") else "row"
        try:
            identity = identify_respondent(case, inst, source, notes, ctx.registry, unit.name, ctx.round)
        except FileProblem as exc:
            name = unit.name if len(cases) == 1 else f"{unit.name} [{label} {number}]"
            part = Unit(name, unit.paths, unit.kind, part_sha(unit.sha256, number, ""), unit.files,
                        unit.received_at, part_of=unit.name)
            parts.append(Examined(part, issues=[Issue(exc.code, f"{label} {number}: {exc.message}", file=case.path.name,
                                                      row=number)]))
            continue
        rid = identity.org_code
        name = unit.name if len(cases) == 1 else f"{unit.name} [{label} {number}: {rid}]"
        part = Unit(name, unit.paths, unit.kind, part_sha(unit.sha256, number, rid), unit.files, unit.received_at,
                    part_of=unit.name if len(cases) > 1 else "")
        extracted = extract_records([case], identity, stem)
        first = not any(not p.fatal for p in parts)
        if not first:   # warnings about the file itself (extra variables, encoding) are kept once
            extracted.issues = [i for i in extracted.issues if i.is_error or i.row is not None]
        mine = (list(whole) if first else []) + row_issues.get(number, [])
        checked = _checked(part, identity, extracted, mine, ctx)
        if checked.extracted is not None:   # thousands of respondents: keep only what the column rules read
            checked.extracted = case_locator(checked.extracted)
        parts.append(checked)


def _check_id_variable(records: list, inst: Instrument, notes: dict, cases: int) -> None:
    """A many-respondent file without the respondent id variable is one file problem, not one per row."""
    from trust_survey.errors import did_you_mean

    id_var = next(f.var_name for f in inst.fields() if f.field_id == inst.id_item)
    columns = [str(c) for r in records for c in r.columns]
    if id_var.casefold() in {c.casefold() for c in columns} or (cases == 1 and notes.get("org_code")):
        return
    hint = did_you_mean(id_var, columns, cutoff=0.5)
    raise FileProblem("F012", f"the respondent id variable {id_var} is not in the file, so no respondent can be told "
                              f"apart{hint}; rename that column {id_var} and ingest it again")


def _clean_cells(identity: Identity, ext: Extracted, cleaner: Cleaner) -> list[Issue]:
    inst = identity.instrument
    fields = field_map(inst)
    issues = []
    for cell in ext.cells:
        f = fields[cell.field_id]
        source = ext.sources.get(cell.file, "sheet")
        result = cleaner.clean(f, cell.raw, source)
        cell.value, cell.text, cell.num, cell.bad = result.value, result.text, result.num, result.bad
        if cell.formula is None and not result.notes and f.field_id != inst.id_item:
            continue   # nothing to report (most cells)
        where = {"file": cell.file, "sheet": cell.sheet, "cell": cell.cell, "row": cell.row, "column": cell.column,
                 "field": cell.field_id}
        if cell.formula is not None:
            saved = f"its saved value '{display(cell.raw)}' was used" if cell.raw is not None else (
                "it has no saved value, so the cell was read as blank")
            issues.append(Issue("W010", f"{cell.sheet}!{cell.cell} holds the formula '{cell.formula[:80]}', which was "
                                        f"not run; {saved}", value=cell.formula, **where))
        shown = result.text if result.redacted else cell.raw
        for code, message, expected in result.notes:
            issues.append(Issue(code, message, value=shown, expected=expected, **where))
        if f.field_id == inst.id_item and cell.record == FORM and cell.text and cell.text != identity.org_code:
            issues.append(Issue("V012", f"the organisation code answered ({cell.text}) differs from the one this "
                                        f"return was sent to ({identity.org_code}); answer for {identity.org_code} "
                                        "or use your own organisation's workbook",
                                value=cell.text, expected=identity.org_code, **where))
    return issues


def _examine_in_worker(unit: Unit, ctx: Context) -> Examined:
    result = examine_and_archive(unit, ctx)
    for ex in [result, *(result.parts or [])]:
        if ex.identity is not None:   # instruments travel back as keys, not as pickled models
            ex.identity.instrument = (ex.identity.instrument.id, ex.identity.instrument.version)
    return result


# ---- 3. column rules ------------------------------------------------------------------------------------

def run_column_rules(examined: list[Examined], engine, ctx: Context) -> None:
    """Run the compiled column rules over every examined unit: one checks table per instrument version."""
    by_inst: dict[str, list[int]] = {}
    for i, ex in enumerate(examined):
        if not ex.fatal:
            by_inst.setdefault(ex.identity.instrument.key, []).append(i)
    for key, indexes in by_inst.items():
        inst = examined[indexes[0]].identity.instrument
        extracts = {i: examined[i].extracted for i in indexes}
        rules = ctx.rules(inst)
        checks = plan_checks(rules)
        units = {i: examined[i].checks for i in indexes}
        frame, keys = build_checks(rules, checks, units)
        results = engine.run(key, frame, checks)
        for unit, found in column_issues(inst, rules, frame, keys, results, extracts, units).items():
            examined[unit].issues.extend(found)
        for i in indexes:   # nothing later needs them: freed before the store takes its memory
            examined[i].extracted = examined[i].checks = None


# ---- 4. store -----------------------------------------------------------------------------------------------

def _answer_rows(identity: Identity, ext: Extracted) -> list[tuple]:
    """The return's answers as rows of the store's ``answers`` table (all but ``submission_id``)."""
    inst = identity.instrument
    fields = field_map(inst)
    rows = []
    for c in ext.cells:
        if c.text is None:
            continue
        f = fields[c.field_id]
        rows.append((identity.org_code, identity.round, inst.id, inst.version, f.section.id,
                     None if c.record == FORM else c.record, c.row_index, c.field_id, f.item.id, c.text, c.num,
                     c.file, c.sheet or None, c.cell or None))
    return rows


def _issues_frame(issues: list[Issue], units: list[int] | None = None) -> pd.DataFrame:
    frame = pd.DataFrame([i.as_dict() for i in issues], columns=COLUMNS)
    frame["row"] = pd.array(frame["row"], dtype="Int64")
    if units is not None:
        frame.insert(0, "_unit", units)
    return frame


#: Columns of the staged answers holding a few values many times over (a platform export's thousands of
#: respondents each answer the same fields in the same file).
REPEATED_ANSWER_COLUMNS = ("instrument_id", "section_id", "table_id", "field_id", "item_id", "file_name", "sheet")


def stage_examined(con, examined: list[Examined]) -> None:
    """Put every storable unit's answers and issues in the store's staging tables, tagged by unit."""
    rows, units, counts, issues, owners = [], [], [], [], []
    for unit, ex in enumerate(examined):
        if ex.fatal:
            continue
        rows.extend(ex.answer_rows)
        units.append(unit)
        counts.append(len(ex.answer_rows))
        ex.answer_rows = []   # staged below; nothing later reads them
        issues.extend(ex.issues)
        owners.extend([unit] * len(ex.issues))
    answers = pd.DataFrame(rows, columns=[c for c in store.ANSWER_COLUMNS if c != "submission_id"])
    del rows
    answers.insert(0, "_unit", np.repeat(np.array(units, dtype="int64"), counts))
    answers["value_num"] = answers["value_num"].astype("float64")
    answers["row_index"] = answers["row_index"].astype("int64")
    for col in REPEATED_ANSWER_COLUMNS:   # staged as DuckDB enums, not a string per answer (a third less memory)
        answers[col] = answers[col].astype("category")
    store.stage(con, answers, _issues_frame(issues, owners))


def _reason(ex: Examined) -> str:
    lines = [f"{ex.unit.name}: {'unreadable' if ex.fatal else 'rejected'} "
             f"({ex.errors} error(s), {ex.warnings} warning(s))"]
    for i in ex.issues:
        if i.is_error:
            lines.append(f"[{i.code}] {i.where() or i.file}: {i.message}")
    return "\n".join(lines)


def _fatal_outcome(db: Path, ex: Examined) -> FileOutcome:
    unit = ex.unit
    outcome = FileOutcome(unit.name, ex.outcome, errors=ex.errors, warnings=ex.warnings)
    first = next(i for i in ex.issues if i.is_error)
    if not unit.part_of:   # a many-respondent file is quarantined once, after all its respondents
        for f in unit.files:
            quarantine(db, f, _reason(ex))
    outcome.message = f"[{first.code}] {first.message}"
    return outcome


def archive(db: Path, f: dict) -> str:
    """Archive one received file: its minimised copy when it has one (a survey-platform export, without its
    personal and unread columns), else its bytes; either way under the archived content's own sha256."""
    if f.get("minimised") is not None:
        return str(store.archive_bytes(db, f["minimised"]))
    return str(store.archive_file(db, f["path"], f["sha256"]))


def quarantine(db: Path, f: dict, reason: str) -> None:
    """Copy one received file to the quarantine with its reason: its minimised copy when it has one."""
    if f.get("withhold"):
        note = (f"\n\n{f['file_name']} was not copied here: its header matches the survey-platform mapping "
                f"{f['withhold']}, so it holds personal columns, and it could not be read to remove them. The file "
                f"as received had sha256 {f['sha256']} and was at {f['path']}.")
        store.quarantine_reason(db, f["file_name"], f["sha256"], reason + note)
    elif f.get("minimised") is not None:
        note = (f"\n\nThis is {f['file_name']} without its personal and unread columns (free text redacted); the "
                f"file as received had sha256 {f['sha256']}.")
        store.quarantine_bytes(db, f["minimised"], f["file_name"], reason + note)
    else:
        store.quarantine_file(db, f["path"], f["sha256"], reason)


def _ledger_entry(db: Path, ex: Examined, run_id: str) -> tuple[dict, list[dict]]:
    """Archive the unit's files; return its ledger row and file rows."""
    unit, identity = ex.unit, ex.identity
    inst = identity.instrument
    for f in unit.files:
        if not f.get("archive_path"):
            f["archive_path"] = archive(db, f)
    sub = {"org_code": identity.org_code, "org_name": identity.org_name, "instrument_id": inst.id,
           "instrument_version": inst.version, "round": identity.round, "file_name": unit.name,
           "format": unit.kind, "sha256": unit.sha256, "bytes": unit.size, "received_at": unit.received_at,
           "outcome": ex.outcome, "errors": ex.errors, "warnings": ex.warnings, "identified_by": identity.source,
           "run_id": run_id}
    files = [{"file_name": f["file_name"], "sha256": f["sha256"], "bytes": f["bytes"],
              "archive_path": f["archive_path"]} for f in unit.files]
    return sub, files


def _stored_outcome(db: Path, ex: Examined, stored: dict) -> FileOutcome:
    """The outcome of a stored unit; a rejected one is also copied to the quarantine."""
    unit, identity = ex.unit, ex.identity
    outcome = FileOutcome(unit.name, ex.outcome, errors=ex.errors, warnings=ex.warnings,
                          org_code=identity.org_code, instrument=identity.instrument.key, round=identity.round,
                          identified_by=identity.source)
    outcome.submission_id, outcome.supersedes = stored["submission_id"], stored["supersedes"]
    if stored["status"] == "superseded":
        outcome.status = "superseded"
        outcome.message = f"stored; a later return (submission {stored['superseded_by']}) supersedes it"
    elif stored["supersedes"]:
        outcome.message = f"supersedes submission {stored['supersedes']}"
    if ex.outcome == "rejected":
        for f in unit.files if not unit.part_of else []:
            quarantine(db, f, _reason(ex))
        first = next(i for i in ex.issues if i.is_error)
        outcome.message = (outcome.message + "; " if outcome.message else "") + \
            f"first error: [{first.code}] {first.where()}: {first.message}"
    return outcome


def _views(registry: Registry, inst_ids: set[str]):
    def make(con) -> None:
        for inst_id in sorted(inst_ids):
            store.ensure_views(con, [registry.get(inst_id, v) for v in registry.versions(inst_id)])
    return make


def store_examined(con, db: Path, ex: Examined, key: int, run_id: str, views_done: set[str],
                   registry: Registry) -> FileOutcome:
    """Archive and store one examined unit in one transaction; quarantine it when it is rejected."""
    if ex.fatal:
        return _fatal_outcome(db, ex)
    inst = ex.identity.instrument
    sub, files = _ledger_entry(db, ex, run_id)
    with store.transaction(con):
        stored = store.store_submission(con, sub, files, unit=key)
        if inst.id not in views_done:
            _views(registry, {inst.id})(con)
    views_done.add(inst.id)
    return _stored_outcome(db, ex, stored)


def store_all(con, db: Path, examined: list[Examined], order: list[int], run_id: str,
              registry: Registry) -> list[FileOutcome]:
    """Store every examined unit, oldest first: all together in one transaction (all or nothing), or,
    if that fails for any reason, each unit in its own transaction so one bad unit blocks no other."""
    good = [i for i in order if not examined[i].fatal]
    entries = {i: _ledger_entry(db, examined[i], run_id) for i in good}
    stored: dict[int, dict] = {}
    try:
        results = store.store_batch(con, [(*entries[i], i) for i in good],
                                    before_commit=_views(registry, {examined[i].identity.instrument.id
                                                                    for i in good}))
        stored = dict(zip(good, results))
    except Exception:  # noqa: BLE001 - rolled back; retried one unit per transaction below
        log.warning("storing the run in one transaction failed; storing each return on its own", exc_info=True)
        views_done: set[str] = set()
        return [store_examined(con, db, examined[i], i, run_id, views_done, registry) for i in order]
    return [_fatal_outcome(db, examined[i]) if examined[i].fatal else _stored_outcome(db, examined[i], stored[i])
            for i in order]


# ---- the run ------------------------------------------------------------------------------------------------

def run_folder(base: Path | None = None) -> Path:
    from trust_survey import settings

    base = base or settings.outputs_dir() / "ingest"
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = base / stamp
    n = 1
    while folder.exists():
        n += 1
        folder = base / f"{stamp}-{n}"
    return folder


def ingest_paths(paths: Iterable[Path], db: Path, round_: int | None = None, strict: bool = False,
                 out_dir: Path | None = None, on_progress: Callable[[int], None] = lambda n: None, *,
                 engine: str = "gx", max_mb: float = DEFAULT_MAX_MB, registry: Registry | None = None,
                 workers: int | None = None, mapping: Path | None = None) -> IngestResult:
    """Ingest files and folders into the store at ``db``; write the run's reports into ``out_dir``.

    Survey-platform CSV exports are read through ``mapping`` or a mapping file found in the registry's
    ``mappings`` folder (see :mod:`.individual`). Raises StoreBusyError when another process holds the
    database (nothing is read or written then), DefinitionError for a bad ``mapping`` file.

    In order: collect the files, leave out those already stored (:func:`_new_units`), examine the rest
    (read, identify, extract, clean; in forked workers for a large run, :mod:`.pool`), run the column rules
    (:mod:`.engines`), store every submission in one transaction, and write the run's report.
    """
    registry = registry or load_registry()
    mappings = find_mappings(getattr(registry, "folder", None), mapping, registry)
    db = Path(db)
    files, skipped = collect_files(paths)
    if not files:
        seen = f"; skipped {len(skipped)} file(s) that are not returns, e.g. {skipped[0].name}" if skipped else ""
        raise InputFileError(f"no returns found in {', '.join(str(p) for p in paths)}{seen}. Returns are .xlsx, "
                             ".xlsm, .xls, .ods, .csv, .sav or .zsav files", code="ING001")
    out_dir = Path(out_dir) if out_dir else run_folder()
    run_id = out_dir.name
    with store.open_store(db) as con:
        # Storing is a few bulk inserts: DuckDB's threads would each hold their own copy of the staged rows
        # (about 70 MB for a 15,000-respondent export) to save well under a second. Its buffer is capped too:
        # committed blocks are on disk already and a larger sort spills to the database's temporary folder,
        # so caching them in memory only raised the run's peak (by about 40 MB for such an export).
        con.execute("SET threads = 1")
        con.execute(f"SET memory_limit = '{INGEST_DB_MEMORY}'")
        units = make_units(files, max_mb)
        known = store.known_hashes(con)
        outcomes, todo = _new_units(units, known, on_progress)
        ctx = Context(registry, round_, mappings, archive_db=db)
        workers, pool = workers_for(len(todo), engine, workers)
        examined, column_engine = _examine_all(todo, ctx, workers, engine, on_progress, pool=pool)
        files_of_parts = [ex for ex in examined if ex.parts is not None]
        examined = [part for ex in examined for part in (ex.parts if ex.parts is not None else [ex])]
        with gc_frozen():   # what was examined lives to the end; the collector need not keep walking it
            if column_engine is None and any(not ex.fatal for ex in examined):
                column_engine = make_engine(engine)
            if column_engine is not None:
                run_column_rules(examined, column_engine, ctx)
            _distribution_warnings(con, examined)
            for ex in examined:
                ex.issues.sort(key=_issue_order)
            stage_examined(con, examined)
            order = sorted(range(len(examined)), key=lambda i: (examined[i].unit.received_at, examined[i].unit.name))
            outcomes.extend(store_all(con, db, examined, order, run_id, registry))
            _quarantine_parts(db, files_of_parts)
    issues = _issues_frame([i for ex in examined for i in ex.issues])
    files_frame = _files_frame(outcomes, skipped)
    paths_out = write_report(out_dir, files_frame, issues, _summary(outcomes, skipped, issues, db))
    return IngestResult(out_dir, outcomes, issues, paths_out, skipped, strict)


def _new_units(units: list[Unit], known: dict, on_progress) -> tuple[list[FileOutcome], list[Unit]]:
    """(outcomes of files already in the store or repeated in this run, the units left to examine)."""
    outcomes: list[FileOutcome] = []
    todo: list[Unit] = []
    seen: dict[str, str] = {}
    for unit in units:
        if unit.sha256 in known:
            sid, status, when, org = known[unit.sha256]
            outcomes.append(FileOutcome(unit.name, "duplicate", org_code=org, submission_id=sid,
                                        message=f"already ingested as submission {sid} ({status}) on "
                                                f"{when:%d/%m/%Y %H:%M}; nothing changed",
                                        errors=int(status == "rejected")))
            on_progress(1)
        elif unit.sha256 in seen and not unit.problems:
            outcomes.append(FileOutcome(unit.name, "duplicate", message=f"same content as {seen[unit.sha256]} "
                                                                        "in this run; read once"))
            on_progress(1)
        else:
            seen[unit.sha256] = unit.name
            todo.append(unit)
    return outcomes, todo


def _files_frame(outcomes: list[FileOutcome], skipped: list[Path]) -> pd.DataFrame:
    """One row per file of the run, skipped files included (``files.csv``)."""
    skipped_rows = [FileOutcome(str(p.name), "skipped", message=skip_reason(p)).__dict__ for p in skipped]
    files_frame = pd.DataFrame([o.__dict__ for o in outcomes] + skipped_rows,
                               columns=list(FileOutcome.__dataclass_fields__))
    for col in ("round", "submission_id", "supersedes"):
        files_frame[col] = pd.array(files_frame[col], dtype="Int64")
    return files_frame


def _summary(outcomes: list[FileOutcome], skipped: list[Path], issues: pd.DataFrame, db: Path) -> dict:
    """The run's counts, as the report and the CLI show them."""
    return {"files": len(outcomes), "accepted": sum(o.status == "accepted" for o in outcomes),
            "accepted with warnings": sum(o.status == "accepted_with_warnings" for o in outcomes),
            "superseded on arrival": sum(o.status == "superseded" for o in outcomes),
            "rejected": sum(o.status == "rejected" for o in outcomes),
            "unreadable (quarantined)": sum(o.status == "quarantined" for o in outcomes),
            "already ingested": sum(o.status == "duplicate" for o in outcomes),
            "skipped (not returns)": len(skipped),
            "errors": int((issues["severity"] == ERROR).sum()), "warnings": int((issues["severity"] != ERROR).sum()),
            "database": str(db)}


def _examine_all(units: list[Unit], ctx: Context, workers: int, engine: str, on_progress, pool: bool):
    """Examine every unit; with ``pool``, in ``workers`` forked processes while the column engine loads here.
    Returns the examined units and the engine when it was made meanwhile (else None)."""
    if not pool or len(units) < 2 or not can_fork():
        out = []
        for unit in units:
            out.append(examine_and_archive(unit, ctx))
            on_progress(1)
        return out, None
    out: list[Examined] = []

    def back(ex: Examined) -> None:
        for one in [ex, *(ex.parts or [])]:
            if one.identity is not None:   # instruments travel as keys, not as pickled models
                one.identity.instrument = ctx.registry.get(*one.identity.instrument)
        out.append(ex)
        on_progress(1)

    column_engine = run_forked(functools.partial(_examine_in_worker, ctx=ctx), units, workers, back,
                               meanwhile=lambda: make_engine(engine) if any(not u.problems for u in units) else None)
    return out, column_engine


def _quarantine_parts(db: Path, files: list[Examined]) -> None:
    """Copy a many-respondent file with any rejected or unreadable respondent to the quarantine, once."""
    for ex in files:
        bad = [p for p in ex.parts if p.outcome in ("rejected", "quarantined")]
        if bad:
            reason = "\n\n".join(_reason(p) for p in bad)
            for f in ex.unit.files:
                quarantine(db, f, reason)


def _distribution_warnings(con, examined: list[Examined]) -> None:
    cache: dict[int, set | None] = {}
    for ex in examined:
        if ex.fatal:
            continue
        ident = ex.identity
        if ident.round not in cache:
            cache[ident.round] = store.distributed_orgs(con, ident.round)
        sent = cache[ident.round]
        if is_individual(ident.instrument):   # platform invitations are not in the register
            continue
        if sent is not None and (ident.org_code, ident.instrument.id) not in sent:
            ex.issues.append(Issue("W027", f"{ident.org_code} was not sent {ident.instrument.id} in round "
                                           f"{ident.round} "
                                           "(it is not in the round's distribution register); check the organisation "
                                           "code", file=ex.unit.name, value=ident.org_code))


def _issue_order(issue: Issue) -> tuple:
    return (issue.file, issue.sheet, issue.row or 0, _col_key(issue.cell), issue.code)


def _col_key(cell: str) -> tuple:
    m = re.match(r"([A-Z]+)(\d+)", cell or "")
    return (len(m.group(1)), m.group(1)) if m else (0, "")
