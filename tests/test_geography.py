"""Reference geography: the official-file loaders on tiny files in the real layouts, and the shipped
tables' consistency (counts, vintages, crosswalk, successions, coordinates, boundaries)."""
from __future__ import annotations

import csv

import pandas as pd
import pytest

from trust_survey import geography as geo
from trust_survey.errors import InputFileError, NotFoundError, TrustSurveyError
from trust_survey.settings import PACKAGE_DATA

# England's bounding box, generously (Isles of Scilly to Berwick, Land's End to Lowestoft)
LAT_RANGE, LON_RANGE = (49.8, 55.9), (-6.5, 1.8)


def ods_row(code, name, region="Y63", icb="QHM", postcode="NE7 7DN", opened="19910401", closed="",
            sub_type="", parent=""):
    """One line of etr.csv/ets.csv: 27 fields, the published layout."""
    row = [""] * 27
    row[0], row[1], row[2], row[3] = code, name, region, icb
    row[4], row[7], row[9] = "FREEMAN HOSPITAL", "NEWCASTLE UPON TYNE", postcode
    row[10], row[11], row[13], row[14] = opened, closed, sub_type, parent
    row[17], row[21], row[23] = "0191 233 6161", "1", "A"
    return row


def write_rows(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh, quoting=csv.QUOTE_ALL).writerows(rows)
    return path


@pytest.fixture
def etr(tmp_path):
    return write_rows(tmp_path / "etr.csv", [
        ods_row("RTD", "THE NEWCASTLE UPON TYNE HOSPITALS NHS FOUNDATION TRUST"),
        ods_row("RA4", "YEOVIL DISTRICT HOSPITAL NHS FOUNDATION TRUST", "Y58", "QSL", "BA21 4AT",
                closed="20230331"),
        ods_row("RQF", "VELINDRE NHS TRUST", "", "", "CF15 7QZ"),
        ods_row("RJ1", "GUY'S AND ST THOMAS' NHS FOUNDATION TRUST", "Y56", "QKK", "se17eh"),
    ])


# ---- ODS files ------------------------------------------------------------------------------------------

def test_load_etr__names_the_fixed_columns_and_parses_dates(etr):
    frame = geo.load_etr(etr)
    assert list(frame.columns) == geo.ETR_COLUMNS and len(frame.columns) == 27
    rtd = frame.set_index("org_code").loc["RTD"]
    assert (rtd["region_ods"], rtd["icb_ods"], rtd["postcode"]) == ("Y63", "QHM", "NE7 7DN")
    assert rtd["open_date"] == pd.Timestamp("1991-04-01") and pd.isna(rtd["close_date"])
    assert frame.set_index("org_code").loc["RJ1", "postcode"] == "SE1 7EH"


def test_current_trusts__keeps_open_english_trusts_only(etr):
    frame = geo.load_etr(etr)
    assert list(geo.current_trusts(frame)["org_code"]) == ["RTD", "RJ1"]
    assert "RQF" not in set(geo.england_only(frame)["org_code"])
    assert "RA4" in set(geo.open_on(frame, "2023-03-01")["org_code"])
    assert "RA4" not in set(geo.open_on(frame, "2023-04-01")["org_code"])


def test_load_ets__reads_parent_trust_and_sub_type(tmp_path):
    path = write_rows(tmp_path / "ets.csv", [
        ods_row("RTD01", "FREEMAN HOSPITAL", sub_type="B", parent="RTD"),
        ods_row("RTD02", "ROYAL VICTORIA INFIRMARY", postcode="NE1 4LP", parent="RTD"),
    ])
    frame = geo.load_ets(path)
    assert list(frame["parent_code"]) == ["RTD", "RTD"]
    assert frame.loc[0, "sub_type"] == "B" and "sub_type" in geo.ETS_COLUMNS


def test_load_etr__wrong_column_count__names_file_and_line(tmp_path):
    rows = [ods_row("RTD", "NEWCASTLE"), ods_row("RJ1", "GUY'S")[:20]]
    path = write_rows(tmp_path / "etr.csv", rows)
    with pytest.raises(InputFileError) as info:
        geo.load_etr(path)
    assert info.value.code == "GEO001"
    message = str(info.value)
    assert f"{path}: line 2: 20 columns" in message and "27 columns and no header row" in message


def test_load_etr__header_row__is_refused_with_a_hint(tmp_path):
    header = ["Organisation Code", "Name"] + [f"Field {i}" for i in range(3, 28)]
    path = write_rows(tmp_path / "etr.csv", [header, ods_row("RTD", "NEWCASTLE")])
    with pytest.raises(InputFileError) as info:
        geo.load_etr(path)
    assert info.value.code == "GEO002"
    assert "line 1: column 1" in str(info.value) and "header row" in str(info.value)


