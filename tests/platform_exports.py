"""The same 15 respondents exported as five survey platforms write them, byte for byte.

Each builder writes one platform's download of an ``individual_review`` survey built with the
instrument's own wording: its header rows, its bookkeeping and personal columns (names, emails and IP
addresses, which must never be stored), its quoting and line endings. Answers include quote marks,
commas, line breaks, accents, "Prefer not to say" and blanks. :func:`expected` is what the store must
hold for each respondent afterwards.
"""
from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path

import pandas as pd

from ingest_helpers import REGISTRY

INST = REGISTRY.get("individual_review", 1)
ROUND = 2026
LIKERT = [i.id for s in INST.sections for i in s.items if i.type == "likert"]
SCALE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
GROUPS = [c.label for c in INST.choice_lists["groups"]]
STREAMS = ["Genomics", "Health informatics", "Physical sciences"]
YEARS = ["First year", "Second year", "Third year"]
TRUSTS = ["RJ1", "RGT", "RRK", "RBV"]
COMMENTS = [
    'I don\'t know what "health informatics" means, here.',
    "More protected time for research,\ndevelopment and teaching.",
    "Pay, progression, and a clear route to band 8a",
    "Zoë says: £ for training matters",
    "",
]
PERSON = [("Jo", "Bloggs"), ("Priya", "Patel"), ("Sam", "Jones")]


def _label(item_id: str) -> str:
    return INST.item(item_id).label


def _help(item_id: str) -> str:
    return next(s.help for s in INST.sections if any(i.id == item_id for i in s.items))


def respondents() -> list[dict[str, str]]:
    """15 respondents' answers by item id, as answer labels (blank: not answered)."""
    people = []
    for n in range(15):
        group = GROUPS[n % 4]
        a = {"respondent_id": f"IR{ROUND}-{n + 1:04d}", "group": group,
             "stream": "Not applicable" if group.startswith("Line manager") else STREAMS[n % 3],
             "trust_code": TRUSTS[n % 4],
             "training_year": YEARS[n % 3] if group == "STP trainee" else "Not a trainee",
             "years_nhs": "" if n == 7 else str(n % 12),
             "comment_keep": COMMENTS[n % 5], "comment_other": COMMENTS[(n + 2) % 5]}
        for k, item in enumerate(LIKERT):
            a[item] = SCALE[(n + 2 * k) % 5]
        if n % 6 == 1:
            a[LIKERT[n % len(LIKERT)]] = "Prefer not to say"
        if n == 4:
            a["use_research"] = ""
        people.append(a)
    return people


def expected() -> pd.DataFrame:
    """What ``store.individual_responses`` must give for the 15 respondents (codes, numbers, text)."""
    rows = []
    for a in respondents():
        row = {"respondent_id": a["respondent_id"]}
        for f in INST.fields():
            item = f.item
            value = a.get(f.field_id, "")
            if f.field_id == "respondent_id" or item.personal:
                continue
            if item.type == "likert":
                row[f.field_id] = SCALE.index(value) + 1 if value in SCALE else pd.NA
            elif item.choice_list:
                row[f.field_id] = next(c.code for c in INST.choices_for(item) if c.label == value)
            elif item.type == "integer":
                row[f.field_id] = int(value) if value else pd.NA
            else:
                row[f.field_id] = value or pd.NA
        rows.append(row)
    return pd.DataFrame(rows)


def _csv(rows: list[list], encoding: str = "utf-8-sig", quoting=csv.QUOTE_MINIMAL) -> bytes:
    buf = io.StringIO(newline="")
    csv.writer(buf, quoting=quoting, lineterminator="\r\n").writerows(rows)
    return buf.getvalue().encode(encoding)


def _when(n: int) -> dt.datetime:
    return dt.datetime(2026, 11, 2, 9, 0) + dt.timedelta(hours=5 * n, minutes=7 * n)


PLAIN = ["group", "stream", "trust_code", "training_year", "years_nhs"]


