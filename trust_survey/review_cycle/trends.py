"""Trends across rounds: series that follow the instrument crosswalk, and workforce key figures.

:func:`series_with_breaks` gives every value a ``series_id``: item ids are stable, so an item keeps its
series from version to version unless a crosswalk entry says otherwise. An entry that ``continues``
joins the item to its previous item's series (a rename); one that does not starts a new series whose
first round carries ``break_before``, so a chart draws a gap instead of joining two different questions.

:func:`key_figures` totals the trust return's key-figure items by round and trust, region or nation,
keeping organisations that sent no return apart from organisations that returned zero.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from trust_survey.errors import TrustSurveyError
from trust_survey.instruments.model import Crosswalk, Instrument

VERSION_COL = "instrument_version"

#: The key figures of the trust return (section 8 of the HEE report), in report order.
KEY_FIGURES = (
    "kf_trainees_gen", "kf_trainees_hi", "kf_trainees_ps", "kf_in_post", "kf_left_programme", "kf_left_nhs",
    "kf_dest_industry", "kf_dest_academia", "kf_dest_public", "kf_dest_abroad", "kf_dest_unknown",
)
KEY_FIGURE_LEVELS = {"trust": "org_code", "region": "region_code", "national": None}


CrosswalkSource = Mapping[int, Iterable[Crosswalk]] | Iterable[Instrument]


def crosswalk_by_version(source: CrosswalkSource) -> dict[int, list[Crosswalk]]:
    """Normalise a crosswalk: ``{version: entries}`` as given, or built from instrument versions."""
    if isinstance(source, Mapping):
        return {int(v): list(entries) for v, entries in source.items()}
    return {inst.version: list(inst.crosswalk) for inst in source}


def series_with_breaks(values: pd.DataFrame, crosswalk: CrosswalkSource,
                       round_versions: Mapping[Any, int] | None = None) -> pd.DataFrame:
    """Give each row of ``values`` (columns ``round``, ``item_id``, any value columns) its trend series.

    The instrument version of each row comes from an ``instrument_version`` column, or from
    ``round_versions`` (round -> version). ``crosswalk`` is ``{version: [Crosswalk, ...]}`` (the entries
    each version declares against the one before) or a list of Instrument versions.

    Returns ``values`` sorted by round and item with four columns added: ``series_id`` (the id of the
    item that started the series; ``<item>@v<version>`` when a break reuses an id), ``break_before``
    (True on the rows of a series' first round when that series starts with a declared break),
    ``replaces`` (the series a broken one follows on from, if any) and ``crosswalk_note``.
    """
    missing = [c for c in ("round", "item_id") if c not in values.columns]
    if missing:
        raise TrustSurveyError(f"trend values need columns round and item_id; missing {', '.join(missing)}",
                               code="TR001")
    out = values.copy()
    if VERSION_COL not in out.columns:
        if round_versions is None:
            raise TrustSurveyError(f"trend values need an '{VERSION_COL}' column or a round -> version mapping "
                                   "to know where each crosswalk applies", code="TR002")
        out[VERSION_COL] = out["round"].map(round_versions)
    unknown = sorted(out.loc[out[VERSION_COL].isna(), "round"].unique().tolist())
    if unknown:
        raise TrustSurveyError(f"no instrument version known for round(s) {', '.join(map(str, unknown))}; "
                               f"fill '{VERSION_COL}' or the round -> version mapping", code="TR003")
    entries = crosswalk_by_version(crosswalk)
    versions = sorted(set(out[VERSION_COL].astype(int)) | set(entries))

    used: set[str] = set()
    previous: dict[str, str] = {}  # item id -> the series it belonged to when last seen
    assign: dict[tuple[int, str], tuple[str, bool, str | None, str]] = {}
    for version in versions:
        declared = {e.item: e for e in entries.get(version, [])}
        items = sorted(set(out.loc[out[VERSION_COL] == version, "item_id"].astype(str)) | set(declared))
        current: dict[str, str] = {}
        for item in items:
            entry = declared.get(item)
            if entry is None:
                series, broken, replaces, note = previous.get(item, item), False, None, ""
            elif entry.continues:
                before = entry.previous_item or item
                series, broken, replaces, note = previous.get(before, before), False, None, entry.note
            else:
                series = item if item not in used else f"{item}@v{version}"
                replaces = previous.get(entry.previous_item) if entry.previous_item else previous.get(item)
                broken, note = True, entry.note
            used.add(series)
            current[item] = series
            assign[(version, item)] = (series, broken, replaces, note)
        previous.update(current)

    keys = list(zip(out[VERSION_COL].astype(int), out["item_id"].astype(str)))
    out["series_id"] = [assign[k][0] for k in keys]
    out["replaces"] = [assign[k][2] for k in keys]
    out["crosswalk_note"] = [assign[k][3] for k in keys]
    starts_broken = pd.Series([assign[k][1] for k in keys], index=out.index)
    first_round = out.groupby("series_id")["round"].transform("min")
    out["break_before"] = starts_broken & (out["round"] == first_round)
    return out.sort_values(["round", "item_id"], kind="stable").reset_index(drop=True)


def key_figures(answers: pd.DataFrame, distribution: pd.DataFrame, by: str = "region",
                fields: Sequence[str] | None = None) -> pd.DataFrame:
    """Total the key figures of accepted trust returns by round and ``by`` (trust, region or national).

    ``answers``: tidy answers of accepted returns, columns ``round, org_code, region_code, field_id,
    value_num`` (one row per organisation, round and field). ``distribution``: who was sent the round,
    columns ``round, org_code, region_code`` (repeated rows per file are fine).

    Returns one row per round and group with ``returned`` and ``not_returned`` (organisations in the
    distribution without an accepted return), then one column per key figure: the total over the
    organisations that returned, NaN when none did (no return is not zero) or when every returned
    organisation left it blank, and ``blank_cells`` (key-figure cells left blank in returned returns).
    An organisation that returned without being in the distribution is counted as returned.
    """
    if by not in KEY_FIGURE_LEVELS:
        raise TrustSurveyError(f"key figures by '{by}' is not possible; choose one of "
                               f"{', '.join(KEY_FIGURE_LEVELS)}", code="KF002")
    need = {"answers": (answers, ["round", "org_code", "field_id", "value_num"]),
            "distribution": (distribution, ["round", "org_code"])}
    for name, (frame, cols) in need.items():
        missing = [c for c in cols if c not in frame.columns]
        if missing:
            raise TrustSurveyError(f"key figures: {name} is missing column(s) {', '.join(missing)}", code="KF003")

    kf = answers[answers["field_id"].astype(str).str.startswith("kf_")]
    names = list(fields) if fields is not None else (
        list(KEY_FIGURES) + sorted(set(kf["field_id"]) - set(KEY_FIGURES)))
    kf = kf[kf["field_id"].isin(names)]
    dups = kf[kf.duplicated(["round", "org_code", "field_id"], keep=False)]
    if len(dups):
        sample = dups[["round", "org_code", "field_id"]].drop_duplicates().head(3).to_dict("records")
        raise TrustSurveyError(f"key figures: {len(dups)} answer rows repeat a round, organisation and field "
                               f"(e.g. {sample}); pass only the accepted return of each organisation", code="KF001")

    wide = kf.pivot(index=["round", "org_code"], columns="field_id", values="value_num") if len(kf) else \
        pd.DataFrame(index=pd.MultiIndex.from_tuples([], names=["round", "org_code"]))
    wide = wide.reindex(columns=names).apply(pd.to_numeric, errors="coerce")
    returned_orgs = answers[["round", "org_code"]].drop_duplicates()
    wide = wide.reindex(pd.MultiIndex.from_frame(returned_orgs)).reset_index()

    orgs = _organisations(answers, distribution)
    orgs = orgs.merge(returned_orgs.assign(_returned=True), on=["round", "org_code"], how="left")
    orgs["_returned"] = orgs["_returned"].fillna(False).astype(bool)
    table = orgs.merge(wide, on=["round", "org_code"], how="left")
    level = KEY_FIGURE_LEVELS[by]
    table["_group"] = "ENG" if level is None else table[level].fillna("").astype(str)
    group_col = "nation" if level is None else level

    extra_cols = ["region_code"] if by == "trust" else []
    rows = []
    for (round_, grp), part in table.groupby(["round", "_group"], sort=True):
        got = part[part["_returned"]]
        row = {"round": round_, group_col: grp, **{c: part[c].iloc[0] for c in extra_cols},
               "returned": int(len(got)), "not_returned": int((~part["_returned"]).sum())}
        for name in names:
            row[name] = got[name].sum(min_count=1) if len(got) else np.nan
        row["blank_cells"] = int(got[names].isna().sum().sum()) if len(got) else 0
        rows.append(row)
    columns = ["round", group_col, *extra_cols, "returned", "not_returned", *names, "blank_cells"]
    return pd.DataFrame(rows, columns=columns)


def _organisations(answers: pd.DataFrame, distribution: pd.DataFrame) -> pd.DataFrame:
    """One row per round and organisation asked or answering, with its region (the distribution's first)."""
    cols = ["round", "org_code", "region_code"]
    dist = distribution.reindex(columns=cols).drop_duplicates(["round", "org_code"])
    extra = answers.reindex(columns=cols).drop_duplicates(["round", "org_code"])
    extra = extra.merge(dist[["round", "org_code"]], on=["round", "org_code"], how="left", indicator=True)
    extra = extra[extra["_merge"] == "left_only"].drop(columns="_merge")
    orgs = pd.concat([dist, extra], ignore_index=True)
    known = answers.reindex(columns=cols).dropna(subset=["region_code"]).drop_duplicates(["round", "org_code"])
    fallback = orgs[["round", "org_code"]].merge(known, on=["round", "org_code"], how="left")["region_code"]
    blank = orgs["region_code"].isna() | (orgs["region_code"].astype(str).str.strip() == "")
    orgs.loc[blank, "region_code"] = fallback[blank].to_numpy()
    return orgs
