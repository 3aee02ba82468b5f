"""The ``trust-survey`` command line. Only this package imports click.

Each command module registers its commands on :data:`cli`, in pipeline order: :mod:`.instruments` (define,
build), :mod:`.simulate`, :mod:`.ingest` (ingest, status, feedback, export), :mod:`.platform`, :mod:`.match`,
:mod:`.commission` (candidates, demand, map), :mod:`.geography`, :mod:`.report`. Command bodies parse options,
call one orchestrating function from the library, and print where outputs went. Library errors become exit 1,
usage errors exit 2; ``--debug`` lets tracebacks through.

Deferred imports: command bodies import the library inside the function, on purpose, so that
``trust-survey --help`` and every command's ``--help`` start without loading pandas, DuckDB or the matcher.
"""
from __future__ import annotations

import importlib
import logging
import sys

import click

from trust_survey import __version__
from trust_survey.errors import TrustSurveyError

# Command modules, imported when the CLI is built. Each defines commands on `cli`.
COMMAND_MODULES = [
    "trust_survey.cli.instruments",
    "trust_survey.cli.simulate",
    "trust_survey.cli.match",
    "trust_survey.cli.ingest",
    "trust_survey.cli.commission",
    "trust_survey.cli.geography",
    "trust_survey.cli.report",
    "trust_survey.cli.platform",
    "trust_survey.cli.distribute",
]


class SurveyGroup(click.Group):
    """A group that turns library errors into clean messages instead of tracebacks."""

    def invoke(self, ctx: click.Context):
        debug = bool(ctx.meta.get("trust_survey.debug")) or "--debug" in sys.argv
        try:
            return super().invoke(ctx)
        except TrustSurveyError as exc:
            if debug:
                raise
            raise click.ClickException(f"[{exc.code}] {exc}") from None
        except (click.exceptions.Exit, click.ClickException, click.Abort, KeyboardInterrupt):
            raise
        except MemoryError:
            raise click.ClickException("ran out of memory; try fewer files at once") from None
        except PermissionError as exc:   # most often a workbook open in Excel (Windows locks it) or a read-only folder
            if debug:
                raise
            where = exc.filename2 or exc.filename or "a file"
            raise click.ClickException(
                f"[OUT002] not allowed to write or replace {where}: close it if it is open in another program "
                "(such as Excel), or choose a folder you can write to, then run this again") from None
        except Exception as exc:  # noqa: BLE001 - last line of defence: never show a traceback
            if debug:
                raise
            raise click.ClickException(
                f"[TS999] unexpected {type(exc).__name__}: {exc}\n"
                "This is a bug in trust-survey; run again with --debug and report the traceback."
            ) from None


@click.group(cls=SurveyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="trust-survey")
@click.option("--debug", is_flag=True, help="Show full tracebacks for errors.")
@click.option("-v", "--verbose", count=True, help="More log output on stderr (-vv for debug).")
@click.pass_context
def cli(ctx: click.Context, debug: bool, verbose: int) -> None:
    """Survey NHS trusts and ICBs for clinical bioinformatics training capacity.

    The pipeline: define instruments -> build returns -> ingest and validate -> match job titles to
    STP streams -> rank candidate departments -> map and report.

    \b
    Example:
      trust-survey instruments list
      trust-survey instruments build trust_capability --orgs orgs.csv --round 2026 --out outputs/round_2026
    """
    ctx.meta["trust_survey.debug"] = debug
    level = logging.WARNING - 10 * verbose
    logging.basicConfig(level=max(level, logging.DEBUG), format="%(levelname)s %(name)s: %(message)s")


for _name in COMMAND_MODULES:
    importlib.import_module(_name)
