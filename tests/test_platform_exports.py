"""Survey-platform exports as downloaded: shipped mappings picked by header layout, drafted mappings,
and the strict mapping check. Each platform's file is built byte for byte in tests/platform_exports.py."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ingest_helpers import REPO, query
from platform_exports import PLATFORMS, ROUND, SECRETS, expected
from trust_survey import store
from trust_survey.ingest.platform_layout import HeaderNames, column_names

SHIPPED = REPO / "trust_survey" / "data" / "platform_mappings"


def _build(tmp_path: Path, platform: str) -> Path:
    builder, name, _ = PLATFORMS[platform]
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return builder(folder / name)


def _assert_every_answer_stored(db: Path) -> None:
    want = expected().set_index("respondent_id")
    got = store.individual_responses(db, ROUND).set_index("respondent_id")
    assert sorted(got.index) == sorted(want.index)
    for column in want.columns:
        for rid in want.index:
            a, b = want.at[rid, column], got.at[rid, column]
            assert (pd.isna(a) and pd.isna(b)) or a == b, f"{rid} {column}: stored {b!r}, answered {a!r}"
    stored = query(db, "SELECT string_agg(coalesce(value, ''), ' ') AS v FROM answers").v.iloc[0].lower()
    for secret in SECRETS:
        assert secret not in stored


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_ingest__platform_export_as_downloaded__shipped_mapping_is_picked_and_every_answer_stored(
        tmp_path, run, platform):
    path = _build(tmp_path, platform)
    db = tmp_path / "s.duckdb"
    result = run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    mapping = PLATFORMS[platform][2]
    assert f"{path.name}: read as a survey-platform export through the shipped" in result.stdout
    assert mapping in result.stdout
    _assert_every_answer_stored(db)
    ledger = query(db, "SELECT DISTINCT identified_by FROM submissions")
    assert ledger.identified_by.tolist() == [f"platform:{mapping}"]


def test_ingest__surveymonkey_matrix__no_likert_answer_is_lost(tmp_path, run):
    path = _build(tmp_path, "surveymonkey")
    db = tmp_path / "s.duckdb"
    run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    frame = store.individual_responses(db, ROUND)
    likert = [c for c in frame.columns if c.startswith(("ret_", "use_", "eq_"))]
    assert len(likert) == 14 and frame[likert].notna().sum().sum() == 14 * 15 - 4   # 3 'Prefer not to say', 1 blank


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_platform_draft__each_layout__mapping_ingests_every_answer_without_edits(tmp_path, run, platform):
    path = _build(tmp_path, platform)
    mapping = tmp_path / "drafted.yaml"
    result = run("platform", "draft", path, "--instrument", "individual_review", "--out", mapping)
    text = mapping.read_text(encoding="utf-8")
    for secret in [*SECRETS, "Jo Bloggs", "IR2026-0001"]:
        assert secret.lower() not in text.lower(), secret   # no personal value (nor any id) copied in
    body = yaml.safe_load(text)
    assert len(body["columns"]) == 22 and "respondent_id" in body["columns"].values()
    if platform != "jisc":   # JISC's export carries nobody's name or address
        assert {"Email", "Email Address", "IP Address", "Name", "First Name", "Last Name", "Recipient Email",
                "Location Latitude"} & set(body["personal"])
    assert "respondent id" in text and "confirm:" in result.stdout   # the id column found by its format
    run("platform", "check", mapping)
    db = tmp_path / "s.duckdb"
    out = run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas",
              "--mapping", mapping)
    assert "through mapping drafted.yaml" in out.stdout
    _assert_every_answer_stored(db)


def test_platform_draft__registered_ids__find_the_id_column_with_nothing_to_confirm_about_it(tmp_path, run):
    path = _build(tmp_path, "surveymonkey")
    db = tmp_path / "s.duckdb"
    run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    mapping = tmp_path / "drafted.yaml"
    result = run("platform", "draft", path, "--instrument", "individual_review", "--round", ROUND, "--db", db,
                 "--out", mapping)
    text = mapping.read_text(encoding="utf-8")
    assert ('"Custom Data 1": "respondent_id"   # respondent id: 100% of its values are respondent ids '
            'registered') in text
    assert "Custom Data 1" not in result.stdout
    again = run("platform", "draft", path, "--instrument", "individual_review", "--out", mapping, expect=1)
    assert "already exists" in again.stderr


def test_platform_draft__other_wording_and_non_answers__are_listed_to_confirm(tmp_path, run):
    rows = [["Respondent", "Email", "Which describes you best", "Leaving the NHS is not part of my plans",
             "Favourite colour"],
            ["IR2026-0001", "a.b@nhs.example", "STP trainee", "Agree strongly", "Blue"],
            ["IR2026-0002", "c.d@nhs.example", "Line manager or trainer", "Don't know", "Red"]]
    path = tmp_path / "export.csv"
    path.write_text("\n".join(",".join(r) for r in rows) + "\n", encoding="utf-8")
    mapping = tmp_path / "m.yaml"
    result = run("platform", "draft", path, "--instrument", "individual_review", "--out", mapping)
    body = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    assert body["personal"] == ["Email"] and body["drop"] == ["Favourite colour"]
    assert body["columns"]["Respondent"] == "respondent_id"
    assert body["values"]["ret_plans"] == {"Prefer not to say": -9, "Don't know": -9, "N/A": -9, "Agree strongly": 5}
    assert "Line manager or trainer" not in body["values"]["group"]   # too far from any choice to guess
    assert "group: 'Line manager or trainer' is not an answer of group" in result.stdout
    assert "'Favourite colour' matches no item" in result.stdout
    assert "ret_plans: 'Agree strongly' read as 'Strongly agree' (match 100)" in result.stdout
    assert "no column found for stream" in result.stdout
    assert "Blue" not in mapping.read_text(encoding="utf-8")


def test_platform_check__unknown_item_id_and_duplicate_key__are_file_key_problem_lines(tmp_path, run):
    text = (SHIPPED / "qualtrics_choice_text.yaml").read_text(encoding="utf-8")
    text = text.replace('"ret_plans"\n', '"ret_plan"\n', 1)
    text = text.replace('  "respondent_id": "respondent_id"\n',
                        '  "respondent_id": "respondent_id"\n  "respondent_id": "respondent_id"\n', 1)
    bad = tmp_path / "bad.yaml"
    bad.write_text(text, encoding="utf-8")
    result = run("platform", "check", bad, expect=1)
    lines = result.stdout.splitlines()
    assert any(line.startswith(f"{bad}: columns.How far do you agree with each statement? - Leaving the NHS")
               and "'ret_plan' is not a field of individual_review.v1; did you mean 'ret_plans'?" in line
               for line in lines), lines
    assert any(line.startswith(f"{bad}: columns.respondent_id: written twice") for line in lines), lines
    for shipped in sorted(SHIPPED.glob("*.yaml")):
        assert run("platform", "check", shipped).stdout.strip() == f"{shipped}: ok"


def test_platform_check__header_names_beyond_header_rows__is_reported(tmp_path, run):
    path = tmp_path / "m.yaml"
    path.write_text('instrument: individual_review\nversion: 1\nheader_rows: 2\nheader_names: {join: [1, 3]}\n'
                    'columns: {"Custom Data 1": respondent_id}\n', encoding="utf-8")
    result = run("platform", "check", path, expect=1)
    assert f"{path}: header_names: row 3 is beyond header_rows (2)" in result.stdout


def test_column_names__join__carries_question_across_blank_cells_and_skips_response_words():
    header = [["Respondent ID", "Q?", "How far?", "", "", "Comment"],
              ["", "Response", "A.", "B.", "C.", "Open-Ended Response"]]
    assert column_names(header, HeaderNames(join=[1, 2])) == [
        "Respondent ID", "Q?", "How far? - A.", "How far? - B.", "How far? - C.", "Comment"]
    assert column_names(header, None) == header[0]
    assert column_names([["1. Which?", "7.1. Leaving.", "3.5 years"]], HeaderNames(row=1, strip_numbers=True)) == [
        "Which?", "Leaving.", "3.5 years"]


@pytest.mark.libreoffice
def test_ingest__forms_export_resaved_as_ods__read_through_the_forms_mapping(tmp_path, run, libreoffice):
    import subprocess
    import sys

    xlsx = _build(tmp_path, "forms")
    ods = tmp_path / "ods" / xlsx.with_suffix(".ods").name   # opened and saved as .ods inside LibreOffice
    converted = subprocess.run([sys.executable, str(libreoffice), str(xlsx), str(ods)], capture_output=True,
                               text=True, timeout=300)
    assert converted.returncode == 0, converted.stderr
    db = tmp_path / "s.duckdb"
    result = run("ingest", ods, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    assert "microsoft_forms.yaml" in result.stdout
    _assert_every_answer_stored(db)


def test_ingest__export_no_mapping_fits__f007_says_how_to_draft_one(tmp_path, run):
    path = tmp_path / "in" / "export.csv"
    path.parent.mkdir()
    path.write_text("Participant,Q_one,Q_two\nA1,x,y\n", encoding="utf-8")
    result = run("ingest", path, "--round", ROUND, "--db", tmp_path / "s.duckdb", "--out", tmp_path / "run",
                 "--engine", "pandas", expect=1)
    assert "[F007]" in result.stdout and "trust-survey platform draft FILE --instrument ID" in result.stdout


def test_read_platform_csv__two_header_rows__names_joined_as_the_mapping_says(tmp_path):
    from platform_exports import INST
    from trust_survey.ingest.platform_csv import read_platform_csv

    path = _build(tmp_path, "surveymonkey")
    frame, issues = read_platform_csv(path, SHIPPED / "surveymonkey_expanded.yaml", INST)
    want = expected()
    assert frame.respondent_id.tolist() == want.respondent_id.tolist()
    assert frame.ret_plans.tolist() == want.ret_plans.fillna(-9).tolist()   # -9: 'Prefer not to say'
    assert frame.comment_keep.fillna("").tolist() == want.comment_keep.fillna("").tolist()
    assert not [i for i in issues if i.code in ("P001", "P002", "P003")]


def test_ingest__surveymonkey_saved_as_xlsx__same_two_header_rows_read_from_the_sheet(tmp_path, run):
    import csv
    import io

    import openpyxl

    source = _build(tmp_path, "surveymonkey")
    wb = openpyxl.Workbook()
    for row in csv.reader(io.StringIO(source.read_text(encoding="utf-8-sig"), newline="")):
        wb.active.append([cell or None for cell in row])
    source.unlink()
    path = tmp_path / "in" / "SurveyMonkey_all_responses.xlsx"
    wb.save(path)
    db = tmp_path / "s.duckdb"
    result = run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    assert "surveymonkey_expanded.yaml" in result.stdout
    _assert_every_answer_stored(db)


def test_ingest__explicit_mapping_that_fits__is_used_over_a_better_fitting_shipped_one(tmp_path, run):
    path = _build(tmp_path, "surveymonkey")
    body = yaml.safe_load((SHIPPED / "surveymonkey_expanded.yaml").read_text(encoding="utf-8"))
    body["drop"], body["personal"] = [], ["IP Address", "Email Address", "First Name", "Last Name"]
    mine = tmp_path / "mine.yaml"
    mine.write_text(yaml.safe_dump(body, sort_keys=False), encoding="utf-8")
    db = tmp_path / "s.duckdb"
    result = run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas",
                 "--mapping", mine)
    assert "through mapping mine.yaml" in result.stdout
    assert query(db, "SELECT DISTINCT identified_by FROM submissions").identified_by.tolist() == ["platform:mine.yaml"]
