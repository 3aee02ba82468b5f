"""``trust-survey instruments …``: list, check, codebook and build."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import (
    db_option, force_option, info, instruments_option, progress, quiet_option, resolve_db, round_option, wrote,
)


@cli.group("instruments")
def instruments_group() -> None:
    """Define, check and build survey instruments (instruments/*.yaml).

    \b
    Example:
      trust-survey instruments list
      trust-survey instruments check
    """


def _registry(instruments_dir: Path | None):
    from trust_survey.instruments import load_registry

    return load_registry(instruments_dir)


@instruments_group.command("list")
@instruments_option
def list_cmd(instruments_dir: Path | None) -> None:
    """List every instrument definition with its versions.

    \b
    Example:
      trust-survey instruments list
    """
    reg = _registry(instruments_dir)
    click.echo(f"{'id':<22} {'version':>7}  {'audience':<16} {'fields':>6}  {'sha256':<12}  title")
    for inst in reg.all():
        click.echo(f"{inst.id:<22} {inst.version:>7}  {','.join(inst.audience):<16} {len(inst.fields()):>6}  "
                   f"{inst.definition_hash()[:12]}  {inst.title}")


@instruments_group.command("check")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@instruments_option
def check_cmd(paths: tuple[Path, ...], instruments_dir: Path | None) -> None:
    """Check instrument definitions strictly; list every problem and exit 1 if there are any.

    PATHS are definition files or folders (default: the instruments folder).

    \b
    Example:
      trust-survey instruments check instruments/trust_capability.v1.yaml
    """
    from trust_survey import settings
    from trust_survey.errors import DefinitionError, TrustSurveyError
    from trust_survey.instruments.loader import load_instrument_file

    targets: list[Path] = []
    for p in paths or (instruments_dir or settings.instruments_dir(),):
        targets.extend(sorted(p.glob("*.y*ml")) if p.is_dir() else [p])
    if not targets:
        raise click.UsageError("no instrument definitions (*.yaml) found in the given paths")
    problems = 0
    for path in targets:
        try:
            inst = load_instrument_file(path)
        except TrustSurveyError as exc:
            lines = exc.details if isinstance(exc, DefinitionError) and exc.details else [str(exc)]
            problems += len(lines)
            for line in lines:
                click.echo(line)
            continue
        click.echo(f"{path}: ok ({inst.key}, {len(inst.fields())} fields)")
    if problems:
        raise click.ClickException(f"[DEF001] {problems} problem(s) in {len(targets)} file(s)")


@instruments_group.command("codebook")
@click.argument("instrument_id")
@click.option("--version", "version", type=int, default=None, help="Instrument version (default: latest).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="Codebook file: .xlsx or .md.")
@instruments_option
@force_option
def codebook_cmd(instrument_id: str, version: int | None, out: Path, instruments_dir: Path | None,
                 force: bool) -> None:
    """Write the codebook: every variable, its label, type, allowed values and source item.

    \b
    Example:
      trust-survey instruments codebook trust_capability --out outputs/codebook.xlsx
      trust-survey instruments codebook individual_review --out outputs/codebook.md
    """
    from trust_survey.build.codebook import write_codebook
    from trust_survey.errors import OutputExistsError

    inst = _registry(instruments_dir).get(instrument_id, version)
    if out.exists() and not force:
        raise OutputExistsError(f"{out}: already exists; pass --force to replace it")
    wrote(write_codebook(inst, out), f"codebook for {inst.key}")


@instruments_group.command("build")
@click.argument("instrument_id")
@click.option("--orgs", "orgs_path", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="CSV of organisations: org_code, org_name [, org_type, region_code, icb_code, contact_email, "
                   "cc_email]; "
                   "for an individual instrument, of respondents: respondent_id [, contact_email].")
@round_option()
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Folder for the round's files. Default: outputs/round_<YEAR>/<instrument>.")
@click.option("--format", "fmt", type=click.Choice(["xlsx", "sav", "all"]), default="xlsx", show_default=True,
              help="Excel workbooks, SPSS templates, or both.")
@click.option("--version", "version", type=int, default=None, help="Instrument version (default: latest).")
@click.option("--deadline", default=None, help="Return-by date shown on the cover (default: 31 March next year).")
@click.option("--contact", default=None, help="Contact shown on the cover (default: the instrument's).")
@click.option("--encoding", default=None, help="Encoding of ORGS.csv (default: UTF-8, else Windows-1252).")
@instruments_option
@db_option
@force_option
@quiet_option
def build_cmd(instrument_id, orgs_path, round_, out, fmt, version, deadline, contact, encoding,
              instruments_dir, db, force, quiet) -> None:
    """Build every organisation's personalised return, plus a distribution register.

    Each workbook has a cover sheet, one protected sheet per section with drop-downs and stop alerts,
    a checks sheet and a hidden meta sheet so the file identifies itself when it comes back. The
    distribution (who was sent which file) is also recorded in the database, so `status` knows whom
    to expect; building the same round again updates it.

    \b
    Example:
      trust-survey instruments build trust_capability --orgs orgs.csv --round 2026 --out outputs/round_2026
      trust-survey instruments build trust_capability --orgs orgs.csv --round 2026 --format all --force
      trust-survey instruments build individual_review --orgs respondents.csv --round 2026
    """
    from trust_survey import settings
    from trust_survey.distribute.register import record_distribution
    from trust_survey.build.orchestrate import build_round
    from trust_survey.build.orgs import read_orgs

    inst = _registry(instruments_dir).get(instrument_id, version)
    orgs = read_orgs(orgs_path, encoding, individual="individual" in inst.audience)
    out = out or settings.outputs_dir() / f"round_{round_}" / inst.id
    with progress(length=len(orgs), label=f"building {len(orgs)} returns", quiet=quiet) as bar:
        result = build_round(inst, orgs, round_, out, fmt=fmt, force=force, deadline=deadline, contact=contact,
                             on_progress=bar.update)
    db = resolve_db(db)
    record_distribution(db, round_, inst, result.register.assign(folder=str(result.out_dir.resolve())))
    info(f"recorded the round's distribution in {db}", quiet)
    info(f"built {len(result.register)} file(s) for {len(orgs)} organisation(s), {inst.key}, round {round_}", quiet)
    wrote(result.out_dir, "returns", quiet)
    wrote(result.register_path, "distribution register", quiet)
