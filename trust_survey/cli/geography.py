"""``trust-survey geography``: see the reference geography in use, and refresh it from official files."""
from __future__ import annotations

from datetime import date
from pathlib import Path

import click

from trust_survey import settings
from trust_survey.cli import cli
from trust_survey.cli.options import force_option, info, quiet_option, wrote

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


@cli.group("geography")
def geography_group() -> None:
    """The reference geography: NHS England regions, ICBs by vintage, trusts, mergers, boundaries.

    It ships with the toolkit (trust_survey/data/reference, sources in SOURCES.md there); set
    TRUST_SURVEY_REFERENCE to use a refreshed copy.

    \b
    Example:
      trust-survey geography show
      trust-survey geography refresh --etr etr.csv --onspd ONSPD_FEB_2027_UK.csv --out reference_2027
    """


@geography_group.command("show")
def show_cmd() -> None:
    """List what the reference folder in use holds: tables, rows, vintages and boundaries.

    \b
    Example:
      trust-survey geography show
      TRUST_SURVEY_REFERENCE=reference_2027 trust-survey geography show
    """
    from trust_survey.geography.refresh import summary

    table = summary()
    click.echo(f"reference folder: {settings.reference_dir()}")
    width = max(map(len, table["table"]))
    for row in table.itertuples(index=False):
        click.echo(f"  {row.table:<{width}}  {row.rows:>6}  {row.detail}")


@geography_group.command("refresh")
@click.option("--etr", "etr_path", type=_FILE, default=None,
              help="ODS etr.csv (NHS trusts; no header row, 27 columns), from the ODS data downloads.")
@click.option("--icbs", "icbs_path", type=_FILE, default=None,
              help="ONS ICB names-and-codes CSV or lookup (ICBnnCD, ICBnnCDH, ICBnnNM columns): updates that "
                   "vintage's ICB names and ONS codes.")
@click.option("--onspd", type=_FILE, default=None,
              help="ONS Postcode Directory data CSV, for head-office locations (read in chunks, by header "
                   "name). Without it, locations are kept where the postcode is unchanged, else the "
                   "postcode district's centroid is used.")
@click.option("--as-of", "as_of", type=click.DateTime(formats=["%Y-%m-%d"]), default=None,
              help="Keep trusts open on this date (YYYY-MM-DD). Default: trusts with no close date.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the refreshed reference (a full copy, ready for TRUST_SURVEY_REFERENCE).")
@force_option
@quiet_option
def refresh_cmd(etr_path: Path | None, icbs_path: Path | None, onspd: Path | None, as_of, out_dir: Path,
                force: bool, quiet: bool) -> None:
    """Rebuild the trust table (and ICB names and codes) from this year's official files, into a new
    reference folder.

    The folder is a copy of the reference in use with trusts.csv rebuilt: English trusts open in
    etr.csv, names in normal case, region and ICB from the head-office postcode (either ICB vintage is
    recognised), locations from ONSPD. refresh_changes.csv lists every trust added, closed, renamed or
    moved, and anything that needs a person (an unknown ICB code, a closed trust with no successor
    recorded, a postcode that could not be located). With --icbs, the vintage the file's columns name
    (ICB26CD: 2026) gets the file's names and ONS codes; boards it adds or drops are listed for a person,
    since a new set of boards needs a new vintage. Nothing in use changes until you point
    TRUST_SURVEY_REFERENCE at the new folder.

    \b
    Example:
      trust-survey geography refresh --etr etr.csv --out outputs/reference_2027
      trust-survey geography refresh --etr etr.csv --onspd ONSPD_FEB_2027_UK.csv --as-of 2027-04-01 \\
          --icbs ICB_APR_2026_EN_NC.csv --out outputs/reference_2027
    """
    from trust_survey.geography.refresh import refresh_reference

    if etr_path is None and icbs_path is None:
        raise click.UsageError("Give --etr, --icbs or both: the official files to refresh from.")
    if etr_path is None and (onspd or as_of):
        raise click.UsageError("--onspd and --as-of apply to the trust table: give --etr as well.")
    when: date | None = as_of.date() if as_of else None
    for path in (etr_path, icbs_path):
        if path:
            info(f"reading {path}", quiet)
    result = refresh_reference(etr_path, out_dir, onspd=onspd, as_of=when, force=force, icbs_path=icbs_path)
    counts = ", ".join(f"{n} {kind}" for kind in ("added", "closed", "absent", "renamed", "moved",
                                                  "icb_unknown", "not_located", "icb_new", "icb_absent",
                                                  "icb_renamed", "icb_recoded") if (n := result.count(kind)))
    info(f"{result.trusts} trusts; changes: {counts or 'none'}", quiet)
    if result.count("absent"):
        click.echo(f"warning: {result.count('absent')} trust(s) in the reference in use are not in {etr_path} "
                   "at all; is it the full national etr.csv? (listed as 'absent' in refresh_changes.csv)", err=True)
    if result.located:
        info("located: " + ", ".join(f"{n} {src}" for src, n in sorted(result.located.items())), quiet)
    wrote(out_dir, "refreshed reference", quiet)
    wrote(out_dir / "refresh_changes.csv", "changes to check", quiet)
    info(f"to use it: export TRUST_SURVEY_REFERENCE={out_dir}", quiet)
