"""Review-cycle analysis: scale scores, reliability, group comparisons, trends and platform CSVs.

The sanity figures are the HEE report's equity-sensitivity means (section 4.2): trainees 4.03 (n=12),
current 4.24 (n=4), former 4.14 (n=5), with no significant differences. Responses of that shape are
simulated here at item level, reverse-keyed items included, and must come back through the real stages.
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from trust_survey.errors import DefinitionError, NotFoundError, TrustSurveyError
from trust_survey.instruments.loader import load_registry
from trust_survey.instruments.model import Crosswalk
from trust_survey.review_cycle.compare import compare_groups, hedges_g, holm_adjust
from trust_survey.ingest.platform_csv import apply_mapping, issues_frame, load_mapping, read_platform_csv
from trust_survey.review_cycle.scoring import (
    choice_keys, cronbach_alpha, reverse_key, scale_alphas, scale_items, scale_scores,
)
from trust_survey.review_cycle.trends import key_figures, series_with_breaks

MAPPING = Path(__file__).resolve().parent.parent / "instruments" / "mappings" / "individual_review.platform.v1.yaml"
REPORT = {"trainee": (12, 4.03), "current": (4, 4.24), "former": (5, 4.14)}
GROUP_CODES = {"trainee": 1, "current": 2, "former": 3}


@pytest.fixture
def inst():
    return load_registry().get("individual_review", 1)


def simulate_equity(inst, seed: int = 20240607, person_sd: float = 0.4, item_sd: float = 0.5) -> pd.DataFrame:
    """Item-level answers for the report's three groups whose keyed scale means hit the published ones.

    Each respondent has a level drawn around the group mean and answers each item around that level
    (so the items hang together, as a real scale's do); answers are then nudged one step at a time
    (within 1-5) until the group's total matches the target. Reverse-keyed items are written as a
    respondent would have ticked them (6 - keyed).
    """
    rng = np.random.default_rng(seed)
    scale = next(s for s in inst.scales if s.id == "equity_sensitivity")
    reverse = [inst.item(i).reverse for i in scale.items]
    rows = []
    for group, (n, target) in REPORT.items():
        level = rng.normal(target, person_sd, size=(n, 1))
        keyed = np.clip(np.rint(level + rng.normal(0, item_sd, size=(n, len(scale.items)))), 1, 5)
        want = round(target * n * len(scale.items))
        while keyed.sum() != want:
            step = 1 if keyed.sum() < want else -1
            r, c = rng.integers(n), rng.integers(len(scale.items))
            if 1 <= keyed[r, c] + step <= 5:
                keyed[r, c] += step
        for i, answers in enumerate(keyed):
            raw = {item: int(6 - a if rev else a) for item, a, rev in zip(scale.items, answers, reverse)}
            rows.append({"respondent_id": f"R{group[:2].upper()}{i:02d}", "group": GROUP_CODES[group],
                         "stream": int(rng.integers(1, 4)), **raw})
    return pd.DataFrame(rows)


# ---- scoring --------------------------------------------------------------------------------------

def test_reverse_key__swaps_ends_and_keeps_the_middle():
    assert list(reverse_key(pd.Series([1, 2, 3, 4, 5]))) == [5, 4, 3, 2, 1]
    assert list(reverse_key([1, 3, 5])) == [5, 3, 1]
    assert reverse_key(2) == 4
    assert reverse_key(0, lo=0, hi=10) == 10
    assert math.isnan(reverse_key(pd.Series([np.nan]))[0])


def test_scale_scores__reverse_keyed_items_are_flipped_before_averaging(inst):
    row = {"eq_give_more": 5, "eq_get_more": 1, "eq_hard_work": 5, "eq_owed": 1, "eq_contribute": 5}
    assert scale_items(pd.DataFrame([row]), inst, "equity_sensitivity").loc[0].tolist() == [5.0] * 5
    scores = scale_scores(pd.DataFrame([row]), inst, ["equity_sensitivity"])
    assert list(scores.columns) == ["equity_sensitivity"] and scores.loc[0, "equity_sensitivity"] == 5.0


def test_scale_scores__min_answered_is_honoured_and_missing_codes_do_not_count(inst):
    # equity_sensitivity needs 4 of its 5 items; -9 is the instrument's "not answered" code.
    four = {"eq_give_more": 4, "eq_get_more": 2, "eq_hard_work": 4, "eq_owed": 2}
    three = {"eq_give_more": 4, "eq_get_more": 2, "eq_hard_work": 4, "eq_owed": -9}
    out_of_range = {"eq_give_more": 4, "eq_get_more": 2, "eq_hard_work": 4, "eq_owed": 7}
    scores = scale_scores(pd.DataFrame([four, three, out_of_range]), inst)
    assert list(scores.columns) == ["retention", "utilisation", "equity_sensitivity"]
    assert scores.loc[0, "equity_sensitivity"] == 4.0
    assert math.isnan(scores.loc[1, "equity_sensitivity"])
    assert math.isnan(scores.loc[2, "equity_sensitivity"])
    assert scores["retention"].isna().all()  # its items are absent: not answered, not an error


def test_scale_scores__unknown_scale_is_named_with_a_suggestion(inst):
    with pytest.raises(NotFoundError, match=r"no scale 'equity_sensitvity'; did you mean 'equity_sensitivity'\? "
                                            r"\(known: retention, utilisation, equity_sensitivity\)"):
        scale_scores(pd.DataFrame([{}]), inst, ["equity_sensitvity"])


def test_cronbach_alpha__matches_the_textbook_formula_on_a_small_table():
    items = pd.DataFrame({"a": [2, 3, 3, 4], "b": [3, 4, 3, 5], "c": [2, 4, 3, 5]})
    # Sums of squares about the item means: a 2, b 2.75, c 5; row totals 7, 11, 9, 14 give 26.75.
    # With n - 1 = 3 in every variance, alpha = k/(k-1) * (1 - sum item SS / total SS).
    expected = 3 / 2 * (1 - (2 + 2.75 + 5) / 26.75)
    result = cronbach_alpha(items)
    assert result.alpha == pytest.approx(expected)
    assert (result.n_items, result.n_complete) == (3, 4)
    assert "unstable" in result.note


def test_cronbach_alpha__degenerate_tables_give_nan_with_a_reason_not_a_crash():
    constant = cronbach_alpha(pd.DataFrame({"a": [3, 3, 3], "b": [3, 3, 3]}))
    assert math.isnan(constant.alpha) and "same for all 3" in constant.note
    one_row = cronbach_alpha(pd.DataFrame({"a": [1, np.nan, 2], "b": [2, 3, np.nan]}))
    assert math.isnan(one_row.alpha) and one_row.n_complete == 1
    assert "at least 2 complete responses" in one_row.note and "2 of 3 responses left out" in one_row.note
    single = cronbach_alpha(pd.DataFrame({"a": [1, 2, 3]}))
    assert math.isnan(single.alpha) and "at least 2 items" in single.note
    assert json.dumps(constant.to_dict())  # NaN becomes null


def test_cronbach_alpha__negative_alpha_points_at_reverse_keying():
    result = cronbach_alpha(pd.DataFrame({"a": [1, 2, 3, 4, 5, 1, 2, 3, 4, 5], "b": [5, 3, 4, 1, 2, 4, 5, 2, 3, 1]}))
    assert result.alpha < 0 and "check reverse keying" in result.note


# ---- the report's shape ---------------------------------------------------------------------------

@pytest.fixture
def equity(inst) -> pd.DataFrame:
    responses = simulate_equity(inst)
    scored = scale_scores(responses, inst)
    return pd.DataFrame({"group": choice_keys(responses["group"], inst, "group"),
                         "equity_sensitivity": scored["equity_sensitivity"]})


def test_simulated_report_shape__group_means_come_back_near_the_published_ones(equity):
    result = compare_groups(equity, "equity_sensitivity", "group")
    table = result.to_frame().set_index("group")
    assert list(table.index) == ["trainee", "current", "former", "All"]  # the instrument's order
    for group, (n, target) in REPORT.items():
        assert table.loc[group, "n"] == n
        assert table.loc[group, "mean"] == pytest.approx(target, abs=0.15)
    assert table.loc["All", "n"] == 21
    assert table.loc["All", "mean"] == pytest.approx(4.10, abs=0.15)
    assert (table["ci_low"] < table["mean"]).all() and (table["mean"] < table["ci_high"]).all()


def test_simulated_report_shape__anova_finds_no_significant_difference(equity):
    result = compare_groups(equity, "equity_sensitivity", "group")
    test = result.test
    assert test.test == "anova" and test.groups == ("trainee", "current", "former")
    assert (test.df1, test.df2) == (2, 18)
    assert test.p_value > 0.05 and not test.significant
    samples = [equity.loc[equity["group"] == g, "equity_sensitivity"] for g in REPORT]
    assert test.statistic == pytest.approx(stats.f_oneway(*samples).statistic)
    assert 0 <= test.eta_squared < 1 and test.omega_squared < test.eta_squared
    assert len(result.pairwise) == 3 and not any(p.significant for p in result.pairwise)
    assert all(p.p_holm >= p.p_value for p in result.pairwise)
    assert "no significant difference at the 5% level" in result.summary()
    assert json.dumps(result.to_dict())


def test_simulated_report_shape__small_group_warning_names_current(equity):
    result = compare_groups(equity, "equity_sensitivity", "group", min_n=5)
    assert result.warnings == [
        "current: n=4 is below 5; the comparison cannot say anything reliable about it"]
    assert result.to_frame().set_index("group").loc["current", "below_min_n"]


def test_welch_t_test__matches_scipy_on_the_same_data(equity):
    two = equity[equity["group"].isin(["trainee", "former"])]
    result = compare_groups(two, "equity_sensitivity", "group")
    a = two.loc[two["group"] == "trainee", "equity_sensitivity"]
    b = two.loc[two["group"] == "former", "equity_sensitivity"]
    expected = stats.ttest_ind(a, b, equal_var=False)
    assert result.test.test == "welch_t"
    assert result.test.statistic == pytest.approx(expected.statistic)
    assert result.test.p_value == pytest.approx(expected.pvalue)
    assert result.test.df1 == pytest.approx(expected.df)
    assert result.test.mean_difference == pytest.approx(a.mean() - b.mean())
    assert result.test.hedges_g == pytest.approx(hedges_g(a, b))
    assert result.pairwise == []


def test_hedges_g__is_cohens_d_with_the_small_sample_correction():
    a, b = np.array([1.0, 2, 3, 4]), np.array([2.0, 3, 4, 5, 6])
    pooled = math.sqrt((3 * a.var(ddof=1) + 4 * b.var(ddof=1)) / 7)
    d = (a.mean() - b.mean()) / pooled
    assert hedges_g(a, b) == pytest.approx(d * (1 - 3 / (4 * 7 - 1)), rel=2e-3)


def test_holm_adjust__steps_down_and_stays_monotone():
    assert holm_adjust([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert holm_adjust([0.5, float("nan")])[0] == 0.5


def test_compare_groups__small_and_degenerate_data_never_raise():
    empty = compare_groups(pd.DataFrame({"v": [], "g": []}), "v", "g")
    assert empty.test is None and "no rows" in empty.no_test_reason
    one_group = compare_groups(pd.DataFrame({"v": [1, 2, 3], "g": ["a"] * 3}), "v", "g")
    assert one_group.test is None and "at least two groups" in one_group.no_test_reason
    lonely = compare_groups(pd.DataFrame({"v": [1, 2, 3, 4], "g": ["a", "a", "a", "b"]}), "v", "g", min_n=2)
    assert lonely.test is None
    assert lonely.warnings == ["b: n=1 is below 2; the comparison cannot say anything reliable about it, and it is "
                               "left out of the tests, which need at least 2 responses per group"]
    flat = compare_groups(pd.DataFrame({"v": [3.0] * 6, "g": list("aabbcc")}), "v", "g")
    assert flat.test is None and "nothing to compare" in flat.no_test_reason
    split = compare_groups(pd.DataFrame({"v": [1, 1, 2, 2, 3, 3], "g": list("aabbcc")}), "v", "g")
    assert split.test.test == "anova" and any("no variation within" in w for w in split.warnings)
    gaps = compare_groups(pd.DataFrame({"v": [1, None, 2, 3, 4], "g": ["a", "a", None, "b", "b"]}), "v", "g")
    assert gaps.notes == ["2 of 5 rows have no v or no g and are left out"]
    for result in (empty, one_group, lonely, flat, split, gaps):
        assert json.dumps(result.to_dict())


def test_compare_groups__unknown_column_is_named_with_a_suggestion(equity):
    with pytest.raises(NotFoundError, match="no column 'grop' to compare; did you mean 'group'"):
        compare_groups(equity, "equity_sensitivity", "grop")


def test_scale_alphas__one_per_scale_on_reverse_keyed_items(inst):
    alphas = scale_alphas(simulate_equity(inst), inst)
    assert set(alphas) == {"retention", "utilisation", "equity_sensitivity"}
    equity_alpha = alphas["equity_sensitivity"]
    # Items simulated around one level per person hang together only once reverse keying is undone.
    assert equity_alpha.n_complete == 21 and equity_alpha.alpha > 0.5 and equity_alpha.note == ""
    unkeyed = simulate_equity(inst)[["eq_give_more", "eq_get_more", "eq_hard_work", "eq_owed", "eq_contribute"]]
    assert cronbach_alpha(unkeyed).alpha < 0
    assert math.isnan(alphas["retention"].alpha)  # nobody answered it


# ---- trends -------------------------------------------------------------------------------------------

def test_series_with_breaks__crosswalk_continues_renames_and_breaks_changed_items():
    values = pd.DataFrame([
        {"round": r, "instrument_version": 1 if r < 2024 else 2, "item_id": item, "mean": 3.0}
        for r in (2022, 2023, 2024, 2025)
        for item in (["ret_plans", "use_skills", "eq_owed", "use_routine"] if r < 2024
                     else ["ret_stay", "use_skills_v2", "eq_owed", "use_routine"])
    ])
    crosswalk = {2: [
        Crosswalk(item="ret_stay", previous_item="ret_plans", continues=True, note="renamed, same wording"),
        Crosswalk(item="use_skills_v2", previous_item="use_skills", continues=False, note="new wording"),
        Crosswalk(item="eq_owed", previous_item="eq_owed", continues=False, note="now a 7-point scale"),
    ]}
    out = series_with_breaks(values, crosswalk)
    series = out.groupby("series_id")["item_id"].unique().map(sorted).to_dict()
    assert series == {"ret_plans": ["ret_plans", "ret_stay"], "use_skills": ["use_skills"],
                      "use_skills_v2": ["use_skills_v2"], "eq_owed": ["eq_owed"], "eq_owed@v2": ["eq_owed"],
                      "use_routine": ["use_routine"]}
    breaks = out[out["break_before"]]
    assert sorted(zip(breaks["round"], breaks["series_id"])) == [(2024, "eq_owed@v2"), (2024, "use_skills_v2")]
    assert out.set_index(["round", "series_id"]).loc[(2024, "use_skills_v2"), "replaces"] == "use_skills"
    # Drawn as one line per series, the changed questions leave a gap instead of joining.
    chart = out.pivot(index="round", columns="series_id", values="mean")
    assert chart["use_skills"].isna().tolist() == [False, False, True, True]
    assert chart["use_skills_v2"].isna().tolist() == [True, True, False, False]


def test_series_with_breaks__round_versions_and_instrument_versions_are_accepted(inst):
    v2 = inst.model_copy(update={"version": 2, "crosswalk": [
        Crosswalk(item="eq_owed", previous_item="eq_owed", continues=False, note="reworded")]})
    v3 = inst.model_copy(update={"version": 3, "crosswalk": []})
    values = pd.DataFrame({"round": [1, 2, 3, 4], "item_id": ["eq_owed"] * 4, "value": [1, 2, 3, 4]})
    out = series_with_breaks(values, [inst, v2, v3], round_versions={1: 1, 2: 1, 3: 2, 4: 3})
    assert out["series_id"].tolist() == ["eq_owed", "eq_owed", "eq_owed@v2", "eq_owed@v2"]
    assert out["break_before"].tolist() == [False, False, True, False]
    with pytest.raises(TrustSurveyError, match=r"no instrument version known for round\(s\) 4") as err:
        series_with_breaks(values, [inst, v2], round_versions={1: 1, 2: 1, 3: 2})
    assert err.value.code == "TR003"


# ---- key figures ------------------------------------------------------------------------------------

def _answers(rows):
    return pd.DataFrame([{"round": 2025, "org_code": org, "region_code": region, "field_id": f, "value_num": v}
                         for org, region, figures in rows for f, v in figures.items()])


def test_key_figures__no_return_is_kept_apart_from_zero():
    distribution = pd.DataFrame({"round": 2025, "org_code": ["RAA", "RBB", "RCC", "RAA"],
                                 "region_code": ["Y56", "Y56", "Y58", "Y56"]})  # RAA was sent two files
    answers = _answers([
        ("RAA", "Y56", {"kf_in_post": 3, "kf_trainees_gen": 2, "kf_left_nhs": 1, "kf_dest_industry": 1}),
        ("RBB", "Y56", {"kf_in_post": 0, "kf_trainees_gen": 0, "kf_left_nhs": None}),
        ("RZZ", "Y60", {"kf_in_post": 5}),  # returned without being in the distribution
    ])
    region = key_figures(answers, distribution, by="region").set_index("region_code")
    assert region.loc["Y56", ["returned", "not_returned"]].tolist() == [2, 0]
    assert region.loc["Y56", "kf_in_post"] == 3 and region.loc["Y56", "kf_trainees_gen"] == 2
    assert region.loc["Y58", ["returned", "not_returned"]].tolist() == [0, 1]
    assert math.isnan(region.loc["Y58", "kf_in_post"])  # nobody returned: unknown, not zero
    assert region.loc["Y60", "kf_in_post"] == 5

    trust = key_figures(answers, distribution, by="trust").set_index("org_code")
    assert trust.loc["RBB", "kf_in_post"] == 0 and trust.loc["RBB", "returned"] == 1
    assert math.isnan(trust.loc["RCC", "kf_in_post"]) and trust.loc["RCC", "not_returned"] == 1
    assert trust.loc["RCC", "region_code"] == "Y58"
    assert math.isnan(trust.loc["RBB", "kf_left_nhs"])  # returned but left blank

    nation = key_figures(answers, distribution, by="national").iloc[0]
    assert (nation["returned"], nation["not_returned"], nation["kf_in_post"]) == (3, 1, 8)
    assert {"kf_trainees_hi", "kf_trainees_ps", "kf_left_programme", "kf_dest_unknown"} <= set(nation.index)


# ---- survey-platform CSV ---------------------------------------------------------------------------

def _platform_rows(mapping, rename=None):
    rename = rename or {}
    likert = {c: "Agree" for c, f in mapping.columns.items() if f.startswith(("ret_", "use_", "eq_"))}
    base = {"Response ID": "R_1a2b", "Start Date": "2025-05-01 09:00", "IP Address": "192.0.2.10",
            "Recipient First Name": "Alex", "Recipient Email": "alex.smith@nhs.net.example",
            "Custom Data 1": "IR25-0001", "Q1 - Which describes you best?": "Current STP trainee",
            "Q2 - Your clinical bioinformatics stream": "Genomics",
            "Q3 - ODS code of your trust (your last NHS trust if you have left)": "RGT",
            "Q4 - Year of training": "Year 2", "Q5 - Years worked in the NHS": "2", **likert,
            "Q9 - What would make you more likely to stay in the NHS?": "An earlier job offer",
            "Q10 - Anything else you would like the advisory group to know": "",
            "Contact email (optional)": "alex@example.org"}
    second = {**base, "Response ID": "R_3c4d", "Recipient Email": "sam.jones@nhs.net.example",
              "Custom Data 1": "IR25-0002", "Q1 - Which describes you best?": "Former NHS clinical bioinformatician "
              "or STP trainee", "Q4 - Year of training": "I am not a trainee", "Q5 - Years worked in the NHS": "7",
              "Q8_4 - I expect my employer to repay every extra effort I make.": "Prefer not to say",
              "Q8_1 - I am content to give my employer more than I get back.": "Neutral",
              "Q8_2 - It matters to me to get more from my job than I put into it.": "Agree strongly",
              "Q9 - What would make you more likely to stay in the NHS?": "Ask me: sam.jones@nhs.net.example",
              "Contact email (optional)": ""}
    return [{rename.get(k, k): v for k, v in row.items()} for row in (base, second)]


def test_platform_csv__labels_become_codes_and_personal_data_never_survives(tmp_path, inst):
    mapping = load_mapping(MAPPING, inst)
    path = tmp_path / "export.csv"
    export = pd.DataFrame(_platform_rows(mapping))
    export.to_csv(path, index=False, encoding="utf-8-sig")
    with path.open("a", encoding="utf-8") as fh:
        fh.write("," * (len(export.columns) - 1) + "\n")  # the blank row a spreadsheet re-save leaves
    frame, issues = read_platform_csv(path, MAPPING, inst)

    assert not frame.astype(str).apply(lambda col: col.str.contains("@")).any().any()
    assert not {"Recipient Email", "IP Address", "Recipient First Name"} & set(frame.columns)
    assert "Alex" not in frame.astype(str).to_numpy()
    assert list(frame.index) == [2, 3] and frame.index.name == "row"
    first, second = frame.loc[2], frame.loc[3]
    assert (first["group"], first["stream"], first["training_year"], first["years_nhs"]) == (1, 1, 2, 2)
    assert (second["group"], second["training_year"], second["eq_give_more"], second["eq_owed"]) == (3, 9, 3, -9)
    assert first["ret_plans"] == 4 and first["comment_keep"] == "An earlier job offer"
    assert pd.isna(frame.loc[2, "comment_other"])  # an empty answer is blank, not ""

    by_code = issues_frame(issues).groupby("code")
    unknown = by_code.get_group("P001")
    assert unknown["column"].tolist() == ["Contact email (optional)"]
    assert by_code.get_group("P006")["column"].tolist() == [
        "Contact email (optional)", "Q9 - What would make you more likely to stay in the NHS?"]
    assert second["comment_keep"] == "Ask me: [email removed]"
    bad = by_code.get_group("P003").iloc[0]
    assert (bad["row"], bad["value"], bad["severity"]) == (3, "Agree strongly", "error")
    assert "did you mean 'Strongly agree'?" in bad["message"]
    assert not issues_frame(issues)["value"].fillna("").str.contains("@").any()

    scores = scale_scores(frame, inst)
    assert math.isnan(scores.loc[3, "equity_sensitivity"])  # -9 and an unreadable label leave 3 of 5 answered
    assert scores.loc[2, "retention"] == pytest.approx((4 + 4 + 4 + 2 + 4) / 5)


def test_platform_csv__a_renamed_column_is_reported_with_a_suggestion(inst):
    mapping = load_mapping(MAPPING, inst)
    rows = _platform_rows(mapping, rename={"Q5 - Years worked in the NHS": "Q5 - Years worked in NHS"})
    raw = pd.DataFrame(rows, index=[2, 3]).astype(str)
    frame, issues = apply_mapping(raw, mapping, inst, source="export.csv")
    p001 = [i for i in issues if i.code == "P001" and i.column == "Q5 - Years worked in NHS"]
    assert len(p001) == 1 and "did you mean 'Q5 - Years worked in the NHS'?" in p001[0].message
    p002 = [i for i in issues if i.code == "P002"]
    assert [i.column for i in p002] == ["Q5 - Years worked in the NHS"]
    assert frame["years_nhs"].isna().all()


def test_platform_mapping__fields_missing_from_the_instrument_are_definition_errors(tmp_path, inst):
    path = tmp_path / "bad.yaml"
    path.write_text("instrument: individual_review\nversion: 1\ncolumns:\n  'Q1 - Group': grup\n"
                    "  'Q2': ret_plans\nvalues:\n  ret_plans: {Agree: 6}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_mapping(path, inst)
    assert err.value.details == [
        f"{path}: columns.Q1 - Group: 'grup' is not a field of individual_review.v1; did you mean 'group'?",
        f"{path}: values.ret_plans: 'Agree' maps to 6, which is not a code of 'ret_plans' (codes: -9, 1, 2, 3, 4, 5)",
    ]


def test_platform_mapping__unknown_keys_are_rejected_with_their_path(tmp_path):
    path = tmp_path / "typo.yaml"
    path.write_text("instrument: individual_review\nversion: 1\ncolumn:\n  Q1: group\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_mapping(path)
    assert f"{path}: column: unknown key; did you mean 'columns'?" in err.value.details
    assert f"{path}: columns: required key is missing" in err.value.details
    path.write_text("instrument: individual_review\nversion: 1\ncolumns: {Q1: group}\n"
                    "values:\n  group: {Yes: 1}\n", encoding="utf-8")
    with pytest.raises(DefinitionError) as err:
        load_mapping(path)
    assert "put it in quotes" in err.value.details[0] and "values.group.True" in err.value.details[0]
