"""Read what the review-cycle report needs from the store: the I/O edge of :mod:`trust_survey.report`.

Everything is read once, read-only, into :class:`ReportInputs`; the stage functions in
:mod:`trust_survey.report.tables` never touch the database. A part that cannot be read (no individual
responses yet, no match results, no accepted trust returns) comes back as ``None`` with the reason in
words, so the report can say so instead of leaving it out.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trust_survey.errors import TrustSurveyError
from trust_survey.instruments.model import Instrument
from trust_survey.matching.store import round_matches
from trust_survey.store import ACCEPTED
from trust_survey import store
from trust_survey.commissioning.demand import estimate_demand
from trust_survey.commissioning.orchestrate import candidates_for, demand_for
from trust_survey.commissioning.reader import load_round
from trust_survey.commissioning.weights import load_weights
from trust_survey.store import open_store, round_status

log = logging.getLogger(__name__)

TRUST_INSTRUMENT = "trust_capability"
INDIVIDUAL_INSTRUMENT = "individual_review"


@dataclass
class ReportInputs:
    """One round's report inputs. ``*_missing`` says in words why a part is None."""

    round: int
    rounds: list[int]
    status: pd.DataFrame
    distribution: pd.DataFrame                 # every round up to this one, trust returns
    kf_answers: pd.DataFrame                   # round, org_code, field_id, value_num, instrument_version
    round_versions: dict[int, int]
    trust_versions: list[Instrument]
    individual: Instrument | None
    responses: pd.DataFrame | None
    responses_missing: str = ""
    earlier_responses: dict[int, pd.DataFrame] = field(default_factory=dict)   # earlier rounds, for trends
    individual_versions: list[Instrument] = field(default_factory=list)
    matches: pd.DataFrame | None = None
    matches_missing: str = ""
    candidates: pd.DataFrame | None = None
    demand: pd.DataFrame | None = None
    commissioning_missing: str = ""
    notes: list[str] = field(default_factory=list)


def key_figure_answers(con, round_: int) -> pd.DataFrame:
    """Key-figure answers of current accepted trust returns of every round up to ``round_``."""
    marks = ", ".join("?" * len(ACCEPTED))
    return con.execute(f"""SELECT s.round, s.org_code, s.instrument_version, a.field_id, a.value_num
                           FROM answers a JOIN submissions s USING (submission_id)
                           WHERE s.round <= ? AND s.instrument_id = ? AND s.status IN ({marks})
                             AND a.table_id IS NULL AND a.field_id LIKE 'kf\\_%' ESCAPE '\\'
                           ORDER BY s.round, s.org_code, a.field_id""", [round_, TRUST_INSTRUMENT, *ACCEPTED]).df()


def distribution_rounds(con, round_: int) -> pd.DataFrame:
    """Who was sent the trust return in each round up to ``round_``: round, org_code, org_name, region_code."""
    return con.execute("""SELECT round, org_code, any_value(org_name) AS org_name,
                                 any_value(region_code) AS region_code
                          FROM distribution WHERE round <= ? AND instrument_id = ?
                          GROUP BY round, org_code ORDER BY round, org_code""", [round_, TRUST_INSTRUMENT]).df()


def round_versions(con, round_: int) -> dict[int, int]:
    """The trust return's instrument version in each round (the newest accepted or sent)."""
    rows = con.execute("""SELECT round, max(instrument_version) FROM (
                              SELECT round, instrument_version FROM submissions WHERE instrument_id = ?
                              UNION ALL SELECT round, instrument_version FROM distribution WHERE instrument_id = ?)
                          WHERE round <= ? AND instrument_version IS NOT NULL GROUP BY round""",
                       [TRUST_INSTRUMENT, TRUST_INSTRUMENT, round_]).fetchall()
    return {int(r): int(v) for r, v in rows}


def stored_matches(con, round_: int) -> tuple[pd.DataFrame | None, str]:
    """The round's stored job-title codings, or None and why not."""
    frame = round_matches(con, round_)
    if frame is None:
        return None, (f"not run for round {round_}: no job-title match results stored for this round; run "
                      f"`trust-survey match run --round {round_}` to code job titles to STP streams")
    return frame, ""


