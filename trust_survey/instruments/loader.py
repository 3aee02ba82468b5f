"""The one loader for instrument definitions, and the registry of every definition in a folder.

Every problem in a file is collected and reported together as ``file: path.to.key: problem`` lines,
with a "did you mean" suggestion where a near miss exists, so an author fixes them in one pass.
"""
from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any, Iterable

from pydantic import ValidationError

from trust_survey.common.problems import problem_lines
from trust_survey.errors import DefinitionError, NotFoundError, did_you_mean
from trust_survey.instruments.model import CHOICE_TYPES, Instrument, Item
from trust_survey.common.yamlfile import read_yaml
from trust_survey import settings

SPSS_RESERVED = {"ALL", "AND", "BY", "EQ", "GE", "GT", "LE", "LT", "NE", "NOT", "OR", "TO", "WITH"}
SPSS_NAME = re.compile(r"^[A-Za-z@][A-Za-z0-9_.@#$]*$")
SHEET_FORBIDDEN = re.compile(r"[\[\]:*?/\\]")
RESERVED_SHEETS = {"cover", "lists", "checks", "meta"}
FILE_NAME = re.compile(r"^(?P<id>[a-z][a-z0-9_]*)\.v(?P<version>\d+)\.ya?ml$")


def _label(raw: Any, loc: Iterable[Any]) -> str:
    """Turn a pydantic location into ``sections.staff.table.columns.wte.type`` using ids where known."""
    parts: list[str] = []
    node = raw
    for key in loc:
        if isinstance(key, int) and isinstance(node, list) and 0 <= key < len(node):
            node = node[key]
            ident = node.get("id") if isinstance(node, dict) else None
            parts.append(str(ident) if ident else str(key))
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts) or "(top level)"


def _model_fields_at(loc: tuple) -> list[str]:
    """The allowed keys of the model at a location, for suggestions on unknown keys."""
    from trust_survey.instruments import model as m

    cls: Any = m.Instrument
    for key in loc[:-1]:
        if isinstance(key, int):
            continue
        field = cls.model_fields.get(key) if hasattr(cls, "model_fields") else None
        if field is None:
            return []
        ann = field.annotation
        inner = getattr(ann, "__args__", None)
        candidates = [ann] + list(inner or [])
        nxt = None
        for c in candidates:
            for cc in [c] + list(getattr(c, "__args__", ()) or []):
                if isinstance(cc, type) and hasattr(cc, "model_fields"):
                    nxt = cc
        if nxt is None:
            return []
        cls = nxt
    return list(cls.model_fields) if hasattr(cls, "model_fields") else []


def _structure_problems(raw: dict, exc: ValidationError) -> list[str]:
    return problem_lines(exc, where=lambda loc: _label(raw, loc), allowed=_model_fields_at)


def _spss_name_problem(name: str) -> str | None:
    if len(name.encode("utf-8")) > 64:
        return f"SPSS name '{name}' is longer than 64 bytes"
    if not SPSS_NAME.match(name) or name.endswith(".") or name.endswith("_"):
        return (f"'{name}' is not a valid SPSS name (start with a letter; letters, digits, _ . @ # $ only; "
                "no trailing . or _)")
    if name.upper() in SPSS_RESERVED:
        return f"'{name}' is an SPSS reserved word"
    return None


