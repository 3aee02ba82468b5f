"""Fill an organisation's return the way its staff would, valid against the instrument definition.

:func:`fill_return` answers every item of a trust/ICB instrument for one organisation and returns
:class:`Answers`: ``form`` maps each form field id (``inst.fields()``, multiple choice expanded into
``<item>__<option>``) to a value, and ``tables`` maps each table id to a list of row dicts keyed the
same way. Values are what a person enters: choice LABELS, ``"Yes"``/``"No"``, ``datetime.date``,
``int``/``float`` and ``str``; ``None`` is a blank cell. Writers turn labels into codes where a format
needs them.

The answers are drawn from a picture of the organisation (its kind, whether it hosts a Genomic
Laboratory Hub, its departments, who works there), so the sheets agree with each other: trainees in
the staff table are the trainees counted in the key figures, and so on. Items this module does not
know (a later version of a definition) get a generic valid answer, so the result always passes the
definition's checks; :func:`rule_violations` says so or lists what does not.

Long because the picture of an organisation is one piece: its departments, staff, trainees and key
figures are drawn together so that the sheets agree, and splitting them would pass that picture around.
"""
from __future__ import annotations

import csv
import datetime as dt
import math
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trust_survey import settings
from trust_survey.instruments.model import AnswerField, CrossRule, Instrument
from trust_survey.simulate import vocabulary as V

POSTCODE = re.compile(r"^[A-Z]{1,2}[0-9][A-Z0-9]? [0-9][A-Z]{2}$")
ODS_CODE = re.compile(r"^[A-Z0-9]{3,5}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
OPS = {
    "<=": lambda a, b: a <= b + 1e-9, "<": lambda a, b: a < b, ">=": lambda a, b: a + 1e-9 >= b,
    ">": lambda a, b: a > b, "==": lambda a, b: abs(a - b) < 1e-9,
}


@dataclass
class Answers:
    """One organisation's answers: form field id -> value, and table id -> rows of field id -> value."""

    form: dict[str, Any]
    tables: dict[str, list[dict[str, Any]]]
    #: One record per staff row (same order): the role and true STP stream behind each job title.
    truth: list[dict] = field(default_factory=list)

    def copy(self) -> "Answers":
        return Answers(dict(self.form), {t: [dict(r) for r in rows] for t, rows in self.tables.items()},
                       [dict(t) for t in self.truth])


@dataclass(frozen=True)
class OrgProfile:
    code: str
    name: str
    kind: str            # an org_types code: acute, specialist, mental, community, ambulance, icb, other
    is_glh: bool
    region: str
    icb_code: str
    postcode: str
    postcode_source: str  # "reference" (trusts.csv) or "generated"
    size: float

    @property
    def mix(self) -> str:
        return "glh" if self.is_glh else self.kind


# ---- organisation ------------------------------------------------------------------------------------

def load_reference_postcodes(path: Path | None = None) -> dict[str, str]:
    """Postcodes of organisations from the shipped ``trusts.csv`` (org_code, postcode, …), if present."""
    path = path or settings.reference_dir() / "trusts.csv"
    if not path.is_file():
        return {}
    out: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            code, postcode = row.get("org_code", "").upper(), normalise_postcode(row.get("postcode", ""))
            if code and POSTCODE.match(postcode):
                out[code] = postcode
    return out


def normalise_postcode(text: str) -> str:
    compact = re.sub(r"\s+", "", text or "").upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) >= 5 else compact


def _inward(rng: random.Random) -> str:
    return f"{rng.randint(1, 9)}{rng.choice(V.INWARD_LETTERS)}{rng.choice(V.INWARD_LETTERS)}"


def org_kind(org: dict) -> str:
    """An org_types code: from ORGS.csv's org_type (icb, other), an optional ``trust_type`` column
    (acute, specialist, mental, community, ambulance), else guessed from the name (default acute)."""
    org_type = (org.get("org_type") or "trust").lower()
    if org_type in ("icb", "other"):
        return org_type
    stated = (org.get("trust_type") or "").strip().lower()
    if stated in V.DEPARTMENT_MIX and stated not in ("glh", "icb"):
        return stated
    name = org.get("org_name", "").lower()
    for kind, words in V.ORG_TYPE_WORDS:
        if any(re.search(r"\b" + re.escape(w), name) for w in words):
            return kind
    return "acute"


