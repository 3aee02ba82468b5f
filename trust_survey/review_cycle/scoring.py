"""Scale scores and Cronbach's alpha from item-level Likert answers, as the instrument defines them.

In: a responses DataFrame whose columns are the instrument's field ids (one row per respondent), and the
:class:`~trust_survey.instruments.model.Instrument`. Out: scale scores (one column per scale) and
:class:`AlphaResult` objects. User-missing codes (the instrument's ``spss_missing`` values and choices
flagged ``missing``) count as not answered; so do values outside the item's answer range.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import pandas as pd

from trust_survey.errors import NotFoundError, did_you_mean
from trust_survey.instruments.model import Instrument, Item, Scale

log = logging.getLogger(__name__)

#: Below this many complete responses an alpha is reported with a note that it is unstable.
ALPHA_MIN_N = 10


def reverse_key(values: Any, lo: float = 1, hi: float = 5) -> Any:
    """Reverse a rating on a ``lo``..``hi`` scale (1<->5, 2<->4, 3 stays on 1-5).

    Takes a number, a list, an array, a Series or a DataFrame and returns the same kind; NaN stays NaN.
    """
    if isinstance(values, (list, tuple)):
        values = np.asarray(values, dtype=float)
    return (lo + hi) - values


def missing_codes(inst: Instrument, item: Item) -> set[float]:
    """The codes that mean "not answered" for an item: the instrument's SPSS missing values and the
    item's choices flagged ``missing`` ("Not applicable", "Prefer not to say")."""
    codes = {float(m.value) for m in inst.spss_missing}
    codes |= {float(c.value) for c in inst.choices_for(item) if c.missing}
    return codes


def answer_range(inst: Instrument, item: Item) -> tuple[float, float]:
    """The lowest and highest substantive code of a choice item (1 and 5 for the built-in Likert list)."""
    values = [c.value for c in inst.choices_for(item) if not c.missing]
    if not values:
        return (-math.inf, math.inf)
    return (float(min(values)), float(max(values)))


def _scale(inst: Instrument, scale_id: str) -> Scale:
    for scale in inst.scales:
        if scale.id == scale_id:
            return scale
    known = [s.id for s in inst.scales]
    raise NotFoundError(f"instrument {inst.key} has no scale '{scale_id}'{did_you_mean(scale_id, known)} "
                        f"(known: {', '.join(known) or 'none'})")


def scale_items(responses: pd.DataFrame, inst: Instrument, scale_id: str) -> pd.DataFrame:
    """The items of one scale, cleaned and reverse keyed, ready to average or to test for reliability.

    Returns one float column per item (in the scale's order) on ``responses``' index. Missing codes,
    values outside the answer range, text that is not a number and absent columns all become NaN.
    """
    scale = _scale(inst, scale_id)
    absent = [i for i in scale.items if i not in responses.columns]
    if absent:
        log.info("scale %s: %s not in the responses; treated as not answered", scale.id, ", ".join(absent))
    out = {}
    for item_id in scale.items:
        item = inst.item(item_id)
        if item_id in absent:
            out[item_id] = pd.Series(np.nan, index=responses.index, dtype=float)
            continue
        raw = responses[item_id]
        values = pd.to_numeric(raw, errors="coerce").astype(float)
        not_numbers = int((values.isna() & raw.notna() & (raw.astype(str).str.strip() != "")).sum())
        if not_numbers:
            log.warning("scale %s: %d answer(s) to %s are not numbers; treated as not answered",
                        scale.id, not_numbers, item_id)
        values = values.mask(values.isin(missing_codes(inst, item)))
        lo, hi = answer_range(inst, item)
        outside = values.notna() & ((values < lo) | (values > hi))
        if outside.any():
            log.warning("scale %s: %d answer(s) to %s are outside %g-%g; treated as not answered",
                        scale.id, int(outside.sum()), item_id, lo, hi)
            values = values.mask(outside)
        out[item_id] = reverse_key(values, lo, hi) if item.reverse else values
    return pd.DataFrame(out, index=responses.index)


def scale_scores(responses: pd.DataFrame, inst: Instrument, scales: Iterable[str] | None = None) -> pd.DataFrame:
    """Score every scale the instrument defines (or the ones named in ``scales``).

    A score is the mean of the answered items after reverse keying; it is NaN when fewer than the
    scale's ``min_answered`` items were answered. Returns one float column per scale id on
    ``responses``' index, so it can be joined back to group, stream or region columns.
    """
    ids = list(scales) if scales is not None else [s.id for s in inst.scales]
    out = {}
    for scale_id in ids:
        scale = _scale(inst, scale_id)
        items = scale_items(responses, inst, scale_id)
        answered = items.notna().sum(axis=1)
        out[scale_id] = items.mean(axis=1).where(answered >= scale.min_answered)
    return pd.DataFrame(out, index=responses.index, columns=ids, dtype=float)


