"""Simulate a round: every organisation's return filled as its staff would, with realistic mess.

:func:`simulate_round` plans the round (:func:`~trust_survey.simulate.messiness.plan_round`), fills
each organisation's answers (:func:`~trust_survey.simulate.fill.fill_return`), spoils some of them
(:class:`~trust_survey.simulate.messiness.Injector`) and writes them (:mod:`.writers`). Files are
named as the round's returns (``<org>_<instrument>_v<version>_<round>`` plus the extension, with
``__<table>`` for .sav/.csv record files); a resubmission adds ``_resubmitted`` to the stem so it
sorts after the first file, and its files are dated later.

Beside the returns it writes three CSV files:

- ``simulation_manifest.csv``, one row per organisation and submission: ``org_code, org_name,
  submission, outcome`` (valid, with_errors, with_warnings, not_returned, resubmitted), ``format,
  files`` (;-separated), ``received``, ``errors, warnings`` (counts), ``injected`` (kind@place list),
  ``postcode_source`` (reference or generated) and ``notes`` (formats that were skipped and why).
- ``simulation_injections.csv``, one row per injected problem with its exact place (file, sheet and
  cell, or variable and case) and the value written next to the clean one.
- ``simulation_job_titles.csv``, the role and true STP stream behind every job title written.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import random
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from trust_survey import writers
from trust_survey.atomic import staged_dir
from trust_survey.build.orchestrate import default_deadline, file_stem, prepare_out_dir
from trust_survey.build.spss import table_file_suffix
from trust_survey.errors import TrustSurveyError
from trust_survey.instruments.model import Instrument
from trust_survey.simulate.fill import Answers, fill_return, load_reference_postcodes, rule_violations
from trust_survey.simulate.messiness import (
    SHEET_FORMATS, Injection, Injector, OrgPlan, corrected, plan_round, resubmission_delay,
)
from trust_survey.simulate.writers import WorkbookFiller, convert_with_soffice, find_soffice, write_csv, write_sav

log = logging.getLogger(__name__)

MANIFEST_NAME = "simulation_manifest.csv"
INJECTIONS_NAME = "simulation_injections.csv"
TITLES_NAME = "simulation_job_titles.csv"
MANIFEST_COLUMNS = ["org_code", "org_name", "submission", "outcome", "format", "files", "received", "errors",
                    "warnings", "injected", "postcode_source", "notes"]
INJECTION_COLUMNS = ["org_code", "submission", "format", "file", "severity", "kind", "sheet", "cell", "table",
                     "row", "field", "variable", "written", "clean", "message"]
TITLE_COLUMNS = ["org_code", "file", "row", "job_title", "staff_dept", "dept_type", "band", "role", "stream"]
RESUBMITTED_SUFFIX = "_resubmitted"


class SimulationError(TrustSurveyError):
    code = "SIM001"


@dataclass
class SimulationResult:
    out_dir: Path
    manifest: pd.DataFrame
    manifest_path: Path
    injections: pd.DataFrame
    skipped: dict[str, str] = field(default_factory=dict)   # format -> why it was not written
    postcodes_from_reference: bool = False


@dataclass
class _Submission:
    org: dict
    number: int
    fmt: str
    outcome: str
    answers: Answers
    injections: list[Injection]
    received: dt.datetime
    postcode_source: str
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stem: str = ""
    places: list[dict] = field(default_factory=list)   # where each injection sits, same order


def _received(seed: int, org_code: str, signed: dt.date | None, round_: int) -> dt.datetime:
    rng = random.Random(f"{seed}:{org_code}:received")
    day = (signed or dt.date(round_ + 1, 3, 1)) + dt.timedelta(days=rng.randint(0, 4))
    return dt.datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randint(0, 59))


def _signoff_date(inst: Instrument, answers: Answers) -> dt.date | None:
    for f in inst.fields():
        value = answers.form.get(f.field_id)
        if f.table is None and f.type == "date" and isinstance(value, dt.date):
            return value
    return None


def _outcome(injections: list[Injection]) -> str:
    if any(i.severity == "error" for i in injections):
        return "with_errors"
    return "with_warnings" if injections else "valid"


def simulate_round(inst: Instrument, orgs: pd.DataFrame, round_: int, out_dir: Path, *, seed: int = 1,
                   messiness: float = 0.0, force: bool = False, soffice: str | None = "auto",
                   postcodes: dict[str, str] | None = None,
                   on_progress: Callable[[Iterable], Iterable] = lambda it: it) -> SimulationResult:
    """Write every organisation's simulated return into ``out_dir`` plus the simulation's CSV files.

    ``soffice`` is the LibreOffice program for .ods/.xls returns ("auto": look on PATH; None: never);
    without it those returns are written as .xlsx and the manifest says so. ``postcodes`` (org code ->
    postcode) defaults to the reference ``trusts.csv`` when shipped. Same seed, same answers.
    """
    if not {"trust", "icb"} & set(inst.audience):
        raise SimulationError(f"{inst.key} is answered by individuals, not organisations; simulate fills "
                              "trust and ICB returns (use --instrument trust_capability)")
    if not 0 <= messiness <= 1:
        raise SimulationError(f"messiness {messiness} is outside 0 to 1")
    out_dir = Path(out_dir)
    prepare_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    soffice = find_soffice() if soffice == "auto" else soffice
    if postcodes is None:
        postcodes = load_reference_postcodes()
    records = orgs.to_dict("records")
    plans = plan_round([o["org_code"] for o in records], messiness, seed)
    built_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    filler = WorkbookFiller(inst, round_, built_at=built_at, deadline=default_deadline(round_),
                            contact=inst.contact_email or "")
    injector = Injector(inst, seed)
    submissions: list[_Submission] = []
    titles: list[dict] = []
    with staged_dir(out_dir, force=True) as staging:   # prepare_out_dir has already applied --force
        scratch = staging / ".convert"
        for org in on_progress(records):
            plan = plans[org["org_code"]]
            subs, truth = _simulate_org(inst, org, round_, seed, plan, injector, postcodes)
            for sub in subs:
                _write(inst, filler, sub, staging, scratch, round_)
            submissions.extend(subs)
            first = subs[0].files[0].name if subs and subs[0].files else ""
            titles.extend({"org_code": org["org_code"], "file": first, **t} for t in truth)
        skipped = _convert(submissions, staging, scratch, soffice)
        for sub in submissions:
            for path in sub.files:
                stamp = sub.received.timestamp()
                os.utime(path, (stamp, stamp))
        for sub in submissions:
            sub.places = [_place(inst, filler, sub, inj) for inj in sub.injections]
        manifest = _manifest(submissions, records, plans)
        injections = _injection_table(submissions)
        writers.write_csv(staging / MANIFEST_NAME, manifest)
        writers.write_csv(staging / INJECTIONS_NAME, injections, as_sent=True)   # exactly what the files hold
        writers.write_csv(staging / TITLES_NAME, pd.DataFrame(titles, columns=TITLE_COLUMNS))
        shutil.rmtree(scratch, ignore_errors=True)
    return SimulationResult(out_dir, manifest, out_dir / MANIFEST_NAME, injections, skipped, bool(postcodes))


def _simulate_org(inst: Instrument, org: dict, round_: int, seed: int, plan: OrgPlan, injector: Injector,
                  postcodes: dict[str, str]) -> tuple[list[_Submission], list[dict]]:
    if not plan.returned:
        return [], []
    code = org["org_code"]
    answers, profile = fill_return(inst, org, round_, seed, postcodes)
    problems = rule_violations(inst, answers)
    if problems:  # the definition asks for something the simulator cannot yet satisfy
        log.warning("%s: simulated answers break %s", code, "; ".join(problems))
    spoiled, injections = injector.inject(answers, plan, code, seed)
    received = _received(seed, code, _signoff_date(inst, answers), round_)
    first = _Submission(org, 1, plan.fmt, _outcome(injections), spoiled, injections, received,
                        profile.postcode_source, notes=[f"simulator: {p}" for p in problems])
    subs = [first]
    if plan.resubmit:
        delay = resubmission_delay(seed, code)
        fixed = corrected(inst, answers, delay)
        later = received + dt.timedelta(days=delay)
        subs.append(_Submission(org, 2, plan.fmt, "resubmitted", fixed, [], later, profile.postcode_source))
        first.notes.append("superseded by submission 2")
    return subs, answers.truth


def _stem(inst: Instrument, sub: _Submission, round_: int) -> str:
    stem = file_stem(inst, sub.org["org_code"], round_)
    return stem + (RESUBMITTED_SUFFIX if sub.number > 1 else "")


def _write(inst: Instrument, filler: WorkbookFiller, sub: _Submission, staging: Path, scratch: Path,
           round_: int) -> None:
    stem = sub.stem = _stem(inst, sub, round_)
    if sub.fmt == "xlsx":
        sub.files = [filler.write(sub.org, sub.answers, staging / f"{stem}.xlsx")]
    elif sub.fmt == "sav":
        sub.files = write_sav(inst, sub.org, round_, sub.answers, staging / stem)
    elif sub.fmt == "csv":
        sub.files = write_csv(inst, sub.org, sub.answers, staging / stem)
    else:  # ods/xls: fill an .xlsx now, convert the whole batch later
        folder = scratch / sub.fmt
        folder.mkdir(parents=True, exist_ok=True)
        sub.files = [filler.write(sub.org, sub.answers, folder / f"{stem}.xlsx")]


def _convert(submissions: list[_Submission], staging: Path, scratch: Path,
             soffice: str | None) -> dict[str, str]:
    skipped: dict[str, str] = {}
    for fmt in ("ods", "xls"):
        subs = [s for s in submissions if s.fmt == fmt]
        if not subs:
            continue
        if soffice:
            done, problem = convert_with_soffice([s.files[0] for s in subs], fmt, staging, soffice,
                                                 timeout=120 + 2 * len(subs))
        else:
            done, problem = {}, "LibreOffice (soffice) is not on PATH"
        for sub in subs:
            source = sub.files[0]
            if source in done:
                sub.files = [done[source]]
                continue
            skipped[fmt] = problem or "conversion failed"
            target = staging / source.name
            shutil.move(str(source), target)
            sub.files = [target]
            sub.notes.append(f"{fmt} skipped ({skipped[fmt]}); returned as xlsx")
            sub.fmt = "xlsx"
    return skipped


def _place(inst: Instrument, filler: WorkbookFiller, sub: _Submission, inj: Injection) -> dict:
    """Where an injection sits in the files of a submission."""
    f = next(x for x in inst.fields() if x.field_id == inj.field_id)
    place = {"table": inj.table or "", "row": "" if inj.row is None else inj.row + 1, "field": inj.field_id,
             "variable": f.var_name, "sheet": "", "cell": "", "file": ""}
    if sub.fmt in SHEET_FORMATS:
        place["sheet"], place["cell"] = filler.address(inj.table, inj.row, inj.field_id)
        place["file"] = sub.files[0].name
    else:
        place["file"] = f"{sub.stem}{table_file_suffix(inj.table)}.{sub.fmt}"
    return place


def _text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _injection_table(submissions: list[_Submission]) -> pd.DataFrame:
    rows = []
    for sub in submissions:
        for inj, place in zip(sub.injections, sub.places):
            rows.append({"org_code": sub.org["org_code"], "submission": sub.number, "format": sub.fmt,
                         "severity": inj.severity, "kind": inj.kind, **place, "written": _text(inj.written),
                         "clean": _text(inj.clean), "message": inj.message})
    return pd.DataFrame(rows, columns=INJECTION_COLUMNS)


def _where(place: dict) -> str:
    if place["cell"]:
        return f"{place['sheet']}!{place['cell']}"
    case = f"[{place['row']}]" if place["row"] != "" else ""
    return f"{place['file']}:{place['variable']}{case}"


def _manifest(submissions: list[_Submission], records: list[dict], plans: dict[str, OrgPlan]) -> pd.DataFrame:
    by_org: dict[str, list[_Submission]] = {}
    for sub in submissions:
        by_org.setdefault(sub.org["org_code"], []).append(sub)
    rows = []
    for org in records:
        code = org["org_code"]
        if not plans[code].returned:
            rows.append({**dict.fromkeys(MANIFEST_COLUMNS, ""), "org_code": code, "org_name": org["org_name"],
                         "outcome": "not_returned", "errors": 0, "warnings": 0})
            continue
        for sub in by_org.get(code, []):
            injected = [f"{i.kind}@{_where(p)}" for i, p in zip(sub.injections, sub.places)]
            rows.append({
                "org_code": code, "org_name": org["org_name"], "submission": sub.number,
                "outcome": sub.outcome,
                "format": sub.fmt, "files": ";".join(p.name for p in sub.files),
                "received": sub.received.isoformat(timespec="minutes"),
                "errors": sum(i.severity == "error" for i in sub.injections),
                "warnings": sum(i.severity == "warning" for i in sub.injections),
                "injected": "; ".join(injected), "postcode_source": sub.postcode_source,
                "notes": "; ".join(sub.notes),
            })
    return pd.DataFrame(rows, columns=MANIFEST_COLUMNS)