def org_profile(org: dict, postcodes: dict[str, str], rng: random.Random) -> OrgProfile:
    code = org["org_code"]
    kind = org_kind(org)
    region = org.get("region_code") or ""
    if region not in V.REGION_DISTRICTS:
        region = rng.choice(sorted(V.REGION_DISTRICTS))
    if code in postcodes:
        postcode, source = postcodes[code], "reference"
    else:
        postcode, source = f"{rng.choice(V.REGION_DISTRICTS[region])} {_inward(rng)}", "generated"
    scale = {"acute": 1.0, "specialist": 0.8, "mental": 0.6, "community": 0.5, "ambulance": 0.5, "icb": 0.6,
             "other": 0.5}[kind]
    is_glh = code in V.GLH_HOSTS
    size = math.exp(rng.gauss(0, 0.3)) * scale * (1.5 if is_glh else 1.0)
    return OrgProfile(code, org["org_name"], kind, is_glh, region, (org.get("icb_code") or "").upper(),
                      postcode, source, size)


# ---- small random helpers ----------------------------------------------------------------------------

def _weighted(rng: random.Random, pairs) -> Any:
    pairs = list(pairs)
    total = sum(w for _, w in pairs)
    x = rng.random() * total
    for value, weight in pairs:
        x -= weight
        if x < 0:
            return value
    return pairs[-1][0]


def _poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def _binomial(rng: random.Random, n: int, p: float) -> int:
    return sum(rng.random() < p for _ in range(n))


def _person(rng: random.Random) -> tuple[str, str]:
    first, last = rng.choice(V.FIRST_NAMES), rng.choice(V.SURNAMES)
    suffix = str(rng.randint(2, 9)) if rng.random() < 0.2 else ""
    email = re.sub(r"[^a-z.0-9]", "", f"{first}.{last}{suffix}".lower()) + "@nhs.net"
    return f"{first} {last}", email


# ---- job titles ---------------------------------------------------------------------------------------

def vary_title(title: str, band: str, rng: random.Random) -> str:
    """A job title as someone types it: seniority words, abbreviations, the band, the odd typo."""
    lower = title.lower()
    if rng.random() < 0.3 and not any(w in lower for w in V.SENIORITY_WORDS):
        words = [w for w, bands in V.SENIORITY if band in bands]
        if words:
            title = f"{rng.choice(words)} {title}"
    if rng.random() < 0.18:
        for long, shorts in V.ABBREVIATIONS:
            if long in title and rng.random() < 0.6:
                title = title.replace(long, rng.choice(shorts), 1)
    if rng.random() < 0.12 and band in V.BAND_IN_TITLE and not re.search(r"\bband\b|\bB\d", title, re.I):
        spelling = rng.choice(V.BAND_IN_TITLE[band])
        title = f"{title}{rng.choice((' ', ' - ', ' '))}{spelling}"
    if rng.random() < 0.05:
        title = _typo(title, rng)
    r = rng.random()
    if r < 0.03:
        title = title.lower()
    elif r < 0.045:
        title = title.upper()
    return title


def _typo(text: str, rng: random.Random) -> str:
    words = text.split(" ")
    candidates = [i for i, w in enumerate(words) if len(w) >= 6 and w.isalpha()]
    if not candidates:
        return text
    i = rng.choice(candidates)
    w = words[i]
    j = rng.randint(1, len(w) - 3)
    how = rng.random()
    if how < 0.4:
        w = w[:j] + w[j + 1] + w[j] + w[j + 2:]   # swapped letters
    elif how < 0.75:
        w = w[:j] + w[j + 1:]                     # a dropped letter
    else:
        w = w[:j] + w[j] + w[j:]                  # a doubled letter
    words[i] = w
    return " ".join(words)


# ---- the organisation's picture ------------------------------------------------------------------------

@dataclass
class Dept:
    name: str
    kind: V.DeptKind
    postcode: str
    hosting: str                         # hosting choice code: now, past, never
    streams: set[str]
    trainees: dict[str, int]


@dataclass
class StaffRow:
    title: str
    dept: Dept
    role: V.Role
    band: str
    headcount: int
    wte: float
    registration: str
    supervisors: int | None


