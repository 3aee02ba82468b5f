"""Estimate STP training places per stream from what organisations said they could host.

:func:`estimate_demand` works per organisation and stream, then adds up by region, ICB, trust or stream:

    possible = min(stated places, qualified supervisors x trainees_per_supervisor)
    places   = possible x share, for organisations whose willingness is in the scenario's set

with three scenarios (low / central / high) from ``candidate_weights.yaml``. A willing organisation that
left its number of places blank is assumed to offer ``places_when_blank`` (counted in ``places_assumed``).

"No return" is never 0: a group where nobody returned gets NaN figures and ``status`` "no return"; a group
that returned and offers nothing gets 0. When the inputs hold several rounds, each round is estimated and
``central_change`` gives the change from the previous round present.
"""
from __future__ import annotations

import logging
import math
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from trust_survey.atomic import write_atomic
from trust_survey.commissioning.scoring import choice_code, column, numbers
from trust_survey.commissioning.weights import STREAMS, STREAM_CODES, STREAM_LABELS, WILLINGNESS, DemandParams
from trust_survey.commissioning.writers import write_table_csv, write_workbook
from trust_survey.errors import InputFileError

log = logging.getLogger(__name__)

By = Literal["region", "icb", "trust", "stream"]
BY_CHOICES = ("region", "icb", "trust", "stream")
ALL_STREAMS = "all"
NO_RETURN = "no return"
SCENARIOS = ("low", "central", "high")

DEMAND_COLUMNS = [
    "round", "level", "group_code", "group_name", "stream", "status", "orgs", "returned", "not_returned",
    "willing_orgs", "stated_places", "places_assumed", "qualified_supervisors", "supervision_limit",
    "low", "central", "high", "central_change",
]
_GROUP = {"region": ("region_code", "region_name"), "icb": ("icb_code", "icb_name"),
          "trust": ("org_code", "org_name")}


def _org_stream_places(candidates: pd.DataFrame, capacity: pd.DataFrame, orgs: pd.DataFrame,
                       params: DemandParams) -> pd.DataFrame:
    """Per returned organisation and stream: willingness, stated places, supervisors and scenario places."""
    codes = orgs["org_code"].astype(str).tolist()
    frame = pd.DataFrame({"org_code": pd.Series([c for c in codes for _ in STREAMS], dtype=object),
                          "stream": pd.Series(list(STREAMS) * len(codes), dtype=object)})
    cap = capacity.drop_duplicates("org_code", keep="last") if len(capacity) else capacity
    cap_rows = []
    for stream, code in STREAM_CODES.items():
        cap_rows.append(pd.DataFrame({
            "org_code": pd.Series(column(cap, "org_code").astype(str).to_numpy(), dtype=object), "stream": stream,
            "willingness": [choice_code(v, WILLINGNESS) for v in column(cap, f"will_{code}")],
            "places": numbers(column(cap, f"places_{code}"), len(cap)),
        }))
    frame = frame.merge(pd.concat(cap_rows, ignore_index=True), on=["org_code", "stream"], how="left")
    if len(candidates):
        sup = (candidates.assign(org_code=candidates["org_code"].astype(str))
               .groupby(["org_code", "stream"], as_index=False)["supervisors_registered"].sum())
        frame = frame.merge(sup, on=["org_code", "stream"], how="left")
    else:
        frame["supervisors_registered"] = 0.0
    frame["supervisors_registered"] = pd.to_numeric(frame["supervisors_registered"], errors="coerce").fillna(0.0)
    will = [v if isinstance(v, str) else None for v in frame["willingness"]]
    frame["willingness"] = pd.Series(will, index=frame.index, dtype=object)
    any_yes = set().union(*(getattr(params.scenarios, s).willing for s in SCENARIOS)) - {"no"}
    places = frame["places"].to_numpy(dtype=float)
    blank = np.isnan(places) & np.array([w in any_yes for w in will], dtype=bool)
    stated = np.where(np.isnan(places), np.where(blank, params.places_when_blank, 0.0), places)
    limit = frame["supervisors_registered"].to_numpy(dtype=float) * params.trainees_per_supervisor
    possible = np.minimum(stated, limit)
    frame["places_assumed"] = blank.astype(int)
    frame["supervision_limit"] = limit
    for name in SCENARIOS:
        sc = getattr(params.scenarios, name)
        take = np.array([w in sc.willing and w != "no" for w in will], dtype=bool)
        frame[name] = np.where(take, possible * sc.share, 0.0)
    central_set = set(params.scenarios.central.willing) - {"no"}
    frame["willing"] = np.array([w in central_set for w in will], dtype=bool).astype(int)
    return frame


