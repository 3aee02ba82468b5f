"""`match run`, `match review-export` and `match review-import` on a real store (build -> fill -> ingest)."""
from __future__ import annotations

import csv
import shutil
import subprocess
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from ingest_helpers import TABLES, Text, make_return
from trust_survey.cli import cli
from trust_survey.commissioning.reader import NotMatchedError, load_round
from trust_survey.matching.review import COL, LISTS_SHEET, META_SHEET, REVIEW_SHEET
from trust_survey.matching.coding import save_matches
from trust_survey.matching.store import MATCH_COLUMNS
from trust_survey.matching.taxonomy import load_taxonomy
from trust_survey.store import titles_for_round

REPO = Path(__file__).resolve().parent.parent
ROUND = 2026
TAXONOMY_VERSION = load_taxonomy(REPO / "role_taxonomy.yaml").version
EVIL_TITLE = '=HYPERLINK("http://evil","Clinical Scientist")'
EVIL_DEPT = "=cmd|' /C calc'!A0"
DEPARTMENTS = TABLES["departments"] + [
    {"dept_name": "ICT", "dept_type": "Digital or IT services", "dept_postcode": "SE1 9RT",
     "dept_hosting": "Has never hosted"}]


def staff(title, dept, headcount=1):
    return {"job_title": title, "staff_dept": dept, "band": "Band 7", "headcount": headcount, "wte": headcount,
            "registration": "HCPC registered clinical scientist", "supervisors": 0}


RJ1_STAFF = [staff("Clinical Bioinformatician", "Genomics Laboratory", 3),
             staff("Software Engineer", "Medical Physics"),
             staff("Software Engineer", "ICT"),
             staff("Applications Developer", "ICT"),
             staff("Clinical Scientist", Text(EVIL_DEPT)),
             staff(Text(EVIL_TITLE), Text(EVIL_DEPT))]
RGT_STAFF = [staff("Bioinformatician", "Genomics Laboratory", 2),
             staff("Applications Developer", "ICT", 2),
             staff("Clinical Scientist", "Pathology Office")]


def _invoke(env: dict, *args, expect: int = 0):
    result = CliRunner().invoke(cli, [str(a) for a in args], env=env, catch_exceptions=False)
    assert result.exit_code == expect, f"{args}: exit {result.exit_code}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A store with two accepted returns of round 2026 (built, filled and ingested for real)."""
    root = tmp_path_factory.mktemp("matching_store")
    env = {"TRUST_SURVEY_DB": str(root / "ts.duckdb"), "TRUST_SURVEY_OUTPUTS": str(root / "outputs"),
           "TRUST_SURVEY_INSTRUMENTS": str(REPO / "instruments"),
           "TRUST_SURVEY_TAXONOMY": str(REPO / "role_taxonomy.yaml")}
    make_return(root / "in", "RJ1", tables={"departments": DEPARTMENTS, "staff": RJ1_STAFF})
    make_return(root / "in", "RGT", tables={"departments": DEPARTMENTS, "staff": RGT_STAFF})
    _invoke(env, "ingest", root / "in", "--round", ROUND, "--out", root / "run", "--engine", "pandas", "--quiet")
    return root / "ts.duckdb"


@pytest.fixture
def db(built, tmp_path) -> Path:
    """This test's copy of the store, at the default --db the isolated environment points to."""
    target = tmp_path / "outputs" / "trust_survey.duckdb"
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(built, target)
    return target


@pytest.fixture(autouse=True)
def overrides(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "role_overrides.yaml"
    monkeypatch.setenv("TRUST_SURVEY_OVERRIDES", str(path))
    return path


def q(db: Path, sql: str, *args) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(args)).df()
    finally:
        con.close()


def matches(db: Path) -> pd.DataFrame:
    return q(db, "SELECT * FROM title_matches WHERE round = ? ORDER BY org_code, row_index", ROUND)


def export(run, tmp_path) -> Path:
    out = tmp_path / "review.xlsx"
    run("match", "review-export", "--round", ROUND, "--out", out)
    return out


def queue_rows(path: Path) -> dict[str, int]:
    ws = load_workbook(path)[REVIEW_SHEET]
    return {ws.cell(row=r, column=COL["alias"]).value: r for r in range(2, ws.max_row + 1)
            if ws.cell(row=r, column=COL["alias"]).value}


