"""Which instrument, version, round and organisation a return answers.

A workbook says so on its very hidden ``meta`` sheet. When that sheet is missing or damaged (the
answers were pasted into an older file, another program re-saved it) the cover sheet is read instead,
and failing that the sheet names and header rows are matched against every definition; each fallback
is reported as a warning. SPSS and CSV returns are identified by their variable names (and by the
``trust-survey meta`` document lines an SPSS template carries), the organisation by the org-code
variable. A return in an older version of an instrument is read through that version's definition.
"""
from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import Any

from trust_survey.common import constants as C
from trust_survey.ingest.issues import FileProblem, Issue, display
from trust_survey.instruments.layout import Layout, SheetLayout, build_layout
from trust_survey.instruments.loader import Registry
from trust_survey.instruments.model import Instrument

YEAR = re.compile(r"(?<!\d)(20\d\d)(?!\d)")
ODS = re.compile(r"^[A-Z0-9]{3,5}$")
#: A pseudonymous respondent id (individual instruments): letters, digits, '-' and '_', up to 20.
RESPONDENT_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")

#: Said whenever a file's instrument cannot be told: a survey-platform export needs its mapping.
MAPPING_HINT = ("If it is an export from an online survey platform, ingest it with --mapping FILE naming the "
                "mapping of the platform's columns to the instrument's items (see 'Individual questionnaires' in "
                "the README), or draft one with "
                "'trust-survey platform draft FILE --instrument ID --out my_platform.yaml'")


def is_individual(inst: Instrument) -> bool:
    """Answered by individuals (one return per respondent, keyed by a pseudonymous id), not organisations."""
    return "individual" in inst.audience


_LAYOUTS: dict[str, Layout] = {}


_HASHES: dict[int, tuple[Instrument, str]] = {}


def definition_hash(inst: Instrument) -> str:
    """The instrument's definition hash, computed once per loaded definition."""
    held = _HASHES.get(id(inst))
    if held is None or held[0] is not inst:
        held = _HASHES[id(inst)] = (inst, inst.definition_hash())
    return held[1]


_FIELDS: dict[int, tuple[Instrument, dict]] = {}


def field_map(inst: Instrument) -> dict:
    """field_id -> AnswerField of a loaded definition, computed once (``inst.fields()`` rebuilds its list)."""
    held = _FIELDS.get(id(inst))
    if held is None or held[0] is not inst:
        held = _FIELDS[id(inst)] = (inst, {f.field_id: f for f in inst.fields()})
    return held[1]


def layout_for(inst: Instrument) -> Layout:
    key = inst.key + definition_hash(inst)
    if key not in _LAYOUTS:
        _LAYOUTS[key] = build_layout(inst)
    return _LAYOUTS[key]


@dataclass
class Identity:
    instrument: Instrument
    round: int
    org_code: str
    org_name: str = ""
    source: str = "meta"          # meta, cover, headers, spss-note, variables
    issues: list[Issue] = field(default_factory=list)
    #: Where the return states who it is from -> what it states there ({"organisation": "RJ1", ...}).
    stated: dict[str, dict[str, str]] = field(default_factory=dict)


def norm_header(value: Any) -> str:
    """A header as compared: without ' (required)', spaces collapsed, case folded."""
    return _norm_text(value) if isinstance(value, str) else _norm_text(display(value))


@functools.lru_cache(maxsize=4096)   # the same few hundred headers come back in every return
def _norm_text(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace(" (required)", "")).strip().casefold()


def _int(value: Any) -> int | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return int(number) if number.is_integer() else None


def _find_sheet(names: list[str], wanted: str) -> str | None:
    if wanted in names:
        return wanted
    folded = {n.strip().casefold(): n for n in names}
    return folded.get(wanted.casefold())


def _key_values(grid: list[list[Any]]) -> dict[str, Any]:
    out = {}
    for row in grid:
        if len(row) >= 2 and row[0] is not None:
            out[str(row[0]).strip()] = row[1]
    return out


def _first_values(grid: list[list[Any]]) -> dict[str, Any]:
    """Label -> value of a cover sheet, the first row of each label winning (a section may share a label)."""
    out: dict[str, Any] = {}
    for row in grid:
        if len(row) >= 2 and row[0] is not None:
            out.setdefault(str(row[0]).strip(), row[1])
    return out


#: What a return states about itself, as named in messages.
FACTS = {"org_code": "organisation", "instrument_id": "instrument", "instrument_version": "version",
         "round": "round"}


