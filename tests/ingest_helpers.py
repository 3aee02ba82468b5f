"""Build and fill real return workbooks (and SPSS/CSV returns) for the ingest tests."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import openpyxl
import pandas as pd

from trust_survey.build.workbook import build_workbook
from trust_survey.instruments import load_registry
from trust_survey.instruments.layout import build_layout

REPO = Path(__file__).resolve().parent.parent
REGISTRY = load_registry(REPO / "instruments")
INST = REGISTRY.get("trust_capability", 1)
LAYOUT = build_layout(INST)
ROUND = 2026

ORGS = {
    "RJ1": "Guy's and St Thomas' NHS Foundation Trust",
    "RGT": "Cambridge University Hospitals NHS Foundation Trust",
    "RRK": "University Hospitals Birmingham NHS Foundation Trust",
    "RBV": "The Christie NHS Foundation Trust",
}

FORM = {
    "org_type": "Acute trust", "icb_code": "QKK", "respondent_name": "Priya Patel",
    "respondent_role": "Head of Bioinformatics", "respondent_email": "priya.patel@nhs.net",
    "will_gen": "Yes - ready to host now", "places_gen": 2, "will_hi": "No", "places_hi": 0, "will_ps": "No",
    "places_ps": 0, "electives": "Possibly", "elective_places": 1,
    "capacity_notes": "Funding for a second supervisor would help.", "offer_timing": "3 to 6 months before",
    "remote_working": "Hybrid (some days on site)", "cpd_routes__hsst": "Yes", "cpd_routes__modules": "No",
    "kf_trainees_gen": 2, "kf_trainees_hi": 0, "kf_trainees_ps": 0, "kf_in_post": 5, "kf_left_programme": 0,
    "kf_left_nhs": 1, "kf_dest_industry": 1, "kf_dest_academia": 0, "kf_dest_public": 0, "kf_dest_abroad": 0,
    "kf_dest_unknown": 0, "signoff_name": "Sam Jones", "signoff_role": "Medical Director",
    "signoff_date": dt.datetime(2027, 1, 15), "signoff_confirm": "Yes",
}
TABLES = {
    "departments": [
        {"dept_name": "Genomics Laboratory", "dept_type": "Genomics or genetics laboratory",
         "dept_postcode": "SE1 9RT", "dept_hosting": "Hosts STP trainees now", "dept_streams__gen": "Yes"},
        {"dept_name": "Medical Physics", "dept_type": "Medical physics", "dept_postcode": "SE1 7EH",
         "dept_hosting": "Has never hosted"},
    ],
    "staff": [
        {"job_title": "Clinical Bioinformatician", "staff_dept": "Genomics Laboratory", "band": "Band 7",
         "headcount": 3, "wte": 2.5, "registration": "HCPC registered clinical scientist", "supervisors": 1},
        {"job_title": "STP Trainee (Genomics)", "staff_dept": "Genomics Laboratory", "band": "Trainee (STP or HSST)",
         "headcount": 2, "wte": 2, "registration": "Working towards registration", "supervisors": 0},
        {"job_title": "Clinical Scientist (Medical Physics)", "staff_dept": "Medical Physics", "band": "Band 8a",
         "headcount": 4, "wte": 3.6, "registration": "HCPC registered clinical scientist", "supervisors": 2},
    ],
    "partners": [
        {"partner_name": "King's College London", "partner_type": "University", "partner_links__research": "Yes"},
    ],
}


class Text(str):
    """A value written as a text cell even when it starts with '=' (openpyxl would make it a formula)."""


def _put(ws, ref: str, value) -> None:
    ws[ref] = value
    if isinstance(value, Text):
        ws[ref].value = str(value)
        ws[ref].data_type = "s"


def address(field_id: str, row: int | None = None) -> tuple[str, str]:
    """(sheet, cell) of a form answer, or of a table cell (``row`` 0-based)."""
    place = LAYOUT.locate(field_id)
    if row is None:
        return place.sheet, place.address
    return place.sheet, place.address(place.first_row + row)


def make_return(folder: Path, org_code: str = "RJ1", *, form: dict | None = None, tables: dict | None = None,
                cells: dict | None = None, name: str | None = None, round_: int = ROUND, inst=INST,
                mtime: dt.datetime | None = None, edit=None) -> Path:
    """A built return workbook filled with valid answers, then ``form``/``tables`` overrides
    (``None`` blanks a cell), then raw ``cells`` ({(sheet, "B2"): value}), then ``edit(wb)``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{org_code}_{inst.id}_v{inst.version}_{round_}.xlsx")
    build_workbook(inst, {"org_code": org_code, "org_name": ORGS.get(org_code, f"Trust {org_code}")}, round_, path)
    layout = build_layout(inst)
    wb = openpyxl.load_workbook(path)
    answers = {**FORM, **(form or {})}
    for cell in layout.form_cells():
        fid = cell.field.field_id
        if fid in answers:
            _put(wb[cell.sheet], cell.address, answers[fid])
    table_rows = {**TABLES, **(tables or {})}
    for sheet in layout.table_sheets():
        for i, row in enumerate(table_rows.get(sheet.section.table.id, [])):
            for col in sheet.columns:
                if col.field.field_id in row:
                    _put(wb[sheet.name], col.address(col.first_row + i), row[col.field.field_id])
    for (sheet, ref), value in (cells or {}).items():
        _put(wb[sheet], ref, value)
    if edit:
        edit(wb)
    wb.save(path)
    if mtime:
        stamp = mtime.timestamp()
        os.utime(path, (stamp, stamp))
    return path