def queue_rows_in_context(path: Path) -> dict[tuple[str, str], int]:
    ws = load_workbook(path)[REVIEW_SHEET]
    return {(ws.cell(row=r, column=COL["alias"]).value, ws.cell(row=r, column=COL["context"]).value): r
            for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=COL["alias"]).value}


def fill(path: Path, decisions: dict[int, dict[str, str]], name: str = "filled.xlsx") -> Path:
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    for row, values in decisions.items():
        for key, value in values.items():
            ws.cell(row=row, column=COL[key], value=value)
    out = path.with_name(name)
    wb.save(out)
    return out


# ---------------------------------------------------------------------------------------------- match run
def test_match_run__stores_every_title_of_the_round_with_its_coding_and_versions(run, db):
    result = run("match", "run", "--round", ROUND)
    stored = matches(db)
    titles = titles_for_round(db, ROUND)
    assert len(stored) == len(titles) == len(RJ1_STAFF) + len(RGT_STAFF)
    assert set(MATCH_COLUMNS) <= set(stored.columns)
    assert set(stored["decision"]) <= {"auto", "review", "none"}
    assert set(stored["stream"]) <= {"genomics", "health_informatics", "physical_sciences", "none"}
    assert set(stored["taxonomy_version"]) == {TAXONOMY_VERSION} and stored["matched_at"].notna().all()
    assert stored["run_id"].nunique() == 1 and set(stored["overrides_version"]) == {0}
    bioinf = stored[stored["job_title"] == "Clinical Bioinformatician"].iloc[0]
    assert (bioinf["stream"], bioinf["decision"], bioinf["org_code"]) == ("genomics", "auto", "RJ1")
    assert bioinf["dept_type"] == "Genomics or genetics laboratory"
    assert EVIL_TITLE in set(stored["job_title"])            # stored exactly as typed
    err = result.stderr
    d = stored["decision"].value_counts()
    assert f"coded {len(stored)} title(s) from 2 organisation(s)" in err
    assert f"by decision: auto {d.get('auto', 0)}, review {d.get('review', 0)}, none {d.get('none', 0)}" in err
    assert "by stream: genomics " in err and f"taxonomy version {TAXONOMY_VERSION}" in err
    assert f"{db} (table title_matches, round {ROUND})" in err


def test_match_run__codes_with_the_department_name_and_type_as_context(run, db):
    run("match", "run", "--round", ROUND, "--no-model")
    engineers = matches(db).query("job_title == 'Software Engineer'").set_index("staff_dept")
    assert engineers.loc["Medical Physics", "stream"] == "physical_sciences"
    assert engineers.loc["ICT", "stream"] != "physical_sciences"


def test_match_run__again__replaces_only_that_rounds_results(run, db):
    run("match", "run", "--round", ROUND)
    first = matches(db)
    con = duckdb.connect(str(db))
    con.execute("INSERT INTO title_matches (round, submission_id, row_index, stream, relation, decision) "
                "VALUES (2025, 99, 0, 'genomics', 'direct', 'auto')")
    con.close()
    run("match", "run", "--round", ROUND)
    second = matches(db)
    assert len(second) == len(first)
    assert second["run_id"].nunique() == 1 and second["run_id"].iloc[0] != first["run_id"].iloc[0]
    assert list(second["stream"]) == list(first["stream"])
    assert len(q(db, "SELECT * FROM title_matches WHERE round = 2025")) == 1


def test_save_matches__failure_while_writing__leaves_the_previous_results(run, db):
    from trust_survey.matching.overrides import Overrides
    from trust_survey.matching.taxonomy import load_taxonomy

    run("match", "run", "--round", ROUND)
    before = matches(db)
    broken = before.drop(columns=["round"]).assign(submission_id=None)   # NOT NULL: the insert fails
    with pytest.raises(duckdb.Error):
        save_matches(db, ROUND, broken, load_taxonomy(), Overrides.empty())
    after = matches(db)
    assert len(after) == len(before) and list(after["run_id"]) == list(before["run_id"])


def test_match_run__no_database_or_no_accepted_returns__exit_1_with_a_clear_message(run, db, tmp_path):
    result = run("match", "run", "--round", 2025, expect=1)
    assert "[MATCH001] round 2025: no accepted returns" in result.stderr
    assert "trust-survey status --round 2025" in result.stderr and "Traceback" not in result.stderr
    missing = tmp_path / "nowhere.duckdb"
    result = run("match", "run", "--round", ROUND, "--db", missing, expect=1)
    assert f"[NF001] no database at {missing}" in result.stderr and "Traceback" not in result.stderr
    assert not missing.exists()


