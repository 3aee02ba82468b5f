"""`instruments build` and `instruments codebook`: read the built files back and check what is inside."""
from __future__ import annotations

import hashlib
import re
import subprocess

import openpyxl
import pandas as pd
import pyreadstat
import pytest

from trust_survey.common import constants as C
from trust_survey.instruments import load_registry
from trust_survey.instruments.layout import build_layout

ORGS = (
    "org_code,org_name,org_type,region_code,icb_code,contact_email\n"
    "RJ1,Guy's and St Thomas' NHS Foundation Trust,trust,Y56,QKK,lead@gstt.example\n"
    "rgt,Cambridge University Hospitals NHS Foundation Trust,trust,Y61,QUE,\n"
)


@pytest.fixture
def orgs_csv(tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_text(ORGS, encoding="utf-8")
    return path


@pytest.fixture
def built(run, tmp_path, orgs_csv):
    out = tmp_path / "round"
    run("instruments", "build", "trust_capability", "--orgs", orgs_csv, "--round", 2026, "--out", out,
        "--format", "all", "--deadline", "31 March 2027")
    return out


def test_build__writes_one_workbook_and_sav_set_per_org_and_a_true_register(built):
    names = sorted(p.name for p in built.iterdir())
    assert "RJ1_trust_capability_v1_2026.xlsx" in names
    assert "RGT_trust_capability_v1_2026.xlsx" in names  # codes are upper-cased
    assert "RJ1_trust_capability_v1_2026__staff.sav" in names
    register = pd.read_csv(built / "distribution.csv")
    assert set(register["org_code"]) == {"RJ1", "RGT"}
    for rec in register.itertuples():
        assert hashlib.sha256((built / rec.file).read_bytes()).hexdigest() == rec.sha256
    assert len(register) == len(names) - 1


def test_workbook__sheets_states_and_protection(built):
    wb = openpyxl.load_workbook(built / "RJ1_trust_capability_v1_2026.xlsx")
    inst = load_registry().get("trust_capability")
    sections = [s.sheet_name for s in inst.sections]
    assert wb.sheetnames == [C.COVER_SHEET, *sections, C.CHECKS_SHEET, C.LISTS_SHEET, C.META_SHEET]
    assert wb[C.LISTS_SHEET].sheet_state == "hidden"
    assert wb[C.META_SHEET].sheet_state == "veryHidden"
    assert wb.security.lockStructure
    for ws in wb.worksheets:
        assert ws.protection.sheet, f"{ws.title} is not protected"
        assert not ws.merged_cells.ranges, f"{ws.title} has merged cells"
    cover = wb[C.COVER_SHEET]
    assert cover["A1"].value == "Clinical bioinformatics training capacity return 2026"
    cover_values = {cover.cell(row=r, column=1).value: cover.cell(row=r, column=2).value
                    for r in range(C.COVER_FIRST_ROW, C.COVER_FIRST_ROW + len(C.COVER_FIELDS))}
    assert cover_values["ODS code"] == "RJ1"
    assert cover_values["Organisation"] == "Guy's and St Thomas' NHS Foundation Trust"
    assert cover_values["Survey round"] == 2026
    assert cover_values["Return by"] == "31 March 2027"


def test_workbook__only_answer_cells_are_unlocked(built):
    wb = openpyxl.load_workbook(built / "RJ1_trust_capability_v1_2026.xlsx")
    layout = build_layout(load_registry().get("trust_capability"))
    for sheet in layout.sheets:
        ws = wb[sheet.name]
        unlocked = {(c.row, c.column) for row in ws.iter_rows() for c in row if not c.protection.locked}
        if sheet.is_table:
            expected = {(r, col.col) for col in sheet.columns for r in range(col.first_row, col.last_row + 1)}
        else:
            expected = {(c.row, c.col) for c in sheet.form}
        assert unlocked == expected, sheet.name
        if sheet.is_table:  # one header row, labels from the definition
            headers = [ws.cell(row=1, column=col.col).value for col in sheet.columns]
            assert headers[0].startswith(sheet.columns[0].field.label)
        else:
            assert tuple(ws.cell(row=1, column=i).value for i in range(1, 5)) == C.FORM_HEADERS
    # The org code is pre-filled where the question asks for it.
    org_cell = layout.locate("org_code")
    assert wb[org_cell.sheet][org_cell.address].value == "RJ1"


def test_workbook__dropdowns_use_named_ranges_and_numbers_have_stop_alerts(built):
    wb = openpyxl.load_workbook(built / "RJ1_trust_capability_v1_2026.xlsx")
    inst = load_registry().get("trust_capability")
    layout = build_layout(inst)
    staff = layout.sheet("staff")
    ws = wb[staff.name]
    by_range = {str(r): dv for dv in ws.data_validations.dataValidation for r in dv.sqref.ranges}
    band = next(c for c in staff.columns if c.field.field_id == "band")
    dv = by_range[band.range]
    assert dv.type == "list" and dv.formula1 == "=lst_afc_bands" and dv.errorStyle == "stop"
    headcount = next(c for c in staff.columns if c.field.field_id == "headcount")
    dv = by_range[headcount.range]
    assert (dv.type, dv.operator, dv.formula1, dv.formula2) == ("whole", "between", "0", "500")
    assert dv.showErrorMessage and dv.errorStyle == "stop" and dv.prompt
    wte = next(c for c in staff.columns if c.field.field_id == "wte")
    assert by_range[wte.range].type == "decimal"
    date_cell = layout.locate("signoff_date")
    dv = next(dv for dv in wb[date_cell.sheet].data_validations.dataValidation
              if date_cell.address in str(dv.sqref))
    assert dv.type == "date" and dv.formula1 == "DATE(2020,1,1)"
    # No inline lists anywhere: every list validation points at a defined name on the Lists sheet.
    for ws in wb.worksheets:
        for dv in ws.data_validations.dataValidation:
            if dv.type == "list":
                name = dv.formula1.lstrip("=")
                assert not dv.formula1.startswith('"')
                target = wb.defined_names[name].attr_text
                assert target.replace("'", "").startswith(f"{C.LISTS_SHEET}!$")
    lists = wb[C.LISTS_SHEET]
    bands = next(col for col in lists.iter_cols(values_only=True) if col[0] == "afc_bands")
    assert "Band 8a" in bands and "Band 7" in bands


def test_workbook__meta_sheet_identifies_the_return(built):
    wb = openpyxl.load_workbook(built / "RGT_trust_capability_v1_2026.xlsx")
    meta = {row[0]: row[1] for row in wb[C.META_SHEET].iter_rows(values_only=True)}
    inst = load_registry().get("trust_capability")
    assert meta["instrument_id"] == "trust_capability"
    assert meta["instrument_version"] == 1
    assert meta["round"] == 2026
    assert meta["org_code"] == "RGT"
    assert meta["definition_sha256"] == inst.definition_hash()


def test_workbook__checks_sheet_counts_required_answers(built):
    wb = openpyxl.load_workbook(built / "RJ1_trust_capability_v1_2026.xlsx")
    ws = wb[C.CHECKS_SHEET]
    rows = {r[0]: r[1] for r in ws.iter_rows(min_row=2, values_only=True)}
    assert rows["Organisation"].startswith("=COUNTBLANK(")
    assert "SUMPRODUCT" in rows["Staff"]
    assert rows["Total"].startswith("=SUM(")


def test_sav_templates__carry_labels_missing_codes_and_identity(built):
    df, meta = pyreadstat.read_sav(str(built / "RJ1_trust_capability_v1_2026.sav"), user_missing=True)
    assert df.loc[0, "ORGCODE"] == "RJ1"
    assert meta.column_names_to_labels["ORGCODE"] == "ODS organisation code"
    assert meta.variable_value_labels["will_gen"][1.0] == "Yes - ready to host now"
    assert meta.variable_value_labels["will_gen"][-9.0] == "Not answered"
    assert {"lo": -9.0, "hi": -9.0} in meta.missing_ranges["will_gen"]
    assert meta.variable_measure["kf_in_post"] == "scale"
    assert "instrument_id=trust_capability" in meta.notes
    staff, smeta = pyreadstat.read_sav(str(built / "RJ1_trust_capability_v1_2026__staff.sav"))
    assert list(staff.columns) == ["ORGCODE", "job_title", "staff_dept", "band", "headcount", "wte",
                                   "registration", "supervisors"]
    assert smeta.original_variable_types["job_title"] == "A150"  # wide enough for a typed title
    assert smeta.variable_value_labels["band"][81.0] == "Band 8a"


def test_build__refuses_existing_output_without_force(run, built, orgs_csv):
    before = (built / "distribution.csv").read_bytes()
    result = run("instruments", "build", "trust_capability", "--orgs", orgs_csv, "--round", 2026,
                 "--out", built, expect=1)
    assert "[OUT001]" in result.stderr and "--force" in result.stderr
    assert (built / "distribution.csv").read_bytes() == before
    run("instruments", "build", "trust_capability", "--orgs", orgs_csv, "--round", 2026, "--out", built, "--force")
    assert not list(built.glob("*.sav"))  # replaced by the xlsx-only build


@pytest.mark.parametrize("content, message", [
    ("org_code,org_name\nRJ1,A\nRJ1,B\n", "line 3: org_code 'RJ1' repeats line 2"),
    ("org_code,org_name\nR-J1,A\n", "line 2: org_code 'R-J1' is not an ODS code"),
    ("org_code,org_name\n,A\n", "line 2: org_code is blank"),
    ("org_cde,org_name\nRJ1,A\n", "missing column(s) org_code; did you mean 'org_cde'?"),
    ("org_code,org_name,region_code\nRJ1,A,London\n", "line 2: region_code 'LONDON' is not an NHS England region"),
    ("org_code,org_name\nRJ1,A,extra\n", "the header has 2 fields but record 2 has 3"),
    ("", "empty file"),
])
def test_build__bad_orgs_file_names_the_line(run, tmp_path, content, message):
    bad = tmp_path / "orgs.csv"
    bad.write_text(content, encoding="utf-8")
    result = run("instruments", "build", "trust_capability", "--orgs", bad, "--round", 2026,
                 "--out", tmp_path / "out", expect=1)
    assert message in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_build__reads_a_windows_1252_orgs_file(run, tmp_path):
    path = tmp_path / "orgs.csv"
    path.write_bytes("org_code,org_name\nRJ1,St Thomas\u2019 Hospital\n".encode("cp1252"))
    out = tmp_path / "out"
    run("instruments", "build", "trust_capability", "--orgs", path, "--round", 2026, "--out", out)
    wb = openpyxl.load_workbook(out / "RJ1_trust_capability_v1_2026.xlsx")
    assert wb[C.COVER_SHEET].cell(row=C.COVER_FIRST_ROW, column=2).value == "St Thomas\u2019 Hospital"


def test_build__unknown_instrument_suggests_the_near_miss(run, orgs_csv, tmp_path):
    result = run("instruments", "build", "trust_capabilty", "--orgs", orgs_csv, "--round", 2026,
                 "--out", tmp_path / "o", expect=1)
    assert "unknown instrument 'trust_capabilty'; did you mean 'trust_capability'?" in result.stderr


def test_build__round_out_of_range_is_a_usage_error(run, orgs_csv):
    run("instruments", "build", "trust_capability", "--orgs", orgs_csv, "--round", 1066, expect=2)


def test_codebook__xlsx_and_markdown_list_every_variable(run, tmp_path):
    run("instruments", "codebook", "trust_capability", "--out", tmp_path / "cb.xlsx")
    cb = pd.read_excel(tmp_path / "cb.xlsx", engine="calamine")
    inst = load_registry().get("trust_capability")
    assert list(cb["variable"]) == [f.var_name for f in inst.fields()]
    band = cb.set_index("variable").loc["band"]
    assert "81=Band 8a" in band["allowed_values"] and band["item_id"] == "band" and band["sheet"] == "Staff"
    run("instruments", "codebook", "individual_review", "--out", tmp_path / "cb.md")
    md = (tmp_path / "cb.md").read_text()
    assert "| RESPID |" in md and "## Scales" in md and "equity_sensitivity" in md
    run("instruments", "codebook", "individual_review", "--out", tmp_path / "cb.md", expect=1)
    run("instruments", "codebook", "individual_review", "--out", tmp_path / "cb.txt", expect=1)


# ---- real programs ---------------------------------------------------------------------------------

def test_workbook__prints_every_column_across_one_page_with_the_header_on_each_page(built):
    wb = openpyxl.load_workbook(built / "RJ1_trust_capability_v1_2026.xlsx")
    layout = build_layout(load_registry().get("trust_capability"))
    printed = [ws for ws in wb.worksheets if ws.sheet_state == "visible"]
    assert [ws.title for ws in printed] == [C.COVER_SHEET, *(s.name for s in layout.sheets), C.CHECKS_SHEET]
    for ws in printed:
        setup = ws.page_setup
        assert ws.sheet_properties.pageSetUpPr.fitToPage, ws.title
        assert (setup.fitToWidth, setup.fitToHeight) == ((1, 1) if ws.title == C.COVER_SHEET else (1, 0)), ws.title
        assert int(setup.paperSize) == int(ws.PAPERSIZE_A4)
        area = ws.print_area
        assert area and area.endswith(f"${openpyxl.utils.get_column_letter(ws.max_column)}${ws.max_row}"), \
            (ws.title, area, ws.max_column, ws.max_row)
        if ws.title != C.COVER_SHEET:
            assert ws.print_title_rows == "$1:$1", ws.title
    organisation = wb[layout.sheet("organisation").name]
    assert organisation.page_setup.orientation == "landscape"          # Ref, Question, Answer, Guidance: wide
    assert wb[C.CHECKS_SHEET].page_setup.orientation == "portrait"


def _pdf_pages(pdf) -> list[str]:
    from pypdf import PdfReader

    return [" ".join(page.extract_text().split()) for page in PdfReader(str(pdf)).pages]


@pytest.mark.libreoffice
def test_libreoffice__prints_questions_beside_their_answers_on_few_pages(built, soffice_pdf, tmp_path):
    inst = load_registry().get("trust_capability")
    layout = build_layout(inst)
    src = built / "RJ1_trust_capability_v1_2026.xlsx"
    # A trust that lists 150 staff: the staff sheet runs over several pages, each headed by the columns.
    wb = openpyxl.load_workbook(src)
    title = layout.locate("job_title")
    staff = wb[title.sheet]
    for row in range(title.first_row, title.last_row + 1):
        staff.cell(row=row, column=title.col, value=f"Clinical scientist number {row:03d}")
    filled = tmp_path / src.name
    wb.save(filled)
    pages = _pdf_pages(soffice_pdf(filled))

    sheets = 2 + len(layout.sheets)
    assert sheets <= len(pages) <= sheets + 8, len(pages)     # it was 34 pages before, most half a sheet wide
    assert inst.title in pages[0] and "Return by" in pages[0]
    last_section = inst.sections[-1]
    assert (last_section.help or last_section.title).split()[0] in pages[0]   # the cover's last line: one page
    question = layout.locate("org_name").field.label
    with_question = [p for p in pages if question in p]
    assert len(with_question) == 1 and "Guy's and St Thomas' NHS Foundation Trust" in with_question[0]
    for page in pages:
        if "Ref Question" in page:
            assert "Ref Question Answer Guidance" in page    # all four columns across one page width
    header = layout.locate("job_title").header
    staff_pages = [p for p in pages if "Clinical scientist number" in p]
    assert len(staff_pages) >= 2
    for page in staff_pages:
        assert page.count(header) >= 1, page[:300]     # the header row is repeated on every page
    numbers = sorted(int(n) for p in staff_pages for n in re.findall(r"Clinical scientist number (\d{3})", p))
    assert numbers == list(range(title.first_row, title.last_row + 1))


@pytest.mark.libreoffice
def test_libreoffice__fills_within_the_rules_and_resave_keeps_meta(built, libreoffice, tmp_path):
    from python_calamine import CalamineWorkbook

    src = built / "RJ1_trust_capability_v1_2026.xlsx"
    out = tmp_path / "filled.xlsx"
    proc = subprocess.run(
        ["python3", str(libreoffice), str(src), str(out), "--json", "--recalc",
         "--set", "Staff!A2=Clinical Scientist (Bioinformatics)", "--set", "Staff!C2=Band 99",
         "--set", "Staff!D2=3", "--set", "Organisation!C4=Acute trust"],
        capture_output=True, text=True, timeout=180)
    assert proc.returncode == 0, proc.stderr
    assert '"Staff!C2"' in proc.stdout.split('"invalid"')[1]  # not a band: the drop-down rejects it
    wb = CalamineWorkbook.from_path(str(out))
    meta = dict((r[0], r[1]) for r in wb.get_sheet_by_name(C.META_SHEET).to_python())
    assert meta["org_code"] == "RJ1" and meta["instrument_id"] == "trust_capability"
    checks = {r[0]: r[1] for r in wb.get_sheet_by_name(C.CHECKS_SHEET).to_python()[1:]}
    # Staff row 2 was started: 3 required cells (WTE, registration, department) are still empty.
    assert checks["Staff"] == 3
    assert checks["Departments"] == 0

    refused = subprocess.run(
        ["python3", str(libreoffice), str(src), str(tmp_path / "x.xlsx"), "--set", "Organisation!B2=typed"],
        capture_output=True, text=True, timeout=180)
    assert refused.returncode == 3 and "locked cell" in refused.stderr
    assert not (tmp_path / "x.xlsx").exists()


@pytest.mark.pspp
def test_pspp__opens_the_sav_template_and_shows_its_labels(built, pspp, tmp_path):
    syntax = tmp_path / "show.sps"
    syntax.write_text(
        f"GET FILE='{built / 'RJ1_trust_capability_v1_2026.sav'}'.\n"
        "DISPLAY DICTIONARY /VARIABLES=ORGCODE will_gen kf_in_post.\n"
        "LIST ORGCODE.\n", encoding="utf-8")
    proc = subprocess.run(["pspp", "-O", "format=txt", str(syntax)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = " ".join(proc.stdout.split())
    assert "Yes - ready to host now" in out
    assert "Not answered" in out and "-9" in out
    assert "Scale" in out and "Nominal" in out
    assert "RJ1" in out


@pytest.mark.parametrize("can_fork", [True, False])
def test_build__large_round_uses_worker_processes_and_loses_no_organisation(run, tmp_path, monkeypatch, can_fork):
    from trust_survey.build.orchestrate import PARALLEL_FROM

    if not can_fork:   # as on Windows: every workbook is built in this process
        import multiprocessing
        import os

        def no_fork():
            raise AssertionError("forked although fork is unavailable")

        monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])
        monkeypatch.setattr(os, "fork", no_fork)
    n = PARALLEL_FROM + 3
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("org_code,org_name\n" + "".join(f"R{i:02d}X,Trust {i}\n" for i in range(n)), encoding="utf-8")
    out = tmp_path / "big"
    run("instruments", "build", "trust_capability", "--orgs", orgs, "--round", 2027, "--out", out)
    register = pd.read_csv(out / "distribution.csv")
    assert sorted(register["org_code"]) == sorted(f"R{i:02d}X" for i in range(n))
    wb = openpyxl.load_workbook(out / "R07X_trust_capability_v1_2027.xlsx")
    meta = {row[0]: row[1] for row in wb[C.META_SHEET].iter_rows(values_only=True)}
    assert meta["org_code"] == "R07X" and meta["round"] == 2027


def test_build__individual_instrument__takes_respondent_ids_and_keeps_no_names(run, tmp_path):
    people = tmp_path / "respondents.csv"
    people.write_text("respondent_id,org_name,contact_email\nIR2026-0001,Jo Bloggs,jo@nhs.example\n"
                      "ir2026-0002,,\n", encoding="utf-8")
    out, db = tmp_path / "ir", tmp_path / "s.duckdb"
    run("instruments", "build", "individual_review", "--orgs", people, "--round", 2026, "--out", out, "--db", db)
    wb = openpyxl.load_workbook(out / "IR2026-0001_individual_review_v1_2026.xlsx")
    cover = {r[0]: r[1] for r in wb[C.COVER_SHEET].iter_rows(min_row=C.COVER_FIRST_ROW, max_row=8, values_only=True)}
    assert cover["Respondent id"] == "IR2026-0001" and "Organisation" not in cover and "ODS code" not in cover
    texts = {str(v) for ws in wb.worksheets for row in ws.iter_rows(values_only=True) for v in row if v is not None}
    assert not any("Bloggs" in t for t in texts)
    assert (out / "IR2026-0002_individual_review_v1_2026.xlsx").exists()
    run("instruments", "build", "individual_review", "--orgs", people, "--round", 2026, "--out", out, "--db", db,
        "--force")   # building the round again updates the distribution, never duplicates it
    import duckdb

    con = duckdb.connect(str(db), read_only=True)
    try:
        got = con.execute("SELECT org_code, org_name FROM distribution ORDER BY org_code").fetchall()
    finally:
        con.close()
    assert got == [("IR2026-0001", ""), ("IR2026-0002", "")]


def test_build__individual_instrument__bad_respondent_ids_are_listed(run, tmp_path):
    people = tmp_path / "respondents.csv"
    people.write_text("respondent_id\nIR 1\nIR-2\nIR-2\n", encoding="utf-8")
    result = run("instruments", "build", "individual_review", "--orgs", people, "--round", 2026, "--out",
                 tmp_path / "ir", expect=1)
    assert "[ORG002]" in result.stderr and "line 2: respondent_id 'IR 1'" in result.stderr
    assert "line 4: respondent_id 'IR-2' repeats line 3" in result.stderr
