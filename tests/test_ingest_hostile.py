"""Hostile and broken input: each file is rejected or cleaned with a clear reason, and nothing stored is touched."""
from __future__ import annotations

import csv
import io
import os
import zipfile
from pathlib import Path

import pytest

from ingest_helpers import FORM, INST, ROUND, Text, address, db_counts, make_return, read_issues

DB = Path("outputs/trust_survey.duckdb")
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _zip_bomb(path: Path) -> Path:
    """An .xlsx-shaped zip whose sheet inflates 1000-fold to 64 MB (the guard must not inflate it)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            block = b"\0" * (1 << 20)
            for _ in range(64):
                fh.write(block)
    return path


def _encrypted(path: Path) -> Path:
    """The shape of a password-protected Office file: an OLE compound file with an EncryptionInfo stream."""
    directory = b"".join(name.encode("utf-16-le").ljust(64, b"\0") + b"\0" * 64
                         for name in ("Root Entry", "EncryptionInfo", "EncryptedPackage"))
    path.write_bytes(OLE_MAGIC + b"\0" * 504 + directory + b"\0" * 2048)
    return path


@pytest.fixture
def hostile(tmp_path) -> dict[str, Path]:
    d = tmp_path / "hostile"
    d.mkdir()
    good = make_return(tmp_path / "src")
    files = {
        "bomb": _zip_bomb(d / "RJ1_bomb.xlsx"),
        "truncated": d / "RGT_truncated.xlsx",
        "html": d / "RRK_portal_export.xlsx",
        "big": d / "RBV_huge.xlsx",
        "encrypted": _encrypted(d / "RJ1_locked.xlsx"),
        "empty": d / "RGT_empty.xlsx",
        "word": d / "RRK_letter.xlsx",
        "bad_sav": d / "RBV_return.sav",
    }
    files["truncated"].write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    files["html"].write_text("<!DOCTYPE html><html><body><table><tr><td>RRK</td></tr></table>"
                             "<script>alert(1)</script></body></html>")
    with open(files["big"], "wb") as fh:   # 50 MB, made instantly (sparse)
        fh.truncate(50 * 2**20)
    files["empty"].write_bytes(b"")
    with zipfile.ZipFile(files["word"], "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("word/document.xml", "<document/>")
    files["bad_sav"].write_bytes(b"$FL2@(#) SPSS DATA FILE" + b"\x07" * 200)
    return files


EXPECTED = {"bomb": "F003", "truncated": "F001", "html": "F005", "big": "F002", "encrypted": "F004",
            "empty": "F010", "word": "F006", "bad_sav": "F001"}


def test_ingest__hostile_files__are_each_rejected_with_a_reason_and_nothing_stored_changes(run, tmp_path, hostile):
    run("ingest", make_return(tmp_path / "good"), "--out", "first", "--engine", "pandas")
    before = db_counts(DB)
    result = run("ingest", *hostile.values(), "--out", "run", "--engine", "pandas", expect=1)
    assert "Traceback" not in result.stderr + result.stdout
    issues = read_issues(Path("run")).set_index("file")
    for kind, path in hostile.items():
        assert issues.loc[path.name, "code"] == EXPECTED[kind], (kind, issues.loc[path.name, "message"])
        assert issues.loc[path.name, "severity"] == "error" and len(issues.loc[path.name, "message"]) > 30
    assert "zip bomb" in issues.loc["RJ1_bomb.xlsx", "message"]
    assert "50.0 MB, above the 20 MB limit" in issues.loc["RBV_huge.xlsx", "message"]
    assert "remove the password" in issues.loc["RJ1_locked.xlsx", "message"]
    assert "Save As" in issues.loc["RRK_portal_export.xlsx", "message"]
    assert db_counts(DB) == before
    reasons = sorted(p.name for p in Path("outputs/quarantine").glob("*.reason.txt"))
    assert len(reasons) == len(hostile)
    page = (Path("run") / "report.html").read_text()
    assert "<script>" not in page


def test_ingest__csv_renamed_xlsx__is_read_as_csv_and_identified_by_its_variables(run, tmp_path):
    fields = [f for f in INST.fields() if f.table is None]
    values = {**FORM, "org_code": "RJ1", "org_name": "Guy's", "signoff_date": "2027-01-15"}
    buf = io.StringIO()
    out = csv.writer(buf)
    out.writerow([f.var_name for f in fields])
    out.writerow(["" if values.get(f.field_id) is None else values[f.field_id] for f in fields])
    path = tmp_path / f"RJ1_trust_capability_v1_{ROUND}.xlsx"
    path.write_text(buf.getvalue(), encoding="utf-8")
    run("ingest", path, "--out", "run", "--engine", "pandas")
    issues = read_issues(Path("run"))
    assert list(issues.code) == ["W024"] and "holds CSV content; read as .csv" in issues.message[0]


def test_ingest__formulas_and_markup_in_text__are_never_run_and_are_flagged(run, tmp_path):
    staff = [{"job_title": '=HYPERLINK("http://evil.example","Bioinformatician")', "staff_dept": "Lab",
              "band": "Band 7", "headcount": 1, "wte": 1, "registration": "Not registered"},
             {"job_title": Text("=cmd|' /C calc'!A0"), "staff_dept": "Lab", "band": "Band 6", "headcount": 1,
              "wte": 1, "registration": "Not registered"}]
    path = make_return(tmp_path / "in", tables={"staff": staff},
                       form={"capacity_notes": "<script>alert('x')</script> more funding"})
    run("ingest", path, "--out", "run", "--engine", "pandas", expect=1)
    issues = read_issues(Path("run"))
    formula = issues[(issues.code == "W010")].iloc[0]
    assert (formula.sheet, formula.cell) == address("job_title", 0) and "not run" in formula.message
    assert issues[(issues.code == "V001") & (issues.cell == "A2")].shape[0] == 1   # no saved value: blank
    text = issues[issues.code == "W011"].iloc[0]
    assert (text.sheet, text.cell) == address("job_title", 1) and text.value == "'=cmd|' /C calc'!A0"
    markup = issues[issues.code == "W012"].iloc[0]
    assert (markup.sheet, markup.cell) == address("capacity_notes")
    page = (Path("run") / "report.html").read_text()
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_ingest__stray_value_far_out__is_refused_before_it_can_exhaust_memory(run, tmp_path):
    path = make_return(tmp_path / "in", cells={("Staff", "XFD1048576"): "x"})
    run("ingest", path, "--out", "run", "--engine", "pandas", expect=1)
    found = read_issues(Path("run")).iloc[0]
    assert found.code == "F011" and "XFD1048576" in found.message


def test_ingest__macro_enabled_workbook__is_read_and_its_macros_are_not_run(run, tmp_path):
    path = make_return(tmp_path / "in")
    macro = tmp_path / "RJ1_with_macros.xlsm"
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(macro, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item, src.read(item.filename))
        dst.writestr("xl/vbaProject.bin", b"Attribute VB_Name = \"Module1\"\nSub AutoOpen(): Shell \"calc\"")
    run("ingest", macro, "--out", "run", "--engine", "pandas")
    assert list(read_issues(Path("run")).code) == ["W031"]


def _declared_bomb(path: Path) -> Path:
    """A tiny .xlsx-shaped zip whose central directory declares a 3.7 GB sheet (a forged size)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        zf.writestr("xl/worksheets/sheet1.xml", "<worksheet/>")
    data = bytearray(path.read_bytes())
    entry = data.rfind(b"PK\x01\x02")    # the last central-directory entry: the sheet
    data[entry + 24:entry + 28] = (0xF0000000).to_bytes(4, "little")   # its uncompressed size
    path.write_bytes(bytes(data))
    return path