# ---------------------------------------------------------------------------------------------- downstream
def test_commission__reads_the_stored_matches_and_never_codes_titles_itself(run, db, tmp_path):
    with pytest.raises(NotMatchedError, match=f"run `trust-survey match run --round {ROUND}` first"):
        load_round(db, ROUND)                                 # nothing stored yet: no coding on the fly
    result = run("candidates", "--round", ROUND, "--out", tmp_path / "c.csv", expect=1)
    assert f"[CAND002] round {ROUND}: the job titles have not been coded" in result.stderr
    assert not (tmp_path / "c.csv").exists()
    run("match", "run", "--round", ROUND)
    con = duckdb.connect(str(db))
    con.execute("UPDATE title_matches SET stream = 'health_informatics', relation = 'adjacent' "
                "WHERE job_title = 'Bioinformatician'")
    con.close()
    data = load_round(db, ROUND)
    by_title = data.staff.set_index("job_title")
    assert by_title.loc["Bioinformatician", "stream"] == "health_informatics"   # what is stored, not recomputed
    assert data.taxonomy_version == str(TAXONOMY_VERSION)


def test_commission_and_review_export__coding_older_than_the_taxonomy__say_to_run_again(run, db, tmp_path):
    run("match", "run", "--round", ROUND)
    con = duckdb.connect(str(db))
    con.execute("UPDATE title_matches SET taxonomy_version = 0")
    con.close()
    expected = (f"taxonomy version 0; the taxonomy is now version {TAXONOMY_VERSION}: run `trust-survey match run "
                f"--round {ROUND}`")
    assert any(expected in n for n in load_round(db, ROUND).notes)
    result = run("match", "review-export", "--round", ROUND, "--out", tmp_path / "r.xlsx")
    assert f"coded with taxonomy version 0; the taxonomy is now version {TAXONOMY_VERSION}" in result.stderr


def test_commission__return_ingested_after_the_match_run__asks_for_another_run(run, db, tmp_path):
    run("match", "run", "--round", ROUND)
    make_return(tmp_path / "late", "RRK", tables={"staff": [staff("Bioinformatician", "Genomics Laboratory")]})
    run("ingest", tmp_path / "late", "--round", ROUND, "--out", tmp_path / "late_run", "--engine", "pandas",
        "--quiet")
    with pytest.raises(NotMatchedError, match="returns ingested after the last match run"):
        load_round(db, ROUND)
    result = run("candidates", "--round", ROUND, "--out", tmp_path / "c.csv", expect=1)
    assert "[CAND002]" in result.stderr and f"trust-survey match run --round {ROUND}` again" in result.stderr
    run("match", "run", "--round", ROUND)
    run("candidates", "--round", ROUND, "--out", tmp_path / "c.csv")
    assert "RRK" in set(pd.read_csv(tmp_path / "c.csv")["org_code"])


def test_demand__earlier_round_not_matched__is_left_out_of_the_trend_with_a_note_but_asked_for_it_is_an_error(
        run, db, tmp_path):
    make_return(tmp_path / "old", "RJ1", round_=2025, tables={"departments": DEPARTMENTS, "staff": RJ1_STAFF})
    run("ingest", tmp_path / "old", "--round", 2025, "--out", tmp_path / "old_run", "--engine", "pandas", "--quiet")
    run("match", "run", "--round", ROUND)
    result = run("demand", "--round", ROUND, "--by", "region", "--out", tmp_path / "d.csv")
    assert ("round 2025: left out of the trend: round 2025: the job titles have not been coded to streams yet"
            in result.stderr) and "trust-survey match run --round 2025" in result.stderr
    assert set(pd.read_csv(tmp_path / "d.csv")["round"]) == {ROUND}
    result = run("candidates", "--round", 2025, "--out", tmp_path / "c.csv", expect=1)
    assert "[CAND002] round 2025" in result.stderr
    run("match", "run", "--round", 2025)                      # coded and stored: now it is in the trend
    run("demand", "--round", ROUND, "--by", "region", "--out", tmp_path / "d.csv", "--force")
    assert set(pd.read_csv(tmp_path / "d.csv")["round"]) == {2025, ROUND}


