"""The DuckDB store: schema and migrations, transactions, the ledger's supersede rules, distribution, titles."""
from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from ingest_helpers import INST, make_return
from trust_survey import store
from trust_survey.errors import NotFoundError, StoreBusyError, StoreError
from trust_survey.distribute.register import record_distribution


def _sub(org="RJ1", outcome="accepted", day=1, sha=None):
    return {"org_code": org, "org_name": "", "instrument_id": "trust_capability", "instrument_version": 1,
            "round": 2026, "file_name": f"{org}_{day}.xlsx", "format": "xlsx", "sha256": sha or f"{org}{day}{outcome}",
            "bytes": 10, "received_at": dt.datetime(2027, 1, day), "outcome": outcome, "errors": 0, "warnings": 0,
            "identified_by": "meta", "run_id": "t"}


def _put(con, **kw):
    empty_answers = pd.DataFrame(columns=[c for c in store.ANSWER_COLUMNS if c != "submission_id"])
    empty_issues = pd.DataFrame(columns=[c for c in store.ISSUE_COLUMNS if c != "submission_id"])
    with store.transaction(con):
        return store.store_submission(con, _sub(**kw), [], empty_answers, empty_issues)


def test_store__new_database__gets_the_schema_once(tmp_path):
    db = tmp_path / "s.duckdb"
    with store.open_store(db) as con:
        assert store.schema_version(con) == store.SCHEMA_VERSION
    with store.open_store(db) as con:   # a second open migrates nothing: one row per migration, applied once
        assert con.execute("SELECT count(*) FROM schema_version").fetchone()[0] == store.SCHEMA_VERSION
        tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
    assert {"submissions", "submission_files", "answers", "issues", "distribution"} <= tables


def test_store__read_only__needs_an_existing_trust_survey_database(tmp_path):
    with pytest.raises(NotFoundError, match="no database at"):
        store.connect(tmp_path / "missing.duckdb", read_only=True)
    (tmp_path / "junk.duckdb").write_text("not a database")
    with pytest.raises(StoreError, match="not a trust-survey database"):
        store.connect(tmp_path / "junk.duckdb")


def test_store__transaction__rolls_back_everything_on_error(tmp_path):
    with store.open_store(tmp_path / "s.duckdb") as con:
        with pytest.raises(RuntimeError):
            with store.transaction(con):
                store.store_submission(con, _sub(), [], pd.DataFrame(columns=store.ANSWER_COLUMNS[1:]),
                                       pd.DataFrame(columns=store.ISSUE_COLUMNS[1:]))
                raise RuntimeError("crash")
        assert con.execute("SELECT count(*) FROM submissions").fetchone()[0] == 0


def test_store__accepted_return__supersedes_older_ones_but_a_rejected_one_only_rejected(tmp_path):
    with store.open_store(tmp_path / "s.duckdb") as con:
        a = _put(con, outcome="rejected", day=1)
        b = _put(con, outcome="accepted", day=2)
        c = _put(con, outcome="rejected", day=3)
        d = _put(con, outcome="accepted_with_warnings", day=4)
        late_old = _put(con, outcome="accepted", day=3, sha="old-file-arriving-late")
        status = dict(con.execute("SELECT submission_id, status FROM submissions").fetchall())
    assert b["supersedes"] == a["submission_id"] and c["supersedes"] is None
    assert d["supersedes"] == c["submission_id"]
    assert late_old["status"] == "superseded" and late_old["superseded_by"] == d["submission_id"]
    assert [status[x["submission_id"]] for x in (a, b, c, d)] == ["superseded", "superseded", "superseded",
                                                                  "accepted_with_warnings"]


def test_store__record_distribution__updates_instead_of_duplicating(tmp_path):
    db = tmp_path / "s.duckdb"
    rows = pd.DataFrame([{"org_code": "RJ1", "org_name": "Guy's", "file": "RJ1.xlsx", "sha256": "a"},
                         {"org_code": "RGT", "org_name": "Cambridge", "file": "RGT.xlsx", "sha256": "b"}])
    record_distribution(db, 2026, INST, rows)
    rows.loc[0, "sha256"] = "c"
    record_distribution(db, 2026, INST, rows)
    with store.open_store(db, read_only=True) as con:
        got = con.execute("SELECT org_code, sha256, org_type FROM distribution ORDER BY org_code").fetchall()
    assert got == [("RGT", "b", ""), ("RJ1", "c", "")]


def test_store__second_writer__gets_a_clear_busy_error(tmp_path):
    db = tmp_path / "s.duckdb"
    store.connect(db).close()
    holder = subprocess.Popen([sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
                               "print('ready', flush=True); time.sleep(60)", str(db)],
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreBusyError) as err:
            store.connect(db)
        assert str(err.value) == (f"database {db} is in use by another trust-survey process (PID {holder.pid}); "
                                  "wait for it to finish, then run this again")
        assert err.value.code == "DB002"
    finally:
        holder.kill()
        holder.wait()


