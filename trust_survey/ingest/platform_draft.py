"""Draft a mapping for a survey-platform export the toolkit has never seen, and check a mapping strictly.

:func:`draft_mapping` reads an export's header rows and answers and proposes a mapping for one
instrument: how many header rows there are and how names are built from them (the layout that matches
most items), which column holds which item (rapidfuzz against the item's label, with and without its
section's question), which column holds the respondent id (by its values: the round's registered
respondent ids when known, else the id format), answer labels to codes, the usual non-answers
("Prefer not to say", "Don't know", "N/A") to missing, and which columns are personal (known platform
names; cells that look like email addresses, IP addresses or people's names) or bookkeeping. Only
header texts and the answers of matched choice columns are copied into the draft, never a value of
any other column. Everything a person must confirm is listed in :attr:`Draft.confirm`.

:func:`check_mapping_file` checks a mapping file strictly and returns ``file: path.to.key: problem`` lines.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import yaml
from rapidfuzz import fuzz

from trust_survey.errors import TrustSurveyError, did_you_mean
from trust_survey.instruments.model import CHOICE_TYPES, AnswerField, Instrument
from trust_survey.ingest.platform_layout import HeaderNames, column_names, strip_number

MATCH_SURE = 90       # item matches at or above this need no confirmation
MATCH_MIN = 75        # below this a column is not matched to an item
ANSWER_MIN = 85       # an answer label fuzzily matched to a choice label at or above this
MAX_HEADER_ROWS = 4
RESPONDENT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,19}$")
EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
PERSON_NAME = re.compile(r"^[A-Z][a-z'’-]+(?: [A-Z][a-z'’-]+){1,2}$")
NON_ANSWERS = ["Prefer not to say", "I'd prefer not to say", "Rather not say", "Don't know", "Do not know",
               "Not sure", "N/A", "NA", "n/a", "Not applicable", "No answer", "Skipped"]
USUAL_NON_ANSWERS = ["Prefer not to say", "Don't know", "N/A"]
SECOND_ROW_WORDS = {"response", "open-ended response"}

#: Column names survey platforms give to who answered and from where: never read.
PERSONAL_NAMES = ["IP Address", "IPAddress", "Email Address", "Email", "E-mail", "RecipientEmail", "First Name",
                  "Last Name", "Name", "Full Name", "Recipient First Name", "Recipient Last Name", "Recipient Email",
                  "RecipientFirstName", "RecipientLastName", "Location Latitude", "Location Longitude",
                  "LocationLatitude", "LocationLongitude", "Phone", "Phone Number", "Mobile", "Contact"]
PERSONAL_PREFIXES = ("recipient", "location", "geo", "ip ")
#: Platform bookkeeping with no analytical use.
BOOKKEEPING_NAMES = ["Respondent ID", "Collector ID", "Start Date", "End Date", "StartDate", "EndDate", "Response ID",
                     "ResponseId", "Response Type", "Status", "Progress", "Duration (in seconds)", "Finished",
                     "Recorded Date", "RecordedDate", "External Data Reference", "ExternalReference",
                     "Distribution Channel", "DistributionChannel", "User Language", "UserLanguage", "ID",
                     "Start time", "Completion time", "Last modified time", "UserID", "UserNo", "Unique ID", "Started",
                     "Ended", "Completed", "Timestamp", "Tracking Link", "Custom Value", "Last page",
                     "Time taken (seconds)", "Submitted", "Submission ID", "Date Created", "Date Modified"]


def _norm(text: Any) -> str:
    return " ".join(str(text or "").replace("\ufeff", "").split()).casefold()


_PERSONAL = {_norm(n) for n in PERSONAL_NAMES}
_BOOKKEEPING = {_norm(n) for n in BOOKKEEPING_NAMES}
_NON_ANSWERS = {_norm(n) for n in NON_ANSWERS}


@dataclass
class ColumnMatch:
    column: str
    field_id: str
    score: float
    how: str


@dataclass
class Draft:
    """A drafted mapping (``body``, as it will be written) and what a person must confirm."""

    body: dict
    confirm: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)   # column -> why it was read, dropped or kept out

    def to_yaml(self, source: str) -> str:
        return mapping_yaml(self.body, draft_header(self.confirm, source), self.notes)


# ---- reading the export -----------------------------------------------------------------------------------

def read_export_grid(path: Path) -> list[list[str | None]]:
    """An export's rows (CSV, or a workbook's only visible sheet) as text, blanks as None."""
    from trust_survey.ingest.individual import grid_record
    from trust_survey.ingest.issues import FileProblem
    from trust_survey.ingest.readers import BookReader, read_csv
    from trust_survey.ingest.sniff import WORKBOOK_KINDS, sniff
    from trust_survey.errors import InputFileError

    path = Path(path)
    try:
        kind = sniff(path).kind
        if kind in WORKBOOK_KINDS:
            book = BookReader(path, kind)
            try:
                sheets = [n for n in book.sheet_names if book.visibility.get(n, "visible") == "visible"]
                if len(sheets) != 1:
                    raise InputFileError(f"{path}: a platform export has one sheet; this workbook has {len(sheets)} "
                                         f"({', '.join(sheets)}); save the responses sheet on its own and try again")
                record = grid_record(path, book.grid(sheets[0]))
            finally:
                book.close()
        else:
            record = read_csv(path)
    except FileProblem as exc:
        raise InputFileError(f"{path}: [{exc.code}] {exc.message}") from None
    if record is None:
        raise InputFileError(f"{path}: the export is empty; download the responses again")
    return [list(record.columns), *record.rows]


# ---- matching ---------------------------------------------------------------------------------------------

def _field_texts(inst: Instrument, f: AnswerField) -> list[str]:
    texts = [f.label, f.field_id, f.var_name]
    if f.option is not None:
        texts.append(f"{f.item.label} - {f.option.label}")
        texts.append(f.option.label)
    if f.section.help:
        texts.append(f"{f.section.help} - {f.label}")
    return texts


def _column_texts(name: str) -> list[str]:
    parts = [name, strip_number(name)]
    for sep in (" - ", ": ", " | ", "."):
        if sep in name:
            parts.append(name.rsplit(sep, 1)[-1])
    return [p for p in parts if p.strip()]


def _score(name: str, texts: Sequence[str]) -> float:
    best = 0.0
    for c in _column_texts(name):
        for t in texts:
            a, b = _norm(c), _norm(t)
            score = fuzz.ratio(a, b)
            if len(a) > 12 and len(b) > 12:
                score = max(score, fuzz.token_sort_ratio(a, b))
            best = max(best, score)
    return best


def match_columns(names: Sequence[str], fields: Sequence[AnswerField], inst: Instrument) -> list[ColumnMatch]:
    """Columns matched one to one with fields, best scores first; each at least :data:`MATCH_MIN`."""
    texts = {f.field_id: _field_texts(inst, f) for f in fields}
    pairs = []
    for name in names:
        if not name or _norm(name) in _PERSONAL or _norm(name) in _BOOKKEEPING:
            continue
        for f in fields:
            score = _score(name, texts[f.field_id])
            if score >= MATCH_MIN:
                pairs.append((score, name, f.field_id))
    pairs.sort(key=lambda p: -p[0])
    used_cols, used_fields, out = set(), set(), []
    for score, name, field_id in pairs:
        if name in used_cols or field_id in used_fields:
            continue
        used_cols.add(name)
        used_fields.add(field_id)
        out.append(ColumnMatch(name, field_id, score, "header"))
    return out


def _is_header_row(cells: Sequence[Any], fields: Sequence[AnswerField], inst: Instrument) -> bool:
    texts = [str(c).strip() for c in cells if c is not None and str(c).strip()]
    if not texts:
        return False
    if any(t.startswith('{"ImportId"') for t in texts) or any(_norm(t) in SECOND_ROW_WORDS for t in texts):
        return True
    all_texts = [t for f in fields for t in _field_texts(inst, f)]
    known = sum(1 for t in texts if _norm(t) in _BOOKKEEPING or _norm(t) in _PERSONAL
                or _score(t, all_texts) >= MATCH_SURE)
    return known / len(texts) >= 0.5


def _layouts(header_rows: int, header: list[list[Any]]) -> list[HeaderNames | None]:
    numbered = any(re.match(r"^\s*(?:Q\s*)?\d+[._.):]", str(c or "")) for row in header for c in row)
    out: list[HeaderNames | None] = [None] if header_rows == 1 else []
    rows = list(range(1, header_rows + 1))
    specs = [HeaderNames(row=r) for r in rows]
    if header_rows >= 2:
        specs += [HeaderNames(join=[a, b]) for a in rows for b in rows if a < b]
    for spec in specs:
        if spec.row == 1 and header_rows == 1:
            continue
        out.append(spec)
    if numbered:
        out += [s.model_copy(update={"strip_numbers": True}) if s else HeaderNames(row=1, strip_numbers=True)
                for s in list(out)]
    return out


def registered_ids(db: Path | None, inst: Instrument, round_: int | None) -> set[str]:
    """Respondent ids the store knows for the instrument (and round): distributed or already returned."""
    if db is None or not Path(db).exists():
        return set()
    from trust_survey.store import open_store

    where, args = "instrument_id = ?", [inst.id]
    if round_ is not None:
        where += " AND round = ?"
        args.append(round_)
    with open_store(Path(db), read_only=True) as con:
        ids = {r[0] for r in con.execute(f"SELECT org_code FROM submissions WHERE {where}", args).fetchall()}
        ids |= {r[0] for r in con.execute(f"SELECT org_code FROM distribution WHERE {where}", args).fetchall()}
    return {str(i).strip().upper() for i in ids if i}


def _looks_personal(values: Sequence[str]) -> str | None:
    if not values:
        return None
    if sum(bool(EMAIL.search(v)) for v in values) >= max(1, len(values) // 2):
        return "its cells look like email addresses"
    ips = 0
    for v in values:
        try:
            ipaddress.ip_address(v.strip())
            ips += 1
        except ValueError:
            pass
    if ips >= max(1, len(values) // 2):
        return "its cells look like IP addresses"
    if sum(bool(PERSON_NAME.match(v.strip())) for v in values) >= max(2, (len(values) + 1) // 2):
        return "its cells look like people's names"
    return None


def _is_date(value: str) -> bool:
    return bool(re.match(r"^\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}([ T]\d{1,2}:\d{2}(:\d{2})?)?", value.strip()))


def _id_column(names: list[str], data: list[list[Any]], candidates: Sequence[str], registered: set[str],
               id_field: str, inst: Instrument) -> tuple[str | None, str]:
    """The respondent-id column, found by its values, and how it was found."""
    by_col: dict[str, list[str]] = {}
    for i, name in enumerate(names):
        if name in candidates:
            by_col[name] = [str(r[i]).strip() for r in data if i < len(r) and r[i] is not None and str(r[i]).strip()]
    if registered:
        share = {c: sum(v.upper() in registered for v in vals) / len(vals) for c, vals in by_col.items() if vals}
        if share and max(share.values()) >= 0.5:
            best = max(share, key=share.get)
            return best, f"{share[best]:.0%} of its values are respondent ids registered for this round"
    fits = []
    for c, vals in by_col.items():   # by format alone, a platform's own ids (Response ID, Unique ID) are not it
        if not vals or len(set(vals)) != len(vals) or _norm(c) in _BOOKKEEPING or _norm(c) in _PERSONAL:
            continue
        if all(RESPONDENT_ID.match(v) for v in vals) and not all(v.isdigit() for v in vals):
            header = _score(c, _field_texts(inst, next(f for f in inst.fields() if f.field_id == id_field)))
            fits.append((header, c))
    if fits:
        fits.sort(reverse=True)
        return fits[0][1], "its values are unique and have the respondent id format (letters, digits, - and _)"
    return None, ""


def draft_mapping(grid: list[list[Any]], inst: Instrument, *, registered: set[str] | None = None,
                  source: str = "") -> Draft:
    """Propose a mapping for ``grid`` (the export's rows, row 1 first) and ``inst``; see the module docstring."""
    from trust_survey.ingest.platform_csv import analysis_fields

    fields = analysis_fields(inst)
    confirm: list[str] = []
    notes: dict[str, str] = {}
    header_rows = 1
    while header_rows < min(MAX_HEADER_ROWS, len(grid) - 1) and _is_header_row(grid[header_rows], fields, inst):
        header_rows += 1
    header = grid[:header_rows]
    data = grid[header_rows:]
    best = None
    for spec in _layouts(header_rows, header):
        names = column_names(header, spec)
        matches = match_columns(names, fields, inst)
        named = [n for n in names if n]
        score = (round(sum(m.score for m in matches)), len(set(named)) == len(named))
        if best is None or score > best[0]:
            best = (score, spec, names, matches)
    _, spec, names, matches = best
    if len(set(n for n in names if n)) != len([n for n in names if n]):
        dupes = sorted({n for n in names if n and names.count(n) > 1})
        confirm.append(f"these column names appear more than once, so only the first of each is read: "
                       f"{', '.join(dupes)}")

    id_field = inst.id_item
    by_field = {m.field_id: m for m in matches}
    taken = {m.column for m in matches if m.field_id != id_field}
    others = [n for n in names if n and n not in taken]
    id_col, how = _id_column(names, data, others, registered or set(), id_field, inst)
    if id_col is not None:
        matches = [m for m in matches if m.field_id != id_field and m.column != id_col]
        matches.append(ColumnMatch(id_col, id_field, 100, "values"))
        notes[id_col] = f"respondent id: {how}"
        if not (registered and how.endswith("this round")):
            confirm.append(f"'{id_col}' holds the respondent id ({how})")
    elif id_field in by_field:
        notes[by_field[id_field].column] = "respondent id: matched by its header only"
        confirm.append(f"'{by_field[id_field].column}' holds the respondent id: matched by its header, but its values "
                       "do not look like respondent ids")
    else:
        confirm.append(f"no column holds the respondent id ({id_field}); add it under 'columns' or the rows cannot be "
                       "stored")

    fields_by_id = {f.field_id: f for f in fields}
    columns: dict[str, str] = {}
    values: dict[str, dict[str, int]] = {}
    matched = {m.column for m in matches}
    col_index = {n: i for i, n in reversed(list(enumerate(names))) if n}
    for m in sorted(matches, key=lambda m: col_index.get(m.column, 0)):
        f = fields_by_id[m.field_id]
        columns[m.column] = m.field_id
        if m.how == "header":
            notes.setdefault(m.column, f"'{f.label}' (match {m.score:.0f})")
            if m.score < MATCH_SURE:
                confirm.append(f"'{m.column}' is {m.field_id} ('{f.label}'): a match of {m.score:.0f} only")
        if f.type in CHOICE_TYPES:
            cells = [str(r[col_index[m.column]]).strip() for r in data
                     if col_index[m.column] < len(r) and r[col_index[m.column]] is not None]
            table, unsure = _answer_table(sorted({c for c in cells if c}), inst, f)
            if table:
                values[m.field_id] = table
            confirm.extend(f"{m.field_id}: {u}" for u in unsure)

    drop, personal = [], []
    for i, name in enumerate(names):
        if not name or name in matched or name in drop or name in personal:
            continue
        cells = [str(r[i]).strip() for r in data if i < len(r) and r[i] is not None and str(r[i]).strip()]
        key = _norm(name)
        why = ("a platform column for who answered or from where" if key in _PERSONAL or key.startswith(
            PERSONAL_PREFIXES) else _looks_personal(cells))
        if why:
            personal.append(name)
            notes[name] = f"personal: {why}; never read"
        elif key in _BOOKKEEPING or (cells and all(_is_date(c) for c in cells)):
            drop.append(name)
            notes[name] = "platform bookkeeping"
        else:
            drop.append(name)
            notes[name] = "CONFIRM: matches no item, so it is not read"
            hint = did_you_mean(name, [f.label for f in fields if f.field_id not in columns.values()], cutoff=0.4)
            confirm.append(f"'{name}' matches no item and is dropped{hint}")
    missing = [f.field_id for f in fields if f.field_id not in columns.values()]
    if missing:
        confirm.append(f"no column found for {', '.join(missing)}; those answers will be blank")

    body: dict[str, Any] = {"instrument": inst.id, "version": inst.version,
                            "platform": f"Drafted from {source}" if source else "Drafted",
                            "header_rows": header_rows}
    if spec is not None:
        body["header_names"] = spec.model_dump(exclude_defaults=True)
    body["columns"] = columns
    value_sets, refs = _shared_sets(values, fields_by_id)
    if value_sets:
        body["value_sets"] = value_sets
    if refs:
        body["values"] = refs
    body["drop"] = drop
    body["personal"] = personal
    return Draft(body, confirm, notes)


def _missing_code(inst: Instrument, f: AnswerField) -> int:
    from trust_survey.ingest.platform_csv import _choices

    own = [c.value for c in _choices(inst, f) if getattr(c, "missing", False)]
    return own[0] if own else inst.spss_missing[0].value


def _answer_table(answers: Sequence[str], inst: Instrument, f: AnswerField) -> tuple[dict[str, int], list[str]]:
    """Answer label -> code for labels the instrument does not already know; and what is unsure."""
    from trust_survey.ingest.platform_csv import _choices

    choices = _choices(inst, f)
    known = {}
    for c in choices:
        for text in (c.label, c.code, str(c.value)):
            if text:
                known[_norm(text)] = c.value
    table, unsure = {}, []
    for usual in USUAL_NON_ANSWERS:   # written even when this export has none, as the next one may
        if _norm(usual) not in known:
            table[usual] = _missing_code(inst, f)
    for answer in answers:
        key = _norm(answer)
        if key in known or EMAIL.search(answer):
            continue
        if key in _NON_ANSWERS or key.replace("’", "'") in _NON_ANSWERS:
            table[answer] = _missing_code(inst, f)
            continue
        scored = sorted(((fuzz.token_sort_ratio(key, _norm(c.label)), c) for c in choices), key=lambda p: -p[0])
        if scored and scored[0][0] >= ANSWER_MIN:
            table[answer] = scored[0][1].value
            unsure.append(f"'{answer}' read as '{scored[0][1].label}' (match {scored[0][0]:.0f})")
        else:
            unsure.append(f"'{answer}' is not an answer of {f.field_id}; add it under values.{f.field_id} "
                          f"(answers: {', '.join(c.label for c in choices)})")
    return table, unsure


def _shared_sets(values: dict[str, dict[str, int]], fields: dict[str, AnswerField]
                 ) -> tuple[dict[str, dict[str, int]], dict[str, Any]]:
    """Tables of fields sharing a choice list merged into one named value set when two or more use it."""
    by_list: dict[str, list[str]] = {}
    for field_id in values:
        by_list.setdefault(fields[field_id].choice_list or field_id, []).append(field_id)
    sets, refs = {}, {}
    for name, ids in by_list.items():
        if len(ids) < 2:
            refs[ids[0]] = values[ids[0]]
            continue
        merged: dict[str, int] = {}
        for field_id in ids:
            merged.update(values[field_id])
        sets[name] = merged
        for field_id in ids:
            refs[field_id] = name
    return sets, dict(sorted(refs.items(), key=lambda kv: list(fields).index(kv[0])))


# ---- writing ------------------------------------------------------------------------------------------------

def _q(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, ensure_ascii=False) if isinstance(value, str) else str(value)


def draft_header(confirm: Sequence[str], source: str) -> list[str]:
    """The comment lines that open a drafted mapping: where it came from and what to confirm."""
    lines = [f"# Drafted by trust-survey platform draft from {source} on {dt.date.today():%Y-%m-%d}.",
             "# Check every line before using it; then run `trust-survey platform check` on this file."]
    if confirm:
        lines.append("# To confirm:")
        lines += [f"#   - {c}".replace("\n", " ") for c in confirm]
    else:
        lines.append("# Nothing left to confirm: every column was matched with confidence.")
    return lines


def mapping_yaml(body: dict, header: Sequence[str], notes: dict[str, str] | None = None) -> str:
    """A mapping as YAML, every string double-quoted, after the ``header`` comment lines; ``notes`` become
    comments on the columns they name."""
    notes = notes or {}
    lines = list(header)
    for key, value in body.items():
        if isinstance(value, dict) and key in ("columns", "value_sets", "values", "header_names"):
            if key == "header_names":
                inner = ", ".join(f"{k}: {v if isinstance(v, list) else _q(v)}" for k, v in value.items())
                lines.append(f"{key}: {{{inner}}}")
                continue
            lines.append(f"{key}:" if value else f"{key}: {{}}")
            for k, v in value.items():
                if isinstance(v, dict):
                    lines.append(f"  {_q(k)}:")
                    lines += [f"    {_q(label)}: {code}" for label, code in v.items()]
                else:
                    note = notes.get(k, "") if key == "columns" else ""
                    lines.append(f"  {_q(k)}: {_q(v)}" + (f"   # {note}" if note else ""))
        elif isinstance(value, list):
            lines.append(f"{key}:" if value else f"{key}: []")
            lines += [f"  - {_q(v)}" + (f"   # {notes[v]}" if v in notes else "") for v in value]
        else:
            lines.append(f"{key}: {_q(value)}")
    return "\n".join(lines) + "\n"


# ---- checking -----------------------------------------------------------------------------------------------

def duplicate_keys(text: str) -> list[str]:
    """``path.to.key: problem`` lines for keys written twice in one YAML mapping (YAML keeps only the last)."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return []
    out: list[str] = []

    def walk(node, path: list[str]) -> None:
        if isinstance(node, yaml.MappingNode):
            seen: dict[str, int] = {}
            for key, value in node.value:
                name = str(key.value)
                if name in seen:
                    where = ".".join(path + [name])
                    out.append(f"{where}: written twice (lines {seen[name]} and {key.start_mark.line + 1}); YAML keeps "
                               "only the last, so remove one")
                else:
                    seen[name] = key.start_mark.line + 1
                walk(value, path + [name])
        elif isinstance(node, yaml.SequenceNode):
            seen_items: dict[str, int] = {}
            for item in node.value:
                if isinstance(item, yaml.ScalarNode):
                    if item.value in seen_items:
                        out.append(f"{'.'.join(path)}: '{item.value}' is listed twice (lines {seen_items[item.value]} "
                                   f"and {item.start_mark.line + 1})")
                    seen_items.setdefault(item.value, item.start_mark.line + 1)
    walk(root, [])
    return out


def check_mapping_file(path: Path, registry) -> list[str]:
    """Every problem with a mapping file as ``file: path.to.key: problem`` lines (none: it can be used)."""
    from trust_survey.errors import DefinitionError
    from trust_survey.ingest.platform_csv import load_mapping, mapping_problems

    path = Path(path)
    problems: list[str] = []
    try:
        problems += [f"{path}: {p}" for p in duplicate_keys(path.read_text(encoding="utf-8"))]
    except (OSError, UnicodeDecodeError):
        pass
    try:
        mapping = load_mapping(path)
    except DefinitionError as exc:
        return problems + (exc.details or [str(exc)])
    try:
        inst = registry.get(mapping.instrument, mapping.version)
    except TrustSurveyError:
        versions = registry.versions(mapping.instrument) if mapping.instrument in registry.ids() else []
        if versions:
            return problems + [f"{path}: version: {mapping.instrument} has no version {mapping.version} "
                               f"(versions: {', '.join(map(str, versions))})"]
        return problems + [f"{path}: instrument: no instrument '{mapping.instrument}'"
                           f"{did_you_mean(mapping.instrument, registry.ids())}"]
    return problems + [f"{path}: {p}" for p in mapping_problems(mapping, inst)]