# ---------------------------------------------------------------------------------------------- review export
def test_review_export__before_match_run__says_to_run_it(run, db, tmp_path):
    result = run("match", "review-export", "--round", ROUND, "--out", tmp_path / "r.xlsx", expect=1)
    assert "[MATCH002]" in result.stderr and f"trust-survey match run --round {ROUND}" in result.stderr
    assert not (tmp_path / "r.xlsx").exists()
    assert "must end in .xlsx" in run("match", "review-export", "--round", ROUND, "--out", tmp_path / "r.csv",
                                      expect=2).stderr


def test_review_export__one_row_per_distinct_title_sent_to_review_with_examples_and_the_round(run, db, tmp_path):
    run("match", "run", "--round", ROUND)
    stored = matches(db)
    doubtful = stored[stored["decision"] == "review"]
    assert len(doubtful), "the fixture needs titles the matcher is unsure of"
    path = export(run, tmp_path)
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    rows = [{key: ws.cell(row=r, column=col).value for key, col in COL.items()} for r in range(2, ws.max_row + 1)]
    rows = [r for r in rows if r["alias"]]
    assert len(rows) == len(doubtful[["title_key", "department_context"]].drop_duplicates())
    assert sum(int(r["count"]) for r in rows) == len(doubtful)
    counts = [int(r["count"]) for r in rows]
    assert counts == sorted(counts, reverse=True)
    dev = next(r for r in rows if r["alias"] == "applications developer")   # in two trusts' returns
    assert int(dev["count"]) == 2 and set(dev["organisations"].split("; ")) == {"RJ1", "RGT"}
    assert dev["departments"] == "ICT" and dev["examples"] == "Applications Developer"
    assert all(r["action"] is None for r in rows)
    meta = {r[0].value: r[1].value for r in wb[META_SHEET].iter_rows()}
    assert int(meta["round"]) == ROUND and meta["kind"] == "title_review"
    assert wb[META_SHEET].sheet_state == "veryHidden" and wb[LISTS_SHEET].sheet_state == "hidden"
    assert sorted(dv.formula1 for dv in ws.data_validations.dataValidation) == [
        "=lst_review_action", "=lst_review_all", "=lst_review_role", "=lst_review_stream"]
    result = run("match", "review-export", "--round", ROUND, "--out", path, expect=1)
    assert "[OUT001]" in result.stderr and "--force" in result.stderr
    run("match", "review-export", "--round", ROUND, "--out", path, "--force")


def test_review_export__text_typed_by_trusts__never_becomes_a_formula(run, db, tmp_path):
    run("match", "run", "--round", ROUND)
    ws = load_workbook(export(run, tmp_path))[REVIEW_SHEET]
    cells = [ws.cell(row=r, column=c) for r in range(2, ws.max_row + 1) for c in range(1, len(COL) + 1)]
    evil = [c for c in cells if isinstance(c.value, str) and ("=HYPERLINK" in c.value or "=cmd" in c.value)]
    assert evil, "the formula-like title or department should be in the review queue"
    for cell in evil:
        assert cell.data_type == "s"
        if cell.value.startswith("="):
            assert cell.quotePrefix


