"""Rank candidate training departments per STP stream, with every component of the score shown.

Stages (DataFrames in, DataFrames out; no paths, no printing):

- :func:`load_weights` is the one loader for ``candidate_weights.yaml`` (strict: unknown keys are errors).
- :func:`link_staff` joins each staff row to a department of its own organisation by name ("Med Phys"
  finds "Medical Physics"); rows that name no listed department are kept and flagged ``unlisted``.
- :func:`score_departments` gives one row per (department, stream): the facts, the points of each
  component, the total, the rank within the stream and a plain-English ``reasons`` string. Every
  department appears, in every stream, including those with no relevant staff (score 0, and why).

Inputs use the return's item ids (see ``instruments/trust_capability.v1.yaml``); choice answers may be the
numeric choice value or its code (``will_gen`` 1 or ``"ready"``).
"""
from __future__ import annotations

import functools
import logging
import math
import os
import re
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trust_survey import settings
from trust_survey.errors import DefinitionError, InputFileError, NotFoundError, did_you_mean
from trust_survey.common.values import is_blank
from trust_survey.common.yamlfile import read_yaml

log = logging.getLogger(__name__)

STREAMS = ("genomics", "health_informatics", "physical_sciences")
STREAM_CODES = {"genomics": "gen", "health_informatics": "hi", "physical_sciences": "ps"}
STREAM_LABELS = {"genomics": "genomics", "health_informatics": "health informatics",
                 "physical_sciences": "physical sciences"}

# Choice values of the trust_capability return (stable across versions: ids are never reused).
WILLINGNESS = {1: "ready", 2: "support", 3: "maybe", 4: "no"}
HOSTING = {1: "now", 2: "past", 3: "never"}
REGISTRATION = {1: "hcpc", 2: "ahcs", 3: "both", 4: "towards", 5: "none"}
REGISTERED = {"hcpc", "ahcs", "both"}
PARTNER_TYPES = {1: "university", 2: "institute", 3: "company", 4: "nhs", 5: "other"}

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

#: Columns :func:`link_staff` adds to the staff rows.
LINK_COLUMNS = ["dept_key", "linked_dept_name", "link_method", "link_score"]

WEIGHTS_ENV = "TRUST_SURVEY_WEIGHTS"
DEFAULT_WEIGHTS = settings.PACKAGE_DATA / "candidate_weights.yaml"


# ---------------------------------------------------------------------------------------------- weights
class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Component(_Strict):
    weight: float = Field(ge=0, le=1000)
    full_at: float | None = Field(default=None, gt=0)


class Components(_Strict):
    staff: Component
    supervision: Component
    willingness: Component
    capacity: Component
    hosting: Component
    partners: Component

    @model_validator(mode="after")
    def _saturation(self) -> "Components":
        missing = [n for n in ("staff", "supervision", "capacity", "partners") if getattr(self, n).full_at is None]
        if missing:
            raise ValueError(f"'full_at' is required for {', '.join(missing)} (the amount that earns full points)")
        return self


Factor = Field(ge=0, le=1)


class Relation(_Strict):
    direct: float = Factor
    adjacent: float = Factor

    @model_validator(mode="after")
    def _order(self) -> "Relation":
        if self.adjacent > self.direct:
            raise ValueError(f"adjacent ({self.adjacent}) must not count more than direct ({self.direct})")
        return self


class Decision(_Strict):
    auto: float = Factor
    review: float = Factor


class Registration(_Strict):
    registered: float = Factor
    unregistered: float = Factor


class Willingness(_Strict):
    ready: float = Factor
    support: float = Factor
    maybe: float = Factor
    no: float = Factor


class Hosting(_Strict):
    now: float = Factor
    past: float = Factor
    never: float = Factor
    other_stream: float = Factor


class Partners(_Strict):
    university: float = Factor
    institute: float = Factor
    company: float = Factor
    nhs: float = Factor
    other: float = Factor


class Isolation(_Strict):
    min_team: int = Field(ge=1, le=50)
    penalty: float = Field(ge=0, le=1000)


class DepartmentMatching(_Strict):
    threshold: float = Field(ge=50, le=100)
    margin: float = Field(ge=0, le=50)