def _facts(values: dict[str, Any]) -> dict[str, str]:
    """The identity facts in ``values`` (keyed as the meta sheet keys them), as compared: blank ones left out."""
    out = {}
    for key, name in FACTS.items():
        value = values.get(key)
        if key in ("instrument_version", "round"):
            number = _int(value)
            text = str(number) if number is not None else display(value).strip()
        else:
            text = display(value).strip()
        if text:
            out[name] = text.upper() if key == "org_code" else text
    return out


def name_facts(file: str, registry: Registry) -> dict[str, str]:
    """What a file name states when it follows the built pattern ``<org>_<instrument>_v<version>_<round>``
    (anything may follow: ``__staff.csv``, `` (1).xlsx``, ``_resubmitted.xlsx``); {} for any other name."""
    ids = sorted(registry.ids(), key=len, reverse=True)
    if not ids:
        return {}
    pattern = re.compile(r"^(?P<org>[A-Za-z0-9][A-Za-z0-9_-]*?)_(?P<inst>" + "|".join(map(re.escape, ids))
                         + r")_v(?P<version>[0-9]+)_(?P<round>[0-9]{4})(?![0-9])")
    m = pattern.match(file)
    if not m:
        return {}
    return {"organisation": m["org"].upper(), "instrument": m["inst"], "version": str(int(m["version"])),
            "round": m["round"]}


def check_agreement(stated: dict[str, dict[str, str]]) -> None:
    """Raise FileProblem F014 when the places a return states who it is from disagree (another trust's
    cover sheet and file name under this trust's meta sheet, say): each place and its value is named."""
    clashes = []
    for fact in FACTS.values():
        said = {place: facts[fact] for place, facts in stated.items() if fact in facts}
        if len(set(said.values())) > 1:
            clashes.append(f"{fact}: " + ", ".join(f"{place} says {value}" for place, value in said.items()))
    if clashes:
        raise FileProblem("F014", "the return does not agree with itself about who it is from ("
                                  + "; ".join(clashes) + "). It was quarantined and nothing was stored or "
                                  "superseded; ask the trust to send the workbook built for them, unchanged "
                                  "except for their answers")


def _registry_get(registry: Registry, instrument_id: str, version: int | None, where: str) -> Instrument:
    if instrument_id not in registry.ids():
        raise FileProblem("F008", f"{where} names instrument '{instrument_id}', which is not defined here (known: "
                                  f"{', '.join(registry.ids())}); add its definition to the instruments folder")
    versions = registry.versions(instrument_id)
    if version not in versions:
        raise FileProblem("F008", f"{where} names {instrument_id} version {version}, which is not defined here "
                                  f"(known versions: {', '.join(map(str, versions))}); add "
                                  f"instruments/{instrument_id}.v{version}.yaml")
    return registry.get(instrument_id, version)


def _finish(identity: Identity, registry: Registry, round_hint: int | None, sha: str | None, file: str) -> Identity:
    inst = identity.instrument
    if sha and sha != definition_hash(inst):
        identity.issues.append(Issue(
            "W022", f"this file was built from a different definition of {inst.key} than the one held here (its "
                    "structure may have been edited); read through the definition held here", file=file,
            sheet=C.META_SHEET, value=sha[:12], expected=inst.definition_hash()[:12]))
    newest = max(registry.versions(inst.id))
    if inst.version < newest:
        identity.issues.append(Issue(
            "W023", f"this return uses version {inst.version} of {inst.id}; the current version is {newest}. It "
                    f"was read through version {inst.version}'s own definition", file=file,
            value=str(inst.version), expected=str(newest)))
    if round_hint is not None and identity.round != round_hint:
        raise FileProblem("F009", f"this return is for round {identity.round}, not round {round_hint}; ingest it "
                                  f"with --round {identity.round} or check the trust sent the right file")
    if is_individual(inst):
        identity.org_name = ""   # respondents are pseudonymous: no name is kept, even a built-in one
        if not identity.org_code or not RESPONDENT_ID.match(identity.org_code):
            raise FileProblem("F012", f"cannot tell which respondent this return is from (respondent id "
                                      f"'{identity.org_code}'); the id from the invitation (letters, digits, '-' "
                                      "or '_', up to 20) should be the first answer")
        return identity
    if not identity.org_code or not ODS.match(identity.org_code):
        raise FileProblem("F012", f"cannot tell which organisation this return is from (organisation code "
                                  f"'{identity.org_code}'); the ODS code should be on the cover sheet")
    return identity


def _round_from(name: str, round_hint: int | None, what: str) -> int:
    if round_hint is not None:
        return round_hint
    years = YEAR.findall(name)
    if years:
        return int(years[-1])
    raise FileProblem("F012", f"cannot tell which round this return is for ({what}); pass --round YEAR")


# ---- workbooks ------------------------------------------------------------------------------------------

