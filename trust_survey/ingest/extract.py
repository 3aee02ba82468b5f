"""Find every answer in a return by the definition's layout, tolerant of what trusts do to workbooks.

A sheet is found by its name, else (renamed) by its header row; a table's columns by their headers
(moved, renamed or deleted columns are reported, never silently misread); a form question by its Ref
in column A (rows inserted above it do not shift answers onto the wrong question). Values typed
outside the answer cells, extra columns and extra sheets are reported, not lost. SPSS and CSV record
files are matched by variable names. The result is one :class:`Cell` per non-blank answer, each with
its exact place (file, sheet, cell, row, column), and the places of every field so a missing answer
can be pointed at too.
"""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from trust_survey.common import constants as C
from trust_survey.ingest.identify import Identity, field_map, layout_for, norm_header, record_variables
from trust_survey.ingest.issues import FileProblem, Issue, display
from trust_survey.ingest.readers import (
    MAX_CELL_TEXT, MAX_DATA_ROWS, DataRecord, LongText, address, col_letter, cut_text, too_many_rows,
)
from trust_survey.instruments.model import Instrument
from trust_survey.instruments.layout import SheetLayout

FORM = "form"
OWN_SHEETS = {C.COVER_SHEET.casefold(), C.LISTS_SHEET.casefold(), C.CHECKS_SHEET.casefold(),
              C.META_SHEET.casefold()}


@dataclass(slots=True)
class Cell:
    record: str              # "form" or a table id
    row_index: int           # 0 in the form; a table's data row (1 = first row under the header) or case
    field_id: str
    file: str
    sheet: str
    cell: str
    row: int | None
    column: str
    raw: Any
    formula: str | None = None
    value: Any = None        # after cleaning: what the column rules check
    text: str | None = None  # after cleaning: canonical text stored
    num: float | None = None
    bad: bool = False
    length: int | None = None   # the answer's real length when it was cut (see cut_long_text)


@dataclass(slots=True)   # one per answered field per respondent: tens of thousands in a platform export
class Place:
    """Where a field's answers live: a sheet column (tables), a sheet cell (form) or a variable."""

    file: str
    sheet: str
    col: int | None
    row: int | None
    column: str
    rows: dict[int, int] | None = None   # data files: row_index -> case number or CSV line


@dataclass
class Extracted:
    cells: list[Cell] = field(default_factory=list)   # emptied once examined (see orchestrate._checked)
    issues: list[Issue] = field(default_factory=list)
    places: dict[tuple[str, str], Place] = field(default_factory=dict)
    missing: set[tuple[str, str]] = field(default_factory=set)    # (record, field) not found at all
    started: dict[str, set[int]] = field(default_factory=dict)   # table id -> rows holding anything
    sources: dict[str, str] = field(default_factory=dict)        # data file name -> sav or csv

    def locate(self, record: str, row_index: int, field_id: str) -> dict:
        """file, sheet, cell, row and column of one answer (present or not)."""
        place = self.places.get((record, field_id))
        if place is None:
            return {"file": "", "sheet": "", "cell": "", "row": None, "column": field_id}
        if place.col is not None:
            row = place.row if record == FORM else row_index + C.HEADER_ROW
            return {"file": place.file, "sheet": place.sheet, "cell": address(row, place.col), "row": row,
                    "column": place.column}
        row = place.rows.get(row_index) if place.rows else None
        return {"file": place.file, "sheet": "", "cell": "", "row": row, "column": place.column}


_SHARED_COLUMNS: dict[tuple, dict] = {}


@dataclass(slots=True)
class CaseLocator:
    """What the column rules need of one respondent's :class:`Extracted` once it is examined (``missing`` and
    :meth:`locate`), kept small: every respondent of a many-respondent file has its answers in the same
    variables, so the variables are shared and only the respondent's own case number or line is kept."""

    columns: dict[tuple[str, str], tuple[str, str]]   # (record, field) -> (file, variable); shared
    rows: dict[int, int] | None                       # row_index -> case number or CSV line
    missing: set[tuple[str, str]]

    def locate(self, record: str, row_index: int, field_id: str) -> dict:
        """As :meth:`Extracted.locate`."""
        found = self.columns.get((record, field_id))
        if found is None:
            return {"file": "", "sheet": "", "cell": "", "row": None, "column": field_id}
        row = self.rows.get(row_index) if self.rows else None
        return {"file": found[0], "sheet": "", "cell": "", "row": row, "column": found[1]}


