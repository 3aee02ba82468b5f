"""The one loader for ``role_taxonomy.yaml``: streams, roles, department contexts, word lists, thresholds.

safe YAML loading first, then a strict model (unknown keys are errors), then checks that need the whole
file: duplicate role ids and names, unknown streams, an alias or key term claimed by two roles, exclusion
terms that normalise to nothing, thresholds out of order. Every problem is reported together as
``file: path.to.key: problem`` lines with a "did you mean" where a near miss exists, in a
:class:`~trust_survey.errors.DefinitionError` whose ``details`` hold the lines. Loading is cached until
the file changes.

Aliases may use braces for alternatives, so one line states a family of titles:
``"{clinical scientist|healthcare scientist} {genomics|genetics}"`` is four aliases. An empty alternative
makes a word optional: ``"{clinical |}bioinformatician"``.
"""
from __future__ import annotations

import functools
import hashlib
import itertools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trust_survey.common.problems import problem_lines
from trust_survey.errors import DefinitionError, InputFileError, did_you_mean
from trust_survey.matching.normalise import NormalisationTables, normalise_tokens, token_key
from trust_survey.common.yamlfile import parse_yaml
from trust_survey import settings

STREAMS = ("genomics", "health_informatics", "physical_sciences")
NONE = "none"
ALL_STREAMS = STREAMS + (NONE,)
ROLE_ID = r"^[a-z][a-z0-9_]{0,59}$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


class StreamModel(_Strict):
    name: str = Field(min_length=1)
    description: str = Field(min_length=1)
    exclusion_terms: list[str] = []


class RoleModel(_Strict):
    id: str = Field(pattern=ROLE_ID)
    name: str = Field(min_length=1, max_length=80)
    stream: str
    relation: Literal["direct", "adjacent", "none"]
    aliases: list[str] = []
    abbreviations: list[str] = []
    key_terms: list[str] = []
    exclusion_terms: list[str] = []
    ambiguous: bool = False
    note: str | None = None


class ContextModel(_Strict):
    id: str = Field(pattern=ROLE_ID)
    terms: list[str] = Field(min_length=1)
    supports: list[str] = []
    vetoes: list[str] = []
    note: str | None = None


class NormalisationModel(_Strict):
    abbreviations: dict[str, str] = {}
    spellings: dict[str, str] = {}
    phrases: dict[str, str] = {}
    seniority: list[str] = []
    stopwords: list[str] = []
    asides: list[str] = []
    bracket_asides: list[str] = []
    locations: list[str] = []
    neutral: list[str] = []
    employers: list[str] = []


class ThresholdsModel(_Strict):
    """When a title is coded without a person (auto), sent to review, or coded none."""

    auto_score: float = Field(ge=0, le=100)
    auto_margin: float = Field(ge=0, le=100)
    review_score: float = Field(ge=0, le=100)
    none_when_relevant_below: float = Field(ge=0, le=100)
    calibration: str | None = None


class ScoringModel(_Strict):
    """How a title and an alias are scored; see :mod:`trust_survey.matching.matcher`."""

    unknown_weight: float = Field(0.15, ge=0, le=1)
    neutral_weight: float = Field(0.15, ge=0, le=1)
    min_weight: float = Field(0.3, ge=0, le=1)
    stream_credit: float = Field(0.8, ge=0, le=1)
    alias_power: float = Field(2.0, ge=0.5, le=6)
    title_power: float = Field(1.0, ge=0.25, le=4)
    key_term_factor: float = Field(0.95, ge=0, le=1)
    context_factor: float = Field(0.97, ge=0, le=1)
    context_support_bonus: float = Field(5.0, ge=0, le=30)
    gap_factor: float = Field(0.85, ge=0, le=1)
    fuzzy_min: float = Field(90.0, ge=50, le=100)
    fuzzy_cap: float = Field(92.0, ge=50, le=100)
    typo_min_length: int = Field(6, ge=3, le=20)
    typo_cutoff: float = Field(87.0, ge=50, le=100)
    alternatives: int = Field(3, ge=0, le=10)


