"""Reading and writing the CSV tables the matching commands take and give (the thin I/O edge).

Trusts save CSV from Excel, so input may be UTF-8 with or without a byte-order mark, Excel's UTF-16
"Unicode text", or Windows-1252 (guessed by :func:`trust_survey.csvread.decode`, as for every CSV); the
delimiter may be a comma, semicolon or tab. Every cell is read as text (a title "N/A" stays "N/A").
Output is UTF-8, written through :mod:`trust_survey.writers` (atomic, formula-like text neutralised).
"""
from __future__ import annotations

import codecs
from pathlib import Path
from typing import Mapping

import pandas as pd

from trust_survey.csvread import CsvProblem, decode, read_records
from trust_survey.errors import InputFileError, did_you_mean
from trust_survey.writers import write_csv, write_csv_chunks


def check_encoding(name: str) -> str:
    """The canonical name of an encoding, or ValueError for one Python does not know."""
    return codecs.lookup(name).name


def _decode(path: Path, encoding: str | None) -> str:
    data = path.read_bytes()
    if encoding:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            bad = data[exc.start:exc.start + 1]
            raise InputFileError(
                f"{path}: cannot be read as {encoding} (byte {exc.start}: {bad!r}); try --encoding utf-8 or "
                "--encoding cp1252 (what Excel on Windows saves)", code="IN004") from None

    try:   # the same guesses as every other CSV the toolkit reads
        return decode(data)[0]
    except CsvProblem:
        raise InputFileError(f"{path}: is neither UTF-8 nor Windows-1252 text; pass --encoding with the file's "
                             "encoding (for example --encoding latin-1)", code="IN004") from None


def read_table(path: Path | str, encoding: str | None = None) -> pd.DataFrame:
    """Every cell as text; blank cells are empty strings; column names stripped of spaces."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: file not found", code="IN002")

    text = _decode(path, encoding)
    try:
        table = read_records(path, text=text)
    except InputFileError as exc:
        if exc.code == "F010":
            raise InputFileError(f"{path}: the file is empty; expected a header row and one row per title",
                                 code="IN005") from None
        raise InputFileError(f"{path}: not a readable CSV table: {getattr(exc, 'message', exc)}",
                             code="IN005") from None
    names: list[str] = []
    for name in (str(c).strip() for c in table.header):
        names.append(name if name not in names else f"{name}.{names.count(name)}")
    df = pd.DataFrame(table.records, columns=range(len(names)), dtype=object)
    df.columns = names
    return df


def require_columns(df: pd.DataFrame, path: Path | str, columns: Mapping[str, str]) -> None:
    """``columns`` maps a column name to the option that named it; every missing one is reported."""
    problems = []
    for column, option in columns.items():
        if column not in df.columns:
            hint = did_you_mean(column, df.columns)
            problems.append(f"{option} {column!r}: no such column{hint}")
    if problems:
        raise InputFileError(f"{path}: " + "; ".join(problems) + " (columns in the file: "
                             + ", ".join(repr(c) for c in df.columns) + ")", code="IN003")


def write_table(df: pd.DataFrame, path: Path | str, force: bool = False) -> Path:
    """Write UTF-8 CSV atomically; refuse to overwrite without ``force``."""
    return write_csv(path, df, force=force)


def write_table_chunks(frames, path: Path | str, force: bool = False) -> Path:
    """Write DataFrames one after another as one UTF-8 CSV, atomically; refuse to overwrite without ``force``."""
    return write_csv_chunks(path, frames, force=force)
