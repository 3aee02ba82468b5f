"""Individual review returns: the toolkit's workbook, SPSS files and survey-platform CSV exports."""
from __future__ import annotations

from ingest_helpers import ROUND, make_individual_return, query
from trust_survey import store


def test_individual_responses__workbook_returns__one_row_per_respondent_with_codes_and_region(tmp_path, run):
    make_individual_return(tmp_path / "in", "IR2026-0001")
    make_individual_return(tmp_path / "in", "IR2026-0002", answers={"group": "Former NHS clinical bioinformatician "
                                                                             "or trainee", "ret_plans": 2,
                                                                    "trust_code": "RGT"})
    db = tmp_path / "s.duckdb"
    run("ingest", tmp_path / "in", "--db", db, "--out", tmp_path / "run", "--engine", "pandas")
    frame = store.individual_responses(db, ROUND)
    assert list(frame.columns[:len(store.INDIVIDUAL_LEAD)]) == store.INDIVIDUAL_LEAD
    assert list(frame.respondent_id) == ["IR2026-0001", "IR2026-0002"]
    assert list(frame.group) == ["trainee", "former"]
    assert list(frame.stream) == ["gen", "gen"]
    assert frame.ret_plans.tolist() == [4, 2] and str(frame.ret_plans.dtype) == "Int64"
    assert frame.years_nhs.tolist() == [2, 2]
    assert frame.region_code.tolist() == ["Y56", "Y61"]
    assert frame.comment_keep.iloc[0] == "Protected time for research."
    assert "comment_keep" not in store.individual_responses(db, ROUND, include_free_text=False).columns
    assert store.individual_responses(db, ROUND + 1).empty
    subs = query(db, "SELECT org_code, org_name, instrument_id FROM submissions ORDER BY org_code")
    assert subs.org_code.tolist() == ["IR2026-0001", "IR2026-0002"] and set(subs.org_name) == {""}