def test_load_etr__bad_date__names_the_column(tmp_path):
    path = write_rows(tmp_path / "etr.csv", [ods_row("RTD", "NEWCASTLE", opened="1991-04-01")])
    expected = r"line 1: column 11 \(open date\) is '1991-04-01'; expected YYYYMMDD"
    with pytest.raises(InputFileError, match=expected):
        geo.load_etr(path)


def test_load_ets__parent_column_not_a_code__is_an_error(tmp_path):
    path = write_rows(tmp_path / "ets.csv", [ods_row("RTD01", "FREEMAN", parent="not a trust")])
    with pytest.raises(InputFileError, match="line 1: column 15"):
        geo.load_ets(path)


def test_load_etr__missing_file__says_where_to_get_it(tmp_path):
    with pytest.raises(InputFileError, match="file not found; download it from the ODS"):
        geo.load_etr(tmp_path / "etr.csv")


# ---- ONSPD ------------------------------------------------------------------------------------------------

OLD_ONSPD = (  # a 2022-style release: pcd/pcds, icb (no year), nhser
    "pcd,pcd2,pcds,dointr,doterm,ctry,nhser,icb,lat,long\n"
    "NE7 7DN,NE7  7DN,NE7 7DN,198001,,E92000001,E40000012,E54000050,55.002,-1.594\n"
    "SE1 7EH,SE1  7EH,SE1 7EH,198001,,E92000001,E40000003,E54000030,51.498,-0.118\n"
    "ZE9 9ZZ,ZE9  9ZZ,ZE9 9ZZ,198001,200012,S92000003,S99999999,S99999999,99.999999,0.000000\n"
)
NEW_ONSPD = (  # a 2026-style release: pcd7/pcds, icb26cd, nhser24cd, a terminated twin row
    "pcd7,pcds,dointr,doterm,ctry25cd,nhser24cd,sicbl26cd,icb26cd,lat,long\n"
    "CB2 0QQ,CB2 0QQ,198001,,E92000001,E40000013,E38000260,E54000065,52.175,0.140\n"
    "CB2 0QQ,CB2 0QQ,198001,201001,E92000001,E40000013,E38000260,E54000065,50.000,0.000\n"
    "GU167UJ,GU16 7UJ,198001,,E92000001,E40000005,E38000267,E54000069,51.319,-0.742\n"
)


def test_load_onspd__old_header_names__reads_by_name_in_chunks(tmp_path):
    path = tmp_path / "ONSPD_FEB_2022.csv"
    path.write_text(OLD_ONSPD, encoding="utf-8")
    out = geo.load_onspd(path, ["se17eh", "NE7 7DN", "ZE9 9ZZ", "XX1 1XX"], chunksize=1)
    rows = out.set_index("postcode")
    assert list(out["postcode"]) == ["SE1 7EH", "NE7 7DN", "ZE9 9ZZ", "XX1 1XX"]
    assert rows.loc["SE1 7EH", "lat"] == pytest.approx(51.498)
    assert rows.loc["SE1 7EH", "icb_ons"] == "E54000030"
    assert rows.loc["NE7 7DN", "region_ons"] == "E40000012"
    assert rows.loc["ZE9 9ZZ", "status"] == "no_grid_reference" and pd.isna(rows.loc["ZE9 9ZZ", "lat"])
    assert rows.loc["XX1 1XX", "status"] == "not_found"
    assert out.attrs["onspd_columns"]["icb"] == "icb" and out.attrs["onspd_columns"]["postcode"] == "pcds"


def test_load_onspd__new_header_names__prefers_live_row_and_newest_icb(tmp_path):
    path = tmp_path / "ONSPD_MAY_2026.csv"
    path.write_text(NEW_ONSPD, encoding="utf-8")
    out = geo.load_onspd(path, ["CB20QQ", "gu16 7uj"], chunksize=2).set_index("postcode")
    assert out.loc["CB2 0QQ", "lat"] == pytest.approx(52.175) and out.loc["CB2 0QQ", "terminated"] == ""
    assert out.loc["GU16 7UJ", "icb_ons"] == "E54000069"
    assert geo.onspd_columns(NEW_ONSPD.split("\n")[0].split(","))["icb_vintage"] == "2026"


def test_load_onspd__missing_header_names__is_an_error_naming_them(tmp_path):
    path = tmp_path / "lookup.csv"
    path.write_text("LSOA21CD,ICB26CD\nE01000001,E54000029\n", encoding="utf-8")
    with pytest.raises(InputFileError) as info:
        geo.load_onspd(path, ["SE1 7EH"])
    assert info.value.code == "GEO003"
    expected = f"{path}: line 1: the header has no pcds/pcd/pcd7/pcd8/pcd2 column, lat column, long column"
    assert expected in str(info.value)


