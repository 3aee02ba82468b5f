"""Render a :class:`~trust_survey.report.tables.Report` two ways, from the same frames.

- :func:`render_html`: one self-contained page. Styles are inline, charts are inline SVG, there is no
  script, no font, no image file and no link that loads anything, so it opens the same with no network.
  Every text, including everything respondents and trusts typed, is HTML-escaped. Each table carries
  ``data-sheet`` naming its workbook sheet, so its numbers can be checked against the workbook.
- :func:`write_workbook`: a "Read me" sheet (what the report holds and what is missing, and why), then one
  sheet per table. Text cells go through :func:`trust_survey.common.safe_text.write_text_cell`, so nothing a trust
  typed can run as a formula.
"""
from __future__ import annotations

import datetime as dt
import math
from html import escape
from pathlib import Path
from typing import Any

from trust_survey.report.charts import chart_for
from trust_survey.report.tables import Report
from trust_survey.common.safe_text import write_frame_sheet, write_text_cell
from trust_survey.writers import save_workbook

MISSING_MARK = "–"

CSS = """
body{font-family:Arial,Helvetica,sans-serif;color:#231f20;margin:0 auto;max-width:1100px;padding:0 20px 40px;
line-height:1.45}
h1{color:#005eb8;font-size:1.7em;margin-top:24px}h2{color:#005eb8;border-bottom:2px solid #005eb8;
padding-bottom:4px;margin-top:36px}h3{font-size:1.05em;margin:22px 0 6px}
.meta{color:#425563}.missing{background:#fff3cd;border-left:5px solid #ffb81c;padding:8px 12px;margin:10px 0}
.warning{background:#fde8e7;border-left:5px solid #da291c;padding:6px 12px;margin:6px 0}
.note{color:#425563;font-size:.9em;margin:4px 0}
.scroll{overflow-x:auto;margin:6px 0 14px}.scroll:focus{outline:2px solid #005eb8;outline-offset:2px}
table.data{border-collapse:collapse;font-size:.82em}
table.data th,table.data td{border:1px solid #d8dde0;padding:3px 6px;text-align:left;vertical-align:top}
table.data th{background:#f0f4f5}table.data th .var{display:block;font-weight:normal;color:#425563;
font-size:.9em}table.data td.long{min-width:24em}
table.data td.num{text-align:right;font-variant-numeric:tabular-nums}
nav ul{columns:2;padding-left:18px}svg.chart{display:block;margin:8px 0;max-width:100%;height:auto;
font-family:Arial,Helvetica,sans-serif}details>summary{cursor:pointer;color:#005eb8}
"""


def _e(text: Any) -> str:
    return escape(str(text), quote=True)


def cell_text(value: Any) -> str:
    """How a table value is written in the page: numbers in full (as rounded in the table), text as is,
    a missing value as a dash. The workbook holds the same value."""
    if value is None:
        return MISSING_MARK
    if isinstance(value, float):
        return MISSING_MARK if math.isnan(value) else repr(value)
    if isinstance(value, (int,)) and not isinstance(value, bool):
        return str(value)
    try:
        import pandas as pd

        if pd.isna(value):
            return MISSING_MARK
    except (TypeError, ValueError):
        pass
    return str(value)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _heading_html(column: str, heading: str) -> str:
    """A column heading in the reader's words; the variable name (the workbook's column) stays in a
    ``data-column`` attribute and, where it differs, on a small second line."""
    name = f'<span class="var">{_e(column)}</span>' if heading != column else ""
    return f'<th scope="col" data-column="{_e(column)}">{_e(heading)}{name}</th>'


