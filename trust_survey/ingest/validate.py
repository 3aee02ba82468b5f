"""Check cleaned answers against the definition that built the workbook; every finding is an Issue.

The column rules (required, in the choice list, between bounds, matching a pattern, not too long) are
compiled once per instrument version from its definition (:func:`column_rules`) and run on one
DataFrame per record type holding every return of the run, so each rule runs once per run, not once
per file. Two engines run the same compiled rules:

- :class:`GxEngine` (the default): Great Expectations 1.x, imported only here, with an ephemeral
  context (no folders, analytics off, progress bars off) created once per run. Results are read with
  the COMPLETE result format from ``unexpected_index_list`` -- complete -- and the values looked up in
  the frame, because GX cuts ``unexpected_list`` to 200 values even in COMPLETE mode. Frames always
  have a fresh 0-based RangeIndex: GX 1.24 with pandas 3 misreports rows for any other index.
- :class:`PandasEngine`: the same rules vectorised in pandas, for very large rounds where GX's few
  seconds of start-up matter (``ingest --engine pandas``). A test keeps the two in agreement.

Cross-field rules (``sum(left) op sum(right)``; skipped when every value on either side is blank,
otherwise blanks count as 0; table rules row by row) and duplicate rows are checked in pandas.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
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


def record_of(f: AnswerField) -> str:
    return f.table or FORM


def column_rules(inst: Instrument, cleaner: Cleaner) -> dict[str, list[ColumnRule]]:
    """The column rules of every record type (``form`` or a table id), from the definition alone."""
    lists = inst.lists()
    out: dict[str, list[ColumnRule]] = {FORM: []}
    for _, table in inst.tables():
        out[table.id] = []
    for f in inst.fields():
        item = f.item
        rules = out[record_of(f)]
        expected = cleaner.expected(f)
        if item.required and f.option is None:
            rules.append(ColumnRule("not_null", f.field_id, "V001", (), expected))
        if f.choice_list:
            labels = tuple(c.label for c in lists[f.choice_list])
            rules.append(ColumnRule("in_set", f.field_id, "V004", labels, expected))
        elif f.type in ("integer", "decimal") and (item.min is not None or item.max is not None):
            rules.append(ColumnRule("between", f.field_id, "V003", (item.min, item.max), expected))
        elif f.type == "date" and (item.min_date or item.max_date):
            lo = pd.Timestamp(item.min_date) if item.min_date else None
            hi = pd.Timestamp(item.max_date) if item.max_date else None
            rules.append(ColumnRule("between", f.field_id, "V003", (lo, hi), expected))
        elif f.type == "ods_code":
            rules.append(ColumnRule("regex", f.field_id, "V005", (ODS_PATTERN,), expected))
        elif f.type == "email":
            rules.append(ColumnRule("regex", f.field_id, "V007", (EMAIL_PATTERN,), expected))
        elif f.type == "postcode":
            rules.append(ColumnRule("regex", f.field_id, "V011", (POSTCODE_PATTERN,), expected))
        elif f.type in ("text", "long_text") and item.max_length:
            rules.append(ColumnRule("length", f.field_id, "V010", (0, item.max_length),
                                    f"at most {item.max_length} characters"))
    return out


# ---- frames -----------------------------------------------------------------------------------------------

def build_frame(inst: Instrument, record: str, extracts: list[tuple[int, Extracted]]) -> tuple[pd.DataFrame, list]:
    """One row per (return, table row) of a record type; columns are field ids; keys map rows back."""
    fields = [f for f in inst.fields() if record_of(f) == record]
    keys: list[tuple[int, int]] = []
    for unit, ext in extracts:
        rows = [0] if record == FORM else sorted(ext.started.get(record, ()))
        keys.extend((unit, r) for r in rows)
    position = {k: i for i, k in enumerate(keys)}
    columns: dict[str, list] = {f.field_id: [None] * len(keys) for f in fields}
    for unit, ext in extracts:
        for cell in ext.cells:
            if cell.record == record and not cell.bad and cell.value is not None:
                pos = position.get((unit, cell.row_index))
                if pos is not None and cell.field_id in columns:
                    columns[cell.field_id][pos] = cell.value
    data = {}
    for f in fields:
        values = columns[f.field_id]
        if f.type in ("integer", "decimal") and f.option is None:
            data[f.field_id] = pd.Series([np.nan if v is None else v for v in values], dtype="float64")
        elif f.type == "date":
            data[f.field_id] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
        else:
            data[f.field_id] = pd.Series(values, dtype=object)
    frame = pd.DataFrame(data, index=pd.RangeIndex(len(keys)))
    return frame, keys


# ---- engines ----------------------------------------------------------------------------------------------

class PandasEngine:
    name = "pandas"

    def run(self, suite: str, frame: pd.DataFrame, rules: list[ColumnRule]) -> list[tuple[ColumnRule, list[int]]]:
        out = []
        for rule in rules:
            col = frame[rule.field_id]
            present = col.notna()
            if rule.kind == "not_null":
                bad = ~present
            elif rule.kind == "in_set":
                bad = present & ~col.isin(list(rule.params))
            elif rule.kind == "between":
                lo, hi = rule.params
                bad = pd.Series(False, index=col.index)
                if lo is not None:
                    bad |= present & (col < lo)
                if hi is not None:
                    bad |= present & (col > hi)
            elif rule.kind == "regex":
                bad = present & ~col.astype(str).str.contains(rule.params[0], regex=True)
            elif rule.kind == "length":
                lengths = col.astype(str).str.len()
                bad = present & ((lengths < rule.params[0]) | (lengths > rule.params[1]))
            else:
                raise ValueError(f"unknown column rule kind {rule.kind}")
            out.append((rule, [int(i) for i in np.flatnonzero(bad.to_numpy())]))
        return out


class GxEngine:
    """Great Expectations, one ephemeral context per run; one suite per instrument version and record."""

    name = "gx"

    def __init__(self) -> None:
        import os

        os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig, InMemoryStoreBackendDefaults, ProgressBarsConfig,
        )

        self.gx = gx
        self.context = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False)))
        self.source = self.context.data_sources.add_pandas("trust_survey_ingest")
        self._definitions: dict[str, object] = {}

    def _expectation(self, rule: ColumnRule, i: int):
        import great_expectations.expectations as gxe

        meta = {"rule": i}
        if rule.kind == "not_null":
            return gxe.ExpectColumnValuesToNotBeNull(column=rule.field_id, meta=meta)
        if rule.kind == "in_set":
            return gxe.ExpectColumnValuesToBeInSet(column=rule.field_id, value_set=list(rule.params), meta=meta)
        if rule.kind == "between":
            lo, hi = rule.params
            return gxe.ExpectColumnValuesToBeBetween(column=rule.field_id, min_value=lo, max_value=hi, meta=meta)
        if rule.kind == "regex":
            return gxe.ExpectColumnValuesToMatchRegex(column=rule.field_id, regex=rule.params[0], meta=meta)
        if rule.kind == "length":
            return gxe.ExpectColumnValueLengthsToBeBetween(column=rule.field_id, min_value=rule.params[0],
                                                           max_value=rule.params[1], meta=meta)
        raise ValueError(f"unknown column rule kind {rule.kind}")

    def _definition(self, suite: str, rules: list[ColumnRule]):
        if suite not in self._definitions:
            gx = self.gx
            name = re.sub(r"[^A-Za-z0-9_]", "_", suite)
            batch = self.source.add_dataframe_asset(name).add_batch_definition_whole_dataframe("all")
            expectations = [self._expectation(rule, i) for i, rule in enumerate(rules)]
            suite_obj = self.context.suites.add(gx.ExpectationSuite(name=name, expectations=expectations))
            self._definitions[suite] = self.context.validation_definitions.add(
                gx.ValidationDefinition(name=name, data=batch, suite=suite_obj))
        return self._definitions[suite]

    def run(self, suite: str, frame: pd.DataFrame, rules: list[ColumnRule]) -> list[tuple[ColumnRule, list[int]]]:
        if not rules or frame.empty:
            return [(rule, []) for rule in rules]
        definition = self._definition(suite, rules)
        result = definition.run(batch_parameters={"dataframe": frame.reset_index(drop=True)},
                                result_format={"result_format": "COMPLETE"})
        out = []
        for r in result.results:
            info = r.exception_info or {}
            if info.get("raised_exception"):
                raise RuntimeError(f"Great Expectations failed on {suite}: {info.get('exception_message')}")
            rule = rules[r.expectation_config.meta["rule"]]
            positions = [int(i) for i in (r.result or {}).get("unexpected_index_list") or []]
            out.append((rule, positions))
        return out


def make_engine(name: str):
    return GxEngine() if name == "gx" else PandasEngine()


# ---- issues from column rules ---------------------------------------------------------------------------

def _message(rule: ColumnRule, f: AnswerField, value, record: str, row: int | None) -> str:
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
    return f"{label} is {len(str(value))} characters long; at most {rule.params[1]} allowed"


def column_issues(inst: Instrument, record: str, frame: pd.DataFrame, keys: list, results,
                  extracts: dict[int, Extracted]) -> dict[int, list[Issue]]:
    """Issues per unit from an engine's failing positions.

    A required answer that is present but unreadable (already reported as not a number, not a date…)
    is not reported again as missing.
    """
    unreadable = {unit: {(c.record, c.row_index, c.field_id) for c in ext.cells if c.bad}
                  for unit, ext in extracts.items()}
    fields = field_map(inst)
    out: dict[int, list[Issue]] = {}
    for rule, positions in results:
        f = fields[rule.field_id]
        for pos in positions:
            unit, row_index = keys[pos]
            ext = extracts[unit]
            if (record, rule.field_id) in ext.missing:
                continue
            if rule.kind == "not_null" and (record, row_index, rule.field_id) in unreadable[unit]:
                continue
            value = frame.at[pos, rule.field_id]
            value = None if (value is None or (not isinstance(value, str) and pd.isna(value))) else value
            loc = ext.locate(record, row_index, rule.field_id)
            out.setdefault(unit, []).append(Issue(
                rule.code, _message(rule, f, value, record, loc["row"]), field=rule.field_id,
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
        options = [af for af in inst.fields() if af.item.id == f.id]
        record = record_of(options[0])
        rows = [0] if record == FORM else sorted(ext.started.get(record, ()))
        for row in rows:
            ticked = any((c := cells.get((record, row, o.field_id))) is not None and c.text == "Yes" for o in options)
            if not ticked:
                loc = ext.locate(record, row, options[0].field_id)
                out.append(Issue("V001", f"{f.label}: tick at least one option", field=options[0].field_id,
                                 expected="at least one 'Yes'", **loc))
    return out