def _one_round(candidates: pd.DataFrame, capacity: pd.DataFrame, distribution: pd.DataFrame, params: DemandParams,
               by: str) -> pd.DataFrame:
    dist = distribution.copy()
    dist["org_code"] = dist["org_code"].astype(str)
    returned_codes = set(column(capacity, "org_code").astype(str)) | set(column(candidates, "org_code").astype(str))
    if "returned" in dist.columns:
        flags = dist["returned"].map(lambda v: bool(v) if not (isinstance(v, float) and math.isnan(v)) else False)
        returned_codes |= set(dist.loc[flags.astype(bool), "org_code"])
    # Organisations that returned without being on the distribution list still count.
    extra = sorted(returned_codes - set(dist["org_code"]))
    if extra:
        log.warning("%d organisation(s) returned but are not on the distribution list: %s", len(extra),
                    ", ".join(extra[:10]))
        dist = pd.concat([dist, pd.DataFrame({"org_code": extra})], ignore_index=True)
    dist = dist.drop_duplicates("org_code", keep="first").reset_index(drop=True)
    dist["returned"] = dist["org_code"].isin(returned_codes)

    if by == "stream":
        dist["group_code"], dist["group_name"] = "England", "England"
    else:
        code_col, name_col = _GROUP[by]
        codes = column(dist, code_col)
        dist["group_code"] = codes.map(lambda v: "(unknown)" if pd.isna(v) or not str(v).strip() else str(v))
        names = column(dist, name_col)
        dist["group_name"] = [n if isinstance(n, str) and n.strip() else c
                              for n, c in zip(names, dist["group_code"])]

    per_org = _org_stream_places(candidates, capacity, dist[dist["returned"]], params)
    per_org = per_org.merge(dist[["org_code", "group_code"]], on="org_code", how="left")
    sums = ["willing", "places_assumed", "supervisors_registered", "supervision_limit", *SCENARIOS]
    per_org["stated"] = per_org["places"]
    by_stream = per_org.groupby(["group_code", "stream"], as_index=False).agg(
        willing_orgs=("willing", "sum"), stated_places=("stated", lambda s: s.sum(min_count=1)),
        places_assumed=("places_assumed", "sum"), qualified_supervisors=("supervisors_registered", "sum"),
        supervision_limit=("supervision_limit", "sum"), low=("low", "sum"), central=("central", "sum"),
        high=("high", "sum"))
    all_streams = by_stream.groupby("group_code", as_index=False).agg(
        willing_orgs=("willing_orgs", "sum"), stated_places=("stated_places", lambda s: s.sum(min_count=1)),
        places_assumed=("places_assumed", "sum"), qualified_supervisors=("qualified_supervisors", "sum"),
        supervision_limit=("supervision_limit", "sum"), low=("low", "sum"), central=("central", "sum"),
        high=("high", "sum"))
    all_streams["stream"] = ALL_STREAMS
    del sums

    groups = dist.groupby("group_code", as_index=False).agg(
        group_name=("group_name", "first"), orgs=("org_code", "size"), returned=("returned", "sum"))
    groups["not_returned"] = groups["orgs"] - groups["returned"]
    grid = groups.merge(pd.DataFrame({"stream": [*STREAMS, ALL_STREAMS]}), how="cross")
    out = grid.merge(pd.concat([by_stream, all_streams], ignore_index=True), on=["group_code", "stream"], how="left")
    none_back = out["returned"] == 0
    out["status"] = np.where(none_back, NO_RETURN, np.where(out["not_returned"] > 0, "partial", "complete"))
    figures = ["willing_orgs", "stated_places", "places_assumed", "qualified_supervisors", "supervision_limit",
               *SCENARIOS]
    for col in figures:
        out[col] = pd.to_numeric(out[col], errors="coerce").astype(float)
        if col != "stated_places":
            out[col] = out[col].fillna(0.0)
        out.loc[none_back, col] = np.nan
    for col in SCENARIOS:
        out[col] = out[col].round(1)
    out["level"] = by
    order = {s: i for i, s in enumerate([*STREAMS, ALL_STREAMS])}
    out = out.sort_values(["group_code", "stream"], key=lambda s: s.map(order) if s.name == "stream" else s)
    return out.reset_index(drop=True)


