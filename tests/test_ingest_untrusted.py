"""Returns that try to pass for another trust's, impossible dates, half-refused returns, links and special
files: each is reported on its file or cell with its reason, the run goes on, and what was stored before
is exactly as it was (a good return is ingested first, then the hostile ones, then the two are compared)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from ingest_helpers import FORM, INST, ORGS, ROUND, address, make_return, query, read_issues

DB = Path("outputs/trust_survey.duckdb")
GOOD = f"RJ1_trust_capability_v1_{ROUND}.xlsx"


def ingest(run, *paths, out="run", expect=0):
    result = run("ingest", *paths, "--out", out, "--engine", "pandas", expect=expect)
    assert "Traceback" not in result.stdout + result.stderr and "TS999" not in result.stdout + result.stderr
    return result


def stored() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every stored submission's ledger row, and every stored answer."""
    return (query(DB, "SELECT * FROM submissions ORDER BY submission_id"),
            query(DB, "SELECT * FROM answers ORDER BY ALL"))


def assert_unchanged(before: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The submissions stored before, and their answers, are exactly as they were."""
    subs, answers = stored()
    ids = set(before[0].submission_id)
    assert len(ids) and ids <= set(subs.submission_id)
    pd.testing.assert_frame_equal(subs[subs.submission_id.isin(ids)].reset_index(drop=True), before[0])
    pd.testing.assert_frame_equal(answers[answers.submission_id.isin(ids)].reset_index(drop=True), before[1])


def files_row(out: str, name: str) -> pd.Series:
    files = pd.read_csv(Path(out) / "files.csv", dtype=str, keep_default_na=False).set_index("file")
    return files.loc[name]


# ---- 4. dates no calendar holds ---------------------------------------------------------------------------

def _sav_return(folder: Path, org: str, signoff_seconds: float) -> list[Path]:
    """The toolkit's SPSS template set for ``org``, its form case filled with valid answers and a sign-off
    date of ``signoff_seconds`` (SPSS counts seconds from 14/10/1582), saved again with pyreadstat."""
    import pyreadstat

    from trust_survey.build.spss import write_spss_templates

    folder.mkdir(parents=True, exist_ok=True)
    paths = write_spss_templates(INST, {"org_code": org, "org_name": ORGS[org]}, ROUND,
                                 folder / f"{org}_trust_capability_v1_{ROUND}")
    form, meta = pyreadstat.read_sav(str(paths[0]), user_missing=True, disable_datetime_conversion=True)
    form["signoff_date"] = [signoff_seconds]
    form["signoff_name"] = [FORM["signoff_name"]]
    pyreadstat.write_sav(form, str(paths[0]), variable_format=meta.original_variable_types, note=meta.notes,
                         column_labels=meta.column_names_to_labels)
    return paths


def test_ingest__date_serial_for_31_12_9999__is_out_of_bounds_on_its_cell_and_the_run_goes_on(run, tmp_path):
    ingest(run, make_return(tmp_path / "good"), out="first")
    before = stored()
    sheet, cell = address("signoff_date")
    late = make_return(tmp_path / "in", "RGT", cells={(sheet, cell): 2958465})   # Excel's 31/12/9999
    other = make_return(tmp_path / "in", "RRK", form={"signoff_date": "31/12/9999"})   # typed as text
    beyond = _sav_return(tmp_path / "sav", "RBV", 1e15)   # past the year 9999: pyreadstat cannot convert it
    fine = make_return(tmp_path / "in", "RGT", round_=ROUND, name=f"RGT_ok_{ROUND}.xlsx")
    ingest(run, late, other, beyond[0].parent, fine, expect=1)
    issues = read_issues(Path("run"))
    found = issues[(issues.file == late.name) & (issues.code == "V003")].iloc[0]
    assert (found.sheet, found.cell, found.value) == (sheet, cell, "31/12/9999")
    assert found.expected == "a date from 01/01/2020 to 31/12/2035" and "Date signed off is 31/12/9999" in found.message
    typed = issues[(issues.file == other.name) & (issues.code == "V003")].iloc[0]
    assert (typed.sheet, typed.cell) == (sheet, cell)
    spss = issues[issues.file.str.startswith("RBV") & (issues.field == "signoff_date")].iloc[0]
    assert spss.code == "V003" and "after 31/12/9999" in spss.message
    assert json.loads((Path("run") / "issues.json").read_text())   # the run finished and wrote its reports
    assert files_row("run", late.name).status == "rejected"
    assert files_row("run", fine.name).status in ("accepted", "accepted_with_warnings")
    assert_unchanged(before)


def test_clean__dates_outside_the_default_window__are_out_of_bounds_when_the_item_sets_none():
    import dataclasses
    import datetime as dt

    from trust_survey.ingest.clean import Cleaner

    field = next(f for f in INST.fields() if f.field_id == "signoff_date")
    unbounded = dataclasses.replace(field, item=field.item.model_copy(update={"min_date": None, "max_date": None}))
    cleaner = Cleaner(INST)
    assert cleaner.clean(unbounded, dt.datetime(9999, 12, 31)).notes[0][0] == "V003"
    assert cleaner.clean(unbounded, dt.datetime(1899, 12, 31)).notes[0][0] == "V003"
    ok = cleaner.clean(unbounded, dt.datetime(2099, 1, 1))
    assert not ok.notes and ok.text == "2099-01-01"


# ---- 5. a return is whole or not at all -------------------------------------------------------------------

def _csv_return(folder: Path, org: str, form: dict | None = None) -> list[Path]:
    """A CSV return in the SPSS template's shape, as a trust sends it: ``<stem>.csv`` for the form and
    ``<stem>__<table>.csv`` per table, each table row carrying the organisation code."""
    import csv
    import datetime as dt

    from ingest_helpers import TABLES
    from trust_survey.build.spss import table_file_suffix

    folder.mkdir(parents=True, exist_ok=True)
    fields = INST.fields()
    id_field = next(f for f in fields if f.field_id == INST.id_item)
    answers = {**FORM, "org_code": org, "org_name": ORGS[org], **(form or {})}
    paths = []
    for table in [None] + [t.id for _, t in INST.tables()]:
        mine = [f for f in fields if f.table == table]
        rows = [answers]
        if table is not None:
            mine = [id_field] + mine
            rows = [{**r, id_field.field_id: org} for r in TABLES.get(table, [])]
        path = folder / f"{org}_trust_capability_v1_{ROUND}{table_file_suffix(table)}.csv"
        with open(path, "w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow([f.var_name for f in mine])
            for row in rows:
                values = [row.get(f.field_id) for f in mine]
                out.writerow(["" if v is None else v.date().isoformat() if isinstance(v, dt.datetime) else v
                              for v in values])
        paths.append(path)
    return paths


def test_ingest__csv_return_with_one_refused_record_file__is_refused_whole_and_the_stored_one_stays(run, tmp_path):
    first = _csv_return(tmp_path / "sent", "RJ1")
    ingest(run, first[0].parent, out="first")
    assert query(DB, "SELECT status FROM submissions").status.tolist() == ["accepted"]
    before = stored()
    staff_rows = query(DB, "SELECT count(*) AS n FROM answers WHERE field_id = 'job_title'").n[0]
    again = _csv_return(tmp_path / "resent", "RJ1", form={"respondent_name": "Priyanka Patel"})
    staff = next(p for p in again if p.name.endswith("__staff.csv"))
    staff.write_bytes(staff.read_bytes().replace(b"Band 7", b"Band\x00\x007"))   # NUL bytes, as a bad export makes
    ingest(run, again[0].parent, expect=1)
    issues = read_issues(Path("run"))
    assert issues.file.tolist() == [staff.name] and issues.code.tolist() == ["F006"]
    assert "the whole return was refused and nothing from it stored" in issues.message[0]
    row = files_row("run", f"RJ1_trust_capability_v1_{ROUND}.csv (+3 record files)")
    assert row.status == "quarantined" and row.submission_id == "" and "[F006]" in row.message
    assert_unchanged(before)
    assert query(DB, "SELECT count(*) AS n FROM submissions").n[0] == 1
    assert query(DB, "SELECT count(*) AS n FROM answers WHERE field_id = 'job_title'").n[0] == staff_rows == 3
    assert query(DB, "SELECT status FROM submissions").status.tolist() == ["accepted"]
    quarantined = sorted(p.name.split("_", 1)[1] for p in Path("outputs/quarantine").glob("*.reason.txt"))
    assert quarantined == sorted(p.name + ".reason.txt" for p in again)   # every file of the return, with why


# ---- 7. links and special files are never opened ----------------------------------------------------------

def test_ingest__links_and_pipes_in_the_returns_folder__are_listed_skipped_and_never_opened(run, tmp_path):
    import os

    secret = tmp_path / "secret.csv"
    secret.write_text("ORGCODE,job_title\nRGT,TOP-SECRET-CONTENT\n", encoding="utf-8")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    make_return(outside, "RRK")
    ingest(run, make_return(tmp_path / "good"), out="first")
    before = stored()
    folder = tmp_path / "received"
    good = make_return(folder, "RGT")
    os.symlink(secret, folder / f"RBV_trust_capability_v1_{ROUND}.csv")
    os.symlink("/etc/passwd", folder / "passwd.csv")
    os.symlink(outside, folder / "more_returns")
    os.mkfifo(folder / f"RRK_trust_capability_v1_{ROUND}.csv")
    named = tmp_path / "named_pipe.xlsx"
    os.mkfifo(named)
    result = ingest(run, folder, named)
    for name in (f"RBV_trust_capability_v1_{ROUND}.csv", "passwd.csv", "more_returns",
                 f"RRK_trust_capability_v1_{ROUND}.csv", "named_pipe.xlsx"):
        assert files_row("run", name).status == "skipped" and name in result.stdout
    assert "symbolic link, which is never followed" in files_row("run", "passwd.csv").message
    assert "symbolic link to a folder" in files_row("run", "more_returns").message
    assert "named pipe (FIFO)" in files_row("run", "named_pipe.xlsx").message
    assert files_row("run", good.name).status == "accepted"
    written = [Path("run") / n for n in ("issues.csv", "issues.json", "files.csv", "report.html")]
    for path in written + list(Path("outputs/quarantine").glob("*")):
        text = path.read_text(encoding="utf-8", errors="replace")
        assert "TOP-SECRET" not in text and "root:" not in text, path
    assert not any("RRK" in p.name for p in Path("outputs/quarantine").glob("*"))
    assert set(query(DB, "SELECT org_code FROM submissions").org_code) == {"RJ1", "RGT"}
    assert_unchanged(before)


def test_sniff__a_link_swapped_in_after_collecting__is_refused_unopened(tmp_path):
    import os

    from trust_survey.ingest.issues import FileProblem
    from trust_survey.ingest.sniff import sniff

    os.symlink("/etc/passwd", tmp_path / "swapped.csv")
    try:
        sniff(tmp_path / "swapped.csv")
    except FileProblem as exc:
        assert exc.code == "F006" and "symbolic link" in exc.message
    else:
        raise AssertionError("a link was read")


# ---- 3. a return cannot pass for another trust's ----------------------------------------------------------

def _meta_says(org: str):
    """An edit that makes a workbook's very hidden meta sheet name ``org`` (as a spoofer would, in Excel's
    VBA editor or with openpyxl)."""
    def edit(wb) -> None:
        for row in wb["meta"].iter_rows():
            if row[0].value == "org_code":
                row[1].value = org
            elif row[0].value == "org_name":
                row[1].value = ORGS[org]
    return edit


def test_ingest__rgt_workbook_whose_meta_and_answer_say_rj1__is_quarantined_and_rj1_keeps_its_return(run, tmp_path):
    ingest(run, make_return(tmp_path / "good"), out="first")
    before = stored()
    spoof = make_return(tmp_path / "in", "RGT", form={"org_code": "RJ1", "org_name": ORGS["RJ1"]},
                        edit=_meta_says("RJ1"))
    assert spoof.name == f"RGT_trust_capability_v1_{ROUND}.xlsx"
    result = ingest(run, spoof, expect=1)
    assert "UNREADABLE" in result.stdout and "[F014]" in result.stdout
    found = read_issues(Path("run")).set_index("code").loc["F014"]
    sheet, cell = address("org_code")
    assert found.file == spoof.name
    for place in ("the meta sheet says RJ1", "the Cover sheet says RGT", "the file name says RGT",
                  f"the answer in {sheet}!{cell} says RJ1"):
        assert place in found.message, found.message
    assert files_row("run", spoof.name).status == "quarantined"
    assert_unchanged(before)
    subs = query(DB, "SELECT org_code, status, superseded_by FROM submissions")
    assert subs.to_dict("list") == {"org_code": ["RJ1"], "status": ["accepted"], "superseded_by": [None]}
    reason = next(Path("outputs/quarantine").glob("*.reason.txt")).read_text()
    assert "F014" in reason and "the Cover sheet says RGT" in reason


def test_ingest__cover_sheet_naming_another_trust__is_quarantined_even_when_the_file_was_renamed(run, tmp_path):
    def cover_says_rgt(wb) -> None:
        for row in wb["Cover"].iter_rows():
            if row[0].value == "ODS code":
                row[1].value = "RGT"
    path = make_return(tmp_path / "in", "RJ1", name="our return FINAL.xlsx", edit=cover_says_rgt)
    ingest(run, path, expect=1)
    found = read_issues(Path("run")).set_index("code").loc["F014"]
    assert "the meta sheet says RJ1, the Cover sheet says RGT" in found.message and "file name" not in found.message
    assert not DB.exists() or query(DB, "SELECT count(*) AS n FROM submissions").n[0] == 0


def test_ingest__answer_for_another_round_or_version_in_the_file_name__is_quarantined(run, tmp_path):
    path = make_return(tmp_path / "in", "RJ1", name=f"RJ1_trust_capability_v1_{ROUND - 1}.xlsx")
    ingest(run, path, expect=1)
    found = read_issues(Path("run")).set_index("code").loc["F014"]
    assert f"round: the meta sheet says {ROUND}, the Cover sheet says {ROUND}, the file name says {ROUND - 1}" \
        in found.message


def test_ingest__files_renamed_by_trusts__are_accepted_when_what_they_hold_agrees(run, tmp_path):
    renamed = [make_return(tmp_path / "in", "RJ1", name="Guy's and St Thomas' return 2026 FINAL.xlsx"),
               make_return(tmp_path / "in", "RGT", name=f"RGT_trust_capability_v1_{ROUND} (1).xlsx"),
               make_return(tmp_path / "in", "RRK", name=f"rrk_trust_capability_v1_{ROUND}_resubmitted.xlsx")]
    csvs = _csv_return(tmp_path / "csv", "RBV")
    for path in csvs:   # a trust's own names for its CSV files, the record-file suffix kept
        path.rename(path.with_name(path.name.replace(f"RBV_trust_capability_v1_{ROUND}", f"christie return {ROUND}")))
    ingest(run, *renamed, tmp_path / "csv")
    files = pd.read_csv(Path("run") / "files.csv", dtype=str, keep_default_na=False)
    assert set(files.status) == {"accepted"} and len(files) == 4, files[["file", "status", "message"]]
    assert set(query(DB, "SELECT org_code FROM submissions").org_code) == {"RJ1", "RGT", "RRK", "RBV"}


def test_ingest__csv_return_named_for_rgt_holding_rj1s_code__is_quarantined(run, tmp_path):
    ingest(run, make_return(tmp_path / "good"), out="first")
    before = stored()
    paths = _csv_return(tmp_path / "csv", "RJ1")
    for path in paths:
        path.rename(path.with_name(path.name.replace("RJ1_", "RGT_")))
    ingest(run, tmp_path / "csv", expect=1)
    found = read_issues(Path("run")).set_index("code").loc["F014"]
    assert "its ORGCODE variable says RJ1" in found.message and "the file name says RGT" in found.message
    assert_unchanged(before)
    assert query(DB, "SELECT count(*) AS n FROM submissions").n[0] == 1
