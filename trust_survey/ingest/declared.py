"""Hold every size a workbook states about itself to a limit, before the fast reader trusts it.

Calamine reserves memory from numbers a file declares: a shared-strings part's ``uniqueCount``; every
cell between A1 and the farthest cell reference (``<c r="XFD1048576">``); an .ods table's repeat counts.
A forged number makes it reserve gigabytes and abort the whole process, which no ``except`` can catch.
So before calamine opens a workbook, each XML part it may read is scanned here as raw tags, in chunks
(bounded memory), the way calamine reads them: attributes in any order, either quote, any whitespace,
any namespace prefix, column letters in either case, cells placed by position when they carry no
reference. A part stating a size over a limit is refused (F011) by name, and the run goes on.
"""
from __future__ import annotations

import html
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from typing import IO, Iterator

from trust_survey.common.cells import address
from trust_survey.ingest.issues import FileProblem
from trust_survey.ingest.sniff import MAX_UNCOMPRESSED

MAX_CELLS = 4_000_000          # cells calamine may allocate for one sheet (A1 to the last used cell)
EXCEL_ROWS = 1_048_576
EXCEL_COLS = 16_384
MIN_SHARED_STRING = 5          # bytes of XML one shared string takes at the least: <si/>
CHUNK = 1 << 20
MAX_TAG = 1 << 16              # one tag with its attributes; longer is no spreadsheet's

_TAG = re.compile(rb"<(/?)(?:[^\s/<>:\"'=!?]+:)?([^\s/<>:\"'=!?]+)((?:[^>\"']|\"[^\"]*\"|'[^']*')*)>")
_ATTR = re.compile(rb"([^\s=/]+)\s*=\s*(?:\"([^\"]*)\"|'([^']*)')")
_REF = re.compile(rb"([A-Za-z]*)([0-9]+)")
_DECLARING = frozenset((b"sheetData", b"sst", b"dimension", b"col", b"sheet", b"Relationship"))


def _refused(part: str, what: str) -> FileProblem:
    return FileProblem("F011", f"part '{part}' {what}, far more than a return can hold; it was refused unread "
                               "(a damaged or deliberately altered file). Ask the trust to save the workbook again "
                               "from Excel or LibreOffice and resend it")


def _damaged(part: str, what: str) -> FileProblem:
    return FileProblem("F001", f"damaged: part '{part}' {what}; ask the trust to save the workbook again from "
                               "Excel or LibreOffice and resend it")


def tags(fh: IO[bytes], part: str) -> Iterator[tuple[bool, bytes, bytes, bool]]:
    """(closing, local name, raw attributes, self-closing) of each tag of an XML stream, read a chunk at
    a time (see :func:`attributes`). Comments, CDATA and processing instructions are skipped; a document
    type declaration, a ``<`` that opens nothing or a tag longer than :data:`MAX_TAG` is refused as
    damaged (no spreadsheet program writes them; a reader could see them otherwise)."""
    buf, pos, eof = b"", 0, False

    def more() -> bool:
        nonlocal buf, pos, eof
        chunk = b"" if eof else fh.read(CHUNK)
        if not chunk:
            eof = True
            return False
        if not buf and (b"\x00" in chunk[:4] or chunk.startswith((b"\xff\xfe", b"\xfe\xff"))):
            raise _damaged(part, "is not UTF-8 XML (UTF-16 or binary), which spreadsheet programs never write")
        buf, pos = buf[pos:] + chunk, 0
        return True

    def skip(term: bytes, start: int) -> None:
        nonlocal pos
        while True:
            end = buf.find(term, start)
            if end >= 0:
                pos = end + len(term)
                return
            pos = max(start, len(buf) - len(term) + 1)
            if not more():
                raise _damaged(part, f"ends inside a comment or CDATA section (no '{term.decode()}')")
            start = 0

    while True:
        lt = buf.find(b"<", pos)
        if lt < 0:
            pos = len(buf)
            if not more():
                return
            continue
        if len(buf) - lt < MAX_TAG and not eof:
            pos = lt
            more()
            continue
        if buf.startswith(b"<!--", lt):
            skip(b"-->", lt + 4)
            continue
        if buf.startswith(b"<![CDATA[", lt):
            skip(b"]]>", lt + 9)
            continue
        if buf.startswith(b"<?", lt):
            skip(b"?>", lt + 2)
            continue
        if buf.startswith(b"<!", lt):
            raise _damaged(part, "declares a document type (DTD), which spreadsheet programs never write")
        m = _TAG.match(buf, lt, lt + MAX_TAG)
        if m is None:
            raise _damaged(part, f"is not well-formed XML near byte {lt} ('{buf[lt:lt + 40].decode('utf-8', 'replace')}"
                                 "')")
        pos = m.end()
        raw = m.group(3)
        yield m.group(1) == b"/", m.group(2), raw, raw.endswith(b"/") or raw.rstrip().endswith(b"/")