# ---------------------------------------------------------------------------------------------- review import
def test_review_import__stores_decisions_in_the_database_and_recodes_the_rounds_matches(
        run, db, tmp_path, overrides):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    rows = queue_rows(path)
    decision = {"action": "change role", "role": "Clinical software developer", "reviewer": "jo", "note": "EPR team"}
    filled = fill(path, {rows["applications developer"]: decision})
    result = run("match", "review-import", filled, "--reviewer", "kim")
    assert f"round {ROUND}: 1 decision(s) stored in the database; 2 stored title(s) recoded" in result.stderr

    reviews = q(db, "SELECT * FROM title_reviews")
    assert len(reviews) == 1
    rec = reviews.iloc[0]
    assert (rec["round"], rec["alias"], rec["action"], rec["role_id"], rec["stream"], rec["reviewer"]) == \
        (ROUND, "applications developer", "change_role", "clinical_software_developer", "health_informatics", "jo")
    assert rec["decided_at"] and rec["note"] == "EPR team" and rec["workbook"] == str(filled)
    dev = matches(db).query("job_title == 'Applications Developer'")
    assert len(dev) == 2
    assert set(dev["stream"]) == {"health_informatics"} and set(dev["decision"]) == {"auto"}
    assert set(dev["role_id"]) == {"clinical_software_developer"} and set(dev["reviewed_by"]) == {"jo"}
    assert set(dev["review_action"]) == {"change_role"}

    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    assert doc["version"] == 1
    assert [(e["alias"], e["role_id"]) for e in doc["reviewed_aliases"]] == [
        ("applications developer", "clinical_software_developer")]

    staff_rows = load_round(db, ROUND).staff.query("job_title == 'Applications Developer'")
    assert set(staff_rows["stream"]) == {"health_informatics"}       # downstream sees it, no new match run

    again = run("match", "review-import", filled, "--reviewer", "kim")
    assert "nothing new: all 1 decision(s) are already in the reviewed aliases (version 1) and round " \
           f"{ROUND} in the database; nothing was changed" in again.stderr
    assert yaml.safe_load(overrides.read_text(encoding="utf-8"))["version"] == 1
    assert len(q(db, "SELECT * FROM title_reviews")) == 1
    log = list(csv.DictReader(overrides.with_name("role_overrides.decisions.csv").open(encoding="utf-8")))
    assert len(log) == 1 and log[0]["reviewer"] == "jo"


def test_review_import__changed_decision__is_stored_and_the_latest_wins(run, db, tmp_path, overrides):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    row = queue_rows(path)["applications developer"]
    run("match", "review-import", fill(path, {row: {"action": "change stream", "stream": "health_informatics"}}))
    second = fill(path, {row: {"action": "reject"}}, name="second.xlsx")
    result = run("match", "review-import", second, "--reviewer", "sam")
    assert "1 updated reviewed alias(es); overrides version 2" in result.stderr
    assert list(q(db, "SELECT action FROM title_reviews ORDER BY imported_at, decided_at")["action"]) == [
        "change_stream", "reject"]
    dev = matches(db).query("job_title == 'Applications Developer'")
    assert set(dev["stream"]) == {"none"} and set(dev["reviewed_by"]) == {"sam"}


def test_match_run__after_review__keeps_the_reviewers_decision_even_with_other_overrides(run, db, tmp_path):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    row = queue_rows(path)["applications developer"]
    run("match", "review-import", fill(path, {row: {"action": "change stream", "stream": "physical_sciences"}}))
    result = run("match", "run", "--round", ROUND, "--overrides", tmp_path / "empty_overrides.yaml")
    assert "this round's review decisions applied to 2 title(s)" in result.stderr
    dev = matches(db).query("job_title == 'Applications Developer'")
    assert set(dev["stream"]) == {"physical_sciences"} and set(dev["review_action"]) == {"change_stream"}
    assert set(dev["overrides_version"]) == {0}
    run("match", "review-export", "--round", ROUND, "--out", path, "--force")
    assert "applications developer" not in queue_rows(path)        # decided: no longer in the queue


def engineers(db: Path) -> pd.DataFrame:
    return matches(db).query("job_title == 'Software Engineer'").set_index("staff_dept")


def test_review_import__rejected_in_ict__software_engineer_in_medical_physics_keeps_its_automatic_coding(
        run, db, tmp_path, overrides):
    run("match", "run", "--round", ROUND, "--no-model")
    before = engineers(db)
    assert tuple(before.loc["Medical Physics", ["stream", "decision"]]) == ("physical_sciences", "auto")
    assert tuple(before.loc["ICT", ["stream", "decision", "department_context"]]) == ("none", "review",
                                                                                      "it_services")
    path = export(run, tmp_path)
    rows = queue_rows_in_context(path)
    assert [k for k in rows if k[0] == "software engineer"] == [("software engineer", "it_services")]
    filled = fill(path, {rows[("software engineer", "it_services")]: {"action": "reject", "reviewer": "jo"}})
    result = run("match", "review-import", filled)
    assert f"round {ROUND}: 1 decision(s) stored in the database; 1 stored title(s) recoded" in result.stderr

    def check(stored: pd.DataFrame, ict_method: str = "alias") -> None:
        ict, physics = stored.loc["ICT"], stored.loc["Medical Physics"]
        assert (ict["stream"], ict["decision"], ict["method"], ict["review_action"]) == (
            "none", "auto", ict_method, "reject")
        assert (physics["stream"], physics["decision"], physics["method"]) == ("physical_sciences", "auto",
                                                                               "fuzzy")
        assert physics["role_id"] == before.loc["Medical Physics", "role_id"] and pd.isna(physics["review_action"])

    check(engineers(db))
    assert list(q(db, "SELECT context FROM title_reviews")["context"]) == ["it_services"]
    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    assert doc["format"] == 2
    assert [(e["alias"], e["context"], e["stream"]) for e in doc["reviewed_aliases"]] == [
        ("software engineer", "it_services", "none")]

    run("match", "run", "--round", ROUND, "--no-model")   # the overrides file and the round's decision
    check(engineers(db))
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM title_reviews")
    con.close()
    run("match", "run", "--round", ROUND, "--no-model")                     # the overrides file alone: the matcher
    check(engineers(db))
    assert engineers(db).loc["ICT", "reviewed_by"] == "jo"


