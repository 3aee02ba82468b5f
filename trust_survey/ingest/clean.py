"""Turn what a trust typed into the value the definition expects, and say what was cleaned.

:class:`Cleaner` reads one answer cell for one :class:`~trust_survey.instruments.model.AnswerField`
and returns a :class:`Cleaned` value: the typed value the column rules check (a float, a choice
label, a ``Timestamp``, text), the canonical text stored in the database, the number behind it, and
notes (issue code, message, expected) for everything it changed or could not read. Nothing is cleaned
silently: "N/A" and "-" become blank (W001), stray spaces go (W002), "12" stored as text becomes 12
(W003), "1,234" becomes 1234 (W004), "0,8" becomes 0.8 (W014), "15/01/2027" becomes a date (W005,
day first, as in the UK), "band 8A"/"B8a"/"AfC Band 8a" become "Band 8a" (W006), "yes"/"acute" match "Yes"/"Acute trust"
ignoring case or by code (W007), "Y"/"TRUE"/"x" become "Yes" (W008), "rj1"/"ls13ex" become "RJ1"/"LS1 3EX"
(W009); control characters such as NUL, ESC, VT or BEL are removed (W015). What cannot be read (text in a
number, an impossible date, a spreadsheet error) is kept as text and reported as an error (V002, V006,
V014); choices that match nothing are left for the in-list rule (V004). A date outside the item's
``min_date``/``max_date`` (else outside :data:`DATE_FLOOR`-:data:`DATE_CEILING`), such as Excel's last day
31/12/9999, is reported here as out of bounds (V003) and goes no further: the checks' date column cannot
hold years past 2262.

Where the value came from matters: SPSS and CSV hold choices as numeric codes and numbers as text
by design, so reading those is not mess and raises no warning.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

import pandas as pd

from trust_survey.ingest.identify import is_individual
from trust_survey.ingest.issues import display
from trust_survey.instruments.model import AnswerField, Choice, Instrument
from trust_survey.common.redact import redact, removal_note
from trust_survey.common.safe_text import CONTROL_CHARS, is_formula_like, strip_controls
from trust_survey.common.values import DateOutOfRange

SHEET, SAV, CSV = "sheet", "sav", "csv"

BLANK_WORDS = {"n/a", "na", "n.a.", "n.a", "-", "--", "---", "\u2013", "\u2014", "nil", "none", "not applicable"}
TEXT_BLANK_WORDS = {"n/a", "n.a.", "-", "--", "---", "\u2013", "\u2014"}
ERROR_VALUES = {"#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!", "#CALC!",
                "#GETTING_DATA", "#ERROR"}
YES_WORDS = {"yes": "Yes", "y": "Yes", "true": "Yes", "1": "Yes", "x": "Yes", "\u2713": "Yes", "\u2714": "Yes",
             "ticked": "Yes", "no": "No", "n": "No", "false": "No", "0": "No"}
NUMBER = re.compile(r"^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$")
THOUSANDS = re.compile(r"^[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$")
#: "0,8" or "1,75": one or two digits after a comma cannot be a thousands group, so it is a decimal comma
#: (as a spreadsheet set to a European locale writes it)
DECIMAL_COMMA = re.compile(r"^[+-]?\d+,\d{1,2}$")
MARKUP = re.compile(r"<\s*/?\s*(script|iframe|object|embed|img|svg|a|style|link|meta|html|body|form|input)\b"
                    r"|javascript\s*:|on\w+\s*=", re.I)
POSTCODE_SPACE = re.compile(r"^([A-Z]{1,2}[0-9][A-Z0-9]?)([0-9][A-Z]{2})$")
#: The dates a return can mean when its item sets no bounds of its own.
DATE_FLOOR, DATE_CEILING = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
DATE_FORMATS = ("%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d-%m-%y", "%d.%m.%Y", "%d.%m.%y", "%d %b %Y", "%d %B %Y",
                "%d %b %y", "%d-%b-%Y", "%d-%b-%y", "%Y/%m/%d", "%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S")

#: Raw values whose cleaning :meth:`Cleaner.clean` remembers: exact types only (a bool is not an int here; text
#: cut at reading or a date out of range carries more than its characters; floats are left out, as -0.0 equals
#: 0.0), text only when short.
MEMO_TYPES = frozenset({str, int, bool})
MEMO_MAX_TEXT = 200
MEMO_MAX_ENTRIES = 50_000

#: names of the C0 controls most often found in text (the rest are named by code point)
CONTROL_NAMES = {"\x00": "NUL", "\x07": "BEL", "\x08": "BS", "\x0b": "VT", "\x0c": "FF", "\x1b": "ESC"}

Note = tuple[str, str, str]   # (code, message, expected)


@dataclass(slots=True)
class Cleaned:
    value: Any = None            # what the column rules check; None = blank
    text: str | None = None      # canonical text stored; for an unreadable value, the value as found
    num: float | None = None
    bad: bool = False            # could not be read as the expected type (an error note says why)
    notes: list[Note] = field(default_factory=list)
    redacted: bool = False       # personal details were removed: issues quote ``text``, never the cell as found


def _band_key(text: str) -> str:
    s = text.casefold()
    s = re.sub(r"agenda\s*for\s*change|afc", "", s)
    s = s.replace("band", "")
    s = re.sub(r"[\s\-_.:()]", "", s)
    return re.sub(r"^b(?=\d)", "", s)


def _label_key(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().casefold()


class _ChoiceIndex:
    def __init__(self, choices: list[Choice]):
        self.labels = {c.label: c for c in choices}
        self.folded = {_label_key(c.label): c for c in choices}
        self.codes = {c.key.casefold(): c for c in choices}
        self.values = {float(c.value): c for c in choices}
        self.is_band = sum(c.label.startswith("Band ") for c in choices) >= 3
        self.bands = {_band_key(c.label): c for c in choices if c.label.startswith("Band ")}
        self.expected = "one of: " + "; ".join(c.label for c in choices)


class Cleaner:
    """Cleans answer cells for one instrument; build it once and reuse it for every file."""

    def __init__(self, inst: Instrument):
        self.inst = inst
        #: Respondents to an individual instrument are pseudonymous: contact details and NHS numbers typed
        #: into their free text are removed before anything is stored (P006, P008), whatever file brought it.
        self.redacts = is_individual(inst)
        self.missing_codes = {float(m.value) for m in inst.spss_missing}
        self._lists = {name: _ChoiceIndex(choices) for name, choices in inst.lists().items()}
        self._handlers: dict[str, Callable] = {}
        self._memo: dict[tuple, Cleaned] = {}
        for f in inst.fields():
            self._handlers[f.field_id] = self._handler_for(f)

    def expected(self, f: AnswerField) -> str:
        """What a field expects, in words, for issue messages."""
        item = f.item
        if f.choice_list:
            return self._lists[f.choice_list].expected
        if f.type in ("integer", "decimal"):
            kind = "a whole number" if f.type == "integer" else "a number"
            if item.min is not None and item.max is not None:
                return f"{kind} from {display(item.min)} to {display(item.max)}"
            return kind
        if f.type == "date":
            lo, hi = item.min_date, item.max_date
            if lo and hi:
                return f"a date from {lo:%d/%m/%Y} to {hi:%d/%m/%Y}"
            return "a date (dd/mm/yyyy)"
        return {"ods_code": "an ODS code of 3 to 5 capital letters and digits, e.g. RJ1",
                "email": "an email address such as name@nhs.net",
                "postcode": "a UK postcode such as LS1 3EX"}.get(f.type, "text")

    def clean(self, f: AnswerField, raw: Any, source: str = SHEET) -> Cleaned:
        """Clean one cell's raw value for field ``f``; ``source`` is sheet, sav or csv.

        The result depends on nothing else, so it is worked out once per field, source and value (a
        platform export repeats a handful of answers per column thousands of times) and the same
        :class:`Cleaned` is returned again: callers read it and never change it."""
        if type(raw) not in MEMO_TYPES or (type(raw) is str and len(raw) > MEMO_MAX_TEXT):
            return self._clean(f, raw, source)
        key = (f.field_id, source, type(raw), raw)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) >= MEMO_MAX_ENTRIES:
                self._memo.clear()
            found = self._memo[key] = self._clean(f, raw, source)
        return found

    def _clean(self, f: AnswerField, raw: Any, source: str) -> Cleaned:
        out = Cleaned()
        if raw is None or (isinstance(raw, float) and math.isnan(raw)):
            return out
        if isinstance(raw, str) and not isinstance(raw, DateOutOfRange):
            if CONTROL_CHARS.search(raw):
                found = sorted({CONTROL_NAMES.get(ch, f"U+{ord(ch):04X}") for ch in CONTROL_CHARS.findall(raw)})
                raw = strip_controls(raw)
                out.notes.append(("W015", f"control characters ({', '.join(found)}) removed from {f.label}; "
                                          "no spreadsheet can hold them", ""))
            if raw.strip() in ERROR_VALUES:
                out.text, out.bad = raw.strip(), True
                out.notes.append(("V014", f"the cell shows the spreadsheet error {raw.strip()} instead of an answer",
                                  self.expected(f)))
                return out
            stripped = raw.strip().strip("\u00a0").strip()
            if not stripped:
                out.notes.append(("W002", "the cell held only spaces; read as blank", ""))
                return out
            if stripped != raw:
                out.notes.append(("W002", f"spaces around '{stripped}' removed", ""))
            raw = stripped
        return self._handlers[f.field_id](f, raw, source, out)

    # ---- handlers ----------------------------------------------------------------------------------
    def _handler_for(self, f: AnswerField) -> Callable:
        if f.choice_list:
            return self._choice
        return {"integer": self._number, "decimal": self._number, "date": self._date,
                "ods_code": self._code, "postcode": self._postcode}.get(f.type, self._text)

    def _blank_word(self, f: AnswerField, raw: Any, out: Cleaned, words=BLANK_WORDS) -> bool:
        if isinstance(raw, str) and raw.casefold() in words:
            out.notes = [n for n in out.notes if n[0] != "W002"]
            out.notes.append(("W001", f"'{raw}' in {f.label} read as blank", ""))
            return True
        return False

    def _number(self, f: AnswerField, raw: Any, source: str, out: Cleaned) -> Cleaned:
        if isinstance(raw, bool) or isinstance(raw, (dt.date, dt.time, dt.timedelta)):
            return self._unreadable(f, raw, out, "V002", f"{f.label} needs a number; found '{display(raw)}'")
        if isinstance(raw, (int, float)):
            number = float(raw)
            if source == SAV and number in self.missing_codes:
                return out
        else:
            if self._blank_word(f, raw, out):
                return out
            text = raw.replace("\u00a3", "").strip() if raw.startswith("\u00a3") else raw
            if NUMBER.match(text):
                number = float(text)
                if source == SHEET:
                    out.notes.append(("W003", f"{f.label} was stored as text '{raw}'; read as the number "
                                              f"{display(number)}", ""))
            elif THOUSANDS.match(text):
                number = float(text.replace(",", ""))
                out.notes.append(("W004", f"'{raw}' in {f.label} read as {display(number)} (thousands separator "
                                          "removed)", ""))
            elif DECIMAL_COMMA.match(text):
                number = float(text.replace(",", "."))
                out.notes.append(("W014", f"'{raw}' in {f.label} read as {display(number)} (decimal comma)", ""))
            else:
                return self._unreadable(f, raw, out, "V002", f"{f.label} needs a number; found '{raw}'")
        if math.isinf(number):
            return self._unreadable(f, raw, out, "V002", f"{f.label} needs a number; found '{display(raw)}'")
        if f.type == "integer" and not number.is_integer():
            return self._unreadable(f, raw, out, "V002",
                                    f"{f.label} needs a whole number; found {display(number)}")
        out.value = number
        out.num = number
        out.text = display(number)
        return out

    def _unreadable(self, f: AnswerField, raw: Any, out: Cleaned, code: str, message: str) -> Cleaned:
        out.value, out.num, out.bad = None, None, True
        out.text = display(raw)
        out.notes.append((code, message, self.expected(f)))
        return out

    def _date(self, f: AnswerField, raw: Any, source: str, out: Cleaned) -> Cleaned:
        when: dt.date | None = None
        if isinstance(raw, DateOutOfRange):
            return self._unreadable(f, raw, out, "V003", f"{f.label} is {raw}; expected {self._date_range(f)}")
        if isinstance(raw, dt.datetime):
            when = raw.date() if raw.time() == dt.time(0) else raw
        elif isinstance(raw, dt.date):
            when = raw
        elif isinstance(raw, str):
            if self._blank_word(f, raw, out):
                return out
            when = _parse_date(raw)
            if when is None:
                return self._unreadable(f, raw, out, "V006", f"{f.label} needs a date; found '{raw}'")
            iso = isinstance(when, dt.date) and raw == when.isoformat()
            if source == SHEET or not iso:
                out.notes.append(("W005", f"{f.label} was typed as text '{raw}'; read as {display(when)} "
                                          "(day first)", ""))
        else:
            return self._unreadable(f, raw, out, "V006", f"{f.label} needs a date; found '{display(raw)}'")
        day = when.date() if isinstance(when, dt.datetime) and when.time() == dt.time(0) else when
        lo, hi = _date_bounds(f)
        if not lo <= (day.date() if isinstance(day, dt.datetime) else day) <= hi:
            return self._unreadable(f, raw, out, "V003", f"{f.label} is {display(day)}; expected {self._date_range(f)}")
        out.value = pd.Timestamp(day)
        out.text = day.isoformat()
        return out

    @staticmethod
    def _date_range(f: AnswerField) -> str:
        lo, hi = _date_bounds(f)
        return f"a date from {lo:%d/%m/%Y} to {hi:%d/%m/%Y}"

    def _choice(self, f: AnswerField, raw: Any, source: str, out: Cleaned) -> Cleaned:
        index = self._lists[f.choice_list]
        choice: Choice | None = None
        if isinstance(raw, bool):
            if f.choice_list == "yes_no":
                choice = index.labels["Yes" if raw else "No"]
                out.notes.append(("W008", f"{display(raw)} in {f.label} read as '{choice.label}'", ""))
        elif isinstance(raw, (int, float)):
            number = float(raw)
            if source == SAV and number in self.missing_codes:
                return out
            choice = index.values.get(number)
            if choice is not None and source == SHEET:
                code = "W008" if f.choice_list == "yes_no" else "W007"
                out.notes.append((code, f"{display(raw)} in {f.label} read by its code as '{choice.label}'", ""))
        elif isinstance(raw, str):
            choice = index.labels.get(raw)
            if choice is None:
                choice = self._match_text(f, raw, index, source, out)
            if choice is None and self._blank_word(f, raw, out):
                return out
        if choice is None:
            # Left as found for the in-list rule (V004) to report.
            out.value = out.text = display(raw)
            return out
        out.value = out.text = choice.label
        out.num = float(choice.value)
        return out

    def _match_text(self, f: AnswerField, raw: str, index: _ChoiceIndex, source: str, out: Cleaned) -> Choice | None:
        key = _label_key(raw)
        if NUMBER.match(raw) and float(raw) in index.values:
            choice = index.values[float(raw)]
            if source == SHEET:
                code = "W008" if f.choice_list == "yes_no" else "W007"
                out.notes.append((code, f"'{raw}' in {f.label} read by its code as '{choice.label}'", ""))
            elif source == SAV:
                out.notes.append(("W007", f"'{raw}' in {f.label} was text; read by its code as '{choice.label}'", ""))
            return choice
        if index.is_band:
            choice = index.bands.get(_band_key(raw))
            if choice is not None:
                out.notes.append(("W006", f"band '{raw}' read as '{choice.label}'", ""))
                return choice
        choice = index.folded.get(key)
        if choice is not None:
            out.notes.append(("W007", f"'{raw}' in {f.label} read as '{choice.label}' (case or spacing differed)",
                              ""))
            return choice
        if f.choice_list == "yes_no" and key in YES_WORDS:
            choice = index.labels[YES_WORDS[key]]
            out.notes.append(("W008", f"'{raw}' in {f.label} read as '{choice.label}'", ""))
            return choice
        choice = index.codes.get(key)
        if choice is not None:
            out.notes.append(("W007", f"'{raw}' in {f.label} read by its code as '{choice.label}'", ""))
        return choice

    def _code(self, f: AnswerField, raw: Any, source: str, out: Cleaned) -> Cleaned:
        text = display(raw)
        if self._blank_word(f, text, out):
            return out
        tidy = re.sub(r"\s+", "", text).upper()
        if tidy != text:
            out.notes.append(("W009", f"'{text}' in {f.label} read as '{tidy}'", ""))
        out.value = out.text = tidy
        return out

    def _postcode(self, f: AnswerField, raw: Any, source: str, out: Cleaned) -> Cleaned:
        text = display(raw)
        if self._blank_word(f, text, out):
            return out
        squashed = re.sub(r"\s+", "", text).upper()
        m = POSTCODE_SPACE.match(squashed)
        tidy = f"{m.group(1)} {m.group(2)}" if m else re.sub(r"\s+", " ", text).upper()
        if tidy != text:
            out.notes.append(("W009", f"postcode '{text}' read as '{tidy}'", ""))
        out.value = out.text = tidy
        return out

    def _text(self, f: AnswerField, raw: Any, source: str, out: Cleaned) -> Cleaned:
        text = display(raw)
        if self._blank_word(f, text, out, TEXT_BLANK_WORDS):
            return out
        if self.redacts and f.type in ("text", "long_text"):   # first, so no message below quotes them
            text, kinds = redact(text)
            out.redacted = bool(kinds)
            out.notes += [(*removal_note(kind, f.label), "") for kind in kinds]
        if is_formula_like(text):
            out.notes.append(("W011", f"'{_short(text)}' in {f.label} would run as a formula in a spreadsheet; "
                                      "kept as text and made safe in every export", ""))
        if MARKUP.search(text):
            out.notes.append(("W012", f"{f.label} holds markup ('{_short(text)}'); kept as plain text and never "
                                      "run in reports", ""))
        out.value = out.text = text
        return out


def _short(text: str, n: int = 60) -> str:
    return text if len(text) <= n else text[: n - 1] + "\u2026"


def _date_bounds(f: AnswerField) -> tuple[dt.date, dt.date]:
    """The first and last date ``f`` accepts: its item's bounds, else the default window."""
    return f.item.min_date or DATE_FLOOR, f.item.max_date or DATE_CEILING


def _parse_date(text: str) -> dt.date | dt.datetime | None:
    text = re.sub(r"\s+", " ", text.strip())
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        pass
    try:
        when = dt.datetime.fromisoformat(text)
        return when.date() if when.time() == dt.time(0) else when
    except ValueError:
        pass
    cleaned = re.sub(r"(\d)(st|nd|rd|th)\b", r"\1", text, flags=re.I)
    for fmt in DATE_FORMATS:
        try:
            when = dt.datetime.strptime(cleaned, fmt)
        except ValueError:
            continue
        return when.date() if when.time() == dt.time(0) else when
    return None