SECTIONS = ("version", "streams", "normalisation", "department_contexts", "decision", "scoring", "roles")


@dataclass(frozen=True)
class Role:
    id: str
    name: str
    stream: str
    relation: str
    ambiguous: bool = False
    note: str | None = None


@dataclass(frozen=True)
class Phrase:
    """One thing a title can match: a role's name, an alias, an abbreviation or a key term."""

    role_id: str
    text: str            # as written (after brace expansion)
    kind: str            # name, alias, abbreviation or key_term
    tokens: tuple[str, ...]
    key: str             # order-free token key


@dataclass(frozen=True)
class DepartmentContext:
    id: str
    terms: tuple[tuple[str, ...], ...]
    supports: tuple[str, ...]
    vetoes: tuple[str, ...]


@dataclass(frozen=True, eq=False)
class Taxonomy:
    """The compiled taxonomy: what the matcher, the review workbook and the CLI need."""

    path: Path
    version: int
    sha256: str
    streams: dict[str, StreamModel]
    roles: dict[str, Role]
    phrases: tuple[Phrase, ...]
    exclusions: dict[str, tuple[tuple[str, ...], ...]]  # role id -> token tuples that veto it
    contexts: tuple[DepartmentContext, ...]
    tables: NormalisationTables
    thresholds: ThresholdsModel
    scoring: ScoringModel
    _by_name: dict[str, str] = field(default_factory=dict, repr=False)

    def normalise(self, title: object) -> tuple[str, ...]:
        return normalise_tokens(title, self.tables)

    def role_by_name_or_id(self, value: str) -> Role | None:
        value = str(value).strip()
        if value in self.roles:
            return self.roles[value]
        rid = self._by_name.get(value.casefold())
        return self.roles[rid] if rid else None

    def role_choices(self) -> list[str]:
        return sorted(self.roles)


_BRACES = re.compile(r"\{([^{}]*)\}")


def expand_braces(text: str) -> list[str]:
    """``"{a|b} c"`` -> ``["a c", "b c"]``; an empty alternative drops the group."""
    parts = _BRACES.split(text)
    literals, groups = parts[0::2], [g.split("|") for g in parts[1::2]]
    out = []
    for combo in itertools.product(*groups) if groups else [()]:
        pieces = [literals[0]]
        for alt, lit in zip(combo, literals[1:]):
            pieces.extend([alt, lit])
        out.append(re.sub(r"\s+", " ", "".join(pieces)).strip())
    return out


def _brace_problem(text: str) -> str | None:
    depth = 0
    for ch in text:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0 or depth > 1:
            return "unbalanced or nested braces"
    return "unbalanced braces" if depth else None