WillingCode = Literal["ready", "support", "maybe", "no"]


class Scenario(_Strict):
    share: float = Factor
    willing: list[WillingCode] = Field(min_length=1)


class Scenarios(_Strict):
    low: Scenario
    central: Scenario
    high: Scenario

    @model_validator(mode="after")
    def _order(self) -> "Scenarios":
        if not self.low.share <= self.central.share <= self.high.share:
            raise ValueError(f"shares must rise from low to high (found {self.low.share}, {self.central.share}, "
                             f"{self.high.share})")
        return self


class DemandParams(_Strict):
    trainees_per_supervisor: float = Field(gt=0, le=10)
    places_when_blank: float = Field(ge=0, le=20)
    scenarios: Scenarios


class Weights(_Strict):
    version: int = Field(ge=1)
    description: str | None = None
    components: Components
    relation: Relation
    decision: Decision
    registration: Registration
    willingness: Willingness
    hosting: Hosting
    partners: Partners
    isolation: Isolation
    department_matching: DepartmentMatching
    demand: DemandParams

    def summary(self) -> list[tuple[str, Any]]:
        """(dotted key, value) for every setting, for a "Weights" sheet next to the results."""
        out: list[tuple[str, Any]] = []

        def walk(prefix: str, value: Any) -> None:
            if isinstance(value, dict):
                for key, sub in value.items():
                    walk(f"{prefix}.{key}" if prefix else str(key), sub)
            elif isinstance(value, list):
                out.append((prefix, ", ".join(map(str, value))))
            elif value is not None:
                out.append((prefix, value))

        walk("", self.model_dump())
        return out


def _allowed_keys(loc: tuple) -> list[str]:
    cls: Any = Weights
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        field = getattr(cls, "model_fields", {}).get(key)
        if field is None:
            return []
        ann = field.annotation
        cls = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        if cls is None:
            return []
    return list(getattr(cls, "model_fields", {}))


def _problems(exc: ValidationError) -> list[str]:
    problems = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        where = ".".join(str(p) for p in loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            problems.append(f"{where}: unknown key{did_you_mean(str(loc[-1]), _allowed_keys(loc))}")
        elif err["type"] == "missing":
            problems.append(f"{where}: required key is missing")
        elif err["type"] == "literal_error":
            options = re.findall(r"'([^']+)'", err.get("ctx", {}).get("expected", ""))
            problems.append(f"{where}: {err.get('input')!r} is not one of {', '.join(options)}"
                            f"{did_you_mean(str(err.get('input')), options)}")
        else:
            msg = err["msg"].removeprefix("Value error, ")
            if isinstance(err.get("input"), bool):
                msg += " (YAML reads a bare yes/no/on/off as true/false: put it in quotes)"
            problems.append(f"{where}: {msg}")
    return problems


def parse_weights(raw: Any, source: str = "<weights>") -> Weights:
    """Validate a parsed YAML mapping; DefinitionError lists every problem as ``source: key: problem``."""
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: the weights file must be a mapping of keys",
                              details=[f"{source}: (top level): expected a mapping, found {type(raw).__name__}"])
    # YAML 1.1 reads a bare `no:` key as False; accept it as the choice code it obviously is.
    will = raw.get("willingness")
    if isinstance(will, dict) and False in will:
        will = dict(will)
        will["no"] = will.pop(False)
        raw = {**raw, "willingness": will}
    try:
        return Weights.model_validate(raw)
    except ValidationError as exc:
        problems = _problems(exc)
        raise DefinitionError(f"{source}: {len(problems)} problem(s) in the weights file",
                              details=[f"{source}: {p}" for p in problems]) from None


def default_weights_path() -> Path:
    """``$TRUST_SURVEY_WEIGHTS``, else ``./candidate_weights.yaml`` if present, else the shipped file."""
    env = os.environ.get(WEIGHTS_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    local = Path.cwd() / "candidate_weights.yaml"
    return local if local.exists() else DEFAULT_WEIGHTS


@functools.lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple) -> Weights:
    p = Path(path)
    return parse_weights(read_yaml(p, "weights"), str(p))