def identify_workbook(book, registry: Registry, file: str, round_hint: int | None) -> Identity:
    """Identify a workbook from its meta sheet, else its cover sheet, else its sheets' headers.

    What the meta sheet, the cover sheet and the file name each state is kept in ``stated``, to be
    checked with the organisation answered inside (:func:`check_agreement`) once that has been read."""
    names = book.sheet_names
    problem = ""
    stated = {}
    cover_name = _find_sheet(names, C.COVER_SHEET)
    cover = {}
    if cover_name:
        labels = {label.casefold(): key for label, key in C.COVER_FIELDS + C.INDIVIDUAL_COVER_FIELDS}
        for label, value in _first_values(book.grid(cover_name)).items():
            if label.casefold() in labels:
                cover[labels[label.casefold()]] = value
    meta_name = _find_sheet(names, C.META_SHEET)
    if meta_name:
        meta = _key_values(book.grid(meta_name))
        stated["the meta sheet"] = _facts(meta)
    if cover:
        stated[f"the {cover_name} sheet"] = _facts(cover)
    stated["the file name"] = name_facts(file, registry)
    if meta_name:
        inst_id = str(meta.get("instrument_id") or "").strip()
        version, round_ = _int(meta.get("instrument_version")), _int(meta.get("round"))
        org = str(meta.get("org_code") or "").strip().upper()
        if inst_id and version and round_ and org:
            inst = _registry_get(registry, inst_id, version, "its meta sheet")
            identity = Identity(inst, round_, org, str(meta.get("org_name") or ""), "meta", stated=stated)
            return _finish(identity, registry, round_hint, str(meta.get("definition_sha256") or "") or None, file)
        problem = "its meta sheet is damaged (instrument, version, round or organisation missing)"
    else:
        problem = "it has no meta sheet (answers copied into another file, or re-saved by another program)"
    if cover_name:
        inst_id = str(cover.get("instrument_id") or "").strip()
        version, round_ = _int(cover.get("instrument_version")), _int(cover.get("round"))
        org = str(cover.get("org_code") or "").strip().upper()
        if inst_id and version and org:
            inst = _registry_get(registry, inst_id, version, "its cover sheet")
            round_ = round_ or _round_from(file, round_hint, "the cover sheet has no round")
            identity = Identity(inst, round_, org, str(cover.get("org_name") or ""), "cover", stated=stated)
            identity.issues.append(Issue("W020", f"{problem}; identified from the cover sheet as {inst.key}, round "
                                                 f"{round_}, {org}", file=file, sheet=cover_name))
            return _finish(identity, registry, round_hint, None, file)
        problem += "; its cover sheet does not name the instrument and organisation"
    return _identify_by_headers(book, registry, file, round_hint, problem, stated)


def header_score(book, sheet: SheetLayout) -> tuple[str | None, float]:
    """The workbook sheet that best matches a layout sheet (by name, then by its headers) and how well."""
    name = _find_sheet(book.sheet_names, sheet.name)
    candidates = [name] if name else [n for n in book.sheet_names
                                      if n.casefold() not in ("cover", "lists", "checks", "meta")]
    best, best_score = None, 0.0
    for candidate in candidates:
        grid = book.grid(candidate)
        if sheet.is_table:
            expected = {norm_header(c.header) for c in sheet.columns}
            found = {norm_header(v) for v in (grid[0] if grid else []) if v is not None}
        else:
            expected = {c.ref for c in sheet.form}
            found = {str(row[0]).strip() for row in grid[1:] if row and row[0] is not None}
        score = len(expected & found) / max(len(expected), 1)
        if score > best_score:
            best, best_score = candidate, score
    return best, best_score


def _identify_by_headers(book, registry: Registry, file: str, round_hint: int | None, problem: str,
                         stated: dict[str, dict[str, str]]) -> Identity:
    scored = []
    for inst in registry.all():
        layout = layout_for(inst)
        scores = [header_score(book, s)[1] for s in layout.sheets]
        scored.append((sum(scores) / len(scores), inst.version, inst))
    scored.sort(key=lambda t: (t[0], t[1]), reverse=True)
    if not scored or scored[0][0] < 0.6:
        raise FileProblem("F007", f"cannot tell which instrument this workbook answers: {problem}, and its sheets "
                                  "do not match any definition. Ask the trust to copy their answers into the "
                                  f"workbook they were sent. {MAPPING_HINT}")
    inst = scored[0][2]
    layout = layout_for(inst)
    cell = next(c for c in layout.form_cells() if c.field.field_id == inst.id_item)
    sheet, _ = header_score(book, layout.sheet(cell.field.section.id))
    org = ""
    if sheet:
        grid = book.grid(sheet)
        for row in grid[1:]:
            if row and str(row[0] or "").strip() == cell.ref and len(row) >= cell.col:
                org = display(row[cell.col - 1]).strip().upper()
    round_ = _round_from(file, round_hint, "no meta or cover sheet")
    identity = Identity(inst, round_, org, "", "headers", stated=stated)
    identity.issues.append(Issue("W021", f"{problem}; identified from its sheet names and headers as {inst.key}, "
                                         f"round {round_}, {org or 'organisation unknown'}", file=file))
    return _finish(identity, registry, round_hint, None, file)


