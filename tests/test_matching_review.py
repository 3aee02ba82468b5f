"""The review loop: workbook out, decisions filled in with openpyxl, import, reviewed aliases, re-coding."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
import yaml
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter

from trust_survey.errors import InputFileError, OutputExistsError
from trust_survey.matching.matcher import match_frame
from trust_survey.matching.overrides import Overrides
from trust_survey.matching.review import (
    COL, DECISION_COLUMNS, LISTS_SHEET, REVIEW_SHEET, build_review_workbook, read_review_workbook,
    review_queue,
)
from trust_survey.matching.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parent.parent
I, J, K, L = (get_column_letter(COL[k]) for k in ("action", "role", "stream", "reviewer"))
A = get_column_letter(COL["alias"])
TITLES = ["Clinical Scientist", "Clinical Scientist", "Clinical Scientist (Band 7)",
          "Clinical Scientist (EPR)", "Healthcare Science Practitioner", "Scientist", "Software Developer",
          "Staff Nurse", '=HYPERLINK("http://evil","Scientist")']


@pytest.fixture
def tax():
    return load_taxonomy(REPO / "role_taxonomy.yaml")


@pytest.fixture
def coded(tax):
    df = pd.DataFrame({"title": TITLES, "department": ["", "Pathology", "", "", "", "", "", "Ward 7", ""]})
    return match_frame(df, "title", "department", taxonomy=tax, overrides=Overrides.empty())


@pytest.fixture
def workbook(coded, tax, tmp_path) -> Path:
    return build_review_workbook(coded, tax, tmp_path / "review.xlsx", context_column="department")


def rows_by_alias(ws) -> dict[str, int]:
    return {ws.cell(row=r, column=COL["alias"]).value: r for r in range(2, ws.max_row + 1)}


def test_review_queue__one_row_per_unique_normalised_title_most_frequent_first(coded, tax):
    queue = review_queue(coded, tax, context_column="department")
    assert queue.loc[0, "alias"] == "clinical scientist" and queue.loc[0, "count"] == 2
    assert "Clinical Scientist" in queue.loc[0, "examples"]
    assert "Staff Nurse" not in set(queue["examples"])
    assert queue["alias"].is_unique


def test_review_workbook__has_protected_sheet_dropdowns_from_named_ranges_and_a_hidden_lists_sheet(workbook):
    wb = load_workbook(workbook)
    assert wb[LISTS_SHEET].sheet_state == "hidden" and wb["meta"].sheet_state == "veryHidden"
    assert {"lst_review_action", "lst_review_role", "lst_review_stream"} <= set(wb.defined_names.keys())
    ws = wb[REVIEW_SHEET]
    assert ws.protection.sheet
    formulas = sorted(dv.formula1 for dv in ws.data_validations.dataValidation)
    assert formulas == ["=lst_review_action", "=lst_review_all", "=lst_review_role", "=lst_review_stream"]
    for key in ("action", "role", "stream", "reviewer", "note"):
        assert ws.cell(row=2, column=COL[key]).protection.locked is False
    for key in ("alias", "count", "examples", "suggested_role_id", "score"):
        assert ws.cell(row=2, column=COL[key]).protection.locked is not False
    actions = [c.value for c in wb[LISTS_SHEET]["A"][1:] if c.value]
    assert actions == ["accept", "change role", "change stream", "reject"]


def test_review_workbook__trust_text__is_stored_as_text_never_a_formula(workbook):
    ws = load_workbook(workbook)[REVIEW_SHEET]
    cells = [ws.cell(row=r, column=COL["examples"]) for r in range(2, ws.max_row + 1)]
    evil = [c for c in cells if str(c.value).startswith("=HYPERLINK")]
    assert evil and all(c.data_type == "s" and c.quotePrefix for c in evil)


def test_review_workbook__existing_file__needs_force(coded, tax, workbook):
    with pytest.raises(OutputExistsError):
        build_review_workbook(coded, tax, workbook)
    build_review_workbook(coded, tax, workbook, force=True)


def fill(path: Path, decisions: dict[str, tuple[str, str, str, str]]) -> Path:
    wb = load_workbook(path)
    ws = wb[REVIEW_SHEET]
    rows = rows_by_alias(ws)
    for alias, (action, role, stream, reviewer) in decisions.items():
        r = rows[alias]
        for key, value in (("action", action), ("role", role), ("stream", stream), ("reviewer", reviewer)):
            if value:
                ws.cell(row=r, column=COL[key], value=value)
    out = path.with_name("filled.xlsx")
    wb.save(out)
    return out


def test_review__round_trip__decisions_become_reviewed_aliases_that_code_automatically(
        run, workbook, tmp_path):
    filled = fill(workbook, {
        "clinical scientist epr": ("accept", "", "", "jo"),
        "clinical scientist": ("change role", "Clinical scientist (genomics)", "", ""),
        "healthcare science practitioner": ("change stream", "", "physical_sciences", "sam"),
        "software developer": ("reject", "", "", "jo"),
    })
    overrides = tmp_path / "role_overrides.yaml"
    result = run("match", "review-import", filled, "--overrides", overrides, "--reviewer", "kim")
    assert "4 decision(s)" in result.stderr and "overrides version 1" in result.stderr

    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    assert doc["version"] == 1
    entries = {e["alias"]: e for e in doc["reviewed_aliases"]}
    assert entries["clinical scientist epr"]["role_id"] == "epr_build_analyst"
    assert entries["clinical scientist"]["role_id"] == "genomics_clinical_scientist"
    assert entries["clinical scientist"]["reviewer"] == "kim"            # blank cell: --reviewer
    assert entries["healthcare science practitioner"]["stream"] == "physical_sciences"
    assert entries["software developer"]["stream"] == "none"
    assert all(e["decided_at"] and e["taxonomy_version"] == load_taxonomy().version for e in entries.values())
    log = list(csv.DictReader((tmp_path / "role_overrides.decisions.csv").open(encoding="utf-8")))
    assert len(log) == 4 and {r["reviewer"] for r in log} == {"jo", "sam", "kim"}

    src = tmp_path / "again.csv"
    with src.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([["title"], ["Clinical Scientist (EPR)"], ["Senior Clinical Scientist"],
                                  ["Healthcare Science Practitioner"], ["Software Developer"]])
    run("match", "titles", src, "--column", "title", "--out", tmp_path / "again_out.csv",
        "--overrides", overrides)
    out = list(csv.DictReader((tmp_path / "again_out.csv").open(encoding="utf-8")))
    assert [(r["method"], r["decision"]) for r in out] == [("alias", "auto")] * 4
    assert [r["stream"] for r in out] == ["health_informatics", "genomics", "physical_sciences", "none"]

    second = fill(workbook, {"scientist": ("reject", "", "", "jo")})
    run("match", "review-import", second, "--overrides", overrides)
    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    assert doc["version"] == 2 and len(doc["reviewed_aliases"]) == 5


def test_review_import__bad_values__are_named_by_sheet_and_cell_and_nothing_is_stored(
        run, workbook, tmp_path):
    ws = load_workbook(workbook)[REVIEW_SHEET]
    rows = rows_by_alias(ws)
    filled = fill(workbook, {
        "clinical scientist epr": ("acept", "", "", ""),
        "clinical scientist": ("change role", "Bioinformatican", "", ""),
        "healthcare science practitioner": ("change stream", "", "genomic", ""),
        "scientist": ("accept", "", "", ""),
    })
    overrides = tmp_path / "role_overrides.yaml"
    result = run("match", "review-import", filled, "--overrides", overrides, expect=1)
    err = result.stderr
    assert "[REV001]" in err and "4 problem(s)" in err
    assert f"Review!{I}{rows['clinical scientist epr']}: action 'acept' is not allowed" in err
    assert "did you mean 'accept'?" in err
    assert f"Review!{J}{rows['clinical scientist']}: role 'Bioinformatican' is not in the taxonomy; " \
           "did you mean 'Bioinformatician'?" in err
    assert f"Review!{K}{rows['healthcare science practitioner']}: stream 'genomic' is not allowed" in err
    assert f"Review!{I}{rows['scientist']}: the suggestion" in err
    assert not overrides.exists()


def test_read_review_workbook__blank_actions__are_skipped(workbook, tax):
    decisions = read_review_workbook(workbook, tax)
    assert list(decisions.columns) == DECISION_COLUMNS and decisions.empty


def test_read_review_workbook__not_a_review_workbook__says_which_sheets_it_has(tmp_path, tax):
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.title = "Reveiw"
    wb.save(tmp_path / "x.xlsx")
    with pytest.raises(InputFileError) as err:
        read_review_workbook(tmp_path / "x.xlsx", tax)
    assert "no sheet named 'Review'; did you mean 'Reveiw'?" in str(err.value)
    (tmp_path / "y.xlsx").write_text("not a workbook", encoding="utf-8")
    with pytest.raises(InputFileError):
        read_review_workbook(tmp_path / "y.xlsx", tax)


# ---- real programs ---------------------------------------------------------------------------------
@pytest.mark.libreoffice
def test_libreoffice__fills_the_review_workbook_within_its_dropdowns_and_the_resave_imports(
        run, workbook, libreoffice, tmp_path):
    import subprocess

    ws = load_workbook(workbook)[REVIEW_SHEET]
    rows = rows_by_alias(ws)
    r_epr, r_cs = rows["clinical scientist epr"], rows["clinical scientist"]
    filled = tmp_path / "lo_filled.xlsx"
    proc = subprocess.run(
        ["python3", str(libreoffice), str(workbook), str(filled), "--json", "--strict",
         "--set", f"Review!{I}{r_epr}=accept", "--set", f"Review!{L}{r_epr}=lo user",
         "--set", f"Review!{I}{r_cs}=change role", "--set", f"Review!{J}{r_cs}=Clinical scientist (genomics)"],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr + proc.stdout

    bad = subprocess.run(
        ["python3", str(libreoffice), str(workbook), str(tmp_path / "bad.xlsx"), "--strict",
         "--set", f"Review!{I}{r_epr}=maybe"], capture_output=True, text=True, timeout=180)
    assert bad.returncode == 3 and not (tmp_path / "bad.xlsx").exists()   # the drop-down stops it
    locked = subprocess.run(
        ["python3", str(libreoffice), str(workbook), str(tmp_path / "locked.xlsx"),
         "--set", f"Review!{A}{r_epr}=edited"], capture_output=True, text=True, timeout=180)
    assert locked.returncode == 3 and "locked cell" in locked.stderr

    overrides = tmp_path / "role_overrides.yaml"
    run("match", "review-import", filled, "--overrides", overrides)
    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    entries = {e["alias"]: e for e in doc["reviewed_aliases"]}
    assert entries["clinical scientist epr"]["reviewer"] == "lo user"
    assert entries["clinical scientist"]["role_id"] == "genomics_clinical_scientist"


# ---- department context ----------------------------------------------------------------------------
ENGINEERS = [["title", "department"], ["Software Engineer", "ICT"], ["Software Engineer", "IT Services"],
             ["Software Engineer", "Medical Physics"], ["Clinical Bioinformatician", "Genomics"]]


def write_rows(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def code_csv(run, tmp_path, rows, overrides: Path, name: str) -> list[dict]:
    src = write_rows(tmp_path / f"{name}.csv", rows)
    run("match", "titles", src, "--column", "title", "--context-column", "department", "--out",
        tmp_path / f"{name}_out.csv", "--overrides", overrides)
    return list(csv.DictReader((tmp_path / f"{name}_out.csv").open(encoding="utf-8")))


def outcome(row: dict) -> tuple[str, str, str]:
    return row["stream"], row["decision"], row["method"]


def test_review__software_engineer_rejected_in_ict__stays_physical_sciences_in_medical_physics(run, tmp_path):
    overrides = tmp_path / "role_overrides.yaml"
    src = write_rows(tmp_path / "staff.csv", ENGINEERS)
    review = tmp_path / "review.xlsx"
    run("match", "titles", "--no-model", src, "--column", "title", "--context-column", "department", "--out",
        tmp_path / "coded.csv", "--review-out", review, "--overrides", overrides)
    first = list(csv.DictReader((tmp_path / "coded.csv").open(encoding="utf-8")))
    assert outcome(first[2]) == ("physical_sciences", "auto", "fuzzy")
    assert [r["department_context"] for r in first] == ["it_services", "it_services", "medical_physics",
                                                        "genomics_laboratory"]
    wb = load_workbook(review)
    ws = wb[REVIEW_SHEET]
    queue = {(ws.cell(row=r, column=COL["alias"]).value, ws.cell(row=r, column=COL["context"]).value):
             (r, ws.cell(row=r, column=COL["count"]).value) for r in range(2, ws.max_row + 1)}
    assert list(queue) == [("software engineer", "it_services")] and queue[("software engineer", "it_services")][1] == 2
    ws.cell(row=queue[("software engineer", "it_services")][0], column=COL["action"], value="reject")
    wb.save(tmp_path / "filled.xlsx")
    run("match", "review-import", tmp_path / "filled.xlsx", "--overrides", overrides)
    entry = yaml.safe_load(overrides.read_text(encoding="utf-8"))["reviewed_aliases"][0]
    assert (entry["alias"], entry["context"], entry["stream"]) == ("software engineer", "it_services", "none")

    again = code_csv(run, tmp_path, ENGINEERS + [["Software Engineer", "Pathology"], ["Software Engineer", ""]],
                     overrides, "again")
    assert [outcome(r) for r in again[:2]] == [("none", "auto", "alias")] * 2         # the reviewer's decision
    assert outcome(again[2]) == ("physical_sciences", "auto", "fuzzy")                # the matcher's, as before
    assert {k: again[2][k] for k in ("role_id", "score")} == {k: first[2][k] for k in ("role_id", "score")}
    # another department: still asked; no department: a title naming no discipline is none (the label policy)
    assert [r["decision"] for r in again[4:]] == ["review", "none"]


def test_review__old_overrides_file_without_contexts__loads_and_applies_everywhere(run, tmp_path):
    overrides = tmp_path / "role_overrides.yaml"
    overrides.write_text("version: 3\nreviewed_aliases:\n"
                         "  - {alias: software engineer, action: reject, stream: none, reviewer: jo}\n",
                         encoding="utf-8")
    rows = code_csv(run, tmp_path, ENGINEERS + [["Software Engineer", ""]], overrides, "old")
    assert [outcome(r) for r in rows] == [("none", "auto", "alias")] * 3 + [
        ("genomics", "auto", "alias"), ("none", "auto", "alias")]

    src = write_rows(tmp_path / "more.csv", [["title", "department"], ["Clinical Scientist", ""]])
    run("match", "titles", "--no-model", src, "--column", "title", "--context-column", "department", "--out",
        tmp_path / "more_out.csv", "--review-out", tmp_path / "more.xlsx", "--overrides", overrides)
    wb = load_workbook(tmp_path / "more.xlsx")
    ws = wb[REVIEW_SHEET]
    assert ws.cell(row=2, column=COL["context"]).value == "any"                      # no department
    ws.cell(row=2, column=COL["action"], value="reject")
    wb.save(tmp_path / "more_filled.xlsx")
    run("match", "review-import", tmp_path / "more_filled.xlsx", "--overrides", overrides)
    doc = yaml.safe_load(overrides.read_text(encoding="utf-8"))
    assert (doc["format"], doc["version"]) == (2, 4)
    assert [(e["alias"], e["context"], e["reviewer"]) for e in doc["reviewed_aliases"]] == [
        ("software engineer", "any", "jo"), ("clinical scientist", "any", doc["reviewed_aliases"][1]["reviewer"])]
    assert [outcome(r) for r in code_csv(run, tmp_path, ENGINEERS, overrides, "upgraded")][:3] == [
        ("none", "auto", "alias")] * 3


def test_read_review_workbook__all_departments__makes_the_decision_context_free_and_checks_its_value(
        workbook, tax, tmp_path):
    wb = load_workbook(workbook)
    ws = wb[REVIEW_SHEET]
    rows = rows_by_alias(ws)
    ws.cell(row=rows["scientist"], column=COL["action"], value="reject")
    ws.cell(row=rows["scientist"], column=COL["all_departments"], value="yes")
    ws.cell(row=rows["software developer"], column=COL["action"], value="reject")
    ws.cell(row=rows["software developer"], column=COL["all_departments"], value="maybe")
    wb.save(tmp_path / "bad.xlsx")
    with pytest.raises(InputFileError) as err:
        read_review_workbook(tmp_path / "bad.xlsx", tax)
    letter = get_column_letter(COL["all_departments"])
    assert err.value.details == [f"Review!{letter}{rows['software developer']}: 'maybe' is not allowed; "
                                 "expected yes, no or blank"]
    ws.cell(row=rows["software developer"], column=COL["all_departments"], value="no")
    ws.cell(row=rows["software developer"], column=COL["context"], value="it_services")
    wb.save(tmp_path / "good.xlsx")
    decisions = read_review_workbook(tmp_path / "good.xlsx", tax).set_index("alias")
    assert decisions.loc["scientist", "context"] == "any"
    assert decisions.loc["software developer", "context"] == "it_services"


def test_read_review_workbook__exported_before_department_contexts__says_to_export_again(workbook, tax, tmp_path):
    wb = load_workbook(workbook)
    wb[REVIEW_SHEET].delete_cols(COL["context"])
    wb[REVIEW_SHEET].delete_cols(COL["all_departments"] - 1)
    wb.save(tmp_path / "old.xlsx")
    with pytest.raises(InputFileError) as err:
        read_review_workbook(tmp_path / "old.xlsx", tax)
    assert err.value.code == "REV001"
    assert any("no 'Department context' column: this workbook was exported by an older trust-survey; export the "
               "queue again" in d for d in err.value.details)


def test_review_workbook__read_me__says_a_decision_holds_in_its_department_context(workbook):
    text = " ".join(c.value or "" for c in load_workbook(workbook)["Read me"]["A"])
    assert "applies to the title only in its department context" in text
    assert "wherever it appears, whatever the department" not in text


def test_append_audit_log__log_from_before_contexts__gains_the_column_and_keeps_its_lines(tmp_path):
    from trust_survey.matching.review import AUDIT_COLUMNS, append_audit_log

    old_columns = [c for c in AUDIT_COLUMNS if c != "context"]
    log = tmp_path / "role_overrides.decisions.csv"
    with log.open("w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=old_columns)
        w.writeheader()
        w.writerow({c: "" for c in old_columns} | {"alias": "software engineer", "action": "reject"})
    decision = pd.DataFrame([{"alias": "clinical scientist", "context": "other", "action": "reject",
                              "stream": "none"}])
    append_audit_log(decision, log, workbook="r.xlsx", overrides_version=2, reviewer="jo")
    lines = list(csv.DictReader(log.open(encoding="utf-8")))
    got = [(r["alias"], r["context"]) for r in lines]
    assert got == [("software engineer", "any"), ("clinical scientist", "other")]
    assert lines[0]["action"] == "reject" and lines[1]["reviewer"] == "jo"
