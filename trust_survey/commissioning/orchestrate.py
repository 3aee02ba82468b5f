"""Orchestrators for ``candidates``, ``demand`` and ``map``: read a round, run the stages in order, write.

Reading is the only part that knows the store: :mod:`trust_survey.commissioning.reader` fetches the round's
accepted answers as the return's tables, the coding ``match run`` stored for its job titles, the distribution
list and geography. Everything else is the stage
functions of :mod:`trust_survey.commissioning.scoring`, :mod:`trust_survey.commissioning.demand`
and :mod:`trust_survey.maps`.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trust_survey.atomic import check_writable, write_atomic
from trust_survey.commissioning.demand import estimate_demand, write_demand
from trust_survey.commissioning.departments import link_staff
from trust_survey.commissioning.reader import (NotMatchedError, RoundData, area_boundaries, area_points, load_round,
                                               rounds_in_store)
from trust_survey.commissioning.scoring import score_departments
from trust_survey.commissioning.weights import STREAMS, Weights, load_weights
from trust_survey.commissioning.writers import write_candidates
from trust_survey.maps import build_map

log = logging.getLogger(__name__)


@dataclass
class Result:
    paths: list[Path]
    summary: str
    frame: pd.DataFrame | None = None


def candidates_for(data: RoundData, weights: Weights) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score a round's departments; also the staff rows with the department each was linked to."""
    links = link_staff(data.departments, data.staff, threshold=weights.department_matching.threshold,
                       margin=weights.department_matching.margin) if len(data.staff) else data.staff
    if not len(data.staff):
        links = data.staff.assign(dept_key=pd.Series(dtype=str), linked_dept_name=pd.Series(dtype=str),
                                  link_method=pd.Series(dtype=str), link_score=pd.Series(dtype=float))
    scores = score_departments(_with_keys(data.departments), links, data.capacity, data.partners, weights)
    return scores, links


def _with_keys(departments: pd.DataFrame) -> pd.DataFrame:
    deps = departments.reset_index(drop=True).copy()
    if "dept_key" not in deps.columns:
        deps["dept_key"] = [f"{org}#{i + 1}" for i, org in enumerate(deps["org_code"].astype(str))]
    return deps


def _with_notes(summary: str, notes: list[str]) -> str:
    return "\n".join([summary] + [f"  note: {n}" for n in dict.fromkeys(notes)])


def _summary_candidates(scores: pd.DataFrame, links: pd.DataFrame, round_: int) -> str:
    depts = scores.drop_duplicates("dept_key")
    lines = [f"round {round_}: {len(depts)} departments from {depts['org_code'].nunique()} organisations"]
    for s in STREAMS:
        part = scores[scores["stream"] == s]
        lines.append(f"  {s}: {(part['total'] > 0).sum()} with a score above 0")
    if len(links) and "link_method" in links.columns:
        unlisted = int((links["link_method"] == "unlisted").sum())
        fuzzy = int((links["link_method"] == "fuzzy").sum())
        if unlisted or fuzzy:
            lines.append(f"  staff rows: {fuzzy} linked to a department by similar name, {unlisted} naming a "
                         "department not on the Departments sheet (kept, flagged dept_listed = FALSE)")
    return "\n".join(lines)


def run_candidates(db: Path, round_: int, out: Path, *, weights_path: Path | None = None,
                   force: bool = False) -> Result:

    check_writable(out, force)
    weights = load_weights(weights_path)
    data = load_round(db, round_)
    scores, links = candidates_for(data, weights)
    dist = data.distribution
    silent = sorted(dist.loc[~dist["returned"].astype(bool), "org_code"]) if "returned" in dist else []
    meta = {"round": round_, "weights version": weights.version, "taxonomy version": data.taxonomy_version or "",
            "organisations sent the return": len(dist),
            "organisations with no accepted return (not in this list)": ", ".join(silent) or "none"}
    paths = write_candidates(scores, out, staff_links=links, weights=weights, force=force, meta=meta)
    summary = _summary_candidates(scores, links, round_)
    if silent:
        summary += (f"\n  {len(silent)} of {len(dist)} organisations have no accepted return and are not ranked: "
                    f"{', '.join(silent[:8])}{' ...' if len(silent) > 8 else ''}")
    return Result(paths, _with_notes(summary, data.notes), scores)