def load_weights(path: Path | str | None = None) -> Weights:
    """Load and strictly check a weights file (default: :func:`default_weights_path`); cached until it changes."""
    p = Path(path) if path is not None else default_weights_path()
    try:
        st = p.stat()
    except FileNotFoundError:
        raise NotFoundError(f"{p}: no such weights file; omit --weights to use the shipped "
                            f"{DEFAULT_WEIGHTS.name}") from None
    return _cached(str(p.resolve()), (st.st_mtime_ns, st.st_size))


# ------------------------------------------------------------------------------------------ department names
_ABBREVIATIONS = {
    "med": "medical", "phys": "physics", "physx": "physics", "sci": "science", "sciences": "science",
    "scientific": "science", "eng": "engineering", "engg": "engineering", "engineer": "engineering",
    "info": "informatics", "inf": "informatics", "comp": "computing", "computer": "computing",
    "lab": "laboratory", "labs": "laboratory", "laboratories": "laboratory", "svc": "service",
    "svcs": "service", "services": "service", "bioinf": "bioinformatics", "genetic": "genetics",
    "genomic": "genomics", "clin": "clinical", "dev": "development", "r": "research", "d": "development",
    "rd": "research development", "mgmt": "management", "it": "it",
}
_DROP = {"department", "dept", "of", "the", "and", "for", "team", "nhs"}
_WORD = re.compile(r"[a-z0-9]+")


def normalise_department(name: Any) -> str:
    """Department name reduced for comparison: lower case, abbreviations expanded, filler words dropped.

    ``"Dept. of Med Physics"``, ``"Medical Physics"`` and ``"medical  physics"`` all become
    ``"medical physics"``.
    """
    if is_blank(name):
        return ""
    words: list[str] = []
    for word in _WORD.findall(str(name).casefold().replace("&", " and ")):
        for part in _ABBREVIATIONS.get(word, word).split():
            if part not in _DROP:
                words.append(part)
    return " ".join(words)


def _casefold(name: Any) -> str:
    return "" if is_blank(name) else " ".join(str(name).split()).casefold()


def _with_dept_keys(departments: pd.DataFrame) -> pd.DataFrame:
    deps = departments.reset_index(drop=True).copy()
    _require(deps, ["org_code", "dept_name"], "departments")
    if "dept_key" not in deps.columns:
        deps["dept_key"] = [f"{org}#{i + 1}" for i, org in enumerate(deps["org_code"].astype(str))]
    return deps


def link_staff(departments: pd.DataFrame, staff: pd.DataFrame, *, threshold: float = 85,
               margin: float = 5) -> pd.DataFrame:
    """Each staff row with the department of its own organisation that its ``staff_dept`` names.

    In: departments (``org_code``, ``dept_name``, optional ``dept_key``) and staff rows (``org_code``,
    ``staff_dept``). Out: the staff rows, same order, plus :data:`LINK_COLUMNS`. ``link_method`` is
    ``exact`` (same text ignoring case and spacing), ``normalised`` (same after expanding abbreviations:
    "Med Physics" and "Medical Physics"), ``fuzzy`` (rapidfuzz WRatio at least ``threshold`` and ``margin``
    ahead of the next department) or ``unlisted`` (no department of that organisation fits; the row gets
    a department key of its own, ``<org>#unlisted:<name>``, so it is never dropped).
    """
    from rapidfuzz import fuzz, process

    deps = _with_dept_keys(departments)
    rows = staff.reset_index(drop=True).copy()
    _require(rows, ["org_code", "staff_dept"], "staff")
    by_org: dict[str, list[tuple[str, str, str, str]]] = {}
    for org, key, name in zip(deps["org_code"].astype(str), deps["dept_key"], deps["dept_name"]):
        by_org.setdefault(org, []).append((key, "" if is_blank(name) else str(name), _casefold(name),
                                           normalise_department(name)))

    cache: dict[tuple[str, str], tuple[str, str, str, float]] = {}

    def link(org: str, typed: Any) -> tuple[str, str, str, float]:
        folded = _casefold(typed)
        hit = cache.get((org, folded))
        if hit:
            return hit
        options = by_org.get(org, [])
        norm = normalise_department(typed)
        result = None
        exact = [o for o in options if folded and o[2] == folded]
        if len(exact) == 1:
            result = (exact[0][0], exact[0][1], "exact", 100.0)
        if result is None and norm:
            same = [o for o in options if o[3] == norm]
            if len(same) == 1:
                result = (same[0][0], same[0][1], "normalised", 100.0)
        if result is None and norm and options:
            scored = process.extract(norm, [o[3] for o in options], scorer=fuzz.WRatio, limit=2)
            best = scored[0]
            runner_up = scored[1][1] if len(scored) > 1 else 0.0
            if best[1] >= threshold and best[1] - runner_up >= margin:
                o = options[best[2]]
                result = (o[0], o[1], "fuzzy", round(float(best[1]), 1))
        if result is None:
            label = norm or folded or "(blank)"
            result = (f"{org}#unlisted:{label}", "" if is_blank(typed) else " ".join(str(typed).split()),
                      "unlisted", 0.0)
        cache[(org, folded)] = result
        return result

    linked = [link(str(o), t) for o, t in zip(rows["org_code"], rows["staff_dept"])]
    for i, col in enumerate(LINK_COLUMNS):
        rows[col] = [x[i] for x in linked]
    rows["link_score"] = rows["link_score"].astype(float)
    return rows


