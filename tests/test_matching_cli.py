"""`trust-survey match titles` on CSV files made in tmp_path: contents, encodings, errors, safety."""
from __future__ import annotations

import csv
from pathlib import Path

import pytest

from trust_survey.cli import cli
from trust_survey.matching.matcher import EXTRA_COLUMNS, RESULT_COLUMNS
from trust_survey.matching.taxonomy import load_taxonomy


@pytest.fixture(autouse=True)
def isolated_overrides(tmp_path, monkeypatch):
    monkeypatch.setenv("TRUST_SURVEY_OVERRIDES", str(tmp_path / "role_overrides.yaml"))


def write_csv(path: Path, rows: list[list[str]], encoding: str = "utf-8") -> Path:
    with path.open("w", encoding=encoding, newline="") as fh:
        csv.writer(fh).writerows(rows)
    return path


def read_csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


ROWS = [
    ["title", "department", "band"],
    ["Snr Medical Physics Software Eng B7", "", "7"],
    ["Software Engineer", "Medical Physics", "6"],
    ["Bioinformatician (NGS)", "Genomics", "7"],
    ["Clinical Coder", "Clinical Coding", "4"],
    ["", "", ""],
    ["Clinical Scientist", "", "7"],
    ["Clinical Coder", "Clinical Coding", "4"],
]


def test_match_titles__csv__out_is_the_input_plus_the_coding_columns(run, tmp_path):
    src = write_csv(tmp_path / "staff.csv", ROWS)
    result = run("match", "titles", "--no-model", src, "--column", "title", "--context-column", "department",
                 "--out", tmp_path / "coded.csv")
    out = read_csv(tmp_path / "coded.csv")
    assert list(out[0].keys()) == ["title", "department", "band"] + RESULT_COLUMNS + EXTRA_COLUMNS
    assert [r["title"] for r in out] == [r[0] for r in ROWS[1:]]
    got = [(r["stream"], r["decision"]) for r in out]
    assert got == [("physical_sciences", "auto"), ("physical_sciences", "auto"), ("genomics", "auto"),
                   ("none", "auto"), ("none", "none"), ("none", "review"), ("none", "auto")]
    assert out[0]["method"] == "alias" and out[0]["matched_alias"] == "medical physics software engineer"
    assert out[0]["role_id"] == "scientific_computing_scientist" and out[0]["relation"] == "direct"
    assert out[1]["method"] == "fuzzy"            # completed by the department
    assert out[3] == {**out[6]}
    assert out[4]["method"] == "none" and out[4]["score"] == "0"
    assert "genomics" in out[5]["alternatives"]
    assert {r["taxonomy_version"] for r in out} == {str(load_taxonomy().version)}
    assert "coded 7 title(s)" in result.stderr and "wrote coded titles" in result.stderr
    assert "coding 7 titles" not in result.stderr and "%" not in result.stderr   # no progress bar off a terminal
    assert result.stdout == ""


def test_match_titles__excel_csv_with_bom_or_cp1252__is_read(run, tmp_path):
    rows = [["title"], ["Clinical Scientist – Genomics"], ["Médical Physicist"]]
    for enc in ("utf-8-sig", "cp1252"):
        src = write_csv(tmp_path / f"{enc}.csv", rows, encoding=enc)
        out_path = tmp_path / f"{enc}_out.csv"
        run("match", "titles", src, "--column", "title", "--out", out_path)
        out = read_csv(out_path)
        assert out[0]["title"] == "Clinical Scientist – Genomics"
        assert out[0]["stream"] == "genomics"


def test_match_titles__semicolon_csv__is_read(run, tmp_path):
    src = tmp_path / "semi.csv"
    src.write_text("title;department\nEPR Analyst;Digital\n", encoding="utf-8")
    run("match", "titles", src, "--column", "title", "--out", tmp_path / "o.csv")
    assert read_csv(tmp_path / "o.csv")[0]["stream"] == "health_informatics"


