"""Reviewed aliases: the versioned ``role_overrides.yaml`` that review decisions write and the matcher reads.

Each entry maps a normalised title (order of words does not matter) *in a department context* to a role,
or to a stream alone, or to none. The matcher applies them after the taxonomy, so a title a person has
decided is coded automatically next round (method ``alias``), but only where the row's department context
is the one the decision was made in: rejecting "Software Engineer" in IT leaves "Software Engineer" in
Medical Physics to the matcher. Entries record who decided, when, and the taxonomy version they saw.

The context is the one the matcher derives from the department (:meth:`Matcher.department_contexts`): the
ids of the taxonomy's ``department_contexts`` the department matches, joined by ``+`` (``it_services``,
``clinical_systems+it_services``); ``other`` for a department that matches none of them; ``any`` for a
decision that holds in every department (reviewed with no department, or the reviewer said so). When a
title has an entry for the row's own context and an ``any`` entry, the later one in the file wins
(``review-import`` appends decisions, and one for ``any`` department replaces the title's earlier entries).

```yaml
format: 2                       # layout of this file; 1 (or absent): no contexts, every entry is "any"
version: 3                      # bumped on every write
updated_at: 2026-05-01T10:00:00+00:00
reviewed_aliases:
  - alias: clinical scientist epr
    context: clinical_systems   # any | other | department context id(s) joined by +
    example: "Clinical Scientist (EPR)"
    action: change_role         # accept | change_role | change_stream | reject
    role_id: epr_build_analyst  # empty for change_stream and reject
    stream: health_informatics
    reviewer: a.analyst
    decided_at: 2026-05-01T09:58:00+00:00
    taxonomy_version: 1
```
"""
from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trust_survey.atomic import write_atomic
from trust_survey.common.problems import problem_lines
from trust_survey.errors import DefinitionError, did_you_mean
from trust_survey.matching.normalise import token_key
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, Taxonomy
from trust_survey.common.yamlfile import parse_yaml
from trust_survey import settings

ACTIONS = ("accept", "change_role", "change_stream", "reject")
#: The layout of role_overrides.yaml this version writes: 2 added ``context`` to every entry.
FORMAT = 2
#: Context of a reviewed alias that holds in every department.
ANY = "any"
#: Context of a department that matches none of the taxonomy's department contexts.
OTHER = "other"


def canonical_context(value: str | None) -> str:
    """A context as written in the file: ``any`` for blank, ids sorted and joined by ``+``."""
    parts = sorted({p.strip() for p in str(value or "").split("+") if p.strip()})
    return "+".join(parts) or ANY


class OverrideEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    alias: str = Field(min_length=1)
    context: str | None = None
    example: str = ""
    action: Literal["accept", "change_role", "change_stream", "reject"]
    role_id: str = ""
    stream: str
    reviewer: str = ""
    decided_at: str = ""
    taxonomy_version: int | None = None
    note: str = ""


class OverridesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: int = Field(1, ge=1)
    version: int = Field(0, ge=0)
    updated_at: str = ""
    reviewed_aliases: list[OverrideEntry] = []


@dataclass(frozen=True)
class Overrides:
    """Reviewed aliases keyed by (order-free token key, context), checked against a taxonomy.

    ``by_key`` may also be given the old way, token key -> entry; those entries count as context-free."""

    path: Path | None
    version: int
    entries: tuple[OverrideEntry, ...] = ()
    by_key: dict = field(default_factory=dict)
    format: int = FORMAT

    def __post_init__(self):
        index: dict[tuple[str, str], OverrideEntry] = {}
        for key, entry in self.by_key.items():
            if isinstance(key, tuple):
                index[key] = entry
            else:
                index[(key, canonical_context(entry.context))] = entry
        object.__setattr__(self, "by_key", index)
        position = {id(e): i for i, e in enumerate(self.entries)}
        object.__setattr__(self, "_position", {k: position.get(id(e), -1) for k, e in index.items()})

    @classmethod
    def empty(cls) -> "Overrides":
        return cls(None, 0)

    def find(self, key: str, context: str = "") -> OverrideEntry | None:
        """The reviewed alias for a title's token ``key`` in a row's department ``context`` (blank: none
        given): of the entry decided in that context and the context-free one, the later; else None."""
        if not key:
            return None
        own = self.by_key.get((key, context)) if context and context != ANY else None
        anywhere = self.by_key.get((key, ANY))
        if own is None or anywhere is None:
            return own if own is not None else anywhere
        return anywhere if self._position[(key, ANY)] > self._position[(key, context)] else own