# ---------------------------------------------------------------------------------------------- scoring
def _require(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputFileError(f"{what}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")


def _code(value: Any, mapping: dict[int, str]) -> str | None:
    """A choice answer as its code: accepts the numeric value (1, 1.0, "1") or the code itself."""
    if is_blank(value):
        return None
    if isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool):
        return mapping.get(int(value)) if float(value).is_integer() else None
    text = str(value).strip().casefold()
    if re.fullmatch(r"\d+(\.0+)?", text):
        return mapping.get(int(float(text)))
    return text if text in mapping.values() else None


def _num(series: pd.Series | None, n: int) -> np.ndarray:
    if series is None:
        return np.full(n, np.nan)
    return pd.to_numeric(series, errors="coerce").to_numpy(dtype=float)


def _col(df: pd.DataFrame, name: str, default: Any = None) -> pd.Series:
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
        "stream": _col(staff, "stream").astype(object).to_numpy(),
        "relation": _col(staff, "relation").astype(object).to_numpy(),
        "decision": _col(staff, "decision", "auto").astype(object).to_numpy(),
    })
    n = len(s)
    head = np.nan_to_num(_num(_col(staff, "headcount"), n))
    wte = _num(_col(staff, "wte"), n)
    wte = np.where(np.isnan(wte), head, wte)
    sup = np.nan_to_num(_num(_col(staff, "supervisors"), n))
    reg = np.array([_code(v, REGISTRATION) in REGISTERED for v in _col(staff, "registration")], dtype=bool)
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
    kinds = [_code(v, PARTNER_TYPES) for v in _col(partners, "partner_type")]
    named = ~_col(partners, "partner_name").map(is_blank).to_numpy(dtype=bool) if "partner_name" in partners else True
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
            will = [_code(v, WILLINGNESS) for v in _col(cap, f"will_{code}")]
            places = _num(_col(cap, f"places_{code}"), len(cap))
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
    deps = _with_dept_keys(departments)
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
        "org_name": _col(deps, "org_name", "").to_numpy(),
        "dept_name": deps["dept_name"].to_numpy(),
        "dept_type": _col(deps, "dept_type").to_numpy(),
        "dept_listed": deps["dept_listed"].astype(bool).to_numpy(),
        "region_code": _col(deps, "region_code").to_numpy(),
        "region_name": _col(deps, "region_name").to_numpy(),
        "icb_code": _col(deps, "icb_code").to_numpy(),
        "icb_name": _col(deps, "icb_name").to_numpy(),
        "dept_postcode": _col(deps, "dept_postcode").to_numpy(),
        "lat": _num(_col(deps, "lat"), n_dep),
        "lon": _num(_col(deps, "lon"), n_dep),
        "hosting": [_code(v, HOSTING) for v in _col(deps, "dept_hosting")],
    })
    stream_flags = {s: [_flag(v) for v in _col(deps, f"dept_streams__{code}")] for s, code in STREAM_CODES.items()}
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


