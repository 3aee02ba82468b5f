"""`simulate`: read the simulated returns back and check them against the definition, with our own checker.

The checker here is deliberately independent of trust_survey.simulate and of ingest: it reads the cells a
trust would fill (via the layout) or the .sav/.csv variables, and applies the definition's rules itself.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import re
import shutil
from pathlib import Path

import openpyxl
import pandas as pd
import pyreadstat
import pytest
from click.testing import CliRunner

from trust_survey.common import constants as C
from trust_survey.build.spss import write_spss_templates
from trust_survey.cli import cli
from trust_survey.instruments import load_registry
from trust_survey.instruments.layout import build_layout

REPO = Path(__file__).resolve().parent.parent
ORGS = (
    "org_code,org_name,org_type,region_code,icb_code,contact_email\n"
    "RJ1,Guy's and St Thomas' NHS Foundation Trust,trust,Y56,QKK,\n"
    "RGT,Cambridge University Hospitals NHS Foundation Trust,trust,Y61,QUE,\n"
    "RRK,University Hospitals Birmingham NHS Foundation Trust,trust,Y60,QHL,\n"
    "RX4,Cumbria Northumberland Tyne and Wear NHS Foundation Trust,trust,Y63,QHM,\n"
    "RX9,East Midlands Ambulance Service NHS Trust,trust,Y60,QJM,\n"
    "QKK,NHS South East London Integrated Care Board,icb,Y56,,\n"
    "RHM,University Hospital Southampton NHS Foundation Trust,trust,Y59,QRL,\n"
    "RBV,The Christie NHS Foundation Trust,trust,Y62,QOP,\n"
)
CODES = [line.split(",")[0] for line in ORGS.splitlines()[1:]]
STEM = "{}_trust_capability_v1_2026"
INST = load_registry(REPO / "instruments").get("trust_capability")
LAYOUT = build_layout(INST)
FIELDS = {f.field_id: f for f in INST.fields()}
LISTS = INST.lists()


def simulate(out: Path, *extra, expect: int = 0):
    orgs = out.parent / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    result = CliRunner().invoke(cli, ["simulate", "--round", "2026", "--orgs", str(orgs), "--out", str(out),
                                      "--instruments", str(REPO / "instruments"), *map(str, extra)])
    assert result.exit_code == expect, result.output + repr(result.exception)
    return result


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    out = tmp_path_factory.mktemp("clean") / "sim"
    simulate(out, "--seed", 11)
    return out


@pytest.fixture(scope="module")
def messy(tmp_path_factory):
    out = tmp_path_factory.mktemp("messy") / "sim"
    simulate(out, "--seed", 11, "--messiness", 1)
    return out


# ---- reading returns back ------------------------------------------------------------------------------

def _sheet_reader(path: Path):
    """cell(sheet, row, col) for .xlsx (openpyxl) or .ods/.xls (calamine)."""
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path)
        return wb, lambda sheet, row, col: wb[sheet].cell(row=row, column=col).value
    from python_calamine import CalamineWorkbook

    book = CalamineWorkbook.from_path(str(path))
    grids = {name: book.get_sheet_by_name(name).to_python() for name in book.sheet_names}

    def cell(sheet, row, col):
        grid = grids[sheet]
        value = grid[row - 1][col - 1] if row <= len(grid) and col <= len(grid[row - 1]) else None
        return None if value == "" else value
    return grids, cell


def read_sheet_return(path: Path):
    """(form {field: value}, tables {table: [(data row number, {field: value})]}) from a spreadsheet."""
    _, cell = _sheet_reader(path)
    form = {c.field.field_id: cell(c.sheet, c.row, c.col) for c in LAYOUT.form_cells()}
    tables = {}
    for sheet in LAYOUT.table_sheets():
        rows = []
        for r in range(C.FIRST_DATA_ROW, sheet.last_row + 1):
            values = {col.field.field_id: cell(sheet.name, r, col.col) for col in sheet.columns}
            if any(v not in (None, "") for v in values.values()):
                rows.append((r - C.FIRST_DATA_ROW + 1, values))
        tables[sheet.section.table.id] = rows
    return form, tables


def _decode(field, value):
    """A .sav/.csv value back to what a spreadsheet would hold: labels, Yes/No, dates, numbers."""
    if value is None or value == "" or (isinstance(value, float) and math.isnan(value)):
        return None
    if field.choice_list:
        try:
            code = float(value)
        except ValueError:
            return value
        labels = {float(c.value): c.label for c in LISTS[field.choice_list]}
        return labels.get(code, value)
    if field.type == "date":
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                return value
        return value.date() if isinstance(value, dt.datetime) else value
    if field.type in ("integer", "decimal") and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def read_data_return(files: list[Path]):
    """The same structure from a return's .sav or .csv files (one per record type)."""
    form, tables = {}, {}
    for path in files:
        table = path.stem.split("__")[1] if "__" in path.stem else None
        if path.suffix == ".sav":
            df, _ = pyreadstat.read_sav(str(path), user_missing=True)
            records = df.to_dict("records")
        else:
            with open(path, newline="", encoding="utf-8") as fh:
                records = list(csv.DictReader(fh))
        fields = [f for f in INST.fields() if f.table == table]
        decoded = [{f.field_id: _decode(f, rec.get(f.var_name)) for f in fields} for rec in records]
        if table is None:
            form = decoded[0]
        else:
            tables[table] = list(enumerate(decoded, start=1))
    return form, tables


