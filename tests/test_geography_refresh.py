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


def _ons_icb_file(path, year="26", drop=None, rename=None, add=None, lookup=False):
    """An ONS-style ICB file built from the shipped table of the matching vintage."""
    from trust_survey.geography import load_icbs

    icbs = load_icbs(2026 if year == "26" else 2022)
    rows = [{f"ICB{year}CD": r.icb_ons, f"ICB{year}CDH": r.icb_ods, f"ICB{year}NM": r.icb_name}
            for r in icbs.itertuples() if r.icb_ods != drop]
    for row in rows:
        if rename and row[f"ICB{year}CDH"] == rename[0]:
            row[f"ICB{year}NM"] = rename[1]
    if add:
        rows.append({f"ICB{year}CD": add[0], f"ICB{year}CDH": add[1], f"ICB{year}NM": add[2]})
    frame = pd.DataFrame(rows)
    if lookup:  # an LSOA -> SICBL -> ICB lookup: many rows per board, more columns around them
        frame = pd.concat([frame.assign(LSOA21CD=f"E0100000{i}", NHSER26CD="E40000003") for i in range(3)])
        frame = frame[["LSOA21CD"] + [c for c in frame.columns if c != "LSOA21CD"]]
    frame.to_csv(path, index=False, encoding="utf-8-sig")
    return path


def test_geography_refresh__ons_icb_file__updates_its_vintage_and_lists_what_a_person_must_add(run, tmp_path):
    from trust_survey.geography import load_icbs

    shipped = load_icbs(2026).set_index("icb_ods")
    keep, gone = shipped.index[0], shipped.index[1]
    path = _ons_icb_file(tmp_path / "ICB26_lookup.csv", drop=gone, rename=(keep, "NHS Renamed Integrated Care Board"),
                         add=("E54000099", "QZ9", "NHS New Integrated Care Board"), lookup=True)
    out_dir = tmp_path / "ref"
    result = run("geography", "refresh", "--icbs", path, "--out", out_dir)
    assert "1 icb_new, 1 icb_absent, 1 icb_renamed" in result.stderr

    icbs = pd.read_csv(out_dir / "icbs.csv", dtype=str, keep_default_na=False)
    v26 = icbs[icbs.vintage == "2026"].set_index("icb_ods")
    assert v26.at[keep, "icb_name"] == "NHS Renamed Integrated Care Board"
    assert "QZ9" not in v26.index and gone in v26.index          # listed for a person, never invented or dropped
    assert len(icbs[icbs.vintage == "2022"]) == 42                 # the other vintage is untouched
    changes = pd.read_csv(out_dir / "refresh_changes.csv", dtype=str, keep_default_na=False)
    assert {(r.change, r.org_code) for r in changes.itertuples()} == {
        ("icb_new", "QZ9"), ("icb_absent", gone), ("icb_renamed", keep)}
    trusts_before = (pd.read_csv(out_dir / "trusts.csv", dtype=str).shape)
    assert trusts_before[0] == 199                                  # no --etr: the trust table is copied as is


def test_load_ons_icbs__the_year_in_the_columns_picks_the_vintage_and_bad_files_say_why(tmp_path):
    from trust_survey.errors import InputFileError
    from trust_survey.geography.ons_icbs import load_ons_icbs

    old = load_ons_icbs(_ons_icb_file(tmp_path / "ICB23.csv", year="23"))
    assert len(old) == 42 and set(old.vintage) == {2022}
    new = load_ons_icbs(_ons_icb_file(tmp_path / "ICB26.csv"))
    assert len(new) == 36 and set(new.vintage) == {2026}

    no_ods = tmp_path / "no_ods.csv"
    pd.DataFrame({"ICB26CD": ["E54000057"], "ICB26NM": ["NHS X ICB"]}).to_csv(no_ods, index=False)
    with pytest.raises(InputFileError, match=r"no_ods.csv: line 1: has ICB26CD but no ICB26CDH"):
        load_ons_icbs(no_ods)
    bad = tmp_path / "bad.csv"
    pd.DataFrame({"ICB26CD": ["E54000057", "nonsense"], "ICB26CDH": ["QOP", "QOX"],
                  "ICB26NM": ["a", "b"]}).to_csv(bad, index=False)
    with pytest.raises(InputFileError, match=r"bad.csv: line 3: ICB codes 'nonsense'"):
        load_ons_icbs(bad)
