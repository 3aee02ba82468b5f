"""What goes wrong with real returns: who does not reply, who sends another format, errors and mess.

:func:`plan_round` decides, from the seed alone, which organisations do not return, which resubmit,
which send .sav/.csv/.ods/.xls instead of .xlsx, and how many errors and warnings each return gets.
Above messiness 0 every kind appears at least once when there are enough organisations (so a small
simulated round still exercises ingest), and the counts then grow with messiness.

:class:`Injector` changes a copy of clean :class:`~trust_survey.simulate.fill.Answers` and says
exactly what it did (:class:`Injection`). Errors break a rule of the definition and must be reported
back to the trust; warnings are mess that ingest should clean and mention ("N/A", "-", stray spaces,
numbers stored as text, "1,234", dates typed as text, band spellings such as "B7"). Kinds are dealt
round-robin across the round so each kind turns up. A value the writer must put in the file exactly
as given (text in a number cell, a code outside the list) is wrapped in :class:`Written`.
"""
from __future__ import annotations

import datetime as dt
import random
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from trust_survey.instruments.model import AnswerField, Instrument
from trust_survey.simulate import vocabulary as V
from trust_survey.simulate.fill import Answers, form_rules, rule_sides, table_rules

SHEET_FORMATS = ("xlsx", "ods", "xls")
OTHER_FORMATS = ("sav", "csv", "ods", "xls")
ERROR, WARNING = "error", "warning"


@dataclass(frozen=True)
class Written:
    """A value written to the file exactly as it is, never turned into a code or a date."""

    value: Any

    def __str__(self) -> str:
        return str(self.value)


@dataclass
class Injection:
    kind: str
    severity: str
    table: str | None          # None for a form answer
    row: int | None            # 0-based row of the table
    field_id: str
    written: Any               # what the file holds (None = blank)
    clean: Any                 # what a careful person would have entered
    message: str


@dataclass(frozen=True)
class OrgPlan:
    returned: bool = True
    fmt: str = "xlsx"
    errors: int = 0
    warnings: int = 0
    resubmit: bool = False


def plan_round(codes: list[str], messiness: float, seed: int) -> dict[str, OrgPlan]:
    """Who returns what: deterministic for the seed, the organisation codes and the messiness."""
    if messiness <= 0 or not codes:
        return {c: OrgPlan() for c in codes}
    m = min(messiness, 1.0)
    rng = random.Random(f"{seed}:plan")
    order = list(codes)
    rng.shuffle(order)
    n = len(order)
    k_missing = min(n - 1, max(1, round(n * 0.2 * m))) if n >= 2 else 0
    missing, returners = order[:k_missing], order[k_missing:]
    r = len(returners)
    k_resub = min(r, max(1, round(r * 0.03 * m)))
    k_formats = min(r, max(min(len(OTHER_FORMATS), r - 1), round(r * 0.2 * m)))
    k_errors = min(r, max(1, round(r * 0.5 * m)))
    k_warnings = min(r, max(1, round(r * 0.8 * m)))
    resub = set(returners[:k_resub])
    errors = set(returners[:k_resub]) | set(rng.sample(returners[k_resub:], max(0, k_errors - k_resub)))
    warned = set(rng.sample(returners, k_warnings))
    fmt = {c: OTHER_FORMATS[i % len(OTHER_FORMATS)] for i, c in enumerate(rng.sample(returners, k_formats))}
    plans = {c: OrgPlan(returned=False, fmt="") for c in missing}
    for c in returners:
        n_err = 1 + sum(rng.random() < 0.6 * m for _ in range(3)) if c in errors else 0
        n_warn = 1 + sum(rng.random() < 0.6 * m for _ in range(3)) if c in warned else 0
        plans[c] = OrgPlan(True, fmt.get(c, "xlsx"), n_err, n_warn, c in resub)
    return {c: plans[c] for c in codes}


