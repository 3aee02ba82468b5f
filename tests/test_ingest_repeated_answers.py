"""A platform export repeats the same answers in thousands of rows; ingest cleans each distinct answer once
(``Cleaner.clean`` remembers) and keeps each respondent's places small (``CaseLocator``). Neither may change
what is stored or found: the same export ingested with both turned off must give the same answers, issues
and outcomes, and every finding must name its own row."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import yaml

from ingest_helpers import REPO, query
from trust_survey.ingest import clean, orchestrate
from trust_survey.ingest.clean import Cleaner
from trust_survey.ingest.extract import CaseLocator, case_locator, extract_records
from trust_survey.ingest.identify import Identity
from trust_survey.ingest.readers import DataRecord
from trust_survey.instruments import load_registry

ROUND = 2026
MAPPING = REPO / "trust_survey" / "data" / "platform_mappings" / "smartsurvey.yaml"
INST = load_registry(REPO / "instruments").get("individual_review", 1)
SCALE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
LONG = "word " * 820   # 4,100 characters: over comment_keep's 4,000
BAD_ROWS = (3, 5, 6)   # file rows (header = 1) holding bad cells


def _answers(n: int) -> dict[str, str]:
    a = {"respondent_id": f"IR{ROUND}-{n + 1:05d}", "group": "STP trainee", "stream": "Genomics",
         "trust_code": "RJ1", "training_year": "First year", "years_nhs": str(n), "comment_keep": "Fine.",
         "comment_other": ""}
    for k, item in enumerate(i.id for s in INST.sections for i in s.items if i.type == "likert"):
        a[item] = SCALE[(n + k) % 5]
    if n + 2 in BAD_ROWS:   # the same bad cells, word for word, in several rows
        a.update(years_nhs="about ten", ret_plans="Maybe", comment_keep="n/a", comment_other=LONG,
                 trust_code=" rj1 ")
    return a


def _export(path: Path, n: int = 7) -> Path:
    mapping = yaml.safe_load(MAPPING.read_text())
    questions = list(mapping["columns"].items())
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        header = [f"{q}. {label}" for q, (label, _) in enumerate(questions, start=1)]
        writer.writerow(["UserID", "Name", "Email"] + header)
        for r in range(n):
            a = _answers(r)
            writer.writerow([str(900 + r), f"Person {r}", f"person{r}@trust.nhs.example"]
                            + [a[item] for _, item in questions])
    return path


def _ingest(run, tmp_path: Path, name: str) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    folder = tmp_path / name
    folder.mkdir()
    export = _export(folder / "export.csv")
    db = folder / "s.duckdb"
    run("ingest", export, "--round", ROUND, "--db", db, "--out", folder / "run", "--engine", "pandas", expect=1)
    answers = query(db, "SELECT s.org_code, a.* EXCLUDE (submission_id) FROM answers a JOIN submissions s "
                        "USING (submission_id) ORDER BY ALL")
    issues = query(db, "SELECT s.org_code, i.* EXCLUDE (submission_id) FROM issues i JOIN submissions s "
                       "USING (submission_id) ORDER BY ALL")
    subs = query(db, "SELECT org_code, file_name, outcome, status, errors, warnings FROM submissions ORDER BY ALL")
    return answers, issues, subs


def test_ingest__platform_export_with_the_same_bad_cells_in_several_rows__same_as_cleaning_each_cell_afresh(
        tmp_path, run, monkeypatch):
    fast = _ingest(run, tmp_path, "fast")
    monkeypatch.setattr(clean, "MEMO_TYPES", frozenset())             # every cell cleaned afresh
    monkeypatch.setattr(orchestrate, "case_locator", lambda ext: ext)   # every respondent's places kept whole
    slow = _ingest(run, tmp_path, "slow")
    for got, want in zip(fast, slow):
        pd.testing.assert_frame_equal(got, want)
    answers, issues, subs = fast
    assert len(subs) == 7 and (subs.outcome == "rejected").sum() == len(BAD_ROWS)
    for row in BAD_ROWS:   # each finding names its own row, though the cells are word for word the same
        rid = f"IR{ROUND}-{row - 1:05d}"
        mine = issues[issues.org_code == rid]
        assert {"P003", "P004", "W001", "W009", "V010"} <= set(mine.code), (rid, mine.code.tolist())
        assert set(mine[mine.code.isin(["W001", "W009", "V010"])].row) == {row}
        stored = answers[answers.org_code == rid].set_index("field_id").value
        assert stored["trust_code"] == "RJ1" and "comment_keep" not in stored and "years_nhs" not in stored
    clean_rows = issues[issues.code.isin(["P003", "P004", "W001", "W009", "V010"])]
    assert set(clean_rows.org_code) == {f"IR{ROUND}-{row - 1:05d}" for row in BAD_ROWS}


def test_cleaner__same_cell_twice__same_result_and_a_bool_is_not_read_as_its_number():
    cleaner = Cleaner(INST)
    f = next(f for f in INST.fields() if f.field_id == "years_nhs")
    first = cleaner.clean(f, "  12 ", "csv")
    assert cleaner.clean(f, "  12 ", "csv") is first and first.num == 12 and [n[0] for n in first.notes] == ["W002"]
    assert cleaner.clean(f, True, "sav").bad and not cleaner.clean(f, 1, "sav").bad


def test_case_locator__places_every_field_as_the_extracted_case_does():
    fields = INST.fields()
    columns = [f.var_name for f in fields if f.field_id != "comment_other"]   # one variable left out
    row = [f"IR{ROUND}-00001" if c == "RESPID" else "1" for c in columns]
    record = DataRecord(Path("export.csv"), "platform", columns, [row], {}, [], [42])
    ext = extract_records([record], Identity(INST, ROUND, f"IR{ROUND}-00001", "", "test"), "export")
    small = case_locator(ext)
    assert isinstance(small, CaseLocator) and small.missing == ext.missing
    for f in fields:
        for row_index in (0, 1):
            assert small.locate("form", row_index, f.field_id) == ext.locate("form", row_index, f.field_id)
    assert small.locate("form", 0, "years_nhs")["row"] == 42