class _Builder:
    """Collects problems while compiling; the caller raises once with all of them."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def problem(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")

    def section(self, raw: dict, key: str, model: type[_Strict], required: bool = False):
        value = raw.get(key)
        if value is None:
            if required:
                self.problem(key, "required key is missing")
                return None
            value = {}
        try:
            return model.model_validate(value)
        except ValidationError as exc:
            self.problems.extend(_structure_problems(exc, key, list(model.model_fields)))
            return None

    def tables(self, n: NormalisationModel) -> NormalisationTables:
        for section, mapping in (("abbreviations", n.abbreviations), ("spellings", n.spellings),
                                 ("phrases", n.phrases)):
            for key, value in mapping.items():
                if not re.fullmatch(r"[a-z0-9 ]+", key.lower().strip()):
                    self.problem(f"normalisation.{section}.{key}",
                                 "keys are words of letters and digits only")
                elif section != "phrases" and " " in key.strip():
                    self.problem(f"normalisation.{section}.{key}", "must be one word; put phrases under "
                                 "normalisation.phrases")
                if not str(value).strip() and section != "abbreviations":
                    self.problem(f"normalisation.{section}.{key}", "replacement is empty")
        return NormalisationTables.build(
            abbreviations=n.abbreviations, spellings=n.spellings, phrases=n.phrases, seniority=n.seniority,
            stopwords=n.stopwords, asides=n.asides, locations=n.locations, bracket_asides=n.bracket_asides,
            neutral=n.neutral, employers=n.employers)

    def streams(self, raw: dict) -> dict[str, StreamModel]:
        raw_streams = raw.get("streams")
        if not isinstance(raw_streams, dict):
            self.problem("streams", f"required: a mapping of {', '.join(STREAMS)} to a name and description"
                         if raw_streams is None else
                         f"expected a mapping of stream id to name and description, found "
                         f"{type(raw_streams).__name__}")
            return {}
        streams = {}
        for sid, value in raw_streams.items():
            if sid not in STREAMS:
                hint = did_you_mean(str(sid), STREAMS)
                self.problem(f"streams.{sid}", f"unknown stream{hint} (streams are "
                             f"{', '.join(STREAMS)}; '{NONE}' is implicit)")
                continue
            try:
                streams[sid] = StreamModel.model_validate(value if value is not None else {})
            except ValidationError as exc:
                fields = list(StreamModel.model_fields)
                self.problems.extend(_structure_problems(exc, f"streams.{sid}", fields))
        for sid in STREAMS:
            if sid not in raw_streams:
                self.problem("streams", f"stream '{sid}' is missing")
        return streams

    def stream_ref(self, where: str, value: str, allow_none: bool) -> bool:
        allowed = ALL_STREAMS if allow_none else STREAMS
        if value in allowed:
            return True
        self.problem(where, f"unknown stream '{value}' (expected one of {', '.join(allowed)})"
                     f"{did_you_mean(value, allowed)}")
        return False


def _structure_problems(exc: ValidationError, prefix: str, allowed: list[str]) -> list[str]:
    return problem_lines(exc, where=lambda loc: ".".join([prefix, *map(str, loc)] if prefix else map(str, loc))
                         or "(top level)", allowed=lambda loc: allowed if len(loc) == 1 else [])


def _label(raw: Any, index: int, prefix: str) -> str:
    ident = raw.get("id") if isinstance(raw, dict) else None
    return f"{prefix}.{ident}" if isinstance(ident, str) and ident else f"{prefix}[{index}]"


class _RoleCompiler:
    """Roles -> Role records, matchable phrases (an alias belongs to one role) and exclusion terms."""

    def __init__(self, b: _Builder, tables: NormalisationTables,
                 stream_excl: dict[str, list[tuple[str, ...]]]):
        self.b, self.tables, self.stream_excl = b, tables, stream_excl
        self.roles: dict[str, Role] = {}
        self.by_name: dict[str, str] = {}
        self.phrases: list[Phrase] = []
        self.exclusions: dict[str, tuple[tuple[str, ...], ...]] = {}
        self._claimed: dict[str, tuple[str, str]] = {}
        self._own: set[str] = set()

    def _add(self, role: RoleModel, text: str, kind: str, where: str) -> None:
        toks = normalise_tokens(text, self.tables)
        if not toks:
            self.b.problem(where, f"'{text}' normalises to nothing (only seniority words, places or stop "
                           "words)")
            return
        key = token_key(toks)
        if key in self._claimed and self._claimed[key][0] != role.id:
            other, other_where = self._claimed[key]
            self.b.problem(where, f"'{text}' is also claimed by role '{other}' ({other_where}); an alias "
                           "belongs to one role")
            return
        if key in self._own:
            return
        self._own.add(key)
        self._claimed[key] = (role.id, where)
        self.phrases.append(Phrase(role.id, text, kind, toks, key))

    def add(self, raw_role: Any, index: int) -> None:
        b = self.b
        label = _label(raw_role, index, "roles")
        if not isinstance(raw_role, dict):
            b.problem(label, "expected a mapping with id, name, stream, relation and aliases")
            return
        try:
            role = RoleModel.model_validate(raw_role)
        except ValidationError as exc:
            b.problems.extend(_structure_problems(exc, label, list(RoleModel.model_fields)))
            return
        if role.id in self.roles:
            b.problem(f"{label}.id", f"duplicate role id '{role.id}'")
            return
        if not b.stream_ref(f"{label}.stream", role.stream, allow_none=True):
            return
        if role.stream == NONE and role.relation != "none":
            b.problem(f"{label}.relation", f"a role with stream '{NONE}' has relation 'none', not "
                      f"'{role.relation}'")
        if role.stream != NONE and role.relation == "none":
            b.problem(f"{label}.relation", "a role in a stream is 'direct' or 'adjacent'")
        folded = role.name.casefold()
        if folded in self.by_name:
            b.problem(f"{label}.name", f"name '{role.name}' is also used by role '{self.by_name[folded]}'")
        self.by_name[folded] = role.id
        self.roles[role.id] = Role(role.id, role.name, role.stream, role.relation, role.ambiguous, role.note)
        self._own = set()
        self._add(role, role.name, "name", f"{label}.name")
        seen: set[str] = set()
        for i, alias in enumerate(role.aliases):
            where = f"{label}.aliases[{i}]"
            if alias.casefold() in seen:
                b.problem(where, f"duplicate alias '{alias}'")
                continue
            seen.add(alias.casefold())
            bad = _brace_problem(alias)
            if bad:
                b.problem(where, f"'{alias}': {bad}")
                continue
            for text in expand_braces(alias):
                self._add(role, text, "alias", where)
        for i, abbr in enumerate(role.abbreviations):
            where = f"{label}.abbreviations[{i}]"
            if not re.fullmatch(r"[A-Za-z0-9]{2,10}", abbr):
                b.problem(where, f"'{abbr}' must be one word of 2 to 10 letters or digits (it matches only "
                          "as "
                          "a whole word)")
            elif abbr.lower() in self.tables.abbreviations:
                b.problem(where, f"'{abbr}' is also expanded by normalisation.abbreviations; keep it in one "
                          "place")
            else:
                self._add(role, abbr, "abbreviation", where)
        for i, term in enumerate(role.key_terms):
            self._add(role, term, "key_term", f"{label}.key_terms[{i}]")
        excl = list(self.stream_excl.get(role.stream, []))
        for i, term in enumerate(role.exclusion_terms):
            toks = normalise_tokens(term, self.tables)
            if toks:
                excl.append(toks)
            else:
                b.problem(f"{label}.exclusion_terms[{i}]", f"'{term}' normalises to nothing")
        self.exclusions[role.id] = tuple(dict.fromkeys(excl))


def _contexts(b: _Builder, raw: dict, tables: NormalisationTables) -> list[DepartmentContext]:
    raw_contexts = raw.get("department_contexts") or []
    if not isinstance(raw_contexts, list):
        b.problem("department_contexts", "expected a list")
        return []
    out, seen = [], set()
    for index, raw_ctx in enumerate(raw_contexts):
        where = _label(raw_ctx, index, "department_contexts")
        try:
            ctx = ContextModel.model_validate(raw_ctx)
        except ValidationError as exc:
            b.problems.extend(_structure_problems(exc, where, list(ContextModel.model_fields)))
            continue
        if ctx.id in seen:
            b.problem(f"{where}.id", "duplicate context id")
        seen.add(ctx.id)
        for key in ("supports", "vetoes"):
            for j, sid in enumerate(getattr(ctx, key)):
                b.stream_ref(f"{where}.{key}[{j}]", sid, allow_none=(key == "supports"))
        terms = []
        for j, term in enumerate(ctx.terms):
            toks = normalise_tokens(term, tables)
            if toks:
                terms.append(toks)
            else:
                b.problem(f"{where}.terms[{j}]", f"'{term}' normalises to nothing")
        out.append(DepartmentContext(ctx.id, tuple(terms), tuple(ctx.supports), tuple(ctx.vetoes)))
    return out


def _compile(path: Path, raw: Any) -> Taxonomy:
    fname = path.name
    if not isinstance(raw, dict):
        raise DefinitionError(f"{path}: the taxonomy must be a mapping with version, streams and roles",
                              details=[f"{fname}: (top level): expected a mapping, found "
                                       f"{type(raw).__name__}"])
    b = _Builder()
    for key in raw:
        if key not in SECTIONS:
            b.problem(str(key), f"unknown key{did_you_mean(str(key), SECTIONS)}")
    version = raw.get("version")
    if version is None:
        b.problem("version", "required key is missing")
    elif not isinstance(version, int) or isinstance(version, bool) or version < 1:
        b.problem("version", f"expected a whole number of 1 or more, found {version!r}")
    normalisation = b.section(raw, "normalisation", NormalisationModel) or NormalisationModel()
    thresholds = b.section(raw, "decision", ThresholdsModel, required=True)
    scoring = b.section(raw, "scoring", ScoringModel)
    tables = b.tables(normalisation)
    streams = b.streams(raw)

    stream_excl: dict[str, list[tuple[str, ...]]] = {s: [] for s in STREAMS}
    for sid, stream in streams.items():
        for i, term in enumerate(stream.exclusion_terms):
            toks = normalise_tokens(term, tables)
            if toks:
                stream_excl[sid].append(toks)
            else:
                b.problem(f"streams.{sid}.exclusion_terms[{i}]", f"'{term}' normalises to nothing")

    rc = _RoleCompiler(b, tables, stream_excl)
    raw_roles = raw.get("roles")
    if not isinstance(raw_roles, list) or not raw_roles:
        b.problem("roles", "required key is missing" if raw_roles is None
                  else "expected a non-empty list of roles")
        raw_roles = []
    for index, raw_role in enumerate(raw_roles):
        rc.add(raw_role, index)
    contexts = _contexts(b, raw, tables)

    if thresholds is not None and thresholds.review_score > thresholds.auto_score:
        b.problem("decision.review_score", f"{thresholds.review_score:g} is above auto_score "
                  f"{thresholds.auto_score:g}")
    if scoring is not None and scoring.fuzzy_cap < scoring.fuzzy_min:
        b.problem("scoring.fuzzy_cap", f"{scoring.fuzzy_cap:g} is below fuzzy_min {scoring.fuzzy_min:g}")
    for sid in streams:
        if rc.roles and not any(r.stream == sid for r in rc.roles.values()):
            b.problem(f"streams.{sid}", "no role belongs to this stream")

    if b.problems:
        raise DefinitionError(f"{path}: {len(b.problems)} problem(s) in the role taxonomy",
                              details=[f"{fname}: {line}" for line in b.problems])
    digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""
    return Taxonomy(path=path, version=int(version), sha256=digest, streams=streams, roles=rc.roles,
                    phrases=tuple(rc.phrases), exclusions=rc.exclusions, contexts=tuple(contexts),
                    tables=tables,
                    thresholds=thresholds, scoring=scoring or ScoringModel(), _by_name=rc.by_name)


def parse_taxonomy(text: str, path: Path | str = "role_taxonomy.yaml") -> Taxonomy:
    """Compile taxonomy YAML text (used by tests and by :func:`load_taxonomy`)."""
    path = Path(path)
    try:
        raw = parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "somewhere"
        raise DefinitionError(f"{path}: not valid YAML at {where}: {getattr(exc, 'problem', exc)}",
                              details=[f"{path.name}: (yaml) {where}: {getattr(exc, 'problem', exc)}"],
                              ) from None
    return _compile(path, raw)


@functools.lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple) -> Taxonomy:
    p = Path(path)
    return parse_taxonomy(p.read_text(encoding="utf-8"), p)


def load_taxonomy(path: Path | str | None = None) -> Taxonomy:
    """The taxonomy at ``path`` (default: settings.taxonomy_path()), cached until the file changes."""
    p = Path(path) if path else settings.taxonomy_path()
    if not p.is_file():
        raise InputFileError(f"{p}: role taxonomy not found; pass --taxonomy or set TRUST_SURVEY_TAXONOMY",
                             code="IN002")
    st = p.stat()
    return _cached(str(p.resolve()), (st.st_mtime_ns, st.st_size))
