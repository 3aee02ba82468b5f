"""Read a return's values fast and without running anything.

Workbooks (.xlsx/.xlsm/.xls/.ods) are read with python-calamine, which returns each cell's stored
value and never evaluates a formula or a macro. Calamine hides formulas (it gives the value last
calculated by the program that saved the file) and shows error values (``#REF!``) as blanks, so for
.xlsx and .ods the answer sheets' XML is also scanned, cheaply, for formula and error cells: a formula
in an answer cell is reported (its cached value is used; the formula is never run) and an error value
is reported as such rather than read as a blank. .xls (BIFF) is not scanned: its formula cells are
read as their cached values without a warning.

Before calamine opens a workbook, every size its XML parts declare (shared strings, dimensions, each
cell's and row's reference, .ods repeat counts) is held to a limit (:mod:`.declared`), so a stray value
in cell XFD1048576 or a forged count cannot exhaust memory and abort the process.

SPSS files are read with pyreadstat keeping user-missing codes (``user_missing=True``); CSV with the
standard library, every value as text, UTF-8 (with or without BOM), UTF-16 or else Windows-1252.
"""
from __future__ import annotations

import datetime as dt
import html
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust_survey.common.cells import address, col_letter, col_number  # noqa: F401 - re-exported
from trust_survey.ingest.declared import MAX_CELLS, check_xlsx, scan_ods, trial_read_xls
from trust_survey.ingest.issues import FileProblem, Issue
from trust_survey.ingest.sniff import check_zip
from trust_survey.common.values import DateOutOfRange

MAX_SHEET_XML = 48 * 2**20       # bytes of one sheet's XML
#: Data rows one table (sheet or record file) may hold: tables have room for at most a few hundred
#: rows and a survey-platform export one row per respondent, so beyond this the file is refused
#: before its rows become Python objects (a 50 MB CSV would otherwise need gigabytes).
MAX_DATA_ROWS = 20_000
#: Characters of one cell kept when reading: a spreadsheet cell's own limit (also the longest text a
#: definition may allow), plus :data:`TEXT_MARGIN`. Longer text is cut here, before it is copied into
#: cleaning and the checks (a few megabytes in one cell cost gigabytes there); its real length travels
#: with it so the issue about it reports that.
MAX_CELL_TEXT = 32_767
TEXT_MARGIN = 100
_CELL = re.compile(rb"<(?:\w+:)?c\b([^>]*?)(?:/>|>(.*?)</(?:\w+:)?c>)", re.S)
_CELL_REF = re.compile(rb"""\br\s*=\s*["']([A-Za-z]{1,3}[0-9]{1,7})["']""")
_ATTR = re.compile(rb"""([\w:]+)\s*=\s*(?:"([^"]*)"|'([^']*)')""")
_ERROR_TYPE = re.compile(rb"""\bt\s*=\s*["']e["']""")
_FORMULA = re.compile(rb"<f\b[^>]*?(?:/>|>(.*?)</f>)", re.S)
_HAS_FORMULA = re.compile(rb"<f[ >/]")   # a cell formula, not <formula1> of a data validation
_VALUE = re.compile(rb"<v>(.*?)</v>", re.S)


class LongText(str):
    """Text cut at reading; ``length`` is how many characters it really had."""

    length: int


def cut_text(value: Any, limit: int = MAX_CELL_TEXT) -> Any:
    """``value``, or its first ``limit`` + :data:`TEXT_MARGIN` characters as :class:`LongText` when it is
    longer (its real length kept, also when it was cut before)."""
    if not isinstance(value, str) or len(value) <= limit + TEXT_MARGIN:
        return value
    out = LongText(value[: limit + TEXT_MARGIN])
    out.length = getattr(value, "length", len(value))
    return out


@dataclass
class SheetScan:
    """What the XML says that calamine does not: formula cells and error values, by 1-based (row, col)."""

    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    max_row: int = 0
    max_col: int = 0


