"""The learned title model: deterministic training, calibration on held-out titles, how it combines with the
taxonomy's rules, and what the CLI records."""
from __future__ import annotations

import csv
import hashlib
import re
from pathlib import Path

import pandas as pd
import pytest

from trust_survey.matching.matcher import Matcher
from trust_survey.matching.model import TARGET_PRECISION, load_model, save_model, train, training_rows
from trust_survey.matching.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "tests" / "data"
# A job the taxonomy has no words for, learned only from the corpus.
WRANGLER = ["Pipeline Wrangler", "Pipeline Wrangler (NGS)", "Variant Pipeline Wrangler", "Pipeline Wrangler - Cancer",
            "Rare Disease Pipeline Wrangler", "Pipeline Wrangler, Germline", "Lead Pipeline Wrangler WGS",
            "Pipeline Wrangler Somatic", "Pipeline Wrangler - Exome", "Pipeline Wrangler (Panels)"]


def write_corpus(path: Path, extra: list[tuple[str, str, str]] = ()) -> Path:
    dev = pd.read_csv(DATA / "titles_dev.csv", dtype=str, keep_default_na=False)
    rows = [(r.title, r.department, r.stream, "", "tests/data/titles_dev.csv", "train") for r in dev.itertuples()]
    rows += [(t, "", "genomics", "direct", "made up for this test", "train") for t in WRANGLER]
    rows += [(t, d, s, "", "made up", "train") for t, d, s in extra]
    rows.append(("Pipeline Wrangler Trainee", "", "none", "none", "held out", "holdout"))
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["title", "department", "stream", "relation", "source", "split"])
        w.writerows(rows)
    return path


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy(REPO / "role_taxonomy.yaml")


@pytest.fixture(scope="module")
def trained(tax, tmp_path_factory):
    corpus = write_corpus(tmp_path_factory.mktemp("corpus") / "corpus.csv")
    model = train(training_rows(tax, corpus=corpus), taxonomy_sha256=tax.sha256)
    return save_model(model, tmp_path_factory.mktemp("model") / "model.pkl")


def test_training_rows__held_out_rows_are_never_trained_on(tax, tmp_path):
    rows = training_rows(tax, corpus=write_corpus(tmp_path / "c.csv"))
    assert "pipeline wrangler" in set(rows["title"])
    assert "pipeline wrangler trainee" not in set(rows["title"])
    assert {"taxonomy", "corpus"} <= set(rows["source"])


def test_train__twice_from_the_cli__gives_byte_identical_models_and_the_same_hash(run, tmp_path):
    corpus = write_corpus(tmp_path / "corpus.csv")
    outs = []
    for name in ("a.pkl", "b.pkl"):
        result = run("match", "train", "--corpus", corpus, "--out", tmp_path / name)
        outs.append(re.search(r"training-set sha256 ([0-9a-f]{64})", result.stdout).group(1))
        assert "cross-validated on" in result.stdout and "auto precision" in result.stdout
    assert outs[0] == outs[1]
    digest = [hashlib.sha256((tmp_path / n).read_bytes()).hexdigest() for n in ("a.pkl", "b.pkl")]
    assert digest[0] == digest[1]
    assert load_model(tmp_path / "a.pkl").training_sha256 == outs[0]
    run("match", "train", "--corpus", corpus, "--out", tmp_path / "a.pkl", expect=1)   # exists: needs --force


def test_train__corpus_with_unknown_stream_or_contradicting_relation__is_a_clear_error(run, tmp_path):
    bad = tmp_path / "bad.csv"
    bad.write_text("title,department,stream,relation,source,split\n"
                   "Bioinformatician,,genomic,direct,x,train\n"
                   "Staff Nurse,,none,direct,x,train\n", encoding="utf-8")
    result = run("match", "train", "--corpus", bad, "--out", tmp_path / "m.pkl", expect=1)
    assert "MODEL002" in result.stderr and "2 labelled row(s)" in result.stderr
    assert not (tmp_path / "m.pkl").exists()


