"""The shipped reference geography: regions, ICBs by vintage, the 2022 to 2026 crosswalk, trusts,
trust successions, Genomic Laboratory Hubs and simplified boundaries.

Files live in :func:`trust_survey.settings.reference_dir` (``TRUST_SURVEY_REFERENCE`` moves it), each
read in exactly one place here and cached by path and modification time. Every geography with a
vintage is keyed by it: ICB vintage 2022 is the 42-ICB set of 1 July 2022 to 31 March 2026, vintage
2026 the 36-ICB set from 1 April 2026. Sources and licences: ``SOURCES.md`` beside the files.
"""
from __future__ import annotations

import csv
import json
from datetime import date
from functools import lru_cache
from pathlib import Path

import pandas as pd

from trust_survey import settings
from trust_survey.errors import InputFileError, NotFoundError, TrustSurveyError, did_you_mean
from trust_survey.csvread import records_frame

#: ICB vintage -> (first day, last day or None)
ICB_VINTAGES = {2022: (date(2022, 7, 1), date(2026, 3, 31)), 2026: (date(2026, 4, 1), None)}
BOUNDARY_LEVELS = ("region", "icb")

REGIONS_FILE = "regions.csv"
ICBS_FILE = "icbs.csv"
CROSSWALK_FILE = "icb_crosswalk.csv"
TRUSTS_FILE = "trusts.csv"
SUCCESSORS_FILE = "trust_successors.csv"
GLH_FILE = "genomic_laboratory_hubs.csv"
OUTCODES_FILE = "outcode_centroids.csv"
BOUNDARY_INDEX = "boundaries/index.csv"

_COLUMNS = {
    REGIONS_FILE: ("region_ods", "region_name", "region_ons", "region_ons_from", "region_ons_earlier",
                   "region_ons_earlier_to"),
    ICBS_FILE: ("vintage", "icb_ods", "icb_ons", "icb_name", "region_ods", "valid_from", "valid_to",
                "icb_ons_earlier", "icb_ons_earlier_to", "confidence", "note"),
    CROSSWALK_FILE: ("from_vintage", "from_icb_ods", "to_vintage", "to_icb_ods", "relationship", "share",
                     "primary", "share_basis", "patients", "patients_note", "effective_date"),
    TRUSTS_FILE: ("org_code", "org_name", "region_ods", "icb_ods_2022", "icb_ods_2026", "icb_2026_basis",
                  "postcode", "lat", "lon", "latlon_source", "open_date", "note"),
    SUCCESSORS_FILE: ("old_code", "old_name", "successor_code", "effective_date", "succession_type", "source",
                      "confidence", "note"),
    GLH_FILE: ("glh_name", "host_org_code", "host_org_name", "region_ods", "note"),
    OUTCODES_FILE: ("outcode", "lat", "lon", "n_postcodes"),
    BOUNDARY_INDEX: ("level", "vintage", "file", "code_property", "note"),
}
_NUMERIC = {"lat", "lon", "share", "n_postcodes", "patients"}
_INTEGER = {"vintage", "from_vintage", "to_vintage", "primary"}


def _path(name: str) -> Path:
    return settings.reference_dir() / name


def _read(name: str) -> pd.DataFrame:
    path = _path(name)
    if not path.is_file():
        raise InputFileError(f"{path}: reference file not found; reinstall trust-survey or point "
                             "TRUST_SURVEY_REFERENCE at a folder that has it", code="GEO005")
    return _read_cached(str(path), path.stat().st_mtime_ns, name).copy()


@lru_cache(maxsize=32)
def _read_cached(path: str, mtime: int, name: str) -> pd.DataFrame:
    try:
        frame = records_frame(Path(path))
    except InputFileError as exc:
        raise InputFileError(f"{path}: {getattr(exc, 'message', exc)}", code="GEO005") from None
    missing = [c for c in _COLUMNS[name] if c not in frame.columns]
    if missing:
        raise InputFileError(f"{path}: line 1: missing column(s) {', '.join(missing)}; expected "
                             f"{', '.join(_COLUMNS[name])}", code="GEO005")
    for col in frame.columns:
        if col in _NUMERIC:
            frame[col] = pd.to_numeric(frame[col].replace("", None), errors="coerce")
        elif col in _INTEGER:
            frame[col] = pd.to_numeric(frame[col], errors="coerce").astype("Int64")
    return frame


