"""Check cleaned answers against the definition that built the workbook; every finding is an Issue.

The column rules (required, in the choice list, between bounds, matching a pattern, not too long) are
compiled once per instrument version from its definition (:func:`column_rules`) and run on one tidy
checks table per instrument version holding every answer of every return of the run
(:func:`build_checks`), so each check runs once per run, not once per file or per field. Great
Expectations costs about 10 ms per expectation whatever the data, so the rules are grouped into a dozen
checks (:func:`plan_checks`): all required answers, all choices, all lower and all upper bounds, and
each distinct pattern and length. Two engines (:mod:`.engines`) run the same checks:

- :class:`GxEngine` (the default): Great Expectations 1.x, imported only here, with an ephemeral
  context (no folders, analytics off, progress bars off) created once per run. Results are read with
  the COMPLETE result format from ``unexpected_index_list`` -- complete -- and the values looked up in
  the table, because GX cuts ``unexpected_list`` to 200 values even in COMPLETE mode. The table always
  has a fresh 0-based RangeIndex: GX 1.24 with pandas 3 misreports rows for any other index.
- :class:`PandasEngine`: the same checks vectorised in pandas, for when GX's second of import matters
  (``ingest --engine pandas``). A test makes every kind of rule fail and keeps the two in agreement.

Cross-field rules (``sum(left) op sum(right)``; skipped when every value on either side is blank,
otherwise blanks count as 0; table rules row by row) and duplicate rows are checked in pandas.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from trust_survey.ingest.clean import Cleaner
from trust_survey.ingest.extract import FORM, Extracted
from trust_survey.ingest.identify import field_map
from trust_survey.ingest.issues import Issue, display
from trust_survey.instruments.model import AnswerField, CrossRule, Instrument

ODS_PATTERN = r"^[A-Z0-9]{3,5}$"
EMAIL_PATTERN = r"^[^@\s<>]+@[^@\s<>]+\.[A-Za-z]{2,}$"
POSTCODE_PATTERN = r"^(?:GIR 0AA|[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2})$"
TOLERANCE = 1e-9
OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b + TOLERANCE, "<": lambda a, b: a < b - TOLERANCE,
    ">=": lambda a, b: a + TOLERANCE >= b, ">": lambda a, b: a > b + TOLERANCE,
    "==": lambda a, b: abs(a - b) <= TOLERANCE,
}


@dataclass(frozen=True)
class ColumnRule:
    kind: str            # not_null, in_set, between, regex, length
    field_id: str
    code: str
    params: tuple
    expected: str
    column: str = "value"   # number, date or value: how the field's answers are typed (see value_column)
    choice_list: str = ""   # in_set: the definition's list the answer must come from


def record_of(f: AnswerField) -> str:
    return f.table or FORM


def value_column(f: AnswerField) -> str:
    """How a field's cleaned answers are typed for checking: ``number``, ``date`` or ``value`` (as read)."""
    if f.type in ("integer", "decimal") and f.option is None:
        return "number"
    return "date" if f.type == "date" else "value"


def column_rules(inst: Instrument, cleaner: Cleaner) -> list[ColumnRule]:
    """The column rules of every field (required, and at most one rule about its value), from the definition."""
    lists = inst.lists()
    rules: list[ColumnRule] = []
    for f in inst.fields():
        item = f.item
        expected = cleaner.expected(f)
        column = value_column(f)

        def add(kind: str, code: str, params: tuple, text: str = expected, choice_list: str = "") -> None:
            rules.append(ColumnRule(kind, f.field_id, code, params, text, column, choice_list))

        if item.required and f.option is None:
            add("not_null", "V001", ())
        if f.choice_list:
            add("in_set", "V004", tuple(c.label for c in lists[f.choice_list]), choice_list=f.choice_list)
        elif f.type in ("integer", "decimal") and (item.min is not None or item.max is not None):
            add("between", "V003", (item.min, item.max))
        elif f.type == "date" and (item.min_date or item.max_date):
            add("between", "V003", (pd.Timestamp(item.min_date) if item.min_date else None,
                                    pd.Timestamp(item.max_date) if item.max_date else None))
        elif f.type == "ods_code":
            add("regex", "V005", (ODS_PATTERN,))
        elif f.type == "email":
            add("regex", "V007", (EMAIL_PATTERN,))
        elif f.type == "postcode":
            add("regex", "V011", (POSTCODE_PATTERN,))
        elif f.type in ("text", "long_text") and item.max_length:
            add("length", "V010", (0, item.max_length), f"at most {item.max_length} characters")
    return rules


