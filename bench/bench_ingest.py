"""Ingesting a round of 250 filled returns end to end, against a plain openpyxl read-only loop.

Setup (not timed): ``trust-survey simulate --messiness 0`` builds and fills 250 valid returns.
Ours: ingest of that folder into a new database (sniff, hash, read, identify, clean, validate, archive,
store, write issues and the HTML report), with the default Great Expectations engine and with
``--engine pandas``. Baseline: a loop that opens each workbook with openpyxl ``read_only=True,
data_only=True`` and iterates every sheet's values, doing nothing else.

Two ways, each side measured the same way in the same run:

- cold: ``trust-survey ingest`` in a fresh process against the loop in a fresh process (best of three
  each, every ingest into a new database), so start-up and imports count (Python, pandas and DuckDB:
  about 0.5 s; for the GX engine, Great Expectations: about 1 s more, while the workers read);
- warm: the libraries already loaded, as in a notebook or any second ingest in one process: the best
  of three ``ingest_paths`` calls (each into a new database) against the best of three loops.

Target: at least 4x faster than the baseline (ratio = ours / baseline <= 0.25), peak memory under 500 MB
(the largest single process of the cold run).
"""
from __future__ import annotations

import csv
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import measure, python_snippet

N_RETURNS = 250
REPEAT = 3   # each figure is the best of this many runs, ours and the baseline's alike

BASELINE = """
import json, sys, time
from pathlib import Path
from openpyxl import load_workbook
def loop():
    cells = 0
    for path in sorted(Path(sys.argv[1]).glob("*.xlsx")):
        wb = load_workbook(path, read_only=True, data_only=True)
        for ws in wb.worksheets:
            for row in ws.iter_rows(values_only=True):
                cells += len(row)
        wb.close()
    return cells
times = []
for _ in range(int(sys.argv[2]) if len(sys.argv) > 2 else 1):
    started = time.perf_counter()
    loop()
    times.append(time.perf_counter() - started)
print(json.dumps(times))
"""

WARM = """
import json, sys, tempfile, time
from pathlib import Path
from trust_survey.ingest.orchestrate import ingest_paths
from trust_survey.ingest.engines import import_gx
engine = sys.argv[2]
if engine == "gx":
    import_gx()
times = []
for _ in range(int(sys.argv[3])):
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ingest_paths([Path(sys.argv[1])], Path(tmp) / "db.duckdb", 2026, out_dir=Path(tmp) / "run", engine=engine)
        times.append(time.perf_counter() - started)
print(json.dumps(times))
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


def _ingest(returns: Path, tmp: Path, engine: str, run: int) -> list[str]:
    return [sys.executable, "-m", "trust_survey", "ingest", str(returns), "--round", "2026",
            "--db", str(tmp / f"{engine}{run}" / "db.duckdb"), "--out", str(tmp / f"{engine}{run}" / "run"),
            "--engine", engine, "--quiet"]


def _cold(commands: list[list[str]]) -> dict:
    """The fastest of several fresh-process runs, with the largest peak memory of any."""
    runs = [measure(cmd) for cmd in commands]
    return {"seconds": min(r["seconds"] for r in runs), "peak_mb": max(r["peak_mb"] for r in runs)}


def _best(cmd: list[str]) -> float:
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return min(json.loads(out.stdout.strip().splitlines()[-1]))


def _row(name: str, seconds: float, peak_mb: float, baseline: float, how: str, notes: str) -> dict:
    return {"name": name, "seconds": seconds, "peak_mb": peak_mb,
            "baseline_name": f"plain openpyxl read-only loop over the same workbooks, {how}",
            "baseline_seconds": baseline, "ratio": seconds / baseline, "speedup": baseline / seconds,
            "notes": f"{baseline / seconds:.1f}x the baseline's speed (target: 4x, ratio <= 0.25); {notes}"}


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        returns = _simulate(tmp)
        n = len(list(returns.glob("*.xlsx")))
        cold_base = _cold([python_snippet(BASELINE) + [str(returns)]] * REPEAT)
        warm_base = _best(python_snippet(BASELINE) + [str(returns), str(REPEAT)])
        results = []
        for engine in ("gx", "pandas"):
            cold = _cold([_ingest(returns, tmp, engine, run) for run in range(REPEAT)])
            warm = _best(python_snippet(WARM) + [str(returns), engine, str(REPEAT)])
            results.append(_row(f"ingest --engine {engine}: {n} returns, cold", cold["seconds"], cold["peak_mb"],
                                cold_base["seconds"], "fresh process, best of 3",
                                "best of 3 fresh processes, start-up and imports included" +
                                (", Great Expectations' too" if engine == "gx" else "") +
                                "; peak MB (target < 500) is the largest single process"))
            results.append(_row(f"ingest --engine {engine}: {n} returns, warm", warm, cold["peak_mb"], warm_base,
                                "libraries loaded, best of 3", "libraries loaded, best of 3 runs each into a new "
                                "database; peak MB as cold"))
    return results


if __name__ == "__main__":
    from bench.__main__ import report

    report(run())
