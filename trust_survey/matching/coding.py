"""Code a round's job titles and keep the coding: what ``match run`` and ``review-import`` write.

Stages (DataFrames in and out): :func:`code_titles` codes each distinct (title, department context) once
with the matcher; :func:`apply_reviews` recodes what a person decided, each decision in its department
context (:func:`department_contexts`); :func:`changed_decisions` keeps the decisions not already stored.
Then the store: :func:`save_matches` replaces a round's stored coding (reviews applied again), and
:func:`record_reviews` appends decisions and recodes the stored rows they decide. The tables themselves are
:mod:`trust_survey.matching.store`'s.
"""
from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from trust_survey.matching.matcher import RESULT_COLUMNS, get_matcher
from trust_survey.matching.normalise import token_key
from trust_survey.matching.overrides import ANY, Overrides, canonical_context
from trust_survey.matching.store import (DECISION_KEY, MATCH_COLUMNS, MATCH_TABLE, REVIEW_COLUMNS, REVIEW_TABLE,
                                         ensure_tables, file_sha256, round_reviews)
from trust_survey.matching.taxonomy import NONE, Taxonomy
from trust_survey.store import open_store, transaction

_CHUNK = 5000


_NO_OVERRIDES = Overrides.empty()   # one object, so the compiled matcher for department contexts is reused


def context_text(staff_dept, dept_type) -> str:
    """The department name and its type as one context string for the matcher."""
    parts = [str(v).strip() for v in (staff_dept, dept_type)
             if v is not None and not (isinstance(v, float) and v != v) and str(v).strip()]
    return " ".join(dict.fromkeys(parts))


def code_titles(titles: pd.DataFrame, taxonomy: Taxonomy, overrides: Overrides, *,
                on_progress: Callable[[int], None] | None = None, model=None) -> pd.DataFrame:
    """Code ``titles`` (columns of :func:`trust_survey.store.titles_for_round`) with the vectorised matcher.

    Each distinct (title, department, department type) is coded once, in chunks (``on_progress(n)`` after
    each). Returns the input columns plus the coding, ``normalised_title``, ``title_key``, ``margin`` and
    the reviewed-alias audit columns (``review_action``, ``reviewed_by``, ``reviewed_at``) for titles a
    reviewed alias decided. Row order and count are the input's. ``department_context`` is the context
    reviewed aliases are keyed on (blank without a department). With a title ``model`` it decides where
    the rules are not explicit (:meth:`~trust_survey.matching.matcher.Matcher._combine`).
    """
    matcher = get_matcher(taxonomy, overrides, model)
    df, codes, u_titles, u_ctx = _distinct(titles)
    parts = []
    for start in range(0, len(u_titles), _CHUNK):
        parts.append(matcher.code(u_titles[start:start + _CHUNK], u_ctx[start:start + _CHUNK]))
        if on_progress:
            on_progress(len(u_titles[start:start + _CHUNK]))
    columns = RESULT_COLUMNS + ["normalised_title", "margin", "taxonomy_version", "department_context"]
    per_unique = (pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns))
    coded = per_unique.iloc[codes].reset_index(drop=True) if len(df) else per_unique
    out = pd.concat([df, coded[[c for c in columns if c != "taxonomy_version"]]], axis=1)
    out["title_key"] = [token_key(str(t).split()) for t in out["normalised_title"].fillna("")]
    action, by, at = [], [], []
    for method, alias, key, ctx in zip(out["method"], out["matched_alias"], out["title_key"],
                                       out["department_context"]):
        entry = overrides.find(key, ctx or "") if method == "alias" else None
        hit = entry is not None and entry.alias == alias
        action.append(entry.action if hit else None)
        by.append(entry.reviewer if hit else None)
        at.append(entry.decided_at if hit else None)
    out["review_action"], out["reviewed_by"], out["reviewed_at"] = action, by, at
    return out


def _distinct(titles: pd.DataFrame):
    """(frame, code of each row's distinct title and context, distinct titles, their contexts)."""
    df = titles.reset_index(drop=True).copy()
    for col in ("job_title", "staff_dept", "dept_type"):
        if col not in df.columns:
            df[col] = None
    context = [context_text(d, t) for d, t in zip(df["staff_dept"], df["dept_type"])]
    title_text = df["job_title"].map(lambda v: "" if v is None or (isinstance(v, float) and v != v) else str(v))
    codes, _ = pd.factorize(title_text + "\x1f" + pd.Series(context, dtype=object))
    first = np.unique(codes, return_index=True)[1] if len(df) else []   # codes number first appearances
    return df, codes, [title_text.iloc[i] for i in first], [context[i] for i in first]


def count_distinct(titles: pd.DataFrame) -> int:
    """How many distinct (title, context) pairs :func:`code_titles` will code: the length of its progress."""
    return len(_distinct(titles)[2])