def semantic_problems(inst: Instrument) -> list[str]:
    """Checks that need the whole definition: ids, references, SPSS names, sheets, rules, scales."""
    problems: list[str] = []
    lists = inst.lists()

    seen_ids: dict[str, str] = {}  # items and tables share one namespace; sections have their own
    seen_sections: set[str] = set()
    sheets: dict[str, str] = {}
    for section in inst.sections:
        where = f"sections.{section.id}"
        if section.id in seen_sections:
            problems.append(f"{where}.id: duplicate section id '{section.id}'")
        seen_sections.add(section.id)
        sheet = section.sheet_name
        if SHEET_FORBIDDEN.search(sheet):
            problems.append(f"{where}.sheet: sheet name '{sheet}' contains one of [ ] : * ? / \\")
        if sheet.lower() in RESERVED_SHEETS:
            problems.append(f"{where}.sheet: '{sheet}' is reserved for the toolkit's own sheets")
        if sheet.lower() in sheets:
            problems.append(f"{where}.sheet: sheet name '{sheet}' is also used by section {sheets[sheet.lower()]}")
        sheets[sheet.lower()] = section.id
        items = section.table.columns if section.table else section.items
        prefix = f"{where}.table.columns" if section.table else f"{where}.items"
        if section.table:
            tid = section.table.id
            if tid in seen_ids:
                problems.append(f"{where}.table.id: duplicate id '{tid}' (also used at {seen_ids[tid]})")
            seen_ids[tid] = f"{where}.table"
        for item in items:
            iwhere = f"{prefix}.{item.id}"
            if item.id in seen_ids:
                problems.append(f"{iwhere}.id: duplicate id '{item.id}' (also used at {seen_ids[item.id]})")
            seen_ids[item.id] = iwhere
            name = item.choice_list
            if item.type in CHOICE_TYPES and name and name not in lists:
                problems.append(f"{iwhere}.choices: unknown choice list '{name}'{did_you_mean(name, lists)}")
        if section.table:
            cols = {c.id for c in section.table.columns}
            for col in section.table.unique:
                if col not in cols:
                    problems.append(f"{where}.table.unique: '{col}' is not a column of this table"
                                    f"{did_you_mean(col, cols)}")

    for name, choices in inst.choice_lists.items():
        values = [c.value for c in choices]
        keys = [c.key for c in choices]
        if not choices:
            problems.append(f"choice_lists.{name}: a choice list needs at least one choice")
        for dup in sorted({v for v in values if values.count(v) > 1}):
            problems.append(f"choice_lists.{name}: value {dup} is used twice")
        for dup in sorted({k for k in keys if keys.count(k) > 1}):
            problems.append(f"choice_lists.{name}: code '{dup}' is used twice")
        for c in choices:
            if len(c.label) > 250:
                problems.append(f"choice_lists.{name}: label of {c.value} is over 250 characters")
        if not re.match(r"^[a-z][a-z0-9_]{0,28}$", name):
            problems.append(f"choice_lists.{name}: list names are lower_snake_case, at most 29 characters")

    # SPSS variable names: valid and unique (case-insensitive) across every answer field.
    try:
        fields = inst.fields()
    except KeyError:  # unknown choice list already reported above
        fields = []
    spss_seen: dict[str, str] = {}
    for field in fields:
        name = field.var_name
        fwhere = f"{field.section.id}.{field.item.id}.spss_name"
        problem = _spss_name_problem(name)
        if problem:
            problems.append(f"sections.{fwhere}: {problem}")
            continue
        upper = name.upper()
        if upper in spss_seen:
            problems.append(f"sections.{fwhere}: SPSS name '{name}' clashes with {spss_seen[upper]}")
        spss_seen[upper] = f"{field.section.id}.{field.field_id}"

    form_ids = {i.id for _, i in inst.form_items()}
    table_cols = {t.id: {c.id: c for c in t.columns} for _, t in inst.tables()}
    all_items = {i.id: i for i in inst.all_items()}

    def check_rule(rule, where: str) -> None:
        for side in ("left", "right"):
            for ref in getattr(rule, side):
                if rule.table:
                    cols = table_cols.get(rule.table, {})
                    if ref not in cols:
                        problems.append(f"{where}.{side}: '{ref}' is not a column of table '{rule.table}'"
                                        f"{did_you_mean(ref, cols)}")
                    elif cols[ref].type not in ("integer", "decimal"):
                        problems.append(f"{where}.{side}: '{ref}' is not a number")
                elif ref.startswith("sum:"):
                    tid, _, col = ref[4:].partition(".")
                    if tid not in table_cols or col not in table_cols[tid]:
                        problems.append(f"{where}.{side}: '{ref}' names no table column (use sum:<table>.<column>)")
                elif ref not in form_ids:
                    problems.append(f"{where}.{side}: '{ref}' is not a form item{did_you_mean(ref, form_ids)}")
                elif all_items[ref].type not in ("integer", "decimal"):
                    problems.append(f"{where}.{side}: '{ref}' is not a number")

    for rule in inst.rules:
        if rule.table and rule.table not in table_cols:
            hint = did_you_mean(rule.table, table_cols)
            problems.append(f"rules.{rule.id}.table: unknown table '{rule.table}'{hint}")
            continue
        check_rule(rule, f"rules.{rule.id}")
    for _, table in inst.tables():
        for rule in table.rules:
            rule = rule.model_copy(update={"table": table.id})
            check_rule(rule, f"tables.{table.id}.rules.{rule.id}")

    for scale in inst.scales:
        for ref in scale.items:
            item = all_items.get(ref)
            if item is None:
                problems.append(f"scales.{scale.id}.items: unknown item '{ref}'{did_you_mean(ref, all_items)}")
            elif item.type != "likert":
                problems.append(f"scales.{scale.id}.items: '{ref}' is not a likert item")
        if scale.min_answered > len(scale.items):
            problems.append(f"scales.{scale.id}.min_answered: {scale.min_answered} is more than its "
                            f"{len(scale.items)} items")

    if inst.id_item not in form_ids:
        problems.append(f"id_item: '{inst.id_item}' is not a form item{did_you_mean(inst.id_item, form_ids)}")
    elif all_items[inst.id_item].type not in ("ods_code", "text"):
        problems.append(f"id_item: '{inst.id_item}' should be an ods_code or text item")
    return problems