def _split_ref(ref: bytes) -> tuple[int, int]:
    m = re.match(rb"([A-Za-z]+)([0-9]+)", ref)
    return int(m.group(2)), col_number(m.group(1).decode().upper())


def _attrs(raw: bytes) -> dict[bytes, bytes]:
    return {k: a or b for k, a, b in _ATTR.findall(raw)}


class _XlsxScanner:
    """Maps sheet names to their XML parts and scans a part for extent, formulas and errors."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        self.extents = check_xlsx(zf)
        book = zf.read("xl/workbook.xml")
        rels = zf.read("xl/_rels/workbook.xml.rels")
        targets = {}
        for m in re.finditer(rb"<Relationship\b([^>]*)/?>", rels):
            attrs = _attrs(m.group(1))
            if b"Id" in attrs and b"Target" in attrs:
                target = attrs[b"Target"].decode()
                target = target.lstrip("/") if target.startswith("/") else "xl/" + target
                targets[attrs[b"Id"].decode()] = target
        self.parts: dict[str, str] = {}
        for m in re.finditer(rb"<(?:\w+:)?sheet\b([^>]*)/>", book):
            attrs = _attrs(m.group(1))
            name = html.unescape(attrs.get(b"name", b"").decode("utf-8"))
            rid = next((v.decode() for k, v in attrs.items() if k.endswith(b":id")), None)
            if rid in targets:
                self.parts[name] = targets[rid]

    def scan(self, name: str) -> SheetScan:
        part = self.parts.get(name)
        out = SheetScan()
        if part is None or part not in self.zf.namelist():
            return out
        if self.zf.getinfo(part).file_size > MAX_SHEET_XML:
            raise FileProblem("F011", f"sheet '{name}' holds {self.zf.getinfo(part).file_size / 2**20:,.0f} MB of "
                                      "cells, far more than a return needs; delete the stray content and resend")
        xml = self.zf.read(part)
        if part in self.extents:
            out.max_row, out.max_col = self.extents[part].max_row, self.extents[part].max_col
        if _HAS_FORMULA.search(xml) or _ERROR_TYPE.search(xml):
            for m in _CELL.finditer(xml):
                attrs, inner = m.group(1), m.group(2) or b""
                ref = _CELL_REF.search(attrs)
                if ref is None:
                    continue
                pos = _split_ref(ref.group(1))
                f = _FORMULA.search(inner)
                if f is not None:
                    out.formulas[pos] = "=" + html.unescape((f.group(1) or b"").decode("utf-8", "replace"))
                if _ERROR_TYPE.search(attrs):
                    v = _VALUE.search(inner)
                    out.errors[pos] = html.unescape(v.group(1).decode("utf-8", "replace")) if v else "#ERROR"
        return out


def _scan_ods(zf: zipfile.ZipFile) -> dict[str, SheetScan]:
    """Each sheet's used extent and formula cells from ``content.xml``, its sizes checked as it is read."""
    info = zf.getinfo("content.xml")
    if info.file_size > MAX_SHEET_XML * 2:
        raise FileProblem("F011", f"the workbook holds {info.file_size / 2**20:,.0f} MB of cells, far more than a "
                                  "return needs; delete the stray content and resend")
    with zf.open(info) as fh:
        tables = scan_ods(fh)
    return {name: SheetScan(formulas=t.formulas, max_row=t.max_row, max_col=t.max_col) for name, t in tables.items()}


