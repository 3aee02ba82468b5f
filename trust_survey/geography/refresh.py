"""Refresh the trust reference table from this year's official files.

Each year ODS publishes a new ``etr.csv`` (trusts open, closed, renamed, moved) and ONS a new postcode
directory. :func:`refresh_reference` writes a complete reference folder: a copy of the one in use with
``trusts.csv`` rebuilt from ``etr.csv`` (English trusts open on the given date), head-office locations
from ONSPD where given (else kept when the postcode is unchanged, else the postcode district's
centroid), and a ``refresh_changes.csv`` listing every trust added, closed, renamed or moved, so a
person can check the year's changes before pointing ``TRUST_SURVEY_REFERENCE`` at the new folder.

Nothing is guessed silently: an ICB code that is in neither vintage, a trust that closed with no
successor recorded, and a postcode that could not be located are all listed as changes to check.
"""
from __future__ import annotations

import re
import shutil
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import pandas as pd

from trust_survey import settings
from trust_survey.atomic import staged_dir
from trust_survey.errors import InputFileError
from trust_survey.geography import reference as ref
from trust_survey.geography.ods import current_trusts, load_etr, open_on
from trust_survey.geography.onspd import load_onspd
from trust_survey.common.hashing import sha256_file
from trust_survey.writers import write_csv
from trust_survey.geography.ons_icbs import load_ons_icbs

#: words that stay lower case inside a name, and ones that stay as written
_SMALL_WORDS = {"and", "of", "the", "for", "in", "on", "at", "upon"}
_KEEP_UPPER = {"NHS", "UK", "ICB", "2gether", "TEWV"}

CHANGE_COLUMNS = ("change", "org_code", "org_name", "field", "before", "after", "action")


def ods_name_case(name: str) -> str:
    """ODS names are upper case ("KING'S COLLEGE HOSPITAL NHS FOUNDATION TRUST"); give them the
    case people write ("King's College Hospital NHS Foundation Trust")."""
    words = []
    for i, word in enumerate(str(name).strip().split()):
        if word.upper() in {w.upper() for w in _KEEP_UPPER}:
            words.append(next(w for w in _KEEP_UPPER if w.upper() == word.upper()))
        elif i and word.lower() in _SMALL_WORDS:
            words.append(word.lower())
        else:
            # capitalise each part of hyphenated words; letters after an apostrophe stay lower (King's)
            words.append(re.sub(r"[A-Za-z]+('[A-Za-z]+)?",
                                lambda m: m.group(0)[0].upper() + m.group(0)[1:].lower(), word))
    return " ".join(words)


@dataclass
class RefreshResult:
    out_dir: Path
    trusts: int
    changes: pd.DataFrame
    located: dict[str, int] = field(default_factory=dict)

    def count(self, change: str) -> int:
        return int((self.changes["change"] == change).sum()) if len(self.changes) else 0


def _icb_codes(vintage: int) -> set[str]:
    return set(ref.load_icbs(vintage)["icb_ods"].str.upper())


def _primary_2026(code_2022: str) -> str:
    walk = ref.icb_crosswalk(2022, 2026)
    hit = walk[(walk["from_icb_ods"] == code_2022) & (walk["primary"] == 1)]
    return str(hit.iloc[0]["to_icb_ods"]) if len(hit) else ""


def _only_2022_for(code_2026: str) -> str:
    walk = ref.icb_crosswalk(2022, 2026)
    hit = walk[walk["to_icb_ods"] == code_2026]["from_icb_ods"].unique()
    return str(hit[0]) if len(hit) == 1 else ""


def _icbs(row, before: dict | None, codes_2022: set[str], codes_2026: set[str]) -> tuple[str, str, str, str]:
    """(icb 2022, icb 2026, basis, problem) from the ICB of the head-office postcode in etr column 4."""
    code = str(row["icb_ods"]).upper()
    old_2022 = (before or {}).get("icb_ods_2022", "")
    if code in codes_2026:
        return old_2022 or _only_2022_for(code), code, "etr", ""
    if code in codes_2022:
        return code, _primary_2026(code), "crosswalk", ""
    if before:
        return old_2022, before.get("icb_ods_2026", ""), before.get("icb_2026_basis", ""), \
            f"etr gives ICB {code or '(blank)'}, which is in neither ICB vintage; kept the earlier ICBs"
    return "", "", "", f"etr gives ICB {code or '(blank)'}, which is in neither ICB vintage"


