"""Feedback workbooks: one per organisation whose current return has issues, ready to send back.

Each workbook has a Summary sheet (which return, its status, what to do) and an Issues sheet listing
every issue -- errors first -- with the sheet and cell it is in, the value found and what was
expected. Text is written so that it can never run as a formula.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trust_survey import store
from trust_survey.atomic import staged_files
from trust_survey.errors import NotFoundError, OutputExistsError
from trust_survey.ingest.issues import CODES, display
from trust_survey.common.safe_text import write_text_cell
from trust_survey.instruments import load_registry
from trust_survey.writers import save_workbook

ISSUE_HEADERS = [("severity", "Severity"), ("code", "Code"), ("sheet", "Sheet"), ("cell", "Cell"), ("row", "Row"),
                 ("column", "Column / question"), ("value", "Value found"), ("expected", "Expected"),
                 ("message", "What to check or correct")]
STATUS_TEXT = {"rejected": "Rejected: please correct the errors below and send the return again",
               "accepted_with_warnings": "Accepted with warnings: please check the points below; if an answer "
                                         "is wrong, send a corrected return"}


@dataclass
class FeedbackResult:
    out_dir: Path
    written: list[Path]
    organisations: int


def feedback_targets(con, round_: int) -> pd.DataFrame:
    """Per organisation and instrument, the latest live submission that has issues.

    Individual questionnaires are left out: their respondents are pseudonymous, and nobody sends a
    respondent a list of corrections (their issues are in the ingest run's report)."""
    live = store.current_submissions(con, round_)
    if live.empty:
        return live
    try:
        registry = load_registry()
        individual = {i for i in registry.ids() if "individual" in registry.get(i).audience}
    except Exception:  # noqa: BLE001 - without definitions, every return is an organisation's
        individual = set()
    live = live[~live.instrument_id.isin(individual)]
    latest = live.sort_values(["received_at", "submission_id"]).groupby(["org_code", "instrument_id"]).tail(1)
    return latest[(latest.errors > 0) | (latest.warnings > 0)].sort_values("org_code").reset_index(drop=True)


def _write_workbook(path: Path, sub: pd.Series, issues: pd.DataFrame) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font, PatternFill

    bold, wrap = Font(bold=True), Alignment(wrap_text=True, vertical="top")
    wb = Workbook()
    ws = wb.active
    ws.title = "Summary"
    write_text_cell(ws["A1"], f"Feedback on your {sub.instrument_id} return, round {sub['round']}").font = \
        Font(bold=True, size=14)
    facts = [("Organisation", f"{sub.org_code} {sub.org_name or ''}".strip()), ("File received", sub.file_name),
             ("Received", display(sub.received_at.to_pydatetime()) if pd.notna(sub.received_at) else ""),
             ("Instrument version", int(sub.instrument_version)),
             ("Status", STATUS_TEXT.get(sub.outcome, sub.outcome)), ("Errors", int(sub.errors)),
             ("Warnings", int(sub.warnings)),
             ("How to use this", "Each row of the Issues sheet names the sheet and cell of your return. Errors "
                                 "must be corrected; warnings were accepted but show how we read your answer.")]
    for row, (label, value) in enumerate(facts, start=3):
        write_text_cell(ws.cell(row=row, column=1), label).font = bold
        write_text_cell(ws.cell(row=row, column=2), value).alignment = wrap
    ws.column_dimensions["A"].width = 22
    ws.column_dimensions["B"].width = 100
    sheet = wb.create_sheet("Issues")
    fill = PatternFill("solid", fgColor="005EB8")
    for col, (_, header) in enumerate(ISSUE_HEADERS, start=1):
        cell = write_text_cell(sheet.cell(row=1, column=col), header)
        cell.font, cell.fill = Font(bold=True, color="FFFFFF"), fill
    ordered = issues.assign(_e=issues.severity != "error").sort_values(["_e", "file", "sheet", "row", "cell"])
    for r, issue in enumerate(ordered.itertuples(index=False), start=2):
        for col, (key, _) in enumerate(ISSUE_HEADERS, start=1):
            value = getattr(issue, key)
            value = None if value is None or (not isinstance(value, str) and pd.isna(value)) else value
            if key == "code" and value:
                value = f"{value} ({CODES.get(value, ('', ''))[1]})"
            if key == "row" and value is not None:
                value = int(value)
            write_text_cell(sheet.cell(row=r, column=col), value).alignment = wrap
    for col, width in zip("ABCDEFGHI", (10, 28, 16, 8, 7, 30, 28, 34, 70)):
        sheet.column_dimensions[col].width = width
    sheet.freeze_panes = "A2"
    sheet.auto_filter.ref = f"A1:I{max(len(ordered) + 1, 2)}"
    save_workbook(wb, path)


def write_feedback(db: Path, round_: int, out_dir: Path, force: bool = False) -> FeedbackResult:
    """Write one feedback workbook per organisation with issues into ``out_dir``."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()) and not force:
        raise OutputExistsError(f"{out_dir}: already exists and is not empty; choose another --out or pass --force")
    with store.open_store(db, read_only=True) as con:
        targets = feedback_targets(con, round_)
        if targets.empty and store.current_submissions(con, round_).empty:
            raise NotFoundError(f"no returns ingested for round {round_} in {db}")
        issues = store.issues_of(con, [int(s) for s in targets.submission_id]) if len(targets) else None
    written = []
    with staged_files(out_dir) as staging:
        for _, sub in targets.iterrows():
            name = f"{sub.org_code}_{sub.instrument_id}_{sub['round']}_feedback.xlsx"
            _write_workbook(staging / name, sub, issues[issues.submission_id == sub.submission_id])
            written.append(name)
    return FeedbackResult(out_dir, [out_dir / n for n in written], len(written))
