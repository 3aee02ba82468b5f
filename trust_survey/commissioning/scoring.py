"""Rank candidate training departments per STP stream, with every component of the score shown.

Stages (DataFrames in, DataFrames out; no paths, no printing):

- :func:`trust_survey.commissioning.weights.load_weights` reads the weights (strict: unknown keys are errors).
- :func:`trust_survey.commissioning.departments.link_staff` joins each staff row to a department of its own
  organisation by name; rows that name no listed department are kept and flagged ``unlisted``.
- :func:`score_departments` gives one row per (department, stream): the facts, the points of each
  component, the total, the rank within the stream and a plain-English ``reasons`` string. Every
  department appears, in every stream, including those with no relevant staff (score 0, and why).

Inputs use the return's item ids (see ``instruments/trust_capability.v1.yaml``); choice answers may be the
numeric choice value or its code (``will_gen`` 1 or ``"ready"``).
"""
from __future__ import annotations

import logging
import math
import re
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from trust_survey.commissioning.departments import with_dept_keys, link_staff
from trust_survey.commissioning.weights import (HOSTING, PARTNER_TYPES, REGISTERED, REGISTRATION, STREAM_CODES,
                                                STREAM_LABELS, STREAMS, WILLINGNESS, Weights)
from trust_survey.common.values import is_blank

log = logging.getLogger(__name__)

COMPONENTS = ("staff", "supervision", "willingness", "capacity", "hosting", "partners", "isolation")
POINT_COLUMNS = [f"pts_{c}" for c in COMPONENTS]

#: Columns of :func:`score_departments`, in order.
CANDIDATE_COLUMNS = [
    "stream", "rank", "total", "org_code", "org_name", "dept_name", "dept_type", "dept_listed",
    "region_code", "region_name", "icb_code", "icb_name",
    *POINT_COLUMNS,
    "direct_headcount", "direct_wte", "adjacent_headcount", "adjacent_wte", "review_rows",
    "supervisors_registered", "supervisors_other", "willingness", "places", "hosting", "hosts_stream",
    "university_partners", "institute_partners", "staff_rows", "fuzzy_linked_rows",
    "reasons", "dept_postcode", "lat", "lon", "dept_key",
]


