"""Returns made by the programs trusts really use: filled and re-saved by LibreOffice, written by GNU PSPP."""
from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest

from ingest_helpers import FORM, INST, ROUND, address, query, read_issues
from trust_survey.build.workbook import build_workbook

DB = Path("outputs/trust_survey.duckdb")
STEM = f"RRK_trust_capability_v1_{ROUND}"

TYPED = {   # what a person types into LibreOffice (lo_fill.py --set), by field and table row
    ("org_type", None): "Acute trust", ("icb_code", None): "QHL", ("respondent_name", None): "Jo Evans",
    ("respondent_role", None): "Lead Clinical Scientist", ("respondent_email", None): "jo.evans@nhs.net",
    ("will_gen", None): "Yes - ready to host now", ("places_gen", None): "2", ("will_hi", None): "no",
    ("will_ps", None): "No", ("electives", None): "Possibly", ("offer_timing", None): "3 to 6 months before",
    ("remote_working", None): "On site only", ("kf_trainees_gen", None): "1", ("kf_trainees_hi", None): "0",
    ("kf_trainees_ps", None): "0", ("kf_in_post", None): "4", ("kf_left_programme", None): "0",
    ("kf_left_nhs", None): "0", ("signoff_name", None): "Sam Lee", ("signoff_role", None): "Medical Director",
    ("signoff_date", None): "15/01/2027", ("signoff_confirm", None): "Yes",
    ("dept_name", 0): "Genomics Lab", ("dept_type", 0): "Genomics or genetics laboratory",
    ("dept_postcode", 0): "b15 2th", ("dept_hosting", 0): "Hosts STP trainees now",
    ("job_title", 0): "Clinical Bioinformatician", ("staff_dept", 0): "Genomics Lab", ("band", 0): "Band 7",
    ("headcount", 0): "3", ("wte", 0): "2.5", ("registration", 0): "HCPC registered clinical scientist",
    ("supervisors", 0): "=1+0",
    ("staff_dept", 1): "Genomics Lab", ("band", 1): "B8a", ("headcount", 1): "2", ("wte", 1): "2",
    ("registration", 1): "Not registered",
}
TYPED_AS_TEXT = {("job_title", 1): '=HYPERLINK("http://evil.example","Scientist")'}


def _assignments(values: dict, flag: str) -> list[str]:
    out = []
    for (fid, row), value in values.items():
        sheet, cell = address(fid, row)
        out += [flag, f"{sheet}!{cell}={value}"]
    return out