def surveymonkey(path: Path) -> Path:
    """SurveyMonkey, All responses, expanded, CSV: the question over a matrix's first column only, then
    the statements or "Response" / "Open-Ended Response" in row 2."""
    top = ["Respondent ID", "Collector ID", "Start Date", "End Date", "IP Address", "Email Address", "First Name",
           "Last Name", "Custom Data 1"]
    second = [""] * len(top)
    order = []
    for item in PLAIN:
        top.append(_label(item))
        second.append("Open-Ended Response" if item in ("trust_code", "years_nhs") else "Response")
        order.append(item)
    last_help = None
    for item in LIKERT:
        top.append(_help(item) if _help(item) != last_help or item in ("use_skills",) else "")
        last_help = _help(item)
        second.append(_label(item))
        order.append(item)
    for item in ("comment_keep", "comment_other"):
        top.append(_label(item))
        second.append("Open-Ended Response")
        order.append(item)
    rows = [top, second]
    for n, a in enumerate(respondents()):
        first, last = PERSON[n % 3]
        rows.append([str(11400000000 + n), "432100987", _when(n).strftime("%m/%d/%Y %I:%M:%S %p"),
                     (_when(n) + dt.timedelta(minutes=9)).strftime("%m/%d/%Y %I:%M:%S %p"), f"192.0.2.{n + 10}",
                     f"{first}.{last}@nhs.example".lower(), first, last, a["respondent_id"]]
                    + [a[i] for i in order])
    path.write_bytes(_csv(rows, quoting=csv.QUOTE_ALL))
    return path


def qualtrics(path: Path) -> Path:
    """Qualtrics, CSV with choice text: names, question text, then ImportId JSON."""
    book = [("StartDate", "Start Date", '{"ImportId":"startDate","timeZone":"Europe/London"}'),
            ("EndDate", "End Date", '{"ImportId":"endDate","timeZone":"Europe/London"}'),
            ("Status", "Response Type", '{"ImportId":"status"}'),
            ("IPAddress", "IP Address", '{"ImportId":"ipAddress"}'),
            ("Progress", "Progress", '{"ImportId":"progress"}'),
            ("Duration (in seconds)", "Duration (in seconds)", '{"ImportId":"duration"}'),
            ("Finished", "Finished", '{"ImportId":"finished"}'),
            ("RecordedDate", "Recorded Date", '{"ImportId":"recordedDate","timeZone":"Europe/London"}'),
            ("ResponseId", "Response ID", '{"ImportId":"_recordId"}'),
            ("RecipientLastName", "Recipient Last Name", '{"ImportId":"recipientLastName"}'),
            ("RecipientFirstName", "Recipient First Name", '{"ImportId":"recipientFirstName"}'),
            ("RecipientEmail", "Recipient Email", '{"ImportId":"recipientEmail"}'),
            ("ExternalReference", "External Data Reference", '{"ImportId":"externalDataReference"}'),
            ("LocationLatitude", "Location Latitude", '{"ImportId":"locationLatitude"}'),
            ("LocationLongitude", "Location Longitude", '{"ImportId":"locationLongitude"}'),
            ("DistributionChannel", "Distribution Channel", '{"ImportId":"distributionChannel"}'),
            ("UserLanguage", "User Language", '{"ImportId":"userLanguage"}')]
    header = [list(c) for c in zip(*book)]
    order = []
    q = 0
    for item in PLAIN:
        q += 1
        header[0].append(f"Q{q}")
        header[1].append(_label(item))
        header[2].append(json.dumps({"ImportId": f"QID{q}" + ("_TEXT" if item in ("trust_code", "years_nhs") else "")},
                                    separators=(",", ":")))
        order.append(item)
    for section in ("retention", "utilisation", "equity"):
        q += 1
        items = [i.id for s in INST.sections if s.id == section for i in s.items]
        for k, item in enumerate(items, start=1):
            header[0].append(f"Q{q}_{k}")
            header[1].append(f"{_help(item)} - {_label(item)}")
            header[2].append(json.dumps({"ImportId": f"QID{q}_{k}"}, separators=(",", ":")))
            order.append(item)
    for item in ("comment_keep", "comment_other"):
        q += 1
        header[0].append(f"Q{q}")
        header[1].append(_label(item))
        header[2].append(json.dumps({"ImportId": f"QID{q}_TEXT"}, separators=(",", ":")))
        order.append(item)
    for h in header[:2]:
        h.append("respondent_id")
    header[2].append('{"ImportId":"respondent_id"}')
    rows = list(header)
    for n, a in enumerate(respondents()):
        first, last = PERSON[n % 3]
        when = _when(n).strftime("%Y-%m-%d %H:%M:%S")
        rows.append([when, when, "IP Address", f"198.51.100.{n + 1}", "100", str(300 + n), "True", when,
                     f"R_{n:03d}abcXYZ{n}", last, first, f"{first}@example.org".lower(), "", "51.5072", "-0.1276",
                     "email", "EN-GB"] + [a[i] for i in order] + [a["respondent_id"]])
    path.write_bytes(_csv(rows))
    return path


