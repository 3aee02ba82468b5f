"""The match tables in the DuckDB store: their schema and what reads them (``match run`` and
``review-import`` write them through :mod:`trust_survey.matching.coding`).

Two tables, created by this module beside the ingest tables (``CREATE TABLE IF NOT EXISTS``):

- ``title_matches``: one row per stored job title of a round's current accepted returns, with the coding
  (:data:`~trust_survey.matching.matcher.RESULT_COLUMNS`), the normalised title and its order-free key, the
  taxonomy and reviewed-aliases versions used, when it ran, the department context reviewed aliases are
  keyed on, and, for titles a person decided, the action, who and when. ``match run`` replaces a round's
  rows in one transaction.
- ``title_reviews``: every decision imported from a review workbook for a round, with the department
  context it was made in (append-only; the latest per round, title and context wins). ``review-import``
  applies them to ``title_matches`` at once, and ``match run`` applies them again after coding, so a
  person's decision always beats the automatic one, but only in its context: of the decisions on a title
  made in a row's own context or for ``any`` department, the latest wins.

This module knows tables, not the matcher, so the title model can read the reviewed decisions it trains
on without an import cycle.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pandas as pd

from trust_survey.errors import NotFoundError, TrustSurveyError
from trust_survey.store import ACCEPTED, open_store, titles_for_round

log = logging.getLogger(__name__)

MATCH_TABLE = "title_matches"
REVIEW_TABLE = "title_reviews"

#: (column, DuckDB type) of ``title_matches``, in order.
MATCH_SCHEMA = [
    ("round", "INTEGER NOT NULL"), ("submission_id", "INTEGER NOT NULL"), ("org_code", "VARCHAR"),
    ("row_index", "INTEGER NOT NULL"), ("job_title", "VARCHAR"), ("staff_dept", "VARCHAR"),
    ("dept_type", "VARCHAR"), ("normalised_title", "VARCHAR"), ("title_key", "VARCHAR"),
    ("role_id", "VARCHAR"), ("role", "VARCHAR"), ("stream", "VARCHAR"), ("relation", "VARCHAR"),
    ("score", "INTEGER"), ("margin", "INTEGER"), ("method", "VARCHAR"), ("matched_alias", "VARCHAR"),
    ("decision", "VARCHAR"), ("alternatives", "VARCHAR"), ("review_action", "VARCHAR"),
    ("reviewed_by", "VARCHAR"), ("reviewed_at", "VARCHAR"), ("taxonomy_version", "INTEGER"),
    ("taxonomy_sha256", "VARCHAR"), ("overrides_version", "INTEGER"), ("overrides_sha256", "VARCHAR"),
    ("matched_at", "TIMESTAMP"), ("run_id", "VARCHAR"), ("department_context", "VARCHAR"),
    ("model_version", "VARCHAR"), ("model_training_sha256", "VARCHAR"),
]
MATCH_COLUMNS = [c for c, _ in MATCH_SCHEMA]
#: (column, DuckDB type) of ``title_reviews``, in order.
REVIEW_SCHEMA = [
    ("review_id", "VARCHAR NOT NULL"), ("round", "INTEGER NOT NULL"), ("title_key", "VARCHAR NOT NULL"),
    ("alias", "VARCHAR NOT NULL"), ("example", "VARCHAR"), ("action", "VARCHAR NOT NULL"), ("role_id", "VARCHAR"),
    ("stream", "VARCHAR NOT NULL"), ("reviewer", "VARCHAR"), ("note", "VARCHAR"), ("decided_at", "VARCHAR"),
    ("suggested_role_id", "VARCHAR"), ("suggested_stream", "VARCHAR"), ("workbook", "VARCHAR"),
    ("workbook_sha256", "VARCHAR"), ("sheet_row", "INTEGER"), ("taxonomy_version", "INTEGER"),
    ("overrides_version", "INTEGER"), ("imported_at", "TIMESTAMP"), ("context", "VARCHAR"),
]
REVIEW_COLUMNS = [c for c, _ in REVIEW_SCHEMA]
#: What a decision is compared on to tell a new one from one already imported.
DECISION_KEY = ["action", "role_id", "stream", "note"]


class NoAcceptedReturnsError(NotFoundError):
    """The round has no current accepted return to code."""

    code = "MATCH001"


class NotMatchedYetError(TrustSurveyError):
    """The round's titles have not been coded by ``match run``."""

    code = "MATCH002"


