"""Keep text that trusts typed from becoming a formula in anything we write (CSV or Excel).

A spreadsheet treats a cell starting with ``=``, ``+``, ``-`` or ``@`` (and, in some programs, a tab,
a carriage return, or the full-width forms that East Asian input methods type) as a formula:
``=HYPERLINK(...)`` or ``=cmd|' /C calc'!A0`` in a job title would run when an analyst opens our export.
Three tools, one rule (files themselves are written by :mod:`trust_survey.writers`):

- :func:`neutralise` for CSV and any plain value: text that a spreadsheet would run gets a leading ``'``
  (what Excel itself shows for text typed with a leading apostrophe), so it reads the same and never runs.
- :func:`write_text_cell` for openpyxl: the cell keeps the exact text, is stored as a string (not a
  formula) and carries Excel's ``quotePrefix`` style, so there is no visible apostrophe;
  :func:`write_frame_sheet` writes a whole DataFrame that way.

Text also loses C0 control characters other than tab, line feed and carriage return (:func:`strip_controls`):
no spreadsheet can hold them (openpyxl refuses them with ``IllegalCharacterError``) and they only ever
arrive by accident or malice.

Numbers are never changed: numeric types pass through, and so does text that *is* a number (``"-3"``,
``"+44"``, ``"-0.5"``, ``"1e-3"``), because a spreadsheet reads it as a number and runs nothing. Quoting
negative numbers as text is a known mistake of naive fixes; we do not make it.
"""
from __future__ import annotations

import math
import re
from typing import Any, Callable

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n",
                    "\uff1d", "\uff0b", "\uff0d", "\uff20",   # full-width = + - @
                    "\ufe66", "\ufe62", "\ufe63", "\ufe6b")   # small-form = + - @
#: C0 controls a spreadsheet cannot hold: everything below U+0020 except tab, line feed and carriage return
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_LEADING_SPACE = " \u00a0\u3000"
_NUMBER = re.compile(r"^[+-]?(?:\d+(?:[.,]\d*)?|[.,]\d+)(?:[eE][+-]?\d+)?%?$")


def is_formula_like(text: str) -> bool:
    """True when a string would be read as a formula (or command) by a spreadsheet program (leading spaces,
    which some programs skip, do not hide the trigger)."""
    return (bool(text) and text.lstrip(_LEADING_SPACE).startswith(FORMULA_TRIGGERS)
            and not _NUMBER.match(text.strip()))


def strip_controls(text: str) -> str:
    """``text`` without C0 control characters other than tab, line feed and carriage return."""
    return CONTROL_CHARS.sub("", text)


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
    value = strip_controls(value)
    if is_formula_like(value):
        return "'" + value
    return value


def write_text_cell(cell, value: Any):
    """Put ``value`` in an openpyxl cell so that text can never be evaluated as a formula.

    Numbers and None are written as they are. Text that looks like a formula keeps its exact characters,
    is stored as a string and gets ``quotePrefix`` (Excel's marker for "typed with a leading apostrophe").
    Returns the cell.
    """
    if value is None or isinstance(value, bool) or not isinstance(value, str):
        cell.value = value
        return cell
    value = strip_controls(value)
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