class BookReader:
    """One workbook opened with calamine; sheets are read (and checked) on first use."""

    def __init__(self, path: Path, kind: str):
        from python_calamine import CalamineWorkbook

        self.path = Path(path)
        self.kind = kind
        self._grids: dict[str, list[list[Any]]] = {}
        self._scans: dict[str, SheetScan] = {}
        self._zip: zipfile.ZipFile | None = None
        self._xlsx: _XlsxScanner | None = None
        self.macros = False
        try:
            if kind in ("xlsx", "xlsm", "ods"):
                self._zip = check_zip(self.path)
                if kind == "ods":
                    self._scans = _scan_ods(self._zip)
                else:   # checks every part's declared sizes before calamine reads any
                    self._xlsx = _XlsxScanner(self._zip)
                    self.macros = "xl/vbaProject.bin" in self._zip.namelist()
            elif kind == "xls":   # no XML to scan: a trial read in a child held to a memory limit
                trial_read_xls(self.path)
            self._wb = CalamineWorkbook.from_path(str(self.path))
            meta = self._wb.sheets_metadata
        except FileProblem:
            self.close()
            raise
        except Exception as exc:  # noqa: BLE001 - calamine raises several unrelated types
            self.close()
            raise _problem(exc) from None
        self.visibility = {m.name: str(m.visible).rsplit(".", 1)[-1].lower() for m in meta}
        self.sheet_names = [m.name for m in meta]

    def scan(self, name: str) -> SheetScan:
        if name not in self._scans:
            self._scans[name] = self._xlsx.scan(name) if self._xlsx else SheetScan()
        return self._scans[name]

    def grid(self, name: str) -> list[list[Any]]:
        """The sheet's values from A1 as rows of Python values; blanks are None."""
        if name in self._grids:
            return self._grids[name]
        scan = self.scan(name)
        if scan.max_row * max(scan.max_col, 1) > MAX_CELLS:
            raise FileProblem("F011", f"sheet '{name}' has content out to cell {address(scan.max_row, scan.max_col)}"
                                      f" ({scan.max_row:,} rows x {scan.max_col:,} columns); delete the stray cells "
                                      "and resend")
        try:
            sheet = self._wb.get_sheet_by_name(name)
            if (sheet.total_height or 0) * max(sheet.total_width or 0, 1) > MAX_CELLS:
                raise FileProblem("F011", f"sheet '{name}' has {sheet.total_height:,} rows x {sheet.total_width:,} "
                                          "columns of content; delete the stray cells and resend")
            rows = sheet.to_python(skip_empty_area=False)
        except FileProblem:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _problem(exc, name) from None
        grid = [[None if v == "" else cut_text(v) if isinstance(v, str) else v for v in row] for row in rows]
        self._grids[name] = grid
        return grid

    def close(self) -> None:
        if self._zip is not None:
            self._zip.close()
            self._zip = None


def _problem(exc: Exception, sheet: str | None = None) -> FileProblem:
    name = type(exc).__name__
    where = f" (sheet '{sheet}')" if sheet else ""
    if "Password" in name or "password" in str(exc).lower() or "encrypt" in str(exc).lower():
        return FileProblem("F004", f"password-protected or encrypted{where}: ask the trust to remove the password "
                                   "and resend")
    return FileProblem("F001", f"damaged: the workbook cannot be read{where} ({name}: {str(exc)[:200]}); ask the "
                               "trust to save it again as .xlsx and resend")


# ---- SPSS and CSV ---------------------------------------------------------------------------------------

@dataclass
class DataRecord:
    """One .sav or .csv record file: its variables and cases, plus what its metadata says about it."""

    path: Path
    kind: str                       # sav, zsav or csv
    columns: list[str]
    rows: list[list[Any]]           # cases; blanks are None
    notes: dict[str, str] = field(default_factory=dict)   # trust-survey meta lines from an SPSS document
    issues: list[Issue] = field(default_factory=list)
    numbers: list[int] = field(default_factory=list)   # each case's number (SPSS) or line (CSV, header = 1)


def too_many_rows(n: int, what: str) -> str:
    return (f"it holds {n:,} {what}, far more than a return (at most {MAX_DATA_ROWS:,}); it was refused unread. "
            "Check it is the right file, or split it")


def _clean_sav_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str) and not isinstance(value, DateOutOfRange):
        value = value.rstrip()   # SPSS pads strings to the variable's width
        return cut_text(value) or None
    if hasattr(value, "to_pydatetime"):
        return None if value != value else value.to_pydatetime()
    return value


SPSS_EPOCH = dt.datetime(1582, 10, 14)   # SPSS dates are seconds since the start of the Gregorian calendar
_SPSS_DATE_FORMAT = re.compile(r"^(DATETIME|YMDHMS|DATE|ADATE|EDATE|SDATE|JDATE|MOYR|QYR|WKYR)", re.I)


