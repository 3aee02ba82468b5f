"""``trust-survey candidates``, ``demand`` and ``map``: what commissioners look at."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey import settings
from trust_survey.cli import cli
from trust_survey.cli.options import db_option, force_option, info, quiet_option, resolve_db, round_option, wrote

_PATH = click.Path(dir_okay=False, path_type=Path)


def weights_option(fn):
    return click.option("--weights", "weights_path", type=_PATH, default=None,
                        help="Scoring weights YAML. Default: $TRUST_SURVEY_WEIGHTS, ./candidate_weights.yaml, "
                             "else the shipped file.")(fn)


def _out(out: Path | None, default_name: str, suffixes: tuple[str, ...]) -> Path:
    path = out if out is not None else settings.outputs_dir() / default_name
    if path.suffix.casefold() not in suffixes:
        raise click.BadParameter(f"'{path}' must end in {' or '.join(suffixes)}", param_hint="--out")
    return path


def _need_round(round_: int | None) -> int:
    if round_ is None:
        raise click.UsageError("Missing option '--round' (the survey year, e.g. --round 2026).")
    return round_


@cli.command("candidates")
@db_option
@round_option(required=False)
@click.option("--out", type=_PATH, default=None,
              help="Ranked list, .xlsx or .csv. Default: outputs/candidates_<round>.xlsx.")
@weights_option
@click.option("--check-weights", is_flag=True, help="Only check the weights file, list any problems and stop.")
@force_option
@quiet_option
def candidates_cmd(db: Path | None, round_: int | None, out: Path | None, weights_path: Path | None,
                   check_weights: bool, force: bool, quiet: bool) -> None:
    """Rank departments that could host STP trainees, per stream, with the reasons for every score.

    Each department gets points for staff matched to the stream (direct roles count more than adjacent
    ones), qualified supervisors, its organisation's stated willingness and places, its hosting history
    and university partners, less a penalty for a lone specialist. Every component is a column, and
    `reasons` says the same in words. Departments with no relevant staff are listed with score 0; staff
    rows naming a department that is not on the Departments sheet are kept and flagged.

    \b
    Example:
      trust-survey candidates --round 2026 --out outputs/candidates_2026.xlsx
      trust-survey candidates --check-weights --weights my_weights.yaml
    """
    from trust_survey.commissioning.weights import default_weights_path, load_weights

    if check_weights:
        load_weights(weights_path)
        info(f"{weights_path or default_weights_path()}: ok")
        return
    from trust_survey.commissioning.orchestrate import run_candidates

    round_ = _need_round(round_)
    result = run_candidates(resolve_db(db), round_, _out(out, f"candidates_{round_}.xlsx", (".xlsx", ".csv")),
                            weights_path=weights_path, force=force)
    info(result.summary, quiet)
    for path in result.paths:
        wrote(path, "candidates", quiet)


@cli.command("demand")
@db_option
@round_option()
@click.option("--by", type=click.Choice(["region", "icb", "trust", "stream"]), default="region", show_default=True,
              help="Group the estimate by region, ICB, trust or stream (England).")
@click.option("--out", type=_PATH, default=None,
              help="Estimate, .xlsx or .csv. Default: outputs/demand_<round>_<by>.xlsx.")
@weights_option
@force_option
@quiet_option
def demand_cmd(db: Path | None, round_: int, by: str, out: Path | None, weights_path: Path | None, force: bool,
               quiet: bool) -> None:
    """Estimate STP training places per stream: low, central and high.

    Per organisation, places = min(stated places, qualified supervisors x trainees per supervisor), counted
    for organisations whose stated willingness is in the scenario, times the scenario's share (all set in
    the weights file). Every earlier round in the store is estimated too, for the trend. Groups where
    nobody returned are shown as "no return", never as 0.

    \b
    Example:
      trust-survey demand --round 2026 --by region --out outputs/demand_2026.xlsx
    """
    from trust_survey.commissioning.orchestrate import run_demand

    result = run_demand(resolve_db(db), round_, by, _out(out, f"demand_{round_}_{by}.xlsx", (".xlsx", ".csv")),
                        weights_path=weights_path, force=force)
    info(result.summary, quiet)
    for path in result.paths:
        wrote(path, "demand", quiet)


@cli.command("map")
@db_option
@round_option()
@click.option("--out", type=_PATH, default=None, help="The map page (.html). Default: outputs/map_<round>.html.")
@click.option("--areas", type=click.Choice(["region", "icb"]), default="region", show_default=True,
              help="Shade estimated places by NHS England region or by ICB.")
@click.option("--tiles", default=None, metavar="URL",
              help="An online base map, e.g. https://tile.openstreetmap.org/{z}/{x}/{y}.png (the page then "
                   "needs the network for the base map only). Default: none, boundaries as background.")
@click.option("--tiles-attribution", default=None, metavar="TEXT", help="Credit shown for --tiles.")
@click.option("--table-rows", type=click.IntRange(1, 100000), default=100, show_default=True,
              help="Departments per stream in the table under the map.")
@weights_option
@force_option
@quiet_option
def map_cmd(db: Path | None, round_: int, out: Path | None, areas: str, tiles: str | None,
            tiles_attribution: str | None, table_rows: int, weights_path: Path | None, force: bool,
            quiet: bool) -> None:
    """Draw one self-contained HTML map of candidate departments and estimated places.

    The page needs no network: Leaflet, jQuery and marker clustering are inside it, and there is no tile
    server unless you pass --tiles. One layer per stream of clustered departments coloured by score (click
    one for the reasons), estimated places by region or ICB behind them ("no return" hatched grey, never
    the colour of zero), a legend, and the ranked table below the map.

    \b
    Example:
      trust-survey map --round 2026 --out outputs/map_2026.html
      trust-survey map --round 2026 --areas icb --tiles 'https://tile.openstreetmap.org/{z}/{x}/{y}.png'
    """
    from trust_survey.commissioning.orchestrate import run_map

    if tiles and not tiles.startswith(("https://", "http://")):
        raise click.BadParameter("must be an http(s) URL template with {z}/{x}/{y}", param_hint="--tiles")
    out_path = _out(out, f"map_{round_}.html", (".html", ".htm"))
    result = run_map(resolve_db(db), round_, out_path, areas=areas, tiles=tiles, tiles_attribution=tiles_attribution,
                     table_rows=table_rows, weights_path=weights_path, force=force)
    info(result.summary, quiet)
    for path in result.paths:
        wrote(path, "map", quiet)
