"""`ingest`: real built workbooks filled with openpyxl, a real DuckDB file, issues named by file/sheet/cell/code."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from ingest_helpers import REPO, ROUND, TABLES, address, db_counts, make_return, query, read_issues

DB = Path("outputs/trust_survey.duckdb")


def ingest(run, *paths, out="run", expect=0, extra=("--engine", "pandas")):
    """Most tests use the pandas engine (faster to start); the GX engine has its own tests."""
    return run("ingest", *paths, "--out", out, *extra, expect=expect)


def issue(df, code, cell=None, sheet=None):
    rows = df[df.code == code]
    if cell:
        rows = rows[rows.cell == cell]
    if sheet:
        rows = rows[rows.sheet == sheet]
    assert len(rows), f"no {code} at {sheet}!{cell}; issues:\n{df[['code', 'sheet', 'cell', 'message']]}"
    return rows.iloc[0]


def test_ingest__valid_return__is_accepted_and_stored_tidy_with_provenance(run, tmp_path):
    path = make_return(tmp_path / "in")
    result = ingest(run, path, extra=())   # the default engine: Great Expectations
    assert "accepted" in result.stdout and "RJ1" in result.stdout
    subs = query(DB, "SELECT * FROM submissions")
    assert subs.loc[0, "status"] == "accepted" and subs.loc[0, "org_code"] == "RJ1"
    assert subs.loc[0, "instrument_id"] == "trust_capability" and subs.loc[0, "round"] == ROUND
    assert subs.loc[0, "errors"] == 0 and subs.loc[0, "warnings"] == 0
    wte = query(DB, "SELECT * FROM answers WHERE field_id = 'wte' ORDER BY row_index")
    assert list(wte.value_num) == [2.5, 2.0, 3.6]
    sheet, cell = address("wte", 0)
    assert (wte.loc[0, "sheet"], wte.loc[0, "cell"], wte.loc[0, "row_index"]) == (sheet, cell, 1)
    band = query(DB, "SELECT value, value_num FROM answers WHERE field_id = 'band' ORDER BY row_index")
    assert list(band.value) == ["Band 7", "Trainee (STP or HSST)", "Band 8a"] and band.value_num[2] == 81
    wide = query(DB, "SELECT * FROM wide_trust_capability_staff ORDER BY row_index")
    assert list(wide.job_title)[0] == "Clinical Bioinformatician" and wide.headcount.sum() == 9
    form = query(DB, "SELECT * FROM wide_trust_capability_form")
    assert form.loc[0, "org_code"] == "RJ1" and form.loc[0, "kf_in_post"] == 5
    assert "respondent_email" not in form.columns  # personal items stay out of analysis tables
    assert (Path("outputs/archive") / subs.loc[0, "sha256"][:2] / subs.loc[0, "sha256"]).read_bytes() == \
        path.read_bytes()
    issues = read_issues(Path("run"))
    assert issues.empty and list(issues.columns)[:5] == ["file", "sheet", "cell", "row", "column"]
    page = (Path("run") / "report.html").read_text()
    assert "http://" not in page and "https://" not in page and "<script" not in page


def test_ingest__messy_cells__are_cleaned_with_a_warning_each(run, tmp_path):
    path = make_return(tmp_path / "in", form={
        "kf_dest_public": "N/A", "kf_dest_abroad": "-", "kf_in_post": "5", "respondent_role": "  Lead  ",
        "signoff_date": "15/01/2027", "org_type": "acute trust", "signoff_confirm": "Y",
    }, tables={"staff": [
        {"job_title": "Bioinformatician", "staff_dept": "Genomics Laboratory", "band": "band 8A", "headcount": "1,234",
         "wte": 2, "registration": "hcpc", "supervisors": 0},
        {"job_title": "Scientist", "staff_dept": "Genomics Laboratory", "band": "B7", "headcount": 2,
         "wte": 2, "registration": "Not registered", "supervisors": 0},
        {"job_title": "Analyst", "staff_dept": "Genomics Laboratory", "band": "AfC Band 6", "headcount": 1,
         "wte": "0,8", "registration": "Not registered", "supervisors": "1,5"},
    ]})
    result = ingest(run, path, expect=1)   # headcount 1,234 is above the maximum of 500: an error
    issues = read_issues(Path("run"))
    sheet = "Key figures"
    assert issue(issues, "W001", address("kf_dest_public")[1], sheet).value == "N/A"
    assert issue(issues, "W001", address("kf_dest_abroad")[1], sheet).value == "'-"   # CSV made formula-safe
    assert issue(issues, "W003", address("kf_in_post")[1], sheet).value == "5"
    assert issue(issues, "W002", address("respondent_role")[1], "Organisation").value == "  Lead  "
    assert issue(issues, "W005", address("signoff_date")[1], "Sign-off").value == "15/01/2027"
    assert issue(issues, "W007", address("org_type")[1], "Organisation").value == "acute trust"
    assert issue(issues, "W008", address("signoff_confirm")[1], "Sign-off").value == "Y"
    assert issue(issues, "W006", address("band", 0)[1], "Staff").value == "band 8A"
    assert issue(issues, "W006", address("band", 1)[1], "Staff").value == "B7"
    assert issue(issues, "W006", address("band", 2)[1], "Staff").value == "AfC Band 6"
    assert issue(issues, "W007", address("registration", 0)[1], "Staff").value == "hcpc"
    assert issue(issues, "W004", address("headcount", 0)[1], "Staff").value == "1,234"
    assert issue(issues, "W014", address("wte", 2)[1], "Staff").value == "0,8"      # a decimal comma
    half = issue(issues, "V002", address("supervisors", 2)[1], "Staff")           # 1.5 people is not a count
    assert half.value == "1,5" and "whole number" in half.message
    big = issue(issues, "V003", address("headcount", 0)[1], "Staff")
    assert big.value == "1234" and "500" in big.expected and big.severity == "error"
    assert "REJECTED" in result.stdout
    stored = query(DB, "SELECT value FROM answers WHERE field_id = 'band' ORDER BY row_index")
    assert list(stored.value) == ["Band 8a", "Band 7", "Band 6"]
    wte = query(DB, "SELECT value FROM answers WHERE field_id = 'wte' ORDER BY row_index")
    assert list(wte.value)[2] == "0.8"


def test_ingest__warnings_only__exit_0_but_1_with_strict(run, tmp_path):
    path = make_return(tmp_path / "in", form={"kf_dest_public": "N/A"})
    ingest(run, path, expect=0)
    assert query(DB, "SELECT status FROM submissions").status[0] == "accepted_with_warnings"
    other = make_return(tmp_path / "in2", "RGT", form={"kf_dest_public": "n/a"})
    ingest(run, other, out="run2", expect=1, extra=["--strict", "--engine", "pandas"])


ERRORS = {
    "V001": ("respondent_name", None, None),
    "V002": ("kf_in_post", None, "tbc"),
    "V003": ("places_gen", None, 25),
    "V004": ("band", 1, "Band 10"),
    "V005": ("icb_code", None, "Q K K K K K"),
    "V006": ("signoff_date", None, "31/02/2027"),
    "V007": ("respondent_email", None, "not-an-email"),
    "V010": ("job_title", 0, "x" * 151),
    "V011": ("dept_postcode", 0, "NOT A CODE"),
}


def test_ingest__each_kind_of_error__is_reported_at_its_cell_and_rejects(run, tmp_path):
    form = {fid: value for code, (fid, row, value) in ERRORS.items() if row is None}
    tables = {"staff": [dict(r) for r in TABLES["staff"]], "departments": [dict(r) for r in TABLES["departments"]]}
    tables["staff"][1]["band"] = "Band 10"
    tables["staff"][0]["job_title"] = "x" * 151
    tables["departments"][0]["dept_postcode"] = "NOT A CODE"
    tables["staff"][2]["wte"] = 5                                     # V009 wte above headcount 4
    tables["staff"].append(dict(tables["staff"][1]))                  # V008 duplicate row
    path = make_return(tmp_path / "in", form=form, tables=tables)
    ingest(run, path, expect=1)
    issues = read_issues(Path("run"))
    for code, (fid, row, value) in ERRORS.items():
        sheet, cell = address(fid, row)
        found = issue(issues, code, cell, sheet)
        assert found.severity == "error" and found.file == path.name and found.field == fid
        assert found.row == cell.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
    assert issue(issues, "V009", address("wte", 2)[1], "Staff").value == "5"
    assert issue(issues, "V008", address("job_title", 3)[1], "Staff").message.startswith("row 5 repeats row 3")
    assert not len(issues[(issues.code == "V001") & (issues.field == "kf_in_post")])  # 'tbc' reported once
    sub = query(DB, "SELECT * FROM submissions")
    assert sub.status[0] == "rejected" and sub.errors[0] == len(issues[issues.severity == "error"])
    assert query(DB, "SELECT count(*) AS n FROM issues").n[0] == len(issues)
    quarantined = list(Path("outputs/quarantine").glob(f"*_{path.name}"))
    assert quarantined and "V001" in quarantined[0].with_name(quarantined[0].name + ".reason.txt").read_text()
    payload = json.loads((Path("run") / "issues.json").read_text())
    assert len(payload["issues"]) == len(issues) and payload["summary"]["rejected"] == 1


def test_ingest__same_file_twice__is_a_no_op_reported_as_such(run, tmp_path):
    path = make_return(tmp_path / "in")
    ingest(run, path)
    before = db_counts(DB)
    result = ingest(run, path, out="run2")
    assert "already ingested" in result.stdout and "nothing changed" in result.stdout
    assert db_counts(DB) == before


def test_ingest__resubmission__supersedes_the_earlier_return(run, tmp_path):
    first = make_return(tmp_path / "a", form={"places_gen": 30}, mtime=dt.datetime(2027, 1, 10))
    second = make_return(tmp_path / "b", name="RJ1_resubmitted.xlsx", mtime=dt.datetime(2027, 1, 20))
    ingest(run, tmp_path / "b", tmp_path / "a", expect=1)   # order given does not matter: received dates do
    subs = query(DB, "SELECT * FROM submissions ORDER BY received_at")
    assert list(subs.status) == ["superseded", "accepted"] and list(subs.outcome) == ["rejected", "accepted"]
    assert subs.supersedes[1] == subs.submission_id[0] and subs.superseded_by[0] == subs.submission_id[1]
    assert len(query(DB, "SELECT * FROM wide_trust_capability_form")) == 1
    assert second.exists() and first.exists()


def test_ingest__rejected_resubmission__does_not_hide_a_good_return(run, tmp_path):
    make_return(tmp_path / "a", mtime=dt.datetime(2027, 1, 10))
    ingest(run, tmp_path / "a")
    make_return(tmp_path / "b", name="RJ1_again.xlsx", form={"kf_in_post": "lots"}, mtime=dt.datetime(2027, 2, 1))
    ingest(run, tmp_path / "b", out="run2", expect=1)
    subs = query(DB, "SELECT status FROM submissions ORDER BY received_at")
    assert list(subs.status) == ["accepted", "rejected"]


def test_ingest__wrong_round__is_quarantined_and_nothing_is_stored(run, tmp_path):
    path = make_return(tmp_path / "in", round_=2025)
    result = ingest(run, path, expect=1, extra=["--round", "2026", "--engine", "pandas"])
    assert "UNREADABLE" in result.stdout
    issues = read_issues(Path("run"))
    assert issue(issues, "F009").message.startswith("this return is for round 2025, not round 2026")
    assert db_counts(DB)["submissions"] == 0
    assert list(Path("outputs/quarantine").glob("*.reason.txt"))


def test_ingest__meta_sheet_removed__falls_back_to_cover_then_headers(run, tmp_path):
    no_meta = make_return(tmp_path / "in", edit=lambda wb: wb.remove(wb["meta"]))
    no_cover = make_return(tmp_path / "in", "RGT", edit=lambda wb: (wb.remove(wb["meta"]), wb.remove(wb["Cover"])))
    ingest(run, no_meta, no_cover)
    issues = read_issues(Path("run"))
    assert issue(issues, "W020").file == no_meta.name
    assert issue(issues, "W021").file == no_cover.name
    subs = query(DB, "SELECT org_code, identified_by FROM submissions ORDER BY org_code")
    assert list(subs.identified_by) == ["headers", "cover"] and list(subs.org_code) == ["RGT", "RJ1"]


def test_ingest__edited_definition_hash__is_a_warning(run, tmp_path):
    path = make_return(tmp_path / "in", cells={("meta", "B6"): "0" * 64})
    ingest(run, path)
    assert issue(read_issues(Path("run")), "W022").sheet == "meta"


def test_ingest__deleted_column__is_reported_and_later_columns_read_by_header(run, tmp_path):
    def delete_wte(wb):
        ws = wb["Staff"]
        ws.protection.sheet = False
        ws.delete_cols(5)   # Whole-time equivalent
    path = make_return(tmp_path / "in", edit=delete_wte)
    ingest(run, path, expect=1)
    issues = read_issues(Path("run"))
    missing = issue(issues, "V013", "E1", "Staff")
    assert "Whole-time equivalent" in missing.message and "deleted" in missing.message
    assert not len(issues[issues.code == "V009"])   # no rule checked against a column that is not there
    reg = query(DB, "SELECT value, cell FROM answers WHERE field_id = 'registration' ORDER BY row_index")
    assert reg.value[0] == "HCPC registered clinical scientist" and reg.cell[0] == "E2"


def test_ingest__renamed_and_extra_sheets_and_stray_values__are_warnings(run, tmp_path):
    def edit(wb):
        wb["Partners"].title = "Our partners"
        wb.create_sheet("Notes")["A1"] = "call Sam about this"
        wb["Organisation"]["F3"] = "see attached"
    path = make_return(tmp_path / "in", edit=edit)
    ingest(run, path)
    issues = read_issues(Path("run"))
    assert issue(issues, "W028", sheet="Our partners").expected == "Partners"
    assert issue(issues, "W025", sheet="Notes").value == "1"
    assert issue(issues, "W013", "F3", "Organisation").value == "see attached"
    assert len(query(DB, "SELECT * FROM answers WHERE table_id = 'partners'")) == 3


def test_ingest__org_code_answered_for_another_organisation__is_an_error(run, tmp_path):
    sheet, cell = address("org_code")
    path = make_return(tmp_path / "in", cells={(sheet, cell): "RGT"})
    ingest(run, path, expect=1)
    found = issue(read_issues(Path("run")), "V012", cell, sheet)
    assert found.value == "RGT" and found.expected == "RJ1"


def test_ingest__older_version__is_read_through_its_own_definition(run, tmp_path, monkeypatch):
    import yaml

    folder = tmp_path / "instruments"
    folder.mkdir()
    source = Path(__file__).resolve().parent.parent / "instruments" / "trust_capability.v1.yaml"
    shutil.copy(source, folder / source.name)
    raw = yaml.safe_load(source.read_text())
    raw["version"] = 2
    raw["sections"][3]["items"].append({"id": "places_total", "label": "Trainees in all streams", "type": "integer",
                                        "required": True})
    (folder / "trust_capability.v2.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    monkeypatch.setenv("TRUST_SURVEY_INSTRUMENTS", str(folder))
    path = make_return(tmp_path / "in")
    ingest(run, path)
    assert issue(read_issues(Path("run")), "W023").value == "1"
    assert query(DB, "SELECT instrument_version FROM submissions").instrument_version[0] == 1
    wide = query(DB, "SELECT * FROM wide_trust_capability_form")
    assert "places_total" in wide.columns and wide.places_total.isna().all()   # the v2 item, blank for v1


def test_ingest__a_crash_mid_file__leaves_the_database_exactly_as_it_was(run, tmp_path, monkeypatch):
    from trust_survey import store

    ingest(run, make_return(tmp_path / "a"))
    before = db_counts(DB)

    def boom(con, instruments):   # inside the transaction, after the ledger rows and answers were written
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(store, "ensure_views", boom)
    result = run("ingest", make_return(tmp_path / "b", "RGT", form={"kf_dest_public": "N/A"}), "--out", "r2",
                 "--engine", "pandas", expect=1)
    assert "disk on fire" in result.stderr and "Traceback" not in result.stderr
    assert db_counts(DB) == before


def test_ingest__when_the_one_transaction_fails__each_return_is_stored_on_its_own(run, tmp_path, monkeypatch):
    from trust_survey import store

    def fails(*args, **kwargs):
        raise RuntimeError("batch failed")

    monkeypatch.setattr(store, "store_batch", fails)
    make_return(tmp_path / "in", "RJ1")
    make_return(tmp_path / "in", "RGT", form={"kf_in_post": "lots"})
    run("ingest", tmp_path / "in", "--out", "r", "--engine", "pandas", expect=1)
    got = query(DB, "SELECT org_code, status FROM submissions ORDER BY org_code")
    assert got.values.tolist() == [["RGT", "rejected"], ["RJ1", "accepted"]]
    assert query(DB, "SELECT count(*) AS n FROM answers").n[0] > 50


def test_ingest__database_held_by_another_process__says_so_without_a_traceback(run, tmp_path):
    import subprocess
    import sys

    ingest(run, make_return(tmp_path / "a"))
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(60)", str(DB)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run("ingest", make_return(tmp_path / "b", "RGT"), "--out", "r2", "--engine", "pandas", expect=1)
        assert f"database {DB.resolve()} is in use by another trust-survey process (PID {holder.pid})" in result.stderr
        assert "wait for it to finish" in result.stderr and "Traceback" not in result.stderr
        status = run("status", "--round", ROUND, expect=1)
        assert "is in use by another trust-survey process" in status.stderr
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("engine", ["gx", "pandas"])
def test_ingest__column_rule_failures__are_complete_never_truncated(run, tmp_path, engine):
    rows = [{"job_title": f"Scientist {i}", "staff_dept": "Lab", "band": "Grade 7", "headcount": 1, "wte": 1,
             "registration": "Not registered"} for i in range(150)]
    a = make_return(tmp_path / "in", "RJ1", tables={"staff": rows})
    b = make_return(tmp_path / "in", "RGT", tables={"staff": rows})
    ingest(run, a, b, expect=1, extra=["--engine", engine])
    issues = read_issues(Path("run"))
    bad_bands = issues[issues.code == "V004"]
    assert len(bad_bands) == 300 and set(bad_bands.value) == {"Grade 7"}
    assert set(bad_bands.cell) == {f"C{r}" for r in range(2, 152)}


def test_ingest__gx_and_pandas_engines__find_the_same_issues(run, tmp_path, monkeypatch):
    staff = {"job_title": "Analyst", "staff_dept": "Lab", "band": "Band 6", "headcount": 1, "wte": 1,
             "registration": "Not registered"}
    paths = [make_return(tmp_path / "in", "RJ1", form={"places_gen": 99, "icb_code": "bad code!", "org_type": None,
                                                       "will_hi": "Perhaps next year", "capacity_notes": "x" * 2001}),
             make_return(tmp_path / "in", "RGT",
                         form={"respondent_email": "x@y", "signoff_date": dt.datetime(2040, 1, 1), "kf_in_post": -1},
                         tables={"departments": [{"dept_name": "Lab", "dept_type": "Lab", "dept_postcode": "ZZ",
                                                  "dept_hosting": "Has never hosted"}],
                                 "staff": [staff, {**staff, "job_title": "Scientist", "headcount": None,
                                                   "band": "Grade 7"}]})]
    found = {}
    for engine in ("gx", "pandas", "gx_crashed_half"):
        if engine == "gx_crashed_half":   # GX runs half its checks in a forked copy: if that dies, redo here
            from trust_survey.ingest import engines

            monkeypatch.setattr(engines, "_child", lambda conn, work: os._exit(3))
        os.environ.pop("TRUST_SURVEY_DB", None)
        ingest(run, *paths, out=f"run_{engine}", expect=1,
               extra=["--engine", engine.split("_")[0], "--db", f"{engine}.duckdb"])
        df = read_issues(Path(f"run_{engine}"))
        found[engine] = sorted(map(tuple, df[["file", "sheet", "cell", "code", "value"]].astype(str).values.tolist()))
    assert found["gx"] == found["pandas"] == found["gx_crashed_half"]
    codes = {(Path(file).name[:3], code) for file, _, _, code, _ in found["gx"]}
    # every kind of column rule fails somewhere: required, choice, bounds (number and date), pattern, length
    assert {("RJ1", "V003"), ("RJ1", "V005"), ("RJ1", "V004"), ("RJ1", "V010"), ("RJ1", "V001"), ("RGT", "V007"),
            ("RGT", "V003"), ("RGT", "V011"), ("RGT", "V004"), ("RGT", "V001")} <= codes
    sheet, cell = address("headcount", 1)
    assert any(s == sheet and c == cell and code == "V001" for _, s, c, code, _ in found["gx"])
    out_of_bounds = {(Path(f).name[:3], v) for f, _, _, code, v in found["gx"] if code == "V003"}
    assert out_of_bounds == {("RJ1", "99"), ("RGT", "-1"), ("RGT", "01/01/2040")}


def test_ingest__user_errors__get_a_clear_message_exit_1_and_no_traceback(run, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "readme.md").write_text("not a return")
    result = run("ingest", tmp_path / "empty", tmp_path / "notes", expect=1)
    assert "[ING001] no returns found" in result.stderr and "readme.md" in result.stderr
    assert not DB.exists()
    (tmp_path / "afile").write_text("x")
    result = run("ingest", make_return(tmp_path / "in"), "--db", tmp_path / "afile" / "s.duckdb", expect=1)
    assert "[DB001] cannot create the database" in result.stderr and "--db" in result.stderr
    (tmp_path / "junk.duckdb").write_text("not a database")
    result = run("ingest", tmp_path / "in", "--db", tmp_path / "junk.duckdb", expect=1)
    assert "[DB001]" in result.stderr and "not a trust-survey database" in result.stderr
    result = run("status", "--round", ROUND, "--db", tmp_path / "missing.duckdb", expect=1)
    assert "[NF001] no database at" in result.stderr and "Traceback" not in result.stderr


def test_ingest__where_processes_cannot_fork__a_large_run_is_read_in_process_with_the_same_outcome(
        run, tmp_path, monkeypatch):
    """Windows has no fork: the worker pool and GX's forked half must both fall back to this process."""
    import multiprocessing

    sample = pd.read_csv(REPO / "trust_survey" / "data" / "sample" / "orgs.csv", dtype=str)
    orgs = tmp_path / "orgs.csv"
    sample.head(26).to_csv(orgs, index=False)
    run("simulate", "--round", ROUND, "--orgs", orgs, "--out", tmp_path / "returns", "--messiness", "0",
        "--seed", "7", "--quiet")

    def no_fork():
        raise AssertionError("forked although fork is unavailable")

    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
    monkeypatch.setattr(os, "fork", no_fork)
    ingest(run, tmp_path / "returns", out="r", extra=("--round", ROUND))   # default engine: GX
    files = pd.read_csv(Path("r") / "files.csv", dtype=str)
    returns = files[files["status"] != "skipped"]   # the simulation's own manifests are listed as skipped
    assert len(returns) == 26 and set(returns["status"]) == {"accepted"}
    assert db_counts(DB)["submissions"] == 26