def check_vintage(vintage: int | str) -> int:
    """An ICB vintage as int (2022 or 2026); 'ICB26' and '2026' are accepted too."""
    text = str(vintage).strip().upper().removeprefix("ICB")
    if len(text) == 2 and text.isdigit():
        text = "20" + text
    if text.isdigit() and int(text) in ICB_VINTAGES:
        return int(text)
    known = [str(v) for v in ICB_VINTAGES]
    hint = did_you_mean(str(vintage), known)
    if text.isdigit() and int(text) >= min(ICB_VINTAGES):
        in_force = max(v for v in ICB_VINTAGES if v <= int(text))
        hint = f"; the ICBs in force in {text} are vintage {in_force} (see icb_vintage_for)"
    raise NotFoundError(f"unknown ICB vintage {vintage!r}; the shipped vintages are {', '.join(known)}{hint}",
                        code="GEO010")


def icb_vintage_for(when: date | str | int) -> int:
    """The ICB vintage in force on a date (or on 1 October of a survey round's year)."""
    if isinstance(when, int) or (isinstance(when, str) and when.strip().isdigit() and len(when.strip()) == 4):
        when = date(int(when), 10, 1)
    day = pd.Timestamp(when).date()
    for vintage, (start, end) in sorted(ICB_VINTAGES.items(), reverse=True):
        if day >= start:
            return vintage
    raise NotFoundError(f"no ICB vintage before {ICB_VINTAGES[2022][0]}: ICBs began on 1 July 2022 "
                        f"(asked for {day})", code="GEO010")


# ---- tables -------------------------------------------------------------------------------------------

def load_regions() -> pd.DataFrame:
    """The seven NHS England regions: ODS code, name, current ONS code (and since when), earlier ONS
    code (and until when)."""
    return _read(REGIONS_FILE)


def load_icbs(vintage: int | str = 2026) -> pd.DataFrame:
    """ICBs of one vintage (2022: 42 ICBs; 2026: 36): ``icb_ods``, ``icb_ons``, ``icb_name``,
    ``region_ods``, validity and notes."""
    v = check_vintage(vintage)
    frame = _read(ICBS_FILE)
    return frame[frame["vintage"] == v].reset_index(drop=True)


def icb_crosswalk(from_vintage: int | str = 2022, to_vintage: int | str = 2026) -> pd.DataFrame:
    """Rows ``from_icb_ods`` -> ``to_icb_ods`` with ``relationship`` (same, merger, split), ``share``
    (the part of the *from* ICB that lies in the *to* ICB), ``primary`` (1 for the largest share,
    exactly one per *from* ICB) and ``patients`` in that piece. 2022 -> 2026 shares are by registered
    patients or, for Frimley, land area (``share_basis``); 2026 -> 2022 shares are by ``patients``.
    Same vintage: the identity."""
    f, t = check_vintage(from_vintage), check_vintage(to_vintage)
    if f == t:
        icbs = load_icbs(f)
        return pd.DataFrame({"from_vintage": f, "from_icb_ods": icbs["icb_ods"], "to_vintage": t,
                             "to_icb_ods": icbs["icb_ods"], "relationship": "same", "share": 1.0,
                             "primary": 1, "share_basis": "identity", "patients": float("nan"),
                             "patients_note": "", "effective_date": ""})
    frame = _read(CROSSWALK_FILE)
    forward = frame[(frame["from_vintage"] == min(f, t)) & (frame["to_vintage"] == max(f, t))]
    if f < t:
        return forward.reset_index(drop=True)
    back = forward.rename(columns={"from_vintage": "to_vintage", "to_vintage": "from_vintage",
                                   "from_icb_ods": "to_icb_ods", "to_icb_ods": "from_icb_ods"})
    back = back[list(frame.columns)].copy()
    back["share"] = (back["patients"] / back.groupby("from_icb_ods")["patients"].transform("sum")).round(3)
    back["share_basis"] = "registered patients of the pieces"
    first = back.sort_values(["share", "to_icb_ods"], ascending=[False, True]).groupby("from_icb_ods").head(1)
    back["primary"] = back.index.isin(first.index).astype(int)
    back["primary"] = back["primary"].astype("Int64")
    return back.reset_index(drop=True)


