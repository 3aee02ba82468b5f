"""Write simulated returns in the formats trusts send: .xlsx, .sav, .csv, and .ods/.xls via LibreOffice.

- ``.xlsx``: the round's personalised workbook (built once per run by
  :func:`trust_survey.build.workbook.build_workbook`, then personalised per organisation from the
  cover and meta layouts in :mod:`trust_survey.common.constants`) with the answers typed into the answer
  cells, as a trust's Excel would save it: meta sheet, validations and protection kept.
- ``.sav``: the SPSS template shape. ``<stem>.sav`` holds the form variables, one case;
  ``<stem>__<table>.sav`` one case per table row, the organisation-code variable first. Variables are
  named by ``AnswerField.var_name`` and carry the template's labels, value labels, missing values and
  widths; choices are numeric codes, yes/no 1/0, dates SPSS dates; the file note identifies the
  instrument, version, round, organisation and record.
- ``.csv``: the same shape and names as the .sav files (``<stem>.csv`` with one row of form variables,
  ``<stem>__<table>.csv`` per table with the organisation-code column first), UTF-8 with a header row,
  choices as numeric codes, yes/no as 1/0, dates as ISO ``YYYY-MM-DD``, blanks empty.
- ``.ods``/``.xls``: a filled .xlsx converted by headless LibreOffice (``soffice --convert-to``) in
  one batch per format, with a throwaway profile and a timeout.
"""
from __future__ import annotations

import copy
import datetime as dt
import io
import logging
import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from trust_survey.common import constants as C
from trust_survey.build.spss import record_groups, table_file_suffix
from trust_survey.build.workbook import build_workbook, meta_values
from trust_survey.instruments.layout import build_layout
from trust_survey.instruments.model import AnswerField, Instrument
from trust_survey.common.safe_text import neutralise
from trust_survey.simulate.fill import Answers
from trust_survey.simulate.messiness import Written
from trust_survey.writers import save_workbook, write_csv_rows
from trust_survey.build.spss import NUMERIC, text_width, write_labelled_sav

log = logging.getLogger(__name__)

SOFFICE_FILTERS = {"ods": "ods:calc8", "xls": "xls:MS Excel 97"}
PLACEHOLDER = {"org_code": "ZZZZZ", "org_name": "(organisation)"}


# ---- Excel ---------------------------------------------------------------------------------------------

class WorkbookFiller:
    """Fills one in-memory copy of the round's workbook per organisation and saves it.

    Loading a workbook costs as much as filling it, so the template is loaded once; after each save
    every cell that was written is put back as it was.
    """

    def __init__(self, inst: Instrument, round_: int, *, built_at: str, deadline: str = "",
                 contact: str = ""):
        import openpyxl

        self.inst = inst
        self.round = round_
        self.built_at = built_at
        self.layout = build_layout(inst)
        buf = io.BytesIO()
        build_workbook(inst, PLACEHOLDER, round_, buf, deadline=deadline, contact=contact, built_at=built_at,
                       layout=self.layout)
        self.wb = openpyxl.load_workbook(io.BytesIO(buf.getvalue()))
        fields = C.INDIVIDUAL_COVER_FIELDS if "individual" in inst.audience else C.COVER_FIELDS
        self.cover_rows = {key: C.COVER_FIRST_ROW + i for i, (_, key) in enumerate(fields)}
        self.meta_rows = {key: i for i, key in enumerate(C.META_KEYS, start=1)}

    def address(self, table: str | None, row: int | None, field_id: str) -> tuple[str, str]:
        """(sheet name, cell address) of a form answer or a table cell (``row`` 0-based)."""
        place = self.layout.locate(field_id)
        if table is None:
            return place.sheet, place.address
        return place.sheet, place.address(place.first_row + row)

    def _cells(self, org: dict, answers: Answers) -> list[tuple[str, int, int, Any]]:
        cells = []
        meta = meta_values(self.inst, org, self.round, self.built_at)
        for key in ("org_name", "org_code"):
            if key in self.cover_rows:   # an individual's cover has no organisation name
                cells.append((C.COVER_SHEET, self.cover_rows[key], 2, neutralise(org[key])))
            cells.append((C.META_SHEET, self.meta_rows[key], 2, neutralise(meta[key])))
        for cell in self.layout.form_cells():
            value = _sheet_value(answers.form.get(cell.field.field_id))
            cells.append((cell.sheet, cell.row, cell.col, value))
        for sheet in self.layout.table_sheets():
            rows = answers.tables.get(sheet.section.table.id, [])
            for i, row in enumerate(rows[: sheet.section.table.max_rows]):
                for col in sheet.columns:
                    value = _sheet_value(row.get(col.field.field_id))
                    if value is not None:
                        cells.append((sheet.name, col.first_row + i, col.col, value))
        return cells

    def write(self, org: dict, answers: Answers, path: Path) -> Path:
        before: dict[tuple, Any] = {}
        try:
            for sheet, row, col, value in self._cells(org, answers):
                cell = self.wb[sheet].cell(row=row, column=col)
                before.setdefault((sheet, row, col), (cell.value, copy.copy(cell._style)))
                cell.value = value
            save_workbook(self.wb, path, force=True, formulas_on=(C.CHECKS_SHEET,))
        finally:
            for (sheet, row, col), (value, style) in before.items():
                cell = self.wb[sheet].cell(row=row, column=col)
                cell.value, cell._style = value, style
        return path