# ---- the checker ---------------------------------------------------------------------------------------

BAND = re.compile(r"^(?:afc\s*)?(?:band\s*|b)?\s*([2-9])\s*([a-d])?$", re.I)
DATE_TEXT = ("%d/%m/%Y", "%d.%m.%Y", "%d %b %Y")


def _clean(field, value):
    """What ingest is expected to make of common mess (the warnings the simulator injects)."""
    if isinstance(value, str):
        value = " ".join(value.split())
        if value.lower() in ("", "n/a", "na", "-", "--"):
            return None
        if field.type in ("integer", "decimal"):
            try:
                return float(value.replace(",", ""))
            except ValueError:
                return value
        if field.type == "date":
            for fmt in DATE_TEXT:
                try:
                    return dt.datetime.strptime(value, fmt).date()
                except ValueError:
                    pass
        if field.choice_list:
            labels = {c.label.lower(): c.label for c in LISTS[field.choice_list]}
            if field.choice_list == "afc_bands" and BAND.match(value):
                n, letter = BAND.match(value).groups()
                value = f"Band {n}{(letter or '').lower()}"
            return labels.get(value.lower(), value)
    return value


def _number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_value(field, value) -> str | None:
    item = field.item
    if value is None or value == "":
        return "required" if item.required and field.option is None else None
    if field.choice_list:
        return None if value in [c.label for c in LISTS[field.choice_list]] else "choice"
    if field.type in ("integer", "decimal"):
        if not _number(value) or (field.type == "integer" and not float(value).is_integer()):
            return "number"
        if (item.min is not None and value < item.min) or (item.max is not None and value > item.max):
            return "range"
        return None
    if field.type == "date":
        if not isinstance(value, dt.date):
            return "date"
        value = value.date() if isinstance(value, dt.datetime) else value
        return None if item.min_date <= value <= item.max_date else "range"
    if not isinstance(value, str) or value != value.strip():
        return "text"
    if item.max_length and len(value) > item.max_length:
        return "length"
    patterns = {"ods_code": r"^[A-Z0-9]{3,5}$", "email": r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                "postcode": r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$"}
    if field.type in patterns and not re.match(patterns[field.type], value):
        return field.type
    return None


OPS = {"<=": lambda a, b: a <= b + 1e-9, "==": lambda a, b: abs(a - b) < 1e-9, "<": lambda a, b: a < b}


def check_return(form, tables, *, lenient: bool = False) -> list[tuple]:
    """Every problem as (table or None, data row or None, field id, code)."""
    fix = _clean if lenient else (lambda f, v: v)
    form = {k: fix(FIELDS[k], v) for k, v in form.items()}
    tables = {t: [(n, {k: fix(FIELDS[k], v) for k, v in row.items()}) for n, row in rows]
              for t, rows in tables.items()}
    problems = []
    for fid, value in form.items():
        code = check_value(FIELDS[fid], value)
        if code:
            problems.append((None, None, fid, code))
    for rule in INST.rules:
        left = [form.get(r) for r in rule.left]
        right = [form.get(r) for r in rule.right]
        if any(_number(v) for v in left) and all(_number(v) or v is None for v in left + right):
            total = sum(v for v in left if _number(v)), sum(v for v in right if _number(v))
            if not OPS[rule.op](*total):
                problems.extend((None, None, ref, rule.id) for ref in rule.left + rule.right)
    for _, table in INST.tables():
        seen = {}
        for n, row in tables.get(table.id, []):
            for fid, value in row.items():
                code = check_value(FIELDS[fid], value)
                if code:
                    problems.append((table.id, n, fid, code))
            for rule in table.rules:
                left, right = row.get(rule.left[0]), row.get(rule.right[0])
                if _number(left) and _number(right) and not OPS[rule.op](left, right):
                    problems.extend((table.id, n, ref, rule.id) for ref in rule.left + rule.right)
            key = tuple(str(row.get(c) or "").strip().casefold() for c in table.unique)
            if table.unique and key in seen:
                problems.extend((table.id, n, c, "duplicate") for c in table.unique)
            seen.setdefault(key, n)
    return problems


def _manifest(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "simulation_manifest.csv", dtype=str, keep_default_na=False)


def _injections(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "simulation_injections.csv", dtype=str, keep_default_na=False)


def _read(out: Path, files: str):
    paths = [out / name for name in files.split(";")]
    if paths[0].suffix in (".xlsx", ".ods", ".xls"):
        return read_sheet_return(paths[0])
    return read_data_return(paths)


# ---- clean rounds --------------------------------------------------------------------------------------

def test_simulate__clean_round__every_org_returns_an_xlsx_that_passes_every_rule(clean):
    manifest = _manifest(clean)
    assert list(manifest["org_code"]) == CODES
    assert set(manifest["outcome"]) == {"valid"} and set(manifest["format"]) == {"xlsx"}
    for code in CODES:
        path = clean / f"{STEM.format(code)}.xlsx"
        wb = openpyxl.load_workbook(path)
        meta = {row[0].value: row[1].value for row in wb[C.META_SHEET].iter_rows()}
        assert (meta["org_code"], meta["round"], meta["instrument_id"]) == (code, 2026, "trust_capability")
        assert wb[C.META_SHEET].sheet_state == "veryHidden" and wb.security.lockStructure
        assert any(dv.type == "list" for dv in wb["Staff"].data_validations.dataValidation)
        cover = {wb[C.COVER_SHEET].cell(row=r, column=1).value: wb[C.COVER_SHEET].cell(row=r, column=2).value
                 for r in range(C.COVER_FIRST_ROW, C.COVER_FIRST_ROW + len(C.COVER_FIELDS))}
        assert cover["ODS code"] == code
        form, tables = read_sheet_return(path)
        assert form["org_code"] == code
        assert tables["staff"] and tables["departments"], code
        assert check_return(form, tables) == [], code


def test_simulate__clean_round__answers_look_like_the_organisation(clean):
    forms = {code: read_sheet_return(clean / f"{STEM.format(code)}.xlsx") for code in CODES}
    for glh in ("RJ1", "RGT"):
        form, tables = forms[glh]
        assert "Genomics or genetics laboratory" in {r["dept_type"] for _, r in tables["departments"]}
        assert form["will_gen"].startswith("Yes")
    form, tables = forms["QKK"]
    assert form["org_type"] == "Integrated care board" and form["icb_code"] is None
    assert forms["RX9"][0]["org_type"] == "Ambulance trust"
    titles = pd.read_csv(clean / "simulation_job_titles.csv")
    assert {"genomics", "health_informatics", "physical_sciences", "none"} <= set(titles["stream"])
    staff = [r for code in CODES for _, r in forms[code][1]["staff"]]
    assert [r["job_title"] for r in staff] == list(titles["job_title"])
    trainees = sum(forms[c][0][f"kf_trainees_{s}"] for c in CODES for s in ("gen", "hi", "ps"))
    assert trainees == sum(r["headcount"] for r in staff if r["band"] == "Trainee (STP or HSST)")


def test_simulate__same_seed_same_answers__other_seed_different(clean, tmp_path):
    again, other = tmp_path / "again", tmp_path / "other"
    simulate(again, "--seed", 11)
    simulate(other, "--seed", 12)
    for code in CODES:
        name = f"{STEM.format(code)}.xlsx"
        assert read_sheet_return(clean / name) == read_sheet_return(again / name), code
    differ = [code for code in CODES if read_sheet_return(clean / f"{STEM.format(code)}.xlsx")
              != read_sheet_return(other / f"{STEM.format(code)}.xlsx")]
    assert differ == CODES


def test_simulate__refuses_an_existing_folder_without_force(clean, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("x")
    result = simulate(out, expect=1)
    assert "[OUT001]" in result.output and "--force" in result.output
    simulate(out, "--force")
    assert not (out / "keep.txt").exists()


def test_simulate__individual_instrument_with_orgs__is_a_usage_error(tmp_path):
    result = simulate(tmp_path / "x", "--instrument", "individual_review", expect=2)
    assert "--respondents" in result.output


def test_simulate__trust_instrument_without_orgs__is_a_usage_error(tmp_path):
    result = CliRunner().invoke(cli, ["simulate", "--round", "2026", "--out", str(tmp_path / "x")])
    assert result.exit_code == 2 and "--orgs" in result.output


def test_simulate__help_ends_with_an_example():
    result = CliRunner().invoke(cli, ["simulate", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "--messiness" in result.output


# ---- messy rounds --------------------------------------------------------------------------------------

def test_simulate__messy_round__manifest_lists_every_outcome_and_format(messy):
    manifest = _manifest(messy)
    assert set(manifest["org_code"]) == set(CODES)
    assert {"not_returned", "with_errors", "with_warnings", "resubmitted"} <= set(manifest["outcome"])
    assert {"sav", "csv"} <= set(manifest["format"])
    if shutil.which("soffice"):
        assert {"ods", "xls"} <= set(manifest["format"])
    else:
        assert manifest["notes"].str.contains("skipped").any()
    for rec in manifest.itertuples():
        files = [f for f in rec.files.split(";") if f]
        assert all((messy / f).is_file() for f in files)
        assert bool(files) == (rec.outcome != "not_returned")
        assert all(f.startswith(rec.org_code + "_") for f in files)
    resub = manifest[manifest["outcome"] == "resubmitted"].iloc[0]
    first = manifest[(manifest["org_code"] == resub["org_code"]) & (manifest["submission"] == "1")].iloc[0]
    assert first["outcome"] == "with_errors"
    assert "_resubmitted" in resub["files"] and sorted([first["files"], resub["files"]])[0] == first["files"]
    first_time = (messy / first["files"].split(";")[0]).stat().st_mtime
    assert (messy / resub["files"].split(";")[0]).stat().st_mtime > first_time
    assert check_return(*_read(messy, resub["files"])) == []


def test_simulate__messy_round__each_injected_problem_is_in_its_file(messy):
    injections = _injections(messy)
    assert set(injections["severity"]) == {"error", "warning"}
    for inj in injections.itertuples():
        path = messy / inj.file
        if inj.cell:
            _, cell = _sheet_reader(path)
            col, row = openpyxl.utils.cell.coordinate_from_string(inj.cell)
            value = cell(inj.sheet, row, openpyxl.utils.column_index_from_string(col))
        elif path.suffix == ".sav":
            df, _ = pyreadstat.read_sav(str(path), user_missing=True)
            value = df[inj.variable].iloc[int(inj.row or 1) - 1]
        else:
            with open(path, newline="", encoding="utf-8") as fh:
                value = list(csv.DictReader(fh))[int(inj.row or 1) - 1][inj.variable]
        if isinstance(value, float) and (math.isnan(value) or value.is_integer()):
            value = None if math.isnan(value) else int(value)
        shown = "" if value is None else str(value)
        assert shown == inj.written, f"{inj.file} {inj.sheet}!{inj.cell} {inj.variable}: {shown!r}"
        if inj.kind == "number_as_text":
            assert isinstance(value, str)


def test_simulate__messy_round__errors_are_caught_and_warnings_clean_up(messy):
    manifest = _manifest(messy)
    injections = _injections(messy)
    for rec in manifest[manifest["files"] != ""].itertuples():
        form, tables = _read(messy, rec.files)
        mine = injections[(injections["org_code"] == rec.org_code)
                          & (injections["submission"] == rec.submission)]
        strict = check_return(form, tables)
        lenient = check_return(form, tables, lenient=True)
        where = {(t, n, f) for t, n, f, _ in lenient}
        for inj in mine[mine["severity"] == "error"].itertuples():
            key = (inj.table or None, int(inj.row) if inj.row else None, inj.field)
            assert key in where, f"{rec.files}: {inj.kind} at {key} not caught; found {lenient}"
        errors = mine[mine["severity"] == "error"]
        rows_hit = {(i.table, int(i.row)) for i in errors.itertuples() if i.table}
        form_hit = {i.field for i in errors.itertuples() if not i.table} | set(errors["kind"])
        unexplained = [p for p in lenient
                       if not ((p[0], p[1]) in rows_hit if p[0] else (p[2] in form_hit or p[3] in form_hit))]
        assert unexplained == [], f"{rec.files}: problems nobody injected: {unexplained}"
        if rec.outcome == "with_warnings":
            assert lenient == [] and strict != [], rec.files


@pytest.mark.parametrize("fmt", ["xlsx", "sav", "csv"])
def test_injector__every_kind_lands_in_the_file_and_errors_are_caught(fmt, tmp_path):
    from trust_survey.simulate.fill import fill_return
    from trust_survey.simulate.messiness import WARNING_KINDS, Injector, OrgPlan, error_kinds
    from trust_survey.simulate.writers import WorkbookFiller, write_csv, write_sav

    org = {"org_code": "RJ1", "org_name": "Guy's and St Thomas' NHS Foundation Trust", "region_code": "Y56"}
    answers, _ = fill_return(INST, org, 2026, seed=3)
    plan = OrgPlan(fmt=fmt, errors=len(error_kinds(INST)), warnings=len(WARNING_KINDS))
    spoiled, done = Injector(INST, seed=3).inject(answers, plan, "RJ1", seed=3)
    kinds = {i.kind for i in done}
    if fmt == "xlsx":
        # v1 has one date (used by date_not_a_date) and no number that may reach 1,000
        every = set(error_kinds(INST)) | set(WARNING_KINDS)
        assert every - kinds <= {"date_as_text", "thousands_separator"}
    else:
        assert {"wte_le_headcount", "destinations_add_up", "choice_not_in_list", "duplicate_row"} <= kinds
    stem = tmp_path / "RJ1_trust_capability_v1_2026"
    if fmt == "xlsx":
        filler = WorkbookFiller(INST, 2026, built_at="2026-10-01T00:00:00+00:00")
        form, tables = read_sheet_return(filler.write(org, spoiled, stem.with_suffix(".xlsx")))
    elif fmt == "sav":
        form, tables = read_data_return(write_sav(INST, org, 2026, spoiled, stem))
    else:
        form, tables = read_data_return(write_csv(INST, org, spoiled, stem))
    strict = {(t, n, f) for t, n, f, _ in check_return(form, tables)}
    lenient = check_return(form, tables, lenient=True)
    caught = {(t, n, f) for t, n, f, _ in lenient}
    for inj in done:
        key = (inj.table, None if inj.row is None else inj.row + 1, inj.field_id)
        assert key in (caught if inj.severity == "error" else strict), (inj.kind, key)
    error_rows = {(i.table, i.row + 1) if i.table else (None, i.field_id)
                  for i in done if i.severity == "error"}
    rules = {i.kind for i in done}
    assert all((t, n) in error_rows if t else ((None, f) in error_rows or code in rules)
               for t, n, f, code in lenient), lenient


def test_simulate__sav_and_csv_returns_have_the_template_shape(messy, tmp_path):
    manifest = _manifest(messy)
    for fmt in ("sav", "csv"):
        rec = manifest[manifest["format"] == fmt].iloc[0]
        code = rec["org_code"]
        templates = write_spss_templates(INST, {"org_code": code, "org_name": rec["org_name"]}, 2026,
                                         tmp_path / STEM.format(code))
        files = rec["files"].split(";")
        assert sorted(files) == sorted(t.with_suffix(f".{fmt}").name for t in templates)
        for template in templates:
            expected = list(pyreadstat.read_sav(str(template), metadataonly=True)[1].column_names)
            path = messy / template.with_suffix(f".{fmt}").name
            if fmt == "sav":
                df, meta = pyreadstat.read_sav(str(path), user_missing=True)
                assert f"org_code={code}" in meta.notes
                assert meta.variable_value_labels.get("band", {1: 1}) == \
                    pyreadstat.read_sav(str(template))[1].variable_value_labels.get("band", {1: 1})
            else:
                df = pd.read_csv(path, dtype=str, keep_default_na=False)
            assert list(df.columns) == expected
            assert set(df[expected[0]]) <= {code}


def test_simulate__without_libreoffice_ods_and_xls_are_written_as_xlsx_and_noted(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    out = tmp_path / "sim"
    result = simulate(out, "--seed", 11, "--messiness", 1)
    assert "skipped .ods" in result.output
    manifest = _manifest(out)
    noted = manifest[manifest["notes"].str.contains("ods skipped|xls skipped")]
    assert len(noted) >= 2 and set(noted["format"]) == {"xlsx"}
    assert not list(out.glob("*.ods")) and not list(out.glob("*.xls"))


# ---- individuals ---------------------------------------------------------------------------------------

def test_simulate_individuals__group_means_match_the_report():
    from trust_survey.simulate import simulate_individuals

    inst = load_registry(REPO / "instruments").get("individual_review")
    scale = next(s for s in inst.scales if s.id == "equity_sensitivity")
    for n in (21, 200):
        df = simulate_individuals(inst, n, 2026, seed=5)
        assert len(df) == n and df["respondent_id"].is_unique
        keyed = pd.DataFrame({i: (6 - df[i]) if inst.item(i).reverse else df[i] for i in scale.items})
        means = keyed.mean(axis=1).groupby(df["group"]).mean()
        for group, target in {"trainee": 4.03, "current": 4.24, "former": 4.14}.items():
            assert abs(means[group] - target) < 0.05, (n, group, means[group])
        assert df[list(scale.items)].isin([1, 2, 3, 4, 5]).all().all()
    counts = simulate_individuals(inst, 21, 2026, seed=5)["group"].value_counts()
    assert counts.to_dict() == {"trainee": 12, "former": 5, "current": 4}
    assert simulate_individuals(inst, 21, 2026, seed=5).equals(simulate_individuals(inst, 21, 2026, seed=5))


@pytest.mark.parametrize("name, kind", [
    ("Manchester University NHS Foundation Trust", "acute"),
    ("South London and Maudsley NHS Foundation Trust", "mental"),
    ("Birmingham Women's and Children's NHS Foundation Trust", "specialist"),
    ("East Midlands Ambulance Service NHS Trust", "ambulance"),
])
def test_org_kind__is_read_from_whole_words_of_the_name(name, kind):
    from trust_survey.simulate.fill import org_kind

    assert org_kind({"org_code": "RXX", "org_name": name, "org_type": "trust"}) == kind
    assert org_kind({"org_code": "RXX", "org_name": name, "trust_type": "community"}) == "community"


# ---- individuals' returns as files ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def individual_files(tmp_path_factory):
    out = tmp_path_factory.mktemp("individuals") / "ir"
    result = CliRunner().invoke(cli, ["simulate", "--instrument", "individual_review", "--round", "2026",
                                      "--respondents", "21", "--out", str(out), "--seed", "5",
                                      "--instruments", str(REPO / "instruments")])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return out, result.output


def test_simulate_individuals__files__platform_csv_has_every_mapped_column_and_the_personal_ones(individual_files):
    from trust_survey.ingest.platform_csv import load_mapping, read_platform_csv

    out, said = individual_files
    inst = load_registry(REPO / "instruments").get("individual_review")
    mapping_path = REPO / "instruments" / "mappings" / "individual_review.platform.v1.yaml"
    mapping = load_mapping(mapping_path, inst)
    export = out / "individual_review_platform_export_2026.csv"
    assert f"wrote survey-platform export: {export}" in said
    raw = pd.read_csv(export, dtype=str, keep_default_na=False, encoding="utf-8-sig")
    assert list(raw.columns) == [*mapping.drop, *mapping.personal, *mapping.columns]
    assert raw["Recipient Email"].str.contains("@").all() and (raw["Recipient Last Name"] != "").all()
    frame, issues = read_platform_csv(export, mapping_path, inst)
    assert not [i for i in issues if i.severity == "error"], [i.message for i in issues]
    assert {"Recipient Email", "Recipient First Name"}.isdisjoint(frame.columns)
    manifest = pd.read_csv(out / "individual_manifest.csv")
    assert len(manifest) == 21 and manifest["respondent_id"].is_unique
    assert manifest["format"].value_counts().to_dict() == {"platform_csv": 16, "xlsx": 3, "sav": 2}
    in_csv = manifest.loc[manifest["format"] == "platform_csv", "respondent_id"].tolist()
    assert frame["respondent_id"].tolist() == in_csv
    assert set(frame["group"].dropna().astype(int)) <= {1, 2, 3}


def test_simulate_individuals__files__workbooks_and_sav_hold_the_same_answers_as_the_simulation(individual_files):
    from trust_survey.simulate import simulate_individuals

    out, _ = individual_files
    inst = load_registry(REPO / "instruments").get("individual_review")
    truth = simulate_individuals(inst, 21, 2026, seed=5).set_index("respondent_id")
    manifest = pd.read_csv(out / "individual_manifest.csv")
    layout = build_layout(inst)
    likert = {c.label: c.value for c in inst.lists()["likert5"]}
    for rid in manifest.loc[manifest["format"] == "xlsx", "respondent_id"]:
        wb = openpyxl.load_workbook(out / f"{rid}_individual_review_v1_2026.xlsx")
        place = layout.locate("eq_owed")
        assert likert[wb[place.sheet][place.address].value] == truth.at[rid, "eq_owed"]
        place = layout.locate("respondent_id")
        assert wb[place.sheet][place.address].value == rid
    for rid in manifest.loc[manifest["format"] == "sav", "respondent_id"]:
        df, _ = pyreadstat.read_sav(str(out / f"{rid}_individual_review_v1_2026.sav"))
        assert df["RESPID"].str.strip().tolist() == [rid]
        assert df["eq_give_more"].tolist() == [truth.at[rid, "eq_give_more"]]