def test_geocode_postcodes__onspd_first_then_trust_table_then_outcode(tmp_path):
    path = tmp_path / "onspd.csv"
    path.write_text(NEW_ONSPD, encoding="utf-8")
    trust_pc = geo.load_trusts().set_index("org_code").loc["RTD", "postcode"]
    asked = ["gu16 7uj", trust_pc, "LS1 9ZZ", "QQ1 1QQ", ""]
    out = geo.geocode_postcodes(asked, onspd=path).set_index("postcode")
    assert list(out["source"]) == ["onspd", "trust_reference", "outcode_centroid", "not_found"]
    assert out.loc["GU16 7UJ", "icb_ods"] == "S9B9J" and out.loc["GU16 7UJ", "region_ods"] == "Y59"
    assert LAT_RANGE[0] < out.loc["LS1 9ZZ", "lat"] < LAT_RANGE[1]


def test_normalise_postcode__any_spacing_or_case():
    assert geo.normalise_postcode(" ls1  1ue") == "LS1 1UE"
    assert geo.normalise_postcode(None) == "" and geo.is_postcode("sw1a1aa") and not geo.is_postcode("12345")


# ---- shipped tables -----------------------------------------------------------------------------------

def test_regions__seven_with_current_and_earlier_ons_codes():
    regions = geo.load_regions()
    assert sorted(regions["region_ods"]) == ["Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"]
    assert regions.set_index("region_ods").loc["Y61", ["region_ons", "region_ons_earlier"]].tolist() == [
        "E40000013", "E40000007"]


def test_icbs__42_in_2022_and_36_in_2026_with_known_regions():
    regions = set(geo.load_regions()["region_ods"])
    for vintage, count in ((2022, 42), (2026, 36)):
        icbs = geo.load_icbs(vintage)
        assert len(icbs) == count and icbs["icb_ods"].is_unique and icbs["icb_ons"].is_unique
        assert set(icbs["region_ods"]) == regions
    assert len(geo.load_icbs("ICB26")) == 36


def test_icbs__unknown_vintage__suggests_the_near_miss():
    with pytest.raises(NotFoundError, match="unknown ICB vintage 2023.*in force in 2023 are vintage 2022"):
        geo.load_icbs(2023)
    with pytest.raises(NotFoundError, match="did you mean '2026'"):
        geo.load_icbs("2o26")


def test_icb_vintage_for__rounds_and_dates():
    assert geo.icb_vintage_for(2025) == 2022 and geo.icb_vintage_for(2027) == 2026
    assert geo.icb_vintage_for("2026-03-31") == 2022 and geo.icb_vintage_for("2026-04-01") == 2026


def test_crosswalk__every_2022_icb_has_exactly_one_primary_2026_successor():
    cw = geo.icb_crosswalk(2022, 2026)
    icb22, icb26 = set(geo.load_icbs(2022)["icb_ods"]), set(geo.load_icbs(2026)["icb_ods"])
    assert set(cw["from_icb_ods"]) == icb22 and set(cw["to_icb_ods"]) == icb26
    assert (cw.groupby("from_icb_ods")["primary"].sum() == 1).all()
    assert cw.groupby("from_icb_ods")["share"].sum().round(2).eq(1.0).all()
    splits = cw[cw["relationship"] == "split"].groupby("from_icb_ods")["to_icb_ods"].apply(set).to_dict()
    assert splits == {"QNQ": {"S0E4D", "S9B9J", "QRL"}, "QM7": {"S1Y5D", "D7T5G"}, "QJG": {"D7T5G", "T6Y0W"}}
    back = geo.icb_crosswalk(2026, 2022)
    assert (back.groupby("from_icb_ods")["primary"].sum() == 1).all() and set(back["from_icb_ods"]) == icb26


def test_crosswalk__2022_and_2026_regions_agree():
    cw = geo.icb_crosswalk(2022, 2026)
    r22 = geo.load_icbs(2022).set_index("icb_ods")["region_ods"]
    r26 = geo.load_icbs(2026).set_index("icb_ods")["region_ods"]
    assert (cw["from_icb_ods"].map(r22) == cw["to_icb_ods"].map(r26)).all()


def test_trusts__codes_unique_icbs_exist_in_their_vintage_coordinates_in_england():
    trusts = geo.load_trusts()
    assert len(trusts) >= 190 and trusts["org_code"].is_unique
    assert set(trusts["icb_ods_2022"]) <= set(geo.load_icbs(2022)["icb_ods"])
    assert set(trusts["icb_ods_2026"]) <= set(geo.load_icbs(2026)["icb_ods"])
    assert set(trusts["region_ods"]) == set(geo.load_regions()["region_ods"])
    assert trusts["lat"].between(*LAT_RANGE).all() and trusts["lon"].between(*LON_RANGE).all()
    assert trusts["postcode"].map(geo.is_postcode).all()
    icb26_region = geo.load_icbs(2026).set_index("icb_ods")["region_ods"]
    assert (trusts["icb_ods_2026"].map(icb26_region) == trusts["region_ods"]).all()