def case_locator(ext: Extracted) -> Extracted | CaseLocator:
    """``ext`` as a :class:`CaseLocator` when every answer it places is a variable of a data file sharing one
    row map (one case of an SPSS/CSV file or a platform export); else ``ext`` itself."""
    places = list(ext.places.values())
    rows = places[0].rows if places else None
    if any(p.col is not None or p.sheet or p.rows is not rows for p in places):
        return ext
    key = tuple((record, field_id, p.file, p.column) for (record, field_id), p in ext.places.items())
    columns = _SHARED_COLUMNS.get(key)
    if columns is None:
        if len(_SHARED_COLUMNS) > 256:
            _SHARED_COLUMNS.clear()
        columns = _SHARED_COLUMNS[key] = {(k[0], k[1]): (k[2], k[3]) for k in key}
    return CaseLocator(columns, rows, ext.missing)


def cut_long_text(inst: Instrument, out: Extracted) -> None:
    """Cut each text answer longer than its item allows to that limit plus a margin, before it is cleaned
    and checked (the length rule still fails on it, and reports the real length kept in ``Cell.length``).
    Text in a field with no length rule that was cut at reading is reported here."""
    fields = field_map(inst)
    for cell in out.cells:
        if not isinstance(cell.raw, str):
            continue
        f = fields.get(cell.field_id)
        ruled = f is not None and f.type in ("text", "long_text") and bool(f.item.max_length)
        cell.raw = cut_text(cell.raw, f.item.max_length if ruled else MAX_CELL_TEXT)
        if isinstance(cell.raw, LongText):
            cell.length = cell.raw.length
            if not ruled:
                out.issues.append(Issue(
                    "V010", f"{cell.column} is {cell.length:,} characters long; at most {MAX_CELL_TEXT:,} (a "
                            "spreadsheet cell's limit) were read", file=cell.file, sheet=cell.sheet, cell=cell.cell,
                    row=cell.row, column=cell.column, field=cell.field_id, value=cell.raw[:200],
                    expected=f"at most {MAX_CELL_TEXT:,} characters"))


# ---- workbooks ------------------------------------------------------------------------------------------

def _resolve_sheet(book, sheet: SheetLayout, taken: set[str], file: str, out: Extracted) -> str | None:
    from trust_survey.ingest.identify import header_score

    name, score = header_score(book, sheet)
    if name is not None and name.casefold() == sheet.name.casefold():
        return name
    if name is not None and score >= 0.6 and name not in taken:
        out.issues.append(Issue("W028", f"sheet '{sheet.name}' was found as '{name}' (matched by its headers)",
                                file=file, sheet=name, value=name, expected=sheet.name))
        return name
    out.issues.append(Issue("V013", f"sheet '{sheet.name}' is missing (was it deleted or renamed?); its answers "
                                    "could not be read. Copy the answers into the workbook that was sent",
                            file=file, sheet=sheet.name, expected=sheet.name))
    return None


def _cell_value(grid, scan, r: int, c: int) -> tuple[Any, str | None]:
    """(raw value, formula) of grid row r (0-based) and column c (1-based)."""
    row = grid[r] if r < len(grid) else ()
    raw = row[c - 1] if c - 1 < len(row) else None
    pos = (r + 1, c)
    if pos in scan.errors:
        raw = scan.errors[pos]
    return raw, scan.formulas.get(pos)