def estimate_demand(candidates: pd.DataFrame, capacity: pd.DataFrame, distribution: pd.DataFrame,
                    params: DemandParams, by: By = "region") -> pd.DataFrame:
    """Training places per group and stream, with low / central / high scenarios.

    In:
      - candidates: :func:`trust_survey.commissioning.scoring.score_departments` output (``org_code``, ``stream``,
        ``supervisors_registered``), for the returns received.
      - capacity: one row per returned organisation (``org_code``, ``will_*``, ``places_*``).
      - distribution: every organisation sent the return (``org_code``, ``org_name``, ``region_code``,
        ``region_name``, ``icb_code``, ``icb_name``, optional ``returned``).
      Each may carry a ``round`` column; every round in ``distribution`` is then estimated.
    Out: :data:`DEMAND_COLUMNS`, one row per round, group and stream (plus stream ``all``). Groups where no
    organisation returned have NaN figures and status ``no return``, never 0.
    """
    if by not in BY_CHOICES:
        raise InputFileError(f"cannot group demand by '{by}'; use one of {', '.join(BY_CHOICES)}")
    if "org_code" not in distribution.columns:
        raise InputFileError("distribution: missing column org_code")
    candidates = candidates if candidates is not None else pd.DataFrame(columns=["org_code", "stream"])
    capacity = capacity if capacity is not None else pd.DataFrame(columns=["org_code"])
    if "round" in distribution.columns:
        rounds = sorted(int(r) for r in distribution["round"].dropna().unique())
    else:
        rounds = [None]
    frames = []
    for r in rounds:
        def pick(df: pd.DataFrame) -> pd.DataFrame:
            if r is None or "round" not in df.columns:
                return df
            return df[pd.to_numeric(df["round"], errors="coerce") == r]
        est = _one_round(pick(candidates), pick(capacity), pick(distribution), params, by)
        est["round"] = r if r is not None else pd.NA
        frames.append(est)
    out = pd.concat(frames, ignore_index=True)
    out["central_change"] = np.nan
    if len(rounds) > 1:
        out = out.sort_values(["group_code", "stream", "round"], kind="stable")
        prev = out.groupby(["group_code", "stream"])["central"].shift(1)
        out["central_change"] = (out["central"] - prev).round(1)
        order = {s: i for i, s in enumerate([*STREAMS, ALL_STREAMS])}
        out = out.sort_values(["round", "group_code", "stream"],
                              key=lambda s: s.map(order) if s.name == "stream" else s, kind="stable")
    return out[DEMAND_COLUMNS].reset_index(drop=True)


def demand_trend(demand: pd.DataFrame) -> pd.DataFrame:
    """Central places by round, one column per round; "no return" written as such, never as 0."""
    d = demand.copy()
    d["value"] = [NO_RETURN if s == NO_RETURN else c for s, c in zip(d["status"], d["central"])]
    d = d.drop_duplicates(["group_code", "stream", "round"], keep="last")
    wide = d.set_index(["group_code", "stream", "round"])["value"].unstack("round")
    wide.columns = [f"central {c}" for c in wide.columns]
    wide = wide.reset_index()
    names = d.groupby("group_code")["group_name"].last()
    wide.insert(1, "group_name", wide["group_code"].map(names))
    order = {s: i for i, s in enumerate([*STREAMS, ALL_STREAMS])}
    wide = wide.sort_values(["group_code", "stream"], key=lambda s: s.map(order) if s.name == "stream" else s)
    return wide.reset_index(drop=True)


READ_ME = [
    "Estimated STP training places per stream: low / central / high scenarios.",
    "Per organisation: possible places = min(stated places, qualified supervisors x trainees per supervisor); "
    "a scenario counts the organisations whose willingness is in its set, times its share.",
    "Qualified supervisors are staff on HCPC/AHCS-registered rows matched to the stream who could supervise.",
    "status 'no return' means nobody in the group returned: figures are blank, not zero. 'partial' means some "
    "organisations in the group have not returned, so the figures are a floor.",
    "places_assumed counts willing organisations that left their number of places blank.",
]


def write_demand(demand: pd.DataFrame, path: Path | str, *, params: DemandParams | None = None,
                 force: bool = False, meta: dict | None = None) -> list[Path]:
    """Write demand to ``.xlsx`` (Read me, one sheet per round, Trend when several rounds) or ``.csv``."""

    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix not in (".xlsx", ".csv"):
        raise InputFileError(f"{path}: cannot write '{path.suffix or '(no extension)'}'; use .xlsx or .csv for --out")
    if suffix == ".csv":
        return [write_atomic(path, lambda p: write_table_csv(demand, p), force=force)]
    rounds = [r for r in pd.unique(demand["round"]) if not pd.isna(r)]
    sheets = [(f"Round {r}", demand[demand["round"] == r]) for r in sorted(rounds, reverse=True)]
    sheets = sheets or [("Demand", demand)]
    if len(rounds) > 1:
        sheets.append(("Trend", demand_trend(demand)))
    info = list((meta or {}).items())
    if params is not None:
        info += [("trainees_per_supervisor", params.trainees_per_supervisor),
                 ("places_when_blank", params.places_when_blank)]
        for name in SCENARIOS:
            sc = getattr(params.scenarios, name)
            info.append((f"scenario {name}", f"share {sc.share:g} of organisations answering "
                                             f"{', '.join(sc.willing)}"))
    info += [("streams", ", ".join(f"{s} = {STREAM_LABELS[s]}" for s in STREAMS))]
    return [write_atomic(path, lambda p: write_workbook(p, sheets, read_me=READ_ME, info=info), force=force)]