def unanswered_items(responses: pd.DataFrame, inst: Instrument) -> dict[str, list[str]]:
    """Per scale, its items that no respondent answered (absent from ``responses`` or blank, missing or out
    of range in every row): a score is then the mean of fewer items than the definition says, which a
    report must say. Scales with every item answered by someone are left out."""
    out = {}
    for scale in inst.scales:
        items = scale_items(responses, inst, scale.id)
        empty = [i for i in scale.items if not items[i].notna().any()]
        if empty:
            out[scale.id] = empty
    return out


@dataclass(frozen=True)
class AlphaResult:
    """Cronbach's alpha for one set of items. ``alpha`` is NaN when it cannot be computed; ``note`` says why,
    or warns when it can be computed but should be read with care."""

    alpha: float
    n_items: int
    n_complete: int
    note: str = ""

    def to_dict(self) -> dict:
        return {"alpha": None if math.isnan(self.alpha) else round(float(self.alpha), 6),
                "n_items": self.n_items, "n_complete": self.n_complete, "note": self.note}


def cronbach_alpha(items: pd.DataFrame, min_n: int = ALPHA_MIN_N) -> AlphaResult:
    """Cronbach's alpha, k/(k-1) * (1 - sum of item variances / variance of the total), on complete rows.

    Rows with any item missing are left out (listwise deletion). Never raises on small or degenerate
    data: fewer than 2 items or 2 complete rows, or a total score with no variance, give NaN and a note.
    Fewer than ``min_n`` complete rows, or a negative alpha, give a value and a warning note.
    """
    data = items.apply(pd.to_numeric, errors="coerce").astype(float)
    k, n_all = data.shape[1], len(data)
    data = data.dropna()
    n = len(data)
    notes = []
    if n_all > n:
        notes.append(f"{n_all - n} of {n_all} responses left out because an item was not answered")
    if k < 2:
        return AlphaResult(math.nan, k, n, "; ".join([f"alpha needs at least 2 items; found {k}"] + notes))
    if n < 2:
        return AlphaResult(math.nan, k, n, "; ".join(
            [f"alpha needs at least 2 complete responses; found {n}"] + notes))
    total_var = float(data.sum(axis=1).var(ddof=1))
    if not total_var > 1e-12:
        return AlphaResult(math.nan, k, n, "; ".join(
            [f"the total score is the same for all {n} complete responses, so alpha is undefined"] + notes))
    alpha = k / (k - 1) * (1 - float(data.var(ddof=1).sum()) / total_var)
    if n < min_n:
        notes.insert(0, f"only {n} complete responses (fewer than {min_n}): alpha is unstable at this size")
    if alpha < 0:
        notes.append("alpha is negative: the items disagree with each other; check reverse keying")
    return AlphaResult(alpha, k, n, "; ".join(notes))


def scale_alphas(responses: pd.DataFrame, inst: Instrument, min_n: int = ALPHA_MIN_N) -> dict[str, AlphaResult]:
    """Cronbach's alpha for every scale of the instrument, on its cleaned, reverse-keyed items."""
    return {s.id: cronbach_alpha(scale_items(responses, inst, s.id), min_n=min_n) for s in inst.scales}


def alphas_frame(alphas: dict[str, AlphaResult]) -> pd.DataFrame:
    """One row per scale: scale, alpha, n_items, n_complete, note."""
    rows = [{"scale": sid, **a.to_dict()} for sid, a in alphas.items()]
    return pd.DataFrame(rows, columns=["scale", "alpha", "n_items", "n_complete", "note"])


def choice_keys(values: pd.Series, inst: Instrument, item_id: str) -> pd.Series:
    """Turn an item's numeric codes into its choice codes (``1`` -> ``"trainee"``), as an ordered category.

    Missing codes and unknown values become NaN, so they drop out of group comparisons.
    """
    item = inst.item(item_id)
    choices = [c for c in inst.choices_for(item) if not c.missing]
    lookup = {float(c.value): c.key for c in choices}
    numeric = pd.to_numeric(values, errors="coerce")
    keys = numeric.map(lambda v: lookup.get(float(v)) if pd.notna(v) else None)
    return pd.Series(pd.Categorical(keys, categories=[c.key for c in choices], ordered=True),
                     index=values.index, name=values.name)
