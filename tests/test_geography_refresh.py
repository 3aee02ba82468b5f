"""`trust-survey geography show` and `geography refresh` on small official-format files made here."""
from __future__ import annotations

import csv

import pandas as pd
import pytest

from trust_survey.geography.refresh import ods_name_case


def _etr_row(code, name, region, icb, postcode, opened="20000401", closed=""):
    row = [""] * 27
    row[0], row[1], row[2], row[3], row[9], row[10], row[11] = code, name, region, icb, postcode, opened, closed
    return row


def _write_etr(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    return path


@pytest.fixture
def etr(tmp_path):
    return _write_etr(tmp_path / "etr.csv", [
        # unchanged but for ODS upper case
        _etr_row("RJ1", "GUY'S AND ST THOMAS' NHS FOUNDATION TRUST", "Y56", "QKK", "SE1 7EH"),
        # moved head office (a 2022-vintage ICB code: recognised and crosswalked)
        _etr_row("RTD", "THE NEWCASTLE UPON TYNE HOSPITALS NHS FOUNDATION TRUST", "Y63", "QHM", "NE1 4LP"),
        # a new trust, located from the ONSPD file below
        _etr_row("RZZ", "NORTH-WEST TEST HOSPITALS NHS TRUST", "Y62", "QOP", "M1 1AE"),
        # a new trust whose ICB is in neither vintage and whose postcode is nowhere
        _etr_row("RZY", "MYSTERY NHS TRUST", "Y62", "QZZ", "ZZ9 9ZZ"),
        # Welsh: not an English trust
        _etr_row("7A1", "BETSI CADWALADR UNIVERSITY LHB", "W00", "", "LL57 2PW"),
        # closed: dropped and reported
        _etr_row("RA7", "BRISTOL NHS FOUNDATION TRUST", "Y58", "QUY", "BS1 3NU", closed="20261231"),
    ])


@pytest.fixture
def onspd(tmp_path):
    path = tmp_path / "ONSPD_TEST.csv"
    pd.DataFrame({"pcd": ["M1  1AE", "NE1 4LP"], "pcds": ["M1 1AE", "NE1 4LP"], "doterm": ["", ""],
                  "lat": [53.4794, 54.9740], "long": [-2.2453, -1.6132], "icb26cd": ["E54000057", "E54000050"],
                  "nhser24cd": ["E40000010", "E40000012"]}).to_csv(path, index=False)
    return path


def test_ods_name_case__reads_like_people_write_it():
    assert ods_name_case("KING'S COLLEGE HOSPITAL NHS FOUNDATION TRUST") == \
        "King's College Hospital NHS Foundation Trust"
    assert ods_name_case("THE NEWCASTLE UPON TYNE HOSPITALS NHS FOUNDATION TRUST") == \
        "The Newcastle upon Tyne Hospitals NHS Foundation Trust"
    assert ods_name_case("WESTON-SUPER-MARE AND DISTRICT NHS TRUST") == "Weston-Super-Mare and District NHS Trust"


def test_geography_show__lists_both_icb_vintages_and_the_trusts(run):
    out = run("geography", "show").stdout
    assert "icbs 2022" in out and "icbs 2026" in out
    assert [line.split()[2] for line in out.splitlines() if line.strip().startswith("icbs")] == ["42", "36"]
    assert "regions" in out and " 7 " in out


def test_geography_refresh__rebuilds_trusts_from_etr_and_lists_each_change(run, tmp_path, etr, onspd, monkeypatch):
    out_dir = tmp_path / "reference_2027"
    result = run("geography", "refresh", "--etr", str(etr), "--onspd", str(onspd), "--out", str(out_dir))
    assert "refresh_changes.csv" in result.stderr and "TRUST_SURVEY_REFERENCE" in result.stderr
    assert "is it the full national etr.csv" in result.stderr  # a 6-line etr cannot be the whole country

    trusts = pd.read_csv(out_dir / "trusts.csv", dtype=str, keep_default_na=False).set_index("org_code")
    assert sorted(trusts.index) == ["RJ1", "RTD", "RZY", "RZZ"]  # Welsh and closed rows are not trusts here
    assert trusts.at["RJ1", "org_name"] == "Guy's and St Thomas' NHS Foundation Trust"
    assert trusts.at["RJ1", "latlon_source"] == "nspl_2025_05_postcode"  # same postcode: location kept
    assert (trusts.at["RTD", "postcode"], trusts.at["RTD", "latlon_source"]) == ("NE1 4LP", "onspd")
    assert float(trusts.at["RTD", "lat"]) == pytest.approx(54.974)
    assert trusts.at["RZZ", "icb_ods_2026"] == "QOP" and trusts.at["RZZ", "latlon_source"] == "onspd"
    assert trusts.at["RZY", "lat"] == "" and trusts.at["RZY", "icb_ods_2026"] == ""

    changes = pd.read_csv(out_dir / "refresh_changes.csv", dtype=str, keep_default_na=False)
    kinds = {(r.change, r.org_code) for r in changes.itertuples()}
    assert {("added", "RZZ"), ("added", "RZY"), ("icb_unknown", "RZY"), ("not_located", "RZY"),
            ("moved", "RTD"), ("closed", "RA7"), ("absent", "RVV")} <= kinds
    assert ("renamed", "RJ1") not in kinds  # only the case differed
    closed_ra7 = changes[(changes.change == "closed") & (changes.org_code == "RA7")].iloc[0]
    assert "trust_successors.csv" in closed_ra7.action  # RA7 has no successor recorded: a person must say

    # the new folder is complete and usable: the rest of the reference came along
    monkeypatch.setenv("TRUST_SURVEY_REFERENCE", str(out_dir))
    shown = run("geography", "show").stdout
    assert str(out_dir) in shown and "icbs 2026" in shown
    assert [line.split()[1] for line in shown.splitlines() if line.strip().startswith("trusts")] == ["4"]
    assert "Refresh of" in (out_dir / "SOURCES.md").read_text(encoding="utf-8")


def test_geography_refresh__existing_folder_needs_force_and_bad_etr_names_its_line(run, tmp_path, etr):
    out_dir = tmp_path / "ref"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("analyst's file")
    refused = run("geography", "refresh", "--etr", str(etr), "--out", str(out_dir), expect=1)
    assert "--force" in refused.stderr and (out_dir / "keep.txt").exists()

    bad = _write_etr(tmp_path / "bad_etr.csv", [
        _etr_row("RJ1", "GUY'S AND ST THOMAS' NHS FOUNDATION TRUST", "Y56", "QKK", "SE1 7EH"),
        ["Organisation Code", "Name"] + [""] * 20,
    ])
    failed = run("geography", "refresh", "--etr", str(bad), "--out", str(tmp_path / "ref2"), expect=1)
    assert "bad_etr.csv: line 2" in failed.stderr and "27 columns" in failed.stderr
    assert "Traceback" not in failed.stderr and not (tmp_path / "ref2").exists()
