"""``trust-survey simulate``: fill a round's returns as trusts would, for demos and testing ingest."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import (
    force_option, info, instruments_option, progress, quiet_option, round_option, wrote,
)


@cli.command("simulate")
@round_option()
@click.option("--orgs", "orgs_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="CSV of organisations: org_code, org_name [, org_type, region_code, icb_code, "
                   "contact_email]. Needed for trust and ICB instruments.")
@click.option("--respondents", type=click.IntRange(1, 100000), default=None,
              help="For an instrument answered by individuals (individual_review): how many respondents "
                   "to simulate. Default 60.")
@click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder for the simulated returns and the simulation manifest.")
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed: same seed, same answers.")
@click.option("--messiness", type=click.FloatRange(0, 1), default=0.0, show_default=True,
              help="0: every organisation returns a valid .xlsx. Above 0: non-returns, errors, mess, a "
                   "resubmission and .sav/.csv/.ods/.xls returns, more of them as it rises to 1.")
@click.option("--instrument", "instrument_id", default="trust_capability", show_default=True,
              help="The instrument to fill: a trust/ICB return, or individual_review for individuals' returns.")
@click.option("--version", "version", type=int, default=None, help="Instrument version (default: latest).")
@click.option("--encoding", default=None, help="Encoding of ORGS.csv (default: UTF-8, else Windows-1252).")
@instruments_option
@force_option
@quiet_option
def simulate_cmd(round_, orgs_path, respondents, out, seed, messiness, instrument_id, version, encoding,
                 instruments_dir, force, quiet) -> None:
    """Simulate a round's returns: build each organisation's workbook and fill it as its staff would.

    Departments, job titles (with the abbreviations, bands and typos people type), capacity answers
    and key figures are realistic and deterministic for --seed. With --messiness above 0 some
    organisations do not reply, some returns break the definition's rules or need cleaning, one
    organisation resubmits (<stem>_resubmitted.xlsx), and some reply in .sav, .csv, .ods or .xls
    (.ods/.xls need LibreOffice; without it they are written as .xlsx and the manifest says so).
    simulation_manifest.csv lists every organisation's outcome and what was injected;
    simulation_injections.csv gives each injected problem's exact cell.

    With --instrument individual_review and --respondents N it writes a round of individuals' returns
    instead: most in one survey-platform CSV export (the columns of the platform mapping file, names and
    email included, as the platform adds them), a few as toolkit workbooks and SPSS files, with
    individual_manifest.csv saying which respondent is in which file. Group means follow the HEE
    report's equity-sensitivity figures.

    \b
    Example:
      trust-survey simulate --round 2026 --orgs orgs.csv --out outputs/sim_2026
      trust-survey simulate --round 2026 --orgs orgs.csv --out outputs/sim_messy --seed 7 --messiness 0.3
      trust-survey simulate --instrument individual_review --round 2026 --respondents 60 --out outputs/ir_2026
    """
    from trust_survey.build.orgs import read_orgs
    from trust_survey.instruments import load_registry
    from trust_survey.simulate.orchestrate import simulate_round

    inst = load_registry(instruments_dir).get(instrument_id, version)
    if "individual" in inst.audience:
        if orgs_path is not None:
            raise click.BadParameter(f"{inst.key} is answered by individuals; pass --respondents N, not --orgs",
                                     param_hint="--orgs")
        _simulate_individuals(inst, round_, respondents or 60, out, seed, instruments_dir, force, quiet)
        return
    if orgs_path is None:
        raise click.UsageError(f"Missing option '--orgs': {inst.key} is answered by organisations; pass the CSV "
                               "of organisations to simulate.")
    if respondents is not None:
        raise click.BadParameter(f"{inst.key} is answered by organisations; --respondents is for individual_review",
                                 param_hint="--respondents")
    orgs = read_orgs(orgs_path, encoding)
    with progress(orgs.to_dict("records"), label=f"simulating {len(orgs)} returns", quiet=quiet) as bar:
        result = simulate_round(inst, orgs, round_, out, seed=seed, messiness=messiness, force=force,
                                on_progress=lambda _: bar)
    counts = result.manifest["outcome"].value_counts()
    info(f"simulated {len(orgs)} organisation(s), {inst.key}, round {round_}, seed {seed}: "
         + ", ".join(f"{n} {outcome}" for outcome, n in counts.items()), quiet)
    if not result.postcodes_from_reference:
        info("department postcodes generated by region (reference trusts.csv not found)", quiet)
    for fmt, why in result.skipped.items():
        info(f"skipped .{fmt} returns, written as .xlsx instead: {why}", quiet)
    wrote(result.out_dir, "returns", quiet)
    wrote(result.manifest_path, "simulation manifest", quiet)


def _simulate_individuals(inst, round_: int, n: int, out: Path, seed: int, instruments_dir: Path | None, force: bool,
                          quiet: bool) -> None:
    from trust_survey import settings
    from trust_survey.simulate.individual_files import simulate_individual_round

    mappings = (instruments_dir or settings.instruments_dir()) / "mappings"
    result = simulate_individual_round(inst, round_, n, out, seed=seed, force=force,
                                       mapping_path=mappings / f"{inst.id}.platform.v{inst.version}.yaml")
    counts = result.manifest["format"].value_counts()
    info(f"simulated {n} respondent(s), {inst.key}, round {round_}, seed {seed}: "
         + ", ".join(f"{k} {fmt}" for fmt, k in counts.items()), quiet)
    wrote(result.out_dir, "returns", quiet)
    if result.platform_csv:
        wrote(result.platform_csv, "survey-platform export", quiet)
    wrote(result.manifest_path, "respondent manifest", quiet)
