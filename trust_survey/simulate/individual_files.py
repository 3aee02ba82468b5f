"""Simulate a round of individual review returns as the files the survey team receives.

:func:`simulate_individual_round` draws ``n`` respondents with :func:`~trust_survey.simulate.individuals.
simulate_individuals` (group means steered to the HEE report's figures) and writes them the three ways
they come back:

- most as one **survey-platform CSV export** (``individual_review_platform_export_<round>.csv``): the
  column names, answer labels and bookkeeping columns the platform mapping file declares
  (``instruments/mappings/<instrument>.platform.v<n>.yaml``), including the personal columns the platform
  adds (recipient names, email, IP address), which ingest must never store;
- a few as the toolkit's own **workbook** (``<respondent>_<instrument>_v<n>_<round>.xlsx``), personalised
  with the respondent id as the invitation carries it;
- a few as **SPSS** files in the template shape (one case each).

Beside them ``individual_manifest.csv`` says where each respondent went (respondent id, group, stream,
trust, format, file): the truth to check ingest and the report against. Same seed, same files.
"""
from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from trust_survey.atomic import staged_dir
from trust_survey.build.orchestrate import default_deadline, file_stem, prepare_out_dir
from trust_survey.errors import TrustSurveyError
from trust_survey.instruments.model import Instrument
from trust_survey.simulate.fill import Answers
from trust_survey.simulate.individuals import simulate_individuals
from trust_survey.simulate.writers import WorkbookFiller, write_sav
from trust_survey.writers import write_csv

INDIVIDUAL_MANIFEST = "individual_manifest.csv"
INDIVIDUAL_MANIFEST_COLUMNS = ["respondent_id", "group", "stream", "trust_code", "format", "file"]

FIRST_NAMES = ("Amira", "Ben", "Chloe", "Dev", "Eilidh", "Femi", "Grace", "Hamza", "Isla", "Jonah", "Kavya", "Liam")
LAST_NAMES = ("Okafor", "Patel", "Nguyen", "Hughes", "O'Neill", "Kowalski", "Begum", "Campbell", "Evans", "Shah")
COMMENTS_KEEP = (
    "A clear route to band 8 posts without leaving for industry.",
    "Being offered a post before the end of training, not a month after.",
    "Protected time for development work and research.",
    "Remote working two days a week would make a big difference.",
    "Recognition that bioinformatics is a clinical service, not IT support.",
    "Salaries closer to what industry offers; I love the work but the gap is large.",
)
COMMENTS_OTHER = (
    "My line manager is supportive but the team is too small to cover leave.",
    "Please keep this survey short; it was fine this year.",
    "Happy to talk more: email me at first.last@nhs.net.example",
)


class IndividualSimulationError(TrustSurveyError):
    code = "SIM002"


@dataclass
class IndividualSimulationResult:
    out_dir: Path
    manifest: pd.DataFrame
    manifest_path: Path
    platform_csv: Path | None


def _choice_labels(inst: Instrument, list_name: str) -> dict[str, str]:
    """Choice key -> the instrument's label (what the workbook's drop-down holds)."""
    return {c.key: c.label for c in inst.lists()[list_name]}


def _answers_with_labels(inst: Instrument, row: dict) -> dict:
    """A respondent's row as the workbook holds it: choices as labels, Likert as its label, text as text."""
    out = {}
    for _, item in inst.form_items():
        value = row.get(item.id)
        if value is None or (isinstance(value, float) and value != value) or value is pd.NA:
            continue
        if item.type == "likert":
            out[item.id] = _choice_labels(inst, "likert5")[_likert_key(inst, int(value))]
        elif item.type == "single_choice":
            out[item.id] = _choice_labels(inst, item.choice_list)[value]
        elif item.type == "integer":
            out[item.id] = int(value)
        else:
            out[item.id] = str(value)
    return out


def _likert_key(inst: Instrument, code: int) -> str:
    return next(c.key for c in inst.lists()["likert5"] if c.value == code)


def _platform_labels(mapping, inst: Instrument, field_id: str) -> dict[int, str]:
    """Code -> the label the platform writes: the mapping's first label for it, else the instrument's."""
    labels = {c.value: c.label for c in inst.choices_for(inst.item(field_id))}
    own: dict[int, str] = {}
    for label, code in mapping.labels_for(field_id).items():
        own.setdefault(code, label)
    return {**labels, **own}