# ---- the injections ------------------------------------------------------------------------------------

class _Target:
    """The answers being spoiled, the format they go into, and the cells already used."""

    def __init__(self, inst: Instrument, answers: Answers, fmt: str, rng: random.Random):
        self.inst, self.a, self.fmt, self.rng = inst, answers, fmt, rng
        self.used: set[tuple] = set()
        self.fields = {f.field_id: f for f in inst.fields()}
        self.in_rules = {ref for r in inst.rules for side in (r.left, r.right) for ref in side}
        for _, t in inst.tables():
            self.in_rules |= {ref for r in t.rules for side in (r.left, r.right) for ref in side}
        self.lists = inst.lists()

    @property
    def sheet(self) -> bool:
        return self.fmt in SHEET_FORMATS

    def cells(self, want: Callable[[AnswerField, Any], bool]):
        """Every unused (table, row, field) whose field and current value pass ``want``."""
        out = []
        for fid, value in self.a.form.items():
            f = self.fields.get(fid)
            if f and fid != self.inst.id_item and ("form", None, fid) not in self.used and want(f, value):
                out.append((None, None, f))
        for tid, rows in self.a.tables.items():
            for i, row in enumerate(rows):
                for fid, value in row.items():
                    f = self.fields.get(fid)
                    free = (tid, i, fid) not in self.used and (tid, i, "*") not in self.used
                    if f and free and want(f, value):
                        out.append((tid, i, f))
        return out

    def get(self, table, row, fid):
        return self.a.form.get(fid) if table is None else self.a.tables[table][row].get(fid)

    def put(self, kind, severity, table, row, fid, value, message, *, whole_row=False) -> Injection:
        clean = self.get(table, row, fid)
        if table is None:
            self.a.form[fid] = value
            self.used.add(("form", None, fid))
        else:
            self.a.tables[table][row][fid] = value
            self.used.add((table, row, "*" if whole_row else fid))
        written = value.value if isinstance(value, Written) else value
        return Injection(kind, severity, table, row, fid, written, clean, message)

    def pick(self, cells):
        return self.rng.choice(cells) if cells else None


def _is_number(f: AnswerField) -> bool:
    return f.type in ("integer", "decimal")


