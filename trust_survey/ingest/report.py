"""Write a run's findings: ``issues.csv``, ``issues.json``, ``files.csv`` and a self-contained HTML report.

Every issue is written, never a sample. The CSV files are made formula-safe (text a spreadsheet would
run gets a leading apostrophe; numbers stay numbers). The HTML page has its style inline, loads nothing
from the network and escapes every value, so a ``<script>`` typed into a return is shown, not run.
"""
from __future__ import annotations

import datetime as dt
import html
import json
from pathlib import Path

import pandas as pd

from trust_survey.atomic import write_atomic
from trust_survey.ingest.issues import CODES, COLUMNS
from trust_survey import writers

FILE_COLUMNS = ["file", "status", "org_code", "instrument", "round", "submission_id", "supersedes", "errors",
                "warnings", "identified_by", "message"]
STATUS_TEXT = {
    "accepted": "accepted", "accepted_with_warnings": "accepted with warnings", "rejected": "rejected",
    "quarantined": "rejected (unreadable)", "duplicate": "already ingested", "superseded": "accepted, superseded",
}

CSS = """
body{font-family:Arial,Helvetica,sans-serif;margin:2em;color:#212b32;line-height:1.4}
h1{color:#005eb8;font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:2px solid #005eb8}
table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em;font-size:.9em}
th,td{border:1px solid #d8dde0;padding:4px 6px;text-align:left;vertical-align:top}
th{background:#f0f4f5}.error{color:#d5281b;font-weight:bold}.warning{color:#7a5800;font-weight:bold}
.ok{color:#007f3b;font-weight:bold}.muted{color:#4c6272}td.value{font-family:monospace;white-space:pre-wrap;
word-break:break-word;max-width:28em}.summary td{font-size:1.05em}
"""


#: columns of issues.csv and files.csv that hold whole numbers (a row number is never 14.0)
INTEGER_COLUMNS = ("row", "round", "submission_id", "supersedes", "errors", "warnings")


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    return writers.write_csv(path, frame, force=True, integers=INTEGER_COLUMNS)


def write_json(payload: dict, path: Path) -> Path:
    def default(value):
        if isinstance(value, (dt.date, dt.datetime, pd.Timestamp)):
            return value.isoformat()
        return str(value)

    text = json.dumps(payload, indent=2, ensure_ascii=False, default=default)
    return write_atomic(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), force=True)


def _e(value) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return html.escape(str(value), quote=True)


def render_html(files: pd.DataFrame, issues: pd.DataFrame, *, title: str, summary: dict) -> str:
    """The report as one HTML page with inline style, no scripts and no links out."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{_e(title)}</title>"
             f"<style>{CSS}</style></head><body><h1>{_e(title)}</h1>"]
    parts.append("<table class='summary'><tr>" + "".join(f"<th>{_e(k)}</th>" for k in summary) + "</tr><tr>"
                 + "".join(f"<td>{_e(v)}</td>" for v in summary.values()) + "</tr></table>")
    parts.append("<h2>Files</h2><table><tr><th>File</th><th>Status</th><th>Organisation</th><th>Instrument</th>"
                 "<th>Round</th><th>Submission</th><th>Errors</th><th>Warnings</th><th>Note</th></tr>")
    for r in files.itertuples(index=False):
        css = "ok" if r.status in ("accepted", "duplicate") else (
            "warning" if r.status in ("accepted_with_warnings", "superseded") else "error")
        parts.append(f"<tr><td>{_e(r.file)}</td><td class='{css}'>{_e(STATUS_TEXT.get(r.status, r.status))}</td>"
                     f"<td>{_e(r.org_code)}</td><td>{_e(r.instrument)}</td><td>{_e(r.round)}</td>"
                     f"<td>{_e(r.submission_id)}</td><td>{_e(r.errors)}</td><td>{_e(r.warnings)}</td>"
                     f"<td>{_e(r.message)}</td></tr>")
    parts.append("</table>")
    if not issues.empty:
        counts = issues.groupby(["code", "severity"]).size().reset_index(name="n")
        parts.append("<h2>Issues by code</h2><table><tr><th>Code</th><th>Severity</th><th>Meaning</th>"
                     "<th>Count</th></tr>")
        for r in counts.itertuples(index=False):
            parts.append(f"<tr><td>{_e(r.code)}</td><td class='{_e(r.severity)}'>{_e(r.severity)}</td>"
                         f"<td>{_e(CODES.get(r.code, ('', ''))[1])}</td><td>{r.n}</td></tr>")
        parts.append("</table>")
        for name, group in issues.groupby("file", sort=False):
            parts.append(f"<h2>{_e(name)}</h2><table><tr>" + "".join(
                f"<th>{_e(c)}</th>" for c in ("severity", "code", "sheet", "cell", "row", "column", "value",
                                              "expected", "message")) + "</tr>")
            for r in group.itertuples(index=False):
                parts.append(f"<tr><td class='{_e(r.severity)}'>{_e(r.severity)}</td><td>{_e(r.code)}</td>"
                             f"<td>{_e(r.sheet)}</td><td>{_e(r.cell)}</td><td>{_e(r.row)}</td>"
                             f"<td>{_e(r.column)}</td><td class='value'>{_e(r.value)}</td>"
                             f"<td>{_e(r.expected)}</td><td>{_e(r.message)}</td></tr>")
            parts.append("</table>")
    else:
        parts.append("<p class='ok'>No issues.</p>")
    parts.append(f"<p class='muted'>Written {_e(dt.datetime.now().isoformat(timespec='seconds'))} by "
                 "trust-survey ingest. Issue codes: F = file could not be read (quarantined), V = error (return "
                 "rejected), W = warning (accepted and flagged).</p></body></html>")
    return "".join(parts)


def write_report(out_dir: Path, files: pd.DataFrame, issues: pd.DataFrame, summary: dict) -> dict[str, Path]:
    """Write every report file of a run into ``out_dir``; return their paths by kind."""
    out_dir.mkdir(parents=True, exist_ok=True)
    issues = issues.reindex(columns=COLUMNS)
    paths = {
        "issues_csv": write_csv(issues, out_dir / "issues.csv"),
        "files_csv": write_csv(files.reindex(columns=FILE_COLUMNS), out_dir / "files.csv"),
        "issues_json": write_json({"summary": summary, "files": files.reindex(columns=FILE_COLUMNS).to_dict("records"),
                                   "issues": issues.to_dict("records")}, out_dir / "issues.json"),
    }
    page = render_html(files.reindex(columns=FILE_COLUMNS), issues, title="trust-survey validation report",
                       summary=summary)
    paths["report_html"] = write_atomic(out_dir / "report.html",
                                        lambda tmp: tmp.write_text(page, encoding="utf-8"), force=True)
    return paths