def test_model__decides_titles_the_taxonomy_has_no_words_for__and_says_so(tax, trained):
    model = load_model(trained)
    out = Matcher(tax, None, model).code(["Pipeline Wrangler", "Bioinformatician"])
    assert out.loc[0, "stream"] == "genomics" and out.loc[0, "decision"] == "auto"
    assert out.loc[0, "method"] == f"model:{model.version}" and out.loc[0, "model_version"] == model.version
    assert re.fullmatch(r"(\w+ \d\.\d\d)(; \w+ \d\.\d\d)*", out.loc[0, "alternatives"])
    assert out.loc[1, "method"] == "exact"   # an explicit rule still wins
    rules = Matcher(tax).code(["Pipeline Wrangler"])
    assert rules.loc[0, "stream"] == "none" and rules.loc[0, "model_version"] == ""


def test_model__never_overrides_an_exclusion_or_a_department_veto(tax, trained):
    model = load_model(trained)
    out = Matcher(tax, None, model).code(["Pipeline Wrangler", "Pipeline Wrangler Nurse", "Pipeline Wrangler",
                                          "Pipeline Wrangler"], ["", "", "IT Services", "Molecular Genetics"])
    assert list(out["stream"][[0, 3]]) == ["genomics", "genomics"]
    assert out.loc[1, "stream"] != "genomics"     # "nurse" is an exclusion term of genomics
    assert out.loc[2, "stream"] != "genomics"     # IT departments veto genomics
    for i in (1, 2):
        assert "genomics 0." not in out.loc[i, "alternatives"] and "(genomics)" not in out.loc[i, "alternatives"]


def test_model__generic_title__none_without_a_department_review_with_one(tax, trained):
    out = Matcher(tax, None, load_model(trained)).code(["Clinical Scientist", "Clinical Scientist",
                                                        "Healthcare Scientist Specialist",
                                                        "Healthcare Scientist Specialist"],
                                                       ["", "Research and Development"] * 2)
    assert list(out["decision"]) == ["none", "review", "none", "review"]
    assert out.loc[0, "stream"] == "none" and out.loc[2, "stream"] == "none"


def test_calibration__automatic_decisions_stay_right_on_held_out_titles(run, trained, tmp_path):
    frames = [pd.read_csv(DATA / f"{n}.csv", dtype=str, keep_default_na=False)
              for n in ("titles_fresh", "titles_fresh2", "titles_holdout")]
    held = pd.concat(frames, ignore_index=True).fillna("")
    held[["title", "department", "stream"]].to_csv(tmp_path / "held.csv", index=False)
    result = run("match", "evaluate", tmp_path / "held.csv", "--column", "title", "--label", "stream",
                 "--context-column", "department", "--model", trained, "--out", tmp_path / "coded.csv")
    assert "title model 1." in result.stdout
    coded = pd.read_csv(tmp_path / "coded.csv", dtype=str, keep_default_na=False)
    auto = coded[coded["coded_decision"].isin(["auto", "none"])]
    precision = (auto["coded_stream"] == auto["stream"]).mean()
    assert precision >= TARGET_PRECISION, precision
    assert coded["coded_method"].str.startswith("model:").any()


def test_model__codes_a_stream_alone_where_the_rules_found_nothing_only_when_sure(tax, trained):
    from trust_survey.matching.decision import OVERRULE

    model = load_model(trained)
    titles = pd.concat([pd.read_csv(DATA / f"{n}.csv", dtype=str, keep_default_na=False)
                        for n in ("titles_fresh", "titles_fresh2", "titles_holdout", "titles_blind")])["title"].tolist()
    titles += ["Medical Student", "Student Nurse", "Pipeline Wrangler"]
    rules = Matcher(tax).code(titles)
    both = Matcher(tax, None, model).code(titles)
    raised = both[(rules["decision"] == "none") & (both["decision"] == "auto") & (both["stream"] != "none")]
    assert (raised["score"] >= round(100 * OVERRULE)).all(), raised[["stream", "score"]]
    assert "Pipeline Wrangler" in set(pd.Series(titles)[raised.index])   # a sure model still decides alone