def test_store__windows_sharing_violation__is_reported_as_busy_too(tmp_path):
    """DuckDB on Windows words a held file as a sharing violation in the system's language, then names the
    holder (no Windows machine here: the texts are DuckDB's, as its users have reported them)."""
    db = tmp_path / "s.duckdb"
    english = OSError(f'IO Error: Cannot open file "{db}": The process cannot access the file because it is '
                      "being used by another process.\n\nFile is already open in C:\\Python\\python.exe (PID 7812)")
    other_language = OSError(f'IO Error: Cannot open file "{db}": \u53e6\u4e00\u4e2a\u7a0b\u5e8f. File is already '
                             "open in C:\\Tools\\dbx.exe (PID 3528).")
    for exc, pid in ((english, 7812), (other_language, 3528)):
        err = store._open_error(db, exc)
        assert isinstance(err, StoreBusyError)
        assert str(err) == (f"database {db} is in use by another trust-survey process (PID {pid}); wait for it "
                            "to finish, then run this again")
    other = store._open_error(db, OSError("IO Error: disk full"))
    assert not isinstance(other, StoreBusyError) and "disk full" in str(other)


def test_store__titles_for_round__gives_titles_with_their_department_type(run, tmp_path):
    run("ingest", make_return(tmp_path / "in"), "--out", "run", "--engine", "pandas")
    titles = store.titles_for_round(Path("outputs/trust_survey.duckdb"), 2026)
    assert list(titles.columns) == ["submission_id", "org_code", "row_index", "job_title", "staff_dept", "dept_type"]
    assert list(titles.job_title) == ["Clinical Bioinformatician", "STP Trainee (Genomics)",
                                      "Clinical Scientist (Medical Physics)"]
    assert list(titles.dept_type) == ["Genomics or genetics laboratory"] * 2 + ["Medical physics"]
    assert store.titles_for_round(Path("outputs/trust_survey.duckdb"), 2025).empty


def test_store__batch__supersedes_exactly_as_one_by_one_inside_and_outside_the_batch(tmp_path):
    empty_answers = pd.DataFrame(columns=["_unit"] + [c for c in store.ANSWER_COLUMNS if c != "submission_id"])
    empty_issues = pd.DataFrame(columns=["_unit"] + [c for c in store.ISSUE_COLUMNS if c != "submission_id"])
    later = [("RJ1", "rejected", 2), ("RJ1", "accepted", 4), ("RGT", "accepted", 2), ("RJ1", "accepted", 3),
             ("RGT", "rejected", 5)]
    got = {}
    for how in ("one_by_one", "batch"):
        with store.open_store(tmp_path / f"{how}.duckdb") as con:
            _put(con, org="RJ1", day=1)
            if how == "batch":
                store.stage(con, empty_answers, empty_issues)
                store.store_batch(con, [(_sub(*args), [], k) for k, args in enumerate(later)])
            else:
                for args in later:
                    _put(con, org=args[0], outcome=args[1], day=args[2])
            got[how] = con.execute("SELECT submission_id, org_code, outcome, status, supersedes, superseded_by "
                                   "FROM submissions ORDER BY submission_id").fetchall()
    assert got["batch"] == got["one_by_one"]
    assert {r[3] for r in got["batch"]} == {"superseded", "accepted", "rejected"}


def test_key_figures__one_row_per_trust_and_round_with_region_and_blank_not_zero(tmp_path, run):
    db = tmp_path / "k.duckdb"
    make_return(tmp_path / "a", "RJ1")
    make_return(tmp_path / "a", "RGT", form={"kf_in_post": 7, "kf_dest_unknown": None, "kf_left_nhs": 0,
                                             "kf_dest_industry": 0})
    make_return(tmp_path / "b", "RJ1", round_=2027, form={"kf_in_post": 6})
    run("ingest", tmp_path / "a", "--db", db, "--out", tmp_path / "r1", "--engine", "pandas")
    run("ingest", tmp_path / "b", "--db", db, "--out", tmp_path / "r2", "--engine", "pandas")
    frame = store.key_figures(db)
    assert list(frame.columns[:len(store.FORM_LEAD)]) == store.FORM_LEAD
    assert all(c.startswith("kf_") for c in frame.columns[len(store.FORM_LEAD):])
    got = frame.set_index(["round", "org_code"])
    assert got.loc[(2026, "RJ1"), "kf_in_post"] == 5 and got.loc[(2027, "RJ1"), "kf_in_post"] == 6
    assert got.loc[(2026, "RGT"), "kf_in_post"] == 7 and pd.isna(got.loc[(2026, "RGT"), "kf_dest_unknown"])
    assert str(frame.kf_in_post.dtype) == "Int64"
    assert got.loc[(2026, "RJ1"), "region"] == "London" and got.loc[(2026, "RGT"), "region_code"] == "Y61"
    assert len(store.key_figures(db, 2027)) == 1
    answers = store.form_answers(db, "trust_capability", 2026, fields=["will_gen", "places_gen"])
    assert answers.will_gen.tolist() == ["ready", "ready"] and answers.places_gen.tolist() == [2, 2]
    assert list(answers.columns) == store.FORM_LEAD + ["will_gen", "places_gen"]


def test_store__archive_and_quarantine_copies__are_ordinary_readable_files(tmp_path):
    import os
    import stat

    source = tmp_path / "RJ1.xlsx"
    source.write_bytes(b"bytes")
    db = tmp_path / "s.duckdb"
    old = os.umask(0o022)
    try:
        kept = store.archive_file(db, source, "ab" * 32)
        held = store.quarantine_file(db, source, "cd" * 32, "rejected")
    finally:
        os.umask(old)
    for path in (kept, held):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