def _locate(trusts: pd.DataFrame, before: pd.DataFrame, onspd: Path | None) -> dict[str, int]:
    """Fill lat/lon/latlon_source in place; returns how many came from each source."""
    trusts["lat"], trusts["lon"], trusts["latlon_source"] = float("nan"), float("nan"), ""
    if onspd is not None:
        found = load_onspd(onspd, trusts["postcode"]).set_index("postcode")
        hit = trusts["postcode"].map(found["status"]) == "found"
        trusts.loc[hit, "lat"] = trusts.loc[hit, "postcode"].map(found["lat"])
        trusts.loc[hit, "lon"] = trusts.loc[hit, "postcode"].map(found["lon"])
        trusts.loc[hit, "latlon_source"] = "onspd"
    old = before.set_index("org_code")
    same = trusts["latlon_source"].eq("") & trusts["org_code"].isin(old.index)
    same &= trusts["org_code"].map(old["postcode"]).eq(trusts["postcode"])
    for col in ("lat", "lon", "latlon_source"):
        trusts.loc[same, col] = trusts.loc[same, "org_code"].map(old[col])
    outcodes = ref.load_outcode_centroids().set_index("outcode")
    rest = trusts["latlon_source"].eq("") | trusts["lat"].isna()
    district = trusts["postcode"].str.split(" ").str[0]
    known = rest & district.isin(outcodes.index)
    trusts.loc[known, "lat"] = district[known].map(outcodes["lat"])
    trusts.loc[known, "lon"] = district[known].map(outcodes["lon"])
    trusts.loc[known, "latlon_source"] = "outcode_centroid"
    trusts.loc[trusts["lat"].isna(), "latlon_source"] = ""
    return trusts["latlon_source"].replace("", "not located").value_counts().to_dict()


def build_trusts(etr: pd.DataFrame, before: pd.DataFrame, as_of: date | None,
                 onspd: Path | None) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, int]]:
    """The new trusts table and the list of changes against ``before``."""
    live = current_trusts(etr) if as_of is None else open_on(etr[etr["region_ods"].isin(ref_regions())], as_of)
    old = {r["org_code"]: r for r in before.to_dict("records")}
    codes_2022, codes_2026 = _icb_codes(2022), _icb_codes(2026)
    rows, changes = [], []

    def change(kind, code, name, fld="", was="", now="", action=""):
        changes.append(dict(zip(CHANGE_COLUMNS, (kind, code, name, fld, was, now, action))))

    for r in live.to_dict("records"):
        code = r["org_code"].upper()
        prior = old.get(code)
        name = ods_name_case(r["org_name"])
        icb22, icb26, basis, problem = _icbs(r, prior, codes_2022, codes_2026)
        opened = r["open_date"].strftime("%Y-%m-%d") if pd.notna(r["open_date"]) else ""
        rows.append({"org_code": code, "org_name": name, "region_ods": r["region_ods"].upper(),
                     "icb_ods_2022": icb22, "icb_ods_2026": icb26, "icb_2026_basis": basis,
                     "postcode": r["postcode"], "open_date": opened,
                     "note": (prior or {}).get("note", "") if prior else "added from etr"})
        if problem:
            change("icb_unknown", code, name, "icb", r["icb_ods"], "", "add the ICB to icbs.csv or check etr")
        if prior is None:
            change("added", code, name, action="new trust: check its region, ICB and location")
            continue
        for fld, now in (("org_name", name), ("region_ods", r["region_ods"].upper()), ("icb_ods_2026", icb26),
                         ("postcode", r["postcode"])):
            was = str(prior.get(fld, "") or "")
            if fld == "org_name" and was.lower() == now.lower():
                continue
            if was != now and now:
                change("renamed" if fld == "org_name" else "moved", code, name, fld, was, now)
    live_codes = {row["org_code"] for row in rows}
    in_file = set(etr["org_code"].str.upper())
    succeeded = set(ref.load_trust_successors()["old_code"].str.upper())
    for code, prior in old.items():
        if code in live_codes:
            continue
        if code not in in_file:
            change("absent", code, prior["org_name"], action="not in this etr.csv at all: check the file is the "
                   "full national one before using this reference")
        else:
            change("closed", code, prior["org_name"], action="successor recorded" if code in succeeded else
                   "closed in etr: add it to trust_successors.csv with the trust that took it over, "
                   "so earlier rounds follow it")
    trusts = pd.DataFrame(rows)
    located = _locate(trusts, before, onspd)
    for r in trusts[trusts["lat"].isna()].to_dict("records"):
        change("not_located", r["org_code"], r["org_name"], "postcode", "", r["postcode"],
               "postcode not in ONSPD or the outcode table: check it in etr")
    trusts = trusts[list(ref._COLUMNS[ref.TRUSTS_FILE])].sort_values("org_code").reset_index(drop=True)
    return trusts, pd.DataFrame(changes, columns=CHANGE_COLUMNS), located


def ref_regions() -> list[str]:
    return list(ref.load_regions()["region_ods"])