def read_issues(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "issues.csv", dtype=str, keep_default_na=False)


def db_counts(db: Path) -> dict[str, int]:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
                for t in ("submissions", "submission_files", "answers", "issues", "distribution")}
    finally:
        con.close()


def query(db: Path, sql: str, *args) -> pd.DataFrame:
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(args)).df()
    finally:
        con.close()


# ---- individual review returns ---------------------------------------------------------------------------

IND = REGISTRY.get("individual_review", 1)
IND_LAYOUT = build_layout(IND)
IND_ANSWERS = {
    "group": "STP trainee", "stream": "Genomics", "trust_code": "RJ1", "training_year": "Second year",
    "years_nhs": 2, "ret_plans": "Agree", "ret_offer": "Strongly agree", "ret_promotion": "Neither agree nor disagree",
    "ret_elsewhere": "Disagree", "ret_recommend": "Agree", "use_skills": "Agree", "use_routine": "Disagree",
    "use_understood": "Strongly disagree", "use_research": "Agree", "eq_give_more": "Agree",
    "eq_get_more": "Disagree", "eq_hard_work": "Strongly agree", "eq_owed": "Disagree", "eq_contribute": "Agree",
    "comment_keep": "Protected time for research.",
}


def make_individual_return(folder: Path, respondent_id: str = "IR2026-0001", *, answers: dict | None = None,
                           round_: int = ROUND, name: str | None = None, mtime: dt.datetime | None = None) -> Path:
    """The toolkit's individual_review workbook for one respondent, filled with ``IND_ANSWERS`` + ``answers``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name or f"{respondent_id}_{IND.id}_v{IND.version}_{round_}.xlsx")
    build_workbook(IND, {"org_code": respondent_id, "org_name": ""}, round_, path)
    wb = openpyxl.load_workbook(path)
    values = {**IND_ANSWERS, **(answers or {})}
    for cell in IND_LAYOUT.form_cells():
        if cell.field.field_id in values:
            _put(wb[cell.sheet], cell.address, values[cell.field.field_id])
    wb.save(path)
    if mtime:
        os.utime(path, (mtime.timestamp(), mtime.timestamp()))
    return path
