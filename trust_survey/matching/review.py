"""The human review loop: a workbook of doubtful titles out, decisions in, reviewed aliases written.

1. :func:`build_review_workbook` writes one row per unique normalised title and department context that
   needs a person (so one question never stands for a title in two kinds of department), with how often
   it occurs, example titles, the suggestion and its alternatives, and drop-downs (fed from named ranges
   on a hidden sheet) to accept it, change the role, change only the stream, or reject it, and to say the
   decision holds in all departments. The sheet is protected; only the decision cells are unlocked. Text
   from trusts is written so that it can never run as a formula.
2. :func:`read_review_workbook` reads the decisions back and reports every bad value by sheet and cell.
3. :func:`apply_decisions` turns them into reviewed aliases in the versioned overrides file
   (``role_overrides.yaml``), each keyed on its department context, which the matcher applies after the
   taxonomy: next round these titles are coded automatically in that context. :func:`append_audit_log`
   keeps who decided what, and when, in a CSV beside it.
4. :func:`import_review` does 3 for a whole workbook and, for a round, stores the decisions and recodes the
   round's stored matches (:mod:`trust_survey.matching.coding`).
"""
from __future__ import annotations

import csv
import datetime as dt
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trust_survey.errors import InputFileError, NotFoundError, OutputExistsError, did_you_mean
from trust_survey.matching.coding import changed_decisions, department_contexts, record_reviews
from trust_survey.matching.normalise import token_key
from trust_survey.matching.overrides import (
    ANY, OTHER, OverrideEntry, canonical_context, load_overrides, now_iso, write_overrides,
)
from trust_survey.matching.store import DECISION_KEY, round_reviews
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, Taxonomy, load_taxonomy
from trust_survey.common.safe_text import write_text_cell
from trust_survey.store import open_store, transaction
from trust_survey.writers import append_csv_rows, save_workbook, write_csv_rows
from trust_survey import settings

REVIEW_SHEET = "Review"
LISTS_SHEET = "Lists"
README_SHEET = "Read me"
META_SHEET = "meta"
ACTIONS = {"accept": "accept", "change role": "change_role", "change stream": "change_stream",
           "reject": "reject"}
#: (header, key, width, editable)
COLUMNS = [
    ("Normalised title", "alias", 34, False),
    ("Count", "count", 7, False),
    ("Example titles", "examples", 46, False),
    ("Departments", "departments", 26, False),
    ("Department context", "context", 20, False),
    ("Organisations", "organisations", 16, False),
    ("Suggested role", "suggested_role_id", 28, False),
    ("Suggested stream", "suggested_stream", 18, False),
    ("Score", "score", 7, False),
    ("Alternatives", "alternatives", 50, False),
    ("Action", "action", 15, True),
    ("Role", "role", 34, True),
    ("Stream", "stream", 18, True),
    ("All departments", "all_departments", 15, True),
    ("Reviewer", "reviewer", 16, True),
    ("Note", "note", 30, True),
]
HEADERS = [c[0] for c in COLUMNS]
COL = {c[1]: i + 1 for i, c in enumerate(COLUMNS)}
LIST_NAMES = {"action": "lst_review_action", "role": "lst_review_role", "stream": "lst_review_stream",
              "all_departments": "lst_review_all"}
ALL_DEPARTMENTS = ("no", "yes")
DECISION_COLUMNS = ["alias", "context", "example", "action", "role_id", "stream", "reviewer", "note",
                    "suggested_role_id", "suggested_stream", "sheet_row"]


def _examples(group: pd.DataFrame, column: str | None, n: int = 3) -> str:
    if not column or column not in group:
        return ""
    values = [str(v) for v in pd.unique(group[column].astype(object)) if v is not None and v == v
              and str(v).strip()]
    return "; ".join(values[:n])


