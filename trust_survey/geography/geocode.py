"""Postcodes to latitude/longitude without the network.

With an ONS Postcode Directory (a path, or the frame :func:`~trust_survey.geography.onspd.load_onspd`
returned) every live postcode gets its own centroid. Without one, two shipped tables answer: the
trusts' headquarters postcodes (exact postcode centroids) and the postcode-district (outcode)
centroids, which place a postcode somewhere in its district, typically within a few kilometres.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from trust_survey.geography.onspd import load_onspd, normalise_postcode
from trust_survey.geography.reference import load_icbs, load_outcode_centroids, load_regions, load_trusts

SOURCE_ONSPD = "onspd"
SOURCE_TRUST = "trust_reference"
SOURCE_OUTCODE = "outcode_centroid"
SOURCE_NONE = "not_found"


def geocode_postcodes(postcodes: Iterable[str],
                      onspd: str | Path | pd.DataFrame | None = None) -> pd.DataFrame:
    """Latitude/longitude for each distinct postcode, best source first.

    In: postcodes (any spacing or case); ``onspd`` an ONSPD CSV path or a :func:`load_onspd` frame.
    Out: ``postcode`` (normalised), ``lat``, ``lon``, ``source`` (onspd, trust_reference,
    outcode_centroid, not_found), ``icb_ods``/``region_ods`` when ONSPD gave them (mapped to ODS codes
    with the shipped tables, '' when unknown). Nothing is dropped: unknown postcodes get NaN.
    """
    wanted = list(dict.fromkeys(p for p in (normalise_postcode(x) for x in postcodes) if p))
    out = pd.DataFrame({"postcode": wanted, "lat": np.nan, "lon": np.nan, "source": SOURCE_NONE,
                        "icb_ods": "", "region_ods": ""})
    if not wanted:
        return out
    if onspd is not None:
        found = onspd if isinstance(onspd, pd.DataFrame) else load_onspd(onspd, wanted)
        found = found.drop_duplicates("postcode").set_index("postcode")
        hit = out["postcode"].map(found["lat"]).notna()
        out.loc[hit, "lat"] = out.loc[hit, "postcode"].map(found["lat"])
        out.loc[hit, "lon"] = out.loc[hit, "postcode"].map(found["lon"])
        out.loc[hit, "source"] = SOURCE_ONSPD
        if "icb_ons" in found:
            out["icb_ods"] = out["postcode"].map(found["icb_ons"]).map(_icb_ons_to_ods()).fillna("")
        if "region_ons" in found:
            out["region_ods"] = out["postcode"].map(found["region_ons"]).map(_region_ons_to_ods()).fillna("")

    todo = out["source"] == SOURCE_NONE
    if todo.any():
        trusts = load_trusts().dropna(subset=["lat", "lon"]).drop_duplicates("postcode").set_index("postcode")
        hit = todo & out["postcode"].isin(trusts.index)
        out.loc[hit, "lat"] = out.loc[hit, "postcode"].map(trusts["lat"])
        out.loc[hit, "lon"] = out.loc[hit, "postcode"].map(trusts["lon"])
        out.loc[hit, "source"] = SOURCE_TRUST

    todo = out["source"] == SOURCE_NONE
    if todo.any():
        centroids = load_outcode_centroids().set_index("outcode")
        outcode = out["postcode"].str.split(" ").str[0]
        hit = todo & outcode.isin(centroids.index)
        out.loc[hit, "lat"] = outcode[hit].map(centroids["lat"])
        out.loc[hit, "lon"] = outcode[hit].map(centroids["lon"])
        out.loc[hit, "source"] = SOURCE_OUTCODE
    return out


def _icb_ons_to_ods() -> dict[str, str]:
    """Any ONS ICB code we ship (either vintage, earlier codes too) -> its ODS code."""
    table = {}
    for vintage in (2022, 2026):
        icbs = load_icbs(vintage)
        table.update(dict(zip(icbs["icb_ons"], icbs["icb_ods"])))
        earlier = icbs[icbs["icb_ons_earlier"] != ""]
        table.update(dict(zip(earlier["icb_ons_earlier"], earlier["icb_ods"])))
    return table


def _region_ons_to_ods() -> dict[str, str]:
    regions = load_regions()
    table = dict(zip(regions["region_ons"], regions["region_ods"]))
    earlier = regions[regions["region_ons_earlier"] != ""]
    table.update(dict(zip(earlier["region_ons_earlier"], earlier["region_ods"])))
    return table
