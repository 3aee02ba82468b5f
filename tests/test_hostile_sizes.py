"""Sizes a file declares and text it carries are held to limits before anything is allocated for them.

Each hostile file is a real return with bytes edited inside its zip, the way an attacker (or a broken
tool) would. The CLI runs as a subprocess under an address-space limit that applies to every process it
starts, so a reader that trusts a forged size fails the test at once instead of exhausting the machine.
"""
from __future__ import annotations

import csv
import resource
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from ingest_helpers import FORM, INST, ORGS, ROUND, db_counts, make_return, query, read_issues
from trust_survey.ingest.readers import TEXT_MARGIN

DB = Path("outputs/trust_survey.duckdb")
LIMIT = 1536 * 2**20    # a correct run needs well under this (measured: about 0.9 GB of address space)
STAFF_SHEET = "xl/worksheets/sheet4.xml"
FIRST_TITLE = b'<c r="A2" s="8" t="inlineStr"><is><t>Clinical Bioinformatician</t></is></c>'


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (LIMIT, LIMIT))


def ingest_limited(*args) -> subprocess.CompletedProcess:
    """``trust-survey ingest`` in a child process (and its children) capped at :data:`LIMIT` bytes."""
    return subprocess.run([sys.executable, "-m", "trust_survey", "ingest", *map(str, args)], capture_output=True,
                          text=True, timeout=600, preexec_fn=_limited)


