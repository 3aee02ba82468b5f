"""``trust-survey report``: read a round from the store, build every table once, write the page and workbook.

:func:`run_report` is the orchestrator: :func:`~trust_survey.report.sources.load_inputs` (the store),
:func:`~trust_survey.report.tables.build_report` (the tables), then
:func:`~trust_survey.report.render.render_html` and :func:`~trust_survey.report.render.write_workbook`
from the same tables, each written to a temporary name and renamed.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from trust_survey.atomic import check_writable, write_atomic
from trust_survey.report.render import render_html, write_workbook
from trust_survey.report.sources import load_inputs
from trust_survey.report.tables import Report, build_report

log = logging.getLogger(__name__)


@dataclass
class ReportResult:
    html: Path
    workbook: Path
    report: Report
    summary: str


def report_paths(out_dir: Path, round_: int) -> tuple[Path, Path]:
    return Path(out_dir) / f"review_cycle_report_{round_}.html", Path(out_dir) / f"review_cycle_report_{round_}.xlsx"


def geography_lookups(distribution) -> tuple[dict[str, str], dict[str, str], dict[str, str]]:
    """(trust code -> region name, region code -> region name, trust code -> the trust it is part of now)
    from the reference geography, with the distribution list filling trusts the reference does not know.
    Merged trusts follow their successor."""
    region_names: dict[str, str] = {}
    region_of: dict[str, str] = {}
    successor_of: dict[str, str] = {}
    try:
        from trust_survey import geography as geo

        region_names = dict(zip(geo.load_regions()["region_ods"], geo.load_regions()["region_name"]))
        trusts = geo.load_trusts()
        codes = dict(zip(trusts["org_code"], trusts["region_ods"]))
        for code in list(codes):
            region_of[code] = region_names.get(codes[code], codes[code])
        successors = geo.load_trust_successors()
        for code in successors["old_code"].astype(str):
            later = geo.resolve_successor(code)
            if later != code:
                successor_of[code] = later
            if later in codes and code not in region_of:
                region_of[code] = region_names.get(codes[later], codes[later])
    except Exception as exc:  # noqa: BLE001 - the report works without reference geography
        log.info("reference geography not available (%s); regions from the distribution list only", exc)
    if distribution is not None and len(distribution):
        for code, region in zip(distribution["org_code"], distribution["region_code"]):
            if isinstance(region, str) and region.strip() and str(code) not in region_of:
                region_of[str(code)] = region_names.get(region, region)
    return region_of, region_names, successor_of


def _usual_mode(*paths: Path) -> None:
    """The temporary files renamed into place are private (0600); a report is for sharing, so give it the
    mode a newly created file would have."""
    umask = os.umask(0)
    os.umask(umask)
    for path in paths:
        os.chmod(path, 0o666 & ~umask)


def _summary(report: Report) -> str:
    lines = [f"round {report.round}: {len(report.tables())} tables in {len(report.sections)} sections"]
    for s in report.sections:
        for m in s.missing:
            lines.append(f"  missing: {s.title}: {m}")
    return "\n".join(lines)


def run_report(db: Path, round_: int, out_dir: Path, *, registry, include_free_text: bool = False,
               force: bool = False, on_step: Callable[[str], None] = lambda what: None) -> ReportResult:
    """Write ``review_cycle_report_<round>.html`` and ``.xlsx`` into ``out_dir``; never replace them without
    ``force``. Parts that cannot be made are stated in both, never left out silently."""
    html_path, xlsx_path = report_paths(out_dir, round_)
    check_writable(html_path, force)
    check_writable(xlsx_path, force)
    inputs = load_inputs(db, round_, registry, include_free_text=include_free_text, on_step=on_step)
    on_step("building the tables")
    region_of, region_names, successor_of = geography_lookups(inputs.distribution)
    report = build_report(inputs, include_free_text=include_free_text, region_of=region_of,
                          region_names=region_names, successor_of=successor_of)
    generated = dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    on_step("writing the workbook")
    write_atomic(xlsx_path, lambda p: write_workbook(report, p, generated=generated), force=force)
    on_step("writing the page")
    page = render_html(report, generated=generated)
    write_atomic(html_path, lambda p: p.write_text(page, encoding="utf-8"), force=force)
    _usual_mode(html_path, xlsx_path)
    return ReportResult(html_path, xlsx_path, report, _summary(report))
