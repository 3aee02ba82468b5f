"""`trust-survey report`: the real CLI end to end on three simulated rounds, the page checked against its workbook.

Rounds 2024 and 2025 use trust_capability v1; 2026 uses a v2 made here whose crosswalk breaks the
"in post" series, so the trend must show a break instead of a joined line. One department in 2026 is
named with hostile HTML. Individual returns for 2026 are simulated with the report's group shape
(12 trainees, 4 current, 5 former) and taken in
through the real ingest: a survey-platform export, workbooks and SPSS files. Round 2024 has individual
returns too, so scale scores have a trend.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from click.testing import CliRunner

from trust_survey import store
from trust_survey.cli import cli
from trust_survey.instruments import load_registry
from trust_survey.instruments.layout import build_layout

from conftest import axe_summary

REPO = Path(__file__).resolve().parent.parent
XSS = "<img src=x onerror=alert(1)>"
COMMENT_XSS = "<script>window.__xss=1</script> more flexible hours"
ORGS = (
    "org_code,org_name,org_type,region_code,icb_code,contact_email\n"
    "RJ1,Guy's and St Thomas' NHS Foundation Trust,trust,Y56,QKK,lead@rj1.nhs.uk.example\n"
    "RGT,Cambridge University Hospitals NHS Foundation Trust,trust,Y61,QUE,lead@rgt.nhs.uk.example\n"
    "RRK,University Hospitals Birmingham NHS Foundation Trust,trust,Y60,QHL,lead@rrk.nhs.uk.example\n"
    "RHM,University Hospital Southampton NHS Foundation Trust,trust,Y59,QRL,lead@rhm.nhs.uk.example\n"
    "RBV,The Christie NHS Foundation Trust,trust,Y62,QOP,lead@rbv.nhs.uk.example\n"
)
ROUNDS = {2024: 1, 2025: 1, 2026: 2}
BREAK_NOTE = "From version 2 HSST trainees in post are counted too"


def invoke(*args, expect=(0,)):
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code in expect, f"{args}: exit {result.exit_code}\n{result.output}\n{result.exception!r}"
    return result


def _instruments(folder: Path) -> Path:
    shutil.copytree(REPO / "instruments", folder)
    v1 = (folder / "trust_capability.v1.yaml").read_text(encoding="utf-8")
    v2 = v1.replace("\nversion: 1\n", "\nversion: 2\n", 1)
    v2 += f"\ncrosswalk:\n  - {{item: kf_in_post, continues: false, note: \"{BREAK_NOTE}\"}}\n"
    (folder / "trust_capability.v2.yaml").write_text(v2, encoding="utf-8")
    return folder


def _hostile_department(received: Path, inst) -> None:
    """Rename RJ1's first department, and the staff rows that name it, to hostile HTML."""
    layout = build_layout(inst)
    path = next(received.glob("RJ1_trust_capability_v2_2026*.xlsx"))
    wb = openpyxl.load_workbook(path)
    dept = layout.locate("dept_name")
    sheet = wb[dept.sheet]
    cell = sheet.cell(row=dept.first_row, column=dept.col)
    old = cell.value
    cell.value = XSS
    staff = layout.locate("staff_dept")
    ws = wb[staff.sheet]
    for row in range(staff.first_row, ws.max_row + 1):
        if ws.cell(row=row, column=staff.col).value == old:
            ws.cell(row=row, column=staff.col).value = XSS
    wb.save(path)


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    inst_dir = _instruments(base / "instruments")
    db = base / "survey.duckdb"
    orgs = base / "orgs.csv"
    orgs.write_text(ORGS, encoding="utf-8")
    common = ["--instruments", inst_dir]
    registry = load_registry(inst_dir)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TRUST_SURVEY_OUTPUTS", str(base / "outputs"))
        mp.setenv("TRUST_SURVEY_DB", str(db))
        mp.setenv("TRUST_SURVEY_INSTRUMENTS", str(inst_dir))
        for round_, version in ROUNDS.items():
            sent, received = base / f"sent_{round_}", base / f"received_{round_}"
            invoke("instruments", "build", "trust_capability", "--orgs", orgs, "--round", round_, "--version", version,
                   "--out", sent, "--db", db, "--quiet", *common)
            invoke("simulate", "--round", round_, "--orgs", orgs, "--out", received, "--seed", round_,
                   "--version", version, *common)
            if round_ == 2026:
                _hostile_department(received, registry.get("trust_capability", 2))
            invoke("ingest", received, "--round", round_, "--db", db, "--out", base / f"ingest_{round_}",
                   *common, expect=(0, 1))
        ir = base / "individual_2026"
        invoke("simulate", "--instrument", "individual_review", "--round", 2026, "--respondents", 21,
               "--seed", 5, "--out", ir, *common)
        export = ir / "individual_review_platform_export_2026.csv"
        raw = pd.read_csv(export, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        raw.loc[0, "Q9 - What would make you more likely to stay in the NHS?"] = COMMENT_XSS
        raw.to_csv(export, index=False, encoding="utf-8-sig")
        invoke("ingest", ir, "--round", 2026, "--db", db, "--out", base / "ingest_ir", *common, expect=(0, 1))
        ir_2024 = base / "individual_2024"
        invoke("simulate", "--instrument", "individual_review", "--round", 2024, "--respondents", 30,
               "--seed", 6, "--out", ir_2024, *common)
        invoke("ingest", ir_2024, "--round", 2024, "--db", db, "--out", base / "ingest_ir_2024", *common,
               expect=(0, 1))
        invoke("report", "--round", 2026, "--out", base / "report_unmatched", "--db", db, *common)
        invoke("match", "run", "--round", 2026, "--db", db, "--quiet")
        out = base / "report_2026"
        said = invoke("report", "--round", 2026, "--out", out, "--db", db, *common)
        said_2025 = invoke("report", "--round", 2025, "--out", base / "report_2025", "--db", db, *common)
        invoke("report", "--round", 2026, "--out", base / "report_free", "--db", db, "--include-free-text", *common)

    def page(folder, round_=2026):
        return (base / folder / f"review_cycle_report_{round_}.html").read_text(encoding="utf-8")

    return {"base": base, "db": db, "out": out, "inst_dir": inst_dir, "registry": registry,
            "said": said.output, "said_2025": said_2025.output,
            "html": page("report_2026"), "xlsx": out / "review_cycle_report_2026.xlsx",
            "html_2025": page("report_2025", 2025), "xlsx_2025": base / "report_2025" / "review_cycle_report_2025.xlsx",
            "html_free": page("report_free"), "html_unmatched": page("report_unmatched")}


class _Tables(HTMLParser):
    """Every <table data-sheet> of a page: sheet -> (header, rows of cell texts). A heading is its
    ``data-column`` (the workbook's column name); the text a reader sees is in ``headings``."""

    def __init__(self):
        super().__init__()
        self.tables: dict[str, tuple[list[str], list[list[str]]]] = {}
        self._sheet = None
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._header: list[str] = []
        self._rows: list[list[str]] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str]] = []
        self.headings: dict[str, list[str]] = {}
        self._column: str | None = None

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [(k, v or "") for k, v in attrs]
        attrs = dict(attrs)
        if tag == "table" and "data-sheet" in attrs:
            self._sheet, self._header, self._rows = attrs["data-sheet"], [], []
        elif self._sheet and tag == "tr":
            self._row = []
        elif self._sheet and tag in ("td", "th"):
            self._cell = []
            self._column = attrs.get("data-column") if tag == "th" else None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def handle_endtag(self, tag):
        if self._sheet is None:
            return
        if tag in ("td", "th") and self._cell is not None:
            if self._column is not None:
                self.headings.setdefault(self._sheet, []).append("".join(self._cell))
            self._row.append(self._column if self._column is not None else "".join(self._cell))
            self._cell, self._column = None, None
        elif tag == "tr" and self._row is not None:
            if not self._header:
                self._header = self._row
            else:
                self._rows.append(self._row)
            self._row = None
        elif tag == "table":
            self.tables[self._sheet] = (self._header, self._rows)
            self._sheet = None