def review_queue(coded: pd.DataFrame, taxonomy: Taxonomy, *, title_column: str = "title",
                 context_column: str | None = None, org_column: str | None = None,
                 decisions: tuple[str, ...] = ("review",)) -> pd.DataFrame:
    """One row per unique normalised title and department context among the coded rows whose decision is in
    ``decisions``: the count, up to three example titles, departments and organisations, the department
    context (``any`` for rows with no department), the suggestion and alternatives.

    The context comes from the coded rows' ``department_context`` (matcher output or stored matches), else
    from ``staff_dept``/``dept_type`` or ``context_column``."""
    df = coded[coded["decision"].isin(decisions)].copy()
    if "normalised_title" not in df.columns:
        df["normalised_title"] = [" ".join(taxonomy.normalise(t)) for t in df[title_column]]
    df = df[df["normalised_title"].astype(str).str.len() > 0]
    if "department_context" not in df.columns and context_column and "staff_dept" not in df.columns:
        df["staff_dept"] = df[context_column]
    df["_context"] = [c or ANY for c in department_contexts(df, taxonomy)] if len(df) else []
    df["_key"] = df["normalised_title"].map(lambda s: token_key(str(s).split()))
    rows = []
    for (_key, context), group in df.groupby(["_key", "_context"], sort=False):
        first = group.iloc[0]
        rows.append({"alias": str(first["normalised_title"]), "count": len(group),
                     "examples": _examples(group, title_column), "departments": _examples(group, context_column),
                     "context": context,
                     "organisations": _examples(group, org_column),
                     "suggested_role_id": str(first.get("role_id", "") or ""),
                     "suggested_stream": str(first.get("stream", NONE) or NONE),
                     "score": int(pd.to_numeric(group["score"], errors="coerce").max()),
                     "alternatives": str(first.get("alternatives", "") or "")})
    queue = pd.DataFrame(rows, columns=["alias", "count", "examples", "departments", "context", "organisations",
                                        "suggested_role_id", "suggested_stream", "score", "alternatives"])
    queue = queue.sort_values(["count", "alias", "context"], ascending=[False, True, True], kind="stable")
    return queue.reset_index(drop=True)


