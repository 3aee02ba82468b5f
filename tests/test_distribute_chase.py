"""`trust-survey chase`: reminders only to organisations still owing a valid return, saying what is missing."""
from __future__ import annotations

import datetime as dt

import openpyxl
import pandas as pd
import pytest

from distribute_helpers import REPO, build_round, parts, query, read_eml, register_sha, sha
from ingest_helpers import make_return
from smtp_helpers import Recorder, Server

INST = ("--instruments", REPO / "instruments")


@pytest.fixture
def chased_round(run, tmp_path):
    """RJ1 returned a valid return, RGT a rejected one, RRK nothing."""
    db, built = build_round(run, tmp_path / "round")
    ins = tmp_path / "in"
    make_return(ins, "RJ1", mtime=dt.datetime(2027, 1, 10))
    make_return(ins, "RGT", form={"respondent_email": "nobody", "kf_in_post": "six"}, mtime=dt.datetime(2027, 1, 12))
    run("ingest", ins, "--round", 2026, "--out", tmp_path / "run", "--db", db, "--engine", "pandas", *INST, expect=1)
    return db, built, tmp_path


def test_chase__reminds_only_those_owing_a_valid_return_saying_what_is_missing(run, chased_round):
    db, built, tmp = chased_round
    outbox = tmp / "chase"
    result = run("chase", "--round", 2026, "--out", outbox, "--db", db, *INST)
    assert "2 message(s): 2 written" in result.stderr
    listed = pd.read_csv(outbox / "outbox.csv", dtype=str).set_index("org_code")
    assert sorted(listed.index) == ["RGT", "RRK"]                   # never RJ1: its valid return is in
    rgt_text, rgt_html, rgt_files = parts(read_eml(outbox / listed.loc["RGT", "file"]))
    assert "could not accept it" in rgt_text and "error(s)" in rgt_html
    assert list(rgt_files) == ["RGT_trust_capability_2026_feedback.xlsx"]
    issues = openpyxl.load_workbook(__import__("io").BytesIO(rgt_files["RGT_trust_capability_2026_feedback.xlsx"]))
    assert issues.sheetnames == ["Summary", "Issues"] and issues["Issues"].max_row >= 2
    assert (outbox / "feedback" / "RGT_trust_capability_2026_feedback.xlsx").is_file()
    rrk_text, _, rrk_files = parts(read_eml(outbox / listed.loc["RRK", "file"]))
    assert "not yet received" in rrk_text and "Reminder" in read_eml(outbox / listed.loc["RRK", "file"])["Subject"]
    assert {n: sha(d) for n, d in rrk_files.items()} == {"RRK_trust_capability_v1_2026.xlsx":
                                                         register_sha(db)["RRK_trust_capability_v1_2026.xlsx"]}
    status = run("status", "--round", 2026, "--db", db)
    today = dt.date.today().strftime("%d/%m/%Y")
    lines = {line.split()[0]: line for line in status.stdout.splitlines()[1:]}
    assert "last chased" in status.stdout.splitlines()[0]
    assert today in lines["RRK"] and today in lines["RGT"] and today not in lines["RJ1"]
    again = run("chase", "--round", 2026, "--out", outbox, "--db", db, *INST)
    assert "2 organisation(s) already sent" in again.stderr and len(list(outbox.glob("*.eml"))) == 2


def test_chase__a_valid_return_that_arrives_before_the_reminder_goes_stops_it(run, chased_round, monkeypatch):
    """The check is made just before each message: RRK's return is stored after the reminders were planned."""
    from trust_survey.distribute import chase as chase_mod
    from trust_survey import store

    db, built, tmp = chased_round
    late = make_return(tmp / "late", "RRK", mtime=dt.datetime(2027, 1, 20))
    planned = chase_mod.plan_reminders

    def plan_then_receive(con, *args, **kwargs):
        messages = planned(con, *args, **kwargs)
        assert "RRK" in [m.org_code for m in messages[0]]
        sub = {"org_code": "RRK", "org_name": "x", "instrument_id": "trust_capability", "instrument_version": 1,
               "round": 2026, "file_name": late.name, "format": "xlsx", "sha256": sha(late.read_bytes()),
               "bytes": 1, "received_at": dt.datetime(2027, 1, 20), "outcome": "accepted", "errors": 0,
               "warnings": 0, "identified_by": "meta", "run_id": "t"}
        with store.transaction(con):
            store.store_submission(con, sub, [], pd.DataFrame(columns=store.ANSWER_COLUMNS[1:]),
                                   pd.DataFrame(columns=store.ISSUE_COLUMNS[1:]))
        return messages

    monkeypatch.setattr(chase_mod, "plan_reminders", plan_then_receive)
    with Server(Recorder()) as srv:
        result = run("chase", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    assert sorted(srv.handler.by_org()) == ["RGT"]
    assert "not needed" in result.stdout and "valid return" in result.stdout
    assert query(db, "SELECT org_code FROM mail_ledger WHERE kind = 'reminder'").org_code.tolist() == ["RGT"]


def test_chase__dry_run_lists_who_would_be_reminded_and_writes_nothing(run, chased_round):
    db, _, tmp = chased_round
    result = run("chase", "--round", 2026, "--dry-run", "--db", db, *INST)
    assert result.stdout.count("would send") == 2 and "RJ1" not in result.stdout
    assert not (tmp / "outputs" / "chase_2026").exists()
    assert query(db, "SELECT count(*) AS n FROM mail_ledger").n[0] == 0


def test_chase__a_database_that_does_not_exist_is_an_error_and_is_not_created(run, tmp_path):
    missing = tmp_path / "typo.duckdb"
    result = run("chase", "--round", 2026, "--db", missing, "--out", tmp_path / "out", *INST, expect=1)
    assert "[SND007]" in result.stderr and f"no database at {missing}" in result.stderr
    assert not missing.exists() and not (tmp_path / "out").exists()
