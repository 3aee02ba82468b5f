"""Option families written once and reused by every command (sqlite-utils style)."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from trust_survey import settings


def db_option(fn):
    """``--db PATH``: the DuckDB store (env TRUST_SURVEY_DB, default outputs/trust_survey.duckdb)."""
    return click.option(
        "--db", "db", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="DuckDB store. Default: $TRUST_SURVEY_DB or outputs/trust_survey.duckdb.",
    )(fn)


def force_option(fn):
    return click.option("--force", is_flag=True, help="Overwrite existing outputs.")(fn)


def quiet_option(fn):
    return click.option("-q", "--quiet", is_flag=True, help="No progress or summary on stderr.")(fn)


def instruments_option(fn):
    return click.option(
        "--instruments", "instruments_dir", type=click.Path(file_okay=False, path_type=Path), default=None,
        help="Folder of instrument definitions. Default: $TRUST_SURVEY_INSTRUMENTS or ./instruments.",
    )(fn)


def round_option(required: bool = True):
    def deco(fn):
        return click.option(
            "--round", "round_", type=click.IntRange(2000, 2100), required=required,
            help="Survey round (the year), e.g. 2026.",
        )(fn)
    return deco


def resolve_db(db: Path | None) -> Path:
    return db if db is not None else settings.db_path()


def info(message: str, quiet: bool = False) -> None:
    """Status goes to stderr; results go to files or stdout."""
    if not quiet:
        click.echo(message, err=True)


def wrote(path: Path | str, what: str = "", quiet: bool = False) -> None:
    """Say where an output was written."""
    label = f"{what}: " if what else ""
    info(f"wrote {label}{path}", quiet)


def progress(iterable=None, *, length: int | None = None, label: str = "", quiet: bool = False):
    """A progress bar on stderr when it is a terminal and not --quiet; otherwise a silent stand-in.

    Use it over an iterable (``with progress(items) as bar: for x in bar``) or by count
    (``with progress(length=n) as bar: work(on_progress=bar.update)``).
    """
    if quiet or not sys.stderr.isatty():
        return _NullBar(iterable)
    return click.progressbar(iterable, length=length, label=label, file=sys.stderr)


class _NullBar:
    def __init__(self, iterable):
        self._it = iterable if iterable is not None else ()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(self._it)

    def update(self, n: int = 1) -> None:
        pass