def _extract_table(book, sheet: SheetLayout, name: str, file: str, out: Extracted) -> None:
    table = sheet.section.table
    grid = book.grid(name)
    if len(grid) - 1 > MAX_DATA_ROWS:
        raise FileProblem("F011", f"sheet '{name}': " + too_many_rows(len(grid) - 1, "rows"))
    scan = book.scan(name)
    header = list(grid[0]) if grid else []
    normed = [norm_header(h) if h is not None else "" for h in header]
    col_of: dict[str, int] = {}
    moved = False
    pending = []
    for col in sheet.columns:
        expected = norm_header(col.header)
        if col.col - 1 < len(normed) and normed[col.col - 1] == expected:
            col_of[col.field.field_id] = col.col
        else:
            pending.append(col)
    for col in list(pending):
        expected = norm_header(col.header)
        free = [i for i, h in enumerate(normed) if h == expected and i + 1 not in col_of.values()]
        if free:
            col_of[col.field.field_id] = free[0] + 1
            moved = True
            pending.remove(col)
    for col in pending:
        expected = norm_header(col.header)
        free = {normed[i]: i for i in range(len(normed)) if normed[i] and i + 1 not in col_of.values()}
        close = difflib.get_close_matches(expected, list(free), n=1, cutoff=0.8)
        if close:
            i = free[close[0]]
            col_of[col.field.field_id] = i + 1
            out.issues.append(Issue("W028", f"column header '{display(header[i])}' read as '{col.header}'", file=file,
                                    sheet=name, cell=address(C.HEADER_ROW, i + 1), row=C.HEADER_ROW,
                                    column=col.header, field=col.field.field_id, value=display(header[i]),
                                    expected=col.header))
        else:
            out.issues.append(Issue("V013", f"column '{col.header}' is missing from sheet {name} (expected in "
                                            f"{col.letter}{C.HEADER_ROW}; was it deleted or renamed?); its answers "
                                            "could not be read", file=file, sheet=name,
                                    cell=f"{col.letter}{C.HEADER_ROW}", row=C.HEADER_ROW, column=col.header,
                                    field=col.field.field_id, expected=col.header))
            out.missing.add((table.id, col.field.field_id))
    if moved:
        out.issues.append(Issue("W028", f"the columns of sheet {name} are not where they were sent (a column was "
                                        "inserted, deleted or moved); each was read by its header", file=file,
                                sheet=name, row=C.HEADER_ROW))
    headers = {c.field.field_id: c.header for c in sheet.columns}
    for fid, c in col_of.items():
        out.places[(table.id, fid)] = Place(file, name, c, None, headers[fid])
    mapped = set(col_of.values())
    width = max((len(r) for r in grid), default=0)
    started = out.started.setdefault(table.id, set())
    extra: dict[int, int] = {}
    beyond = 0
    for r in range(1, len(grid)):
        filled = False
        for fid, c in col_of.items():
            raw, formula = _cell_value(grid, scan, r, c)
            if raw is None and formula is None:
                continue
            filled = True
            out.cells.append(Cell(table.id, r, fid, file, name, address(r + 1, c), r + 1, headers[fid], raw, formula))
        for c in range(1, width + 1):
            if c not in mapped and grid[r][c - 1] is not None:
                extra[c] = extra.get(c, 0) + 1
        if filled:
            started.add(r)
            if r > table.max_rows:
                beyond += 1
    for c, n in sorted(extra.items()):
        label = display(header[c - 1]) if c - 1 < len(header) and header[c - 1] is not None else "(no header)"
        out.issues.append(Issue("W026", f"column {col_letter(c)} ('{label}') of sheet {name} holds {n} value(s) that "
                                        "are not part of the return; they were not read", file=file, sheet=name,
                                cell=f"{col_letter(c)}{C.HEADER_ROW}", row=C.HEADER_ROW, column=label, value=str(n)))
    if beyond:
        out.issues.append(Issue("W013", f"{beyond} row(s) below row {table.max_rows + C.HEADER_ROW} of sheet {name} "
                                        f"were read although the table has room for {table.max_rows}", file=file,
                                sheet=name, row=table.max_rows + C.HEADER_ROW + 1))


