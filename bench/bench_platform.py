"""Ingesting one large survey-platform export: 15,000 respondents of ``individual_review`` as SmartSurvey
writes its raw-data CSV, against reading the same file with Python's csv module.

Setup (not timed): the export is generated from the shipped SmartSurvey mapping and the instrument's own
wording: bookkeeping and personal columns, numbered questions, a matrix as "question - statement"; some
free-text answers hold line breaks, quote marks and commas, some answers are "Prefer not to say" or blank.

Ours: ``trust-survey ingest EXPORT`` in a fresh process (the shipped mapping is picked by the header
layout; every respondent is identified, cleaned, validated, archived and stored), with the default Great
Expectations engine and with ``--engine pandas``, each into a new database. Baseline, in the same run: a
fresh process that parses the same file with ``csv.reader`` and does nothing else. Peak MB is the largest
resident size of the process or any of its children (``getrusage(RUSAGE_CHILDREN)``).

Target (issue #11): under 15 s and under 500 MB for each engine.
"""
from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

import yaml

from bench.common import measure, python_snippet

N_RESPONDENTS = 15_000
ROUND = 2026
MAPPING = Path(__file__).resolve().parent.parent / "trust_survey" / "data" / "platform_mappings" / "smartsurvey.yaml"

BASELINE = """
import csv, sys
with open(sys.argv[1], newline="", encoding="utf-8") as fh:
    n = sum(len(row) for row in csv.reader(fh))
print(n)
"""

SCALE = ["Strongly disagree", "Disagree", "Neither agree nor disagree", "Agree", "Strongly agree"]
COMMENTS = ['I don\'t know what "health informatics" means, here.',
            "More protected time for research,\ndevelopment and teaching.",
            "Pay, progression, and a clear route to band 8a",
            "Zoë says: £ for training matters\r\nand so does time off to study.", ""]


def _answers(inst, n: int) -> dict[str, str]:
    """Respondent ``n``'s answers by item id, as the platform writes them (labels)."""
    groups = [c.label for c in inst.choice_lists["groups"]]
    group = groups[n % len(groups)]
    a = {"respondent_id": f"IR{ROUND}-{n + 1:05d}", "group": group,
         "stream": "Not applicable" if group.startswith("Line manager") else
         ["Genomics", "Health informatics", "Physical sciences"][n % 3],
         "trust_code": ["RJ1", "RGT", "RRK", "RBV"][n % 4],
         "training_year": ["First year", "Second year", "Third year"][n % 3] if group == "STP trainee"
         else "Not a trainee",
         "years_nhs": "" if n % 11 == 7 else str(n % 30),
         "comment_keep": COMMENTS[n % 5], "comment_other": COMMENTS[(n + 2) % 5]}
    for k, item in enumerate(i.id for s in inst.sections for i in s.items if i.type == "likert"):
        a[item] = SCALE[(n + 2 * k) % 5]
        if (n + k) % 37 == 0:
            a[item] = "Prefer not to say"
    return a


def build_export(path: Path, n: int = N_RESPONDENTS) -> Path:
    from trust_survey.instruments.loader import load_registry

    mapping = yaml.safe_load(MAPPING.read_text())
    inst = load_registry().get(mapping["instrument"], mapping["version"])
    questions = list(mapping["columns"].items())
    header = ["UserID", "UserNo", "Name", "Email", "IP Address", "Unique ID", "Started", "Ended"]
    header += [f"{q}. {label}" for q, (label, _) in enumerate(questions, start=1)]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\r\n")
        writer.writerow(header)
        for r in range(n):
            a = _answers(inst, r)
            writer.writerow([str(90000 + r), str(r + 1), f"Person {r}", f"person{r}@trust.nhs.example",
                             f"203.0.113.{r % 250}", f"U{r:05d}", "02/11/2026 09:00:00", "02/11/2026 09:08:00"]
                            + [a[item] for _, item in questions])
    return path


def _ingest(export: Path, tmp: Path, engine: str) -> list[str]:
    return [sys.executable, "-m", "trust_survey", "ingest", str(export), "--round", str(ROUND),
            "--db", str(tmp / engine / "db.duckdb"), "--out", str(tmp / engine / "run"), "--engine", engine,
            "--quiet"]


def run(n: int = N_RESPONDENTS) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export = build_export(tmp / "smartsurvey_export.csv", n)
        base = measure(python_snippet(BASELINE) + [str(export)])
        results = []
        for engine in ("gx", "pandas"):
            ours = measure(_ingest(export, tmp, engine))
            if ours["returncode"] != 0:
                raise RuntimeError(f"ingest --engine {engine} did not store the export cleanly:\n{ours['stderr']}")
            results.append({
                "name": f"ingest --engine {engine}: platform export, {n:,} respondents",
                "seconds": ours["seconds"], "peak_mb": ours["peak_mb"],
                "baseline_name": "csv.reader over the same file, fresh process",
                "baseline_seconds": base["seconds"], "ratio": ours["seconds"] / base["seconds"],
                "notes": "target: < 15 s and < 500 MB (issue #11); fresh process, start-up included; "
                         "peak MB is the largest of the process and its children"})
    return results


if __name__ == "__main__":
    from bench.__main__ import report

    report(run(int(sys.argv[1]) if len(sys.argv) > 1 else N_RESPONDENTS))