def choice_code(value: Any, mapping: dict[int, str]) -> str | None:
    """A choice answer as its code: accepts the numeric value (1, 1.0, "1") or the code itself."""
    if is_blank(value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return mapping.get(int(value)) if float(value).is_integer() else None
    text = str(value).strip().casefold()
    if re.fullmatch(r"\d+(\.0+)?", text):
        return mapping.get(int(float(text)))
    return text if text in mapping.values() else None


def numbers(series: pd.Series | None, n: int) -> np.ndarray:
    if series is None:
        return np.full(n, np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def column(df: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
    if name in df.columns:
        return df[name]
    return pd.Series([default] * len(df), index=df.index, dtype=object)


def _flag(value: Any) -> bool:
    if is_blank(value):
        return False
    if isinstance(value, str):
        return value.strip().casefold() in ("1", "1.0", "true", "yes", "y", "x")
    try:
        return float(value) == 1.0
    except (TypeError, ValueError):
        return bool(value)


def _staff_aggregates(staff: pd.DataFrame, w: Weights) -> pd.DataFrame:
    """Per (dept_key, stream): raw counts and the weighted amounts the points come from."""
    cols = ["dept_key", "stream", "direct_headcount", "direct_wte", "adjacent_headcount", "adjacent_wte",
            "review_rows", "supervisors_registered", "supervisors_other", "eff_wte", "eff_supervisors", "team"]
    if staff.empty:
        return pd.DataFrame(columns=cols)
    s = pd.DataFrame({
        "dept_key": staff["dept_key"].astype(str).to_numpy(),
        "stream": column(staff, "stream").astype(object).to_numpy(),
        "relation": column(staff, "relation").astype(object).to_numpy(),
        "decision": column(staff, "decision", "auto").astype(object).to_numpy(),
    })
    n = len(s)
    head = np.nan_to_num(numbers(column(staff, "headcount"), n))
    wte = numbers(column(staff, "wte"), n)
    wte = np.where(np.isnan(wte), head, wte)
    sup = np.nan_to_num(numbers(column(staff, "supervisors"), n))
    reg = np.array([choice_code(v, REGISTRATION) in REGISTERED for v in column(staff, "registration")], dtype=bool)
    rel_factor = s["relation"].map({"direct": w.relation.direct, "adjacent": w.relation.adjacent}).astype(float)
    dec_factor = s["decision"].map({"auto": w.decision.auto, "review": w.decision.review}).astype(float)
    keep = s["stream"].isin(STREAMS) & rel_factor.notna() & dec_factor.notna()
    factor = (rel_factor * dec_factor).fillna(0.0).to_numpy()
    direct = (s["relation"] == "direct").to_numpy()
    s["direct_headcount"] = np.where(direct, head, 0.0)
    s["direct_wte"] = np.where(direct, wte, 0.0)
    s["adjacent_headcount"] = np.where(~direct, head, 0.0)
    s["adjacent_wte"] = np.where(~direct, wte, 0.0)
    s["review_rows"] = (s["decision"] == "review").astype(int)
    s["supervisors_registered"] = np.where(reg, sup, 0.0)
    s["supervisors_other"] = np.where(reg, 0.0, sup)
    s["eff_wte"] = wte * factor
    reg_factor = np.where(reg, w.registration.registered, w.registration.unregistered)
    s["eff_supervisors"] = sup * factor * reg_factor
    s["team"] = head
    s = s[keep.to_numpy()]
    if s.empty:
        return pd.DataFrame(columns=cols)
    return s.groupby(["dept_key", "stream"], as_index=False)[cols[2:]].sum()


def _partner_counts(partners: pd.DataFrame | None, w: Weights) -> pd.DataFrame:
    cols = ["org_code", "university_partners", "institute_partners", "partner_units"]
    if partners is None or partners.empty or "org_code" not in partners.columns:
        return pd.DataFrame(columns=cols)
    kinds = [choice_code(v, PARTNER_TYPES) for v in column(partners, "partner_type")]
    named = ~column(partners, "partner_name").map(is_blank).to_numpy(dtype=bool) if "partner_name" in partners else True
    p = pd.DataFrame({"org_code": partners["org_code"].astype(str).to_numpy(), "kind": kinds})
    p = p[named] if not isinstance(named, bool) else p
    p["university_partners"] = (p["kind"] == "university").astype(int)
    p["institute_partners"] = (p["kind"] == "institute").astype(int)
    weights = w.partners.model_dump()
    p["partner_units"] = p["kind"].map(lambda k: weights.get(k, 0.0) if k else 0.0).astype(float)
    return p.groupby("org_code", as_index=False)[cols[1:]].sum()


def _capacity_long(capacity: pd.DataFrame | None) -> pd.DataFrame:
    """Per (org_code, stream): willingness code and stated places."""
    rows = []
    if capacity is not None and not capacity.empty and "org_code" in capacity.columns:
        cap = capacity.drop_duplicates("org_code", keep="last")
        for stream, code in STREAM_CODES.items():
            will = [choice_code(v, WILLINGNESS) for v in column(cap, f"will_{code}")]
            places = numbers(column(cap, f"places_{code}"), len(cap))
            rows.append(pd.DataFrame({"org_code": cap["org_code"].astype(str).to_numpy(), "stream": stream,
                                      "willingness": will, "places": places}))
    if not rows:
        return pd.DataFrame(columns=["org_code", "stream", "willingness", "places"])
    return pd.concat(rows, ignore_index=True)


def _factor(model: BaseModel, code: Any) -> float:
    return float(getattr(model, code)) if isinstance(code, str) and code in type(model).model_fields else 0.0


def _saturate(amount: np.ndarray, full_at: float) -> np.ndarray:
    return np.clip(np.nan_to_num(amount) / full_at, 0.0, 1.0)


def _fmt(x: float) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "?"
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.1f}"


def _people(n: float) -> str:
    return f"{_fmt(n)} {'person' if n == 1 else 'people'}"


_WILL_TEXT = {
    "ready": "is ready to host {s} trainees now",
    "support": "would host {s} trainees with support or funding",
    "maybe": "might host {s} trainees and would like to discuss it",
    "no": "does not want to host {s} trainees",
}
_HOST_TEXT = {"now": "hosts STP trainees now", "past": "has hosted STP trainees",
              "never": "has never hosted STP trainees"}


def _reasons(r: dict, w: Weights) -> str:
    c = w.components
    s = STREAM_LABELS[r["stream"]]
    parts = []
    if not r["dept_listed"]:
        parts.append(f"not on the Departments sheet: named only by {_fmt(r['staff_rows'])} staff row(s)")
    elif r["fuzzy_linked_rows"]:
        parts.append(f"{_fmt(r['fuzzy_linked_rows'])} staff row(s) naming it differently were linked by similar name")
    if not r["relevant"]:
        parts.append(f"score 0: no staff here matched to {s}, so willingness, hosting and partners are not counted")
        return "; ".join(parts)
    staff = (f"staff {_fmt(r['pts_staff'])}/{_fmt(c.staff.weight)}: {_fmt(r['direct_wte'])} WTE "
             f"({_people(r['direct_headcount'])}) matched directly to {s}")
    if r["adjacent_headcount"]:
        staff += f", {_fmt(r['adjacent_wte'])} WTE ({_people(r['adjacent_headcount'])}) in adjacent roles"
    if r["review_rows"]:
        staff += f"; {_fmt(r['review_rows'])} row(s) await title review and count {w.decision.review:g}"
    parts.append(staff)
    if r["supervisors_registered"] or r["supervisors_other"]:
        parts.append(f"supervision {_fmt(r['pts_supervision'])}/{_fmt(c.supervision.weight)}: "
                     f"{_fmt(r['supervisors_registered'])} registered and {_fmt(r['supervisors_other'])} "
                     "unregistered staff could supervise")
    else:
        parts.append(f"supervision 0/{_fmt(c.supervision.weight)}: nobody listed who could supervise")
    will = r["willingness"]
    will_text = _WILL_TEXT[will].format(s=s) if will else f"did not say whether it would host {s} trainees"
    parts.append(f"willingness {_fmt(r['pts_willingness'])}/{_fmt(c.willingness.weight)}: the organisation {will_text}")
    if math.isnan(r["places"]):
        cap = "no number of places stated"
    elif will in (None, "no"):
        cap = f"{_fmt(r['places'])} place(s) stated but not willing, so not counted"
    else:
        cap = f"up to {_fmt(r['places'])} place(s) a year stated"
    parts.append(f"capacity {_fmt(r['pts_capacity'])}/{_fmt(c.capacity.weight)}: {cap}")
    host = r["hosting"]
    if host in ("now", "past"):
        where = "in this stream" if r["hosts_stream"] else "(stream not this one or not stated)"
        host_text = f"{_HOST_TEXT[host]} {where}"
    else:
        host_text = _HOST_TEXT["never"] if host == "never" else "hosting history not given"
    parts.append(f"hosting {_fmt(r['pts_hosting'])}/{_fmt(c.hosting.weight)}: department {host_text}")
    uni, inst = r["university_partners"], r["institute_partners"]
    if uni or inst:
        partner_text = f"{_fmt(uni)} university and {_fmt(inst)} research institute partner(s)"
    else:
        partner_text = "no university or research partners listed"
    parts.append(f"partners {_fmt(r['pts_partners'])}/{_fmt(c.partners.weight)}: {partner_text}")
    if r["pts_isolation"]:
        parts.append(f"isolation {_fmt(r['pts_isolation'])}: only {_people(r['team'])} in {s} here, "
                     "a lone specialist is a risk for a trainee")
    else:
        parts.append(f"isolation 0: a team of {_people(r['team'])} in {s}")
    return "; ".join(parts)


def score_departments(departments: pd.DataFrame, staff_matched: pd.DataFrame, capacity: pd.DataFrame | None,
                      partners: pd.DataFrame | None, weights: Weights) -> pd.DataFrame:
    """One row per (department, stream) with every component, the total, the rank and the reasons.

    In:
      - departments: ``org_code``, ``dept_name`` and optionally ``dept_type``, ``dept_postcode``,
        ``dept_hosting`` (1 now, 2 past, 3 never), ``dept_streams__gen``/``__hi``/``__ps`` (1 when
        ticked), ``org_name``, ``region_code``/``region_name``/``icb_code``/``icb_name``, ``lat``/``lon``.
      - staff_matched: staff rows with ``org_code``, ``staff_dept``, ``headcount``, ``wte``,
        ``registration``, ``supervisors`` and the matcher's ``stream``, ``relation`` (direct/adjacent) and
        ``decision`` (auto/review/none); :func:`link_staff` is applied first unless ``dept_key`` is present.
      - capacity: one row per organisation with ``will_gen``/``will_hi``/``will_ps`` and ``places_*``.
      - partners: ``org_code``, ``partner_name``, ``partner_type``.
    Out: :data:`CANDIDATE_COLUMNS`, sorted by stream then rank. Departments named only on staff rows
    appear with ``dept_listed`` False; departments with no staff matched to a stream score 0 there, with
    the reason. Nothing is dropped.
    """
    w = weights
    deps = with_dept_keys(departments)
    staff = staff_matched if staff_matched is not None else pd.DataFrame(columns=["org_code", "staff_dept"])
    if "dept_key" not in staff.columns:
        staff = link_staff(deps, staff, threshold=w.department_matching.threshold,
                           margin=w.department_matching.margin)
    deps["dept_listed"] = True

    # Departments named only on staff rows become departments of their own.
    if len(staff):
        unlisted = staff[staff["link_method"] == "unlisted"]
        if len(unlisted):
            extra = (unlisted.groupby("dept_key", sort=False)
                     .agg(org_code=("org_code", "first"), dept_name=("linked_dept_name", "first"))
                     .reset_index())
            extra["dept_listed"] = False
            org_cols = [c for c in ("org_name", "region_code", "region_name", "icb_code", "icb_name", "lat", "lon")
                        if c in deps.columns]
            if org_cols:
                org_info = deps.groupby("org_code", as_index=False)[org_cols].first()
                extra = extra.merge(org_info, on="org_code", how="left")
            deps = pd.concat([deps, extra], ignore_index=True)

    link_counts = pd.DataFrame({"dept_key": staff["dept_key"].astype(str) if len(staff) else pd.Series(dtype=str),
                                "fuzzy": (staff["link_method"] == "fuzzy").astype(int) if len(staff) else []})
    link_counts = link_counts.groupby("dept_key").agg(staff_rows=("fuzzy", "size"), fuzzy_linked_rows=("fuzzy", "sum"))

    n_dep = len(deps)
    base = pd.DataFrame({
        "dept_key": deps["dept_key"].astype(str).to_numpy(),
        "org_code": deps["org_code"].astype(str).to_numpy(),
        "org_name": column(deps, "org_name", "").to_numpy(),
        "dept_name": deps["dept_name"].to_numpy(),
        "dept_type": column(deps, "dept_type").to_numpy(),
        "dept_listed": deps["dept_listed"].astype(bool).to_numpy(),
        "region_code": column(deps, "region_code").to_numpy(),
        "region_name": column(deps, "region_name").to_numpy(),
        "icb_code": column(deps, "icb_code").to_numpy(),
        "icb_name": column(deps, "icb_name").to_numpy(),
        "dept_postcode": column(deps, "dept_postcode").to_numpy(),
        "lat": numbers(column(deps, "lat"), n_dep),
        "lon": numbers(column(deps, "lon"), n_dep),
        "hosting": [choice_code(v, HOSTING) for v in column(deps, "dept_hosting")],
    })
    stream_flags = {s: [_flag(v) for v in column(deps, f"dept_streams__{code}")] for s, code in STREAM_CODES.items()}
    frames = []
    for s in STREAMS:
        f = base.copy()
        f["stream"] = s
        f["hosts_stream"] = stream_flags[s]
        frames.append(f)
    df = pd.concat(frames, ignore_index=True)

    agg = _staff_aggregates(staff, w) if len(staff) else _staff_aggregates(pd.DataFrame(), w)
    df = df.merge(agg, on=["dept_key", "stream"], how="left")
    df = df.merge(link_counts, left_on="dept_key", right_index=True, how="left")
    df = df.merge(_capacity_long(capacity), on=["org_code", "stream"], how="left")
    df = df.merge(_partner_counts(partners, w), on="org_code", how="left")
    zero_cols = ["direct_headcount", "direct_wte", "adjacent_headcount", "adjacent_wte", "review_rows",
                 "supervisors_registered", "supervisors_other", "eff_wte", "eff_supervisors", "team",
                 "staff_rows", "fuzzy_linked_rows", "university_partners", "institute_partners", "partner_units"]
    for col in zero_cols:
        df[col] = pd.to_numeric(df[col], errors="coerce").fillna(0.0).astype(float)
    df["places"] = pd.to_numeric(df["places"], errors="coerce").astype(float)
    df["willingness"] = pd.Series([v if isinstance(v, str) else None for v in df["willingness"]], index=df.index,
                                  dtype=object)
    df["hosting"] = pd.Series([v if isinstance(v, str) else None for v in df["hosting"]], index=df.index, dtype=object)

    c = w.components
    relevant = (df["team"] > 0).to_numpy()
    will_factor = np.array([_factor(w.willingness, v) for v in df["willingness"]], dtype=float)
    host_factor = np.array([_factor(w.hosting, v) for v in df["hosting"]], dtype=float)
    host_factor = host_factor * np.where(df["hosts_stream"].to_numpy(dtype=bool), 1.0, w.hosting.other_stream)
    willing = will_factor > 0
    pts = {
        "staff": c.staff.weight * _saturate(df["eff_wte"].to_numpy(), c.staff.full_at),
        "supervision": c.supervision.weight * _saturate(df["eff_supervisors"].to_numpy(), c.supervision.full_at),
        "willingness": c.willingness.weight * will_factor,
        "capacity": c.capacity.weight * np.where(willing, _saturate(df["places"].to_numpy(), c.capacity.full_at), 0),
        "hosting": c.hosting.weight * host_factor,
        "partners": c.partners.weight * _saturate(df["partner_units"].to_numpy(), c.partners.full_at),
        "isolation": np.where((df["team"] > 0) & (df["team"] < w.isolation.min_team), -w.isolation.penalty, 0.0),
    }
    for name, values in pts.items():
        df[f"pts_{name}"] = np.round(np.where(relevant, values, 0.0), 1) + 0.0
    df["relevant"] = relevant
    df["total"] = np.round(np.clip(df[POINT_COLUMNS].sum(axis=1).to_numpy(), 0, None), 1)
    df = df.sort_values(["stream", "total", "eff_wte", "org_code", "dept_name"],
                        ascending=[True, False, False, True, True], kind="stable")
    df["rank"] = df.groupby("stream")["total"].rank(method="min", ascending=False).astype(int)
    df["reasons"] = [_reasons(r, w) for r in df.to_dict("records")]
    df["stream"] = pd.Categorical(df["stream"], categories=list(STREAMS), ordered=True)
    df = df.sort_values(["stream", "rank", "org_code", "dept_name"], kind="stable")
    df["stream"] = df["stream"].astype(str)
    return df[CANDIDATE_COLUMNS].reset_index(drop=True)
