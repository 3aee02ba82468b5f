"""``trust-survey report``: the review cycle's report for the advisory group."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import (
    db_option, force_option, info, instruments_option, progress, quiet_option, resolve_db, round_option, wrote,
)

STEPS = 6


@cli.command("report")
@round_option()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the page and the workbook. Default: outputs/report_<round>/.")
@click.option("--include-free-text", is_flag=True,
              help="Include respondents' free-text comments (left out by default).")
@db_option
@instruments_option
@force_option
@quiet_option
def report_cmd(round_: int, out: Path | None, include_free_text: bool, db: Path | None, instruments_dir: Path | None,
               force: bool, quiet: bool) -> None:
    """Write the review-cycle report of a round: one self-contained HTML page and an Excel workbook.

    The page needs no network (charts are inline SVG, no scripts) and shows: response and chase status;
    workforce key figures from trust returns and their trend across rounds (by trust, region and stream,
    with series breaks marked, not joined); answers to each statement by group; scale scores with Welch's
    t-test or ANOVA, effect sizes, small-group warnings and Cronbach's alpha; job-title coding; top
    candidate departments and demand. The workbook holds the same tables, one sheet each. Parts that cannot
    be made yet (no individual responses, no match run) are stated, never left out. Respondents are
    pseudonymous: no names, emails or ids; free text only with --include-free-text.

    \b
    Example:
      trust-survey report --round 2026 --out outputs/report_2026
      trust-survey report --round 2026 --out outputs/report_2026 --include-free-text --force
    """
    from trust_survey import settings
    from trust_survey.instruments import load_registry
    from trust_survey.report import run_report

    out_dir = out if out is not None else settings.outputs_dir() / f"report_{round_}"
    registry = load_registry(instruments_dir)
    with progress(length=STEPS, label=f"report for round {round_}", quiet=quiet) as bar:
        result = run_report(resolve_db(db), round_, out_dir, registry=registry, include_free_text=include_free_text,
                            force=force, on_step=lambda what: bar.update(1))
    info(result.summary, quiet)
    wrote(result.html, "report page", quiet)
    wrote(result.workbook, "report tables", quiet)