def refresh_icbs(icbs_path: Path) -> tuple[pd.DataFrame, pd.DataFrame, int]:
    """``icbs.csv`` with one vintage's names and ONS codes taken from an ONS ICB file, the changes, and
    the vintage. ICBs the file adds or drops are listed, not invented: a new set of boards needs a
    new vintage, with its dates and crosswalk, which a person must write."""
    ons = load_ons_icbs(icbs_path)
    vintage = int(ons["vintage"].iloc[0])
    table = ref._read(ref.ICBS_FILE)
    changes = []

    def change(kind, code, name, fld="", was="", now="", action=""):
        changes.append(dict(zip(CHANGE_COLUMNS, (kind, code, name, fld, was, now, action))))

    mine = table["vintage"] == vintage
    index = {code: i for i, code in table.loc[mine, "icb_ods"].str.upper().items()}
    for r in ons.to_dict("records"):
        i = index.get(r["icb_ods"])
        if i is None:
            change("icb_new", r["icb_ods"], r["icb_name"], action=f"not in the shipped {vintage} set: add it to "
                   "icbs.csv with its region and dates (and to icb_crosswalk.csv), or record a new vintage")
            continue
        for fld, key in (("icb_name", "icb_name"), ("icb_ons", "icb_ons")):
            was = str(table.at[i, fld])
            if was.casefold() != str(r[key]).casefold():
                change("icb_renamed" if fld == "icb_name" else "icb_recoded", r["icb_ods"], r["icb_name"], fld,
                       was, r[key])
                table.at[i, fld] = r[key]
    for code, i in index.items():
        if code not in set(ons["icb_ods"]):
            change("icb_absent", code, table.at[i, "icb_name"], action=f"in the shipped {vintage} set but not "
                   "in this file: check whether it closed or merged")
    return table, pd.DataFrame(changes, columns=CHANGE_COLUMNS), vintage


def refresh_reference(etr_path: Path | None, out_dir: Path, onspd: Path | None = None, as_of: date | None = None,
                      force: bool = False, icbs_path: Path | None = None) -> RefreshResult:
    """Write a full reference folder at ``out_dir``: ``trusts.csv`` rebuilt from ``etr_path`` and/or one
    vintage of ``icbs.csv`` updated from an ONS ICB file (``icbs_path``)."""
    if etr_path is None and icbs_path is None:
        raise InputFileError("nothing to refresh from: give an ODS etr.csv, an ONS ICB file, or both",
                             code="GEO005")
    source = settings.reference_dir()
    parts, sources = [], []
    trusts, located = ref.load_trusts(), {}
    if icbs_path is not None:
        icbs, icb_changes, vintage = refresh_icbs(icbs_path)
        parts.append(icb_changes)
        sources.append(f"`icbs.csv` (vintage {vintage}) names and ONS codes from `{Path(icbs_path).name}` "
                       f"(sha256 {sha256_file(icbs_path)[:16]}…)")
    if etr_path is not None:
        trusts, trust_changes, located = build_trusts(load_etr(etr_path), ref.load_trusts(), as_of, onspd)
        parts.insert(0, trust_changes)
        sources.append(f"`trusts.csv` rebuilt from `{Path(etr_path).name}` (sha256 {sha256_file(etr_path)[:16]}…"
                       + (f", locations from `{Path(onspd).name}`" if onspd else "")
                       + f"), English trusts open {'on ' + as_of.isoformat() if as_of else 'at the time of the file'}")
    changes = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=CHANGE_COLUMNS)
    with staged_dir(out_dir, force=force) as tmp:
        shutil.copytree(source, tmp, dirs_exist_ok=True)
        (tmp / "refresh_changes.csv").unlink(missing_ok=True)
        if etr_path is not None:
            write_csv(tmp / ref.TRUSTS_FILE, trusts, force=True, float_format="%.5f")
        if icbs_path is not None:
            write_csv(tmp / ref.ICBS_FILE, icbs, force=True)
        write_csv(tmp / "refresh_changes.csv", changes, force=True)
        note = (f"\n\n## Refresh of {date.today().isoformat()}\n\nBy `trust-survey geography refresh`: "
                + "; ".join(sources) + f". {len(changes)} change(s) listed in `refresh_changes.csv`.\n")
        with open(tmp / "SOURCES.md", "a", encoding="utf-8") as fh:
            fh.write(note)
    return RefreshResult(out_dir, len(trusts), changes, located)


def summary() -> pd.DataFrame:
    """What the reference folder in use holds: one row per table with its rows and vintage detail."""
    rows = [("regions", len(ref.load_regions()), "NHS England regions")]
    for v in sorted(ref.ICB_VINTAGES):
        start, end = ref.ICB_VINTAGES[v]
        rows.append((f"icbs {v}", len(ref.load_icbs(v)),
                     f"ICBs valid {start.isoformat()} to {end.isoformat() if end else 'now'}"))
    rows.append(("icb crosswalk 2022 to 2026", len(ref.icb_crosswalk(2022, 2026)), "rows, with population shares"))
    trusts = ref.load_trusts()
    rows.append(("trusts", len(trusts), f"{int(trusts['lat'].notna().sum())} with a head-office location"))
    rows.append(("trust successors", len(ref.load_trust_successors()), "mergers and acquisitions followed"))
    rows.append(("genomic laboratory hubs", len(ref.load_genomic_laboratory_hubs()), "hubs and host trusts"))
    rows.append(("postcode districts", len(ref.load_outcode_centroids()), "district centroids for site postcodes"))
    for level in ref.BOUNDARY_LEVELS:
        for v in sorted(ref.ICB_VINTAGES):
            shapes = ref.boundaries(level, v)
            rows.append((f"boundaries {level} {v}", len(shapes["features"]) if shapes else 0,
                         "simplified shapes" if shapes else "none: the map draws markers only"))
    return pd.DataFrame(rows, columns=["table", "rows", "detail"])
