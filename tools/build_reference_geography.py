"""Rebuild the shipped reference geography (trust_survey/data/reference) from official files.

Maintainers run this once a year after downloading the sources; users never need it (everything it
writes ships with the package, and the loaders in ``trust_survey.geography`` read official files at
run time without it). It needs ``shapely`` (>= 2.1) for the boundary work only:

    python -m venv /tmp/geo-venv && /tmp/geo-venv/bin/pip install shapely
    /tmp/geo-venv/bin/python tools/build_reference_geography.py --sources SRC [--out DIR]

SRC holds (names as downloaded; see trust_survey/data/reference/SOURCES.md for where from):

    etr.csv                      ODS NHS trusts (no header, 27 columns)
    icb_names_codes.csv          ONS ICB names and codes for the 42-ICB set (ICB24CD, ICB24CDH, ICB24NM)
    sicbl26_icb26_nhser26.csv    ONS SICBL/ICB/NHSER April 2026 lookup (SICBL26CDH, ICB26CD, ICB26CDH, ...)
    gp-reg-pat-prac-sing-age-regions.csv   NHS England registered patients (for crosswalk shares)
    postcodes/*.csv              NSPL postcode centroids, one file per postcode area (Postcode,lat,long)
    boundaries/regions.geojson   ONS NHS England Regions (January 2024) BSC
    boundaries/icb.geojson       ONS Integrated Care Boards (April 2023) BSC
    boundaries/sicbl.geojson     ONS Sub ICB Locations (April 2023) BSC
    boundaries/lad.geojson       ONS Local Authority Districts (May 2024) BSC

Facts that no machine-readable file gives (2026 ICB successions, trust mergers, GLH hosts) are
written below as data with their source, and are checked against the files where possible.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = ROOT / "trust_survey" / "data" / "reference"

ENGLAND_REGIONS = {"Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"}

# region_ods: (name, current ONS code, from, earlier ONS code, earlier code valid to)
REGIONS = {
    "Y56": ("London", "E40000003", "2020-04-01", "", ""),
    "Y58": ("South West", "E40000006", "2020-04-01", "", ""),
    "Y59": ("South East", "E40000005", "2020-04-01", "", ""),
    "Y60": ("Midlands", "E40000011", "2022-07-01", "E40000008", "2022-06-30"),
    "Y61": ("East of England", "E40000013", "2024-01-01", "E40000007", "2023-12-31"),
    "Y62": ("North West", "E40000014", "2024-01-01", "E40000010", "2023-12-31"),
    "Y63": ("North East and Yorkshire", "E40000012", "2022-07-01", "E40000009", "2022-06-30"),
}

VINTAGES = {2022: ("2022-07-01", "2026-03-31"), 2026: ("2026-04-01", "")}

# ONS recoded two ICBs of the 42-ICB set in April 2023 (boundary change); ODS codes unchanged.
ICB22_EARLIER_ONS = {"QXU": ("E54000052", "2023-03-31"), "QNX": ("E54000053", "2023-03-31")}

# 2022 ICB -> 2026 ICB successions on 2026-04-01, from the ODS API Succs blocks as recorded by
# rcpch/rcpch-nhs-organisations (documentation/docs/developer/icb-history-planning.md); the 2026 set
# itself is checked against the ONS April 2026 lookup below.
ICB_SUCCESSIONS = [
    ("QHG", "S1Y5D", "merger"), ("QUE", "S1Y5D", "merger"), ("QM7", "S1Y5D", "split"),
    ("QM7", "D7T5G", "split"), ("QH8", "D7T5G", "merger"), ("QJG", "D7T5G", "split"),
    ("QJG", "T6Y0W", "split"), ("QMM", "T6Y0W", "merger"),
    ("QNQ", "S0E4D", "split"), ("QNQ", "S9B9J", "split"), ("QNQ", "QRL", "split"),
    ("QU9", "S0E4D", "merger"), ("QXU", "S9B9J", "merger"), ("QNX", "S9B9J", "merger"),
    ("QMJ", "Z9B2Z", "merger"), ("QRV", "Z9B2Z", "merger"),
]
# Sub-ICB locations of the two East of England ICBs that split (unchanged 2023 -> 2026), for shares.
SPLIT_SICBLS = {"QM7": ("06K", "06N", "07H"), "QJG": ("06L", "06T", "07K")}
# Frimley (QNQ, one sub-ICB location D4U1Y) was split along county lines: its Berkshire districts went
# to Thames Valley, its Hampshire districts to Hampshire and Isle of Wight, the Surrey rest to Surrey
# and Sussex. LAD24 codes: Bracknell Forest, Slough, Windsor and Maidenhead; Hart, Rushmoor.
FRIMLEY_SPLIT = {"S0E4D": ("E06000036", "E06000039", "E06000040"), "QRL": ("E07000089", "E07000092")}
FRIMLEY_REST = "S9B9J"

# Trust successions (old code, successor, effective date, type, source key, confidence, note).
# "etr" = closed in the ODS etr file; "rcpch" = rcpch/rcpch-nhs-organisations known_acquisitions.py
# (ODS Succs, verified there); "ods-news" = successor trust's own announcement, not seen in a file here.
TRUST_SUCCESSIONS = [
    ("RR1", "RRK", "2018-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RY1", "RW4", "2018-04-01", "acquisition", "etr+rcpch", "high", "ODS legal date 2018-03-31"),
    ("R1E", "RRE", "2018-06-01", "acquisition", "etr+rcpch", "high", ""),
    ("RGQ", "RDE", "2018-07-01", "acquisition", "etr+rcpch", "high", ""),
    ("RJF", "RTG", "2018-07-01", "acquisition", "etr+rcpch", "high", ""),
    ("RE9", "R0B", "2019-04-01", "merger", "etr", "high", "South Tyneside + City Hospitals Sunderland"),
    ("RLN", "R0B", "2019-04-01", "merger", "etr", "high", "South Tyneside + City Hospitals Sunderland"),
    ("R1J", "RTQ", "2019-10-01", "acquisition", "etr+rcpch", "high", ""),
    ("RNL", "RNN", "2019-10-01", "merger", "etr+rcpch", "high", ""),
    ("RQ6", "REM", "2019-10-01", "acquisition", "etr+rcpch", "high", ""),
    ("RA3", "RA7", "2020-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RBA", "RH5", "2020-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RC1", "RC9", "2020-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RDD", "RAJ", "2020-04-01", "merger", "etr+rcpch", "high", ""),
    ("RQ8", "RAJ", "2020-04-01", "merger", "etr+rcpch", "high", ""),
    ("RD3", "R0D", "2020-10-01", "merger", "etr", "high", ""),
    ("RDZ", "R0D", "2020-10-01", "merger", "etr", "high", ""),
    ("RT3", "RJ1", "2021-02-01", "acquisition", "etr+rcpch", "high", ""),
    ("RXH", "RYR", "2021-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RTV", "RW4", "2021-06-01", "acquisition", "etr+rcpch", "high", ""),
    ("RW6", "RM3", "2021-10-01", "acquisition", "etr+rcpch", "high",
     "North Manchester General Hospital went to R0A; ODS lists RM3 as legal successor"),
    ("RBZ", "RH8", "2022-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RA4", "RH5", "2023-04-01", "acquisition", "etr+rcpch", "high", ""),
    ("RVY", "RBN", "2023-07-01", "acquisition", "etr+rcpch", "high", ""),
    ("R1C", "RW1", "2024-10-01", "acquisition", "etr+rcpch", "high",
     "RW1 renamed Hampshire and Isle of Wight Healthcare NHS Foundation Trust"),
    ("RYK", "RNA", "2024-10-01", "split", "etr", "low",
     "Dudley Integrated Health and Care closed 2024-09-30; services split, RNA taken as main successor"),
    ("RRP", "G6V2S", "2024-11-01", "merger", "etr", "high", "formed North London NHS Foundation Trust"),
    ("TAF", "G6V2S", "2024-11-01", "merger", "ods-news", "medium",
     "Camden and Islington NHS FT; TAF is not in etr (care-trust file)"),
    ("RY9", "RAX", "2024-11-01", "acquisition", "etr+rcpch", "high", "RAX renamed Kingston and Richmond"),
    ("RAP", "RAL", "2025-01-01", "acquisition", "etr+rcpch", "high", ""),
    ("RYV", "RY3", "2026-04-01", "acquisition", "rcpch", "medium",
     "RY3 renamed East of England Community Health and Care NHS Trust"),
    ("RY2", "RWW", "2026-04-01", "acquisition", "rcpch", "medium",
     "RWW renamed North Cheshire and Mersey NHS Foundation Trust"),
    ("RVJ", "RA7", "2026-07-01", "acquisition", "rcpch", "medium",
     "RA7 renamed Bristol NHS Foundation Trust"),
]
# Names after 2026 renames that postdate the etr extract used here.
TRUST_RENAMES = {
    "RY3": ("East of England Community Health and Care NHS Trust", "2026-04-01"),
    "RWW": ("North Cheshire and Mersey NHS Foundation Trust", "2026-04-01"),
    "RA7": ("Bristol NHS Foundation Trust", "2026-07-01"),
}

GLHS = [
    ("Central and South", "RQ3", "Birmingham Women's and Children's NHS Foundation Trust", ""),
    ("East", "RGT", "Cambridge University Hospitals NHS Foundation Trust", ""),
    ("North West", "R0A", "Manchester University NHS Foundation Trust", ""),
    ("North Thames", "RP4", "Great Ormond Street Hospital for Children NHS Foundation Trust", ""),
    ("South East", "RJ1", "Guy's and St Thomas' NHS Foundation Trust", ""),
    ("South West", "RVJ", "North Bristol NHS Trust",
     "RVJ became part of RA7 (Bristol NHS Foundation Trust) on 2026-07-01; confirm the hosting trust"),
    ("North East and Yorkshire", "RTD", "The Newcastle upon Tyne Hospitals NHS Foundation Trust", ""),
]

SMALL = {"and", "of", "the", "upon", "on", "for", "in", "with", "at", "under"}
UPPER = {"NHS", "UK", "II"}
POSTCODE = re.compile(r"^([A-Z]{1,2}[0-9][0-9A-Z]?) ?([0-9][A-Z]{2})$")


def title_case(name: str) -> str:
    """ODS names are upper case; write them as the trusts do ('The Newcastle upon Tyne Hospitals')."""
    words = name.strip().split()
    out = []
    for i, word in enumerate(words):
        parts = []
        for j, part in enumerate(word.split("-")):
            bare = part.strip(",.()")
            low = part.lower()
            if bare in UPPER:
                parts.append(part)
            elif (i > 0 or j > 0) and bare.lower() in SMALL:
                parts.append(low)
            else:
                k = next((n for n, ch in enumerate(low) if ch.isalpha()), 0)
                parts.append(low[:k] + low[k:k + 1].upper() + low[k + 1:])
        out.append("-".join(parts))
    return " ".join(out)


def norm_postcode(text: str) -> str:
    compact = re.sub(r"\s+", "", text or "").upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    print(f"wrote {path.relative_to(ROOT)} ({len(rows)} rows)")


def read_dicts(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return list(csv.DictReader(fh))


# ---- tables -------------------------------------------------------------------------------------------

def build_icbs(src: Path):
    icb22 = {r["ICB24CDH"]: r for r in read_dicts(src / "icb_names_codes.csv")}
    lookup = read_dicts(src / "sicbl26_icb26_nhser26.csv")
    icb26 = {}
    sicbl26 = {}
    for r in lookup:
        icb26[r["ICB26CDH"]] = (r["ICB26CD"], r["ICB26NM"], r["NHSER26CDH"])
        sicbl26[r["SICBL26CDH"]] = r["ICB26CDH"]
    assert len(icb22) == 42, len(icb22)
    assert len(icb26) == 36, len(icb26)
    succ = defaultdict(list)
    for old, new, kind in ICB_SUCCESSIONS:
        assert old in icb22 and new in icb26, (old, new)
        succ[old].append((new, kind))
    for code in icb22:
        if code not in succ:
            assert code in icb26, f"{code} neither continues nor has a successor"
            succ[code].append((code, "same"))
    region22 = {}
    for code, targets in succ.items():
        regions = {icb26[t][2] for t, _ in targets}
        assert len(regions) == 1, (code, regions)
        region22[code] = regions.pop()
    rows = []
    for code, r in sorted(icb22.items(), key=lambda kv: kv[1]["ICB24CD"]):
        earlier = ICB22_EARLIER_ONS.get(code, ("", ""))
        ends = all(kind != "same" for _, kind in succ[code])
        rows.append([2022, code, r["ICB24CD"], r["ICB24NM"], region22[code], VINTAGES[2022][0],
                     VINTAGES[2022][1] if ends else "", earlier[0], earlier[1], "high",
                     "closed 2026-03-31" if ends else "continues in the 2026 set"])
    for code, (ons, name, region) in sorted(icb26.items(), key=lambda kv: kv[1][0]):
        new = code not in icb22
        note = "new ICB from 2026-04-01" if new else ("gained part of Frimley (QNQ)" if code == "QRL" else "")
        rows.append([2026, code, ons, name, region, VINTAGES[2026][0], "", "", "", "high", note])
    return icb22, icb26, sicbl26, succ, rows


def crosswalk_rows(src: Path, succ, frimley_areas: dict[str, float], icb22: dict):
    """Rows 2022 ICB -> 2026 ICB with the share of the old ICB that went to the new one, and the
    estimated registered patients of each piece (so the reverse direction can be weighted too)."""
    patients = {}
    for r in read_dicts(src / "gp-reg-pat-prac-sing-age-regions.csv"):
        if r["ORG_TYPE"].startswith("SUB_ICB") and r["SEX"] == "ALL" and r["AGE"] == "ALL":
            patients[r["ORG_CODE"]] = int(r["NUMBER_OF_PATIENTS"])
    by_name = {row["ICB24NM"].replace(" Integrated Care Board", ""): code for code, row in icb22.items()}
    sicbl22 = {}
    for f in json.loads((src / "boundaries" / "sicbl.geojson").read_text(encoding="utf-8"))["features"]:
        name, code = f["properties"]["SICBL23NM"].rsplit(" - ", 1)
        sicbl22[code] = by_name[name.replace(" ICB", "")]
    pieces = defaultdict(float)
    for sicbl, count in patients.items():
        new = _sicbl26_target(src, sicbl)
        old = sicbl22.get(sicbl, "QNQ")        # U2G6B, the only new sub-ICB location, is Frimley's
        pieces[(old, new)] += count
    # Frimley's Surrey and Hampshire pieces sit inside larger sub-ICB locations: estimate them from
    # the Berkshire piece (U2G6B) by land area, and take them off their hosts.
    tv = pieces[("QNQ", "S0E4D")]
    for new, host in ((FRIMLEY_REST, "QXU"), ("QRL", "QRL")):
        est = tv * frimley_areas[new] / frimley_areas["S0E4D"]
        pieces[("QNQ", new)] = est
        pieces[(host, new)] -= est
    rows = []
    for old in sorted(succ):
        targets = succ[old]
        if len(targets) == 1:
            shares, basis = {targets[0][0]: 1.0}, "whole ICB"
        elif old == "QNQ":
            total = sum(frimley_areas.values())
            shares = {t: frimley_areas[t] / total for t, _ in targets}
            basis = "land area of the split (population share not published)"
        else:
            total = sum(pieces[(old, t)] for t, _ in targets)
            shares = {t: pieces[(old, t)] / total for t, _ in targets}
            basis = "GP-registered patients 2026-08 by sub-ICB location"
        primary = max(shares, key=shares.get)
        for new, kind in targets:
            est = "estimated" if old == "QNQ" and new != "S0E4D" or new in (FRIMLEY_REST, "QRL") else ""
            rows.append([2022, old, 2026, new, kind, round(shares[new], 3), int(new == primary), basis,
                         int(round(pieces[(old, new)], -2)), est, "2026-04-01"])
    return rows


_SICBL26 = {}


def _sicbl26_target(src: Path, sicbl: str) -> str:
    if not _SICBL26:
        for r in read_dicts(src / "sicbl26_icb26_nhser26.csv"):
            _SICBL26[r["SICBL26CDH"]] = r["ICB26CDH"]
    return _SICBL26[sicbl]


def read_nspl(src: Path, wanted: set[str]) -> tuple[dict, dict]:
    """Postcode -> (lat, lon) for the wanted postcodes, and outcode -> mean centroid of all postcodes."""
    found: dict[str, tuple[float, float]] = {}
    sums: dict[str, list[float]] = defaultdict(lambda: [0.0, 0.0, 0])
    for path in sorted((src / "postcodes").glob("*.csv")):
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                pc = norm_postcode(row["Postcode"])
                try:
                    lat, lon = float(row["lat"]), float(row["long"])
                except ValueError:
                    continue
                if not (49.0 < lat < 61.0) or lat == 99.999999:
                    continue
                if pc in wanted:
                    found[pc] = (lat, lon)
                acc = sums[pc.split(" ")[0]]
                acc[0] += lat
                acc[1] += lon
                acc[2] += 1
    outcodes = {oc: (s[0] / s[2], s[1] / s[2], s[2]) for oc, s in sums.items()}
    return found, outcodes


def read_etr(path: Path) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = [r for r in csv.reader(fh) if r]
    assert all(len(r) == 27 for r in rows)
    return rows


# ---- boundaries -----------------------------------------------------------------------------------------

def load_features(path: Path):
    import shapely.geometry as sg
    data = json.loads(path.read_text(encoding="utf-8"))
    return [(f["properties"], sg.shape(f["geometry"]).buffer(0)) for f in data["features"]]


def drop_small(geom, min_area: float):
    import shapely
    from shapely.geometry import MultiPolygon, Polygon
    parts = [p for p in getattr(geom, "geoms", [geom]) if p.area >= min_area]
    parts = [Polygon(p.exterior, [h for h in p.interiors if Polygon(h).area >= min_area]) for p in parts]
    return shapely.make_valid(MultiPolygon(parts)) if len(parts) > 1 else parts[0]


def icb26_geometries(src: Path, sicbl26: dict[str, str]):
    import shapely
    sicbls = load_features(src / "boundaries" / "sicbl.geojson")
    lads = {p["LAD24CD"]: g for p, g in load_features(src / "boundaries" / "lad.geojson")}
    groups = defaultdict(list)
    frimley = None
    for props, geom in sicbls:
        code = props["SICBL23NM"].rsplit(" - ", 1)[1]
        if code == "D4U1Y":
            frimley = geom
        else:
            groups[sicbl26[code]].append(geom)
    km2 = 1 / (111.32 * 111.32 * math.cos(math.radians(51.3)))
    taken = None
    areas = {}
    for icb, lad_codes in FRIMLEY_SPLIT.items():
        county = shapely.union_all([lads[c] for c in lad_codes])
        part = drop_small(frimley.intersection(county), 0.5 * km2)
        groups[icb].append(part)
        areas[icb] = part.area / km2
        taken = part if taken is None else taken.union(part)
    rest = drop_small(frimley.difference(taken), 0.5 * km2)
    groups[FRIMLEY_REST].append(rest)
    areas[FRIMLEY_REST] = rest.area / km2
    out = {}
    for icb, geoms in groups.items():
        merged = shapely.union_all(geoms)
        out[icb] = drop_small(merged, 0.5 * km2)
    return out, areas


def simplify_coverage(geoms: list, tolerance: float) -> list:
    """Simplify shared borders once (no slivers between neighbours), then snap to a 4-decimal grid
    with valid output, so rounding cannot create self-intersections."""
    import shapely
    simplified = shapely.coverage_simplify(geoms, tolerance)
    return [shapely.set_precision(g, 1e-4) for g in simplified]


def to_feature(geom, props: dict) -> dict:
    from shapely.geometry import mapping

    def ring(coords):
        out = []
        for x, y in coords:
            p = [round(x, 4), round(y, 4)]
            if not out or p != out[-1]:
                out.append(p)
        if out and out[0] != out[-1]:
            out.append(out[0])
        return out if len(out) >= 4 else None

    polys = []
    for poly in getattr(geom, "geoms", [geom]):
        if poly.is_empty:
            continue
        gj = mapping(poly)["coordinates"]
        rings = [ring(r) for r in gj]
        if rings[0] is None:
            continue
        polys.append([rings[0]] + [r for r in rings[1:] if r])
    geometry = ({"type": "Polygon", "coordinates": polys[0]} if len(polys) == 1
                else {"type": "MultiPolygon", "coordinates": polys})
    return {"type": "Feature", "properties": props, "geometry": geometry}


def write_geojson(path: Path, features: list[dict], meta: dict) -> None:
    doc = {"type": "FeatureCollection", "metadata": meta, "features": features}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc, separators=(",", ":"), ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size // 1024} KB, {len(features)} features)")


# ---- main ---------------------------------------------------------------------------------------------

def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sources", type=Path, required=True)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--tolerance", type=float, default=0.003, help="simplification, degrees")
    args = ap.parse_args()
    src, out = args.sources, args.out

    import shapely
    from shapely.geometry import Point

    # regions
    write_csv(out / "regions.csv",
              ["region_ods", "region_name", "region_ons", "region_ons_from", "region_ons_earlier",
               "region_ons_earlier_to"],
              [[code, *REGIONS[code]] for code in sorted(REGIONS)])

    # ICBs and crosswalk
    icb22, icb26, sicbl26, succ, icb_rows = build_icbs(src)
    write_csv(out / "icbs.csv",
              ["vintage", "icb_ods", "icb_ons", "icb_name", "region_ods", "valid_from", "valid_to",
               "icb_ons_earlier", "icb_ons_earlier_to", "confidence", "note"], icb_rows)

    # boundaries
    bdir = out / "boundaries"
    regions = load_features(src / "boundaries" / "regions.geojson")
    ons_to_region = {v[1]: k for k, v in REGIONS.items()}
    reg_geoms = simplify_coverage([g for _, g in regions], args.tolerance)
    feats = []
    for (props, _), geom in zip(regions, reg_geoms):
        code = ons_to_region[props["NHSER24CD"]]
        feats.append(to_feature(geom, {"region_ods": code, "region_ons": props["NHSER24CD"],
                                       "region_name": REGIONS[code][0], "vintage": 2024}))
    write_geojson(bdir / "regions_2024.geojson", feats,
                  {"source": "ONS NHS England Regions (January 2024) EN BSC", "licence": "OGL v3",
                   "note": f"simplified (coverage, {args.tolerance} deg), 4 decimals"})

    icbs23 = load_features(src / "boundaries" / "icb.geojson")
    ons22 = {r["ICB24CD"]: code for code, r in icb22.items()}
    geoms22 = simplify_coverage([g for _, g in icbs23], args.tolerance)
    feats, shapes22 = [], {}
    region_of = {r[1]: r[4] for r in icb_rows if r[0] == 2022}
    for (props, raw), geom in zip(icbs23, geoms22):
        code = ons22[props["ICB23CD"]]
        shapes22[code] = raw
        feats.append(to_feature(geom, {"icb_ods": code, "icb_ons": props["ICB23CD"], "vintage": 2022,
                                       "icb_name": icb22[code]["ICB24NM"], "region_ods": region_of[code]}))
    write_geojson(bdir / "icb_2022.geojson", feats,
                  {"source": "ONS Integrated Care Boards (April 2023) EN BSC: the 42-ICB set; Surrey "
                             "Heartlands and Sussex as recoded in April 2023", "licence": "OGL v3",
                   "note": f"simplified (coverage, {args.tolerance} deg), 4 decimals"})

    shapes26, frimley_areas = icb26_geometries(src, sicbl26)
    codes26 = sorted(shapes26)
    assert set(codes26) == set(icb26), set(codes26) ^ set(icb26)
    if not shapely.coverage_is_valid(shapely.GeometryCollection([shapes26[c] for c in codes26])):
        print("warning: 2026 ICB coverage has small gaps or overlaps along the Frimley split")
    geoms26 = simplify_coverage([shapes26[c] for c in codes26], args.tolerance)
    feats = [to_feature(g, {"icb_ods": c, "icb_ons": icb26[c][0], "vintage": 2026, "icb_name": icb26[c][1],
                            "region_ods": icb26[c][2]}) for c, g in zip(codes26, geoms26)]
    write_geojson(bdir / "icb_2026.geojson", feats,
                  {"source": "Derived: ONS Sub ICB Locations (April 2023) BSC dissolved per the ONS April "
                             "2026 SICBL->ICB lookup; Frimley (D4U1Y) split by ONS LAD (May 2024) BSC along "
                             "county lines", "licence": "OGL v3",
                   "note": f"approximate; simplified (coverage, {args.tolerance} deg), coordinates to 4 "
                           "decimals"})

    write_csv(out / "icb_crosswalk.csv",
              ["from_vintage", "from_icb_ods", "to_vintage", "to_icb_ods", "relationship", "share", "primary",
               "share_basis", "patients", "patients_note", "effective_date"],
              crosswalk_rows(src, succ, frimley_areas, icb22))

    # trusts
    etr = read_etr(src / "etr.csv")
    closed_2026 = {old for old, _, date, *_ in TRUST_SUCCESSIONS if date >= "2025-01-02"}
    current = [r for r in etr if not r[11] and r[2] in ENGLAND_REGIONS and r[0] not in closed_2026]
    wanted = {norm_postcode(r[9]) for r in current}
    found, outcodes = read_nspl(src, wanted)
    one_to_one = {old: targets[0][0] for old, targets in succ.items() if len(targets) == 1}
    trust_rows, mismatches = [], []
    for r in sorted(current, key=lambda r: r[0]):
        code, region, icb, pc = r[0], r[2], r[3], norm_postcode(r[9])
        name, renamed = TRUST_RENAMES.get(code, (title_case(r[1]), ""))
        note = f"renamed {renamed}" if renamed else ""
        if pc in found:
            (lat, lon), source = found[pc], "nspl_2025_05_postcode"
        else:
            oc = pc.split(" ")[0]
            lat, lon, _ = outcodes[oc]
            source = "outcode_centroid"
        point = Point(lon, lat)
        if icb in one_to_one:
            icb26, basis = one_to_one[icb], "crosswalk"
        else:
            hits = [c for c in codes26 if shapes26[c].contains(point) and c in {t for t, _ in succ[icb]}]
            icb26, basis = (hits[0], "hq_in_2026_boundary") if hits else (
                min(succ[icb], key=lambda t: shapes26[t[0]].distance(point))[0], "nearest_2026_boundary")
        if not shapes22[icb].buffer(0.003).contains(point):
            mismatches.append((code, icb, pc))
        if icb26_region(icb26, icb_rows) != region:
            note = (note + "; " if note else "") + "HQ ICB region differs from ODS region"
        trust_rows.append([code, name, region, icb, icb26, basis, pc, f"{lat:.5f}", f"{lon:.5f}", source,
                           fmt_date(r[10]), note])
    if mismatches:
        print("note: HQ outside its ODS 2022 ICB boundary (kept ODS):", mismatches)
    write_csv(out / "trusts.csv",
              ["org_code", "org_name", "region_ods", "icb_ods_2022", "icb_ods_2026", "icb_2026_basis",
               "postcode", "lat", "lon", "latlon_source", "open_date", "note"], trust_rows)

    codes = {r[0] for r in trust_rows}
    succ_rows = []
    etr_codes = {r[0]: r for r in etr}
    for old, new, date, kind, source, conf, note in TRUST_SUCCESSIONS:
        assert new in codes or any(new == o for o, *_ in TRUST_SUCCESSIONS), new
        old_name = title_case(etr_codes[old][1]) if old in etr_codes else ""
        if old == "TAF":
            old_name = "Camden and Islington NHS Foundation Trust"
        succ_rows.append([old, old_name, new, date, kind, source, conf, note])
    write_csv(out / "trust_successors.csv",
              ["old_code", "old_name", "successor_code", "effective_date", "succession_type", "source",
               "confidence", "note"], succ_rows)

    write_csv(out / "genomic_laboratory_hubs.csv",
              ["glh_name", "host_org_code", "host_org_name", "region_ods", "note"],
              [[n, c, nm, (etr_codes[c][2] if c in etr_codes else ""), note] for n, c, nm, note in GLHS])

    oc_rows = [[oc, f"{lat:.4f}", f"{lon:.4f}", n] for oc, (lat, lon, n) in sorted(outcodes.items())]
    write_csv(out / "outcode_centroids.csv", ["outcode", "lat", "lon", "n_postcodes"], oc_rows)

    write_csv(bdir / "index.csv", ["level", "vintage", "file", "code_property", "note"], [
        ["region", 2022, "regions_2024.geojson", "region_ods",
         "January 2024 boundaries; region ODS codes unchanged since 2020"],
        ["region", 2026, "regions_2024.geojson", "region_ods", "January 2024 boundaries"],
        ["icb", 2022, "icb_2022.geojson", "icb_ods", "ONS April 2023 boundaries of the 42-ICB set"],
        ["icb", 2026, "icb_2026.geojson", "icb_ods", "derived by dissolving sub-ICB locations; approximate"],
    ])


def icb26_region(code: str, icb_rows) -> str:
    return next(r[4] for r in icb_rows if r[0] == 2026 and r[1] == code)


def fmt_date(yyyymmdd: str) -> str:
    return f"{yyyymmdd[:4]}-{yyyymmdd[4:6]}-{yyyymmdd[6:]}" if len(yyyymmdd) == 8 else ""


if __name__ == "__main__":
    main()
