"""Write the commissioning outputs: ``candidates.xlsx``/``.csv`` and the plain workbooks ``demand`` shares.

Every text cell goes through :mod:`trust_survey.common.safe_text`, so text typed by trusts never runs as a formula.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trust_survey.atomic import check_writable, write_atomic
from trust_survey.commissioning.weights import STREAM_LABELS, STREAMS, Weights
from trust_survey.common.safe_text import write_frame_sheet, write_text_cell
from trust_survey.errors import InputFileError
from trust_survey.writers import save_workbook, write_csv

READ_ME = [
    "Candidate training departments, one row per department and STP stream, ranked within each stream.",
    "total = sum of the pts_ columns (never below 0). Each pts_ column is one component; the weights sheet "
    "shows the settings that produced them.",
    "reasons explains every component in words. A department with no staff matched to a stream scores 0 "
    "there and says so; no department is left out.",
    "dept_listed = FALSE: the department was named on the Staff sheet but not on the Departments sheet.",
    "Staff links lists every staff row and the department it was joined to (exact, normalised, fuzzy or "
    "unlisted), so a doubtful join can be checked.",
]


def write_candidates(scores: pd.DataFrame, path: Path | str, *, staff_links: pd.DataFrame | None = None,
                     weights: Weights | None = None, force: bool = False, meta: dict | None = None) -> list[Path]:
    """Write candidates to ``.xlsx`` (sheets Read me, one per stream, All, Staff links, Weights) or ``.csv``
    (with ``<stem>_staff_links.csv`` beside it). Text typed by trusts is neutralised so it never runs as a
    formula. Returns the paths written."""
    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix not in (".xlsx", ".csv"):
        raise InputFileError(f"{path}: cannot write '{path.suffix or '(no extension)'}'; use .xlsx or .csv for --out")
    if suffix == ".csv":
        links_path = path.with_name(f"{path.stem}_staff_links.csv")
        check_writable(path, force)
        if staff_links is not None:
            check_writable(links_path, force)
        written = [write_atomic(path, lambda p: write_table_csv(scores, p), force=force)]
        if staff_links is not None:
            written.append(write_atomic(links_path, lambda p: write_table_csv(staff_links, p), force=force))
        return written

    sheets: list[tuple[str, pd.DataFrame]] = []
    for s in STREAMS:
        sheets.append((STREAM_LABELS[s].capitalize(), scores[scores["stream"] == s]))
    sheets.append(("All", scores))
    if staff_links is not None:
        sheets.append(("Staff links", staff_links))
    info = [(k, v) for k, v in (meta or {}).items()]
    info += [("weights." + k, v) for k, v in (weights.summary() if weights else [])]

    def write(p: Path) -> None:
        write_workbook(p, sheets, read_me=READ_ME, info=info)

    return [write_atomic(path, write, force=force)]


def write_table_csv(df: pd.DataFrame, path: Path) -> None:
    write_csv(path, df, force=True)


def write_workbook(path: Path, sheets: list[tuple[str, pd.DataFrame]], *, read_me: list[str] = (),
                   info: list[tuple[str, Any]] = ()) -> None:
    """A plain workbook: a Read me sheet, then one sheet per frame with a bold frozen header and filters.
    Every text cell goes through :func:`trust_survey.common.safe_text.write_text_cell`."""
    from openpyxl import Workbook   # deferred: openpyxl loads only when a workbook is written

    wb = Workbook()
    ws = wb.active
    ws.title = "Read me"
    row = 1
    for line in read_me:
        write_text_cell(ws.cell(row=row, column=1), line)
        row += 1
    if info:
        row += 1
        for key, value in info:
            write_text_cell(ws.cell(row=row, column=1), str(key))
            write_text_cell(ws.cell(row=row, column=2), _cell_value(value))
            row += 1
    ws.column_dimensions["A"].width = 60
    for title, frame in sheets:
        write_frame_sheet(wb.create_sheet(title[:31]), frame, _cell_value,
                          width=lambda col: 60 if col == "reasons" else max(10, min(30, len(col) + 2)))
    save_workbook(wb, path, force=True)


def _cell_value(value: Any) -> Any:
    """Blank for missing values (never 0), plain Python numbers and text for everything else."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