def department_contexts(frame: pd.DataFrame, taxonomy: Taxonomy) -> list[str]:
    """Each row's department context (as :meth:`Matcher.department_contexts`), from ``department_context``
    where a ``match run`` stored it, else worked out from ``staff_dept`` and ``dept_type``."""
    n = len(frame)
    stored = frame["department_context"] if "department_context" in frame.columns else pd.Series([None] * n)
    stored = [None if v is None or (isinstance(v, float) and v != v) else str(v) for v in stored]
    missing = [i for i, v in enumerate(stored) if v is None]
    if missing:
        depts = [frame[c] if c in frame.columns else pd.Series([None] * n) for c in ("staff_dept", "dept_type")]
        text = [context_text(depts[0].iloc[i], depts[1].iloc[i]) for i in missing]
        for i, key in zip(missing, get_matcher(taxonomy, _NO_OVERRIDES).department_contexts(text)):
            stored[i] = key
    return stored


def _review_context(value) -> str:
    """A stored decision's context: decisions imported before contexts were recorded hold everywhere."""
    return canonical_context(None if value is None or (isinstance(value, float) and value != value) else value)


def _latest_reviews(reviews: pd.DataFrame) -> dict[tuple[str, str], tuple[int, dict]]:
    """(title_key, context) -> (position, the latest decision for it)."""
    out: dict[tuple[str, str], tuple[int, dict]] = {}
    for i, rec in enumerate(reviews.to_dict("records")):
        out[(rec["title_key"], _review_context(rec.get("context")))] = (i, rec)
    return out


def _review_for(latest: dict[tuple[str, str], tuple[int, dict]], key: str, context: str) -> dict | None:
    """The latest of the decisions on ``key`` made in ``context`` or for any department."""
    found = [latest[k] for k in ((key, context), (key, ANY)) if k in latest and (k[1] == ANY or context)]
    return max(found, key=lambda pr: pr[0])[1] if found else None


def reviewed_coding(decision: dict, taxonomy: Taxonomy) -> dict:
    """The coding a person's decision gives a title: what the matcher gives a reviewed alias."""
    role = taxonomy.roles.get(decision.get("role_id") or "")
    stream = decision["stream"]
    relation = role.relation if role else (NONE if stream == NONE else "adjacent")
    return {"role_id": role.id if role else "", "role": role.name if role else "", "stream": stream,
            "relation": relation, "score": 100, "margin": 100, "method": "alias",
            "matched_alias": decision["alias"], "decision": "auto", "review_action": decision["action"],
            "reviewed_by": decision.get("reviewer") or "", "reviewed_at": decision.get("decided_at") or ""}


def apply_reviews(matches: pd.DataFrame, reviews: pd.DataFrame, taxonomy: Taxonomy) -> tuple[pd.DataFrame, int]:
    """``matches`` with every row a review decided recoded as the reviewer said.

    ``reviews`` holds :data:`REVIEW_COLUMNS` (at least title_key, alias, action, role_id, stream; a missing
    or blank ``context`` is ``any``), oldest first. A decision applies to rows of its title in its department
    context (:func:`department_contexts`), an ``any`` decision to rows of its title in every context; where
    both apply, the later one wins. Returns the new frame and the number of rows changed.
    """
    if reviews.empty or matches.empty:
        return matches, 0
    latest = _latest_reviews(reviews)
    out = matches.copy()
    contexts = department_contexts(out, taxonomy)
    chosen = [_review_for(latest, key, ctx) for key, ctx in zip(out["title_key"], contexts)]
    hit = pd.Series([c is not None for c in chosen], index=out.index)
    if not hit.any():
        return out, 0
    sample = reviewed_coding({"alias": "", "action": "", "stream": NONE}, taxonomy)
    for col in sample:
        out[col] = out[col].astype(object) if col in out.columns else None
    for label, rec in zip(out.index, chosen):
        if rec is not None:
            for col, value in reviewed_coding(rec, taxonomy).items():
                out.at[label, col] = value
    return out, int(hit.sum())


