"""One writer for every CSV and workbook: formulas neutralised, control characters gone, atomic, ordinary file
modes, whole numbers of integer items written as integers."""
from __future__ import annotations

import ast
import csv
import os
import stat
from pathlib import Path

import openpyxl
import pytest

from ingest_helpers import FORM, INST, ORGS, ROUND, TABLES, query
from trust_survey.matching.review import COL, REVIEW_SHEET
from trust_survey.simulate.fill import Answers
from trust_survey.simulate.writers import write_csv as write_csv_return

PACKAGE = Path(__file__).resolve().parent.parent / "trust_survey"
WRITER = PACKAGE / "writers.py"
#: calls that write a CSV or a workbook; only trust_survey/writers.py may make them
WRITING_CALLS = {"to_csv", "to_excel", "save", "ExcelWriter", "writer", "DictWriter"}
EVIL = ['=HYPERLINK("http://x","y")', "@SUM(1+1)*cmd|' /C calc'!A0", "+1+cmd|' /C calc'!A0",
        "\uff1dHYPERLINK(\"http://x\")", "-2+3"]


def _writing_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "csv":
            found += [f"{path.name}:{node.lineno} from csv import {a.name}" for a in node.names
                      if a.name in ("writer", "DictWriter")]
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name not in WRITING_CALLS:
            continue
        if name in ("writer", "DictWriter") and not (isinstance(func, ast.Attribute)
                                                     and isinstance(func.value, ast.Name) and func.value.id == "csv"):
            continue
        found.append(f"{path}:{node.lineno} {name}()")
    return found


def test_package__only_the_writers_module__writes_csv_or_workbooks():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py")) if path != WRITER for hit in _writing_calls(path)]
    assert offenders == [], "write CSV and workbooks through trust_survey.writers:\n" + "\n".join(offenders)


def test_writing_call_scan__finds_each_kind_of_direct_write(tmp_path):
    probe = tmp_path / "probe.py"
    probe.write_text("import csv\nfrom csv import DictWriter\nimport pandas as pd\n"
                     "df.to_csv('a.csv')\ndf.to_excel('a.xlsx')\ncsv.writer(fh)\ncsv.DictWriter(fh, [])\n"
                     "wb.save('a.xlsx')\npd.ExcelWriter('a.xlsx')\n")
    hits = _writing_calls(probe)
    assert len(hits) == 7 and any("from csv import DictWriter" in h for h in hits)