def test_match_titles__missing_column__names_file_column_and_columns_that_exist(run, tmp_path):
    src = write_csv(tmp_path / "staff.csv", ROWS)
    result = run("match", "titles", src, "--column", "job_title", "--context-column", "Department",
                 "--out", tmp_path / "o.csv", expect=1)
    err = result.stderr
    assert "[IN003]" in err and "staff.csv" in err
    assert "--column 'job_title': no such column" in err
    assert "--context-column 'Department': no such column; did you mean 'department'?" in err
    assert "'title', 'department', 'band'" in err
    assert not (tmp_path / "o.csv").exists()


def test_match_titles__wrong_encoding__names_the_encoding_option(run, tmp_path):
    src = tmp_path / "cp.csv"
    src.write_bytes("title\nClinical Scientist \x96 Genomics\n".encode("latin-1"))
    result = run("match", "titles", src, "--column", "title", "--out", tmp_path / "o.csv",
                 "--encoding", "utf-8", expect=1)
    assert "[IN004]" in result.stderr and "--encoding" in result.stderr


def test_match_titles__unknown_encoding_or_missing_option__exits_2(run, tmp_path):
    src = write_csv(tmp_path / "staff.csv", ROWS)
    run("match", "titles", src, "--column", "title", "--out", tmp_path / "o.csv", "--encoding", "klingon",
        expect=2)
    run("match", "titles", src, "--out", tmp_path / "o.csv", expect=2)


def test_match_titles__existing_output__needs_force(run, tmp_path):
    src = write_csv(tmp_path / "staff.csv", ROWS)
    out = tmp_path / "o.csv"
    out.write_text("keep me", encoding="utf-8")
    result = run("match", "titles", src, "--column", "title", "--out", out, expect=1)
    assert "[OUT001]" in result.stderr and out.read_text(encoding="utf-8") == "keep me"
    run("match", "titles", src, "--column", "title", "--out", out, "--force")
    assert len(read_csv(out)) == len(ROWS) - 1


def test_match_titles__formula_like_text__is_neutralised_but_numbers_stay(run, tmp_path):
    src = write_csv(tmp_path / "evil.csv", [["title", "band"], ['=HYPERLINK("http://x","click")', "-3"],
                                            ["@SUM(A1)", "+7"], ["-cmd|' /C calc'!A0", "8"]])
    run("match", "titles", src, "--column", "title", "--out", tmp_path / "o.csv")
    out = read_csv(tmp_path / "o.csv")
    assert [r["title"] for r in out] == ["'=HYPERLINK(\"http://x\",\"click\")", "'@SUM(A1)",
                                         "'-cmd|' /C calc'!A0"]
    assert [r["band"] for r in out] == ["-3", "+7", "8"]


def test_match_titles__review_out__writes_the_review_workbook(run, tmp_path):
    from openpyxl import load_workbook

    src = write_csv(tmp_path / "staff.csv", ROWS)
    run("match", "titles", "--no-model", src, "--column", "title", "--out", tmp_path / "o.csv", "--review-out",
        tmp_path / "review.xlsx")
    ws = load_workbook(tmp_path / "review.xlsx")["Review"]
    assert ws["A2"].value == "clinical scientist"


def test_match_commands__help__ends_with_an_example(run):
    for args in (["match", "titles"], ["match", "evaluate"], ["match", "agreement"],
                 ["match", "review-import"], ["taxonomy", "check"], ["match"], ["taxonomy"]):
        result = run(*args, "--help")
        assert "Example:" in result.stdout, args
    assert "match" in cli.commands and "taxonomy" in cli.commands


def test_match_frame_chunks__small_chunks__give_the_rows_of_coding_the_file_at_once(tmp_path):
    import pandas as pd

    from trust_survey.matching.matcher import match_frame, match_frame_chunks

    df = pd.DataFrame(ROWS[1:] * 3, columns=ROWS[0])
    seen = []
    chunks = list(match_frame_chunks(df, "title", "department", rows=4, on_progress=seen.append))
    assert [len(c) for c in chunks] == [4, 4, 4, 4, 4, 1] and sum(seen) == len(df)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), match_frame(df, "title", "department"))