def _plain(value) -> str:
    """Text for comparing decisions: None, NaN and blanks are all ''."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value).strip()


def changed_decisions(decisions: pd.DataFrame, existing: pd.DataFrame) -> pd.DataFrame:
    """The decisions that differ (in :data:`DECISION_KEY`) from the latest ``existing`` one on the same title
    in the same department context.

    Both frames need ``alias`` (or ``title_key``) and the :data:`DECISION_KEY` columns; a missing or blank
    ``context`` is ``any``.
    """
    if decisions.empty or existing is None or existing.empty:
        return decisions
    ex = existing.copy()
    if "title_key" not in ex.columns:
        ex["title_key"] = ex["alias"].map(lambda a: token_key(str(a).split()))
    latest = _latest_reviews(ex)

    def same(rec: dict) -> bool:
        old = latest.get((token_key(str(rec["alias"]).split()), _review_context(rec.get("context"))))
        return old is not None and all(_plain(rec.get(c)) == _plain(old[1].get(c)) for c in DECISION_KEY)

    keep = [not same(rec) for rec in decisions.to_dict("records")]
    return decisions[keep].reset_index(drop=True)


def save_matches(db: Path, round_: int, coded: pd.DataFrame, taxonomy: Taxonomy, overrides: Overrides,
                 model=None) -> tuple[pd.DataFrame, int]:
    """Replace the round's stored matches with ``coded`` (from :func:`code_titles`) in one transaction,
    after applying the round's stored review decisions. Returns what was stored and how many rows the
    review decisions changed."""
    now = dt.datetime.now().replace(microsecond=0)
    frame = coded.copy()
    frame["round"] = int(round_)
    frame["taxonomy_version"] = int(taxonomy.version)
    frame["taxonomy_sha256"] = taxonomy.sha256
    frame["overrides_version"] = int(overrides.version)
    frame["overrides_sha256"] = file_sha256(overrides.path)
    frame["matched_at"] = now
    frame["model_version"] = model.version if model is not None else None
    frame["model_training_sha256"] = model.training_sha256 if model is not None else None
    frame["run_id"] = uuid.uuid4().hex[:12]
    with open_store(Path(db)) as con:
        ensure_tables(con)
        frame, reviewed = apply_reviews(frame, round_reviews(con, round_), taxonomy)
        for col in MATCH_COLUMNS:
            if col not in frame.columns:
                frame[col] = None
        frame = frame[MATCH_COLUMNS]
        with transaction(con):
            con.execute(f"DELETE FROM {MATCH_TABLE} WHERE round = ?", [round_])
            if len(frame):
                con.register("_incoming_matches", frame)
                try:
                    cols = ", ".join(MATCH_COLUMNS)
                    con.execute(f"INSERT INTO {MATCH_TABLE} ({cols}) SELECT {cols} FROM _incoming_matches")
                finally:
                    con.unregister("_incoming_matches")
    return frame, reviewed


def record_reviews(con, round_: int, decisions: pd.DataFrame, taxonomy: Taxonomy, *, reviewer: str,
                   decided_at: str, workbook: Path, overrides_version: int) -> int:
    """Append the decisions to ``title_reviews`` and recode the round's stored matches they decide, each in
    its department context, in order, so the latest wins (see :func:`apply_reviews`).

    Call inside a transaction on a writable connection. Returns the number of stored match rows changed.
    """
    ensure_tables(con)
    rows = decisions.copy()
    given = rows["context"] if "context" in rows.columns else [None] * len(rows)
    rows["context"] = [_review_context(c) for c in given]
    rows["review_id"] = [uuid.uuid4().hex[:16] for _ in range(len(rows))]
    rows["round"] = int(round_)
    rows["title_key"] = rows["alias"].map(lambda a: token_key(str(a).split()))
    rows["reviewer"] = [r or reviewer for r in rows["reviewer"].fillna("")]
    rows["decided_at"] = decided_at
    rows["workbook"] = str(workbook)
    rows["workbook_sha256"] = file_sha256(workbook)
    rows["taxonomy_version"] = int(taxonomy.version)
    rows["overrides_version"] = int(overrides_version)
    rows["imported_at"] = dt.datetime.now().replace(microsecond=0)
    for col in REVIEW_COLUMNS:
        if col not in rows.columns:
            rows[col] = None
    rows = rows[REVIEW_COLUMNS]
    con.register("_incoming_reviews", rows)
    try:
        cols = ", ".join(REVIEW_COLUMNS)
        con.execute(f"INSERT INTO {REVIEW_TABLE} ({cols}) SELECT {cols} FROM _incoming_reviews")
    finally:
        con.unregister("_incoming_reviews")
    _fill_contexts(con, round_, taxonomy)
    changed = 0
    for rec in rows.to_dict("records"):
        coding = reviewed_coding(rec, taxonomy)
        sets = ", ".join(f"{c} = ?" for c in coding)
        where, args = "round = ? AND title_key = ?", [int(round_), rec["title_key"]]
        if rec["context"] != ANY:
            where += " AND department_context = ?"
            args.append(rec["context"])
        n = con.execute(f"UPDATE {MATCH_TABLE} SET {sets} WHERE {where}", [*coding.values(), *args]).fetchone()
        changed += int(n[0]) if n else 0
    return changed


def _fill_contexts(con, round_: int, taxonomy: Taxonomy) -> None:
    """Work out ``department_context`` for stored matches written before it was stored."""
    missing = con.execute(f"SELECT DISTINCT staff_dept, dept_type FROM {MATCH_TABLE} WHERE round = ? AND "
                          "department_context IS NULL", [int(round_)]).df()
    if missing.empty:
        return
    for (dept, kind), key in zip(missing[["staff_dept", "dept_type"]].itertuples(index=False),
                                 department_contexts(missing, taxonomy)):
        con.execute(f"UPDATE {MATCH_TABLE} SET department_context = ? WHERE round = ? AND department_context IS "
                    "NULL AND staff_dept IS NOT DISTINCT FROM ? AND dept_type IS NOT DISTINCT FROM ?",
                    [key, int(round_), _none(dept), _none(kind)])


def _none(value):
    return None if value is None or (isinstance(value, float) and value != value) else value