def attributes(raw: bytes, part: str) -> dict[bytes, bytes]:
    """A tag's raw attribute values by qualified name; a repeated attribute is refused as damaged."""
    attrs: dict[bytes, bytes] = {}
    for a in _ATTR.finditer(raw):
        if a.group(1) in attrs:
            raise _damaged(part, f"repeats the attribute '{a.group(1).decode('utf-8', 'replace')}' in one tag")
        attrs[a.group(1)] = a.group(2) if a.group(2) is not None else a.group(3)
    return attrs


def _ref(value: bytes, part: str) -> tuple[int, int] | None:
    """(row, column), 1-based, of a cell reference as calamine reads it (letters in either case, then
    digits; column 0 when there are no letters); ``None`` for what calamine cannot read (it then stops
    with an error of its own, allocating nothing)."""
    m = _REF.fullmatch(value)
    if m is None:
        return None
    col = 0
    for ch in m.group(1).upper():
        col = col * 26 + ch - 64
    return int(m.group(2)), col


def _count(value: bytes | None, part: str, what: str) -> int:
    if value is None:
        return 0
    text = value.strip()
    if not text.isdigit():
        raise _damaged(part, f"gives {what} as '{value[:40].decode('utf-8', 'replace')}', not a whole number")
    return int(text)


def _check_extent(part: str, rows: int, cols: int, what: str) -> None:
    if rows > EXCEL_ROWS or cols > EXCEL_COLS or rows * cols > MAX_CELLS:
        cell = address(min(rows, 10**9), min(cols, 10**6)) if rows and cols else f"row {rows:,}, column {cols:,}"
        raise _refused(part, f"{what} out to cell {cell} ({rows:,} rows x {cols:,} columns, at most "
                             f"{MAX_CELLS:,} cells)")


@dataclass
class PartScan:
    """What one XML part of an .xlsx states: its extent (the farthest cell with content) and, for the
    workbook and its relationships, which parts are sheets."""

    max_row: int = 0
    max_col: int = 0
    sheet_ids: set[str] = field(default_factory=set)          # r:id of each <sheet> (workbook.xml)
    targets: dict[str, str] = field(default_factory=dict)      # relationship Id -> Target


