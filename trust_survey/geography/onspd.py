"""Read only the postcodes you need from the ONS Postcode Directory (ONSPD), in chunks.

ONSPD is over a gigabyte of CSV and its column names change between releases (``icb`` became
``icb23cd`` then ``icb26cd``; ``nhser`` became ``nhser24cd``), so columns are found by header name,
never by position, and the newest geography present wins.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from trust_survey.errors import InputFileError

POSTCODE_COLUMNS = ("pcds", "pcd", "pcd7", "pcd8", "pcd2")
LAT_COLUMNS = ("lat",)
LON_COLUMNS = ("long", "lon", "lng")
TERMINATED_COLUMNS = ("doterm",)
#: newest first; the number is the ICB vintage its codes belong to (None: unknown, e.g. old ``icb``)
ICB_COLUMNS = (("icb26cd", 2026), ("icb25cd", 2022), ("icb24cd", 2022), ("icb23cd", 2022),
               ("icb22cd", 2022), ("icb", None))
REGION_COLUMNS = ("nhser26cd", "nhser25cd", "nhser24cd", "nhser23cd", "nhser22cd", "nhser")
NO_GRID_LAT = 99.999999

POSTCODE_SHAPE = re.compile(r"^[A-Z]{1,2}[0-9][0-9A-Z]? [0-9][A-Z]{2}$")


def normalise_postcode(text: object) -> str:
    """'ls11ue', 'LS1  1UE' and ' ls1 1ue ' all become 'LS1 1UE'; not a postcode shape: upper-cased,
    spaces removed. Blank or missing: ''."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    compact = re.sub(r"\s+", "", str(text)).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact


def is_postcode(text: str) -> bool:
    """True when ``text`` (normalised) has the shape of a UK postcode."""
    return bool(POSTCODE_SHAPE.match(normalise_postcode(text)))


def onspd_columns(header: Iterable[str]) -> dict[str, str | None]:
    """Which ONSPD column supplies each field, by header name; None where a release lacks it."""
    by_lower = {str(h).strip().lower(): str(h) for h in header}

    def first(names):
        return next((by_lower[n] for n in names if n in by_lower), None)

    icb = next(((by_lower[n], v) for n, v in ICB_COLUMNS if n in by_lower), (None, None))
    return {"postcode": first(POSTCODE_COLUMNS), "lat": first(LAT_COLUMNS), "lon": first(LON_COLUMNS),
            "terminated": first(TERMINATED_COLUMNS), "icb": icb[0],
            "icb_vintage": None if icb[1] is None else str(icb[1]), "region": first(REGION_COLUMNS)}


def load_onspd(path: str | Path, postcodes: Iterable[str], chunksize: int = 250_000) -> pd.DataFrame:
    """Look up ``postcodes`` in an ONSPD CSV, reading it in chunks and keeping only matching rows.

    Out: one row per distinct requested postcode (normalised), in the order given, with ``lat``,
    ``lon`` (NaN when ONSPD has no grid reference, the 99.999999 sentinel), ``icb_ons``,
    ``region_ons``, ``terminated`` (date or ''), ``status`` ('found', 'no_grid_reference',
    'not_found'); ``attrs`` records which columns were used and the ICB vintage of ``icb_ons``.
    """
    path = Path(path)
    wanted = list(dict.fromkeys(normalise_postcode(p) for p in postcodes if normalise_postcode(p)))
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; give the ONSPD CSV (the large 'Data' file "
                             "inside the ONSPD zip)", code="GEO005")
    try:
        header = pd.read_csv(path, nrows=0, encoding="utf-8-sig").columns
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputFileError(f"{path}: line 1: cannot read a CSV header ({exc})", code="GEO003") from exc
    cols = onspd_columns(header)
    missing = [f for f in ("postcode", "lat", "lon") if not cols[f]]
    if missing:
        expect = {"postcode": "/".join(POSTCODE_COLUMNS), "lat": "lat", "lon": "long"}
        raise InputFileError(
            f"{path}: line 1: the header has no {', '.join(expect[m] + ' column' for m in missing)}; "
            f"found {', '.join(map(str, header[:12]))}{'…' if len(header) > 12 else ''}. "
            "Is this the ONSPD data file (not the user guide or a lookup)?", code="GEO003")
    usecols = [c for c in (cols["postcode"], cols["lat"], cols["lon"], cols["terminated"], cols["icb"],
                           cols["region"]) if c]
    keys = {p.replace(" ", ""): p for p in wanted}
    hits = []
    reader = pd.read_csv(path, usecols=usecols, dtype=str, chunksize=chunksize, encoding="utf-8-sig",
                         keep_default_na=False)
    for chunk in reader:
        compact = chunk[cols["postcode"]].str.replace(r"\s+", "", regex=True).str.upper()
        mask = compact.isin(keys)
        if mask.any():
            part = chunk[mask].copy()
            part["_key"] = compact[mask]
            hits.append(part)
    found = pd.concat(hits) if hits else pd.DataFrame(columns=usecols + ["_key"])
    if cols["terminated"] and len(found):
        # a live row beats a terminated one for the same postcode
        found = found.assign(_dead=found[cols["terminated"]].str.strip() != "")
        found = found.sort_values("_dead", kind="stable")
    found = found.drop_duplicates("_key").set_index("_key")

    out = pd.DataFrame({"postcode": wanted})
    key = out["postcode"].str.replace(" ", "")
    lat = pd.to_numeric(key.map(found[cols["lat"]]) if len(found) else np.nan, errors="coerce")
    lon = pd.to_numeric(key.map(found[cols["lon"]]) if len(found) else np.nan, errors="coerce")
    no_grid = (lat - NO_GRID_LAT).abs() < 1e-6
    out["lat"] = lat.where(~no_grid)
    out["lon"] = lon.where(~no_grid)
    out["icb_ons"] = key.map(found[cols["icb"]]).fillna("") if cols["icb"] and len(found) else ""
    out["region_ons"] = key.map(found[cols["region"]]).fillna("") if cols["region"] and len(found) else ""
    out["terminated"] = (key.map(found[cols["terminated"]]).fillna("")
                         if cols["terminated"] and len(found) else "")
    present = key.isin(found.index)
    out["status"] = np.where(~present, "not_found", np.where(no_grid, "no_grid_reference", "found"))
    out.attrs["onspd_columns"] = cols
    out.attrs["source"] = str(path)
    return out