class _Picture:
    """Departments, staff and figures for one organisation, in codes; turned into labels later."""

    def __init__(self, profile: OrgProfile, round_: int, rng: random.Random, max_staff: int = 150):
        self.p = profile
        self.round = round_
        self.rng = rng
        self.depts = self._departments()
        self.staff = self._staff(max_staff)

    def _dept_name(self, kind: V.DeptKind, taken: set[str]) -> str:
        rng = self.rng
        if kind.key == "genomics_lab" and self.p.is_glh:
            name = V.GLH_HOSTS[self.p.code]
        elif self.p.kind == "icb" and kind.key in V.ICB_DEPT_NAMES:
            name = rng.choice(V.ICB_DEPT_NAMES[kind.key])
        else:
            name = rng.choice(kind.names)
        base, n = name, 2
        while name.casefold() in taken:
            name = f"{base} ({['North', 'South', 'East', 'West', 'Main'][n % 5]} site)"
            n += 1
        taken.add(name.casefold())
        return name

    def _hosting(self, kind: V.DeptKind) -> str:
        rng, p = self.rng, self.p
        if kind.stream is None or p.kind == "icb":
            return "past" if kind.stream and rng.random() < 0.02 else "never"
        if p.is_glh and kind.key == "genomics_lab":
            now, past = 0.85, 0.15
        elif p.is_glh and kind.key == "bioinformatics_unit":
            now, past = 0.4, 0.3
        elif kind.key in ("genomics_lab", "bioinformatics_unit"):
            now, past = 0.2, 0.25
        elif kind.key == "scientific_computing":
            now, past = 0.15, 0.2
        elif kind.key == "clinical_computing":
            now, past = 0.12, 0.15
        elif kind.key == "medical_physics":
            now, past = 0.03, 0.1
        elif kind.stream == V.PHYSICAL_SCIENCES:
            now, past = 0.01, 0.04
        elif kind.key == "digital":
            now, past = 0.01, 0.03
        else:
            now, past = 0.04, 0.07
        x = rng.random()
        return "now" if x < now else "past" if x < now + past else "never"

    def _departments(self) -> list[Dept]:
        rng, p = self.rng, self.p
        mix = V.DEPARTMENT_MIX[p.mix]
        kinds = [V.DEPT_KIND[k] for k, chance in mix.items() if rng.random() < chance]
        if not kinds:
            kinds = [V.DEPT_KIND["informatics" if "informatics" in mix else next(iter(mix))]]
        taken: set[str] = set()
        depts = []
        for kind in kinds:
            name = self._dept_name(kind, taken)
            # A real postcode from the reference table is kept for every department so it geocodes;
            # generated ones put some departments on another site in the same district.
            postcode = p.postcode
            if rng.random() >= 0.8 and p.postcode_source == "generated":
                postcode = f"{p.postcode.split(' ')[0]} {_inward(rng)}"
            hosting = self._hosting(kind)
            streams: set[str] = set()
            trainees: dict[str, int] = {}
            if hosting != "never" and kind.stream:
                streams.add(kind.stream)
                if rng.random() < 0.08:
                    streams.add(rng.choice(V.STREAMS))
            if hosting == "now" and kind.stream:
                lam = 2.5 if p.is_glh and kind.key == "genomics_lab" else 0.3
                trainees[kind.stream] = min(1 + _poisson(rng, lam), 6)
            depts.append(Dept(name, kind, postcode, hosting, streams, trainees))
        return depts

    def _staff(self, max_rows: int) -> list[StaffRow]:
        rng, p = self.rng, self.p
        rows: list[StaffRow] = []
        seen: set[tuple] = set()

        def add(role: V.Role, dept: Dept, band: str, headcount: int) -> None:
            title = vary_title(rng.choice(role.titles), band, rng)
            key = (" ".join(title.split()).casefold(), dept.name.casefold(), band)
            if key in seen or len(rows) >= max_rows:
                return
            seen.add(key)
            if role.trainee:
                wte = float(headcount)
            else:
                wte = round(headcount * rng.uniform(0.78, 1.0), 1)
                wte = min(max(wte, 0.4), float(headcount))
            supervisors = None
            if role.supervises and dept.hosting != "never":
                supervisors = rng.randint(1, headcount)
            elif role.supervises or role.qualified:
                supervisors = rng.choice((None, 0, rng.randint(0, headcount)))
            elif rng.random() < 0.25:
                supervisors = 0
            registration = _weighted(rng, role.registration)
            rows.append(StaffRow(title, dept, role, band, headcount, wte, registration, supervisors))

        grow = min(p.size, 2.5) ** 0.5
        for dept in self.depts:
            for stream, count in dept.trainees.items():
                add(V.ROLE[V.TRAINEE_ROLE[stream]], dept, "trainee", count)
            roles = list(dept.kind.roles)
            must = {V.SUPERVISOR_ROLE[s] for s in dept.trainees}  # trainees need qualified supervisors
            if p.is_glh and dept.kind.key == "genomics_lab":
                must.add("clinical_bioinformatician")
            roles += [(r, 1.0) for r in sorted(must) if r not in dict(roles)]
            for role_key, chance in roles:
                if role_key not in must and rng.random() >= min(1.0, chance * grow):
                    continue
                role = V.ROLE[role_key]
                bands = [rng.choice(role.bands)]
                if len(role.bands) > 1 and rng.random() < 0.25 * grow:
                    bands.append(rng.choice([b for b in role.bands if b != bands[0]]))
                lo, hi = role.headcount
                for band in bands:
                    add(role, dept, band, max(1, min(500, round(rng.randint(lo, hi) * p.size))))
        if not rows:  # every organisation has someone who runs its data
            dept = self.depts[0]
            add(V.ROLE["information_analyst"], dept, "b6", rng.randint(1, 4))
        return rows

    # -- the answers, in codes --------------------------------------------------------------------
    def trainees(self, stream: str) -> int:
        return sum(d.trainees.get(stream, 0) for d in self.depts)

    def in_post(self) -> int:
        return sum(r.headcount for r in self.staff if r.role.qualified)

    def hosts(self, stream: str) -> str:
        states = [d.hosting for d in self.depts if stream in d.streams]
        return "now" if "now" in states else "past" if "past" in states else "never"

    def has_stream_dept(self, stream: str) -> bool:
        return any(d.kind.stream == stream for d in self.depts)