# ---- the checks table and its checks ------------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    """One check over the checks table (one expectation in GX), carrying one kind of rule for ``fields``.

    Every required answer is checked at once (``answer`` where ``required``); so is every choice
    (``choice`` holds "list id + separator + answer", checked against every list's labels), and every
    lower and every upper bound (``number`` or ``date`` against the row's own bound in ``<column>_min``
    or ``<column>_max``). Patterns and lengths are grouped by their parameters, each group with a column
    of its own fields' answers.
    """

    kind: str               # not_null, in_set, at_least, at_most, regex, length
    column: str
    params: tuple           # in_set: every allowed key; at_least/at_most: (bound column,); length: (min, max);
    #                         regex: (pattern,)
    fields: tuple[str, ...]

    @property
    def rule(self) -> str:
        """The kind of :class:`ColumnRule` this check carries."""
        return "between" if self.kind in ("at_least", "at_most") else self.kind


CHOICE_SEP = "\x1f"


def choice_key(choice_list: str, value) -> str:
    return f"{choice_list}{CHOICE_SEP}{value}"


def plan_checks(rules: list[ColumnRule]) -> list[Check]:
    required = tuple(r.field_id for r in rules if r.kind == "not_null")
    choices = [r for r in rules if r.kind == "in_set"]
    checks = [Check("not_null", "answer", (), required)] if required else []
    if choices:
        keys = tuple(dict.fromkeys(choice_key(r.choice_list, label) for r in choices for label in r.params))
        checks.append(Check("in_set", "choice", keys, tuple(r.field_id for r in choices)))
    for column in ("number", "date"):
        bounded = [r for r in rules if r.kind == "between" and r.column == column]
        for kind, side, end in (("at_least", 0, "min"), ("at_most", 1, "max")):
            fields = tuple(r.field_id for r in bounded if r.params[side] is not None)
            if fields:
                checks.append(Check(kind, column, (f"{column}_{end}",), fields))
    groups: dict[tuple, list[str]] = {}
    for r in rules:
        if r.kind in ("regex", "length"):
            groups.setdefault((r.kind, r.params), []).append(r.field_id)
    for n, ((kind, params), fields) in enumerate(groups.items(), start=1):
        checks.append(Check(kind, f"{kind}_{n}", params, tuple(fields)))
    return checks


@dataclass
class UnitChecks:
    """One return's rows of the checks table (see :func:`build_checks`), made where it was examined."""

    rows: list[tuple[str, int]]      # (record, row index) of each row
    names: list[str]                 # its field
    answers: list                    # its cleaned answer, None when blank
    unreadable: set[tuple[str, int, str]]   # (record, row index, field) of answers that could not be read
    lengths: dict[tuple[str, int, str], int] = field(default_factory=dict)   # real length of answers cut


@dataclass(frozen=True)
class RuledFields:
    """What :func:`unit_checks` needs of the rules, worked out once per instrument version."""

    ruled: frozenset[str]                # fields with any column rule
    required: frozenset[str]             # fields with the required rule
    by_record: dict[str, list[str]]      # each record's ruled fields, in definition order


def ruled_fields(inst: Instrument, rules: list[ColumnRule]) -> RuledFields:
    ruled = frozenset(r.field_id for r in rules)
    by_record: dict[str, list[str]] = {}
    for f in field_map(inst).values():
        if f.field_id in ruled:
            by_record.setdefault(record_of(f), []).append(f.field_id)
    return RuledFields(ruled, frozenset(r.field_id for r in rules if r.kind == "not_null"), by_record)


def unit_checks(fields: RuledFields, ext: Extracted) -> UnitChecks:
    """A row per answer a rule applies to: present answers, and the blank answers of required fields
    (form: once; tables: every row holding anything). An answer that could not be read (already
    reported) counts as blank."""
    ruled, required = fields.ruled, fields.required
    present = {(c.record, c.row_index, c.field_id): c.value for c in ext.cells
               if not c.bad and c.value is not None and c.field_id in ruled}
    out = UnitChecks([], [], [], {(c.record, c.row_index, c.field_id) for c in ext.cells if c.bad},
                     {(c.record, c.row_index, c.field_id): c.length for c in ext.cells if c.length})
    for record, ids in fields.by_record.items():
        for row in [0] if record == FORM else sorted(ext.started.get(record, ())):
            where = (record, row)   # one tuple for the row's answers: a platform export has hundreds of thousands
            for field_id in ids:
                value = present.get((record, row, field_id))
                if value is not None or field_id in required:
                    out.rows.append(where)
                    out.names.append(field_id)
                    out.answers.append(value)
    return out


def build_checks(rules: list[ColumnRule], checks: list[Check],
                 units: dict[int, UnitChecks]) -> tuple[pd.DataFrame, list[tuple[int, str, int]]]:
    """The tidy table the checks run on: every return's :class:`UnitChecks` rows, one under another.

    Columns: ``field``, ``required``, ``answer`` (as cleaned), ``choice``; ``number``/``date`` with the
    row's field's bounds in ``number_min``, ``number_max``, ``date_min`` and ``date_max``; and one column
    per pattern or length check holding its fields' answers. ``keys[i]`` is row i's (unit, record, row
    index); the index is a fresh 0-based RangeIndex (GX 1.24 with pandas 3 misreports rows of any other).
    """
    required = {r.field_id for r in rules if r.kind == "not_null"}
    lists = {r.field_id: r.choice_list for r in rules if r.kind == "in_set"}
    bounds = {r.field_id: (r.column, r.params) for r in rules if r.kind == "between"}
    own = {f: c.column for c in checks if c.kind in ("regex", "length") for f in c.fields}
    keys: list[tuple[int, str, int]] = []
    names: list[str] = []
    answers: list = []
    for unit, found in units.items():
        last = key = None
        for where in found.rows:   # a row's answers share its key, as they share ``where`` (see unit_checks)
            if where is not last:
                last, key = where, (unit, *where)
            keys.append(key)
        names.extend(found.names)
        answers.extend(found.answers)
    n = len(names)
    data = {"field": pd.Series(names, dtype=object),
            "required": pd.Series([name in required for name in names], dtype=bool),
            "answer": pd.Series(answers, dtype=object),
            "choice": pd.Series([choice_key(lists[name], v) if name in lists and v is not None else None
                                 for name, v in zip(names, answers)], dtype=object)}
    for column in ("number", "date"):
        rows = [i for i, name in enumerate(names) if bounds.get(name, ("",))[0] == column]
        for suffix, side in (("", None), ("_min", 0), ("_max", 1)):
            values = np.full(n, None, dtype=object)
            values[rows] = [answers[i] if side is None else bounds[names[i]][1][side] for i in rows]
            data[column + suffix] = (pd.Series(np.where(values == None, np.nan, values), dtype="float64")  # noqa: E711
                                     if column == "number" else
                                     pd.Series(pd.to_datetime(values), dtype="datetime64[ns]"))
    at: dict[str, list[int]] = {}   # a pattern or length check's column -> the answered rows of its fields
    for i, (name, value) in enumerate(zip(names, answers)):
        if value is not None and name in own:
            at.setdefault(own[name], []).append(i)
    for check in checks:
        if check.kind in ("regex", "length"):
            rows = at.get(check.column, [])
            values = np.full(n, None, dtype=object)
            values[rows] = [answers[i] for i in rows]
            data[check.column] = pd.Series(values, dtype=object)
    return pd.DataFrame(data, index=pd.RangeIndex(n)), keys


# ---- issues from column rules ---------------------------------------------------------------------------

def _message(rule: ColumnRule, f: AnswerField, value, record: str, row: int | None, length: int | None = None) -> str:
    label = f.label
    shown = display(value.to_pydatetime() if isinstance(value, pd.Timestamp) else value)
    if rule.kind == "not_null":
        where = f" (row {row} has other answers)" if record != FORM and row else ""
        return f"{label} is required{where}"
    if rule.kind == "in_set":
        return f"'{shown}' is not one of the choices for {label}"
    if rule.kind == "between":
        return f"{label} is {shown}; expected {rule.expected}"
    if rule.kind == "regex":
        what = {"V005": "an ODS code", "V007": "an email address", "V011": "a UK postcode"}[rule.code]
        return f"'{shown}' in {label} is not {what}"
    return f"{label} is {length or len(str(value)):,} characters long; at most {rule.params[1]:,} allowed"


def column_issues(inst: Instrument, rules: list[ColumnRule], frame: pd.DataFrame, keys: list, results,
                  extracts: dict[int, Extracted], units: dict[int, UnitChecks]) -> dict[int, list[Issue]]:
    """Issues per unit from an engine's failing rows of the checks table.

    A required answer that is present but unreadable (already reported as not a number, not a date…)
    is not reported again as missing; nor is any answer of a sheet or column that is missing altogether.
    """
    fields = field_map(inst)
    rule_of = {(r.field_id, r.kind): r for r in rules}
    field_ids = frame["field"].to_numpy()
    out: dict[int, list[Issue]] = {}
    values = frame["answer"].to_numpy()
    for check, positions in results:
        for pos in positions:
            unit, record, row_index = keys[pos]
            rule = rule_of[(field_ids[pos], check.rule)]
            ext = extracts[unit]
            if (record, rule.field_id) in ext.missing:
                continue
            if rule.kind == "not_null" and (record, row_index, rule.field_id) in units[unit].unreadable:
                continue
            value = values[pos]
            loc = ext.locate(record, row_index, rule.field_id)
            f = fields[rule.field_id]
            out.setdefault(unit, []).append(Issue(
                rule.code, _message(rule, f, value, record, loc["row"],
                                    units[unit].lengths.get((record, row_index, rule.field_id))), field=rule.field_id,
                value=value.to_pydatetime() if isinstance(value, pd.Timestamp) else value,
                expected=rule.expected, **loc))
    return out


# ---- cross-field rules and duplicate rows ----------------------------------------------------------------

def _side_total(values: Iterable[float | None]) -> float | None:
    values = list(values)
    if all(v is None for v in values):
        return None
    return float(sum(v for v in values if v is not None))


def cross_issues(inst: Instrument, ext: Extracted) -> list[Issue]:
    """Cross-field rules (form and table, row by row), duplicate rows and required multiple choice."""
    fields = field_map(inst)
    nums: dict[tuple[str, int, str], float] = {}
    cells = {}
    for cell in ext.cells:
        cells[(cell.record, cell.row_index, cell.field_id)] = cell
        if cell.num is not None and not cell.bad:
            nums[(cell.record, cell.row_index, cell.field_id)] = cell.num
    out: list[Issue] = []

    def value(record: str, row: int, ref: str) -> float | None:
        if ref.startswith("sum:"):
            table, _, col = ref[4:].partition(".")
            return _side_total(nums.get((table, r, col)) for r in sorted(ext.started.get(table, ())))
        return nums.get((record, row, ref))

    def check(rule: CrossRule, record: str, row: int) -> None:
        if any((record if not ref.startswith("sum:") else ref[4:].partition(".")[0],
                ref if not ref.startswith("sum:") else ref[4:].partition(".")[2]) in ext.missing
               for ref in (*rule.left, *rule.right)):
            return
        left = _side_total(value(record, row, ref) for ref in rule.left)
        right = _side_total(value(record, row, ref) for ref in rule.right)
        if left is None or right is None or OPS[rule.op](left, right):
            return
        first = next(ref for ref in rule.left if not ref.startswith("sum:")) if any(
            not ref.startswith("sum:") for ref in rule.left) else None
        loc = ext.locate(record, row, first) if first else {"file": "", "sheet": "", "cell": "", "row": None,
                                                            "column": ""}
        names = " + ".join(_name(fields, ref) for ref in rule.left)
        rnames = " + ".join(_name(fields, ref) for ref in rule.right)
        out.append(Issue("V009", f"{rule.message} ({names} = {display(left)}; {rnames} = {display(right)})",
                         field=first or "", value=display(left), expected=f"{rule.op} {display(right)}",
                         severity=rule.severity, **loc))

    for rule in inst.rules:
        if rule.table:
            for row in sorted(ext.started.get(rule.table, ())):
                check(rule, rule.table, row)
        else:
            check(rule, FORM, 0)
    for _, table in inst.tables():
        for rule in table.rules:
            for row in sorted(ext.started.get(table.id, ())):
                check(rule, table.id, row)
        if table.unique:
            out.extend(_duplicates(table, ext, cells, fields))
    out.extend(_multiple_choice_required(inst, ext, cells))
    return out


def _name(fields: dict[str, AnswerField], ref: str) -> str:
    if ref.startswith("sum:"):
        table, _, col = ref[4:].partition(".")
        return f"total of {fields[col].label}" if col in fields else ref
    return fields[ref].label if ref in fields else ref


def _key_part(cell) -> str:
    if cell is None:
        return ""
    text = cell.text if cell.text is not None else display(cell.raw)
    return re.sub(r"\s+", " ", text).strip().casefold()


def _duplicates(table, ext: Extracted, cells: dict, fields: dict[str, AnswerField]) -> list[Issue]:
    out = []
    seen: dict[tuple, int] = {}
    labels = ", ".join(fields[c].label for c in table.unique if c in fields)
    for row in sorted(ext.started.get(table.id, ())):
        key = tuple(_key_part(cells.get((table.id, row, col))) for col in table.unique)
        if not any(key):
            continue
        if key in seen:
            first = ext.locate(table.id, seen[key], table.unique[0])
            loc = ext.locate(table.id, row, table.unique[0])
            out.append(Issue("V008", f"row {loc['row']} repeats row {first['row']} (same {labels}); merge them into "
                                     "one row or tell them apart", field=table.unique[0],
                             value=" | ".join(k for k in key), expected=f"a row unlike row {first['row']}", **loc))
        else:
            seen[key] = row
    return out


def _multiple_choice_required(inst: Instrument, ext: Extracted, cells: dict) -> list[Issue]:
    out = []
    for f in inst.all_items():
        if f.type != "multiple_choice" or not f.required:
            continue
        options = [af for af in field_map(inst).values() if af.item.id == f.id]
        record = record_of(options[0])
        rows = [0] if record == FORM else sorted(ext.started.get(record, ()))
        for row in rows:
            ticked = any((c := cells.get((record, row, o.field_id))) is not None and c.text == "Yes" for o in options)
            if not ticked:
                loc = ext.locate(record, row, options[0].field_id)
                out.append(Issue("V001", f"{f.label}: tick at least one option", field=options[0].field_id,
                                 expected="at least one 'Yes'", **loc))
    return out