def demand_for(db: Path, round_: int, by: str, weights: Weights, notes: list[str] | None = None) -> pd.DataFrame:
    """Demand for ``round_`` and every earlier round in the store (for the trend).

    An earlier round whose job titles ``match run`` has not coded is left out of the trend, with a note in
    ``notes`` saying so and how to bring it in; the asked-for round must be coded."""
    cands, caps, dists = [], [], []
    # the asked-for round always comes last and must have returns; earlier rounds only add the trend
    for r in sorted({r for r in rounds_in_store(db) if r < round_} | {round_}):
        try:
            data = load_round(db, r, require_returns=(r == round_))
        except NotMatchedError as exc:
            if r == round_:
                raise
            if notes is not None:
                notes.append(f"round {r}: left out of the trend: {exc}")
            continue
        if notes is not None:
            notes.extend(f"round {r}: {n}" for n in data.notes)
        scores, _ = candidates_for(data, weights)
        cands.append(scores.assign(round=r))
        caps.append(data.capacity.assign(round=r))
        dists.append(data.distribution.assign(round=r))
    return estimate_demand(pd.concat(cands, ignore_index=True), pd.concat(caps, ignore_index=True),
                           pd.concat(dists, ignore_index=True), weights.demand, by)


def _summary_demand(demand: pd.DataFrame, round_: int, by: str) -> str:
    now = demand[(demand["round"] == round_) & (demand["stream"] == "all")]
    lines = [f"round {round_}, by {by}: {len(now)} group(s)"]
    total = now["central"].sum(min_count=1)
    low, high = now["low"].sum(min_count=1), now["high"].sum(min_count=1)
    if pd.notna(total):
        lines.append(f"  estimated places a year (all streams): central {total:g}, low {low:g}, high {high:g}")
    silent = int((now["status"] == "no return").sum())
    if silent:
        lines.append(f"  {silent} group(s) with no return: shown as 'no return', not 0")
    rounds = sorted(demand["round"].dropna().unique())
    if len(rounds) > 1:
        lines.append(f"  trend across rounds {', '.join(str(int(r)) for r in rounds)}")
    return "\n".join(lines)


def run_demand(db: Path, round_: int, by: str, out: Path, *, weights_path: Path | None = None,
               force: bool = False) -> Result:

    check_writable(out, force)
    weights = load_weights(weights_path)
    notes: list[str] = []
    demand = demand_for(db, round_, by, weights, notes)
    paths = write_demand(demand, out, params=weights.demand, force=force,
                         meta={"round": round_, "by": by, "weights version": weights.version})
    return Result(paths, _with_notes(_summary_demand(demand, round_, by), notes), demand)


def run_map(db: Path, round_: int, out: Path, *, areas: str = "region", tiles: str | None = None,
            tiles_attribution: str | None = None, table_rows: int = 100, weights_path: Path | None = None,
            force: bool = False) -> Result:

    check_writable(out, force)
    weights = load_weights(weights_path)
    data = load_round(db, round_)
    scores, _ = candidates_for(data, weights)
    demand = estimate_demand(scores, data.capacity, data.distribution, weights.demand, areas)
    boundaries = area_boundaries(areas, round_)
    returned = int(data.distribution["returned"].sum()) if "returned" in data.distribution else 0
    subtitle = (f"Round {round_}: {returned} of {len(data.distribution)} organisations returned; "
                f"{scores['dept_key'].nunique()} departments. Scores from weights version {weights.version}.")
    page = build_map(scores, demand, area_level=areas, boundaries=boundaries,
                     area_points=None if boundaries else area_points(data.distribution, areas),
                     tiles=tiles, tiles_attribution=tiles_attribution,
                     title=f"Candidate STP training departments, round {round_}", subtitle=subtitle,
                     table_limit=table_rows)
    path = write_atomic(out, lambda p: p.write_text(page, encoding="utf-8"), force=force)
    size = path.stat().st_size / 1e6
    background = "boundaries" if boundaries else "area circles (no boundary file available)"
    summary = (f"round {round_}: {scores['dept_key'].nunique()} departments, demand by {areas} as {background}; "
               f"{size:.1f} MB, works offline" + ("" if not tiles else " except the base map tiles"))
    return Result([path], _with_notes(summary, data.notes))