def edit_zip(src: Path, dst: Path, edits: dict, extra: dict | None = None, rename: dict | None = None) -> Path:
    """A copy of ``src`` with ``edits[name](bytes)`` applied to its parts, parts renamed by ``rename`` and
    ``extra`` parts added."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w", zipfile.ZIP_DEFLATED) as zout:
        for item in zin.infolist():
            data = zin.read(item.filename)
            if item.filename in edits:
                changed = edits[item.filename](data)
                assert changed != data, f"edit of {item.filename} changed nothing"
                data = changed
            zout.writestr((rename or {}).get(item.filename, item.filename), data)
        for name, data in (extra or {}).items():
            zout.writestr(name, data)
    return dst


SST = (b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/'
       b'spreadsheetml/2006/main" count="2147483647" uniqueCount="2147483647"><si><t>Clinical Bioinformatician</t>'
       b'</si></sst>')


def forged_shared_strings(src: Path, dst: Path) -> Path:
    """The return as Excel would store a text cell (a shared string), its part declaring 2^31-1 strings."""
    edits = {
        STAFF_SHEET: lambda d: d.replace(FIRST_TITLE, b'<c r="A2" s="8" t="s"><v>0</v></c>'),
        "[Content_Types].xml": lambda d: d.replace(b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" '
                                                   b'ContentType="application/vnd.openxmlformats-officedocument.'
                                                   b'spreadsheetml.sharedStrings+xml"/></Types>'),
        "xl/_rels/workbook.xml.rels": lambda d: d.replace(b"</Relationships>", b'<Relationship Id="rIdSST" '
                                                          b'Type="http://schemas.openxmlformats.org/officeDocument/'
                                                          b'2006/relationships/sharedStrings" Target="sharedStrings.'
                                                          b'xml"/></Relationships>')}
    return edit_zip(src, dst, edits, extra={"xl/sharedStrings.xml": SST})


def far_cell(src: Path, dst: Path, cell: bytes) -> Path:
    """The return with one more cell, written as ``cell``, at the bottom of the Staff sheet."""
    return edit_zip(src, dst, {STAFF_SHEET: lambda d: d.replace(b"</sheetData>", cell + b"</sheetData>")})


def repeated_ods(dst: Path, rows: int, cols: int) -> Path:
    """A real-shaped .ods whose one value cell is repeated ``cols`` across and ``rows`` down."""
    content = ('<?xml version="1.0" encoding="UTF-8"?><office:document-content xmlns:office="urn:oasis:names:tc:'
               'opendocument:xmlns:office:1.0" xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
               'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" office:version="1.2"><office:body>'
               '<office:spreadsheet><table:table table:name="Staff">'
               f'<table:table-row table:number-rows-repeated="{rows}"><table:table-cell office:value="1" '
               f'table:number-columns-repeated="{cols}" office:value-type="float"><text:p>1</text:p>'
               '</table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>'
               '</office:document-content>')
    with zipfile.ZipFile(dst, "w") as zf:
        zf.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        zf.writestr("content.xml", content, compress_type=zipfile.ZIP_DEFLATED)
    return dst


def test_ingest__forged_sizes_in_any_attribute_order__are_refused_unread_and_the_run_goes_on(run, tmp_path):
    run("ingest", make_return(tmp_path / "stored"), "--out", "first", "--engine", "pandas")
    before = db_counts(DB)
    good = make_return(tmp_path / "src", "RGT")
    d = tmp_path / "hostile"
    hostile = {
        "RJ1_strings.xlsx": forged_shared_strings(good, d / "RJ1_strings.xlsx"),
        "RRK_reordered.xlsx": far_cell(good, d / "RRK_reordered.xlsx",
                                       b'<row r="1048576"><c s="0" r="XFD1048576"><v>1</v></c></row>'),
        "RBV_quoted.xlsx": far_cell(good, d / "RBV_quoted.xlsx",
                                    b"<row r='1048576' ><c  t = 'n'\n r = 'xfd1048576' ><v>1</v></c></row>"),
        "RJ1_positional.xlsx": far_cell(good, d / "RJ1_positional.xlsx",
                                        b'<row r="1048576"><c r="XFC1" /><c><v>1</v></c></row>'),
        "RGT_repeats.ods": repeated_ods(d / "RGT_repeats.ods", 6000, 16384),
        "RRK_renamed.xlsx": edit_zip(
            good, d / "RRK_renamed.xlsx",
            {STAFF_SHEET: lambda b: b.replace(b"</sheetData>", b'<row><c r="XFD1048576"><v>1</v></c></row>'
                                                               b"</sheetData>"),
             "xl/_rels/workbook.xml.rels": lambda b: b.replace(b"sheet4.xml", b"sheet4.dat")},
            rename={STAFF_SHEET: "xl/worksheets/sheet4.dat"}),
    }
    result = ingest_limited(*hostile.values(), good, "--out", "run", "--engine", "pandas", "--quiet")
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr + result.stdout and "panicked" not in result.stderr
    issues = read_issues(Path("run")).set_index("file")
    for name in hostile:
        assert issues.loc[name, "code"] == "F011", (name, issues.loc[name, "message"])
    forged = issues.loc["RJ1_strings.xlsx", "message"]
    assert "part 'xl/sharedStrings.xml' declares 2,147,483,647 shared strings" in forged
    for name in ("RRK_reordered.xlsx", "RBV_quoted.xlsx"):
        assert f"part '{STAFF_SHEET}' has content out to cell XFD1048576" in issues.loc[name, "message"]
    assert "out to cell XFD1048576" in issues.loc["RJ1_positional.xlsx", "message"]   # placed after XFC1
    assert "part 'xl/worksheets/sheet4.dat' has content" in issues.loc["RRK_renamed.xlsx", "message"]
    assert "table 'Staff' has content out to cell XFD6000" in issues.loc["RGT_repeats.ods", "message"]
    files = pd.read_csv(Path("run") / "files.csv", dtype=str, keep_default_na=False).set_index("file")
    assert files.loc[good.name, "status"] == "accepted"          # the run went on to the good return
    reasons = {p.name for p in Path("outputs/quarantine").glob("*.reason.txt")}
    assert len(reasons) == len(hostile)
    after = db_counts(DB)
    assert after["submissions"] == before["submissions"] + 1 and after["distribution"] == before["distribution"]


def test_ingest__honest_sizes_near_the_limits__are_read(run, tmp_path):
    """Whole-column formatting (<col max=16384>), a row far down that is empty, a styled blank far out and a
    declared count that matches the part are what real programs write: none of them is refused."""
    good = make_return(tmp_path / "src")
    path = edit_zip(good, tmp_path / "in" / good.name, {STAFF_SHEET: lambda d: d.replace(
        b"</cols>", b'<col min="8" max="16384" width="9" customWidth="1"/></cols>').replace(
        b"</sheetData>", b'<row r="1048576" ht="15"><c r="XFD1048576" s="3"/></row></sheetData>')})
    result = ingest_limited(path, "--out", "run", "--engine", "pandas", "--quiet")
    assert result.returncode == 0, result.stderr[-3000:]
    assert read_issues(Path("run")).empty
    files = pd.read_csv(Path("run") / "files.csv", dtype=str, keep_default_na=False)
    assert list(files.status) == ["accepted"]


LONG = ("Clinical Bioinformatician " * 240_000).strip()     # 6,239,999 characters in one job title


def csv_return(folder: Path, org_code: str, job_title: str) -> list[Path]:
    """A CSV return (form file + staff file) as a trust's own system would export it."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{org_code}_trust_capability_v1_{ROUND}"
    fields = [f for f in INST.fields() if f.table is None]
    values = {**FORM, "org_code": org_code, "org_name": ORGS[org_code], "signoff_date": "2027-01-15"}
    with open(f"{stem}.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([[f.var_name for f in fields],
                                  ["" if values.get(f.field_id) is None else values[f.field_id] for f in fields]])
    with open(f"{stem}__staff.csv", "w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([["ORGCODE"] + [f.var_name for f in INST.fields() if f.table == "staff"],
                                  [org_code, job_title, "Genomics Laboratory", "Band 7", 3, 2.5,
                                   "HCPC registered clinical scientist", 1]])
    return [Path(f"{stem}.csv"), Path(f"{stem}__staff.csv")]