def microsoft_forms(path: Path) -> Path:
    """Microsoft Forms, Responses > Open in Excel: one sheet, ID, times, Email, Name, then the questions
    (a Likert question as one column per statement)."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = "Sheet1"
    order = ["respondent_id", *PLAIN, *LIKERT, "comment_keep", "comment_other"]
    ws.append(["ID", "Start time", "Completion time", "Email", "Name"] + [_label(i) for i in order])
    for n, a in enumerate(respondents()):
        first, last = PERSON[n % 3]
        cells = []
        for i in order:
            value = a[i]
            cells.append(int(value) if i == "years_nhs" and value else (value or None))
        ws.append([n + 1, _when(n), _when(n) + dt.timedelta(minutes=11), f"{first}.{last}@nhs.example".lower(),
                   f"{first} {last}"] + cells)
    wb.save(path)
    return path


def smartsurvey(path: Path) -> Path:
    """SmartSurvey raw data CSV: bookkeeping, then numbered questions; a matrix as 'question - statement'."""
    header = ["UserID", "UserNo", "Name", "Email", "IP Address", "Unique ID", "Started", "Ended"]
    order, q = [], 0
    for item in ["respondent_id", *PLAIN]:
        q += 1
        header.append(f"{q}. {_label(item)}")
        order.append(item)
    last = None
    for item in LIKERT:
        if _help(item) != last or item == "use_skills":
            q += 1
        last = _help(item)
        header.append(f"{q}. {_help(item)} - {_label(item)}")
        order.append(item)
    for item in ("comment_keep", "comment_other"):
        q += 1
        header.append(f"{q}. {_label(item)}")
        order.append(item)
    rows = [header]
    for n, a in enumerate(respondents()):
        first, lastname = PERSON[n % 3]
        rows.append([str(90000 + n), str(n + 1), f"{first} {lastname}", f"{first}@trust.nhs.example".lower(),
                     f"203.0.113.{n + 1}", f"U{n:05d}", _when(n).strftime("%d/%m/%Y %H:%M:%S"),
                     (_when(n) + dt.timedelta(minutes=8)).strftime("%d/%m/%Y %H:%M:%S")] + [a[i] for i in order])
    path.write_bytes(_csv(rows, encoding="utf-8"))
    return path


def jisc(path: Path) -> Path:
    """JISC Online Surveys CSV: Response ID, Started, Completed, then numbered questions ('7.1. statement')."""
    header = ["Response ID", "Started", "Completed"]
    order, q = [], 0
    for item in ["respondent_id", *PLAIN]:
        q += 1
        header.append(f"{q}. {_label(item)}")
        order.append(item)
    for section in ("retention", "utilisation", "equity"):
        q += 1
        items = [i.id for s in INST.sections if s.id == section for i in s.items]
        for k, item in enumerate(items, start=1):
            header.append(f"{q}.{k}. {_label(item)}")
            order.append(item)
    for item in ("comment_keep", "comment_other"):
        q += 1
        header.append(f"{q}. {_label(item)}")
        order.append(item)
    rows = [header]
    for n, a in enumerate(respondents()):
        rows.append([str(7000 + n), _when(n).strftime("%Y-%m-%d %H:%M:%S"),
                     (_when(n) + dt.timedelta(minutes=6)).strftime("%Y-%m-%d %H:%M:%S")] + [a[i] for i in order])
    path.write_bytes(_csv(rows))
    return path


#: platform -> (builder, file name, shipped mapping file)
PLATFORMS = {
    "surveymonkey": (surveymonkey, "SurveyMonkey_all_responses.csv", "surveymonkey_expanded.yaml"),
    "qualtrics": (qualtrics, "Clinical+bioinformatics+review_November+30,+2026_10.15.csv",
                  "qualtrics_choice_text.yaml"),
    "forms": (microsoft_forms, "Clinical bioinformatics workforce review(1-15).xlsx", "microsoft_forms.yaml"),
    "smartsurvey": (smartsurvey, "smartsurvey_export.csv", "smartsurvey.yaml"),
    "jisc": (jisc, "jisc_online_surveys_export.csv", "jisc_online_surveys.yaml"),
}
SECRETS = ["bloggs", "patel", "jones", "192.0.2.", "198.51.100.", "203.0.113.", "nhs.example", "example.org"]