def _sheet_value(value: Any) -> Any:
    if isinstance(value, Written):
        return value.value
    return value


# ---- SPSS and CSV --------------------------------------------------------------------------------------

def _records(inst: Instrument, org: dict, answers: Answers, table_id: str | None) -> list[dict]:
    if table_id is None:
        return [answers.form]
    return [{inst.id_item: org["org_code"], **row} for row in answers.tables.get(table_id, [])]


class _Coder:
    """Answer -> the value a data file holds: choice labels become their numeric codes."""

    def __init__(self, inst: Instrument):
        self.codes = {name: {c.label: c.value for c in choices} for name, choices in inst.lists().items()}

    def __call__(self, f: AnswerField, value: Any) -> Any:
        if isinstance(value, Written):
            return value.value
        if value is None:
            return None
        if f.choice_list:
            return self.codes[f.choice_list][value]
        return value


def write_sav(inst: Instrument, org: dict, round_: int, answers: Answers, stem: Path) -> list[Path]:
    """Write a filled return in the SPSS template shape; return the paths written."""
    code = _Coder(inst)
    written = []
    for table_id, fields in record_groups(inst):
        records = _records(inst, org, answers, table_id)
        data = {}
        for f in fields:
            values = [code(f, r.get(f.field_id)) for r in records]
            if f.type in NUMERIC:
                numbers = [np.nan if v is None else float(v) for v in values]
                data[f.var_name] = pd.Series(numbers, dtype="float64")
            elif f.type == "date":
                dates = pd.to_datetime([v if isinstance(v, dt.date) else None for v in values])
                data[f.var_name] = pd.Series(dates, dtype="datetime64[ns]")
            else:
                width = max([text_width(f)] + [len(str(v)) for v in values if v is not None])
                data[f.var_name] = pd.Series([("" if v is None else str(v)).ljust(width) for v in values],
                                             dtype=object)
        written.append(write_labelled_sav(inst, fields, pd.DataFrame(data), stem, org["org_code"], round_, table_id))
    return written


def _csv_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float):
        return f"{value:g}" if abs(value) < 1e15 else repr(value)
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    return str(value)


def write_csv(inst: Instrument, org: dict, answers: Answers, stem: Path) -> list[Path]:
    """Write a filled return as CSV files in the SPSS template shape; return the paths written."""
    code = _Coder(inst)
    written = []
    for table_id, fields in record_groups(inst):
        path = stem.with_name(stem.name + table_file_suffix(table_id) + ".csv")
        rows = ([_csv_text(code(f, record.get(f.field_id))) for f in fields]
                for record in _records(inst, org, answers, table_id))
        written.append(write_csv_rows(path, [f.var_name for f in fields], rows, force=True, as_sent=True))
    return written


# ---- LibreOffice ---------------------------------------------------------------------------------------

def find_soffice() -> str | None:
    return shutil.which("soffice") or shutil.which("libreoffice")


def convert_with_soffice(sources: list[Path], fmt: str, out_dir: Path, soffice: str,
                         timeout: float = 180.0) -> tuple[dict[Path, Path], str | None]:
    """Convert .xlsx files to ``fmt`` (ods or xls) in one LibreOffice run.

    Returns the converted path of each source that worked, and a problem description or None.
    """
    if not sources:
        return {}, None
    profile = Path(tempfile.mkdtemp(prefix="trust-survey-lo-"))
    cmd = [soffice, f"-env:UserInstallation={profile.as_uri()}", "--headless", "--invisible", "--nologo",
           "--nodefault", "--nofirststartwizard", "--norestore", "--convert-to", SOFFICE_FILTERS[fmt],
           "--outdir", str(out_dir), *map(str, sources)]
    problem = None
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
            if proc.returncode:
                said = output.decode(errors="replace").strip()[-300:]
                problem = f"soffice exited {proc.returncode}: {said}"
        except subprocess.TimeoutExpired:
            if hasattr(os, "killpg"):   # the whole session: soffice starts a child that does the work
                os.killpg(proc.pid, signal.SIGKILL)
            else:   # Windows
                proc.kill()
            proc.communicate()
            problem = f"soffice took longer than {timeout:g} s"
    except OSError as exc:
        problem = f"could not run {soffice}: {exc}"
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    done = {}
    for src in sources:
        target = out_dir / f"{src.stem}.{fmt}"
        if target.is_file() and target.stat().st_size:
            done[src] = target
    if len(done) < len(sources) and problem is None:
        problem = f"soffice wrote {len(done)} of {len(sources)} .{fmt} files"
    if problem:
        log.warning("LibreOffice conversion to .%s: %s", fmt, problem)
    return done, problem