def parse_instrument(raw: Any, source: str = "<definition>") -> Instrument:
    """Validate a parsed YAML mapping; raise DefinitionError listing every problem."""
    if not isinstance(raw, dict):
        raise DefinitionError(f"{source}: an instrument definition must be a mapping of keys",
                              details=[f"{source}: (top level): expected a mapping, found {type(raw).__name__}"])
    try:
        inst = Instrument.model_validate(raw)
    except ValidationError as exc:
        problems = _structure_problems(raw, exc)
        raise DefinitionError(f"{source}: {len(problems)} problem(s) in the definition",
                              details=[f"{source}: {p}" for p in problems]) from None
    problems = semantic_problems(inst)
    if problems:
        raise DefinitionError(f"{source}: {len(problems)} problem(s) in the definition",
                              details=[f"{source}: {p}" for p in problems])
    return inst


def load_instrument_file(path: Path) -> Instrument:
    """Load and strictly validate one definition file."""
    path = Path(path)
    raw = read_yaml(path, "instrument")
    inst = parse_instrument(raw, str(path))
    m = FILE_NAME.match(path.name)
    expected = f"{inst.id}.v{inst.version}.yaml"
    if not m or m["id"] != inst.id or int(m["version"]) != inst.version:
        raise DefinitionError(f"{path}: file name does not match its id and version",
                              details=[f"{path}: (file name): expected '{expected}' for id '{inst.id}' "
                                       f"version {inst.version}"])
    return inst


class Registry:
    """Every instrument definition in a folder, by id and version."""

    def __init__(self, instruments: list[Instrument], folder: Path):
        self.folder = folder
        self._by_key = {(i.id, i.version): i for i in instruments}

    @classmethod
    def from_folder(cls, folder: Path) -> "Registry":
        folder = Path(folder)
        if not folder.is_dir():
            raise NotFoundError(f"{folder}: instrument folder not found; pass --instruments or set "
                                "TRUST_SURVEY_INSTRUMENTS")
        loaded, problems = [], []
        for path in sorted(folder.glob("*.y*ml")):
            try:
                loaded.append(load_instrument_file(path))
            except DefinitionError as exc:
                problems.extend(exc.details or [str(exc)])
        if problems:
            raise DefinitionError(f"{folder}: {len(problems)} problem(s) in instrument definitions",
                                  details=problems)
        keys = [(i.id, i.version) for i in loaded]
        dups = {k for k in keys if keys.count(k) > 1}
        if dups:
            raise DefinitionError(f"{folder}: the same id and version is defined twice: "
                                  + ", ".join(f"{i}.v{v}" for i, v in sorted(dups)))
        return cls(loaded, folder)

    def ids(self) -> list[str]:
        return sorted({i for i, _ in self._by_key})

    def versions(self, instrument_id: str) -> list[int]:
        return sorted(v for i, v in self._by_key if i == instrument_id)

    def all(self) -> list[Instrument]:
        return [self._by_key[k] for k in sorted(self._by_key)]

    def get(self, instrument_id: str, version: int | None = None) -> Instrument:
        """The named instrument, latest version unless one is given."""
        versions = self.versions(instrument_id)
        if not versions:
            raise NotFoundError(f"unknown instrument '{instrument_id}'{did_you_mean(instrument_id, self.ids())}"
                                f" (known: {', '.join(self.ids()) or 'none'}; folder {self.folder})")
        if version is None:
            version = versions[-1]
        if version not in versions:
            raise NotFoundError(f"instrument '{instrument_id}' has no version {version} "
                                f"(known: {', '.join(map(str, versions))})")
        return self._by_key[(instrument_id, version)]

    def by_hash(self, definition_hash: str) -> Instrument | None:
        for inst in self._by_key.values():
            if inst.definition_hash() == definition_hash:
                return inst
        return None


@functools.lru_cache(maxsize=8)
def _cached_registry(folder: str, stamp: tuple) -> Registry:
    return Registry.from_folder(Path(folder))


def load_registry(folder: Path | None = None) -> Registry:
    """The registry for a folder (default: settings.instruments_dir()), cached until a file changes."""
    folder = Path(folder) if folder else settings.instruments_dir()
    stamp = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size) for p in sorted(folder.glob("*.y*ml"))) \
        if folder.is_dir() else ()
    return _cached_registry(str(folder.resolve()), stamp)


def item_lookup(inst: Instrument) -> dict[str, Item]:
    return {i.id: i for i in inst.all_items()}