def test_ingest__megabytes_in_one_cell__are_cut_at_reading_and_reported_with_their_real_length(run, tmp_path):
    first = run("ingest", make_return(tmp_path / "stored"), "--out", "first", "--engine", "pandas")
    assert first.exit_code == 0
    stored = query(DB, "SELECT field_id, row_index, value FROM answers ORDER BY ALL")
    xlsx = edit_zip(make_return(tmp_path / "src", "RGT"), tmp_path / "in" / f"RGT_trust_capability_v1_{ROUND}.xlsx",
                    {STAFF_SHEET: lambda d: d.replace(FIRST_TITLE, FIRST_TITLE.replace(
                        b"Clinical Bioinformatician", LONG.encode()))})
    csvs = csv_return(tmp_path / "in", "RRK", LONG)
    result = ingest_limited(xlsx, *csvs, "--out", "run", "--quiet")    # the default engine, Great Expectations
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr + result.stdout and "out of memory" not in result.stderr + result.stdout
    issues = read_issues(Path("run"))
    long = issues[issues.code == "V010"].set_index("file")
    assert set(long.index) == {xlsx.name, csvs[1].name}, issues[["file", "code", "message"]]
    for name in long.index:
        assert long.loc[name, "message"] == "Job title is 6,239,999 characters long; at most 150 allowed"
        assert long.loc[name, "severity"] == "error" and 150 < len(long.loc[name, "value"]) <= 150 + TEXT_MARGIN
    assert (long.loc[xlsx.name, "sheet"], long.loc[xlsx.name, "cell"]) == ("Staff", "A2")
    assert long.loc[csvs[1].name, "row"] == "2" and not (issues.code == "F001").any()
    quarantined = {p.name for p in Path("outputs/quarantine").glob("*.reason.txt")}
    for path in (xlsx, *csvs):
        assert any(q.endswith(f"_{path.name}.reason.txt") for q in quarantined), (path.name, quarantined)
    assert query(DB, "SELECT field_id, row_index, value FROM answers WHERE submission_id = 1 ORDER BY ALL"
                 ).equals(stored)
    assert query(DB, "SELECT status FROM submissions WHERE submission_id = 1").status[0] == "accepted"


def test_ingest__text_beyond_a_cells_limit_in_a_field_without_one__is_reported_not_cut_silently(run, tmp_path):
    paths = csv_return(tmp_path / "in", "RRK", "Clinical Bioinformatician")
    form = paths[0].read_text(encoding="utf-8").replace("Head of Bioinformatics", "Head of Bioinformatics" * 2000)
    paths[0].write_text(form, encoding="utf-8")
    run("ingest", *paths, "--out", "run", "--engine", "pandas", expect=1)
    issues = read_issues(Path("run"))
    found = issues[issues.code == "V010"].iloc[0]
    assert found.file == paths[0].name and found.field == "respondent_role" and found.row == "2"
    assert "is 44,000 characters long; at most 32,767 (a spreadsheet cell's limit) were read" in found.message


def forged_xls_dimensions(src: Path, dst: Path) -> Path:
    """``src`` (a real .xls) with every sheet's BIFF8 DIMENSIONS record (type 0x0200, 14 bytes) claiming
    16,777,215 rows by 16,383 columns: what calamine reserves memory from when it opens the file."""
    data = bytearray(src.read_bytes())
    found = 0
    at = data.find(b"\x00\x02\x0e\x00")
    while at >= 0:
        data[at + 4:at + 18] = struct.pack("<IIHHH", 0, 0xFFFFFF, 0, 0x3FFF, 0)
        found += 1
        at = data.find(b"\x00\x02\x0e\x00", at + 18)
    assert found, "no DIMENSIONS record in the .xls LibreOffice wrote"
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(bytes(data))
    return dst


@pytest.mark.libreoffice
def test_ingest__legacy_xls_with_forged_dimensions__is_refused_and_an_honest_one_read(run, tmp_path, libreoffice):
    good = make_return(tmp_path / "src", "RGT")
    xls = tmp_path / "xls" / good.with_suffix(".xls").name       # opened and saved as .xls inside LibreOffice
    proc = subprocess.run([sys.executable, str(libreoffice), str(good), str(xls)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    forged = forged_xls_dimensions(xls, tmp_path / "hostile" / "RJ1_forged.xls")
    run("ingest", make_return(tmp_path / "stored"), "--out", "first", "--engine", "pandas")
    before = db_counts(DB)
    result = ingest_limited(forged, xls, "--out", "run", "--engine", "pandas", "--quiet")
    assert result.returncode == 1, (result.returncode, result.stderr[-3000:])
    assert "Traceback" not in result.stderr + result.stdout and "panicked" not in result.stderr
    issues = read_issues(Path("run")).set_index("file")
    assert issues.loc[forged.name, "code"] == "F011"
    assert "DIMENSIONS" in issues.loc[forged.name, "message"]
    files = pd.read_csv(Path("run") / "files.csv", dtype=str, keep_default_na=False).set_index("file")
    assert files.loc[xls.name, "status"].startswith("accepted")   # the honest .xls is read as before
    assert {p.name for p in Path("outputs/quarantine").glob("*.reason.txt")} == {
        p.name for p in Path("outputs/quarantine").glob(f"*_{forged.name}.reason.txt")}
    after = db_counts(DB)
    assert after["submissions"] == before["submissions"] + 1