def load_trusts() -> pd.DataFrame:
    """Current English NHS trusts: code, name, region, ICB in the 2022 and 2026 vintages, HQ postcode
    and its latitude/longitude with ``latlon_source``."""
    return _read(TRUSTS_FILE)


def load_trust_successors() -> pd.DataFrame:
    """Closed trust codes and the trust that took them over, with the date and a confidence."""
    frame = _read(SUCCESSORS_FILE)
    frame["effective_date"] = pd.to_datetime(frame["effective_date"])
    return frame


def load_genomic_laboratory_hubs() -> pd.DataFrame:
    """The seven NHS Genomic Laboratory Hubs and the trusts that host them."""
    return _read(GLH_FILE)


def load_outcode_centroids() -> pd.DataFrame:
    """Postcode district (outcode) -> mean latitude/longitude of its postcodes (NSPL, see SOURCES.md)."""
    return _read(OUTCODES_FILE)


def successor_chain(code: str, as_of: date | str | None = None) -> list[str]:
    """``[code, successor, successor's successor, …]`` for successions effective on or before
    ``as_of`` (default today). Raises if the table has a cycle."""
    frame = load_trust_successors()
    when = pd.Timestamp(as_of if as_of is not None else date.today())
    live = frame[frame["effective_date"] <= when]
    nxt = dict(zip(live["old_code"].str.upper(), live["successor_code"].str.upper()))
    chain = [str(code).strip().upper()]
    while chain[-1] in nxt:
        step = nxt[chain[-1]]
        if step in chain:
            raise TrustSurveyError(f"{_path(SUCCESSORS_FILE)}: trust successions form a cycle "
                                   f"{' -> '.join(chain + [step])}; fix the file", code="GEO006")
        chain.append(step)
    return chain


def resolve_successor(code: str, as_of: date | str | None = None) -> str:
    """The code that carries on ``code`` on ``as_of`` (default today), following chains of mergers
    ('RBA' -> 'RH5'); an unmerged code comes back unchanged (upper-cased)."""
    return successor_chain(code, as_of)[-1]


# ---- boundaries ---------------------------------------------------------------------------------------

def boundaries(level: str, vintage: int | str = 2026) -> dict | None:
    """Simplified boundaries as a parsed GeoJSON FeatureCollection, or None when none ship for this
    level and vintage. Region features carry ``region_ods``/``region_ons``; ICB features
    ``icb_ods``/``icb_ons``/``region_ods``; all carry ``vintage``."""
    level = str(level).strip().lower()
    if level not in BOUNDARY_LEVELS:
        raise NotFoundError(f"unknown boundary level {level!r}; expected one of {', '.join(BOUNDARY_LEVELS)}"
                            f"{did_you_mean(level, BOUNDARY_LEVELS)}", code="GEO010")
    v = check_vintage(vintage)
    index_path = _path(BOUNDARY_INDEX)
    if not index_path.is_file():
        return None
    index = _read(BOUNDARY_INDEX)
    row = index[(index["level"] == level) & (index["vintage"] == v)]
    if row.empty:
        return None
    path = index_path.parent / row.iloc[0]["file"]
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputFileError(f"{path}: not valid GeoJSON ({exc})", code="GEO005") from exc
    if not isinstance(data, dict) or data.get("type") != "FeatureCollection":
        raise InputFileError(f"{path}: expected a GeoJSON FeatureCollection", code="GEO005")
    return data


def reference_files() -> list[Path]:
    """Every shipped reference file (for packaging checks)."""
    names = [REGIONS_FILE, ICBS_FILE, CROSSWALK_FILE, TRUSTS_FILE, SUCCESSORS_FILE, GLH_FILE, OUTCODES_FILE,
             BOUNDARY_INDEX]
    out = [_path(n) for n in names]
    index = _path(BOUNDARY_INDEX)
    if index.is_file():
        with open(index, newline="", encoding="utf-8") as fh:
            out += sorted({index.parent / r["file"] for r in csv.DictReader(fh)})
    return out
