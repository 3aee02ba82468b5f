"""Keep text that trusts typed from becoming a formula in anything we write (CSV or Excel).

A spreadsheet treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab or
carriage return) as a formula: ``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` in a job title would run
when an analyst opens our export. Three tools, one rule:

- :func:`neutralise` for CSV and any plain value: text that a spreadsheet would run gets a leading ``'``
  (what Excel itself shows for text typed with a leading apostrophe), so it reads the same and never runs.
- :func:`neutralise_frame` applies it to every text cell of a DataFrame before ``to_csv``.
- :func:`write_text_cell` for openpyxl: the cell keeps the exact text, is stored as a string (not a
  formula) and carries Excel's ``quotePrefix`` style, so there is no visible apostrophe;
  :func:`write_frame_sheet` writes a whole DataFrame that way.

Numbers are never changed: numeric types pass through, and so does text that *is* a number (``"-3"``,
``"+44"``, ``"-0.5"``, ``"1e-3"``), because a spreadsheet reads it as a number and runs nothing. Quoting
negative numbers as text is a known mistake of naive fixes; we do not make it.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?%?$")


def is_formula_like(text: str) -> bool:
    """True when a string would be read as a formula (or command) by a spreadsheet program."""
    return bool(text) and text.startswith(FORMULA_TRIGGERS) and not _NUMBER.match(text.strip())


def neutralise(value: Any) -> Any:
    """Return ``value`` unchanged unless it is text that a spreadsheet would run; then prefix ``'``.

    Numbers (including negative numbers, numeric text and numeric types from numpy/pandas) pass through
    untouched, as do None and NaN.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, (int,)) or (isinstance(value, float) and not math.isnan(value)):
        return value
    if not isinstance(value, str):
        return value
    if is_formula_like(value):
        return "'" + value
    return value


def neutralise_frame(df):
    """A copy of a pandas DataFrame with every formula-like text cell neutralised (numbers untouched)."""
    import pandas as pd

    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            values = out[col].astype(object)
            uniques = pd.unique(values)   # a coded column has few distinct values: neutralise each once
            if len(uniques) < len(values):
                out[col] = values.map(dict(zip(uniques, map(neutralise, uniques))))
            else:
                out[col] = values.map(neutralise)
    return out


def write_text_cell(cell, value: Any):
    """Put ``value`` in an openpyxl cell so that text can never be evaluated as a formula.

    Numbers and None are written as they are. Text that looks like a formula keeps its exact characters,
    is stored as a string and gets ``quotePrefix`` (Excel's marker for "typed with a leading apostrophe").
    Returns the cell.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, str):
        cell.value = value
        return cell
    cell.value = value
    if is_formula_like(value) or cell.data_type != "s":
        cell.data_type = "s"
        cell.quotePrefix = True
    return cell


def write_frame_sheet(sheet, frame, value: Callable[[Any], Any] = lambda v: v, *,
                      width: Callable[[str], float] | None = None, filters: bool = True) -> None:
    """Write a pandas DataFrame into an empty openpyxl sheet, every cell through :func:`write_text_cell`.

    A bold header row (``width(column name)`` sets each column's width), one row per record with each value
    passed through ``value`` first, the header row frozen and, with ``filters``, an auto-filter on the table.
    """
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    bold = Font(bold=True)
    columns = [str(c) for c in frame.columns]
    for j, col in enumerate(columns, start=1):
        write_text_cell(sheet.cell(row=1, column=j), col).font = bold
        if width is not None:
            sheet.column_dimensions[get_column_letter(j)].width = width(col)
    for i, record in enumerate(frame.itertuples(index=False, name=None), start=2):
        for j, item in enumerate(record, start=1):
            write_text_cell(sheet.cell(row=i, column=j), value(item))
    sheet.freeze_panes = "A2"
    if filters and columns:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(columns))}{max(1, len(frame) + 1)}"