def page_tables(html: str) -> dict:
    parser = _Tables()
    parser.feed(html)
    return parser.tables


def sheet_rows(path: Path, sheet: str) -> tuple[list, list[list]]:
    ws = openpyxl.load_workbook(path)[sheet]
    rows = [list(r) for r in ws.iter_rows(values_only=True)]
    return rows[0], rows[1:]


def sheet_frame(path: Path, sheet: str) -> pd.DataFrame:
    header, rows = sheet_rows(path, sheet)
    return pd.DataFrame(rows, columns=header)


# ---- the command ---------------------------------------------------------------------------------------

def test_report__says_where_it_wrote_the_page_and_the_workbook(pipeline):
    out = pipeline["out"]
    assert f"wrote report page: {out / 'review_cycle_report_2026.html'}" in pipeline["said"]
    assert f"wrote report tables: {out / 'review_cycle_report_2026.xlsx'}" in pipeline["said"]


def test_report__existing_outputs_are_not_replaced_without_force(pipeline):
    common = ["--db", pipeline["db"], "--instruments", pipeline["inst_dir"]]
    result = invoke("report", "--round", 2026, "--out", pipeline["out"], *common, expect=(1,))
    assert "[OUT" in result.output and "--force" in result.output
    other = pipeline["base"] / "again"
    invoke("report", "--round", 2026, "--out", other, *common)
    invoke("report", "--round", 2026, "--out", other, "--force", *common)


def test_report__help_has_an_example(pipeline):
    result = invoke("report", "--help")
    assert "Example:" in result.output and "--include-free-text" in result.output


# ---- numbers in the page are the numbers in the workbook ------------------------------------------------

def test_report__every_table_in_the_page_is_its_workbook_sheet_cell_for_cell(pipeline):
    tables = page_tables(pipeline["html"])
    book = openpyxl.load_workbook(pipeline["xlsx"])
    assert set(tables) == set(book.sheetnames) - {"Read me"}
    assert {"Key figures", "Key figure trend", "Trainees by stream", "Key figures by region", "Key figures by trust",
            "Likert distributions", "Scale scores", "Tests", "Reliability", "Response status", "Chase list",
            "Top candidates", "Demand by region"} <= set(tables)
    checked = 0
    for sheet, (header, rows) in tables.items():
        wb_header, wb_rows = sheet_rows(pipeline["xlsx"], sheet)
        assert header == list(wb_header), sheet
        if rows == [["no rows"]]:
            assert wb_rows == [], sheet
            continue
        assert len(rows) == len(wb_rows), sheet
        for r, (shown, stored) in enumerate(zip(rows, wb_rows)):
            for c, (text, value) in enumerate(zip(shown, stored)):
                where = f"{sheet}!{header[c]} row {r + 2}"
                if value is None:  # no value (a dash in the page), or empty text
                    assert text in ("–", ""), where
                elif isinstance(value, (int, float)) and not isinstance(value, bool):
                    assert float(text) == pytest.approx(value, abs=1e-12), where
                    checked += 1
                else:
                    assert text == str(value), where
    assert checked > 200


# ---- key figures and trends ------------------------------------------------------------------------------

def test_report__key_figures_are_the_sums_of_the_stored_returns(pipeline):
    with store.open_store(pipeline["db"], read_only=True) as con:
        stored = con.execute("""SELECT s.round, a.field_id, sum(a.value_num) AS total FROM answers a
                                JOIN submissions s USING (submission_id)
                                WHERE s.instrument_id = 'trust_capability'
                                  AND s.status IN ('accepted', 'accepted_with_warnings')
                                  AND a.field_id IN ('kf_in_post', 'kf_trainees_gen', 'kf_left_nhs')
                                GROUP BY 1, 2""").df()
    national = sheet_frame(pipeline["xlsx"], "Key figures").set_index("round")
    assert list(national.index) == [2024, 2025, 2026]
    for row in stored.itertuples():
        assert national.at[row.round, row.field_id] == pytest.approx(row.total)
    assert list(national["instrument_version"]) == [1, 1, 2]
    by_region = sheet_frame(pipeline["xlsx"], "Key figures by region")
    assert set(by_region["region_code"]) == {"Y56", "Y59", "Y60", "Y61", "Y62"}
    assert "London" in set(by_region["region_name"])


def test_report__crosswalk_break_is_marked_and_the_series_is_not_joined(pipeline):
    trend = sheet_frame(pipeline["xlsx"], "Key figure trend")
    in_post = trend[trend["figure_id"] == "kf_in_post"].set_index("round")
    assert list(in_post["break_before"]) == ["no", "no", "yes"]
    assert in_post.at[2026, "series_id"] != in_post.at[2025, "series_id"]
    assert in_post.at[2026, "crosswalk_note"] == BREAK_NOTE
    gen = trend[trend["figure_id"] == "kf_trainees_gen"]
    assert set(gen["break_before"]) == {"no"} and gen["series_id"].nunique() == 1
    html = pipeline["html"]
    assert "Series break in 2026" in html and BREAK_NOTE in html
    assert 'class="series-break"' in html
    svg = html[html.index("<svg", html.index('id="key_figures"')):]
    svg = svg[:svg.index("</svg>")]
    # in post is drawn as 2024-2025 and 2026 apart: no polyline has three points
    for points in re.findall(r'<polyline class="series" points="([^"]+)"', svg):
        assert len(points.split()) <= 3
    streams = sheet_frame(pipeline["xlsx"], "Trainees by stream")
    assert set(streams["stream"]) == {"genomics", "health informatics", "physical sciences"}


# ---- individual responses ----------------------------------------------------------------------------

def test_report__group_means_match_the_published_sanity_figures(pipeline):
    scores = sheet_frame(pipeline["xlsx"], "Scale scores")
    equity = scores[(scores["scale"] == "equity_sensitivity") & (scores["grouping"] == "group")].set_index("group")
    for group, (n, mean) in {"trainee": (12, 4.03), "current": (4, 4.24), "former": (5, 4.14)}.items():
        assert equity.at[group, "n"] == n
        # n people x 5 items: a group mean moves in steps of 1/(5n), so it lands within half a step
        assert equity.at[group, "mean"] == pytest.approx(mean, abs=1 / (10 * n) + 1e-3), group
    assert equity.at["current", "below_min_n"] == "yes" and equity.at["trainee", "below_min_n"] == "no"
    assert equity.at["All", "n"] == 21
    tests = sheet_frame(pipeline["xlsx"], "Tests")
    row = tests[(tests["scale"] == "equity_sensitivity") & (tests["grouping"] == "group")].iloc[0]
    assert row["test"] == "anova" and row["df1"] == 2 and row["df2"] == 18
    assert "current: n=4 is below 5" in row["warnings"]
    assert "current: n=4 is below 5" in pipeline["html"]
    alpha = sheet_frame(pipeline["xlsx"], "Reliability").set_index("scale")
    assert set(alpha.index) == {"retention", "utilisation", "equity_sensitivity"}
    assert alpha["n_complete"].max() == 21


def test_report__every_simulated_respondent_came_in_through_ingest_in_every_format(pipeline):
    with store.open_store(pipeline["db"], read_only=True) as con:
        formats = dict(con.execute("""SELECT format, count(*) FROM submissions
                                      WHERE instrument_id = 'individual_review' AND round = 2026
                                        AND status IN ('accepted', 'accepted_with_warnings') GROUP BY 1""").fetchall())
    assert sum(formats.values()) == 21 and len(formats) == 3, formats


def test_report__scale_scores_have_a_trend_across_rounds(pipeline):
    trend = sheet_frame(pipeline["xlsx"], "Score trend")
    everyone = trend[(trend["group"] == "All") & (trend["scale"] == "equity_sensitivity")].set_index("round")
    assert list(everyone.index) == [2024, 2026] and list(everyone["n"]) == [30, 21]
    scores = sheet_frame(pipeline["xlsx"], "Scale scores")
    now = scores[(scores["scale"] == "equity_sensitivity") & (scores["grouping"] == "group")].set_index("group")
    assert everyone.at[2026, "mean"] == now.at["All", "mean"]
    assert set(trend["break_before"]) == {"no"}


def test_report__likert_counts_add_up_and_small_groups_are_not_shown_answer_by_answer(pipeline):
    likert = sheet_frame(pipeline["xlsx"], "Likert distributions")
    cols = ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree", "not_answered"]
    everyone = likert[likert["group"] == "all"]
    assert len(everyone) == 14 and (everyone[cols].sum(axis=1) == 21).all()
    current = likert[likert["group"] == "current"]
    assert (current["shown"] == "no").all() and current["agree"].isna().all()
    trainee = likert[likert["group"] == "trainee"]
    assert (trainee[cols].sum(axis=1) == 12).all()


def test_report__pseudonymous_no_names_emails_ids_or_free_text_unless_asked(pipeline):
    html = pipeline["html"]
    assert "IR2026-" not in html
    assert not re.search(r"[\w.]+@[\w.]+\.\w+", html)
    assert "Recipient" not in html
    assert "more flexible hours" not in html and "--include-free-text" in html
    free = pipeline["html_free"]
    assert "more flexible hours" in free and "IR2026-" not in free
    assert not re.search(r"[\w.]+@[\w.]+\.\w+", free)


# ---- hostile text and the network ----------------------------------------------------------------------

def test_report__hostile_text_is_escaped_and_the_page_loads_nothing(pipeline):
    for html in (pipeline["html"], pipeline["html_free"]):
        parser = _Tables()
        parser.feed(html)
        assert {"script", "img", "link", "iframe", "object", "embed"}.isdisjoint(parser.tags)
        assert not re.search(r"https?://", html)
        assert not [v for k, v in parser.attrs if k in ("src", "srcset", "action", "xlink:href")]
        assert all(v.startswith("#") for k, v in parser.attrs if k == "href")
    assert "&lt;img src=x onerror=alert(1)&gt;" in pipeline["html"]
    top = page_tables(pipeline["html"])["Top candidates"]
    assert any(XSS in row for row in top[1])
    assert "&lt;script&gt;window.__xss=1&lt;/script&gt;" in pipeline["html_free"]


@pytest.mark.chromium
def test_report__in_chromium_offline__no_errors_no_requests_and_hostile_text_is_text(pipeline, chromium, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(pipeline["html_free"], encoding="utf-8")
    evals = [
        "document.querySelectorAll('table.data').length",
        "document.querySelectorAll('svg.chart').length",
        "document.querySelectorAll('img, script').length",
        "window.__xss === undefined",
        "Array.from(document.querySelectorAll('td')).filter(function (td) {"
        " return td.textContent === '<img src=x onerror=alert(1)>'; }).length",
    ]
    cmd = [sys.executable, str(chromium), str(page), "--offline", "--fail-on-errors", "--timeout", "60"]
    for e in evals:
        cmd += ["--eval", e]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    assert report is not None, proc.stderr[-2000:]
    assert proc.returncode == 0, json.dumps(report, indent=1)[:3000]
    assert report["failed_requests"] == [] and report["errors"] == []
    assert not [c for c in report["console"] if c["level"] == "SEVERE"]
    tables, charts, tags, safe, hostile = report["eval"].values()
    assert tables >= 10 and charts >= 4 and tags == 0 and safe is True and hostile >= 1


# ---- what a reader meets ---------------------------------------------------------------------------------

def test_report__columns_are_headed_with_the_definitions_labels_and_keep_the_variable_name(pipeline):
    parser = _Tables()
    parser.feed(pipeline["html"])
    header = parser.tables["Key figures"][0]
    shown = dict(zip(header, parser.headings["Key figures"]))
    inst = pipeline["registry"].get("trust_capability", 2)
    for item in ("kf_trainees_gen", "kf_in_post", "kf_left_nhs"):
        assert shown[item] == inst.item(item).label + item, shown[item]
    assert shown["instrument_version"] == "Instrument versioninstrument_version"
    assert shown["round"] == "Roundround"
    likert = dict(zip(*[parser.tables["Likert distributions"][0], parser.headings["Likert distributions"]]))
    assert likert["pct_agree"].startswith("Agree or strongly agree (%)")
    headings = [h for hs in parser.headings.values() for h in hs]
    assert not [h for h in headings if h.startswith(("kf_", "instrument_", "pct_"))]


def test_report__status_chart_legend_names_every_state_in_full(pipeline):
    chart = re.search(r'<svg class="chart"[^>]*aria-label="Organisations by state".*?</svg>', pipeline["html"], re.S)
    assert chart, "no status chart"
    texts = re.findall(r'<text[^>]*>([^<]*)</text>', chart.group(0))
    for state in ("accepted", "accepted with warnings", "rejected", "not returned"):
        assert state in texts, texts


CHART_TEXT_OUTSIDE = """(function () {
  var out = [];
  document.querySelectorAll('svg.chart').forEach(function (svg) {
    var box = svg.viewBox.baseVal;
    svg.querySelectorAll('text').forEach(function (t) {
      var b = t.getBBox();
      if (b.x < box.x - 0.5 || b.y < box.y - 0.5 || b.x + b.width > box.x + box.width + 0.5
          || b.y + b.height > box.y + box.height + 0.5) {
        out.push(svg.getAttribute('aria-label') + ': ' + t.textContent + ' ' + [b.x, b.y, b.width, b.height]);
      }
    });
  });
  return out;
})()"""


@pytest.mark.chromium
def test_report__in_chromium__no_chart_text_is_cut_at_the_chart_edge(pipeline, chromium, tmp_path):
    page = tmp_path / "report.html"
    page.write_text(pipeline["html"], encoding="utf-8")
    proc = subprocess.run([sys.executable, str(chromium), str(page), "--offline", "--timeout", "60",
                           "--eval", CHART_TEXT_OUTSIDE,
                           "--eval", "document.querySelectorAll('svg.chart text').length"],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    assert report is not None, proc.stderr[-2000:]
    outside, texts = report["eval"].values()
    assert texts > 30
    assert outside == []


@pytest.mark.chromium
def test_report__axe_core_in_chromium__no_wcag_21_aa_violation(pipeline, axe, tmp_path):
    for name in ("html_free", "html_2025"):   # with comments; with parts missing
        page = tmp_path / f"{name}.html"
        page.write_text(pipeline[name], encoding="utf-8")
        violations = axe(page)
        assert violations == [], f"{name}:\n{axe_summary(violations)}"


# ---- what is missing is said ----------------------------------------------------------------------------

def test_report__missing_parts_are_stated_not_left_out(pipeline):
    html = pipeline["html_2025"]
    assert "no individual responses for round 2025" in html
    assert "Title coding: not run" in html or "Title coding: not run for round 2025" in html
    readme = openpyxl.load_workbook(pipeline["xlsx_2025"])["Read me"]
    missing = [r[1] for r in readme.iter_rows(values_only=True) if r[0] == "(missing)"]
    assert any("no individual responses" in m for m in missing)
    assert any("Title coding" in m for m in missing)
    assert "missing: Answers to each statement" in pipeline["said_2025"]
    trend = sheet_frame(pipeline["xlsx_2025"], "Key figure trend")
    assert sorted(set(trend["round"])) == [2024, 2025]


def test_report__title_coding_statistics_come_from_the_stored_match_run(pipeline):
    with store.open_store(pipeline["db"], read_only=True) as con:
        stored = con.execute("SELECT decision, count(*) FROM title_matches WHERE round = 2026 GROUP BY 1").fetchall()
    decisions = sheet_frame(pipeline["xlsx"], "Coding decisions").set_index("decision")["titles"].to_dict()
    assert decisions == dict(stored)
    by_stream = sheet_frame(pipeline["xlsx"], "Coding by stream")
    assert by_stream["titles"].sum() == sum(n for _, n in stored)
    assert "Title coding: not run" in pipeline["html_unmatched"]
    assert "Title coding: not run" not in pipeline["html"]


# ---- stage functions on in-memory frames ----------------------------------------------------------------

def _kf_answers(rows):
    return pd.DataFrame([{"round": r, "org_code": o, "instrument_version": 1, "field_id": f, "value_num": v}
                         for r, o, f, v in rows])


def test_key_figure_section__merged_trust_carries_its_successor_and_no_return_is_not_zero():
    from trust_survey.report.tables import key_figure_section

    answers = _kf_answers([(2024, "RR1", "kf_in_post", 3), (2024, "RRK", "kf_in_post", 5),
                           (2026, "RRK", "kf_in_post", 9)])
    dist = pd.DataFrame({"round": [2024, 2024, 2026, 2026], "org_code": ["RR1", "RRK", "RRK", "RGT"],
                         "org_name": ["Heart of England", "UHB", "UHB", "CUH"],
                         "region_code": ["Y60", "Y60", "Y60", "Y61"]})
    section = key_figure_section(answers, dist, {2024: 1, 2026: 1}, [], 2026, {"Y60": "Midlands"},
                                 {"RR1": "RRK"})
    trust = next(t for t in section.tables if t.sheet == "Key figures by trust").frame
    assert trust.set_index(["round", "org_code"])["org_code_now"].to_dict() == {
        (2024, "RR1"): "RRK", (2024, "RRK"): "RRK", (2026, "RGT"): "RGT", (2026, "RRK"): "RRK"}
    region = next(t for t in section.tables if t.sheet == "Key figures by region").frame.set_index(
        ["round", "region_code"])
    assert region.at[(2024, "Y60"), "kf_in_post"] == 8 and region.at[(2024, "Y60"), "region_name"] == "Midlands"
    assert region.at[(2026, "Y61"), "kf_in_post"] is None and region.at[(2026, "Y61"), "not_returned"] == 1


def test_line_chart__a_new_series_or_a_missing_round_starts_a_new_line():
    from trust_survey.report.charts import line_chart

    frame = pd.DataFrame({"round": [2023, 2024, 2025, 2026, 2027], "figure": ["in post"] * 5,
                          "value": [3, 4, None, 6, 7], "series_id": ["a", "a", "a", "b", "b"],
                          "break_before": ["no", "no", "no", "yes", "no"]})
    svg = line_chart(frame, x="round", y="value", label="figure", series="series_id", breaks="break_before",
                     title="<b>t</b>")
    lines = re.findall(r'<polyline class="series" points="([^"]+)"', svg)
    assert [len(p.split()) for p in lines] == [2, 2]
    assert svg.count('class="series-break"') == 1 and "&lt;b&gt;t&lt;/b&gt;" in svg and "<b>" not in svg


def test_score_trend__a_reworded_statement_breaks_its_scale_and_only_its_scale():
    from trust_survey.instruments.model import Crosswalk
    from trust_survey.report.tables import score_trend
    from trust_survey.simulate import simulate_individuals

    v1 = load_registry(REPO / "instruments").get("individual_review")
    v2 = v1.model_copy(update={"version": 2, "crosswalk": [
        Crosswalk(item="eq_owed", continues=False, note="reworded: 'repay' became 'reward'")]})
    frames = {r: simulate_individuals(v1, 21, r, seed=r).assign(instrument_version=v) for r, v in
              ((2024, 1), (2025, 1), (2026, 2))}
    trend = score_trend(frames, v2, [v1, v2])
    everyone = trend[trend["group"] == "All"]
    equity = everyone[everyone["scale"] == "equity_sensitivity"].set_index("round")
    assert list(equity["break_before"]) == [False, False, True]
    assert equity.at[2026, "series_id"] != equity.at[2025, "series_id"]
    assert "reworded" in equity.at[2026, "crosswalk_note"]
    retention = everyone[everyone["scale"] == "retention"]
    assert set(retention["break_before"]) == {False} and retention["series_id"].nunique() == 1


def test_line_chart__a_year_with_no_round_is_a_gap_not_a_join():
    from trust_survey.report.charts import line_chart

    frame = pd.DataFrame({"round": [2024, 2026, 2027], "scale": ["equity"] * 3, "mean": [4.1, 4.0, 4.2],
                          "series_id": ["equity"] * 3, "break_before": ["no"] * 3})
    svg = line_chart(frame, x="round", y="mean", label="scale", series="series_id", breaks="break_before",
                     title="Scores")
    assert [len(p.split()) for p in re.findall(r'<polyline class="series" points="([^"]+)"', svg)] == [2]
    assert svg.count("<circle") == 3 and ">2025<" in svg


def test_comments_section__small_groups_are_not_named_and_emails_are_removed():
    from trust_survey.report.tables import comments_section, respondent_groups

    inst = load_registry(REPO / "instruments").get("individual_review")
    responses = pd.DataFrame({"group": ["trainee"] * 5 + ["former"],
                              "comment_keep": ["ok"] * 4 + ["write to a.b@nhs.net.example", "better pay"]})
    frame = comments_section(responses, respondent_groups(responses, inst, {}), inst).tables[0].frame
    assert set(frame["group"]) == {"trainee", "a group of fewer than 5"}
    assert "write to [email removed]" in set(frame["comment"]) and "@" not in "".join(frame["comment"])


def test_report__no_database__says_where_and_how_to_fix_it(run, tmp_path):
    result = run("report", "--round", 2026, "--db", tmp_path / "none.duckdb", "--out", tmp_path / "r", expect=1)
    assert "[NF001]" in result.output and "none.duckdb" in result.output
    assert not (tmp_path / "r").exists()


def test_report__a_round_with_nothing_in_it__still_writes_a_report_that_says_so(pipeline):
    out = pipeline["base"] / "report_2030"
    said = invoke("report", "--round", 2030, "--out", out, "--db", pipeline["db"],
                  "--instruments", pipeline["inst_dir"]).output
    html = (out / "review_cycle_report_2030.html").read_text(encoding="utf-8")
    assert "nothing was sent or received for round 2030" in html
    assert "no individual responses for round 2030" in html
    assert "Candidate departments and demand: not available" in html
    assert "missing: Response and chase status" in said


@pytest.mark.parametrize("top", [1, 7, 26, 99.5, 190, 1234])
def test_chart_ticks__the_top_tick_is_never_below_the_highest_value(top):
    from trust_survey.report.charts import _ticks

    ticks = _ticks(0, top * 1.1)
    assert ticks[0] == 0 and ticks[-1] >= top * 1.1 and len(ticks) <= 8


def test_write_workbook__text_a_spreadsheet_would_run_stays_text_and_numbers_stay_numbers(tmp_path):
    from trust_survey.report.render import write_workbook
    from trust_survey.report.tables import Report, Section, Table

    frame = pd.DataFrame({"dept_name": ["=HYPERLINK(\"http://x\")", "@SUM(A1)", "Genomics"],
                          "total": [-3, 2.5, None]}).astype(object)
    report = Report(2026, "t", [Section("s", "S", tables=[Table("Top candidates", "Top", frame)],
                                        missing=["no match run"])])
    path = tmp_path / "r.xlsx"
    write_workbook(report, path, generated="2026-01-01 00:00")
    ws = openpyxl.load_workbook(path)["Top candidates"]
    assert ws["A2"].value == "=HYPERLINK(\"http://x\")" and ws["A2"].data_type == "s" and ws["A2"].quotePrefix
    assert ws["A3"].data_type == "s" and ws["B2"].value == -3 and ws["B3"].value == 2.5 and ws["B4"].value is None
    readme = [r for r in openpyxl.load_workbook(path)["Read me"].iter_rows(values_only=True)]
    assert ("(missing)", "S: no match run") in readme


def test_report__key_figures_of_integer_items_are_whole_numbers_in_the_workbook(pipeline):
    wb = openpyxl.load_workbook(pipeline["xlsx"])
    values = [c.value for row in wb["Key figures"].iter_rows(min_row=2) for c in row if c.value is not None]
    numbers = [v for v in values if not isinstance(v, str)]
    assert numbers and all(type(v) is int for v in numbers), numbers     # counts of people: never 14.0
    text = [c.value for ws in wb.worksheets for row in ws.iter_rows() for c in row if isinstance(c.value, str)]
    assert not [t for t in text if re.fullmatch(r"-?\d+\.0", t)]          # and no number turned into text


@pytest.mark.chromium
def test_status_chart__narrow_chart_with_a_long_instrument_name__legend_wraps_and_stays_inside(chromium, tmp_path):
    from trust_survey.report.charts import status_chart

    frame = pd.DataFrame({"instrument_id": ["trust_capability_with_a_very_long_name_indeed"] * 4,
                          "state": ["accepted", "accepted with warnings", "rejected", "not returned"],
                          "organisations": [3, 2, 1, 4]})
    svg = status_chart(frame, "Organisations by state", width=320)
    page = tmp_path / "chart.html"
    page.write_text(f'<!DOCTYPE html><html lang="en"><head><title>c</title></head><body>{svg}</body></html>',
                    encoding="utf-8")
    proc = subprocess.run([sys.executable, str(chromium), str(page), "--offline", "--timeout", "60",
                           "--eval", CHART_TEXT_OUTSIDE, "--eval",
                           "Array.from(document.querySelectorAll('text')).map(function (t) { return t.textContent; })"],
                          capture_output=True, text=True, timeout=120)
    report = json.loads(proc.stdout) if proc.stdout.strip() else None
    assert report is not None, proc.stderr[-2000:]
    outside, texts = report["eval"].values()
    assert outside == []
    assert {"accepted", "accepted with warnings", "rejected", "not returned"} <= set(texts)
