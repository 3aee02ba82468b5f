"""The one place that writes CSV files and Excel workbooks.

Every CSV and .xlsx the toolkit writes goes through these functions, so every output gets the same four
guarantees (a test fails when code elsewhere calls ``to_csv``, ``to_excel``, ``csv.writer`` or a
workbook's ``save``):

- text that a spreadsheet would run (``=``, ``+``, ``-``, ``@``, tab, carriage return, their full-width
  forms) cannot become a formula: CSV cells get a leading ``'``, workbook cells are stored as strings
  with Excel's ``quotePrefix`` (:mod:`trust_survey.common.safe_text`);
- C0 control characters other than tab, line feed and carriage return are removed (no spreadsheet can hold
  them; openpyxl refuses them with ``IllegalCharacterError``);
- the file is written to a temporary name and renamed, with ordinary permissions (``0666`` less the umask,
  like every other output), never half-written and never replaced without ``force``
  (:func:`trust_survey.atomic.write_atomic`);
- columns named as integers are written as integers (``14``, not ``14.0``), blank where missing.

One exception, by name: ``as_sent=True`` writes text exactly as given (control characters still removed).
Only the simulator uses it, for returns that must look like what a trust sends (a ``-`` typed for "none"
has to arrive as ``-`` for ingest to be tested on it) and for its record of exactly what those files hold;
never for the toolkit's own results.
"""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

import pandas as pd

from trust_survey.atomic import write_atomic
from trust_survey.common.safe_text import is_formula_like, neutralise, strip_controls
from trust_survey.common.safe_text import write_frame_sheet

__all__ = ["integer_column", "with_integers", "safe_frame", "write_csv", "write_csv_chunks", "write_csv_rows",
           "append_csv_rows", "csv_bytes", "save_workbook", "write_frames_workbook"]


# ---- values ----------------------------------------------------------------------------------------------

def integer_column(series: pd.Series) -> pd.Series:
    """``series`` as nullable integers (``Int64``) when every value present is a whole number; otherwise
    unchanged (a fraction is never rounded away)."""
    if pd.api.types.is_integer_dtype(series) or pd.api.types.is_bool_dtype(series):
        return series
    numbers = pd.to_numeric(series, errors="coerce")
    present = numbers.dropna()
    if series.notna().sum() != len(present):        # text among the numbers: leave the column as it is
        return series
    if len(present) and not ((present == present.round()) & (present.abs() < 2 ** 53)).all():
        return series
    return numbers.round().astype("Int64")


def with_integers(frame: pd.DataFrame, integers: Iterable[str] = ()) -> pd.DataFrame:
    """A copy of ``frame`` with the ``integers`` columns (those present) as nullable integers."""
    out = frame.copy()
    for col in set(integers) & set(out.columns):
        out[col] = integer_column(out[col])
    return out


def _as_sent(value: Any) -> Any:
    return strip_controls(value) if isinstance(value, str) else value


def safe_frame(frame: pd.DataFrame, integers: Iterable[str] = (), *, as_sent: bool = False) -> pd.DataFrame:
    """A copy of ``frame`` ready for a CSV file: text cells neutralised and cleaned of control characters,
    the ``integers`` columns (those present) as nullable integers."""
    out = with_integers(frame, integers)
    wanted = set(integers)
    clean = _as_sent if as_sent else neutralise
    for col in out.columns:
        s = out[col]
        if col not in wanted and (s.dtype == object or str(s.dtype) in ("string", "str")):
            values = s.astype(object)
            uniques = pd.unique(values)   # a coded column has few distinct values: make each safe once
            if len(uniques) < len(values):
                out[col] = values.map(dict(zip(uniques, map(clean, uniques))))
            else:
                out[col] = values.map(clean)
    out.columns = [clean(c) if isinstance(c, str) else c for c in out.columns]
    return out


# ---- CSV -------------------------------------------------------------------------------------------------

def write_csv(path: Path | str, frame: pd.DataFrame, *, force: bool = False, integers: Iterable[str] = (),
              encoding: str = "utf-8", as_sent: bool = False, **options: Any) -> Path:
    """Write a DataFrame as CSV (no index unless ``index=True`` is passed; other ``to_csv`` options pass
    through), made safe by :func:`safe_frame`. Returns ``path``."""
    options.setdefault("index", False)
    safe = safe_frame(frame, integers, as_sent=as_sent)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding=encoding, newline="") as fh:
            safe.to_csv(fh, **options)

    return write_atomic(path, write, force=force)