# ---------------------------------------------------------------------------------------------- the store
def _create(con, table: str, schema: list[tuple[str, str]]) -> None:
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{c} {t}' for c, t in schema)})")
    have = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns WHERE table_name = ?",
                                      [table]).fetchall()}
    for column, kind in schema:
        if column not in have:   # a table written by an older trust-survey gains the new column, empty
            con.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind.replace(' NOT NULL', '')}")


def ensure_tables(con) -> None:
    """Create ``title_matches`` and ``title_reviews`` when missing (and add columns a newer version has)."""
    _create(con, MATCH_TABLE, MATCH_SCHEMA)
    _create(con, REVIEW_TABLE, REVIEW_SCHEMA)


def has_table(con, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = ?",
                            [table]).fetchone()[0])


def accepted_returns(con, round_: int) -> int:
    """How many current accepted returns the round has (any instrument)."""
    placeholders = ", ".join("?" * len(ACCEPTED))
    return int(con.execute(f"SELECT count(*) FROM submissions WHERE round = ? AND status IN ({placeholders})",
                           [round_, *ACCEPTED]).fetchone()[0])


def file_sha256(path: Path | None) -> str:
    if path is None or not Path(path).is_file():
        return ""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def round_titles(db: Path, round_: int) -> pd.DataFrame:
    """The titles ``match run`` codes; :class:`NoAcceptedReturnsError` when the round has no accepted return."""
    with open_store(Path(db), read_only=True) as con:
        n = accepted_returns(con, round_)
    if not n:
        raise NoAcceptedReturnsError(f"round {round_}: no accepted returns in {db}; nothing to code. See which "
                                     f"organisations have returned with `trust-survey status --round {round_}`, "
                                     "or pass another --db or --round")
    return titles_for_round(Path(db), round_)


def round_reviews(con, round_: int) -> pd.DataFrame:
    """Every stored review decision of a round, oldest first."""
    if not has_table(con, REVIEW_TABLE):
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    return con.execute(f"SELECT * FROM {REVIEW_TABLE} WHERE round = ? ORDER BY imported_at, decided_at, "
                       "sheet_row", [round_]).df()


def round_matches(con, round_: int) -> pd.DataFrame | None:
    """The round's stored codings on an open store, or None when ``match run`` has stored none for it."""
    if not has_table(con, MATCH_TABLE):
        return None
    frame = con.execute(f"SELECT * FROM {MATCH_TABLE} WHERE round = ?", [round_]).df()
    return frame if len(frame) else None


def stored_matches(db: Path, round_: int) -> pd.DataFrame:
    """The round's stored matches; :class:`NotMatchedYetError` when ``match run`` has not coded it."""
    with open_store(Path(db), read_only=True) as con:
        frame = (con.execute(f"SELECT * FROM {MATCH_TABLE} WHERE round = ? ORDER BY org_code, submission_id, "
                             "row_index", [round_]).df() if has_table(con, MATCH_TABLE) else pd.DataFrame())
        accepted = accepted_returns(con, round_)
    if frame.empty:
        if not accepted:
            raise NoAcceptedReturnsError(f"round {round_}: no accepted returns in {db}; see "
                                         f"`trust-survey status --round {round_}`")
        raise NotMatchedYetError(f"round {round_}: the job titles have not been coded yet (no stored match "
                                 f"results in {db}); run `trust-survey match run --round {round_}` first")
    return frame