def _big_csv(path: Path, mb: int = 50) -> Path:
    """A real CSV return of ``mb`` megabytes: the staff record file repeated far past any table's size."""
    columns = ["ORGCODE"] + [f.var_name for f in INST.fields() if f.table == "staff"]
    row = "RJ1,Clinical Bioinformatician <script>alert(1)</script>,Genomics Laboratory,Band 7,3,2.5,x,1\n"
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(",".join(columns) + "\n")
        fh.write(row * (mb * 2**20 // len(row)))
    return path


def test_ingest__hostile_files__are_refused_within_bounded_memory_and_touch_nothing(run, tmp_path):
    import subprocess
    import sys

    run("ingest", make_return(tmp_path / "good"), "--out", "first", "--engine", "pandas")
    before = db_counts(DB)
    d = tmp_path / "hostile"
    d.mkdir()
    paths = [_zip_bomb(d / "RJ1_bomb.xlsx"), _declared_bomb(d / "RGT_forged.xlsx"),
             _big_csv(d / f"RRK_trust_capability_v1_{ROUND}__staff.csv")]
    with open(d / "RBV_noise.xlsx", "wb") as fh:   # 50 MB that is no format at all
        fh.write(os.urandom(50 * 2**20))
    paths.append(d / "RBV_noise.xlsx")
    probe = ("import resource, subprocess, sys; p = subprocess.run(sys.argv[1:]); "
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", probe, sys.executable, "-m", "trust_survey", "ingest", *map(str, paths),
                          "--max-mb", "60", "--out", "run", "--engine", "pandas", "--quiet"],
                         capture_output=True, text=True, timeout=300)
    code, peak_kb = map(int, out.stdout.split()[-2:])
    assert code == 1 and peak_kb < 500 * 1024, (code, peak_kb, out.stderr[-2000:])
    issues = read_issues(Path("run")).set_index("file")
    assert issues.loc["RJ1_bomb.xlsx", "code"] == "F003"
    assert issues.loc["RGT_forged.xlsx", "code"] == "F003" and "zip bomb" in issues.loc["RGT_forged.xlsx", "message"]
    big = issues.loc[f"RRK_trust_capability_v1_{ROUND}__staff.csv"]
    assert big.code == "F011" and "far more than a return" in big.message
    assert issues.loc["RBV_noise.xlsx", "code"] in ("F001", "F006")
    assert db_counts(DB) == before


ENCRYPT = '''
import os, shutil, sys, tempfile
sys.path.insert(0, sys.argv[3])
import lo_fill as lo
uno = lo.import_uno()
profile = tempfile.mkdtemp(prefix="lo-encrypt.")
pipe = f"lo_encrypt_{os.getpid()}"
proc = lo.start_office(profile, pipe)
try:
    ctx = lo.connect(uno, pipe, proc)
    desktop = ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop", ctx)
    work = os.path.join(profile, "in.xlsx")
    shutil.copyfile(sys.argv[1], work)
    doc = desktop.loadComponentFromURL(uno.systemPathToFileUrl(work), "_blank", 0, (lo.prop(uno, "Hidden", True),))
    for target in sys.argv[2].split(","):
        kind = lo.FILTERS[os.path.splitext(target)[1]]
        doc.storeToURL(uno.systemPathToFileUrl(os.path.abspath(target)),
                       (lo.prop(uno, "FilterName", kind), lo.prop(uno, "Overwrite", True),
                        lo.prop(uno, "Password", "secret")))
    doc.close(True)
    desktop.terminate()
finally:
    try:
        proc.wait(timeout=20)
    except Exception:
        proc.kill()
    shutil.rmtree(profile, ignore_errors=True)
'''


@pytest.mark.libreoffice
def test_ingest__workbooks_saved_with_a_password_by_libreoffice__are_refused_as_encrypted(
        run, tmp_path, libreoffice):
    import subprocess
    import sys

    script = tmp_path / "encrypt.py"
    script.write_text(ENCRYPT, encoding="utf-8")
    good = make_return(tmp_path / "src")
    targets = [tmp_path / "locked" / f"RJ1_locked.{ext}" for ext in ("ods", "xls")]
    targets[0].parent.mkdir()
    proc = subprocess.run([sys.executable, str(script), str(good), ",".join(map(str, targets)),
                           str(libreoffice.parent)], capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0 and all(t.exists() for t in targets), proc.stderr
    result = run("ingest", *targets, "--out", "run", "--engine", "pandas", expect=1)
    assert "Traceback" not in result.stderr
    issues = read_issues(Path("run")).set_index("file")
    for target in targets:
        assert issues.loc[target.name, "code"] == "F004", issues.loc[target.name, "message"]
        assert "password" in issues.loc[target.name, "message"]
    assert not DB.exists() or db_counts(DB)["submissions"] == 0


def _xlsb(path: Path) -> Path:
    """The parts that make a zip an Excel Binary Workbook (enough for content sniffing)."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.bin", b"\x83\x01\x00")
    return path


def test_ingest__folder_with_other_files__each_skipped_one_is_listed_with_what_to_do(run, tmp_path):
    import pandas as pd

    folder = tmp_path / "in"
    make_return(folder, "RJ1")
    _xlsb(folder / "RP4 return.xlsb")
    (folder / "covering letter.pdf").write_bytes(b"%PDF-1.4\n")
    (folder / "~$RJ1_trust_capability_v1_2026.xlsx").write_bytes(b"\x00lock")
    result = run("ingest", folder, "--out", "run", "--engine", "pandas")
    assert "RP4 return.xlsb" in result.stdout and "save it as Excel Workbook (.xlsx)" in result.stdout
    assert "covering letter.pdf" in result.stdout and "skipped 3 file(s)" in result.stderr
    files = pd.read_csv(Path("run") / "files.csv", dtype=str, keep_default_na=False).set_index("file")
    assert files.loc["RP4 return.xlsb", "status"] == "skipped"
    assert "not a return format (.pdf)" in files.loc["covering letter.pdf", "message"]
    assert "lock file" in files.loc["~$RJ1_trust_capability_v1_2026.xlsx", "message"]
    assert files.loc[f"RJ1_trust_capability_v1_{ROUND}.xlsx", "status"] == "accepted"

    named = run("ingest", folder / "RP4 return.xlsb", "--out", "run2", "--engine", "pandas", expect=1)
    assert "UNREADABLE" in named.stdout and "Excel Binary Workbook (.xlsb)" in named.stdout