def _spss_date(seconds: Any, fmt: str) -> Any:
    """An SPSS date variable's value (seconds since 14/10/1582) as a date, or a datetime for a DATETIME
    format; beyond the calendar (after 31/12/9999, before year 1) as :class:`DateOutOfRange`."""
    if seconds is None or (isinstance(seconds, float) and math.isnan(seconds)):
        return None
    try:
        when = SPSS_EPOCH + dt.timedelta(seconds=float(seconds))
    except (OverflowError, ValueError):
        side = "after 31/12/9999" if float(seconds) > 0 else "before 01/01/0001"
        return DateOutOfRange(f"{float(seconds):g} seconds after 14/10/1582, a date {side}")
    return when if fmt.upper().startswith(("DATETIME", "YMDHMS")) else when.date()


def _read_sav_dates_raw(pyreadstat, path: Path):
    """Read a .sav whose dates pyreadstat cannot convert (one lies past the year 9999): every date
    variable is read as seconds and converted here, case by case."""
    import pandas as pd

    df, meta = pyreadstat.read_sav(str(path), user_missing=True, disable_datetime_conversion=True)
    for name, fmt in (meta.original_variable_types or {}).items():
        if name in df.columns and _SPSS_DATE_FORMAT.match(fmt or ""):
            df[name] = pd.Series([_spss_date(v, fmt) for v in df[name]], index=df.index, dtype=object)
    return df, meta


def read_sav(path: Path) -> DataRecord:
    """Read an SPSS .sav/.zsav keeping user-missing codes (they are answers the definition knows)."""
    import pyreadstat

    try:
        _, head = pyreadstat.read_sav(str(path), metadataonly=True)
        if (head.number_rows or 0) > MAX_DATA_ROWS:
            raise FileProblem("F011", too_many_rows(head.number_rows, "cases"))
        try:
            df, meta = pyreadstat.read_sav(str(path), user_missing=True)
        except OverflowError:
            df, meta = _read_sav_dates_raw(pyreadstat, path)
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError, UnicodeDecodeError, ValueError, OSError) as exc:
        raise FileProblem("F001", f"damaged SPSS file: {exc}; ask the trust to save it again from SPSS "
                                  "(File > Save As > .sav) and resend") from None
    notes: dict[str, str] = {}
    for note in meta.notes or []:
        for line in str(note).splitlines():
            key, sep, value = line.partition("=")
            if sep:
                notes[key.strip()] = value.strip()
    rows = [[_clean_sav_value(v) for v in rec] for rec in df.itertuples(index=False, name=None)]
    return DataRecord(Path(path), "sav", [str(c) for c in df.columns], rows, notes,
                      numbers=list(range(1, len(rows) + 1)))


def read_csv(path: Path) -> DataRecord:
    """Read a CSV return file (header row of variable names, one case per record, every value as text)
    through :func:`trust_survey.csvread.read_records`: a truncated or malformed file raises FileProblem
    (F001) and nothing of it is read; more than :data:`MAX_DATA_ROWS` records (not lines) is F011."""
    from trust_survey.csvread import CsvProblem, blank, read_records

    try:
        table = read_records(Path(path), max_records=MAX_DATA_ROWS)
    except CsvProblem as exc:
        if exc.code == "F011":
            raise FileProblem("F011", f"it holds more than {MAX_DATA_ROWS:,} records, far more than a return; it "
                                      "was refused unread. Check it is the right file, or split it") from None
        raise FileProblem(exc.code, exc.message) from None
    issues = [Issue("W030", note, file=Path(path).name) for note in table.notes]
    header = [h.strip() for h in table.header]
    rows, numbers = [], []
    for number, record in zip(table.numbers, table.records):
        if blank(record):
            continue
        rows.append([None if cell == "" else cut_text(cell) for cell in record])
        numbers.append(number)
    return DataRecord(Path(path), "csv", header, rows, {}, issues, numbers)
