"""The vocabulary and weights of a department's score: streams, choice codes, and ``candidate_weights.yaml``.

:func:`load_weights` is the one loader for ``candidate_weights.yaml`` (strict: unknown keys are errors,
each problem a ``key.path: problem`` line). The choice codes are those of the ``trust_capability`` return
(``instruments/trust_capability.v1.yaml``): stable across versions, because ids are never reused.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from trust_survey import settings
from trust_survey.errors import DefinitionError, NotFoundError
from trust_survey.common.problems import problem_lines
from trust_survey.common.yamlfile import read_yaml

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

WEIGHTS_ENV = "TRUST_SURVEY_WEIGHTS"
DEFAULT_WEIGHTS = settings.PACKAGE_DATA / "candidate_weights.yaml"


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
        problems = problem_lines(exc, allowed=_allowed_keys)
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