def write_csv_chunks(path: Path | str, frames: Iterable[pd.DataFrame], *, force: bool = False,
                     integers: Iterable[str] = (), encoding: str = "utf-8") -> Path:
    """Write DataFrames with the same columns one after another as one CSV (the first one's header, no
    index), each made safe by :func:`safe_frame` as it comes, so a large table is never held whole. The
    file appears only when the last chunk is written (atomic, like :func:`write_csv`). Returns ``path``."""
    integers = tuple(integers)

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding=encoding, newline="") as fh:
            for i, frame in enumerate(frames):
                safe_frame(frame, integers).to_csv(fh, index=False, header=i == 0)

    return write_atomic(path, write, force=force)


def write_csv_rows(path: Path | str, header: Sequence[str], rows: Iterable[Sequence[Any]], *,
                   force: bool = False, encoding: str = "utf-8", as_sent: bool = False) -> Path:
    """Write a header and rows (sequences of values) as CSV, every text value made safe. Returns ``path``."""
    clean = _as_sent if as_sent else neutralise

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding=encoding, newline="") as fh:
            out = csv.writer(fh)
            out.writerow([clean(v) for v in header])
            for row in rows:
                out.writerow([clean(v) for v in row])

    return write_atomic(path, write, force=force)


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> bytes:
    """A header and rows as UTF-8 CSV bytes (CRLF, standard quoting), text kept as sent but for control
    characters: the minimised copy of a received file that is archived in its place, so that reading it
    again gives the same answers."""
    buf = io.StringIO()
    out = csv.writer(buf, lineterminator="\r\n")
    out.writerow([_as_sent(v) for v in header])
    for row in rows:
        out.writerow([_as_sent(v) for v in row])
    return buf.getvalue().encode("utf-8")


def append_csv_rows(path: Path | str, header: Sequence[str], rows: Iterable[dict], *,
                    encoding: str = "utf-8") -> Path:
    """Add ``rows`` (dicts keyed by ``header``) to the end of a CSV log, creating it with the header when
    new. An existing file is extended in place (a log only grows); a new one is written atomically."""
    path = Path(path)
    rows = [{k: neutralise(row.get(k, "")) for k in header} for row in rows]
    if not path.exists():
        return write_csv_rows(path, header, ([row[k] for k in header] for row in rows), encoding=encoding)
    with path.open("a", encoding=encoding, newline="") as fh:
        out = csv.DictWriter(fh, fieldnames=list(header))
        out.writerows(rows)
    return path


# ---- Excel -----------------------------------------------------------------------------------------------

def _make_safe(wb, formulas_on: Iterable[str]) -> None:
    """Every text cell of ``wb`` cleaned of control characters and unable to run; formulas survive only on
    the sheets named in ``formulas_on`` (the toolkit's own checks, never text from a file)."""
    keep = set(formulas_on)
    for ws in wb.worksheets:
        # ``_cells`` holds only the cells that exist; iterating rows would create every empty cell in range.
        for cell in list(ws._cells.values()):
            value = cell.value
            if not isinstance(value, str):
                continue
            if cell.data_type == "f" and ws.title in keep:
                continue
            clean = strip_controls(value)
            if clean != value or cell.data_type == "f":
                cell.value = clean
                cell.data_type = "s"
            if is_formula_like(clean):
                cell.quotePrefix = True


def save_workbook(wb, path: Path | str | IO[bytes], *, force: bool = False, formulas_on: Iterable[str] = ()) -> Any:
    """Save an openpyxl workbook made safe (see :func:`_make_safe`) to ``path`` atomically, or into a binary
    file object. Returns ``path``."""
    _make_safe(wb, formulas_on)
    if isinstance(path, io.IOBase) or hasattr(path, "write"):
        wb.save(path)
        return path
    return write_atomic(path, lambda tmp: wb.save(tmp), force=force)


def write_frames_workbook(path: Path | str, frames: dict[str, pd.DataFrame], *, force: bool = False,
                          integers: Iterable[str] = (), filters: bool = True) -> Path:
    """One sheet per DataFrame (sheet names cut to Excel's 31 characters), header row bold and frozen."""
    from openpyxl import Workbook

    wb = Workbook()
    wb.remove(wb.active)
    for name, frame in frames.items():
        write_frame_sheet(wb.create_sheet(name[:31]), with_integers(frame, integers), _plain, filters=filters)
    return save_workbook(wb, path, force=force)


def _plain(value: Any) -> Any:
    """Blank for missing values, numpy/pandas scalars as Python values, timestamps as datetimes."""
    if value is None or (not isinstance(value, (str, list, tuple, dict)) and pd.isna(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    if hasattr(value, "item") and not isinstance(value, str):
        return value.item()
    return value
