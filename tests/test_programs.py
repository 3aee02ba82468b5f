"""The tests' own drivers for real programs (tests/programs/) catch what the other tests rely on them to catch."""
from __future__ import annotations

import csv
import json
import subprocess
import sys

import pytest


@pytest.mark.chromium
def test_browser__offline_page__blocked_request_and_uncaught_error_are_reported_and_fail(chromium, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<title>t</title><script src='https://tiles.example.org/lib.js'></script>"
                    "<script>window.ok = 41 + 1; throw new Error('boom in page');</script>", encoding="utf-8")
    proc = subprocess.run([sys.executable, str(chromium), str(page), "--offline", "--fail-on-errors",
                           "--eval", "window.ok", "--eval", "no_such_name.x"],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout)
    assert proc.returncode == 1
    assert [r["url"] for r in report["failed_requests"]] == ["https://tiles.example.org/lib.js"]
    assert any("boom in page" in e for e in report["errors"])
    values = list(report["eval"].values())
    assert values[0] == 42 and "error" in values[1]


@pytest.mark.pspp
def test_pspp_sav__codes_with_leading_zeros_stay_text_and_labels_are_kept(pspp, tmp_path):
    import pyreadstat

    source = tmp_path / "cases.csv"
    with open(source, "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["ORGCODE", "band", "site", "wte"], ["RRK", "7", "007", "2.5"],
                                  ["R1A", "-9", "012", ""]])
    labels = tmp_path / "labels.sps"
    labels.write_text("VALUE LABELS band 7 'Band 7' -9 'Not answered'.\nMISSING VALUES band (-9).\n", encoding="utf-8")
    target = tmp_path / "out" / "cases.zsav"
    proc = subprocess.run([sys.executable, str(pspp), "-l", str(labels), str(source), str(target)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    frame, meta = pyreadstat.read_sav(str(target), user_missing=True)
    assert frame.site.tolist() == ["007", "012"] and frame.wte.tolist()[0] == 2.5
    assert meta.variable_value_labels["band"] == {7.0: "Band 7", -9.0: "Not answered"}

    labels.write_text("VALUE LABELS no_such_variable 1 'x'.\n", encoding="utf-8")
    bad = subprocess.run([sys.executable, str(pspp), "-l", str(labels), str(source), str(tmp_path / "bad.sav")],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 1 and "no_such_variable" in bad.stderr and not (tmp_path / "bad.sav").exists()


@pytest.mark.libreoffice
def test_lo_fill__typed_numbers_text_and_formulas__saved_as_libreoffice_stores_them(libreoffice, tmp_path):
    from openpyxl import Workbook

    blank = tmp_path / "blank.xlsx"
    wb = Workbook()
    wb.active.title = "Data"
    wb.save(blank)
    out = tmp_path / "made" / "filled.csv"
    proc = subprocess.run([sys.executable, str(libreoffice), str(blank), str(out), "--json", "--recalc",
                           "--set", "Data!A1=007", "--text", "Data!B1=007", "--set", "Data!C1==A1*2",
                           "--set", "Data!D1=Band 7"], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    assert [c["kind"] for c in json.loads(proc.stdout)["cells"]] == ["number", "formula", "text", "text"]
    assert next(csv.reader(out.read_text(encoding="utf-8").splitlines())) == ["7", "007", "14", "Band 7"]

    missing = subprocess.run([sys.executable, str(libreoffice), str(blank), str(tmp_path / "x.xlsx"),
                              "--set", "Staff!A2=x"], capture_output=True, text=True, timeout=240)
    assert missing.returncode == 3 and "Staff!A2" in missing.stderr and not (tmp_path / "x.xlsx").exists()