# ---- SPSS and CSV ---------------------------------------------------------------------------------------

def record_variables(inst: Instrument) -> dict[str | None, list[str]]:
    """Variable names of each record type: None for the form, else the table id (org-code variable first)."""
    fields = inst.fields()
    id_var = next(f.var_name for f in fields if f.field_id == inst.id_item)
    out: dict[str | None, list[str]] = {None: [f.var_name for f in fields if f.table is None]}
    for _, table in inst.tables():
        out[table.id] = [id_var] + [f.var_name for f in fields if f.table == table.id]
    return out


def instrument_of_records(records: list, registry: Registry) -> tuple[Instrument, str, dict]:
    """(instrument, how it was told, the SPSS document's trust-survey lines) of a .sav/.csv return."""
    notes = next((r.notes for r in records if r.notes.get("instrument_id")), {})
    seen = {c.casefold() for r in records for c in r.columns}
    if notes:
        inst = _registry_get(registry, notes["instrument_id"], _int(notes.get("instrument_version")),
                             "its SPSS document")
        source = "spss-note"
    else:
        scored = []
        for inst in registry.all():
            names = {v.casefold() for vs in record_variables(inst).values() for v in vs}
            overlap = len(seen & names)
            scored.append((overlap / max(len(seen), 1), overlap / max(len(names), 1), inst.version, inst))
        scored.sort(key=lambda t: t[:3], reverse=True)
        if not scored or scored[0][0] < 0.6:
            raise FileProblem("F007", "cannot tell which instrument this return answers: its variable names "
                                      f"({', '.join(sorted(seen)[:8])}…) do not match any definition; ask the "
                                      f"trust to use the template they were sent. {MAPPING_HINT}")
        inst = scored[0][3]
        source = "variables"
    return inst, source, notes


def records_round(notes: dict, file: str, round_hint: int | None) -> int:
    if "round" in notes and _int(notes["round"]):
        return _int(notes["round"])
    return _round_from(file, round_hint, "CSV files carry no round")


def identify_respondent(record, inst: Instrument, source: str, notes: dict, registry: Registry, file: str,
                        round_hint: int | None) -> Identity:
    """Identify one case of an individual instrument's record file by its respondent id variable."""
    id_var = next(f.var_name for f in inst.fields() if f.field_id == inst.id_item).casefold()
    cols = [c.casefold() for c in record.columns]
    rid = ""
    if id_var in cols and record.rows:
        i = cols.index(id_var)
        rid = display(record.rows[0][i]).strip().upper() if i < len(record.rows[0]) else ""
    if not rid and len(record.rows) == 1:
        rid = str(notes.get("org_code", "")).upper()
    identity = Identity(inst, records_round(notes, file, round_hint), rid, "", source)
    return _finish(identity, registry, round_hint, notes.get("sha256"), file)


def identify_records(records: list, registry: Registry, file: str, round_hint: int | None) -> Identity:
    """Identify a .sav/.csv return (one or more record files) by its variables and org-code variable."""
    inst, source, notes = instrument_of_records(records, registry)
    id_var = next(f.var_name for f in inst.fields() if f.field_id == inst.id_item).casefold()
    codes = set()
    for record in records:
        cols = [c.casefold() for c in record.columns]
        if id_var in cols:
            i = cols.index(id_var)
            codes |= {display(row[i]).strip().upper() for row in record.rows if i < len(row) and row[i] is not None}
    if len(codes) > 1:
        raise FileProblem("F013", f"the record files of this return name different organisations "
                                  f"({', '.join(sorted(codes))}); send one organisation's files together")
    stated = {"its SPSS document": _facts(notes),
              f"its {id_var.upper()} variable": {"organisation": next(iter(codes))} if codes else {},
              "the file name": name_facts(file, registry)}
    check_agreement(stated)
    org = next(iter(codes), "") or str(notes.get("org_code", "")).upper()
    round_ = records_round(notes, file, round_hint)
    identity = Identity(inst, round_, org, "", source, stated=stated)
    return _finish(identity, registry, round_hint, notes.get("sha256"), file)