def test_build__formula_organisation_names__are_neutralised_in_distribution_csv_and_workbooks(run, tmp_path):
    orgs = tmp_path / "ORGS.csv"
    with orgs.open("w", encoding="utf-8", newline="") as fh:
        out = csv.writer(fh)
        out.writerow(["org_code", "org_name", "contact_email"])
        for i, name in enumerate(EVIL):
            out.writerow([f"R{chr(65 + i)}{i}", name, ""])
    run("instruments", "build", "trust_capability", "--orgs", orgs, "--round", ROUND, "--out", tmp_path / "sent",
        "--format", "xlsx")
    with (tmp_path / "sent" / "distribution.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    names = {r["org_code"]: r["org_name"] for r in rows}
    assert len(names) == len(EVIL)
    for i, evil in enumerate(EVIL):
        written = names[f"R{chr(65 + i)}{i}"]
        assert written == "'" + evil, (evil, written)     # shown as typed, never run
    for row in rows:
        for value in row.values():
            assert not value.lstrip(" \u00a0").startswith(("=", "+", "-", "@", "\t", "\r", "\uff1d")), row
    wb = openpyxl.load_workbook(next((tmp_path / "sent").glob("RA0_*.xlsx")))
    formulas = [(ws.title, c.coordinate) for ws in wb.worksheets for row in ws.iter_rows() for c in row
                if c.data_type == "f" and ws.title != "Checks"]
    assert formulas == []


def _csv_return(folder: Path, title: bytes) -> Path:
    """A CSV return (form and table record files) with 80 staff rows, the last job title's bytes replaced by
    ``title``, so that it sits well past the first 4 KB of its file."""
    folder.mkdir(parents=True, exist_ok=True)
    staff = [{**TABLES["staff"][i % 3], "job_title": f"{TABLES['staff'][i % 3]['job_title']} {i}"} for i in range(80)]
    staff[-1]["job_title"] = "PLACEHOLDER-TITLE"
    stem = folder / f"RJ1_{INST.id}_v{INST.version}_{ROUND}"
    form = {**FORM, INST.id_item: "RJ1", "org_name": ORGS["RJ1"], "signoff_date": FORM["signoff_date"].date()}
    answers = Answers(form, {**TABLES, "staff": staff})
    write_csv_return(INST, {"org_code": "RJ1", "org_name": ORGS["RJ1"]}, answers, stem)
    staff_file = stem.with_name(stem.name + "__staff.csv")
    staff_file.write_bytes(staff_file.read_bytes().replace(b"PLACEHOLDER-TITLE", title))
    return folder


def test_ingest__control_characters_after_4kb_of_a_csv__are_removed_with_a_warning_and_exports_work(run, tmp_path):
    folder = _csv_return(tmp_path / "in", b"Clinical\x00 Scientist\x1b[31m\x0b\x07 (Genomics)")
    staff = folder / f"RJ1_{INST.id}_v{INST.version}_{ROUND}__staff.csv"
    data = staff.read_bytes()
    assert data.index(b"\x00") > 4096
    run("ingest", folder, "--out", "run")
    with open("run/issues.csv", encoding="utf-8", newline="") as fh:
        issues = [r for r in csv.DictReader(fh) if r["code"] == "W015"]
    assert len(issues) == 1 and issues[0]["severity"] == "warning" and issues[0]["row"] == "81"
    assert "NUL" in issues[0]["message"] and "ESC" in issues[0]["message"] and "VT" in issues[0]["message"]
    assert issues[0]["value"] == "Clinical Scientist[31m (Genomics)"
    stored = query(Path("outputs/trust_survey.duckdb"),
                   "SELECT value FROM answers WHERE field_id = 'job_title' AND row_index = 80")
    assert list(stored.value) == ["Clinical Scientist[31m (Genomics)"]

    run("export", "--round", ROUND, "--format", "xlsx", "--out", "exp")
    wb = openpyxl.load_workbook(f"exp/{INST.id}_v{INST.version}_{ROUND}.xlsx")
    rows = list(wb["staff"].iter_rows(values_only=True))
    titles = [row[rows[0].index("job_title")] for row in rows[1:]]
    assert "Clinical Scientist[31m (Genomics)" in titles
    run("feedback", "--round", ROUND, "--out", "fb")
    fb = openpyxl.load_workbook(next(Path("fb").glob("RJ1_*_feedback.xlsx")))
    shown = [c.value for row in fb["Issues"].iter_rows() for c in row]
    assert any(isinstance(v, str) and v.startswith("W015") for v in shown)


def test_export__integer_items__are_whole_numbers_in_csv_and_excel(run, tmp_path):
    from ingest_helpers import make_return

    make_return(tmp_path / "in", "RJ1", form={"kf_in_post": 14, "kf_left_nhs": 0, "kf_dest_industry": 0},
                tables={"staff": [{**TABLES["staff"][0], "headcount": 14, "supervisors": None}]})
    run("ingest", tmp_path / "in", "--out", "run")
    run("export", "--round", ROUND, "--format", "csv", "--out", "exp")
    stem = f"exp/{INST.id}_v{INST.version}_{ROUND}"
    with open(f"{stem}_form.csv", encoding="utf-8", newline="") as fh:
        form = next(csv.DictReader(fh))
    assert (form["kf_in_post"], form["kf_left_nhs"], form["places_gen"]) == ("14", "0", "2")
    with open(f"{stem}_staff.csv", encoding="utf-8", newline="") as fh:
        staff = next(csv.DictReader(fh))
    assert (staff["headcount"], staff["supervisors"], staff["wte"]) == ("14", "", "2.5")   # blank stays blank
    with open(f"exp/submissions_{ROUND}.csv", encoding="utf-8", newline="") as fh:
        ledger = next(csv.DictReader(fh))
    assert ledger["round"] == str(ROUND) and "." not in ledger["submission_id"] + ledger["errors"]
    with open("run/issues.csv", encoding="utf-8", newline="") as fh:
        assert all("." not in r["row"] for r in csv.DictReader(fh))

    run("export", "--round", ROUND, "--format", "xlsx", "--out", "xl")
    ws = openpyxl.load_workbook(f"xl/{INST.id}_v{INST.version}_{ROUND}.xlsx")["form"]
    header = [c.value for c in ws[1]]
    values = dict(zip(header, [c.value for c in ws[2]]))
    assert type(values["kf_in_post"]) is int and values["kf_in_post"] == 14 and values["kf_left_nhs"] == 0


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_matching_outputs__have_ordinary_file_modes_under_umask_022(run, tmp_path):
    old = os.umask(0o022)
    try:
        src = tmp_path / "titles.csv"
        with src.open("w", encoding="utf-8", newline="") as fh:
            csv.writer(fh).writerows([["title"], ["Clinical Scientist (EPR)"], ["Scientist"], ["=1+1"]])
        review = tmp_path / "review.xlsx"
        overrides = tmp_path / "role_overrides.yaml"
        run("match", "titles", src, "--column", "title", "--out", tmp_path / "coded.csv", "--review-out", review,
            "--overrides", overrides, "--no-model")   # the rules alone send these titles to review
        wb = openpyxl.load_workbook(review)
        ws = wb[REVIEW_SHEET]
        assert ws.max_row >= 2, "no title went to review, so review-import would write nothing to check"
        for r in range(2, ws.max_row + 1):
            ws.cell(row=r, column=COL["action"], value="reject")
        wb.save(tmp_path / "filled.xlsx")
        run("match", "review-import", tmp_path / "filled.xlsx", "--overrides", overrides, "--reviewer", "kim")
        log = tmp_path / "role_overrides.decisions.csv"
        modes = {p.name: oct(_mode(p)) for p in (review, tmp_path / "coded.csv", overrides, log)}
        assert set(modes.values()) == {"0o644"}, modes
    finally:
        os.umask(old)


@pytest.mark.parametrize("value,expected", [
    ("=1+1", "'=1+1"), ("\uff0bcmd", "'\uff0bcmd"), ("  =HYPERLINK(1)", "'  =HYPERLINK(1)"), ("-3", "-3"),
    ("+44 20", "'+44 20"), ("a\x00b\x1bc", "abc"), ("line\nbreak\ttab", "line\nbreak\ttab"), (14, 14),
])
def test_write_csv_rows__neutralises_and_cleans_each_text_value(tmp_path, value, expected):
    from trust_survey.writers import write_csv_rows

    path = write_csv_rows(tmp_path / "x.csv", ["value"], [[value]])
    with path.open(encoding="utf-8", newline="") as fh:
        assert next(csv.DictReader(fh))["value"] == str(expected)


def test_save_workbook__keeps_own_formulas_only_on_named_sheets(tmp_path):
    from trust_survey.writers import save_workbook

    wb = openpyxl.Workbook()
    wb.active.title = "Data"
    wb["Data"]["A1"] = '=HYPERLINK("http://x","y")'
    wb["Data"]["A2"] = "@SUM(1+1)*cmd|' /C calc'!A0"
    checks = wb.create_sheet("Checks")
    checks["A1"] = "=SUM(1,2)"
    save_workbook(wb, tmp_path / "w.xlsx", formulas_on=("Checks",))
    back = openpyxl.load_workbook(tmp_path / "w.xlsx")
    assert back["Data"]["A1"].data_type == "s" and back["Data"]["A1"].value == '=HYPERLINK("http://x","y")'
    assert back["Data"]["A1"].quotePrefix and back["Data"]["A2"].quotePrefix
    assert back["Checks"]["A1"].data_type == "f"
    assert _mode(tmp_path / "w.xlsx") == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_write_csv_chunks__writes_one_header_and_neutralises_every_chunk(tmp_path):
    import pandas as pd

    from trust_survey.writers import write_csv_chunks

    frames = (pd.DataFrame({"title": [f"=cmd{i}", f"Nurse {i}"], "n": [i, -i]}) for i in range(3))
    path = write_csv_chunks(tmp_path / "x.csv", frames)
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == ["title", "n"] and len(rows) == 7
    assert [r[0] for r in rows[1:]] == ["'=cmd0", "Nurse 0", "'=cmd1", "Nurse 1", "'=cmd2", "Nurse 2"]
    assert [r[1] for r in rows[1:]] == ["0", "0", "1", "-1", "2", "-2"]


def test_write_csv_chunks__failing_part_way__leaves_no_file(tmp_path):
    import pandas as pd

    from trust_survey.writers import write_csv_chunks

    def frames():
        yield pd.DataFrame({"a": ["x"]})
        raise RuntimeError("coding failed")

    with pytest.raises(RuntimeError):
        write_csv_chunks(tmp_path / "x.csv", frames())
    assert list(tmp_path.iterdir()) == []
