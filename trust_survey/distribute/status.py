"""After ingest: who has returned what (status and chase list), and what changed between two returns.

:func:`round_status` lists every organisation in a round's distribution register (plus any that
returned without being sent anything) with its state -- not returned, rejected, accepted with
warnings, accepted -- last received date and counts. :func:`chase_list` keeps those still owing a
valid return; an organisation whose valid return is in is never on it, even if a later resubmission
was rejected. :func:`diff_returns` compares two submissions of one organisation cell by cell.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from trust_survey import store
from trust_survey.errors import NotFoundError
from trust_survey.instruments.loader import Registry

CHASE_COLUMNS = ["org_code", "org_name", "contact_email", "instrument_id", "state", "reason", "last_received",
                 "files_sent", "errors"]
DIFF_COLUMNS = ["table", "row", "field", "question", "sheet", "cell", "old", "new", "change"]


def round_status(db: Path, round_: int, instrument_id: str | None = None) -> pd.DataFrame:
    """Every expected (or returning) organisation of a round with its state; see store.round_status."""
    with store.open_store(db, read_only=True) as con:
        status = store.round_status(con, round_, instrument_id)
        has_distribution = store.distributed_orgs(con, round_) is not None
    if status.empty:
        raise NotFoundError(f"nothing is known about round {round_} in {db}: no distribution recorded "
                            "(`instruments build`) and no returns ingested")
    status.attrs["has_distribution"] = has_distribution
    return status


def chase_list(status: pd.DataFrame) -> pd.DataFrame:
    """Organisations still owing a valid return: not returned, or only a rejected return."""
    owing = status[(status.state == "rejected") | ((status.state == "not returned") & status.in_distribution)].copy()
    owing["reason"] = [
        "no return received" if s == "not returned"
        else f"return rejected with {e} error(s); send the feedback workbook and ask for a corrected return"
        for s, e in zip(owing.state, owing.errors)]
    return owing.reindex(columns=CHASE_COLUMNS).reset_index(drop=True)


def diff_returns(db: Path, registry: Registry, org_code: str, round_: int, *, instrument_id: str | None = None,
                 old: int | None = None, new: int | None = None) -> tuple[pd.DataFrame, pd.Series, pd.Series]:
    """Cell-by-cell changes between two submissions of one organisation (default: the latest and the
    one before it). Returns (changes, old submission, new submission)."""
    with store.open_store(db, read_only=True) as con:
        subs = store.submissions_for(con, org_code, round_, instrument_id)
        if subs.empty:
            raise NotFoundError(f"no returns from {org_code.upper()} in round {round_} in {db}")
        if instrument_id is None and subs.instrument_id.nunique() > 1:
            raise NotFoundError(f"{org_code.upper()} returned several instruments in round {round_} "
                                f"({', '.join(sorted(subs.instrument_id.unique()))}); pass --instrument")
        by_id = {int(s.submission_id): s for _, s in subs.iterrows()}
        for given in (old, new):
            if given is not None and given not in by_id:
                raise NotFoundError(f"submission {given} is not a return from {org_code.upper()} in round "
                                    f"{round_} (its submissions: {', '.join(map(str, by_id))})")
        new_sub = by_id[new] if new is not None else subs.iloc[-1]
        if old is not None:
            old_sub = by_id[old]
        else:
            earlier = subs[subs.submission_id != new_sub.submission_id]
            earlier = earlier[earlier.received_at <= new_sub.received_at] if len(earlier) else earlier
            if earlier.empty:
                raise NotFoundError(f"{org_code.upper()} has only one return in round {round_} (submission "
                                    f"{int(new_sub.submission_id)}); there is nothing to compare it with")
            old_sub = earlier.iloc[-1]
        a = store.answers_of(con, int(old_sub.submission_id))
        b = store.answers_of(con, int(new_sub.submission_id))
    return _compare(a, b, registry, new_sub), old_sub, new_sub


def _compare(a: pd.DataFrame, b: pd.DataFrame, registry: Registry, new_sub: pd.Series) -> pd.DataFrame:
    key = ["table_id", "row_index", "field_id"]
    for frame in (a, b):
        frame["table_id"] = frame["table_id"].fillna("")
    merged = a[key + ["value", "sheet", "cell"]].merge(b[key + ["value", "sheet", "cell"]], on=key, how="outer",
                                                       suffixes=("_old", "_new"))
    merged = merged[merged.value_old.fillna("\0") != merged.value_new.fillna("\0")]
    labels = {}
    try:
        inst = registry.get(new_sub.instrument_id, int(new_sub.instrument_version))
        labels = {f.field_id: f.label for f in inst.fields()}
    except Exception:  # noqa: BLE001 - labels are a courtesy; an unknown definition still diffs
        pass
    out = pd.DataFrame({
        "table": merged.table_id.replace("", "form"), "row": merged.row_index, "field": merged.field_id,
        "question": merged.field_id.map(labels).fillna(""),
        "sheet": merged.sheet_new.fillna(merged.sheet_old), "cell": merged.cell_new.fillna(merged.cell_old),
        "old": merged.value_old, "new": merged.value_new,
        "change": ["added" if pd.isna(o) else "removed" if pd.isna(n) else "changed"
                   for o, n in zip(merged.value_old, merged.value_new)],
    })
    order = {f: i for i, f in enumerate(labels)}
    out["_order"] = out.field.map(order).fillna(len(order))
    out = out.sort_values(["table", "row", "_order"]).drop(columns="_order").reset_index(drop=True)
    out["table"] = out["table"].astype(str)
    return out.reindex(columns=DIFF_COLUMNS)
