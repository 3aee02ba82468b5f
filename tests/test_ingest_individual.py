"""Individual review returns: the toolkit's workbook, SPSS files and survey-platform CSV exports."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from ingest_helpers import IND, REPO, ROUND, make_individual_return, query, read_issues
from trust_survey import store


def test_individual_responses__workbook_returns__one_row_per_respondent_with_codes_and_region(tmp_path, run):
    make_individual_return(tmp_path / "in", "IR2026-0001")
    make_individual_return(tmp_path / "in", "IR2026-0002", answers={"group": "Former NHS clinical bioinformatician "
                                                                             "or trainee", "ret_plans": 2,
                                                                    "trust_code": "RGT"})
    db = tmp_path / "s.duckdb"
    run("ingest", tmp_path / "in", "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    frame = store.individual_responses(db, ROUND)
    assert list(frame.columns[:len(store.INDIVIDUAL_LEAD)]) == store.INDIVIDUAL_LEAD
    assert list(frame.respondent_id) == ["IR2026-0001", "IR2026-0002"]
    assert list(frame.group) == ["trainee", "former"]
    assert list(frame.stream) == ["gen", "gen"]
    assert frame.ret_plans.tolist() == [4, 2] and str(frame.ret_plans.dtype) == "Int64"
    assert frame.years_nhs.tolist() == [2, 2]
    assert frame.region_code.tolist() == ["Y56", "Y61"]
    assert frame.comment_keep.iloc[0] == "Protected time for research."
    assert "comment_keep" not in store.individual_responses(db, ROUND, include_free_text=False).columns
    assert store.individual_responses(db, ROUND + 1).empty
    subs = query(db, "SELECT org_code, org_name, instrument_id FROM submissions ORDER BY org_code")
    assert subs.org_code.tolist() == ["IR2026-0001", "IR2026-0002"] and set(subs.org_name) == {""}


MAPPING = REPO / "instruments" / "mappings" / "individual_review.platform.v1.yaml"


def _platform_rows(rename: bool = False) -> list[dict]:
    """Three respondents as a survey platform exports them (labels, bookkeeping and personal columns)."""
    import yaml

    columns = yaml.safe_load(MAPPING.read_text(encoding="utf-8"))["columns"]
    by_field = {f: c for c, f in columns.items()}
    base = {"group": "Current STP trainee", "stream": "Genomics", "trust_code": "RJ1", "training_year": "Year 2",
            "years_nhs": "2", "ret_plans": "Agree", "ret_offer": "Strongly agree", "ret_promotion": "Neutral",
            "ret_elsewhere": "Disagree", "ret_recommend": "Agree", "use_skills": "Agree", "use_routine": "Disagree",
            "use_understood": "Prefer not to say", "use_research": "Agree", "eq_give_more": "Agree",
            "eq_get_more": "Disagree", "eq_hard_work": "Strongly agree", "eq_owed": "Disagree",
            "eq_contribute": "Agree", "comment_keep": "More research time.", "comment_other": ""}
    people = [("P-001", {}), ("P-002", {"group": "Former NHS clinical bioinformatician or STP trainee",
                                        "training_year": "I am not a trainee", "trust_code": "RGT",
                                        "comment_other": "Call me: jo.bloggs@nhs.net.example"}),
              ("P-003", {"ret_plans": "Agree strongly"})]   # a label the mapping does not know
    rows = []
    for rid, over in people:
        answers = {**base, **over, "respondent_id": rid}
        row = {"Response ID": f"R_{rid}", "Status": "IP Address", "Recipient First Name": "Jo",
               "Recipient Last Name": "Bloggs", "Recipient Email": f"{rid.lower()}@nhs.net.example",
               "IP Address": "192.0.2.1", "Staff name": "Jo Bloggs", "Contact": "jo.bloggs@nhs.net.example"}
        for field_id, value in answers.items():
            column = by_field[field_id]
            if field_id == "years_nhs" and rename:
                column = "Q5 - Years worked in the NHS (whole years)"   # renamed by the platform
            row[column] = value
        rows.append(row)
    return rows


def write_platform_csv(path: Path, rename: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(_platform_rows(rename)).to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_ingest__platform_csv__each_respondent_is_a_submission_and_no_name_or_email_is_stored(tmp_path, run):
    path = write_platform_csv(tmp_path / "in" / f"individual_review_platform_export_{ROUND}.csv")
    db = tmp_path / "s.duckdb"
    result = run("ingest", path, "--db", db, "--out", tmp_path / "run", "--engine", "pandas", expect=1)
    issues = read_issues(tmp_path / "run")
    codes = set(issues.code)
    assert {"W032", "P001", "P003", "P006"} <= codes and "P002" not in codes
    unknown = issues[issues.code == "P001"]
    assert set(unknown.column) == {"Staff name", "Contact"}
    bad = issues[issues.code == "P003"].iloc[0]
    assert bad.row == "4" and "Agree strongly" in bad.message and bad.severity == "error"
    subs = query(db, "SELECT org_code, status, org_name FROM submissions ORDER BY org_code")
    assert subs.values.tolist() == [["P-001", "accepted_with_warnings", ""], ["P-002", "accepted_with_warnings", ""],
                                    ["P-003", "rejected", ""]]
    stored = query(db, "SELECT string_agg(coalesce(value, ''), ' ') AS v FROM answers").v.iloc[0]
    for secret in ("Bloggs", "nhs.net.example", "192.0.2.1", "Jo "):
        assert secret not in stored
    assert "[email removed]" in stored
    wide = query(db, "SELECT * FROM wide_individual_review_form")
    assert len(wide) == 2 and not any("name" in c or "email" in c for c in wide.columns)
    assert not wide.astype(str).apply(lambda col: col.str.contains("Bloggs|@nhs.net")).any().any()
    frame = store.individual_responses(db, ROUND)
    assert frame.respondent_id.tolist() == ["P-001", "P-002"]
    assert frame.group.tolist() == ["trainee", "former"] and frame.years_nhs.tolist() == [2, 2]
    assert frame.use_understood.isna().all() and frame.ret_plans.tolist() == [4, 4]
    assert "[P003]" not in result.stderr and "P-003" in result.stdout
    assert list((db.parent / "quarantine").glob("*.reason.txt"))
    again = run("ingest", path, "--db", db, "--out", tmp_path / "run2", "--engine", "pandas", expect=1)
    assert "already ingested" in again.stdout
    assert query(db, "SELECT count(*) AS n FROM submissions").n.iloc[0] == 3


def test_ingest__platform_csv__explicit_mapping_and_a_bad_mapping_file(tmp_path, run):
    path = write_platform_csv(tmp_path / "in" / "export.csv")
    db = tmp_path / "s.duckdb"
    run("ingest", path, "--round", ROUND, "--mapping", MAPPING, "--db", db, "--out", tmp_path / "run",
        "--engine", "pandas", expect=1)
    assert query(db, "SELECT count(*) AS n FROM submissions").n.iloc[0] == 3
    broken = tmp_path / "broken.yaml"
    broken.write_text("instrument: individual_review\nversion: 1\ncolumns: {'Q1': not_a_field}\n", encoding="utf-8")
    result = run("ingest", path, "--round", ROUND, "--mapping", broken, "--db", db, "--out", tmp_path / "run2",
                 expect=1)
    assert "[DEF001]" in result.stderr and "not_a_field" in result.stderr and "Traceback" not in result.stderr


def test_ingest__individual_resubmission__supersedes_that_respondent_only_and_diff_shows_it(tmp_path, run):
    write_platform_csv(tmp_path / "in" / f"export_{ROUND}.csv")
    db = tmp_path / "s.duckdb"
    run("ingest", tmp_path / "in", "--db", db, "--out", tmp_path / "run", "--engine", "pandas", expect=1)
    later = dt.datetime.now() + dt.timedelta(minutes=5)
    make_individual_return(tmp_path / "late", "P-002", answers={"ret_plans": "Strongly disagree"}, mtime=later)
    run("ingest", tmp_path / "late", "--db", db, "--out", tmp_path / "run2", "--engine", "pandas")
    frame = store.individual_responses(db, ROUND).set_index("respondent_id")
    assert frame.loc["P-002", "ret_plans"] == 1 and frame.loc["P-001", "ret_plans"] == 4
    assert frame.loc["P-002", "format"] == "xlsx"
    diff = run("diff", "P-002", "--round", ROUND, "--db", db)
    assert "ret_plans" in diff.stdout or "Leaving the NHS" in diff.stdout


LIKERT = ["ret_plans", "ret_offer", "ret_promotion", "ret_elsewhere", "ret_recommend", "use_skills", "use_routine",
          "use_understood", "use_research", "eq_give_more", "eq_get_more", "eq_hard_work", "eq_owed", "eq_contribute"]
SAV_CASES = [   # RESPID, RGROUP, stream, trust_code, training_year, years_nhs, likert answers (-9 not answered)
    ["S-001", 1, 1, "RJ1", 2, 1, [4, 5, 3, 2, 4, 4, 2, 1, 4, 4, 2, 5, 2, 4]],
    ["S-002", 2, 2, "RGT", 9, 8, [5, 5, 4, 1, 5, 5, 1, 4, 4, 3, 3, 4, 3, 3]],
    ["", 3, 1, "RRK", 9, 4, [2, 2, 2, 4, 2, 2, 4, 2, 2, 3, 3, 3, 3, 3]],     # no respondent id
    ["S-004", 3, 3, "RRK", 9, 6, [1, 2, -9, 5, 2, 2, 4, 2, 2, 3, 3, 3, 3, 3]],
]


def _sav_frame() -> pd.DataFrame:
    rows = [{"RESPID": c[0], "RGROUP": c[1], "stream": c[2], "trust_code": c[3], "training_year": c[4],
             "years_nhs": c[5], **dict(zip(LIKERT, c[6]))} for c in SAV_CASES]
    return pd.DataFrame(rows)


def test_ingest__spss_file_from_pyreadstat__one_submission_per_case(tmp_path, run):
    import pyreadstat

    folder = tmp_path / "in"
    folder.mkdir()
    frame = _sav_frame()
    pyreadstat.write_sav(frame, str(folder / f"review_{ROUND}.sav"),
                         missing_ranges={v: [-9] for v in LIKERT})
    db = tmp_path / "s.duckdb"
    result = run("ingest", folder, "--db", db, "--out", tmp_path / "run", "--engine", "pandas", expect=1)
    assert "[case 3]" in result.stdout and "F012" in result.stdout
    subs = query(db, "SELECT org_code, status, format, identified_by FROM submissions ORDER BY org_code")
    assert subs.org_code.tolist() == ["S-001", "S-002", "S-004"] and set(subs.format) == {"sav"}
    # the file's own warnings (W033: no comment variables) are stored once, with its first respondent
    assert subs.status.tolist() == ["accepted_with_warnings", "accepted", "accepted"]
    assert set(subs.identified_by) == {"variables"}
    got = store.individual_responses(db, ROUND).set_index("respondent_id")
    assert got.loc["S-002", "group"] == "current" and got.loc["S-002", "stream"] == "hi"
    assert got.loc["S-002", "training_year"] == "na" and got.loc["S-004", "group"] == "former"
    assert pd.isna(got.loc["S-004", "ret_promotion"]) and got.loc["S-004", "ret_plans"] == 1
    assert got.loc["S-001", "region_code"] == "Y56"


@pytest.mark.pspp
def test_ingest__spss_file_written_by_pspp__one_submission_per_case(tmp_path, run, pspp):
    import subprocess
    import sys

    frame = _sav_frame().iloc[[0, 1, 3]]
    source = tmp_path / "cases.csv"
    frame.to_csv(source, index=False)
    labels = tmp_path / "labels.sps"
    labels.write_text("VALUE LABELS RGROUP 1 'STP trainee' 2 'Qualified' 3 'Former'.\n"
                      f"MISSING VALUES {' '.join(LIKERT)} (-9).\n", encoding="utf-8")
    folder = tmp_path / "in"
    folder.mkdir()
    target = folder / f"individual_review_{ROUND}.zsav"
    proc = subprocess.run([sys.executable, str(pspp), "-l", str(labels), str(source), str(target)], capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    db = tmp_path / "s.duckdb"
    run("ingest", folder, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    got = store.individual_responses(db, ROUND)
    assert got.respondent_id.tolist() == ["S-001", "S-002", "S-004"]
    assert got.group.tolist() == ["trainee", "current", "former"] and got.format.tolist() == ["sav"] * 3
    assert got.ret_promotion.isna().tolist() == [False, False, True]


def test_export__individual_responses__drop_free_text_unless_asked(tmp_path, run):
    make_individual_return(tmp_path / "in", "IR2026-0001")
    db = tmp_path / "s.duckdb"
    run("ingest", tmp_path / "in", "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    run("export", "--round", ROUND, "--format", "csv", "--out", tmp_path / "plain", "--db", db)
    plain = pd.read_csv(tmp_path / "plain" / f"individual_review_v1_{ROUND}_form.csv")
    assert "comment_keep" not in plain.columns and plain.org_code.tolist() == ["IR2026-0001"]
    assert plain.ret_plans.tolist() == ["Agree"]
    run("export", "--round", ROUND, "--format", "csv", "--out", tmp_path / "all", "--db", db, "--include-free-text")
    full = pd.read_csv(tmp_path / "all" / f"individual_review_v1_{ROUND}_form.csv")
    assert full.comment_keep.tolist() == ["Protected time for research."]
    run("export", "--round", ROUND, "--format", "sav", "--out", tmp_path / "sav", "--db", db)
    import pyreadstat

    frame, meta = pyreadstat.read_sav(str(tmp_path / "sav" / f"individual_review_v1_{ROUND}_form.sav"))
    assert "comment_keep" not in frame.columns and meta.column_names_to_labels["RESPID"].startswith("Respondent")


def test_feedback__individual_respondents__get_no_feedback_workbook(tmp_path, run):
    from ingest_helpers import make_return

    make_individual_return(tmp_path / "in", "IR2026-0001", answers={"years_nhs": "two"})
    make_return(tmp_path / "in", "RJ1", form={"kf_in_post": "lots"})
    db = tmp_path / "s.duckdb"
    run("ingest", tmp_path / "in", "--db", db, "--out", tmp_path / "run", "--engine", "pandas", expect=1)
    run("feedback", "--round", ROUND, "--out", tmp_path / "fb", "--db", db)
    assert [p.name.split("_")[0] for p in (tmp_path / "fb").glob("*.xlsx")] == ["RJ1"]


def test_ingest__individual_csv_in_variable_names__one_submission_per_row(tmp_path, run):
    folder = tmp_path / "in"
    folder.mkdir()
    _sav_frame().iloc[[0, 1]].to_csv(folder / f"review_cases_{ROUND}.csv", index=False)
    db = tmp_path / "s.duckdb"
    run("ingest", folder, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    got = store.individual_responses(db, ROUND)
    assert got.respondent_id.tolist() == ["S-001", "S-002"] and got.group.tolist() == ["trainee", "current"]
    assert set(got.format) == {"csv"}


def test_ingest__platform_csv_without_a_round__is_one_file_problem_not_one_per_row(tmp_path, run):
    path = write_platform_csv(tmp_path / "in" / "export.csv")
    db = tmp_path / "s.duckdb"
    result = run("ingest", path, "--db", db, "--out", tmp_path / "run", "--engine", "pandas", expect=1)
    issues = read_issues(tmp_path / "run")
    assert issues.code.tolist().count("F012") == 1 and "--round" in result.stdout
    assert result.stdout.count("UNREADABLE") == 1


def test_ingest__mapping_for_an_undefined_version__is_a_clear_error_explicit_or_found(tmp_path, run):
    import shutil

    path = write_platform_csv(tmp_path / "in" / f"export_{ROUND}.csv")
    folder = tmp_path / "instruments"
    (folder / "mappings").mkdir(parents=True)
    for definition in (REPO / "instruments").glob("*.yaml"):
        shutil.copy(definition, folder)
    wrong = folder / "mappings" / "review.v3.yaml"
    wrong.write_text(MAPPING.read_text(encoding="utf-8").replace("\nversion: 1\n", "\nversion: 3\n"), encoding="utf-8")
    result = run("ingest", path, "--mapping", wrong, "--db", tmp_path / "s.duckdb", "--out", tmp_path / "r1", expect=1)
    assert "[DEF001]" in result.stderr and "version 3" in result.stderr and "Traceback" not in result.stderr
    result = run("ingest", path, "--instruments", folder, "--db", tmp_path / "s.duckdb", "--out", tmp_path / "r2",
                 "--engine", "pandas", expect=1)
    found = read_issues(tmp_path / "r2").iloc[0]
    assert found.code == "F008" and "review.v3.yaml" in found.message


@pytest.mark.libreoffice
def test_ingest__individual_workbook_filled_in_libreoffice__is_read_like_any_other(tmp_path, run, libreoffice):
    import subprocess
    import sys

    from ingest_helpers import IND_LAYOUT
    from trust_survey.build.workbook import build_workbook

    blank = tmp_path / "blank.xlsx"
    build_workbook(IND, {"org_code": "IR2026-0042", "org_name": ""}, ROUND, blank)
    typed = {"group": "Qualified clinical bioinformatician in the NHS", "stream": "health informatics",
             "trust_code": "rgt", "years_nhs": "7", "ret_plans": "Agree", "ret_elsewhere": "Strongly disagree",
             "use_skills": "4", "eq_give_more": "Neither agree nor disagree", "comment_keep": "A band 8 post"}
    cells = {c.field.field_id: (c.sheet, c.address) for c in IND_LAYOUT.form_cells()}
    sets = [arg for fid, value in typed.items() for arg in ("--set", f"{cells[fid][0]}!{cells[fid][1]}={value}")]
    filled = tmp_path / "in" / f"IR2026-0042_individual_review_v1_{ROUND}.xlsx"
    proc = subprocess.run([sys.executable, str(libreoffice), str(blank), str(filled), *sets],
                          capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    db = tmp_path / "s.duckdb"
    run("ingest", filled, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    got = store.individual_responses(db, ROUND).iloc[0]
    assert (got.respondent_id, got.group, got.stream, got.trust_code) == ("IR2026-0042", "current", "hi", "RGT")
    assert (got.years_nhs, got.ret_plans, got.ret_elsewhere, got.use_skills) == (7, 4, 1, 4)
    assert got.region == "East of England" and pd.isna(got.ret_offer)
    issues = read_issues(tmp_path / "run")
    assert {"W007", "W009"} <= set(issues.code)   # 'health informatics' and 'rgt' tidied, each reported


def test_status__respondents_are_counted_not_listed_and_never_chased(tmp_path, run):
    from ingest_helpers import make_return

    make_individual_return(tmp_path / "in", "IR2026-0001")
    make_individual_return(tmp_path / "in", "IR2026-0002", answers={"years_nhs": "two"})
    make_return(tmp_path / "in", "RJ1", form={"kf_in_post": "lots"})
    db = tmp_path / "s.duckdb"
    run("ingest", tmp_path / "in", "--db", db, "--out", tmp_path / "run", "--engine", "pandas", expect=1)
    result = run("status", "--round", ROUND, "--db", db, "--chase-list", tmp_path / "chase.csv")
    assert "IR2026-0001" not in result.stdout and "RJ1" in result.stdout
    assert "round 2026: 1 organisation(s): 0 accepted, 0 accepted with warnings, 1 rejected" in result.stderr
    assert "individual_review: 2 respondent(s): 1 accepted, 0 accepted with warnings, 1 rejected" in result.stderr
    chase = pd.read_csv(tmp_path / "chase.csv", dtype=str)
    assert chase.org_code.tolist() == ["RJ1"]
    listed = run("status", "--round", ROUND, "--db", db, "--instrument", "individual_review")
    assert "IR2026-0001" in listed.stdout and "IR2026-0002" in listed.stdout and "RJ1" not in listed.stdout
    assert "2 respondent(s)" in listed.stderr


def test_ingest__individual_workbook_free_text__contact_details_removed_with_warnings(tmp_path, run):
    """Redaction is not only for platform exports: a pseudonymous respondent's own workbook is cleaned the same."""
    comment = "Call me on 020 7946 0000 or jo.bloggs@nhs.net. My NHS number is 943 476 5919; ref 1234567890."
    markup = "<a href=\"mailto:jo.bloggs@nhs.net\">write</a>"   # markup is quoted in its warning (W012)
    path = make_individual_return(tmp_path / "in", answers={"comment_keep": comment, "comment_other": markup})
    db = tmp_path / "s.duckdb"
    run("ingest", path, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    stored = query(db, "SELECT value FROM answers WHERE field_id = 'comment_keep'").value.tolist()
    assert stored == ["Call me on [phone number removed] or [email removed]. My NHS number is "
                      "[NHS number removed]; ref 1234567890."]   # ten digits failing the check are kept
    issues = read_issues(tmp_path / "run")
    assert sorted(issues.code[issues.code.isin(["P006", "P008"])]) == ["P006", "P006", "P008", "P008"]
    assert "[email removed]" in issues.loc[issues.code == "W012", "message"].iloc[0]
    for column in issues.columns:   # nor is it quoted anywhere in the issues
        assert not issues[column].astype(str).str.contains("bloggs|7946|476 5919").any(), column
