"""Read a return's values fast and without running anything.

Workbooks (.xlsx/.xlsm/.xls/.ods) are read with python-calamine, which returns each cell's stored
value and never evaluates a formula or a macro. Calamine hides formulas (it gives the value last
calculated by the program that saved the file) and shows error values (``#REF!``) as blanks, so for
.xlsx and .ods the answer sheets' XML is also scanned, cheaply, for formula and error cells: a formula
in an answer cell is reported (its cached value is used; the formula is never run) and an error value
is reported as such rather than read as a blank. .xls (BIFF) is not scanned: its formula cells are
read as their cached values without a warning.

Before calamine builds a sheet (it allocates every cell between A1 and the last used cell), the
sheet's extent is checked, so a stray value in cell XFD1048576 cannot exhaust memory.

SPSS files are read with pyreadstat keeping user-missing codes (``user_missing=True``); CSV with the
standard library, every value as text, UTF-8 (with or without BOM), UTF-16 or else Windows-1252.
"""
from __future__ import annotations

import html
import math
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from trust_survey.cells import address, col_letter, col_number  # noqa: F401 - re-exported
from trust_survey.ingest.issues import FileProblem, Issue
from trust_survey.ingest.sniff import check_zip

MAX_CELLS = 4_000_000           # cells calamine may allocate for one sheet (A1 to the last used cell)
MAX_SHEET_XML = 48 * 2**20       # bytes of one sheet's XML
#: Data rows one table (sheet or record file) may hold: tables have room for at most a few hundred
#: rows and a survey-platform export one row per respondent, so beyond this the file is refused
#: before its rows become Python objects (a 50 MB CSV would otherwise need gigabytes).
MAX_DATA_ROWS = 20_000
_LAST_ROW = re.compile(rb'<row [^>]*?\br="([0-9]{1,7})"')
_CELL_ROWS = re.compile(rb'<c r="[A-Z]{1,3}([0-9]{1,7})"')
_CELL_COLS = re.compile(rb'<c r="([A-Z]{1,3})[0-9]')
_CELL = re.compile(rb'<c r="([A-Z]{1,3}[0-9]{1,7})"([^>]*?)(?:/>|>(.*?)</c>)', re.S)
_FORMULA = re.compile(rb"<f\b[^>]*?(?:/>|>(.*?)</f>)", re.S)
_HAS_FORMULA = re.compile(rb"<f[ >/]")   # a cell formula, not <formula1> of a data validation
_VALUE = re.compile(rb"<v>(.*?)</v>", re.S)


@dataclass
class SheetScan:
    """What the XML says that calamine does not: formula cells and error values, by 1-based (row, col)."""

    formulas: dict[tuple[int, int], str] = field(default_factory=dict)
    errors: dict[tuple[int, int], str] = field(default_factory=dict)
    max_row: int = 0
    max_col: int = 0


def _split_ref(ref: bytes) -> tuple[int, int]:
    m = re.match(rb"([A-Z]+)([0-9]+)", ref)
    return int(m.group(2)), col_number(m.group(1).decode())