def _num(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _bad_code(t: _Target, f: AnswerField) -> int:
    taken = {c.value for c in t.lists[f.choice_list]} | {m.value for m in t.inst.spss_missing}
    return next(v for v in range(10, 1000) if v not in taken)


# errors -------------------------------------------------------------------------------------------------

def _table_rule(rule_id: str):
    def inject(t: _Target) -> list[Injection]:
        for _, table in t.inst.tables():
            rule = next((r for r in table_rules(t.inst, table.id) if r.id == rule_id), None)
            if rule is None or len(rule.left) != 1 or rule.op not in ("<=", "<"):
                continue
            rows = [i for i, row in enumerate(t.a.tables.get(table.id, []))
                    if all((table.id, i, c) not in t.used for c in (*rule.left, *rule.right, "*"))
                    and all(_num(row.get(c)) for c in rule.right)]
            if not rows:
                return []
            i = t.rng.choice(rows)
            row = t.a.tables[table.id][i]
            right = sum(row[c] for c in rule.right)
            f = t.fields[rule.left[0]]
            bump = t.rng.choice((1, 2, 3)) if f.type == "integer" else t.rng.choice((0.5, 1.0, 2.5))
            value = right + bump
            if f.item.max is not None and value > f.item.max:
                return []
            inj = t.put(rule_id, ERROR, table.id, i, f.field_id, value, rule.message)
            for c in rule.right:
                t.used.add((table.id, i, c))
            return [inj]
        return []
    return inject


def _form_rule(rule_id: str):
    def inject(t: _Target) -> list[Injection]:
        rule = next(r for r in form_rules(t.inst) if r.id == rule_id)
        refs = [r for r in rule.left if not r.startswith("sum:") and ("form", None, r) not in t.used]
        if not refs or any(("form", None, r) in t.used for r in rule.right):
            return []
        fid = refs[-1]
        f = t.fields[fid]
        sides = rule_sides(rule, t.a.form, t.a.tables) or (0, 0)
        current = t.a.form.get(fid) if _num(t.a.form.get(fid)) else 0
        gap = sides[1] - sides[0] if rule.op in ("<=", "<", "==") else sides[0] - sides[1]
        value = current + gap + t.rng.choice((1, 2)) if rule.op != ">" else current - gap - 1
        if value < (f.item.min or 0) or (f.item.max is not None and value > f.item.max):
            return []
        inj = t.put(rule_id, ERROR, None, None, fid, value, rule.message)
        for r in (*rule.left, *rule.right):
            t.used.add(("form", None, r))
        return [inj]
    return inject


def _choice_not_in_list(t: _Target) -> list[Injection]:
    cells = t.cells(lambda f, v: f.item.type == "single_choice" and v is not None)
    bands = [c for c in cells if c[2].item.choice_list == "afc_bands"]
    cell = t.pick(bands or cells)
    if cell is None:
        return []
    table, row, f = cell
    if t.sheet:
        value = t.rng.choice(V.BAD_BANDS) if f.item.choice_list == "afc_bands" else "Other (see notes)"
    else:
        value = _bad_code(t, f)
    return [t.put("choice_not_in_list", ERROR, table, row, f.field_id, Written(value),
                  f"'{value}' is not one of the choices for {f.label}.")]


def _missing_required(t: _Target) -> list[Injection]:
    unique = {c for _, tb in t.inst.tables() for c in tb.unique}
    cells = t.cells(lambda f, v: f.item.required and f.option is None and v is not None
                    and f.field_id not in t.in_rules | unique and f.field_id != "org_name")
    cell = t.pick(cells)
    if cell is None:
        return []
    table, row, f = cell
    return [t.put("missing_required", ERROR, table, row, f.field_id, None, f"{f.label} is required.")]


def _text_in_number(t: _Target) -> list[Injection]:
    if t.fmt == "sav":
        return []
    cell = t.pick(t.cells(lambda f, v: _is_number(f) and f.item.required and _num(v)))
    if cell is None:
        return []
    table, row, f = cell
    value = t.rng.choice(V.NOT_NUMBERS)
    return [t.put("text_in_number", ERROR, table, row, f.field_id, Written(value),
                  f"{f.label} needs a number, not '{value}'.", whole_row=table is not None)]


def _number_out_of_range(t: _Target) -> list[Injection]:
    cell = t.pick(t.cells(lambda f, v: _is_number(f) and f.item.max is not None
                          and f.field_id not in t.in_rules))
    if cell is None:
        return []
    table, row, f = cell
    value = int(f.item.max) + t.rng.choice((1, 5, 30))
    return [t.put("number_out_of_range", ERROR, table, row, f.field_id, value,
                  f"{f.label} must be at most {f.item.max:g}.")]


def _duplicate_row(t: _Target) -> list[Injection]:
    for _, table in t.inst.tables():
        rows = t.a.tables.get(table.id, [])
        free = [i for i, _ in enumerate(rows) if not any(u[0] == table.id and u[1] == i for u in t.used)]
        if not table.unique or not free or len(rows) >= table.max_rows:
            continue
        source = t.rng.choice(free)
        rows.append(dict(rows[source]))
        new = len(rows) - 1
        t.used.add((table.id, new, "*"))
        t.used.add((table.id, source, "*"))
        cols = ", ".join(t.fields[c].label for c in table.unique)
        key = table.unique[0]
        return [Injection("duplicate_row", ERROR, table.id, new, key, rows[new][key], None,
                          f"Row repeats data row {source + 1} on {cols}.")]
    return []


def _date_not_a_date(t: _Target) -> list[Injection]:
    if t.fmt == "sav":
        return []
    cell = t.pick(t.cells(lambda f, v: f.type == "date" and isinstance(v, dt.date)))
    if cell is None:
        return []
    table, row, f = cell
    value = t.rng.choice((f"31/02/{t.get(table, row, f.field_id).year}", "TBC", "last week"))
    return [t.put("date_not_a_date", ERROR, table, row, f.field_id, Written(value),
                  f"{f.label} needs a date, not '{value}'.")]


# warnings ---------------------------------------------------------------------------------------------

def _blank_word(kind: str, words):
    def inject(t: _Target) -> list[Injection]:
        if t.fmt == "sav":
            return []
        cell = t.pick(t.cells(lambda f, v: _is_number(f) and not f.item.required and (v is None or v == 0)))
        if cell is None:
            return []
        table, row, f = cell
        value = t.rng.choice(words)
        return [t.put(kind, WARNING, table, row, f.field_id, Written(value),
                      f"'{value}' in {f.label} read as blank.")]
    return inject


def _extra_spaces(t: _Target) -> list[Injection]:
    def want(f, v):
        return isinstance(v, str) and v and (f.type in ("text", "long_text") or (t.sheet and f.choice_list))
    cell = t.pick(t.cells(want))
    if cell is None:
        return []
    table, row, f = cell
    clean = t.get(table, row, f.field_id)
    value = "  " + clean if t.fmt == "sav" else clean + t.rng.choice(("  ", " ", "   "))
    return [t.put("extra_spaces", WARNING, table, row, f.field_id, Written(value),
                  f"Spaces around '{clean}' in {f.label} removed.")]


def _number_as_text(t: _Target) -> list[Injection]:
    if not t.sheet:
        return []
    cell = t.pick(t.cells(lambda f, v: _is_number(f) and _num(v)))
    if cell is None:
        return []
    table, row, f = cell
    clean = t.get(table, row, f.field_id)
    value = f"{clean:g}" if isinstance(clean, float) else str(clean)
    return [t.put("number_as_text", WARNING, table, row, f.field_id, Written(value),
                  f"{f.label} was stored as text '{value}'.")]


def _thousands_separator(t: _Target) -> list[Injection]:
    if t.fmt == "sav":
        return []
    cell = t.pick(t.cells(lambda f, v: _is_number(f) and _num(v) and v >= 1000))
    if cell is None:
        return []
    table, row, f = cell
    value = f"{t.get(table, row, f.field_id):,}"
    return [t.put("thousands_separator", WARNING, table, row, f.field_id, Written(value),
                  f"{f.label} written with a thousands separator.")]


def _date_as_text(t: _Target) -> list[Injection]:
    if t.fmt == "sav":
        return []
    cell = t.pick(t.cells(lambda f, v: f.type == "date" and isinstance(v, dt.date)))
    if cell is None:
        return []
    table, row, f = cell
    d = t.get(table, row, f.field_id)
    value = t.rng.choice((f"{d.day}/{d.month}/{d.year}", f"{d.day:02d}.{d.month:02d}.{d.year}",
                          f"{d.day} {d:%b} {d.year}"))
    return [t.put("date_as_text", WARNING, table, row, f.field_id, Written(value),
                  f"{f.label} typed as text '{value}' (day first).")]


def _band_spelling(t: _Target) -> list[Injection]:
    if not t.sheet:
        return []
    codes = {c.label: c.key for c in t.lists.get("afc_bands", [])}
    cell = t.pick(t.cells(lambda f, v: f.item.choice_list == "afc_bands"
                          and codes.get(v) in V.BAND_SPELLINGS))
    if cell is None:
        return []
    table, row, f = cell
    value = t.rng.choice(V.BAND_SPELLINGS[codes[t.get(table, row, f.field_id)]])
    return [t.put("band_spelling", WARNING, table, row, f.field_id, Written(value),
                  f"Band '{value}' read as '{t.get(table, row, f.field_id)}'.")]


def _choice_case(t: _Target) -> list[Injection]:
    if not t.sheet:
        return []
    cell = t.pick(t.cells(lambda f, v: bool(f.choice_list) and f.item.choice_list != "afc_bands"
                          and isinstance(v, str) and v.lower() != v))
    if cell is None:
        return []
    table, row, f = cell
    clean = t.get(table, row, f.field_id)
    value = t.rng.choice((clean.lower(), clean.upper()))
    return [t.put("choice_case", WARNING, table, row, f.field_id, Written(value),
                  f"'{value}' read as '{clean}'.")]


def error_kinds(inst: Instrument) -> dict[str, Callable]:
    kinds: dict[str, Callable] = {}
    for _, table in inst.tables():
        for rule in table_rules(inst, table.id):
            if rule.severity == ERROR:
                kinds[rule.id] = _table_rule(rule.id)
    for rule in form_rules(inst):
        if rule.severity == ERROR:
            kinds[rule.id] = _form_rule(rule.id)
    kinds.update({
        "choice_not_in_list": _choice_not_in_list, "missing_required": _missing_required,
        "text_in_number": _text_in_number, "number_out_of_range": _number_out_of_range,
        "duplicate_row": _duplicate_row, "date_not_a_date": _date_not_a_date,
    })
    return kinds


WARNING_KINDS: dict[str, Callable] = {
    "not_applicable": _blank_word("not_applicable", V.NOT_APPLICABLE),
    "dash_for_blank": _blank_word("dash_for_blank", ("-", "--")),
    "extra_spaces": _extra_spaces, "number_as_text": _number_as_text,
    "thousands_separator": _thousands_separator, "date_as_text": _date_as_text,
    "band_spelling": _band_spelling, "choice_case": _choice_case,
}


class Injector:
    """Deals error and warning kinds round-robin across a round and applies them to answers."""

    def __init__(self, inst: Instrument, seed: int):
        self.inst = inst
        rng = random.Random(f"{seed}:kinds")
        self.kinds = {ERROR: error_kinds(inst), WARNING: dict(WARNING_KINDS)}
        self.queues = {}
        for severity, kinds in self.kinds.items():
            names = sorted(kinds)
            rng.shuffle(names)
            self.queues[severity] = deque(names)

    def _deal(self, severity: str, target: _Target) -> list[Injection]:
        queue = self.queues[severity]
        for _ in range(len(queue)):
            name = queue[0]
            queue.rotate(-1)
            done = self.kinds[severity][name](target)
            if done:
                return done
        return []

    def inject(self, answers: Answers, plan: OrgPlan, org_code: str,
               seed: int) -> tuple[Answers, list[Injection]]:
        """A spoiled copy of ``answers`` with ``plan.errors`` errors and ``plan.warnings`` warnings."""
        spoiled = answers.copy()
        rng = random.Random(f"{seed}:{org_code}:mess")
        target = _Target(self.inst, spoiled, plan.fmt, rng)
        done: list[Injection] = []
        for severity, count in ((ERROR, plan.errors), (WARNING, plan.warnings)):
            for _ in range(count):
                done.extend(self._deal(severity, target))
        return spoiled, done


def corrected(inst: Instrument, answers: Answers, days_later: int) -> Answers:
    """The answers as resubmitted: clean again, with form dates (the sign-off) a little later."""
    fixed = answers.copy()
    for f in inst.fields():
        value = fixed.form.get(f.field_id)
        if f.table is None and f.type == "date" and isinstance(value, dt.date):
            later = value + dt.timedelta(days=days_later)
            fixed.form[f.field_id] = min(later, f.item.max_date) if f.item.max_date else later
    return fixed


def resubmission_delay(seed: int, org_code: str) -> int:
    return random.Random(f"{seed}:{org_code}:resub").randint(3, 14)
