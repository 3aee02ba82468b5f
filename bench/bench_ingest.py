"""Ingesting a round of 250 filled returns end to end, against a plain openpyxl read-only loop.

Setup (not timed): ``trust-survey simulate --messiness 0`` builds and fills 250 valid returns.
Ours: ``trust-survey ingest`` of that folder into a new database (sniff, hash, read, identify, clean,
validate, store, write issues and the HTML report), once with the default Great Expectations engine
and once with ``--engine pandas``, each in a fresh process. Baseline: a fresh process that opens each
workbook with openpyxl ``read_only=True, data_only=True`` and iterates every sheet's values, doing
nothing else. Target: ingest at least 4x faster than the baseline (ratio = ours / baseline <= 0.25),
peak memory under 500 MB.
"""
from __future__ import annotations

import csv
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import measure, python_snippet

N_RETURNS = 250

BASELINE = """
import sys
from pathlib import Path
from openpyxl import load_workbook
cells = 0
for path in sorted(Path(sys.argv[1]).glob("*.xlsx")):
    wb = load_workbook(path, read_only=True, data_only=True)
    for ws in wb.worksheets:
        for row in ws.iter_rows(values_only=True):
            cells += len(row)
    wb.close()
print(cells)
"""


def _simulate(tmp: Path) -> Path:
    orgs = tmp / "orgs.csv"
    with open(orgs, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["org_code", "org_name"])
        for i in range(N_RETURNS):
            writer.writerow([f"R{i:03d}", f"Benchmark Trust {i} NHS Foundation Trust"])
    out = tmp / "returns"
    subprocess.run([sys.executable, "-m", "trust_survey", "simulate", "--round", "2026", "--orgs", str(orgs),
                    "--out", str(out), "--messiness", "0", "--seed", "1", "--quiet"], check=True,
                   stdout=subprocess.DEVNULL)
    return out


def _ingest(returns: Path, tmp: Path, engine: str) -> dict:
    return measure([sys.executable, "-m", "trust_survey", "ingest", str(returns), "--round", "2026",
                    "--db", str(tmp / f"{engine}.duckdb"), "--out", str(tmp / f"run_{engine}"), "--engine", engine,
                    "--quiet"])


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        returns = _simulate(tmp)
        n = len(list(returns.glob("*.xlsx")))
        base = measure(python_snippet(BASELINE) + [str(returns)])
        results = []
        for engine in ("gx", "pandas"):
            ours = _ingest(returns, tmp, engine)
            results.append({
                "name": f"ingest --engine {engine}: {n} returns",
                "seconds": ours["seconds"], "peak_mb": ours["peak_mb"],
                "baseline_name": "plain openpyxl read-only loop over the same workbooks",
                "baseline_seconds": base["seconds"], "ratio": ours["seconds"] / base["seconds"],
                "speedup": base["seconds"] / ours["seconds"],
                "notes": f"{base['seconds'] / ours['seconds']:.1f}x the baseline's speed (target: 4x, ratio <= "
                         "0.25); peak MB (target < 500) is the largest single process; end to end, including "
                         "start-up" + (" and Great Expectations' import" if engine == "gx" else ""),
            })
    return results


if __name__ == "__main__":
    from bench.__main__ import report

    report(run())