@pytest.fixture(scope="module")
def lo_returns(tmp_path_factory):
    """One return typed into LibreOffice and saved as .xlsx, then converted to .ods and .xls by LibreOffice."""
    import shutil

    if not shutil.which("soffice"):
        pytest.skip("LibreOffice (soffice) is not installed")
    from trust_survey.simulate.writers import convert_with_soffice

    base = tmp_path_factory.mktemp("lo")
    blank = base / "blank.xlsx"
    build_workbook(INST, {"org_code": "RRK", "org_name": "University Hospitals Birmingham"}, ROUND, blank)
    filled = base / "xlsx" / f"{STEM}.xlsx"
    filled.parent.mkdir()
    from conftest import PROGRAMS

    tool = PROGRAMS / "lo_fill.py"
    proc = subprocess.run([sys.executable, str(tool), str(blank), str(filled), "--recalc",
                           *_assignments(TYPED, "--set"), *_assignments(TYPED_AS_TEXT, "--text")],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = {"xlsx": filled}
    for fmt in ("ods", "xls"):
        folder = base / fmt
        folder.mkdir()
        done, problem = convert_with_soffice([filled], fmt, folder, shutil.which("soffice"), timeout=240)
        assert not problem, problem
        out[fmt] = done[filled]
    return out


@pytest.mark.libreoffice
def test_ingest__workbook_filled_in_libreoffice__is_identified_cleaned_and_flagged(run, libreoffice, lo_returns):
    run("ingest", lo_returns["xlsx"], "--out", "run", "--engine", "pandas")
    sub = query(DB, "SELECT * FROM submissions")
    assert sub.identified_by[0] == "meta" and sub.status[0] == "accepted_with_warnings"
    issues = read_issues(Path("run"))
    codes = {(r.code, r.cell) for r in issues.itertuples()}
    assert ("W010", address("supervisors", 0)[1]) in codes          # the formula, not run; its saved value used
    assert ("W011", address("job_title", 1)[1]) in codes            # text that would run as a formula
    assert ("W006", address("band", 1)[1]) in codes                 # B8a
    assert ("W009", address("dept_postcode", 0)[1]) in codes        # b15 2th
    assert ("W007", address("will_hi")[1]) in codes                 # no -> No
    answers = query(DB, "SELECT field_id, row_index, value FROM answers")
    got = {(r.field_id, r.row_index): r.value for r in answers.itertuples()}
    assert got[("supervisors", 1)] == "1" and got[("band", 2)] == "Band 8a" and got[("wte", 1)] == "2.5"
    assert got[("dept_postcode", 1)] == "B15 2TH" and got[("signoff_date", 0)] == "2027-01-15"
    assert got[("job_title", 2)] == TYPED_AS_TEXT[("job_title", 1)]


@pytest.mark.libreoffice
def test_ingest__libreoffice_ods_and_xls__give_the_same_answers_as_xlsx(run, libreoffice, lo_returns):
    run("ingest", *lo_returns.values(), "--out", "run", "--engine", "pandas")
    subs = query(DB, "SELECT submission_id, format, identified_by FROM submissions ORDER BY format")
    assert list(subs.format) == ["ods", "xls", "xlsx"] and set(subs.identified_by) == {"meta"}
    answers = query(DB, "SELECT s.format, a.field_id, a.row_index, a.value FROM answers a "
                        "JOIN submissions s USING (submission_id)")
    by_format = {fmt: set(map(tuple, g[["field_id", "row_index", "value"]].values.tolist()))
                 for fmt, g in answers.groupby("format")}
    assert by_format["ods"] == by_format["xlsx"] == by_format["xls"]
    assert len(by_format["xlsx"]) >= 35


LABELS = """VARIABLE LABELS band 'Agenda for Change band' /headcount 'Headcount'.
VALUE LABELS band 7 'Band 7' 81 'Band 8a' -9 'Not answered'.
MISSING VALUES supervisors band (-9).
"""


@pytest.mark.pspp
def test_ingest__spss_files_written_by_pspp__are_identified_by_their_variables(run, pspp, tmp_path):
    form_fields = [f for f in INST.fields() if f.table is None]
    codes = {f.field_id: {c.label: c.value for c in INST.choices_for(f.item)} for f in form_fields
             if f.choice_list and f.option is None}
    values = {**FORM, "org_code": "RRK", "org_name": "University Hospitals Birmingham",
              "signoff_date": "2027-01-15", "cpd_routes__hsst": 1, "cpd_routes__modules": 0}
    row = []
    for f in form_fields:
        v = values.get(f.field_id)
        row.append(codes[f.field_id][v] if f.field_id in codes and v is not None else ("" if v is None else v))
    form_csv, staff_csv = tmp_path / "form.csv", tmp_path / "staff.csv"
    with open(form_csv, "w", newline="") as fh:
        csv.writer(fh).writerows([[f.var_name for f in form_fields], row])
    staff_fields = ["ORGCODE"] + [f.var_name for f in INST.fields() if f.table == "staff"]
    with open(staff_csv, "w", newline="") as fh:
        csv.writer(fh).writerows([staff_fields,
                                  ["RRK", "Clinical Bioinformatician", "Genomics Lab", 7, 3, 2.5, 1, -9],
                                  ["RRK", "Principal Clinical Scientist", "Genomics Lab", 81, 1, 1, 1, 1],
                                  ["RRK", "Data Scientist", "Genomics Lab", -9, 1, 1, 5, 0]])
    (tmp_path / "labels.sps").write_text(LABELS)
    folder = tmp_path / "spss"
    folder.mkdir()
    for source, target, extra in ((form_csv, f"{STEM}.sav", []),
                                  (staff_csv, f"{STEM}__staff.zsav", ["-l", str(tmp_path / "labels.sps")])):
        proc = subprocess.run([sys.executable, str(pspp), *extra, str(source), str(folder / target)],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
    result = run("ingest", folder, "--out", "run", "--engine", "pandas", expect=1)
    assert "(+1 record files)" in result.stdout
    sub = query(DB, "SELECT * FROM submissions")
    assert sub.org_code[0] == "RRK" and sub.identified_by[0] == "variables" and sub["round"][0] == ROUND
    issues = read_issues(Path("run"))
    missing = issues[issues.code == "V001"]
    assert list(missing.field) == ["band"] and list(missing.row) == ["3"]   # -9 is user-missing: blank
    staff = query(DB, "SELECT row_index, field_id, value FROM answers WHERE table_id = 'staff'")
    got = {(r.row_index, r.field_id): r.value for r in staff.itertuples()}
    assert got[(1, "band")] == "Band 7" and got[(2, "band")] == "Band 8a" and (1, "supervisors") not in got
    assert query(DB, "SELECT value FROM answers WHERE field_id = 'signoff_date'").value[0] == "2027-01-15"