def test_match_titles__records_the_model_and_no_model_codes_with_rules_alone(run, trained, tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("title\nPipeline Wrangler\nBioinformatician\n", encoding="utf-8")
    run("match", "titles", src, "--column", "title", "--out", tmp_path / "a.csv", "--model", trained)
    run("match", "titles", src, "--column", "title", "--out", tmp_path / "b.csv", "--no-model")
    a = pd.read_csv(tmp_path / "a.csv", dtype=str, keep_default_na=False)
    b = pd.read_csv(tmp_path / "b.csv", dtype=str, keep_default_na=False)
    assert a.loc[0, "stream"] == "genomics" and a.loc[0, "method"].startswith("model:")
    assert b.loc[0, "stream"] == "none" and set(b["model_version"]) == {""}
    result = run("match", "titles", src, "--column", "title", "--out", tmp_path / "c.csv", "--model",
                 tmp_path / "missing.pkl", expect=1)
    assert "match train" in result.stderr


def test_review_import__a_reviewed_decision_changes_the_next_run_and_is_learned(run, tmp_path, monkeypatch):
    from openpyxl import load_workbook

    from trust_survey.matching.review import COL, REVIEW_SHEET

    monkeypatch.setenv("TRUST_SURVEY_CACHE", str(tmp_path / "cache"))
    overrides = tmp_path / "role_overrides.yaml"
    src = tmp_path / "t.csv"
    src.write_text("title,department\nClinical Scientist,Research and Development\n", encoding="utf-8")
    opts = ["--column", "title", "--context-column", "department", "--overrides", overrides]
    run("match", "titles", src, "--out", tmp_path / "before.csv", "--review-out", tmp_path / "review.xlsx", *opts)
    before = pd.read_csv(tmp_path / "before.csv", dtype=str, keep_default_na=False)
    assert before.loc[0, "decision"] == "review", before.loc[0].to_dict()
    wb = load_workbook(tmp_path / "review.xlsx")
    ws = wb[REVIEW_SHEET]
    row = next(r for r in range(2, ws.max_row + 1) if ws.cell(row=r, column=COL["alias"]).value)
    target = "physical_sciences" if before.loc[0, "stream"] != "physical_sciences" else "health_informatics"
    ws.cell(row=row, column=COL["action"], value="change stream")
    ws.cell(row=row, column=COL["stream"], value=target)
    wb.save(tmp_path / "filled.xlsx")
    monkeypatch.setattr("trust_survey.matching.model.RETRAIN_AFTER", 1)
    imported = run("match", "review-import", tmp_path / "filled.xlsx", "--overrides", overrides, "--reviewer", "kim")
    assert "1 reviewed decision(s) are not yet learned by the title model" in imported.stderr
    run("match", "titles", src, "--out", tmp_path / "after.csv", *opts)
    after = pd.read_csv(tmp_path / "after.csv", dtype=str, keep_default_na=False)
    assert (after.loc[0, "stream"], after.loc[0, "decision"]) == (target, "auto")
    # the shipped model learns reviewed aliases: its training set, so its version, changed
    assert after.loc[0, "model_version"] != before.loc[0, "model_version"]


def test_calibrate_confirm__keeps_precision_on_agreeing_titles_and_never_exceeds_auto():
    import numpy as np

    from trust_survey.matching.model import MIN_CONFIRM, calibrate_confirm
    from trust_survey.matching.taxonomy import ALL_STREAMS

    gi = ALL_STREAMS.index("genomics")
    p = np.round(np.linspace(0.55, 0.99, 45), 2)
    proba = np.zeros((len(p), len(ALL_STREAMS)))
    proba[:, gi] = p
    proba[:, ALL_STREAMS.index("none")] = 1 - p
    # the model agrees with the rules' suggestion on every title; below 0.70 it is wrong
    labels = np.where(p >= 0.70, "genomics", "none")
    decisions = np.array(["review"] * len(p), dtype=object)
    suggested = np.array(["genomics"] * len(p), dtype=object)
    confirm = calibrate_confirm(proba, labels, decisions, suggested, fallback=0.95)
    assert 0.70 <= confirm < 0.95
    chosen = p >= confirm
    assert (labels[chosen] == "genomics").mean() >= TARGET_PRECISION
    assert calibrate_confirm(proba, labels, decisions, suggested, fallback=0.6) == 0.6   # never above auto
    few = np.arange(len(p)) < MIN_CONFIRM - 1
    assert calibrate_confirm(proba[few], labels[few], decisions[few], suggested[few], fallback=0.95) == 0.95


def test_calibration__a_model_trained_by_the_cli_keeps_automatic_precision_on_held_out_titles(run, tmp_path):
    # `match train` calibrates auto, none and confirm on cross-validated predictions of the training titles;
    # the titles here were never trained on
    corpus = write_corpus(tmp_path / "corpus.csv")
    result = run("match", "train", "--corpus", corpus, "--out", tmp_path / "m.pkl")
    assert "agreeing with the rules' suggestion from" in result.stdout
    model = load_model(tmp_path / "m.pkl")
    assert model.thresholds["confirm"] <= model.thresholds["auto"]
    held = pd.concat([pd.read_csv(DATA / f"{n}.csv", dtype=str, keep_default_na=False)
                      for n in ("titles_fresh", "titles_fresh2", "titles_holdout", "titles_blind")], ignore_index=True)
    held[["title", "stream"]].to_csv(tmp_path / "held.csv", index=False)
    run("match", "evaluate", tmp_path / "held.csv", "--column", "title", "--label", "stream",
        "--model", tmp_path / "m.pkl", "--out", tmp_path / "coded.csv")
    coded = pd.read_csv(tmp_path / "coded.csv", dtype=str, keep_default_na=False)
    auto = coded[coded["coded_decision"].isin(["auto", "none"])]
    assert (auto["coded_stream"] == auto["stream"]).mean() >= TARGET_PRECISION
    # the model decided some titles, and where the rules were unsure it went against them only via review
    assert coded["coded_method"].str.startswith("model:").any()
    rules = Matcher(load_taxonomy(REPO / "role_taxonomy.yaml")).code(held["title"], diagnostics=True)
    unsure = (rules["decision"] == "review").to_numpy()
    changed = unsure & (coded["coded_decision"] == "auto").to_numpy()
    assert (coded["coded_stream"].to_numpy()[changed] == rules["_stream"].to_numpy()[changed]).all()


def test_model__generic_title_that_only_looks_specific__is_not_guessed(tax, trained):
    # "Informatics Officer" names no specialism: without a department no stream is coded automatically
    out = Matcher(tax, None, load_model(trained)).code(
        ["Informatics Officer, Healthcare Evaluation Data, University Hospitals Birmingham NHS Trust",
         "Healthcare Scientist Specialist"])
    assert not ((out["decision"] == "auto") & (out["stream"] != "none")).any(), out[["stream", "decision"]]


def test_calibrate_rescue__a_title_the_rules_found_nothing_in_goes_to_review_only_when_mostly_right():
    import numpy as np

    from trust_survey.matching.model import calibrate_rescue
    from trust_survey.matching.taxonomy import ALL_STREAMS

    p = np.round(np.linspace(0.5, 0.9, 41), 2)
    proba = np.zeros((len(p), len(ALL_STREAMS)))
    proba[:, ALL_STREAMS.index("physical_sciences")] = p
    proba[:, ALL_STREAMS.index("none")] = 1 - p
    decisions = np.array(["none"] * len(p), dtype=object)
    # below 0.8 the model's stream is wrong on these titles, from 0.8 right
    labels = np.where(p >= 0.8, "physical_sciences", "none")
    rescue = calibrate_rescue(proba, labels, decisions, fallback=0.95)
    chosen = p >= rescue
    assert 0.5 < rescue < 0.95 and (labels[chosen] == "physical_sciences").mean() >= 0.5
    assert calibrate_rescue(proba, np.full(len(p), "none"), decisions, fallback=0.95) == 0.95   # never right