# ---------------------------------------------------------------------------------------------- writers
READ_ME = [
    "Candidate training departments, one row per department and STP stream, ranked within each stream.",
    "total = sum of the pts_ columns (never below 0). Each pts_ column is one component; the weights sheet "
    "shows the settings that produced them.",
    "reasons explains every component in words. A department with no staff matched to a stream scores 0 "
    "there and says so; no department is left out.",
    "dept_listed = FALSE: the department was named on the Staff sheet but not on the Departments sheet.",
    "Staff links lists every staff row and the department it was joined to (exact, normalised, fuzzy or "
    "unlisted), so a doubtful join can be checked.",
]


def write_candidates(scores: pd.DataFrame, path: Path | str, *, staff_links: pd.DataFrame | None = None,
                     weights: Weights | None = None, force: bool = False, meta: dict | None = None) -> list[Path]:
    """Write candidates to ``.xlsx`` (sheets Read me, one per stream, All, Staff links, Weights) or ``.csv``
    (with ``<stem>_staff_links.csv`` beside it). Text typed by trusts is neutralised so it never runs as a
    formula. Returns the paths written."""
    from trust_survey.atomic import check_writable, write_atomic

    path = Path(path)
    suffix = path.suffix.casefold()
    if suffix not in (".xlsx", ".csv"):
        raise InputFileError(f"{path}: cannot write '{path.suffix or '(no extension)'}'; use .xlsx or .csv for --out")
    if suffix == ".csv":
        links_path = path.with_name(f"{path.stem}_staff_links.csv")
        check_writable(path, force)
        if staff_links is not None:
            check_writable(links_path, force)
        written = [write_atomic(path, lambda p: _csv(scores, p), force=force)]
        if staff_links is not None:
            written.append(write_atomic(links_path, lambda p: _csv(staff_links, p), force=force))
        return written

    sheets: list[tuple[str, pd.DataFrame]] = []
    for s in STREAMS:
        sheets.append((STREAM_LABELS[s].capitalize(), scores[scores["stream"] == s]))
    sheets.append(("All", scores))
    if staff_links is not None:
        sheets.append(("Staff links", staff_links))
    info = [(k, v) for k, v in (meta or {}).items()]
    info += [("weights." + k, v) for k, v in (weights.summary() if weights else [])]

    def write(p: Path) -> None:
        write_workbook(p, sheets, read_me=READ_ME, info=info)

    return [write_atomic(path, write, force=force)]


def _csv(df: pd.DataFrame, path: Path) -> None:
    from trust_survey.writers import write_csv

    write_csv(path, df, force=True)


def write_workbook(path: Path, sheets: list[tuple[str, pd.DataFrame]], *, read_me: list[str] = (),
                   info: list[tuple[str, Any]] = ()) -> None:
    """A plain workbook: a Read me sheet, then one sheet per frame with a bold frozen header and filters.
    Every text cell goes through :func:`trust_survey.common.safe_text.write_text_cell`."""
    from openpyxl import Workbook

    from trust_survey.common.safe_text import write_frame_sheet, write_text_cell
    from trust_survey.writers import save_workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Read me"
    row = 1
    for line in read_me:
        write_text_cell(ws.cell(row=row, column=1), line)
        row += 1
    if info:
        row += 1
        for key, value in info:
            write_text_cell(ws.cell(row=row, column=1), str(key))
            write_text_cell(ws.cell(row=row, column=2), _cell_value(value))
            row += 1
    ws.column_dimensions["A"].width = 60
    for title, frame in sheets:
        write_frame_sheet(wb.create_sheet(title[:31]), frame, _cell_value,
                          width=lambda col: 60 if col == "reasons" else max(10, min(30, len(col) + 2)))
    save_workbook(wb, path, force=True)


def _cell_value(value: Any) -> Any:
    """Blank for missing values (never 0), plain Python numbers and text for everything else."""
    if value is None:
        return None
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else float(value)
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)
