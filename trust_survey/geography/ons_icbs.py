"""Read an ONS list of integrated care boards: "ICB (April 2026) Names and Codes" or any ONS lookup that
carries ICB columns (e.g. LSOA21 -> SICBL26 -> ICB26 -> NHSER26), of any release.

Columns are found by name, since ONS puts the year in them: ``ICB26CD`` (ONS code, E54…),
``ICB26CDH`` (the ODS code: QOP, or for boards formed in 2026 codes like S1Y5D), ``ICB26NM`` (name)
and, when present, ``NHSER26CD``/``NHSER26CDH`` (region).
The two-digit year says which ICB vintage the codes belong to (ICB22 to ICB25: the 42 boards of
July 2022; ICB26: the 36 boards of April 2026). A lookup with one row per small area is reduced to
one row per board.
"""
from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import pandas as pd

from trust_survey.errors import InputFileError
from trust_survey.geography.reference import icb_vintage_for
from trust_survey.csvread import records_frame

ONS_ICB = re.compile(r"^E54\d{6}$")
ODS_ICB = re.compile(r"^[A-Z0-9]{3,5}$")  # QOP; boards formed in 2026 have codes like S1Y5D
COLUMNS = ("icb_ons", "icb_ods", "icb_name", "region_ons", "region_ods", "ons_year", "vintage")


def _find(header: list[str], pattern: str) -> str | None:
    rx = re.compile(pattern, re.IGNORECASE)
    return next((h for h in header if rx.fullmatch(h.strip())), None)


def load_ons_icbs(path: str | Path) -> pd.DataFrame:
    """One row per ICB: ``icb_ons``, ``icb_ods``, ``icb_name``, ``region_ons``/``region_ods`` (blank when
    the file has no region columns), ``ons_year`` (e.g. 26) and the ICB ``vintage`` it belongs to."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; download the ONS 'Integrated Care Boards (April YYYY) "
                             "Names and Codes in EN' CSV from the ONS Open Geography Portal", code="GEO005")

    try:
        frame = records_frame(path)
    except InputFileError as exc:
        raise InputFileError(f"{path}: cannot read it as CSV: {getattr(exc, 'message', exc)}", code="GEO003") from None
    header = [str(c) for c in frame.columns]
    cd = _find(header, r"ICB(\d\d)CD")
    if cd is None:
        raise InputFileError(f"{path}: line 1: no ICBnnCD column (e.g. ICB26CD); found "
                             f"{', '.join(header[:10])}. Is this an ONS ICB names-and-codes file or lookup?",
                             code="GEO003")
    year = re.fullmatch(r"ICB(\d\d)CD", cd.strip(), re.IGNORECASE).group(1)
    names = {"icb_ons": cd, "icb_ods": _find(header, rf"ICB{year}CDH"), "icb_name": _find(header, rf"ICB{year}NM"),
             "region_ons": _find(header, r"NHSER\d\dCD"), "region_ods": _find(header, r"NHSER\d\dCDH")}
    missing = [f"ICB{year}{s}" for key, s in (("icb_ods", "CDH"), ("icb_name", "NM")) if names[key] is None]
    if missing:
        raise InputFileError(f"{path}: line 1: has {cd} but no {' or '.join(missing)} column; the ODS code "
                             f"(ICB{year}CDH) and name (ICB{year}NM) are needed", code="GEO003")
    out = pd.DataFrame({key: (frame[col].str.strip() if col else "") for key, col in names.items()})
    out["icb_ods"] = out["icb_ods"].str.upper()
    for line, (ons, ods) in enumerate(zip(out["icb_ons"], out["icb_ods"]), start=2):
        if not ONS_ICB.match(ons) or not ODS_ICB.match(ods):
            raise InputFileError(f"{path}: line {line}: ICB codes {ons!r} / {ods!r}; expected an ONS code like "
                                 "'E54000057' and an ODS code like 'QOP' or 'S1Y5D'", code="GEO002")
    out = out.drop_duplicates("icb_ons").sort_values("icb_ods").reset_index(drop=True)
    clash = out[out.duplicated("icb_ods", keep=False)]
    if len(clash):
        raise InputFileError(f"{path}: ODS code {clash.iloc[0]['icb_ods']} is given to more than one ICB "
                             f"({', '.join(clash['icb_ons'])})", code="GEO002")
    out["ons_year"] = int(year)
    out["vintage"] = icb_vintage_for(date(2000 + int(year), 7, 1))
    return out[list(COLUMNS)]