def test_trusts__2026_icb_follows_the_crosswalk_for_whole_icbs():
    cw = geo.icb_crosswalk(2022, 2026)
    whole = cw[cw["relationship"] != "split"].set_index("from_icb_ods")["to_icb_ods"]
    trusts = geo.load_trusts()
    moved = trusts[trusts["icb_ods_2022"].isin(whole.index)]
    assert (moved["icb_ods_2022"].map(whole) == moved["icb_ods_2026"]).all()
    split = trusts[~trusts["icb_ods_2022"].isin(whole.index)]
    assert set(split["icb_2026_basis"]) == {"hq_in_2026_boundary"}


def test_sample_orgs__all_exist_in_the_reference_tables():
    trusts = set(geo.load_trusts()["org_code"])
    icbs26 = set(geo.load_icbs(2026)["icb_ods"])
    with open(PACKAGE_DATA / "sample" / "orgs.csv", newline="", encoding="utf-8") as fh:
        orgs = list(csv.DictReader(fh))
    for org in orgs:
        if org["org_type"] == "icb":
            assert org["org_code"] in icbs26, org
        else:
            assert geo.resolve_successor(org["org_code"]) in trusts, org
            assert org["icb_code"] in icbs26, org
    glh_hosts = {geo.resolve_successor(c) for c in geo.load_genomic_laboratory_hubs()["host_org_code"]}
    assert glh_hosts <= trusts and len(glh_hosts) == 7


def test_successors__chains_resolve_without_cycles_to_current_trusts():
    trusts = set(geo.load_trusts()["org_code"])
    succ = geo.load_trust_successors()
    assert not (set(succ["old_code"]) & trusts), "a closed code is still listed as a current trust"
    for code in succ["old_code"]:
        assert geo.resolve_successor(code, "2030-01-01") in trusts
    assert geo.resolve_successor("RBA") == "RH5" and geo.resolve_successor("rtd") == "RTD"
    assert geo.resolve_successor("RVJ", "2026-06-30") == "RVJ"
    assert geo.successor_chain("RVJ", "2026-07-01") == ["RVJ", "RA7"]


def test_successors__a_cycle_is_an_error(tmp_path, monkeypatch):
    for path in (PACKAGE_DATA / "reference").glob("*.csv"):
        (tmp_path / path.name).write_bytes(path.read_bytes())
    with open(tmp_path / "trust_successors.csv", "a", encoding="utf-8") as fh:
        fh.write("RH5,Somerset,RBA,2024-01-01,merger,test,low,\n")
    monkeypatch.setenv("TRUST_SURVEY_REFERENCE", str(tmp_path))
    with pytest.raises(TrustSurveyError, match="cycle RBA -> RH5 -> RBA") as info:
        geo.resolve_successor("RBA")
    assert info.value.code == "GEO006"


def test_outcode_centroids__cover_every_trust_district():
    centroids = set(geo.load_outcode_centroids()["outcode"])
    assert set(geo.load_trusts()["postcode"].str.split(" ").str[0]) <= centroids


# ---- boundaries ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("level,vintage,key,count", [
    ("region", 2026, "region_ods", 7), ("region", 2022, "region_ods", 7),
    ("icb", 2022, "icb_ods", 42), ("icb", 2026, "icb_ods", 36),
])
def test_boundaries__parse_and_codes_match_the_tables(level, vintage, key, count):
    data = geo.boundaries(level, vintage)
    assert data["type"] == "FeatureCollection" and len(data["features"]) == count
    codes = {f["properties"][key] for f in data["features"]}
    table = geo.load_regions() if level == "region" else geo.load_icbs(vintage)
    assert codes == set(table[key])
    for feature in data["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        ring = feature["geometry"]["coordinates"][0]
        ring = ring[0] if feature["geometry"]["type"] == "MultiPolygon" else ring
        assert ring[0] == ring[-1] and LON_RANGE[0] < ring[0][0] < LON_RANGE[1]
    if level == "icb":
        ons = {f["properties"]["icb_ods"]: f["properties"]["icb_ons"] for f in data["features"]}
        assert ons == dict(zip(table["icb_ods"], table["icb_ons"]))


def test_boundaries__not_shipped_is_none_and_unknown_level_is_an_error(tmp_path, monkeypatch):
    with pytest.raises(NotFoundError, match="did you mean 'region'"):
        geo.boundaries("regions", 2026)
    monkeypatch.setenv("TRUST_SURVEY_REFERENCE", str(tmp_path))
    assert geo.boundaries("icb", 2026) is None


def test_boundaries__files_are_small():
    for path in (PACKAGE_DATA / "reference" / "boundaries").glob("*.geojson"):
        assert path.stat().st_size < 600_000, path
