"""Coding 100,000 job titles with realistic repetition, against a per-title rapidfuzz baseline.

The titles are drawn from the labelled development set (tests/data/titles_dev.csv), dressed the way trusts
write them (seniority, bands, places, brackets, capitals) and repeated with a Zipf-like frequency, as in a
real return where a few titles ("Staff Nurse") are very common and most are rare; about half carry a
department.

Ours: ``trust-survey match titles`` on that CSV in a fresh process: start-up, reading, coding, writing.
Baseline: ``rapidfuzz.process.extractOne(title, aliases, scorer=WRatio, processor=default_process)`` once
per title over the same aliases (every name, alias, abbreviation and key term of the taxonomy), timed on a
random sample of titles in a fresh process, start-up excluded, and extrapolated to all titles.
Targets: under 10 s, peak memory under 300 MB, at least 3x faster than the baseline.
"""
from __future__ import annotations

import csv
import json
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import measure

N_TITLES = 100_000
BASELINE_SAMPLE = 2_000
SEED = 2026
DEV = Path(__file__).resolve().parent.parent / "tests" / "data" / "titles_dev.csv"

PREFIXES = ["", "", "", "Senior ", "Snr ", "Principal ", "Trainee ", "Lead ", "Band 6 ", "Deputy ",
            "Specialist "]
SUFFIXES = ["", "", "", " B7", " (Band 8a)", " - Leeds", " (Fixed Term)", " Band 5", ", Royal Free",
            " (0.8 WTE)", " - St James's", " AfC 6"]

BASELINE = """
import json, random, sys, time
from rapidfuzz import process, fuzz, utils
from trust_survey.matching.taxonomy import load_taxonomy
import csv
aliases = [p.text for p in load_taxonomy().phrases]
with open(sys.argv[1], encoding="utf-8") as fh:
    titles = [r["title"] for r in csv.DictReader(fh)]
sample = random.Random(1).sample(titles, int(sys.argv[2]))
started = time.perf_counter()
for t in sample:
    process.extractOne(t, aliases, scorer=fuzz.WRatio, processor=utils.default_process)
per_title = (time.perf_counter() - started) / len(sample)
print(json.dumps({"per_title": per_title, "aliases": len(aliases), "titles": len(titles)}))
"""


def make_titles(path: Path, n: int = N_TITLES, seed: int = SEED) -> dict:
    """Write ``n`` titles (and departments) to ``path``; returns counts of distinct values."""
    rng = random.Random(seed)
    with DEV.open(encoding="utf-8") as fh:
        base = [(r["title"], r["department"]) for r in csv.DictReader(fh)]
    pool = []
    for title, dept in base:
        for _ in range(rng.randint(2, 8)):
            t = rng.choice(PREFIXES) + title + rng.choice(SUFFIXES)
            t = t.upper() if rng.random() < 0.05 else t.lower() if rng.random() < 0.05 else t
            pool.append((t, dept if rng.random() < 0.5 else ""))
    pool = list(dict.fromkeys(pool))
    rng.shuffle(pool)
    weights = [1.0 / (rank + 1) ** 1.05 for rank in range(len(pool))]
    rows = rng.choices(pool, weights=weights, k=n)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "department"])
        w.writerows(rows)
    return {"rows": n, "distinct_titles": len({t for t, _ in rows}), "pool": len(pool)}


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "titles.csv"
        counts = make_titles(src)
        ours = measure([sys.executable, "-m", "trust_survey", "match", "titles", str(src),
                        "--column", "title", "--context-column", "department",
                        "--out", str(tmp / "coded.csv"), "--quiet"])
        if ours["returncode"] != 0:
            raise RuntimeError(f"match titles failed: {ours['stderr']}")
        base = subprocess.run([sys.executable, "-c", BASELINE, str(src), str(BASELINE_SAMPLE)],
                              capture_output=True, text=True, check=True)
        b = json.loads(base.stdout)
    baseline_seconds = b["per_title"] * N_TITLES
    return [{
        "name": f"match titles: {N_TITLES:,} titles",
        "seconds": ours["seconds"], "peak_mb": ours["peak_mb"],
        "baseline_name": "extractOne(WRatio) per title, same aliases",
        "baseline_seconds": baseline_seconds, "ratio": baseline_seconds / ours["seconds"],
        "notes": (f"{counts['distinct_titles']:,} distinct raw titles, half with a department; "
                  f"{b['aliases']:,} aliases. Ours is the whole CLI run in a fresh process (start-up, CSV in "
                  f"and out). Baseline timed on {BASELINE_SAMPLE:,} random titles "
                  f"({b['per_title'] * 1000:.2f} ms each, start-up excluded) and extrapolated; "
                  "ratio = baseline / ours. Targets: < 10 s, < 300 MB, >= 3x."),
    }]


if __name__ == "__main__":
    from bench.__main__ import report

    report(run())