# ---- from the picture to answers --------------------------------------------------------------------

class _Labeller:
    """Choice code -> label for the instrument's lists (None when a list or code does not exist)."""

    def __init__(self, inst: Instrument):
        self.lists = {name: {c.key: c.label for c in choices} for name, choices in inst.lists().items()}

    def __call__(self, list_name: str, code: str | None) -> str | None:
        if code is None:
            return None
        return self.lists.get(list_name, {}).get(code)


def _willingness(rng, pic: _Picture, stream: str) -> tuple[str, int | None]:
    hosts = pic.hosts(stream)
    if pic.p.kind == "icb":
        will = _weighted(rng, (("no", 0.8), ("maybe", 0.2)))
    elif stream == V.GENOMICS and pic.p.is_glh:
        will = _weighted(rng, (("ready", 0.6), ("support", 0.35), ("maybe", 0.05)))
    elif hosts == "now":
        will = _weighted(rng, (("ready", 0.5), ("support", 0.4), ("maybe", 0.1)))
    elif hosts == "past" or pic.has_stream_dept(stream):
        will = _weighted(rng, (("ready", 0.02), ("support", 0.1), ("maybe", 0.35), ("no", 0.53)))
    else:
        will = _weighted(rng, (("maybe", 0.12), ("no", 0.88)))
    if will in ("ready", "support"):
        places = rng.randint(2, 6) if stream == V.GENOMICS and pic.p.is_glh else rng.randint(1, 3)
    elif will == "maybe":
        places = rng.choice((None, 0, 1))
    else:
        places = rng.choice((None, 0))
    return will, places