def _extract_form(book, sheet: SheetLayout, name: str, file: str, out: Extracted) -> None:
    grid = book.grid(name)
    scan = book.scan(name)
    header = [norm_header(h) if h is not None else "" for h in (grid[0] if grid else [])]
    answer_col = header.index("answer") + 1 if "answer" in header else C.FORM_ANSWER_COL
    ref_col = header.index("ref") + 1 if "ref" in header else C.FORM_REF_COL
    refs: dict[str, int] = {}
    for r in range(1, len(grid)):
        row = grid[r]
        if ref_col - 1 < len(row) and row[ref_col - 1] is not None:
            refs.setdefault(display(row[ref_col - 1]).strip(), r)
    moved = False
    used_rows = set()
    for fc in sheet.form:
        fid = fc.field.field_id
        r = refs.get(fc.ref)
        if r is None:
            out.issues.append(Issue("V013", f"question {fc.ref} ('{fc.field.label}') is missing from sheet {name} "
                                            f"(expected in row {fc.row}); its answer could not be read", file=file,
                                    sheet=name, cell=fc.address, row=fc.row, column=fc.field.label, field=fid,
                                    expected=fc.ref))
            out.missing.add((FORM, fid))
            continue
        used_rows.add(r)
        moved = moved or r != fc.row - 1 or answer_col != fc.col
        out.places[(FORM, fid)] = Place(file, name, answer_col, r + 1, fc.field.label)
        raw, formula = _cell_value(grid, scan, r, answer_col)
        if raw is not None or formula is not None:
            out.cells.append(Cell(FORM, 0, fid, file, name, address(r + 1, answer_col), r + 1, fc.field.label, raw,
                                  formula))
    if moved:
        out.issues.append(Issue("W029", f"the questions on sheet {name} are not in the rows they were sent in; each "
                                        "answer was read by its Ref in column A", file=file, sheet=name))
    for r in range(1, len(grid)):
        for c, value in enumerate(grid[r], start=1):
            outside = c > C.FORM_GUIDANCE_COL or (c == answer_col and r not in used_rows)
            if value is not None and outside and c not in (ref_col,):
                out.issues.append(Issue("W013", f"'{display(value)[:80]}' in {name}!{address(r + 1, c)} is outside the "
                                                "answer cells; it was not read", file=file, sheet=name,
                                        cell=address(r + 1, c), row=r + 1, value=value))


def extract_workbook(book, identity: Identity, file: str) -> Extracted:
    """Every answer of a workbook return, by the layout of the instrument it was identified as."""
    out = Extracted()
    layout = layout_for(identity.instrument)
    taken: set[str] = set()
    for sheet in layout.sheets:
        name = _resolve_sheet(book, sheet, taken, file, out)
        if name is None:
            record = sheet.section.table.id if sheet.is_table else FORM
            fields = sheet.columns if sheet.is_table else sheet.form
            out.missing |= {(record, f.field.field_id) for f in fields}
            continue
        taken.add(name)
        if sheet.is_table:
            _extract_table(book, sheet, name, file, out)
        else:
            _extract_form(book, sheet, name, file, out)
    for name in book.sheet_names:
        if name in taken or name.casefold() in OWN_SHEETS:
            continue
        values = sum(v is not None for row in book.grid(name) for v in row)
        if values:
            out.issues.append(Issue("W025", f"extra sheet '{name}' holds {values} value(s) that are not part of the "
                                            "return; it was not read", file=file, sheet=name, value=str(values)))
    cut_long_text(identity.instrument, out)
    return out


# ---- SPSS and CSV ---------------------------------------------------------------------------------------

def _record_of_columns(stem: str, columns, variables: dict[str | None, list[str]]) -> str | None | bool:
    if "__" in stem:
        suffix = stem.rsplit("__", 1)[1]
        if suffix in variables:
            return suffix
    cols = {c.casefold() for c in columns}
    best, best_score = False, 0.0
    for key, names in variables.items():
        score = len(cols & {n.casefold() for n in names}) / max(len(names), 1)
        if score > best_score:
            best, best_score = key, score
    return best if best_score >= 0.5 else False


_LAYOUTS: dict[tuple, tuple] = {}


def _columns_layout(inst: Instrument, columns: tuple[str, ...], stem: str, key=None) -> tuple:
    """What a record file's columns say, worked out once per instrument and header (a many-respondent file
    is split into one record per respondent, all with the same columns): with no ``key``, which record of
    the instrument they hold; with ``("record", record)``, that record's extra columns, each field's column
    index (None: absent) and the id column's index."""
    cache_key = (id(inst), columns, stem, key)
    held = _LAYOUTS.get(cache_key)
    if held is not None and held[0] is inst:
        return held[1]
    if key is None:
        layout = _record_of_columns(stem, columns, record_variables(inst))
    else:
        fields = inst.fields()
        id_field = next(f for f in fields if f.field_id == inst.id_item)
        rec_fields = [f for f in fields if f.table == key[1]]
        cols = {c.casefold(): i for i, c in enumerate(columns)}
        known = {f.var_name.casefold() for f in rec_fields} | {id_field.var_name.casefold()}
        extra = [c for c in columns if c.casefold() not in known]
        layout = (extra, [(f, cols.get(f.var_name.casefold())) for f in rec_fields],
                  cols.get(id_field.var_name.casefold()))
    if len(_LAYOUTS) > 256:
        _LAYOUTS.clear()
    _LAYOUTS[cache_key] = (inst, layout)
    return layout


