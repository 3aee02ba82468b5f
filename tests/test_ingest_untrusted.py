"""Returns that try to pass for another trust's, impossible dates, half-refused returns, links and special
files: each is reported on its file or cell with its reason, the run goes on, and what was stored before
is exactly as it was (a good return is ingested first, then the hostile ones, then the two are compared)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ingest_helpers import FORM, INST, ORGS, ROUND, address, make_return, query, read_issues

DB = Path("outputs/trust_survey.duckdb")
GOOD = f"RJ1_trust_capability_v1_{ROUND}.xlsx"


def ingest(run, *paths, out="run", expect=0):
    result = run("ingest", *paths, "--out", out, "--engine", "pandas", expect=expect)
    assert "Traceback" not in result.stdout + result.stderr and "TS999" not in result.stdout + result.stderr
    return result


def stored() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every stored submission's ledger row, and every stored answer."""
    return (query(DB, "SELECT * FROM submissions ORDER BY submission_id"),
            query(DB, "SELECT * FROM answers ORDER BY ALL"))


def assert_unchanged(before: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The submissions stored before, and their answers, are exactly as they were."""
    subs, answers = stored()
    ids = set(before[0].submission_id)
    assert len(ids) and ids <= set(subs.submission_id)
    pd.testing.assert_frame_equal(subs[subs.submission_id.isin(ids)].reset_index(drop=True), before[0])
    pd.testing.assert_frame_equal(answers[answers.submission_id.isin(ids)].reset_index(drop=True), before[1])


def files_row(out: str, name: str) -> pd.Series:
    files = pd.read_csv(Path(out) / "files.csv", dtype=str, keep_default_na=False).set_index("file")
    return files.loc[name]


# ---- 4. dates no calendar holds ---------------------------------------------------------------------------

def _sav_return(folder: Path, org: str, signoff_seconds: float) -> list[Path]:
    """The toolkit's SPSS template set for ``org``, its form case filled with valid answers and a sign-off
    date of ``signoff_seconds`` (SPSS counts seconds from 14/10/1582), saved again with pyreadstat."""
    import pyreadstat

    from trust_survey.build.spss import write_spss_templates

    folder.mkdir(parents=True, exist_ok=True)
    paths = write_spss_templates(INST, {"org_code": org, "org_name": ORGS[org]}, ROUND,
                                 folder / f"{org}_trust_capability_v1_{ROUND}")
    form, meta = pyreadstat.read_sav(str(paths[0]), user_missing=True, disable_datetime_conversion=True)
    form["signoff_date"] = [signoff_seconds]
    form["signoff_name"] = [FORM["signoff_name"]]
    pyreadstat.write_sav(form, str(paths[0]), variable_format=meta.original_variable_types, note=meta.notes,
                         column_labels=meta.column_names_to_labels)
    return paths


def test_ingest__date_serial_for_31_12_9999__is_out_of_bounds_on_its_cell_and_the_run_goes_on(run, tmp_path):
    ingest(run, make_return(tmp_path / "good"), out="first")
    before = stored()
    sheet, cell = address("signoff_date")
    late = make_return(tmp_path / "in", "RGT", cells={(sheet, cell): 2958465})   # Excel's 31/12/9999
    other = make_return(tmp_path / "in", "RRK", form={"signoff_date": "31/12/9999"})   # typed as text
    beyond = _sav_return(tmp_path / "sav", "RBV", 1e15)   # past the year 9999: pyreadstat cannot convert it
    fine = make_return(tmp_path / "in", "RGT", round_=ROUND, name=f"RGT_ok_{ROUND}.xlsx")
    ingest(run, late, other, beyond[0].parent, fine, expect=1)
    issues = read_issues(Path("run"))
    found = issues[(issues.file == late.name) & (issues.code == "V003")].iloc[0]
    assert (found.sheet, found.cell, found.value) == (sheet, cell, "31/12/9999")
    assert found.expected == "a date from 01/01/2020 to 31/12/2035" and "Date signed off is 31/12/9999" in found.message
    typed = issues[(issues.file == other.name) & (issues.code == "V003")].iloc[0]
    assert (typed.sheet, typed.cell) == (sheet, cell)
    spss = issues[issues.file.str.startswith("RBV") & (issues.field == "signoff_date")].iloc[0]
    assert spss.code == "V003" and "after 31/12/9999" in spss.message
    assert json.loads((Path("run") / "issues.json").read_text())   # the run finished and wrote its reports
    assert files_row("run", late.name).status == "rejected"
    assert files_row("run", fine.name).status in ("accepted", "accepted_with_warnings")
    assert_unchanged(before)


def test_clean__dates_outside_the_default_window__are_out_of_bounds_when_the_item_sets_none():
    import dataclasses
    import datetime as dt

    from trust_survey.ingest.clean import Cleaner

    field = next(f for f in INST.fields() if f.field_id == "signoff_date")
    unbounded = dataclasses.replace(field, item=field.item.model_copy(update={"min_date": None, "max_date": None}))
    cleaner = Cleaner(INST)
    assert cleaner.clean(unbounded, dt.datetime(9999, 12, 31)).notes[0][0] == "V003"
    assert cleaner.clean(unbounded, dt.datetime(1899, 12, 31)).notes[0][0] == "V003"
    ok = cleaner.clean(unbounded, dt.datetime(2099, 1, 1))
    assert not ok.notes and ok.text == "2099-01-01"