def _picture_answers(inst: Instrument, pic: _Picture, round_: int, rng: random.Random) -> Answers:
    """Answers keyed by field id for the items this module knows, in labels."""
    lab = _Labeller(inst)
    p = pic.p
    yes_no = {True: "Yes", False: "No"}
    form: dict[str, Any] = {}
    name, email = _person(rng)
    form.update({
        "org_code": p.code, "org_name": p.name, "org_type": lab("org_types", p.kind),
        "icb_code": p.icb_code if p.kind != "icb" and ODS_CODE.match(p.icb_code) else None,
        "respondent_name": name, "respondent_role": rng.choice(V.RESPONDENT_ROLES[p.mix]),
        "respondent_email": email,
    })
    for stream, code in V.STREAM_CODES.items():
        will, places = _willingness(rng, pic, stream)
        form[f"will_{code}"] = lab("willingness", will)
        form[f"places_{code}"] = places
    if p.is_glh:
        electives = _weighted(rng, (("yes", 0.5), ("maybe", 0.4), ("no", 0.1)))
    else:
        electives = _weighted(rng, (("yes", 0.1), ("maybe", 0.35), ("no", 0.55)))
    form["electives"] = lab("electives", electives)
    form["elective_places"] = (rng.randint(1, 4) if electives == "yes" else
                               rng.choice((None, 1, 2)) if electives == "maybe" else rng.choice((None, 0)))
    notes = " ".join(rng.sample(V.CAPACITY_NOTES, rng.randint(1, 2)))
    form["capacity_notes"] = notes if rng.random() < 0.4 else None

    hosted = any(d.hosting != "never" for d in pic.depts)
    timing = (_weighted(rng, (("gt6", 0.15), ("m3to6", 0.35), ("lt3", 0.25), ("after", 0.1), ("none", 0.05),
                              ("dk", 0.1))) if hosted else
              _weighted(rng, (("none", 0.45), ("dk", 0.25), ("lt3", 0.1), ("m3to6", 0.1), ("after", 0.1))))
    form["offer_timing"] = lab("offer_timing", timing)
    onsite = 0.5 if p.kind == "ambulance" else 0.25
    remote = _weighted(rng, (("hybrid", 0.65), ("onsite", onsite), ("remote", 0.1)))
    form["remote_working"] = lab("remote", remote)
    cpd_chance = {"hsst": 0.7 if p.is_glh else 0.2, "modules": 0.7, "degree": 0.3, "equiv": 0.25,
                  "time": 0.45}
    leave_blank = rng.random() < 0.3  # some people tick only what applies
    for code, chance in cpd_chance.items():
        yes = rng.random() < chance
        form[f"cpd_routes__{code}"] = "Yes" if yes else (None if leave_blank else "No")
    form["employment_notes"] = rng.choice(V.EMPLOYMENT_NOTES) if rng.random() < 0.35 else None

    gen, hi, ps = (pic.trainees(s) for s in V.STREAMS)
    in_post = pic.in_post()
    left_nhs = min(in_post, _binomial(rng, in_post, 0.12))
    dests = {"industry": 0, "academia": 0, "public": 0, "abroad": 0, "unknown": 0}
    for _ in range(left_nhs):
        dests[_weighted(rng, (("industry", 0.45), ("academia", 0.2), ("public", 0.1), ("abroad", 0.1),
                              ("unknown", 0.15)))] += 1
    form.update({
        "kf_trainees_gen": gen, "kf_trainees_hi": hi, "kf_trainees_ps": ps, "kf_in_post": in_post,
        "kf_left_programme": _binomial(rng, gen + hi + ps, 0.08), "kf_left_nhs": left_nhs,
        **{f"kf_dest_{k}": v for k, v in dests.items()},
    })
    signer, _ = _person(rng)
    form.update({
        "signoff_name": signer,
        "signoff_role": rng.choice(V.SIGNOFF_ROLES["icb" if p.kind == "icb" else "trust"]),
        "signoff_date": dt.date(round_, 11, 1) + dt.timedelta(days=rng.randint(0, 145)),
        "signoff_confirm": "Yes",
    })

    departments = []
    for d in pic.depts:
        row = {"dept_name": d.name, "dept_type": lab("dept_types", d.kind.dept_type),
               "dept_postcode": d.postcode, "dept_hosting": lab("hosting", d.hosting)}
        for stream, code in V.STREAM_CODES.items():
            row[f"dept_streams__{code}"] = yes_no[stream in d.streams] if d.streams else None
        departments.append(row)

    staff, truth = [], []
    for i, r in enumerate(pic.staff):
        staff.append({"job_title": r.title, "staff_dept": r.dept.name, "band": lab("afc_bands", r.band),
                      "headcount": r.headcount, "wte": r.wte,
                      "registration": lab("registration", r.registration), "supervisors": r.supervisors})
        truth.append({"row": i + 1, "job_title": r.title, "staff_dept": r.dept.name,
                      "dept_type": r.dept.kind.dept_type, "band": r.band, "role": r.role.key,
                      "stream": r.role.stream})
    tables = {"departments": departments, "staff": staff, "partners": _partners(lab, p, rng)}
    return Answers(form, tables, truth)