class _XlsxScanner:
    """Maps sheet names to their XML parts and scans a part for extent, formulas and errors."""

    def __init__(self, zf: zipfile.ZipFile):
        self.zf = zf
        book = zf.read("xl/workbook.xml")
        rels = zf.read("xl/_rels/workbook.xml.rels")
        targets = {}
        for m in re.finditer(rb"<Relationship\b([^>]*)/?>", rels):
            attrs = dict(re.findall(rb'(\w+)="([^"]*)"', m.group(1)))
            if b"Id" in attrs and b"Target" in attrs:
                target = attrs[b"Target"].decode()
                target = target.lstrip("/") if target.startswith("/") else "xl/" + target
                targets[attrs[b"Id"].decode()] = target
        self.parts: dict[str, str] = {}
        for m in re.finditer(rb"<(?:\w+:)?sheet\b([^>]*)/>", book):
            attrs = dict(re.findall(rb'([\w:]+)="([^"]*)"', m.group(1)))
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
        # Rows are stored in ascending order, so the last row number is the sheet's height; the
        # distinct column letters are few, so the widest is cheap to find.
        last = _LAST_ROW.search(xml, max(xml.rfind(b"<row "), 0))
        rows = [int(last.group(1))] if last else []
        rows += [int(n) for n in _CELL_ROWS.findall(xml[max(xml.rfind(b"<c "), 0):])]
        out.max_row = max(rows + [xml.count(b"<row ")])
        out.max_col = max((col_number(c.decode()) for c in set(_CELL_COLS.findall(xml))), default=0)
        if _HAS_FORMULA.search(xml) or b't="e"' in xml:
            for m in _CELL.finditer(xml):
                attrs, inner = m.group(2), m.group(3) or b""
                pos = _split_ref(m.group(1))
                f = _FORMULA.search(inner)
                if f is not None:
                    out.formulas[pos] = "=" + html.unescape((f.group(1) or b"").decode("utf-8", "replace"))
                if b't="e"' in attrs:
                    v = _VALUE.search(inner)
                    out.errors[pos] = html.unescape(v.group(1).decode("utf-8", "replace")) if v else "#ERROR"
        return out


_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"


def _scan_ods(zf: zipfile.ZipFile) -> dict[str, SheetScan]:
    """Walk content.xml once: each sheet's used extent and its formula cells (repeats expanded)."""
    info = zf.getinfo("content.xml")
    if info.file_size > MAX_SHEET_XML * 2:
        raise FileProblem("F011", f"the workbook holds {info.file_size / 2**20:,.0f} MB of cells, far more than a "
                                  "return needs; delete the stray content and resend")
    scans: dict[str, SheetScan] = {}
    current: SheetScan | None = None
    row = col = 0
    row_filled = False
    with zf.open("content.xml") as fh:
        for event, el in ET.iterparse(fh, events=("start", "end")):
            tag = el.tag
            if event == "start":
                if tag == _TABLE + "table":
                    current = scans.setdefault(el.get(_TABLE + "name", ""), SheetScan())
                    row = 0
                elif tag == _TABLE + "table-row":
                    col = 0
                    row_filled = False
                continue
            if current is None:
                continue
            if tag in (_TABLE + "table-cell", _TABLE + "covered-table-cell"):
                repeat = int(el.get(_TABLE + "number-columns-repeated", "1"))
                if el.get(_OFFICE + "value-type") is not None or len(el):
                    current.max_col = max(current.max_col, col + repeat)
                    row_filled = True
                formula = el.get(_TABLE + "formula")
                if formula:
                    for k in range(min(repeat, 1000)):
                        current.formulas[(row + 1, col + k + 1)] = "=" + re.sub(r"^of:=?", "", formula)
                col += repeat
                el.clear()
            elif tag == _TABLE + "table-row":
                repeat = int(el.get(_TABLE + "number-rows-repeated", "1"))
                if row_filled:
                    current.max_row = row + repeat
                row += repeat
                el.clear()
            elif tag == _TABLE + "table":
                current = None
    return scans


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
                else:
                    self._xlsx = _XlsxScanner(self._zip)
                    self.macros = "xl/vbaProject.bin" in self._zip.namelist()
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
        grid = [[None if v == "" else v for v in row] for row in rows]
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
    if isinstance(value, str):
        value = value.rstrip()   # SPSS pads strings to the variable's width
        return value or None
    if hasattr(value, "to_pydatetime"):
        return None if value != value else value.to_pydatetime()
    return value


def read_sav(path: Path) -> DataRecord:
    """Read an SPSS .sav/.zsav keeping user-missing codes (they are answers the definition knows)."""
    import pyreadstat

    try:
        _, head = pyreadstat.read_sav(str(path), metadataonly=True)
        if (head.number_rows or 0) > MAX_DATA_ROWS:
            raise FileProblem("F011", too_many_rows(head.number_rows, "cases"))
        df, meta = pyreadstat.read_sav(str(path), user_missing=True)
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
        rows.append([None if cell == "" else cell for cell in record])
        numbers.append(number)
    return DataRecord(Path(path), "csv", header, rows, {}, issues, numbers)