def _table_html(table, heading=lambda column: column) -> str:
    frame = table.frame
    head = "".join(_heading_html(str(c), heading(str(c))) for c in frame.columns)
    rows = []
    for record in frame.itertuples(index=False, name=None):
        cells = "".join(f'<td class="num">{_e(cell_text(v))}</td>' if _is_number(v) else
                        f'<td class="long">{_e(cell_text(v))}</td>' if len(cell_text(v)) > 40 else
                        f"<td>{_e(cell_text(v))}</td>" for v in record)
        rows.append(f"<tr>{cells}</tr>")
    body = "".join(rows) or f'<tr><td colspan="{max(1, len(frame.columns))}">no rows</td></tr>'
    # A wide table scrolls inside a region that can take keyboard focus, so it can be scrolled without a mouse.
    html = (f'<div class="scroll" role="region" tabindex="0" aria-label="{_e(table.title)}">'
            f'<table class="data" data-sheet="{_e(table.sheet)}"><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table></div>")
    title = f"<h3>{_e(table.title)} <span class=\"note\">(sheet “{_e(table.sheet)}”)</span></h3>"
    note = f'<p class="note">{_e(table.note)}</p>' if table.note else ""
    if table.collapsed:
        return (f"{title}{note}<details><summary>Show {len(frame)} rows</summary>{html}</details>")
    return f"{title}{note}{html}"


def render_html(report: Report, *, generated: str | None = None) -> str:
    generated = generated or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    toc = "".join(f'<li><a href="#{_e(s.id)}">{_e(s.title)}</a></li>' for s in report.sections)
    body = []
    for s in report.sections:
        part = [f'<section id="{_e(s.id)}"><h2>{_e(s.title)}</h2>']
        part += [f"<p>{_e(p)}</p>" for p in s.paragraphs]
        part += [f'<p class="missing">{_e(m)}</p>' for m in s.missing]
        part += [f'<p class="warning">{_e(w)}</p>' for w in dict.fromkeys(s.warnings)]
        for kind, sheet in s.charts:
            table = next((t for t in s.tables if t.sheet == sheet), None)
            if table is not None:
                part.append(chart_for(kind, table.frame, table.title))
        part += [_table_html(t, report.heading) for t in s.tables]
        part.append("</section>")
        body.append("".join(part))
    return ("<!DOCTYPE html>\n<html lang=\"en-GB\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">"
            f"<title>{_e(report.title)}</title><style>{CSS}</style></head><body>"
            f"<header><h1>{_e(report.title)}</h1>"
            f'<p class="meta">Generated {_e(generated)} by trust-survey. The tables are also in the workbook beside '
            "this page, one sheet each; the numbers are the same. Respondents are pseudonymous: no names, emails "
            "or respondent ids appear here.</p></header>"
            f"<nav aria-label=\"Contents\"><ul>{toc}</ul></nav><main>{''.join(body)}</main></body></html>\n")


READ_ME_TITLE = "Read me"


def write_workbook(report: Report, path: Path, *, generated: str | None = None) -> None:
    """The report's tables, one sheet each, after a Read me sheet listing contents and missing parts."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = READ_ME_TITLE
    generated = generated or dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    lines: list[tuple[str, str]] = [(report.title, ""), (f"Generated {generated} by trust-survey", ""), ("", ""),
                                    ("sheet", "what it holds")]
    for s in report.sections:
        for t in s.tables:
            lines.append((t.sheet, t.title + (f". {t.note}" if t.note else "")))
        for m in s.missing:
            lines.append(("(missing)", f"{s.title}: {m}"))
        for p in s.paragraphs if not s.tables else []:
            lines.append(("(note)", f"{s.title}: {p}"))
    for i, (a, b) in enumerate(lines, start=1):
        write_text_cell(ws.cell(row=i, column=1), a)
        write_text_cell(ws.cell(row=i, column=2), b)
    ws["A1"].font = Font(bold=True, size=14)
    ws.column_dimensions["A"].width = 26
    ws.column_dimensions["B"].width = 110
    for t in report.tables():
        write_frame_sheet(wb.create_sheet(t.sheet[:31]), t.frame, _cell_value,
                          width=lambda col: max(10, min(50, len(col) + 4)))
    save_workbook(wb, path, force=True)


def _cell_value(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if _is_number(value):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