def individual_responses(db: Path, round_: int, inst: Instrument, registry=None,
                         include_free_text: bool = False) -> pd.DataFrame:
    """A round's individual responses from :func:`trust_survey.store.individual_responses`: one row per
    respondent, the instrument's analysis fields as columns (choice items as choice keys, Likert as the
    number answered), plus ``region`` and ``instrument_version``. Free text only when asked for."""
    from trust_survey.ingest.platform_csv import analysis_fields

    allowed = [f.field_id for f in analysis_fields(inst)
               if include_free_text or f.type not in ("text", "long_text") or f.field_id == inst.id_item]
    frame = store.individual_responses(Path(db), round_, inst.id, registry=registry,
                                       include_free_text=include_free_text)
    extra = [c for c in ("region", "instrument_version") if c in frame.columns]
    return frame.reindex(columns=[c for c in allowed if c in frame.columns] + extra).reset_index(drop=True)


def load_inputs(db: Path, round_: int, registry, *, include_free_text: bool = False,
                on_step=lambda what: None) -> ReportInputs:
    """Read everything the round's report needs; raises only when the store itself cannot be opened."""
    on_step("reading the store")
    with open_store(Path(db), read_only=True) as con:
        status = round_status(con, round_)
        dist = distribution_rounds(con, round_)
        kf = key_figure_answers(con, round_)
        versions = round_versions(con, round_)
        matches, matches_missing = stored_matches(con, round_)
        rounds = sorted(int(r[0]) for r in con.execute(
            "SELECT round FROM distribution WHERE round <= ? UNION SELECT round FROM submissions WHERE round <= ?",
            [round_, round_]).fetchall())
    individual_ids = {i.id for i in registry.all() if "individual" in i.audience}
    status = status[~status["instrument_id"].isin(individual_ids)].reset_index(drop=True)
    trust_versions = [registry.get(TRUST_INSTRUMENT, v) for v in registry.versions(TRUST_INSTRUMENT)] \
        if TRUST_INSTRUMENT in registry.ids() else []
    inputs = ReportInputs(round_, rounds, status, dist, kf, versions, trust_versions, None, None,
                          matches=matches, matches_missing=matches_missing)

    on_step("reading individual responses")
    if INDIVIDUAL_INSTRUMENT not in registry.ids():
        inputs.responses_missing = f"no {INDIVIDUAL_INSTRUMENT} instrument is defined, so there are no scores"
    else:
        inputs.individual = registry.get(INDIVIDUAL_INSTRUMENT)
        inputs.individual_versions = [registry.get(INDIVIDUAL_INSTRUMENT, v)
                                      for v in registry.versions(INDIVIDUAL_INSTRUMENT)]
        try:
            responses = individual_responses(db, round_, inputs.individual, registry,
                                             include_free_text=include_free_text)
        except TrustSurveyError as exc:
            responses, inputs.responses_missing = None, f"individual responses could not be read: {exc}"
        if responses is not None and responses.empty:
            responses = None
            inputs.responses_missing = (f"no individual responses for round {round_} in the store yet: ingest the "
                                        f"{INDIVIDUAL_INSTRUMENT} returns (platform CSV, workbooks, SPSS files) "
                                        "with `trust-survey ingest`")
        inputs.responses = responses
        for earlier in [r for r in rounds if r < round_]:
            try:
                frame = individual_responses(db, earlier, inputs.individual, registry)
            except TrustSurveyError as exc:
                inputs.notes.append(f"individual responses of round {earlier} could not be read: {exc}")
                continue
            if len(frame):
                inputs.earlier_responses[earlier] = frame

    on_step("ranking candidate departments and estimating demand")
    inputs.candidates, inputs.demand, inputs.commissioning_missing = _commissioning(db, round_, inputs.notes)
    return inputs


def _commissioning(db: Path, round_: int, notes: list[str]):
    """Candidate departments and demand by region, from the library the commissioning commands use.

    When an earlier round cannot be read for the demand trend, the round's own demand is still given
    (as ``trust-survey map`` estimates it) and a note says why the trend is missing."""
    try:
        weights = load_weights(None)
        data = load_round(Path(db), round_)
        notes.extend(data.notes)
        scores, _ = candidates_for(data, weights)
    except TrustSurveyError as exc:
        return None, None, f"not available: {exc}"
    try:
        demand = demand_for(Path(db), round_, "region", weights, notes)
    except TrustSurveyError as exc:
        notes.append(f"demand across earlier rounds not available ({exc}); this round's demand only")
        demand = estimate_demand(scores, data.capacity, data.distribution, weights.demand, "region")
        demand = demand.assign(round=round_) if "round" not in demand.columns else demand
    return scores, demand, ""