def platform_export(responses: pd.DataFrame, inst: Instrument, mapping, round_: int, seed: int) -> pd.DataFrame:
    """The survey platform's CSV export of ``responses`` (as :func:`simulate_individuals` returns them).

    Every column the mapping names, in the platform's order: bookkeeping (``drop``), the personal columns
    the platform adds (names, email, IP address, location), then the questions with the platform's labels.
    """
    rng = random.Random(f"{seed}:platform:{round_}")
    codes = {name: {c.key: c.value for c in choices} for name, choices in inst.lists().items()}
    start = dt.datetime(round_ + 1, 2, 1, 9, 0)
    rows = []
    for k, r in enumerate(responses.to_dict("records"), start=1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        began = start + dt.timedelta(days=rng.randint(0, 30), minutes=rng.randint(0, 600))
        took = rng.randint(240, 1500)
        personal = {
            "IP Address": f"192.0.2.{rng.randint(1, 254)}", "Recipient Last Name": last,
            "Recipient First Name": first,
            "Recipient Email": f"{first}.{last.replace(chr(39), '')}@nhs.net.example".lower(),
            "Location Latitude": f"{rng.uniform(50.5, 54.9):.4f}", "Location Longitude": f"{rng.uniform(-4, 1):.4f}",
        }
        bookkeeping = {
            "Response ID": f"R_{rng.getrandbits(48):012x}", "Start Date": began.strftime("%Y-%m-%d %H:%M:%S"),
            "End Date": (began + dt.timedelta(seconds=took)).strftime("%Y-%m-%d %H:%M:%S"), "Status": "IP Address",
            "Progress": "100", "Duration (in seconds)": str(took), "Finished": "True",
            "Recorded Date": (began + dt.timedelta(seconds=took + 2)).strftime("%Y-%m-%d %H:%M:%S"),
            "Distribution Channel": "email", "User Language": "EN-GB",
        }
        record = {}
        for column in mapping.drop:
            record[column] = bookkeeping.get(column, "")
        for column in mapping.personal:
            record[column] = personal.get(column, "")
        for column, field_id in mapping.columns.items():
            value = r.get(field_id)
            item = inst.item(field_id)
            if value is None or value is pd.NA or (isinstance(value, float) and value != value):
                record[column] = ""
            elif item.type in ("likert", "single_choice"):
                code = int(value) if item.type == "likert" else codes[item.choice_list][value]
                record[column] = _platform_labels(mapping, inst, field_id)[code]
            else:
                record[column] = str(value)
        rows.append(record)
    columns = list(mapping.drop) + list(mapping.personal) + list(mapping.columns)
    return pd.DataFrame(rows, columns=columns)


def _with_comments(responses: pd.DataFrame, seed: int, round_: int) -> pd.DataFrame:
    rng = random.Random(f"{seed}:comments:{round_}")
    out = responses.copy()
    out["comment_keep"] = [rng.choice(COMMENTS_KEEP) if rng.random() < 0.4 else None for _ in range(len(out))]
    out["comment_other"] = [rng.choice(COMMENTS_OTHER) if rng.random() < 0.2 else None for _ in range(len(out))]
    return out


def simulate_individual_round(inst: Instrument, round_: int, n: int, out_dir: Path, *, mapping_path: Path,
                              seed: int = 1, workbooks: int = 3, sav: int = 2,
                              force: bool = False) -> IndividualSimulationResult:
    """Write ``n`` simulated respondents' returns into ``out_dir`` (see the module docstring).

    The first ``workbooks`` respondents reply with the toolkit's workbook, the next ``sav`` with an SPSS
    file, the rest through the survey platform (fewer respondents than that: as many as there are).
    """
    from trust_survey.ingest.platform_csv import load_mapping

    if "individual" not in inst.audience:
        raise IndividualSimulationError(f"{inst.key} is answered by organisations, not individuals; simulate its "
                                        "returns with --orgs instead of --respondents")
    if n < 1:
        raise IndividualSimulationError(f"--respondents must be at least 1; got {n}")
    mapping = load_mapping(mapping_path, inst)
    out_dir = Path(out_dir)
    prepare_out_dir(out_dir, force)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    responses = _with_comments(simulate_individuals(inst, n, round_, seed), seed, round_)
    records = responses.to_dict("records")
    n_book = min(workbooks, n)
    n_sav = min(sav, n - n_book)
    manifest = []
    with staged_dir(out_dir, force=True) as staging:   # prepare_out_dir has already applied --force
        built_at = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        filler = WorkbookFiller(inst, round_, built_at=built_at, deadline=default_deadline(round_),
                                contact=inst.contact_email or "") if n_book else None
        for k, r in enumerate(records):
            rid = r["respondent_id"]
            who = {"org_code": rid, "org_name": f"Respondent {rid}"}
            answers = Answers(form=_answers_with_labels(inst, r), tables={})
            if k < n_book:
                path = filler.write(who, answers, staging / f"{file_stem(inst, rid, round_)}.xlsx")
                files, fmt = [path], "xlsx"
            elif k < n_book + n_sav:
                files, fmt = write_sav(inst, who, round_, answers, staging / file_stem(inst, rid, round_)), "sav"
            else:
                files, fmt = [], "platform_csv"
            manifest.append({"respondent_id": rid, "group": r["group"], "stream": r["stream"],
                             "trust_code": r["trust_code"], "format": fmt,
                             "file": "; ".join(p.name for p in files)})
        platform = responses.iloc[n_book + n_sav:]
        csv_path = None
        if len(platform):
            csv_path = staging / f"{inst.id}_platform_export_{round_}.csv"
            write_csv(csv_path, platform_export(platform, inst, mapping, round_, seed), encoding="utf-8-sig",
                      as_sent=True)
            for m in manifest:
                if m["format"] == "platform_csv":
                    m["file"] = csv_path.name
        frame = pd.DataFrame(manifest, columns=INDIVIDUAL_MANIFEST_COLUMNS)
        write_csv(staging / INDIVIDUAL_MANIFEST, frame)
    return IndividualSimulationResult(out_dir, frame, out_dir / INDIVIDUAL_MANIFEST,
                                      out_dir / csv_path.name if csv_path else None)
