"""``trust-survey platform …``: draft and check mapping files for survey-platform exports."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import db_option, force_option, info, instruments_option, quiet_option, wrote


@cli.group("platform")
def platform_group() -> None:
    """Mapping files that read survey-platform exports (SurveyMonkey, Qualtrics, Microsoft Forms, ...).

    \b
    Example:
      trust-survey platform draft export.csv --instrument individual_review --out my_platform.yaml
      trust-survey platform check my_platform.yaml
    """


def _registry(instruments_dir: Path | None):
    from trust_survey.instruments import load_registry

    return load_registry(instruments_dir)


@platform_group.command("draft")
@click.argument("export", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--instrument", "instrument_id", required=True, help="Instrument the platform survey asks, e.g. "
              "individual_review.")
@click.option("--version", "version", type=int, default=None, help="Instrument version (default: the latest).")
@click.option("--round", "round_", type=click.IntRange(2000, 2100), default=None,
              help="Survey round: the respondent id column is found by the ids registered for it in --db.")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Mapping file to write (.yaml).")
@instruments_option
@db_option
@force_option
@quiet_option
def draft_cmd(export, instrument_id, version, round_, out, instruments_dir, db, force, quiet) -> None:
    """Write a mapping for a survey-platform export the toolkit does not know yet.

    Headers (however many rows they span) are matched to the instrument's item labels and answers
    to its choice labels; the respondent id column is found by its values (the round's registered
    respondent ids in --db, else the id format); "Prefer not to say", "Don't know" and "N/A" become
    missing; personal columns (names, emails, IP addresses) and platform bookkeeping are listed as
    never read, and none of their values is copied into the mapping. What a person must confirm is
    printed and written as comments at the top of the file.

    \b
    Example:
      trust-survey platform draft responses.csv --instrument individual_review --round 2026 --out my_platform.yaml
      trust-survey platform check my_platform.yaml
      trust-survey ingest responses.csv --round 2026 --mapping my_platform.yaml
    """
    from trust_survey.atomic import check_writable, write_atomic
    from trust_survey.ingest.platform_draft import draft_mapping, read_export_grid, registered_ids
    from trust_survey.settings import db_path

    check_writable(out, force)
    inst = _registry(instruments_dir).get(instrument_id, version)
    registered = registered_ids(db or db_path(), inst, round_)
    draft = draft_mapping(read_export_grid(export), inst, registered=registered, source=export.name)
    text = draft.to_yaml(export.name)
    write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"), force=force)
    body = draft.body
    click.echo(f"{export.name}: {body['header_rows']} header row(s); {len(body['columns'])} column(s) read, "
               f"{len(body['drop'])} dropped, {len(body['personal'])} personal (never read)")
    for line in draft.confirm:
        click.echo(f"confirm: {line}")
    wrote(out, "mapping", quiet)
    if draft.confirm:
        info(f"{len(draft.confirm)} thing(s) to confirm; edit {out}, then run: trust-survey platform check {out}",
             quiet)


@platform_group.command("check")
@click.argument("mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@instruments_option
def check_cmd(mapping, instruments_dir) -> None:
    """Check a mapping file strictly against its instrument.

    Reports every problem as a `file: path.to.key: problem` line: unknown keys, unknown item ids
    (with a did-you-mean), labels whose codes the item does not have, keys or list entries written
    twice, a field filled from two columns. Exit 1 on any problem.

    \b
    Example:
      trust-survey platform check instruments/mappings/my_platform.yaml
    """
    from trust_survey.ingest.platform_draft import check_mapping_file

    problems = check_mapping_file(mapping, _registry(instruments_dir))
    for line in problems:
        click.echo(line)
    if problems:
        info(f"{len(problems)} problem(s) in {mapping}")
        raise click.exceptions.Exit(1)
    click.echo(f"{mapping}: ok")