def _partners(lab: _Labeller, p: OrgProfile, rng: random.Random) -> list[dict]:
    if p.kind == "icb":
        count = rng.randint(0, 2)
    elif p.is_glh:
        count = rng.randint(2, 5)
    elif p.kind in ("acute", "specialist"):
        count = _weighted(rng, ((0, 0.25), (1, 0.35), (2, 0.25), (3, 0.15)))
    else:
        count = _weighted(rng, ((0, 0.5), (1, 0.35), (2, 0.15)))
    pool = [(u, "university") for u in V.UNIVERSITIES[p.region]]
    institutes = V.INSTITUTES if p.is_glh else [rng.choice(V.INSTITUTES)]
    pool += [(i, "institute") for i in institutes]
    pool += [(rng.choice(V.COMPANIES), "company")] + list(V.PUBLIC_PARTNERS)
    rows = []
    for name, kind in rng.sample(pool, min(count, len(pool))):
        row = {"partner_name": name, "partner_type": lab("partner_types", kind)}
        chances = {"honorary": 0.5 if kind == "university" else 0.1, "research": 0.6, "teaching": 0.4,
                   "shared": 0.2}
        for code, chance in chances.items():
            row[f"partner_links__{code}"] = "Yes" if rng.random() < chance else "No"
        rows.append(row)
    return rows


# ---- making answers fit the definition ----------------------------------------------------------------

def choice_labels(inst: Instrument, f: AnswerField) -> list[str]:
    lists = inst.lists()
    return [c.label for c in lists[f.choice_list]] if f.choice_list else []


