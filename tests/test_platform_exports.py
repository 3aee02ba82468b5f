"""Survey-platform exports as downloaded: shipped mappings picked by header layout, drafted mappings,
and the strict mapping check. Each platform's file is built byte for byte in tests/platform_exports.py."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml

from ingest_helpers import REPO, query
from platform_exports import PLATFORMS, ROUND, SECRETS, expected
from trust_survey import store
from trust_survey.review_cycle.platform_layout import HeaderNames, column_names

SHIPPED = REPO / "trust_survey" / "data" / "platform_mappings"


def _build(tmp_path: Path, platform: str) -> Path:
    builder, name, _ = PLATFORMS[platform]
    folder = tmp_path / "in"
    folder.mkdir(exist_ok=True)
    return builder(folder / name)


def _assert_every_answer_stored(db: Path) -> None:
    want = expected().set_index("respondent_id")
    got = store.individual_responses(db, ROUND).set_index("respondent_id")
    assert sorted(got.index) == sorted(want.index)
    for column in want.columns:
        for rid in want.index:
            a, b = want.at[rid, column], got.at[rid, column]
            assert (pd.isna(a) and pd.isna(b)) or a == b, f"{rid} {column}: stored {b!r}, answered {a!r}"
    stored = query(db, "SELECT string_agg(coalesce(value, ''), ' ') AS v FROM answers").v.iloc[0].lower()
    for secret in SECRETS:
        assert secret not in stored


@pytest.mark.parametrize("platform", list(PLATFORMS))
def test_ingest__platform_export_as_downloaded__shipped_mapping_is_picked_and_every_answer_stored(
        tmp_path, run, platform):
    path = _build(tmp_path, platform)
    db = tmp_path / "s.duckdb"
    result = run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    mapping = PLATFORMS[platform][2]
    assert f"{path.name}: read as a survey-platform export through the shipped" in result.stdout
    assert mapping in result.stdout
    _assert_every_answer_stored(db)
    ledger = query(db, "SELECT DISTINCT identified_by FROM submissions")
    assert ledger.identified_by.tolist() == [f"platform:{mapping}"]


def test_ingest__surveymonkey_matrix__no_likert_answer_is_lost(tmp_path, run):
    path = _build(tmp_path, "surveymonkey")
    db = tmp_path / "s.duckdb"
    run("ingest", path, "--round", ROUND, "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    frame = store.individual_responses(db, ROUND)
    likert = [c for c in frame.columns if c.startswith(("ret_", "use_", "eq_"))]
    assert len(likert) == 14 and frame[likert].notna().sum().sum() == 14 * 15 - 4   # 3 'Prefer not to say', 1 blank
