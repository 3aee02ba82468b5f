"""Building a round of 250 personalised returns, against a plain openpyxl baseline.

Baseline: the same cell values written with openpyxl and nothing else (no styles, validations,
protection, lists or meta sheet): the floor any workbook builder pays. Target: under 30 s.
"""
from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

from bench.common import measure, python_snippet

N_ORGS = 250

BASELINE = """
import sys
from openpyxl import Workbook
from trust_survey.instruments import load_registry
from trust_survey.instruments.layout import build_layout
inst = load_registry().get("trust_capability"); layout = build_layout(inst)
out = sys.argv[1]
for i in range({n}):
    wb = Workbook(); ws = wb.active; ws["A1"] = inst.title
    for sheet in layout.sheets:
        s = wb.create_sheet(sheet.name)
        for cell in sheet.form:
            s.cell(row=cell.row, column=1, value=cell.ref); s.cell(row=cell.row, column=2, value=cell.field.label)
        for col in sheet.columns:
            s.cell(row=1, column=col.col, value=col.header)
    wb.save(f"{{out}}/plain_{{i}}.xlsx")
"""


def run() -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        orgs = tmp / "orgs.csv"
        with open(orgs, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["org_code", "org_name"])
            for i in range(N_ORGS):
                writer.writerow([f"R{i:03d}"[:5], f"Benchmark Trust {i} NHS Foundation Trust"])
        ours = measure([sys.executable, "-m", "trust_survey", "instruments", "build", "trust_capability",
                        "--orgs", str(orgs), "--round", "2026", "--out", str(tmp / "built"), "--quiet",
                        "--db", str(tmp / "bench.duckdb")])
        (tmp / "plain").mkdir()
        base = measure(python_snippet(BASELINE.format(n=N_ORGS)) + [str(tmp / "plain")])
    return [{
        "name": f"instruments build: {N_ORGS} returns",
        "seconds": ours["seconds"], "peak_mb": ours["peak_mb"],
        "baseline_name": "plain openpyxl, same cells, no styles/validations/protection",
        "baseline_seconds": base["seconds"], "ratio": ours["seconds"] / base["seconds"],
        "notes": "target: under 30 s on 2 cores; ratio = ours / baseline (the cost of a protected, validated "
                 "workbook over a bare one, ours on every core); peak MB is the largest single process",
    }]


if __name__ == "__main__":
    from bench.__main__ import report

    report(run())