def build_review_workbook(coded: pd.DataFrame, taxonomy: Taxonomy, path: Path | str, *,
                          title_column: str = "title", context_column: str | None = None,
                          org_column: str | None = None, decisions: tuple[str, ...] = ("review",),
                          force: bool = False, meta: dict | None = None) -> Path:
    """Write the review queue of ``coded`` (matcher output plus the input title column) to ``path``.

    ``meta`` adds key/value pairs to the hidden meta sheet (``match review-export`` records the round
    there; :func:`read_review_meta` reads them back). Returns the path. Raises
    :class:`OutputExistsError` if it exists and not ``force``.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill, Protection
    from openpyxl.workbook.defined_name import DefinedName
    from openpyxl.worksheet.datavalidation import DataValidation

    path = Path(path)
    if path.exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")
    queue = review_queue(coded, taxonomy, title_column=title_column, context_column=context_column,
                         org_column=org_column, decisions=decisions)
    wb = Workbook()
    readme = wb.active
    readme.title = README_SHEET
    guide = [
        "Job titles the matcher was not sure of, one row per distinct title and department context "
        f"(column {_letter('context')}; Count: how often it occurs).",
        f"For each row pick an Action in column {_letter('action')}; leave it blank to decide later:",
        "  accept         - the suggested role and stream are right",
        f"  change role    - pick the right role in column {_letter('role')} (its stream comes with it)",
        f"  change stream  - pick the right stream in column {_letter('stream')} when no role fits",
        "  reject         - the title is not a clinical bioinformatics role (stream none)",
        "Put your name in Reviewer. Decisions become reviewed aliases, so these titles are coded",
        "automatically next time. Import with: trust-survey match review-import <this file>",
        f"A decision applies to the title only in its department context (column {_letter('context')}); in "
        "other departments the",
        "matcher goes on coding it. Context 'any' (no department given), or 'yes' under All departments "
        f"(column {_letter('all_departments')}), means every department.",
        f"Taxonomy version {taxonomy.version}. Streams: " + ", ".join(ALL_STREAMS) + ".",
    ]
    for i, line in enumerate(guide, start=1):
        write_text_cell(readme.cell(row=i, column=1), line)
    readme.column_dimensions["A"].width = 110
    readme.protection.sheet = True

    ws = wb.create_sheet(REVIEW_SHEET)
    wb.active = wb.index(ws)
    header_fill = PatternFill("solid", fgColor="DDEBF7")
    edit_fill = PatternFill("solid", fgColor="FFF2CC")
    for j, (header, _key, width, editable) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=1, column=j, value=header)
        cell.font = Font(bold=True)
        cell.fill = edit_fill if editable else header_fill
        ws.column_dimensions[cell.column_letter].width = width
    role_label = {rid: role.name for rid, role in taxonomy.roles.items()}
    for i, rec in enumerate(queue.itertuples(index=False), start=2):
        values = rec._asdict()
        values["suggested_role_id"] = role_label.get(values["suggested_role_id"], values["suggested_role_id"])
        for j, (_header, key, _width, editable) in enumerate(COLUMNS, start=1):
            cell = ws.cell(row=i, column=j)
            write_text_cell(cell, values.get(key) if not editable else None)
            if editable:
                cell.protection = Protection(locked=False)
                cell.fill = edit_fill
            elif key in ("examples", "alternatives"):
                cell.alignment = Alignment(wrap_text=True, vertical="top")
    last = max(len(queue) + 1, 2)
    ws.freeze_panes = "B2"
    ws.auto_filter.ref = f"A1:{ws.cell(row=1, column=len(COLUMNS)).column_letter}{last}"
    ws.protection.sheet = True
    ws.protection.autoFilter = False
    ws.protection.formatColumns = False

    lists = wb.create_sheet(LISTS_SHEET)
    role_names = sorted(role.name for role in taxonomy.roles.values())
    columns = {"action": list(ACTIONS), "role": role_names, "stream": list(ALL_STREAMS),
               "all_departments": list(ALL_DEPARTMENTS)}
    for j, (name, items) in enumerate(columns.items(), start=1):
        lists.cell(row=1, column=j, value=name)
        for i, item in enumerate(items, start=2):
            write_text_cell(lists.cell(row=i, column=j), item)
        letter = lists.cell(row=1, column=j).column_letter
        ref = f"'{LISTS_SHEET}'!${letter}$2:${letter}${len(items) + 1}"
        wb.defined_names[LIST_NAMES[name]] = DefinedName(LIST_NAMES[name], attr_text=ref)
    lists.sheet_state = "hidden"
    lists.protection.sheet = True

    prompts = {"action": "accept, change role, change stream or reject",
               "role": "The right role (for 'change role')",
               "stream": "The right stream (for 'change stream')",
               "all_departments": "yes: the decision holds in every department, not only this context"}
    for key in ("action", "role", "stream", "all_departments"):
        dv = DataValidation(type="list", formula1=f"={LIST_NAMES[key]}", allow_blank=True, showDropDown=False,
                            showErrorMessage=True, errorStyle="stop", errorTitle="Not in the list",
                            error="Pick a value from the drop-down list.", promptTitle=key.title(),
                            prompt=prompts[key], showInputMessage=True)
        letter = ws.cell(row=1, column=COL[key]).column_letter
        dv.add(f"{letter}2:{letter}{last}")
        ws.add_data_validation(dv)

    meta_ws = wb.create_sheet(META_SHEET)
    pairs = [("kind", "title_review"), ("taxonomy_version", taxonomy.version),
             ("taxonomy_sha256", taxonomy.sha256), ("created_at", now_iso()), ("titles", len(queue))]
    pairs += [(str(k), v) for k, v in (meta or {}).items()]
    for i, (k, v) in enumerate(pairs, start=1):
        meta_ws.cell(row=i, column=1, value=k)
        write_text_cell(meta_ws.cell(row=i, column=2), v)
    meta_ws.sheet_state = "veryHidden"

    return save_workbook(wb, path, force=True)


def _letter(key: str) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(COL[key])


def read_review_meta(path: Path | str) -> dict[str, str]:
    """The key/value pairs of a review workbook's hidden meta sheet (empty when it has none)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(Path(path), read_only=True, data_only=True)
    except Exception:  # noqa: BLE001 - read_review_workbook reports unreadable files properly
        return {}
    try:
        if META_SHEET not in wb.sheetnames:
            return {}
        out = {}
        for row in wb[META_SHEET].iter_rows(min_col=1, max_col=2, values_only=True):
            if row and row[0] is not None:
                out[_text(row[0])] = _text(row[1])
        return out
    finally:
        wb.close()


def _text(value) -> str:
    if value is None:
        return ""
    text = str(value).strip()
    return text[1:] if text.startswith("'") and len(text) > 1 and text[1] in "=+-@" else text