def extract_records(records: list[DataRecord], identity: Identity, stem: str) -> Extracted:
    """Every answer of an SPSS or CSV return: one record file for the form, one per table."""
    out = Extracted()
    inst = identity.instrument
    individual = "individual" in inst.audience
    fields = inst.fields()
    id_field = next(f for f in fields if f.field_id == inst.id_item)
    by_record: dict[str | None, DataRecord] = {}
    for record in records:
        out.issues.extend(record.issues)
        key = _columns_layout(inst, tuple(record.columns), record.path.stem)
        if key is False:
            out.issues.append(Issue("W026", f"{record.path.name} matches no record of {inst.key}; it was not read",
                                    file=record.path.name))
            continue
        if key in by_record:
            out.issues.append(Issue("V013", f"{record.path.name} and {by_record[key].path.name} hold the same record "
                                            f"({key or 'form'}); only the first was read", file=record.path.name))
            continue
        by_record[key] = record
    ext = records[0].path.suffix if records else ".csv"
    if None not in by_record:
        out.issues.append(Issue("V013", f"the form record file ({stem}{ext}) is missing; its answers could not be read",
                                file=f"{stem}{ext}"))
        out.missing |= {(FORM, f.field_id) for f in fields if f.table is None}
    for key, record in by_record.items():
        source = "sav" if record.kind in ("sav", "zsav", "platform") else "csv"   # platform: codes, as SPSS
        name = record.path.name
        extra, lookups, id_col = _columns_layout(inst, tuple(record.columns), record.path.stem, ("record", key))
        rec_id = key or FORM
        rows = record.rows
        if key is None and len(rows) > 1:
            out.issues.append(Issue("V015", f"{name} holds {len(rows)} cases; the form record has one. Only the "
                                            "first was read", file=name, row=2, value=str(len(rows)), expected="1"))
            rows = rows[:1]
        numbers = dict(zip(range(1, len(rows) + 1), record.numbers))
        if extra:
            out.issues.append(Issue("W026", f"{name} has variable(s) that are not part of the return: "
                                            f"{', '.join(extra)}; they were not read", file=name,
                                    value=", ".join(extra)))
        index = {}
        rows_map = {0: numbers.get(1)} if key is None else numbers   # shared by the record's places (read only)
        for f, i in lookups:
            if i is None:
                if individual and not f.item.required:   # a survey team may leave out optional questions
                    out.issues.append(Issue("W033", f"variable {f.var_name} ('{f.label}') is not in {name}; its "
                                                    "answers are blank", file=name, column=f.var_name,
                                            field=f.field_id, expected=f.var_name))
                    continue
                out.issues.append(Issue("V013", f"variable {f.var_name} ('{f.label}') is missing from {name}; its "
                                                "answers could not be read", file=name, column=f.var_name,
                                        field=f.field_id, expected=f.var_name))
                out.missing.add((rec_id, f.field_id))
                continue
            index[f.field_id] = i
            out.places[(rec_id, f.field_id)] = Place(name, "", None, None, f.var_name, rows_map)
        id_i = id_col if key is not None else None
        started = out.started.setdefault(rec_id, set()) if key is not None else None
        for k, row in enumerate(rows, start=1):
            row_index = 0 if key is None else k
            line = numbers.get(k)
            if id_i is not None and id_i < len(row) and row[id_i] is not None:
                code = display(row[id_i]).strip().upper()
                if code != identity.org_code:
                    out.issues.append(Issue("V012", f"case {k} of {name} is for organisation {code}, not "
                                                    f"{identity.org_code}", file=name, row=line,
                                            column=id_field.var_name, field=id_field.field_id, value=code,
                                            expected=identity.org_code))
            filled = False
            for fid, i in index.items():
                raw = row[i] if i < len(row) else None
                if raw is None:
                    continue
                filled = True
                out.cells.append(Cell(rec_id, row_index, fid, name, "", "", line, record.columns[i], raw, None))
            if filled and started is not None:
                started.add(row_index)
        out.sources[name] = source
    cut_long_text(inst, out)
    return out