def test_review_import__later_decision_for_all_departments__recodes_every_context(
        run, db, tmp_path, overrides):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    row = queue_rows_in_context(path)[("software engineer", "it_services")]
    run("match", "review-import", fill(path, {row: {"action": "reject"}}))
    second = fill(path, {row: {"action": "change stream", "stream": "health_informatics", "all_departments": "yes"}},
                  name="second.xlsx")
    result = run("match", "review-import", second)
    assert "2 stored title(s) recoded" in result.stderr and "1 updated reviewed alias(es)" in result.stderr
    stored = engineers(db)
    assert tuple(stored["stream"][["ICT", "Medical Physics"]]) == ("health_informatics", "health_informatics")
    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    assert [(e["context"], e["stream"]) for e in doc["reviewed_aliases"]] == [("any", "health_informatics")]
    run("match", "run", "--round", ROUND)
    assert set(engineers(db)["stream"]) == {"health_informatics"}


def test_review_import__round_other_than_the_workbooks__is_a_usage_error(run, db, tmp_path, overrides):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    filled = fill(path, {queue_rows(path)["applications developer"]: {"action": "reject"}})
    result = run("match", "review-import", filled, "--round", 2025, expect=2)
    assert f"was exported for round {ROUND}, not 2025" in result.stderr
    assert not overrides.exists() and q(db, "SELECT count(*) AS n FROM title_reviews")["n"][0] == 0


def test_review_import__dry_run__writes_nothing(run, db, tmp_path, overrides):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    filled = fill(path, {queue_rows(path)["applications developer"]: {"action": "reject"}})
    result = run("match", "review-import", filled, "--dry-run")
    assert f"dry run: would store 1 reviewed alias(es) and 1 decision(s) for round {ROUND}" in result.stderr
    assert not overrides.exists() and q(db, "SELECT count(*) AS n FROM title_reviews")["n"][0] == 0


