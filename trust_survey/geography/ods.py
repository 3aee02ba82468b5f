"""Read the NHS Organisation Data Service (ODS) trust and site files, ``etr.csv`` and ``ets.csv``.

Both are published without a header row, in one fixed layout of 27 columns (see GEOGRAPHY.md). The
columns this toolkit uses are named in :data:`ETR_COLUMNS` and :data:`ETS_COLUMNS`; the rest are kept
as ``col_NN`` so nothing is silently lost. Reading validates the column count, the organisation
codes and the dates, and an :class:`~trust_survey.errors.InputFileError` names the file, the line and
what was expected.
"""
from __future__ import annotations

import csv
import io
import re
from datetime import date
from pathlib import Path

import pandas as pd

from trust_survey.errors import InputFileError

ODS_FIELD_COUNT = 27

#: 1-based column positions of the fields we use, shared by both files.
ODS_FIELDS = {
    1: "org_code",
    2: "org_name",
    3: "region_ods",       # National Grouping: NHS England region (Y56-Y63), W00 Wales
    4: "icb_ods",          # High Level Health Geography: the ICB of the HQ postcode
    5: "address_1",
    6: "address_2",
    7: "address_3",
    8: "address_4",
    9: "address_5",
    10: "postcode",
    11: "open_date",
    12: "close_date",
    18: "telephone",
    24: "gor_code",
}
ETS_EXTRA = {14: "sub_type", 15: "parent_code"}


def _column_names(extra: dict[int, str]) -> list[str]:
    fields = {**ODS_FIELDS, **extra}
    return [fields.get(i, f"col_{i:02d}") for i in range(1, ODS_FIELD_COUNT + 1)]


ETR_COLUMNS = _column_names({})
ETS_COLUMNS = _column_names(ETS_EXTRA)

ENGLAND_REGIONS = ("Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63")
ORG_CODE = re.compile(r"^[A-Z0-9]{3,9}$")
GROUP_CODE = re.compile(r"^([A-Z][A-Z0-9]{2,4})?$")
ODS_DATE = re.compile(r"^(\d{8})?$")


def load_etr(path: str | Path) -> pd.DataFrame:
    """Read an ODS ``etr.csv`` (NHS trusts) into a DataFrame, every row kept.

    Out: one row per line with the columns of :data:`ETR_COLUMNS` (strings; ``open_date`` and
    ``close_date`` as ``datetime64``, NaT when blank). Filter with :func:`england_only` and
    :func:`open_on`.
    """
    return _load_ods(path, ETR_COLUMNS, "trust (etr.csv)")


def load_ets(path: str | Path) -> pd.DataFrame:
    """Read an ODS ``ets.csv`` (NHS trust sites): as :func:`load_etr`, plus ``sub_type`` (column 14)
    and ``parent_code`` (column 15, the trust the site belongs to)."""
    frame = _load_ods(path, ETS_COLUMNS, "trust site (ets.csv)")
    bad = frame.index[~frame["parent_code"].str.fullmatch(r"([A-Z0-9]{3,9})?")]
    if len(bad):
        line = int(bad[0]) + 1
        raise InputFileError(
            f"{path}: line {line}: column 15 (parent trust code) is {frame.at[bad[0], 'parent_code']!r}; "
            "expected an ODS trust code such as 'RTD'. Is this really ets.csv?", code="GEO002")
    return frame


def england_only(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows whose region (National Grouping) is one of the seven NHS England regions."""
    return frame[frame["region_ods"].isin(ENGLAND_REGIONS)].reset_index(drop=True)


def open_on(frame: pd.DataFrame, as_of: date | str | None = None) -> pd.DataFrame:
    """Rows open on ``as_of`` (default: still open, i.e. no close date)."""
    if as_of is None:
        return frame[frame["close_date"].isna()].reset_index(drop=True)
    when = pd.Timestamp(as_of)
    opened = frame["open_date"].isna() | (frame["open_date"] <= when)
    not_closed = frame["close_date"].isna() | (frame["close_date"] >= when)
    return frame[opened & not_closed].reset_index(drop=True)


def current_trusts(frame: pd.DataFrame) -> pd.DataFrame:
    """English trusts with no close date: the usual way to count trusts from ``etr.csv``."""
    return open_on(england_only(frame))


# ---- reading ------------------------------------------------------------------------------------------

def _read_text(path: Path) -> str:
    if not path.is_file():
        raise InputFileError(f"{path}: file not found; download it from the ODS data downloads "
                             "(files.digital.nhs.uk/assets/ods/current/) and unzip it", code="GEO005")
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _load_ods(path: str | Path, columns: list[str], what: str) -> pd.DataFrame:
    path = Path(path)
    reader = csv.reader(io.StringIO(_read_text(path), newline=""))
    rows = []
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != ODS_FIELD_COUNT:
            raise InputFileError(
                f"{path}: line {line}: {len(row)} columns; an ODS {what} file has {ODS_FIELD_COUNT} "
                "columns and no header row. Use the CSV from the ODS zip as published.", code="GEO001")
        row = [cell.strip() for cell in row]
        _check_row(path, line, row)
        rows.append(row)
    if not rows:
        raise InputFileError(f"{path}: no rows; expected an ODS {what} file", code="GEO001")
    frame = pd.DataFrame(rows, columns=columns)
    for col in ("open_date", "close_date"):
        frame[col] = pd.to_datetime(frame[col].where(frame[col] != ""), format="%Y%m%d")
    frame["postcode"] = frame["postcode"].map(normalise_ods_postcode)
    return frame


def _check_row(path: Path, line: int, row: list[str]) -> None:
    code = row[0].upper()
    if not ORG_CODE.match(code):
        hint = (" This looks like a header row: ODS files have none, delete it."
                if line == 1 and any(ch.islower() or ch == " " for ch in row[0]) else "")
        raise InputFileError(f"{path}: line {line}: column 1 (organisation code) is {row[0]!r}; expected "
                             f"3 to 9 capital letters or digits such as 'RTD'.{hint}", code="GEO002")
    for pos, label in ((3, "region (National Grouping)"), (4, "ICB (High Level Health Geography)")):
        if not GROUP_CODE.match(row[pos - 1].upper()):
            raise InputFileError(f"{path}: line {line}: column {pos} ({label}) is {row[pos - 1]!r}; "
                                 "expected an ODS code such as 'Y63' or 'QHM', or blank", code="GEO002")
    for pos in (11, 12):
        if not ODS_DATE.match(row[pos - 1]):
            raise InputFileError(f"{path}: line {line}: column {pos} ({'open' if pos == 11 else 'close'} "
                                 f"date) is {row[pos - 1]!r}; expected YYYYMMDD or blank", code="GEO002")


def normalise_ods_postcode(text: str) -> str:
    compact = re.sub(r"\s+", "", text or "").upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact
