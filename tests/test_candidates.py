"""Candidate departments, their scores and the demand estimate, on small DataFrames built here."""
from __future__ import annotations

import math

import pandas as pd
import pytest
import yaml

from trust_survey.commissioning.departments import link_staff, normalise_department
from trust_survey.commissioning.scoring import CANDIDATE_COLUMNS, POINT_COLUMNS, score_departments
from trust_survey.commissioning.weights import DEFAULT_WEIGHTS, load_weights, parse_weights
from trust_survey.commissioning.writers import write_candidates
from trust_survey.commissioning.demand import DEMAND_COLUMNS, demand_trend, estimate_demand, write_demand
from trust_survey.errors import DefinitionError, OutputExistsError


@pytest.fixture(scope="module")
def weights():
    return load_weights(DEFAULT_WEIGHTS)


def dept(org, name, hosting=3, **extra):
    return {"org_code": org, "org_name": f"{org} Trust", "dept_name": name, "dept_hosting": hosting,
            "region_code": extra.pop("region_code", "Y56"), "region_name": extra.pop("region_name", "London"), **extra}


def staff(org, dept_name, stream="genomics", relation="direct", headcount=1, wte=None, registration=1,
          supervisors=0, decision="auto", title="Clinical Bioinformatician"):
    return {"org_code": org, "staff_dept": dept_name, "job_title": title, "headcount": headcount,
            "wte": headcount if wte is None else wte, "registration": registration, "supervisors": supervisors,
            "stream": stream, "relation": relation, "decision": decision}


def capacity(org, **answers):
    row = {"org_code": org, "will_gen": 4, "will_hi": 4, "will_ps": 4}
    row.update(answers)
    return row


def score(depts, staff_rows, caps=(), partners=None, weights=None):
    return score_departments(pd.DataFrame(depts), pd.DataFrame(staff_rows), pd.DataFrame(list(caps)),
                             pd.DataFrame(partners or []), weights or load_weights(DEFAULT_WEIGHTS))


def row(scores, org, name, stream="genomics"):
    hit = scores[(scores["org_code"] == org) & (scores["dept_name"] == name) & (scores["stream"] == stream)]
    assert len(hit) == 1, f"{org} {name} {stream}: {len(hit)} rows"
    return hit.iloc[0]


# ------------------------------------------------------------------------------------------------- scoring
def test_score__direct_staff__outrank_adjacent_staff(weights):
    scores = score([dept("A", "Genomics"), dept("B", "Genomics")],
                   [staff("A", "Genomics", headcount=3), staff("B", "Genomics", relation="adjacent", headcount=3)],
                   weights=weights)
    direct, adjacent = row(scores, "A", "Genomics"), row(scores, "B", "Genomics")
    assert direct["pts_staff"] > adjacent["pts_staff"] > 0
    assert direct["rank"] < adjacent["rank"]
    assert direct["total"] > adjacent["total"]


def test_score__lone_specialist__is_penalised_against_a_team(weights):
    # Same WTE and supervisors: only the number of people differs.
    scores = score([dept("A", "Bioinformatics"), dept("B", "Bioinformatics")],
                   [staff("A", "Bioinformatics", headcount=1, wte=1.0),
                    staff("B", "Bioinformatics", headcount=3, wte=1.0)], weights=weights)
    lone, team = row(scores, "A", "Bioinformatics"), row(scores, "B", "Bioinformatics")
    assert lone["pts_isolation"] == -weights.isolation.penalty
    assert team["pts_isolation"] == 0
    assert team["rank"] < lone["rank"]
    assert "lone specialist" in lone["reasons"]


def test_score__every_department_appears_in_every_stream__with_reasons_for_zero(weights):
    depts = [dept("A", "Genomics"), dept("A", "Estates"), dept("B", "Medical Physics")]
    scores = score(depts, [staff("A", "Genomics", headcount=2)], [capacity("A", will_gen=1)], weights=weights)
    assert len(scores) == 3 * 3
    assert list(scores.columns) == CANDIDATE_COLUMNS
    estates = row(scores, "A", "Estates")
    assert estates["total"] == 0 and all(estates[c] == 0 for c in POINT_COLUMNS)
    assert "no staff here matched to genomics" in estates["reasons"]
    # Willingness is the organisation's, but a department with no relevant staff earns nothing from it.
    assert row(scores, "A", "Genomics")["pts_willingness"] == weights.components.willingness.weight


def test_score__reasons__mention_every_component(weights):
    scores = score([dept("A", "Genomics", hosting=1, dept_streams__gen=1)],
                   [staff("A", "Genomics", headcount=4, supervisors=2)],
                   [capacity("A", will_gen=2, places_gen=1)],
                   partners=[{"org_code": "A", "partner_name": "A University", "partner_type": 1}], weights=weights)
    r = row(scores, "A", "Genomics")
    for component in ("staff", "supervision", "willingness", "capacity", "hosting", "partners", "isolation"):
        assert f"{component} " in r["reasons"], component
    assert r["pts_hosting"] == weights.components.hosting.weight
    assert r["pts_willingness"] == weights.components.willingness.weight * weights.willingness.support
    assert r["total"] == pytest.approx(sum(r[c] for c in POINT_COLUMNS), abs=0.11)


def test_score__review_decisions__count_less_and_none_not_at_all(weights):
    scores = score([dept("A", "Genomics"), dept("B", "Genomics"), dept("C", "Genomics")],
                   [staff("A", "Genomics", headcount=3), staff("B", "Genomics", headcount=3, decision="review"),
                    staff("C", "Genomics", headcount=3, decision="none")], weights=weights)
    assert row(scores, "A", "Genomics")["pts_staff"] > row(scores, "B", "Genomics")["pts_staff"] > 0
    assert row(scores, "C", "Genomics")["total"] == 0


def test_score__hosting_another_stream__counts_less_than_this_stream(weights):
    scores = score([dept("A", "Lab", hosting=1, dept_streams__gen=1), dept("B", "Lab", hosting=1, dept_streams__ps=1)],
                   [staff("A", "Lab", headcount=2), staff("B", "Lab", headcount=2)], weights=weights)
    assert row(scores, "A", "Lab")["pts_hosting"] > row(scores, "B", "Lab")["pts_hosting"] > 0


def test_score__choice_codes_and_values__are_the_same_answer(weights):
    by_value = score([dept("A", "Lab")], [staff("A", "Lab", headcount=2)], [capacity("A", will_gen=1)], weights=weights)
    by_code = score([dept("A", "Lab")], [staff("A", "Lab", headcount=2)], [capacity("A", will_gen="ready")],
                    weights=weights)
    assert row(by_value, "A", "Lab")["total"] == row(by_code, "A", "Lab")["total"]


# ------------------------------------------------------------------------------------------------- linking
@pytest.mark.parametrize("typed, method", [
    ("Medical Physics", "exact"),
    ("medical  physics", "exact"),
    ("Med Physics", "normalised"),
    ("Dept. of Med Phys", "normalised"),
    ("Medical Phyiscs", "fuzzy"),
])
def test_link_staff__department_spelt_differently__finds_its_department(typed, method):
    depts = pd.DataFrame([dept("A", "Medical Physics"), dept("A", "Clinical Bioinformatics")])
    linked = link_staff(depts, pd.DataFrame([staff("A", typed)]))
    assert linked.loc[0, "link_method"] == method
    assert linked.loc[0, "linked_dept_name"] == "Medical Physics"


def test_link_staff__only_the_organisations_own_departments():
    depts = pd.DataFrame([dept("A", "Medical Physics"), dept("B", "Digital Services")])
    linked = link_staff(depts, pd.DataFrame([staff("B", "Medical Physics")]))
    assert linked.loc[0, "link_method"] == "unlisted"


def test_link_staff__ambiguous_name__is_not_guessed():
    depts = pd.DataFrame([dept("A", "Radiotherapy Physics"), dept("A", "Imaging Physics")])
    linked = link_staff(depts, pd.DataFrame([staff("A", "Physics")]))
    assert linked.loc[0, "link_method"] == "unlisted"


def test_score__staff_naming_an_unlisted_department__are_kept_and_flagged(weights):
    rows = [staff("A", "Genomics"), staff("A", "Digital", "health_informatics", headcount=3)]
    scores = score([dept("A", "Genomics")], rows, weights=weights)
    digital = row(scores, "A", "Digital", "health_informatics")
    assert not digital["dept_listed"]
    assert digital["total"] > 0
    assert "not on the Departments sheet" in digital["reasons"]
    assert digital["org_name"] == "A Trust"


def test_normalise_department__abbreviations_and_filler_words():
    assert normalise_department("Dept. of Med Physics & Eng") == "medical physics engineering"
    assert normalise_department(None) == ""


# ------------------------------------------------------------------------------------------------- weights
def _weights_raw() -> dict:
    return yaml.safe_load(DEFAULT_WEIGHTS.read_text(encoding="utf-8"))


def test_weights__shipped_file__loads():
    w = load_weights(DEFAULT_WEIGHTS)
    assert w.relation.direct > w.relation.adjacent
    assert w.demand.scenarios.low.share <= w.demand.scenarios.high.share


def test_weights__unknown_key__is_named_with_a_suggestion():
    raw = _weights_raw()
    raw["components"]["staf"] = raw["components"].pop("staff")
    with pytest.raises(DefinitionError) as exc:
        parse_weights(raw, "w.yaml")
    text = str(exc.value)
    assert "w.yaml: components.staf: unknown key; did you mean 'staff'?" in text
    assert "w.yaml: components.staff: required key is missing" in text
    assert exc.value.code == "DEF001"


@pytest.mark.parametrize("change, expected", [
    (lambda r: r["relation"].update(adjacent=1.0, direct=0.5), "relation: Value error, adjacent (1.0) must not count"),
    (lambda r: r["demand"]["scenarios"]["low"].update(share=0.9),
     "demand.scenarios: Value error, shares must rise from low to high"),
    (lambda r: r["demand"]["scenarios"]["high"].update(willing=["ready", "redy"]),
     "demand.scenarios.high.willing.1: 'redy' is not allowed; expected one of ready, support, maybe, no; "
     "did you mean 'ready'?"),
    (lambda r: r["components"]["staff"].pop("full_at"), "'full_at' is required for staff"),
])
def test_weights__bad_values__are_reported_where_they_are(change, expected):
    raw = _weights_raw()
    change(raw)
    with pytest.raises(DefinitionError) as exc:
        parse_weights(raw, "w.yaml")
    assert expected.replace("Value error, ", "") in str(exc.value)


def test_weights_check__cli__exit_1_with_every_problem(run, tmp_path):
    bad = tmp_path / "weights.yaml"
    raw = _weights_raw()
    raw["isolaton"] = raw.pop("isolation")
    bad.write_text(yaml.safe_dump(raw), encoding="utf-8")
    result = run("candidates", "--check-weights", "--weights", bad, expect=1)
    assert "isolaton: unknown key; did you mean 'isolation'?" in result.stderr
    ok = run("candidates", "--check-weights")
    assert "candidate_weights.yaml" in ok.stderr and "ok" in ok.stderr


# ------------------------------------------------------------------------------------------------- demand
def _distribution(*orgs):
    return pd.DataFrame([{"org_code": o, "org_name": f"{o} Trust", "region_code": r, "region_name": f"Region {r}",
                          "icb_code": f"Q{r}", "icb_name": f"ICB {r}"} for o, r in orgs])


def test_demand__supervision_ratio__caps_stated_places(weights):
    scores = score([dept("A", "Lab")], [staff("A", "Lab", headcount=5, supervisors=1, registration=1)],
                   [capacity("A", will_gen=1, places_gen=5)], weights=weights)
    caps = pd.DataFrame([capacity("A", will_gen=1, places_gen=5)])
    dist = _distribution(("A", "Y56"))
    share = weights.demand.scenarios.central.share
    one = estimate_demand(scores, caps, dist, weights.demand, "region")
    gen = one[one["stream"] == "genomics"].iloc[0]
    assert gen["stated_places"] == 5 and gen["supervision_limit"] == 1
    assert gen["central"] == pytest.approx(round(1 * share, 1))
    two = estimate_demand(scores, caps, dist, weights.demand.model_copy(update={"trainees_per_supervisor": 2}),
                          "region")
    assert two[two["stream"] == "genomics"].iloc[0]["central"] == pytest.approx(round(2 * share, 1))


def test_demand__unregistered_supervisors__do_not_lift_the_cap(weights):
    scores = score([dept("A", "Lab")], [staff("A", "Lab", headcount=5, supervisors=3, registration=5)],
                   weights=weights)
    caps = pd.DataFrame([capacity("A", will_gen=1, places_gen=5)])
    out = estimate_demand(scores, caps, _distribution(("A", "Y56")), weights.demand, "trust")
    assert out[out["stream"] == "genomics"].iloc[0]["central"] == 0


def test_demand__no_return__is_not_zero(weights):
    scores = score([dept("A", "Lab")], [staff("A", "Lab", headcount=3, supervisors=2)], weights=weights)
    caps = pd.DataFrame([capacity("A")])  # returned, but not willing: a real zero
    out = estimate_demand(scores, caps, _distribution(("A", "Y56"), ("B", "Y58")), weights.demand, "region")
    assert list(out.columns) == DEMAND_COLUMNS
    returned = out[(out["group_code"] == "Y56") & (out["stream"] == "genomics")].iloc[0]
    silent = out[(out["group_code"] == "Y58") & (out["stream"] == "genomics")].iloc[0]
    assert returned["central"] == 0 and returned["status"] == "complete"
    assert math.isnan(silent["central"]) and math.isnan(silent["low"]) and silent["status"] == "no return"
    assert silent["returned"] == 0 and silent["not_returned"] == 1


def test_demand__scenarios__low_central_high_follow_willingness(weights):
    caps = pd.DataFrame([capacity("A", will_gen=1, places_gen=1), capacity("B", will_gen=2, places_gen=1),
                         capacity("C", will_gen=3, places_gen=1)])
    depts = [dept(o, "Lab") for o in "ABC"]
    scores = score(depts, [staff(o, "Lab", headcount=2, supervisors=1) for o in "ABC"], weights=weights)
    out = estimate_demand(scores, caps, _distribution(("A", "Y56"), ("B", "Y56"), ("C", "Y56")), weights.demand,
                          "stream")
    gen = out[out["stream"] == "genomics"].iloc[0]
    sc = weights.demand.scenarios
    assert gen["low"] == pytest.approx(round(1 * sc.low.share, 1))
    assert gen["central"] == pytest.approx(round(2 * sc.central.share, 1))
    assert gen["high"] == pytest.approx(round(3 * sc.high.share, 1))
    assert gen["low"] <= gen["central"] <= gen["high"]
    total = out[out["stream"] == "all"].iloc[0]
    assert total["central"] == pytest.approx(gen["central"])


def test_demand__blank_places_for_a_willing_organisation__are_assumed_and_counted(weights):
    scores = score([dept("A", "Lab")], [staff("A", "Lab", headcount=3, supervisors=2)], weights=weights)
    out = estimate_demand(scores, pd.DataFrame([capacity("A", will_gen=1)]), _distribution(("A", "Y56")),
                          weights.demand, "trust")
    gen = out[out["stream"] == "genomics"].iloc[0]
    assert gen["places_assumed"] == 1
    assert gen["central"] == pytest.approx(round(weights.demand.places_when_blank * weights.demand.scenarios.central
                                                 .share, 1))


def test_demand__several_rounds__trend_with_change_and_no_return_kept(weights):
    scores = score([dept("A", "Lab")], [staff("A", "Lab", headcount=3, supervisors=2)], weights=weights)
    caps = pd.DataFrame([capacity("A", will_gen=1, places_gen=2)])
    rounds = [(2024, None), (2025, 1), (2026, 2)]  # nobody returned in 2024
    dist = pd.concat([_distribution(("A", "Y56"), ("B", "Y58")).assign(round=r) for r, _ in rounds])
    cands = pd.concat([scores.assign(round=r) for r, _ in rounds[1:]])
    capsr = pd.concat([caps.assign(round=2025, places_gen=1), caps.assign(round=2026)])
    out = estimate_demand(cands, capsr, dist, weights.demand, "region")
    gen = out[(out["stream"] == "genomics") & (out["group_code"] == "Y56")].set_index("round")
    assert gen.loc[2024, "status"] == "no return" and math.isnan(gen.loc[2024, "central"])
    assert math.isnan(gen.loc[2025, "central_change"])
    assert gen.loc[2026, "central_change"] == pytest.approx(gen.loc[2026, "central"] - gen.loc[2025, "central"])
    trend = demand_trend(out)
    assert len(trend) == 2 * 4  # one line per region and stream (three streams and all)
    line = trend[(trend["stream"] == "genomics") & (trend["group_code"] == "Y56")].iloc[0]
    assert line["group_name"] == "Region Y56"
    assert line["central 2024"] == "no return"
    assert (trend[trend["group_code"] == "Y58"][["central 2024", "central 2025", "central 2026"]] == "no return"
            ).all().all()


# ------------------------------------------------------------------------------------------------- writers
def test_write_candidates__xlsx__formula_text_is_neutralised_and_no_overwrite(tmp_path, weights):
    from openpyxl import load_workbook

    scores = score([dept("A", "=HYPERLINK(\"http://x\")")], [staff("A", "=HYPERLINK(\"http://x\")")], weights=weights)
    out = tmp_path / "c.xlsx"
    write_candidates(scores, out, weights=weights, meta={"round": 2026})
    wb = load_workbook(out)
    assert wb.sheetnames[:4] == ["Read me", "Genomics", "Health informatics", "Physical sciences"]
    sheet = wb["Genomics"]
    header = [c.value for c in sheet[1]]
    cell = sheet.cell(row=2, column=header.index("dept_name") + 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
    with pytest.raises(OutputExistsError):
        write_candidates(scores, out)
    csv = tmp_path / "c.csv"
    links = link_staff(pd.DataFrame([dept("A", "x")]), pd.DataFrame([staff("A", "x")]))
    write_candidates(scores, csv, staff_links=links)
    assert (tmp_path / "c_staff_links.csv").exists()
    assert "'=HYPERLINK" in csv.read_text(encoding="utf-8")


def test_write_demand__no_return_is_blank_not_zero(tmp_path, weights):
    from openpyxl import load_workbook

    scores = score([dept("A", "Lab")], [staff("A", "Lab")], weights=weights)
    out = estimate_demand(scores, pd.DataFrame([capacity("A")]), _distribution(("A", "Y56"), ("B", "Y58")),
                          weights.demand, "region").assign(round=2026)
    path = tmp_path / "d.xlsx"
    write_demand(out, path, params=weights.demand)
    sheet = load_workbook(path)["Round 2026"]
    header = [c.value for c in sheet[1]]
    values = [[c.value for c in r] for r in sheet.iter_rows(min_row=2)]
    silent = [v for v in values if v[header.index("group_code")] == "Y58"][0]
    assert silent[header.index("central")] is None and silent[header.index("status")] == "no return"
    returned = [v for v in values if v[header.index("group_code")] == "Y56"][0]
    assert returned[header.index("central")] == 0


# ------------------------------------------------------------------------------------------------- the CLI
@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """A real store: seven organisations sent the 2026 return, RVJ never replied."""
    from commission_helpers import build_store

    root = tmp_path_factory.mktemp("store")
    return build_store(root, 2026, silent=("RVJ",))


def test_cli__candidates_demand_map__from_a_real_store(run, store, tmp_path):
    from openpyxl import load_workbook

    from trust_survey.maps import offline_problems

    out = tmp_path / "cand.xlsx"
    result = run("candidates", "--db", store, "--round", 2026, "--out", out)
    assert f"wrote candidates: {out}" in result.stderr
    assert "round 2026:" in result.stderr
    wb = load_workbook(out, read_only=True)
    assert {"Read me", "Genomics", "All", "Staff links"} <= set(wb.sheetnames)
    rows = list(wb["All"].iter_rows(values_only=True))
    header = rows[0]
    orgs = {r[header.index("org_code")] for r in rows[1:]}
    assert orgs == {"RJ1", "RP4", "RH8", "RQ3", "RX1", "QKK"}
    staff_rows = len(list(wb["Staff links"].iter_rows())) - 1
    assert staff_rows > 0

    demand = tmp_path / "demand.csv"
    result = run("demand", "--db", store, "--round", 2026, "--by", "trust", "--out", demand)
    assert f"wrote demand: {demand}" in result.stderr
    d = pd.read_csv(demand)
    silent = d[(d["group_code"] == "RVJ") & (d["stream"] == "all")].iloc[0]
    assert silent["status"] == "no return" and pd.isna(silent["central"])
    assert (d[d["group_code"] != "RVJ"]["status"] == "complete").all()

    page = tmp_path / "map.html"
    result = run("map", "--db", store, "--round", 2026, "--out", page, "--areas", "icb")
    assert f"wrote map: {page}" in result.stderr and "works offline" in result.stderr
    assert offline_problems(page.read_text(encoding="utf-8")) == []


def test_cli__existing_output__needs_force(run, store, tmp_path):
    out = tmp_path / "c.csv"
    out.write_text("keep me", encoding="utf-8")
    result = run("candidates", "--db", store, "--round", 2026, "--out", out, expect=1)
    assert "[OUT001]" in result.stderr and "--force" in result.stderr
    assert out.read_text(encoding="utf-8") == "keep me"


@pytest.mark.parametrize("round_", [2024, 2030], ids=["before the stored round", "after it"])
def test_cli__round_without_returns__names_it_and_suggests_status(run, store, tmp_path, round_):
    for command in (["candidates"], ["demand", "--by", "region"], ["map"]):
        out = tmp_path / ("x.html" if command == ["map"] else f"{command[0]}.csv")
        result = run(*command, "--db", store, "--round", round_, "--out", out, expect=1)
        assert f"[CAND001] round {round_}: no accepted trust_capability returns" in result.stderr
        assert f"trust-survey status --round {round_}" in result.stderr
        assert not out.exists()


def test_cli__titles_not_matched__suggests_match_run(run, store, tmp_path):
    import shutil

    import duckdb

    db = tmp_path / "copy.duckdb"
    shutil.copy(store, db)
    con = duckdb.connect(str(db))
    con.execute("DELETE FROM title_matches WHERE round = 2026")    # as before `match run` stored any
    con.close()
    result = run("candidates", "--db", db, "--round", 2026, "--out", tmp_path / "c.xlsx", expect=1)
    assert "[CAND002] round 2026: the job titles have not been coded" in result.stderr
    assert "trust-survey match run --round 2026" in result.stderr


def test_cli__bad_options__are_usage_errors(run, tmp_path):
    assert "must end in .xlsx or .csv" in run("candidates", "--round", 2026, "--out", tmp_path / "x.txt",
                                              expect=2).stderr
    assert "Missing option '--round'" in run("candidates", expect=2).stderr
    assert "http(s) URL" in run("map", "--round", 2026, "--tiles", "tiles/{z}/{x}/{y}.png", expect=2).stderr


def test_answers_to_tables__numbers_win_and_each_table_gets_its_rows():
    from trust_survey.commissioning.reader import answers_to_tables

    answers = pd.DataFrame([
        # submission, org, round, table, row, field, value, value_num
        (1, "A", 2026, None, 0, "org_code", "A", None),
        (1, "A", 2026, None, 0, "will_gen", "Yes - ready to host now", 1.0),
        (1, "A", 2026, None, 0, "places_gen", "2", 2.0),
        (1, "A", 2026, "departments", 1, "dept_name", "Genomics", None),
        (1, "A", 2026, "departments", 1, "dept_streams__gen", "Yes", 1.0),
        (1, "A", 2026, "departments", 2, "dept_name", "=cmd|' /C calc'!A0", None),
        (1, "A", 2026, "staff", 1, "job_title", "Bioinformatician", None),
    ], columns=["submission_id", "org_code", "round", "table_id", "row_index", "field_id", "value", "value_num"])
    tables = answers_to_tables(answers)
    form = tables["form"]
    assert len(form) == 1 and form.loc[0, "will_gen"] == 1.0 and form.loc[0, "org_code"] == "A"
    deps = tables["departments"]
    assert list(deps["dept_name"]) == ["Genomics", "=cmd|' /C calc'!A0"]
    assert deps.loc[0, "dept_streams__gen"] == 1.0
    assert list(tables["staff"]["job_title"]) == ["Bioinformatician"]
