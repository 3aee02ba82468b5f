"""After ingest: status and the chase list, cell-by-cell diff, feedback workbooks and tidy exports."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from ingest_helpers import ORGS, REPO, TABLES, Text, address, make_return, query

HOSTILE_TITLE = '=HYPERLINK("http://evil.example/x","click")'


@pytest.fixture(scope="module")
def round_2026(tmp_path_factory):
    """RJ1 accepted then rejected on resubmission, RGT rejected, RRK silent, RBV returned unasked.

    Built once for the module; the tests only read the database (status, diff, feedback, export)."""
    from conftest import Run

    run = Run()
    base = tmp_path_factory.mktemp("round_2026")
    db = base / "survey.duckdb"
    orgs = base / "orgs.csv"
    orgs.write_text("org_code,org_name,contact_email\n" + "".join(
        f"{c},\"{ORGS[c]}\",{c.lower()}@nhs.example\n" for c in ("RJ1", "RGT", "RRK")))
    for _ in range(2):   # building again updates the distribution instead of duplicating it
        run("instruments", "build", "trust_capability", "--orgs", orgs, "--round", 2026, "--out", base / "built",
            "--force", "-q", "--db", db, "--instruments", REPO / "instruments")
    staff = [dict(r) for r in TABLES["staff"]]
    staff[0]["job_title"] = Text(HOSTILE_TITLE)
    staff[1]["job_title"] = "-5"
    ins = base / "in"
    make_return(ins / "a", "RJ1", tables={"staff": staff}, mtime=dt.datetime(2027, 1, 10))
    make_return(ins / "b", "RJ1", name="RJ1_again.xlsx", form={"kf_in_post": "six", "places_gen": 3},
                mtime=dt.datetime(2027, 2, 1))
    make_return(ins / "c", "RGT", form={"respondent_email": "nobody", "kf_dest_public": "N/A"},
                mtime=dt.datetime(2027, 1, 12))
    make_return(ins / "d", "RBV", mtime=dt.datetime(2027, 1, 14))
    run("ingest", ins, "--out", base / "run", "--db", db, "--engine", "pandas", "--instruments",
        REPO / "instruments", expect=1)
    return db


def test_build__records_the_distribution_once_per_org_and_file(round_2026):
    dist = query(round_2026, "SELECT org_code, count(*) AS n FROM distribution WHERE round = 2026 "
                             "GROUP BY ALL ORDER BY 1")
    assert list(dist.org_code) == ["RGT", "RJ1", "RRK"] and set(dist.n) == {1}


def test_status__lists_every_organisation_with_its_state(run, round_2026):
    result = run("status", "--round", 2026, "--chase-list", "chase.csv", "--db", round_2026)
    lines = {line.split()[0]: line for line in result.stdout.splitlines()[1:]}
    assert "accepted" in lines["RJ1"] and "rejected" in lines["RGT"] and "not returned" in lines["RRK"]
    assert "(not in distribution)" in lines["RBV"]
    assert "round 2026: 4 organisation(s): 0 accepted, 2 accepted with warnings, 1 rejected, 1 not returned" \
        in result.stderr
    chase = pd.read_csv("chase.csv")
    assert sorted(chase.org_code) == ["RGT", "RRK"]   # never RJ1: its valid return is in, despite the rejected one
    assert chase.set_index("org_code").loc["RRK", "contact_email"] == "rrk@nhs.example"
    assert "rejected" in chase.set_index("org_code").loc["RGT", "reason"]


def test_diff__shows_each_changed_cell_between_the_two_returns(run, round_2026):
    result = run("diff", "rj1", "--round", 2026, "--out", "changes.csv", "--db", round_2026)
    assert "submission 1" in result.stdout and "-> submission" in result.stdout
    changes = pd.read_csv("changes.csv", dtype=str, keep_default_na=False).set_index("field")
    sheet, cell = address("places_gen")
    assert (changes.loc["places_gen", "sheet"], changes.loc["places_gen", "cell"]) == (sheet, cell)
    assert (changes.loc["places_gen", "old"], changes.loc["places_gen", "new"]) == ("2", "3")
    assert changes.loc["kf_in_post", "new"] == "six" and changes.loc["kf_in_post", "change"] == "changed"
    assert "'" + HOSTILE_TITLE in set(changes.loc["job_title", "old"])   # made safe in the CSV
    none = run("diff", "RBV", "--round", 2026, "--db", round_2026, expect=1)
    assert "only one return" in none.stderr


def test_feedback__one_workbook_per_organisation_with_issues_naming_sheet_and_cell(run, round_2026):
    run("feedback", "--round", 2026, "--out", "fb", "--db", round_2026)
    names = sorted(p.name for p in Path("fb").iterdir())
    assert names == [f"{org}_trust_capability_2026_feedback.xlsx" for org in ("RBV", "RGT", "RJ1")]
    wb = openpyxl.load_workbook(Path("fb") / names[1])
    rows = list(wb["Issues"].iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert header[:4] == ("Severity", "Code", "Sheet", "Cell")
    sheet, cell = address("respondent_email")
    assert ("error", "V007 (not an email address)", sheet, cell) in [r[:4] for r in body]
    assert body[0][0] == "error" and body[-1][0] == "warning"
    stored = query(round_2026, "SELECT * FROM issues i JOIN submissions s USING (submission_id) "
                               "WHERE s.org_code = 'RGT'")
    assert len(body) == len(stored)
    again = run("feedback", "--round", 2026, "--out", "fb", "--db", round_2026, expect=1)
    assert "--force" in again.stderr


def test_export__csv_xlsx_and_sav_are_tidy_safe_and_labelled(run, round_2026):
    for fmt in ("csv", "xlsx", "sav"):
        run("export", "--round", 2026, "--format", fmt, "--out", f"exp_{fmt}", "--db", round_2026)
    staff = pd.read_csv("exp_csv/trust_capability_v1_2026_staff.csv", dtype=str)
    titles = set(staff.job_title)
    assert "'" + HOSTILE_TITLE in titles and "-5" in titles          # formula neutralised, number-like kept
    assert set(staff.org_code) == {"RJ1", "RBV"}                      # accepted returns only, RJ1's good one
    form = pd.read_csv("exp_csv/trust_capability_v1_2026_form.csv")
    assert "respondent_email" not in form.columns and "signoff_name" not in form.columns
    ledger = pd.read_csv("exp_csv/submissions_2026.csv")
    assert len(ledger) == 4 and set(ledger.status) == {"accepted_with_warnings", "rejected"}
    wb = openpyxl.load_workbook("exp_xlsx/trust_capability_v1_2026.xlsx")
    ws = wb["staff"]
    cells = [c for row in ws.iter_rows(min_row=2) for c in row if c.value == HOSTILE_TITLE]
    assert cells and cells[0].data_type == "s"                        # text, never a formula
    assert any(c.value == 2.5 for row in ws.iter_rows(min_row=2) for c in row)
    df, meta = pyreadstat.read_sav("exp_sav/trust_capability_v1_2026_staff.sav")
    assert meta.column_names_to_labels["wte"] == "Whole-time equivalent"
    assert meta.variable_value_labels["band"][81.0] == "Band 8a"
    assert set(df.band.dropna()) <= {7.0, 90.0, 81.0} and "ORGCODE" in df.columns
    again = run("export", "--round", 2026, "--format", "csv", "--out", "exp_csv", "--db", round_2026, expect=1)
    assert "--force" in again.stderr
