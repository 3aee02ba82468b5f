"""The matcher's vectorised decisions are the per-title ones: same coding for every title of the repository's
labelled sets, with and without departments, with and without the title model and reviewed aliases."""
from __future__ import annotations

import csv
from pathlib import Path

import pandas as pd
import pytest
from reference_matcher import reference_code

from trust_survey.matching.matcher import DIAGNOSTICS, EXTRA_COLUMNS, RESULT_COLUMNS, Matcher
from trust_survey.matching.overrides import OverrideEntry, Overrides
from trust_survey.matching.taxonomy import load_taxonomy

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "tests" / "data").glob("titles_*.csv")) + [
    REPO / "trust_survey" / "data" / "titles" / "corpus.csv"]


def _labelled() -> pd.DataFrame:
    rows = []
    for path in SOURCES:
        with path.open(encoding="utf-8") as fh:
            rows += [(r["title"], r.get("department") or "") for r in csv.DictReader(fh)]
    frame = pd.DataFrame(rows, columns=["title", "department"])
    # the same titles dressed as trusts write them, and a few awkward cells
    dressed = frame.assign(title="Snr " + frame["title"] + " (Band 7) - Leeds", department="")
    odd = pd.DataFrame({"title": ["", None, "=HYPERLINK(1)", "Staff Nurse", "Staff Nurse", "bioinformaticsscientist",
                                  "Clinical Scientist", "Clinical Scientist"],
                        "department": ["Genomics", "", "", "Renal", "", "", "", "Medical Physics"]})
    return pd.concat([frame, dressed, odd], ignore_index=True)


@pytest.fixture(scope="module")
def titles():
    return _labelled()


@pytest.fixture(scope="module")
def tax():
    return load_taxonomy(REPO / "role_taxonomy.yaml")


def _same(matcher, titles, contexts):
    ours = matcher.code(titles, contexts, diagnostics=True)
    ref = reference_code(matcher, titles, contexts)
    assert list(ours.columns) == RESULT_COLUMNS + EXTRA_COLUMNS + DIAGNOSTICS
    assert len(ours) == len(titles) > 2000
    diff = (ours != ref) & ~(ours.isna() & ref.isna())
    bad = diff.any(axis=1)
    assert not bad.any(), pd.concat([titles[bad.values].head(5).reset_index(drop=True),
                                     ours[bad].head(5).reset_index(drop=True),
                                     ref[bad].head(5).reset_index(drop=True)], axis=1).T.to_string()
    return ours


def test_code__rules_alone__match_the_per_title_decisions(tax, titles):
    ours = _same(Matcher(tax, Overrides.empty()), titles["title"], titles["department"])
    assert set(ours["decision"]) == {"auto", "review", "none"}
    assert {"exact", "alias", "fuzzy"} <= set(ours["method"])


def test_code__with_reviewed_aliases__matches_the_per_title_decisions(tax, titles):
    nurse = OverrideEntry(alias="staff nurse", action="change_stream", stream="genomics", context="renal")
    scientist = OverrideEntry(alias="clinical scientist", action="change_role", role_id="epr_build_analyst",
                              stream="health_informatics")
    overrides = Overrides(None, 1, (nurse, scientist), {("nurse staff", "renal"): nurse,
                                                        ("clinical scientist", "any"): scientist})
    ours = _same(Matcher(tax, overrides), titles["title"], titles["department"])
    assert (ours["matched_alias"] == "clinical scientist").any()


def test_code__with_the_title_model__matches_the_per_title_decisions(tax, titles):
    from trust_survey.matching.model import resolve_model

    model = resolve_model(None, tax, Overrides.empty())
    ours = _same(Matcher(tax, Overrides.empty(), model), titles["title"], titles["department"])
    assert ours["method"].str.startswith("model:").any()


def test_code__progress__counts_every_distinct_pair_once(tax):
    seen = []
    titles = ["Bioinformatician", "Staff Nurse", "Bioinformatician", "Medical Physicist"] * 700
    departments = (["", "Renal", "Genomics"] * 934)[:len(titles)]
    Matcher(tax, Overrides.empty()).code(titles, departments, on_progress=seen.append)
    assert sum(seen) == len(titles) and len(seen) == 1   # 9 distinct pairs: one block