def scan_xlsx_part(fh: IO[bytes], part: str, size: int) -> PartScan:
    """Check one part's declared sizes against the limits; raise FileProblem F011 (or F001) when over."""
    out = PartScan()
    in_data = False
    row = col = 0           # calamine's cursor, 0-based: the row being read, the next cell's column
    cell: tuple[int, int] | None = None
    cell_has_content = False
    for closing, name, raw, empty in tags(fh, part):
        if in_data:
            if name == b"c":
                if not closing:
                    ref = attributes(raw, part).get(b"r")
                    pos = _ref(ref, part) if ref is not None else None
                    if ref is not None and pos is not None and pos[1]:
                        cell, col = (pos[0], pos[1]), pos[1] - 1
                    else:
                        cell = (row + 1, col + 1)
                    cell_has_content = False
                if closing or empty:
                    if cell is not None and cell_has_content:
                        if cell[0] > out.max_row:
                            out.max_row = cell[0]
                        if cell[1] > out.max_col:
                            out.max_col = cell[1]
                        _check_extent(part, out.max_row, out.max_col, "has content")
                    cell = None
                    col += 1
            elif name == b"row":
                if not closing:
                    ref = attributes(raw, part).get(b"r")
                    pos = _ref(ref, part) if ref is not None else None
                    if pos is not None:
                        if pos[0] > EXCEL_ROWS:
                            raise _refused(part, f"numbers a row {pos[0]:,} (a sheet has {EXCEL_ROWS:,})")
                        row = pos[0] - 1
                if closing or empty:
                    row += 1
                    col = 0
            elif name == b"sheetData" and closing:
                in_data = False
            elif cell is not None and not closing:
                cell_has_content = True
            continue
        if closing or name not in _DECLARING:
            continue
        attrs = attributes(raw, part)
        if name == b"sheetData":
            in_data = not empty
        elif name == b"sst":
            unique = _count(attrs.get(b"uniqueCount"), part, "its number of distinct strings")
            total = _count(attrs.get(b"count"), part, "its number of strings")
            room = min(MAX_CELLS, size // MIN_SHARED_STRING + 1)
            if unique > room or total > MAX_UNCOMPRESSED // MIN_SHARED_STRING:
                raise _refused(part, f"declares {max(unique, total):,} shared strings (its {size:,} bytes hold at "
                                     f"most {room:,})")
        elif name == b"dimension" and b"ref" in attrs:
            ends = [_ref(p, part) for p in attrs[b"ref"].split(b":")]
            if all(e is not None for e in ends):
                _check_extent(part, max(e[0] for e in ends), max(e[1] for e in ends), "declares its dimension")
        elif name == b"col":
            for key in (b"min", b"max"):
                n = _count(attrs.get(key), part, f"a column's {key.decode()}")
                if n > EXCEL_COLS:
                    raise _refused(part, f"declares column {n:,} (a sheet has {EXCEL_COLS:,})")
        elif name == b"sheet":
            out.sheet_ids.update(v.decode("utf-8", "replace") for k, v in attrs.items()
                                 if k == b"id" or k.endswith(b":id"))
        elif name == b"Relationship" and b"Id" in attrs and b"Target" in attrs:
            out.targets[attrs[b"Id"].decode("utf-8", "replace")] = html.unescape(attrs[b"Target"].decode(
                "utf-8", "replace"))
    return out


def check_xlsx(zf: zipfile.ZipFile) -> dict[str, PartScan]:
    """Scan every XML part of an .xlsx/.xlsm (and any other part the workbook names as a sheet) before
    calamine opens it; each part's :class:`PartScan` by name. Raise FileProblem F011/F001."""
    infos = {i.filename: i for i in zf.infolist() if not i.is_dir()}
    scans: dict[str, PartScan] = {}

    def scan(name: str) -> None:
        with zf.open(infos[name]) as fh:
            scans[name] = scan_xlsx_part(fh, name, infos[name].file_size)

    for name in infos:
        if name.lower().endswith((".xml", ".rels")):
            scan(name)
    # A workbook may name any part as a sheet (calamine reads it as XML whatever its name): follow the
    # relationships of each part that lists sheets (xl/_rels/workbook.xml.rels for xl/workbook.xml).
    lower = {n.lower(): n for n in infos}
    for rels, s in list(scans.items()):
        folder, base = posixpath.split(rels)
        if posixpath.basename(folder).lower() != "_rels" or not base.lower().endswith(".rels"):
            continue
        home = posixpath.dirname(folder)
        source = scans.get(lower.get(posixpath.join(home, base[:-5]).lower(), ""))
        if source is None or not source.sheet_ids:
            continue
        for rid, target in s.targets.items():
            if rid not in source.sheet_ids:
                continue
            for candidate in (target.lstrip("/"), posixpath.normpath(posixpath.join(home, target))):
                name = lower.get(candidate.lower())
                if name is not None and name not in scans:
                    scan(name)
    return scans


# ---- OpenDocument ---------------------------------------------------------------------------------------

@dataclass
class OdsTable:
    """One .ods table's extent (repeats expanded) and formula cells, by 1-based (row, col)."""

    max_row: int = 0
    max_col: int = 0
    formulas: dict[tuple[int, int], str] = field(default_factory=dict)


_ODS_DECLARING = frozenset((b"table", b"table-row", b"table-cell", b"covered-table-cell"))


def _repeat(attrs: dict[bytes, bytes], local: bytes, part: str) -> int:
    for key, value in attrs.items():
        if key == local or key.endswith(b":" + local):
            return max(_count(value, part, local.decode()), 1)
    return 1


def scan_ods(fh: IO[bytes], part: str = "content.xml") -> dict[str, OdsTable]:
    """Each table of an .ods ``content.xml`` by name, its extent checked against the limits as it is read
    (repeat counts as well as cells); raise FileProblem F011/F001."""
    tables: dict[str, OdsTable] = {}
    current: OdsTable | None = None
    name = ""
    row = col = 0
    row_repeat = cell_repeat = 1
    row_filled = False
    in_cell = False
    cell_filled = False
    formula: str | None = None

    def end_cell() -> None:
        nonlocal col, row_filled
        if cell_filled:
            current.max_col = max(current.max_col, col + cell_repeat)
            row_filled = True
            _check_extent(part, max(current.max_row, row + 1), current.max_col, f"table '{name}' has content")
        if formula:
            for k in range(min(cell_repeat, 1000)):
                current.formulas[(row + 1, col + k + 1)] = "=" + re.sub(r"^of:=?", "", formula)
        col += cell_repeat

    for closing, local, raw, empty in tags(fh, part):
        attrs = attributes(raw, part) if not closing and local in _ODS_DECLARING else {}
        if local == b"table":
            if closing:
                current = None
            elif not empty:
                name = next((html.unescape(v.decode("utf-8", "replace")) for k, v in attrs.items()
                             if k == b"name" or k.endswith(b":name")), "")
                current = tables.setdefault(name, OdsTable())
                row = 0
            continue
        if current is None:
            continue
        if local == b"table-row":
            if not closing:
                row_repeat = _repeat(attrs, b"number-rows-repeated", part)
                col, row_filled = 0, False
            if closing or empty:
                if row_filled:
                    current.max_row = row + row_repeat
                    _check_extent(part, current.max_row, current.max_col, f"table '{name}' has content")
                row += row_repeat
        elif local in (b"table-cell", b"covered-table-cell"):
            if not closing:
                cell_repeat = _repeat(attrs, b"number-columns-repeated", part)
                formula = next((html.unescape(v.decode("utf-8", "replace")) for k, v in attrs.items()
                                if k == b"formula" or k.endswith(b":formula")), None)
                cell_filled = formula is not None or any(k == b"value-type" or k.endswith(b":value-type")
                                                         for k in attrs)
                in_cell = True
            if closing or empty:
                end_cell()
                in_cell = False
        elif in_cell and not closing:
            cell_filled = True
    return tables


# ---- legacy .xls ---------------------------------------------------------------------------------------
#: Address space the trial read of a legacy .xls may use: far more than any real return needs.
XLS_TRIAL_MEMORY = 1 << 30
_XLS_TRIAL = ("import sys\n"
              "from python_calamine import CalamineWorkbook\n"
              "wb = CalamineWorkbook.from_path(sys.argv[1])\n"
              "for i in range(len(wb.sheet_names)):\n"
              "    wb.get_sheet_by_index(i).to_python()\n")


def trial_read_xls(path) -> None:
    """A legacy .xls (BIFF records inside an OLE2 compound file) states each sheet's extent in its DIMENSIONS
    record and its string count in SST, and calamine reserves memory from them when the file is opened, so
    a forged number aborts the process. The file is read first in a child process held to
    :data:`XLS_TRIAL_MEMORY`; if that child is killed or runs out of memory, the file is refused (F011) and
    the run goes on. A child that fails for any other reason leaves the message to the real read. Where the
    system sets no address-space limits (Windows), the file is read as before."""
    import subprocess
    import sys

    try:
        import resource
    except ImportError:   # pragma: no cover - Windows
        return

    def limit() -> None:
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        cap = XLS_TRIAL_MEMORY if hard == resource.RLIM_INFINITY else min(hard, XLS_TRIAL_MEMORY)
        resource.setrlimit(resource.RLIMIT_AS, (cap, hard))

    try:
        proc = subprocess.run([sys.executable, "-c", _XLS_TRIAL, str(path)], preexec_fn=limit,
                              capture_output=True, timeout=120)
    except subprocess.TimeoutExpired:
        raise _refused("Workbook", "took more than two minutes to read") from None
    if proc.returncode < 0 or b"MemoryError" in proc.stderr or b"memory allocation" in proc.stderr:
        raise _refused("Workbook", f"declares sheets or strings that need more than {XLS_TRIAL_MEMORY >> 20:,} MB "
                                   "to read (its DIMENSIONS or SST record)")