def _problems(entries: list[OverrideEntry], taxonomy: Taxonomy | None, fmt: int = FORMAT) -> list[str]:
    problems = []
    known = [c.id for c in taxonomy.contexts] if taxonomy is not None else []
    for i, e in enumerate(entries):
        where = f"reviewed_aliases[{i}] ({e.alias!r})"
        if fmt < 2 and e.context is not None:
            problems.append(f"{where}.context: a format {fmt} file has no contexts; add 'format: {FORMAT}' at the "
                            "top (or remove the context: the entry then holds in every department)")
        elif fmt >= 2 and e.context is None:
            problems.append(f"{where}.context: missing; '{ANY}' for every department, '{OTHER}' or department "
                            "context id(s) joined by '+'")
        elif e.context is not None and canonical_context(e.context) not in (ANY, OTHER) and taxonomy is not None:
            for part in canonical_context(e.context).split("+"):
                if part not in known:
                    problems.append(f"{where}.context: unknown department context '{part}'"
                                    f"{did_you_mean(part, known + [ANY, OTHER])}; expected '{ANY}', '{OTHER}' "
                                    "or ids from department_contexts joined by '+'")
        if e.stream not in ALL_STREAMS:
            hint = did_you_mean(e.stream, ALL_STREAMS)
            problems.append(f"{where}.stream: unknown stream '{e.stream}'{hint}")
        if taxonomy is None:
            continue
        if e.role_id:
            role = taxonomy.roles.get(e.role_id)
            if role is None:
                problems.append(f"{where}.role_id: unknown role '{e.role_id}'"
                                f"{did_you_mean(e.role_id, taxonomy.roles)}")
            elif role.stream != e.stream:
                problems.append(f"{where}.stream: role '{e.role_id}' is in stream '{role.stream}', not "
                                f"'{e.stream}'")
        elif e.action == "change_role":
            problems.append(f"{where}.role_id: '{e.action}' needs a role")
        if e.action == "reject" and e.stream != NONE:
            problems.append(f"{where}.stream: a rejected title is coded '{NONE}'")
    return problems


def parse_overrides(text: str, path: Path, taxonomy: Taxonomy | None) -> Overrides:
    """Validate overrides YAML text strictly; every problem is reported together."""
    name = Path(path).name
    try:
        raw = parse_yaml(text) or {}
        model = OverridesFile.model_validate(raw)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: not valid YAML: {exc}", details=[f"{name}: (yaml): {exc}"]) from None
    except ValidationError as exc:
        lines = [f"{name}: {line}" for line in problem_lines(exc)]
        raise DefinitionError(f"{path}: {len(lines)} problem(s) in reviewed aliases", details=lines) from None
    if model.format > FORMAT:
        raise DefinitionError(f"{path}: reviewed aliases in format {model.format}, written by a newer "
                              f"trust-survey (this one reads up to format {FORMAT}); upgrade trust-survey",
                              details=[f"{name}: format: {model.format} is newer than {FORMAT}"])
    problems = _problems(model.reviewed_aliases, taxonomy, model.format)
    if problems:
        raise DefinitionError(f"{path}: {len(problems)} problem(s) in reviewed aliases",
                              details=[f"{name}: {p}" for p in problems])
    entries = tuple(e.model_copy(update={"context": canonical_context(e.context)}) for e in model.reviewed_aliases)
    by_key: dict[tuple[str, str], OverrideEntry] = {}
    for entry in entries:
        by_key[(token_key(entry.alias.split()), entry.context)] = entry   # later entries win
    return Overrides(Path(path), model.version, entries, by_key, model.format)


@functools.lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple, taxonomy: Taxonomy) -> Overrides:
    return parse_overrides(Path(path).read_text(encoding="utf-8"), Path(path), taxonomy)


def load_overrides(path: Path | str | None, taxonomy: Taxonomy) -> Overrides:
    """The overrides at ``path`` (default: settings.overrides_path()); empty when the file does not exist."""
    p = Path(path) if path else settings.overrides_path()
    if not p.is_file():
        return Overrides.empty()
    st = p.stat()
    return _cached(str(p.resolve()), (st.st_mtime_ns, st.st_size), taxonomy)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def write_overrides(path: Path, entries: list[OverrideEntry], previous_version: int) -> int:
    """Write the file atomically, in the current :data:`FORMAT`, with the version bumped; returns the new
    version. Entries with no context (from a format 1 file) are written as ``any``."""
    version = previous_version + 1
    doc = {"format": FORMAT, "version": version, "updated_at": now_iso(),
           "reviewed_aliases": [e.model_copy(update={"context": canonical_context(e.context)}).model_dump(
               exclude_defaults=False) for e in entries]}
    header = ("# Reviewed aliases written by `trust-survey match review-import`; the matcher applies them\n"
              "# after role_taxonomy.yaml. Edit with care: every entry records who decided and when.\n")

    def write(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(header)
            yaml.safe_dump(doc, fh, sort_keys=False, allow_unicode=True, width=110)

    write_atomic(path, write, force=True)
    return version
