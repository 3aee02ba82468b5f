"""Reviewed aliases: the versioned ``role_overrides.yaml`` that review decisions write and the matcher reads.

Each entry maps a normalised title (order of words does not matter) to a role, or to a stream alone, or to
none. The matcher applies them after the taxonomy, so a title a person has decided is coded automatically
next round (method ``alias``). Entries record who decided, when, and the taxonomy version they saw.

```yaml
version: 3                      # bumped on every write
updated_at: 2026-05-01T10:00:00+00:00
reviewed_aliases:
  - alias: clinical scientist epr
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
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from trust_survey.errors import DefinitionError, did_you_mean
from trust_survey.matching.normalise import token_key
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, Taxonomy

ACTIONS = ("accept", "change_role", "change_stream", "reject")


class OverrideEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    alias: str = Field(min_length=1)
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

    version: int = Field(0, ge=0)
    updated_at: str = ""
    reviewed_aliases: list[OverrideEntry] = []


@dataclass(frozen=True)
class Overrides:
    """Reviewed aliases keyed by order-free token key, checked against a taxonomy."""

    path: Path | None
    version: int
    entries: tuple[OverrideEntry, ...] = ()
    by_key: dict[str, OverrideEntry] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> "Overrides":
        return cls(None, 0)


def _problems(entries: list[OverrideEntry], taxonomy: Taxonomy | None) -> list[str]:
    problems = []
    for i, e in enumerate(entries):
        where = f"reviewed_aliases[{i}] ({e.alias!r})"
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
        raw = yaml.safe_load(text) or {}
        model = OverridesFile.model_validate(raw)
    except yaml.YAMLError as exc:
        raise DefinitionError(f"{path}: not valid YAML: {exc}", details=[f"{name}: (yaml): {exc}"]) from None
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = ".".join(str(p) for p in err["loc"]) or "(top level)"
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            lines.append(f"{name}: {where}: {msg}")
        raise DefinitionError(f"{path}: {len(lines)} problem(s) in reviewed aliases", details=lines) from None
    problems = _problems(model.reviewed_aliases, taxonomy)
    if problems:
        raise DefinitionError(f"{path}: {len(problems)} problem(s) in reviewed aliases",
                              details=[f"{name}: {p}" for p in problems])
    by_key: dict[str, OverrideEntry] = {}
    for entry in model.reviewed_aliases:
        by_key[token_key(entry.alias.split())] = entry   # later entries win
    return Overrides(Path(path), model.version, tuple(model.reviewed_aliases), by_key)


@functools.lru_cache(maxsize=8)
def _cached(path: str, stamp: tuple, taxonomy: Taxonomy) -> Overrides:
    return parse_overrides(Path(path).read_text(encoding="utf-8"), Path(path), taxonomy)


def load_overrides(path: Path | str | None, taxonomy: Taxonomy) -> Overrides:
    """The overrides at ``path`` (default: settings.overrides_path()); empty when the file does not exist."""
    from trust_survey import settings

    p = Path(path) if path else settings.overrides_path()
    if not p.is_file():
        return Overrides.empty()
    st = p.stat()
    return _cached(str(p.resolve()), (st.st_mtime_ns, st.st_size), taxonomy)


def now_iso() -> str:
    return dt.datetime.now(dt.timezone.utc).replace(microsecond=0).isoformat()


def write_overrides(path: Path, entries: list[OverrideEntry], previous_version: int) -> int:
    """Write the file atomically with the version bumped; returns the new version."""
    version = previous_version + 1
    doc = {"version": version, "updated_at": now_iso(),
           "reviewed_aliases": [e.model_dump(exclude_defaults=False) for e in entries]}
    header = ("# Reviewed aliases written by `trust-survey match review-import`; the matcher applies them\n"
              "# after role_taxonomy.yaml. Edit with care: every entry records who decided and when.\n")
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(header)
            yaml.safe_dump(doc, fh, sort_keys=False, allow_unicode=True, width=110)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return version