def value_fits(inst: Instrument, f: AnswerField, value: Any) -> bool:
    """Would this value pass the field's own checks (type, list, bounds, length, pattern)?"""
    item = f.item
    if value is None:
        return not (item.required and f.option is None)
    if f.choice_list:
        return value in choice_labels(inst, f)
    kind = f.type
    if kind in ("integer", "decimal"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if kind == "integer" and not float(value).is_integer():
            return False
        return (item.min is None or value >= item.min) and (item.max is None or value <= item.max)
    if kind == "date":
        return (isinstance(value, dt.date) and (item.min_date is None or value >= item.min_date)
                and (item.max_date is None or value <= item.max_date))
    if not isinstance(value, str) or not value.strip():
        return False
    if kind in ("text", "long_text"):
        return item.max_length is None or len(value) <= item.max_length
    if kind == "email":
        return bool(EMAIL.match(value))
    if kind == "ods_code":
        return bool(ODS_CODE.match(value))
    if kind == "postcode":
        return bool(POSTCODE.match(value)) and 5 <= len(value) <= 8
    return True


def generic_value(inst: Instrument, f: AnswerField, p: OrgProfile, round_: int, rng: random.Random) -> Any:
    """A valid answer for any field, for items the picture does not cover."""
    item = f.item
    if f.choice_list:
        lists = inst.lists()
        choices = [c.label for c in lists[f.choice_list] if not c.missing]
        return rng.choice(choices)
    if f.type in ("integer", "decimal"):
        lo = max(item.min if item.min is not None else 0, 0)
        hi = item.max if item.max is not None else lo + 10
        value = rng.uniform(lo, min(hi, lo + 5))
        return int(round(value)) if f.type == "integer" else round(value, 1)
    if f.type == "date":
        lo = max(item.min_date or dt.date.min, dt.date(round_, 11, 1))
        hi = min(item.max_date or dt.date.max, dt.date(round_ + 1, 3, 31))
        return lo + dt.timedelta(days=rng.randint(0, max((hi - lo).days, 0)))
    if f.type == "email":
        return _person(rng)[1]
    if f.type == "ods_code":
        return p.code
    if f.type == "postcode":
        return p.postcode
    if f.type == "long_text":
        return "No further comments." if item.required else None
    text = "Not recorded"
    return text[: item.max_length] if item.max_length else text


def _conform_row(inst: Instrument, fields: list[AnswerField], row: dict, p: OrgProfile, round_: int,
                 rng: random.Random) -> dict:
    out = {}
    for f in fields:
        value = row.get(f.field_id)
        if not value_fits(inst, f, value):
            value = generic_value(inst, f, p, round_, rng) if (f.item.required or value is not None) else None
        out[f.field_id] = value
    return out


def rule_sides(rule: CrossRule, values: dict[str, Any], tables: dict[str, list[dict]] | None = None):
    """(left total, right total) of a rule, or None when every value in it is blank."""
    def total(refs):
        got = []
        for ref in refs:
            if ref.startswith("sum:") and tables is not None:
                tid, _, col = ref[4:].partition(".")
                got.extend(r.get(col) for r in tables.get(tid, []))
            else:
                got.append(values.get(ref))
        nums = [v for v in got if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return (sum(nums) if nums else None), len(nums)

    left, n_left = total(rule.left)
    right, n_right = total(rule.right)
    if n_left == 0:
        return None
    return left, right or 0


def table_rules(inst: Instrument, table_id: str) -> list[CrossRule]:
    table = next(t for _, t in inst.tables() if t.id == table_id)
    return list(table.rules) + [r for r in inst.rules if r.table == table_id]


def form_rules(inst: Instrument) -> list[CrossRule]:
    return [r for r in inst.rules if not r.table]


def rule_violations(inst: Instrument, answers: Answers) -> list[str]:
    """Every cross-field rule and unique-columns check the answers break, as short descriptions."""
    problems = []
    for rule in form_rules(inst):
        sides = rule_sides(rule, answers.form, answers.tables)
        if sides and not OPS[rule.op](*sides):
            problems.append(f"{rule.id}: {sides[0]} {rule.op} {sides[1]} is false")
    for _, table in inst.tables():
        rows = answers.tables.get(table.id, [])
        for rule in table_rules(inst, table.id):
            for i, row in enumerate(rows, start=1):
                sides = rule_sides(rule, row)
                if sides and not OPS[rule.op](*sides):
                    problems.append(f"{table.id} row {i}: {rule.id}: "
                                    f"{sides[0]} {rule.op} {sides[1]} is false")
        if table.unique:
            seen: dict[tuple, int] = {}
            for i, row in enumerate(rows, start=1):
                key = tuple(" ".join(str(row.get(c) or "").split()).casefold() for c in table.unique)
                if key in seen:
                    problems.append(f"{table.id} row {i}: repeats row {seen[key]} "
                                    f"on {', '.join(table.unique)}")
                seen.setdefault(key, i)
    return problems


def conform(inst: Instrument, raw: Answers, p: OrgProfile, round_: int, rng: random.Random) -> Answers:
    """Keep the fields the instrument has, replace what would not pass its checks with valid answers."""
    form_fields = [f for f in inst.fields() if f.table is None]
    form = _conform_row(inst, form_fields, raw.form, p, round_, rng)
    tables = {}
    for _, table in inst.tables():
        fields = [f for f in inst.fields() if f.table == table.id]
        rows = raw.tables.get(table.id, [])[: table.max_rows]
        tables[table.id] = [_conform_row(inst, fields, row, p, round_, rng) for row in rows]
        if any(c.required for c in table.columns) and not tables[table.id] and table.id not in raw.tables:
            tables[table.id] = [_conform_row(inst, fields, {}, p, round_, rng)]
    truth = raw.truth[: len(tables.get("staff", []))]
    return Answers(form, tables, truth)


def fill_return(inst: Instrument, org: dict, round_: int, seed: int,
                postcodes: dict[str, str] | None = None) -> tuple[Answers, OrgProfile]:
    """One organisation's clean answers, and the profile they were drawn from.

    Deterministic for a given seed and organisation code, whatever other organisations are simulated.
    """
    rng = random.Random(f"{seed}:{org['org_code']}:fill")
    profile = org_profile(org, postcodes or {}, rng)
    staff_table = next((t for _, t in inst.tables() if t.id == "staff"), None)
    picture = _Picture(profile, round_, rng, max_staff=staff_table.max_rows if staff_table else 150)
    raw = _picture_answers(inst, picture, round_, rng)
    return conform(inst, raw, profile, round_, rng), profile