# ---------------------------------------------------------------------------------------------- real programs
@pytest.mark.libreoffice
def test_libreoffice__resaved_store_review_workbook__imports_into_its_round(run, db, tmp_path, libreoffice):
    run("match", "run", "--round", ROUND)
    path = export(run, tmp_path)
    r = queue_rows(path)["applications developer"]
    action, reviewer, everywhere = (get_column_letter(COL[k]) for k in ("action", "reviewer", "all_departments"))
    resaved = tmp_path / "lo_filled.xlsx"
    proc = subprocess.run(
        ["python3", str(libreoffice), str(path), str(resaved), "--strict",
         "--set", f"{REVIEW_SHEET}!{action}{r}=reject", "--set", f"{REVIEW_SHEET}!{reviewer}{r}=lo user",
         "--set", f"{REVIEW_SHEET}!{everywhere}{r}=yes"],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr + proc.stdout
    result = run("match", "review-import", resaved)                 # the round comes from the re-saved meta sheet
    assert f"round {ROUND}: 1 decision(s) stored in the database" in result.stderr
    rec = q(db, "SELECT * FROM title_reviews").iloc[0]
    assert (rec["action"], rec["reviewer"], rec["round"], rec["context"]) == ("reject", "lo user", ROUND, "any")
    assert set(matches(db).query("job_title == 'Applications Developer'")["stream"]) == {"none"}


# ---------------------------------------------------------------------------------------------- stage functions
def test_changed_decisions__same_decision_in_any_word_order_is_skipped_a_changed_one_kept():
    from trust_survey.matching.coding import changed_decisions

    existing = pd.DataFrame([{"alias": "software developer", "action": "reject", "role_id": "", "stream": "none",
                              "note": ""}])
    decisions = pd.DataFrame([
        {"alias": "developer software", "action": "reject", "role_id": None, "stream": "none", "note": "",
         "reviewer": "someone else"},
        {"alias": "clinical scientist", "action": "reject", "role_id": "", "stream": "none", "note": ""},
    ])
    assert list(changed_decisions(decisions, existing)["alias"]) == ["clinical scientist"]
    changed = decisions.assign(note=["now with a note", ""])
    assert list(changed_decisions(changed, existing)["alias"]) == ["developer software", "clinical scientist"]
    assert len(changed_decisions(decisions, pd.DataFrame())) == 2


def test_apply_reviews__decision_applies_only_in_its_context_and_any_where_none_of_its_own():
    from trust_survey.matching.coding import apply_reviews
    from trust_survey.matching.taxonomy import load_taxonomy

    tax = load_taxonomy(REPO / "role_taxonomy.yaml")
    frame = pd.DataFrame({"title_key": ["engineer software"] * 4,
                          "staff_dept": ["ICT", "Medical Physics", None, "Ward"],
                          "dept_type": ["Digital or IT services", "Medical physics", None, None],
                          "stream": ["none", "physical_sciences", "none", "none"],
                          "decision": ["review", "auto", "review", "review"], "method": ["alias", "fuzzy", "alias",
                                                                                         "alias"]})
    ict = {"title_key": "engineer software", "alias": "software engineer", "action": "reject", "role_id": "",
           "stream": "none", "context": "it_services"}
    out, changed = apply_reviews(frame, pd.DataFrame([ict]), tax)
    assert changed == 1 and list(out["decision"]) == ["auto", "auto", "review", "review"]
    assert list(out["stream"]) == ["none", "physical_sciences", "none", "none"] and out.loc[1, "method"] == "fuzzy"
    everywhere = {**ict, "action": "change_stream", "stream": "health_informatics", "context": None}
    out, changed = apply_reviews(frame, pd.DataFrame([everywhere, ict]), tax)      # the later one wins in ICT
    assert changed == 4
    assert list(out["stream"]) == ["none", "health_informatics", "health_informatics", "health_informatics"]
    out, _ = apply_reviews(frame, pd.DataFrame([ict, everywhere]), tax)
    assert list(out["stream"]) == ["health_informatics"] * 4


def test_apply_reviews__latest_decision_per_title_wins_and_other_rows_are_untouched():
    from trust_survey.matching.coding import apply_reviews
    from trust_survey.matching.taxonomy import load_taxonomy

    tax = load_taxonomy(REPO / "role_taxonomy.yaml")
    frame = pd.DataFrame({"title_key": ["developer software", "developer software", "bioinformatician"],
                          "role_id": ["unspecified_developer", "unspecified_developer", "bioinformatician"],
                          "role": ["x", "x", "y"], "stream": ["none", "none", "genomics"],
                          "relation": ["none", "none", "direct"], "score": [80, 80, 100], "margin": [5, 5, 50],
                          "method": ["fuzzy", "fuzzy", "exact"], "matched_alias": ["", "", "bioinformatician"],
                          "decision": ["review", "review", "auto"]})
    reviews = pd.DataFrame([
        {"title_key": "developer software", "alias": "software developer", "action": "reject", "role_id": "",
         "stream": "none", "reviewer": "jo", "decided_at": "t1"},
        {"title_key": "developer software", "alias": "software developer", "action": "change_role",
         "role_id": "clinical_software_developer", "stream": "health_informatics", "reviewer": "sam",
         "decided_at": "t2"},
    ])
    out, changed = apply_reviews(frame, reviews, tax)
    assert changed == 2
    assert list(out["stream"]) == ["health_informatics", "health_informatics", "genomics"]
    assert list(out["decision"]) == ["auto", "auto", "auto"] and list(out["reviewed_by"][:2]) == ["sam", "sam"]
    assert out.loc[2, "method"] == "exact" and pd.isna(out.loc[2, "review_action"])
    assert list(frame["stream"]) == ["none", "none", "genomics"]          # the input is not changed