def read_review_workbook(path: Path | str, taxonomy: Taxonomy | None = None) -> pd.DataFrame:
    """The decided rows of a filled review workbook: :data:`DECISION_COLUMNS`.

    Rows with no action are skipped. Every bad value is reported together, by sheet and cell, in an
    :class:`InputFileError` (code REV001).
    """
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    path = Path(path)
    taxonomy = taxonomy or load_taxonomy()
    if not path.is_file():
        raise InputFileError(f"{path}: file not found", code="IN002")
    try:
        wb = load_workbook(path, data_only=True)
    except (InvalidFileException, zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise InputFileError(f"{path}: not a readable .xlsx workbook ({exc})", code="REV001") from None
    if REVIEW_SHEET not in wb.sheetnames:
        hint = did_you_mean(REVIEW_SHEET, wb.sheetnames)
        raise InputFileError(f"{path}: no sheet named '{REVIEW_SHEET}'{hint} (sheets: "
                             f"{', '.join(wb.sheetnames)}); is this a review workbook?", code="REV001")
    ws = wb[REVIEW_SHEET]
    found = [_text(ws.cell(row=1, column=j).value) for j in range(1, len(COLUMNS) + 1)]
    problems = []
    for j, (want, got) in enumerate(zip(HEADERS, found), start=1):
        if want.casefold() != got.casefold():
            letter = ws.cell(row=1, column=j).column_letter
            problems.append(f"{REVIEW_SHEET}!{letter}1: expected header '{want}', found '{got}'")
    if problems:
        if not any(h.casefold() == "department context" for h in found):
            problems.append(f"{REVIEW_SHEET}: no 'Department context' column: this workbook was exported by an "
                            "older trust-survey; export the queue again (`match review-export` or `match titles "
                            "--review-out`) and fill that in")
        raise InputFileError(f"{path}: the review sheet's columns have changed", code="REV001",
                             details=problems)

    role_by_name = {role.name.casefold(): rid for rid, role in taxonomy.roles.items()}
    name_to_id = {**role_by_name, **{rid.casefold(): rid for rid in taxonomy.roles}}
    known_contexts = {c.id for c in taxonomy.contexts}
    out = []
    for r in range(2, ws.max_row + 1):
        get = {key: _text(ws.cell(row=r, column=COL[key]).value) for key in COL}
        if not get["alias"]:
            continue
        letter = {key: ws.cell(row=1, column=COL[key]).column_letter for key in COL}
        raw_action = get["action"]
        if not raw_action:
            if get["role"] or get["stream"]:
                problems.append(f"{REVIEW_SHEET}!{letter['action']}{r}: a role or stream is filled in but no "
                                "action; choose one of " + ", ".join(ACTIONS))
            continue
        action = ACTIONS.get(raw_action.casefold().replace("_", " "))
        if action is None:
            problems.append(f"{REVIEW_SHEET}!{letter['action']}{r}: action '{raw_action}' is not allowed; "
                            f"expected one of {', '.join(ACTIONS)}"
                            f"{did_you_mean(raw_action.lower(), ACTIONS)}")
            continue
        everywhere = get["all_departments"].casefold()
        if everywhere not in ("", *ALL_DEPARTMENTS):
            problems.append(f"{REVIEW_SHEET}!{letter['all_departments']}{r}: '{get['all_departments']}' is not "
                            f"allowed; expected yes, no or blank{did_you_mean(everywhere, ALL_DEPARTMENTS)}")
            continue
        context = canonical_context(get["context"])
        unknown = [c for c in context.split("+") if c not in known_contexts] if context not in (ANY, OTHER) else []
        if unknown:
            problems.append(f"{REVIEW_SHEET}!{letter['context']}{r}: department context '{get['context']}' is "
                            "not in the taxonomy; export the queue again with the current taxonomy")
            continue
        if everywhere == "yes":
            context = ANY
        suggested_id = name_to_id.get(get["suggested_role_id"].casefold(), get["suggested_role_id"])
        role_id, stream = "", ""
        if action == "accept":
            role_id = suggested_id if suggested_id in taxonomy.roles else ""
            stream = taxonomy.roles[role_id].stream if role_id else get["suggested_stream"] or NONE
            if role_id and taxonomy.roles[role_id].ambiguous:
                problems.append(f"{REVIEW_SHEET}!{letter['action']}{r}: the suggestion "
                                f"'{get['suggested_role_id']}' is a placeholder for an unstated specialism; "
                                "use 'change role', 'change stream' or 'reject' instead of 'accept'")
                continue
        elif action == "change_role":
            role_id = name_to_id.get(get["role"].casefold(), "")
            if not role_id:
                what = f"role '{get['role']}' is not in the taxonomy" if get["role"] else "no role chosen"
                names = [role.name for role in taxonomy.roles.values()]
                hint = did_you_mean(get["role"], names) if get["role"] else ""
                problems.append(f"{REVIEW_SHEET}!{letter['role']}{r}: {what}{hint}; pick one from the list")
                continue
            stream = taxonomy.roles[role_id].stream
        elif action == "change_stream":
            stream = get["stream"].strip().lower().replace(" ", "_")
            if stream not in ALL_STREAMS:
                what = f"stream '{get['stream']}' is not allowed" if get["stream"] else "no stream chosen"
                problems.append(f"{REVIEW_SHEET}!{letter['stream']}{r}: {what}; expected one of "
                                f"{', '.join(ALL_STREAMS)}{did_you_mean(stream, ALL_STREAMS)}")
                continue
        else:
            stream = NONE
        out.append({"alias": get["alias"], "context": context, "example": get["examples"].split(";")[0].strip(),
                    "action": action,
                    "role_id": role_id, "stream": stream, "reviewer": get["reviewer"], "note": get["note"],
                    "suggested_role_id": suggested_id, "suggested_stream": get["suggested_stream"],
                    "sheet_row": r})
    if problems:
        raise InputFileError(f"{path}: {len(problems)} problem(s) in the review decisions; fix them and "
                             "import again (nothing was stored)", code="REV001", details=problems)
    return pd.DataFrame(out, columns=DECISION_COLUMNS)


@dataclass
class Applied:
    path: Path
    version: int
    added: int
    updated: int


def apply_decisions(decisions: pd.DataFrame, overrides_path: Path | str | None = None, *,
                    taxonomy: Taxonomy | None = None, reviewer: str = "",
                    decided_at: str | None = None) -> Applied:
    """Add the decisions as reviewed aliases at the end of the file and bump its version. A decision
    replaces the earlier one on the same title in the same department context (a missing context is
    ``any``); one for ``any`` department replaces every earlier decision on the title, so an entry for a
    context is always later than the title's ``any`` entry and wins there. ``reviewer`` fills rows whose
    reviewer cell is blank."""
    taxonomy = taxonomy or load_taxonomy()
    path = Path(overrides_path) if overrides_path else settings.overrides_path()
    existing = load_overrides(path, taxonomy)
    entries = list(existing.entries)
    when = decided_at or now_iso()
    added = updated = 0
    for d in decisions.to_dict("records"):
        entry = OverrideEntry(alias=d["alias"], context=canonical_context(d.get("context")),
                              example=d.get("example", "") or "", action=d["action"],
                              role_id=d.get("role_id", "") or "", stream=d["stream"],
                              reviewer=d.get("reviewer") or reviewer, decided_at=when,
                              taxonomy_version=taxonomy.version, note=d.get("note", "") or "")
        key = token_key(entry.alias.split())
        same = [e for e in entries if token_key(e.alias.split()) == key
                and (entry.context == ANY or canonical_context(e.context) == entry.context)]
        if same:
            entries = [e for e in entries if all(e is not s for s in same)]
            updated += 1
        else:
            added += 1
        entries.append(entry)
    version = write_overrides(path, entries, existing.version)
    load_overrides(path, taxonomy)   # fail now, not next round, if the file does not read back
    return Applied(path, version, added, updated)


AUDIT_COLUMNS = ["decided_at", "reviewer", "alias", "example", "action", "role_id", "stream",
                 "suggested_role_id", "suggested_stream", "workbook", "sheet_row", "overrides_version",
                 "note", "context"]


def audit_log_path(overrides_path: Path | str) -> Path:
    p = Path(overrides_path)
    return p.with_name(p.stem + ".decisions.csv")


def append_audit_log(decisions: pd.DataFrame, log_path: Path | str, *, workbook: Path | str,
                     overrides_version: int, reviewer: str = "", decided_at: str | None = None) -> Path:
    """Append one line per decision to the audit CSV (created with a header when new; a log written before
    decisions had a department context gains the column, ``any`` for its earlier lines)."""
    log_path = Path(log_path)
    when = decided_at or dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()
    if log_path.exists():
        _upgrade_audit_log(log_path)
    rows = []
    for d in decisions.to_dict("records"):
        row = {k: d.get(k, "") for k in AUDIT_COLUMNS}
        row.update(decided_at=when, reviewer=d.get("reviewer") or reviewer, workbook=str(workbook),
                   overrides_version=overrides_version)
        rows.append(row)
    return append_csv_rows(log_path, AUDIT_COLUMNS, rows)


def _upgrade_audit_log(log_path: Path) -> None:
    with log_path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        if reader.fieldnames is None or list(reader.fieldnames) == AUDIT_COLUMNS:
            return
        rows = [{k: ("" if v is None else v) for k, v in row.items() if k in AUDIT_COLUMNS} for row in reader]
    for row in rows:
        row["context"] = row.get("context") or ANY
    write_csv_rows(log_path, AUDIT_COLUMNS, ([row.get(k, "") for k in AUDIT_COLUMNS] for row in rows), force=True)


# ---------------------------------------------------------------------------------------------- review import
@dataclass
class ImportResult:
    """What :func:`import_review` did (or, with ``dry_run``, would do)."""

    decisions: int
    for_overrides: int
    for_round: int
    overrides_path: Path
    overrides_version: int
    round: int | None = None
    matches_changed: int = 0
    added: int = 0
    updated: int = 0
    log_path: Path | None = None
    written: bool = False

    @property
    def nothing_new(self) -> bool:
        return self.decisions > 0 and not self.for_overrides and not self.for_round


def import_review(decisions: pd.DataFrame, workbook: Path, taxonomy: Taxonomy, *, overrides_path: Path,
                  reviewer: str, db: Path | None = None, round_: int | None = None,
                  dry_run: bool = False) -> ImportResult:
    """Store review decisions: as reviewed aliases in the versioned overrides file (so later rounds code
    those titles automatically) and, when ``round_`` is given, in the database's ``title_reviews`` table,
    recoding that round's stored matches at once. Decisions identical to the ones already stored are
    skipped, so importing the same workbook twice changes nothing."""

    existing = load_overrides(overrides_path, taxonomy)
    in_file = pd.DataFrame([e.model_dump() for e in existing.entries],
                           columns=["alias", "context", *DECISION_KEY])
    for_file = changed_decisions(decisions, in_file)
    for_round = decisions.iloc[0:0]
    if round_ is not None:
        if db is None or not Path(db).exists():
            raise NotFoundError(f"{workbook} holds review decisions for round {round_} but there is no database "
                                f"at {db}; pass the --db it was exported from")
        with open_store(Path(db), read_only=True) as con:
            for_round = changed_decisions(decisions, round_reviews(con, round_))
    version = existing.version + (1 if len(for_file) else 0)
    result = ImportResult(len(decisions), len(for_file), len(for_round), Path(overrides_path), version, round_)
    if dry_run or (for_file.empty and for_round.empty):
        return result
    when = now_iso()
    filled = reviewer

    def write_file() -> None:
        if len(for_file):
            applied = apply_decisions(for_file, overrides_path, taxonomy=taxonomy, reviewer=filled, decided_at=when)
            result.overrides_version, result.added, result.updated = applied.version, applied.added, applied.updated

    if len(for_round):
        with open_store(Path(db)) as con, transaction(con):
            result.matches_changed = record_reviews(con, round_, for_round, taxonomy, reviewer=filled,
                                                    decided_at=when, workbook=workbook, overrides_version=version)
            write_file()   # inside the transaction: if the file cannot be written, the database is unchanged
    else:
        write_file()
    logged = pd.concat([for_file, for_round]).drop_duplicates(["alias", "context", "sheet_row"]
                                                              if "context" in for_file.columns
                                                              else ["alias", "sheet_row"])
    result.log_path = append_audit_log(logged, audit_log_path(overrides_path), workbook=workbook,
                                       overrides_version=result.overrides_version, reviewer=filled,
                                       decided_at=when)
    result.written = True
    return result
