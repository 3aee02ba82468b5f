"""Stage functions of the review-cycle report: every table, built once, as DataFrames.

In: :class:`~trust_survey.report.sources.ReportInputs`. Out: :class:`Report`, sections of
:class:`Table` objects (a sheet name, a title and a frame). The HTML page and the Excel workbook are both
rendered from these frames, so every number in the page is a cell of the workbook. Floats are rounded
here, once (:data:`DECIMALS`), booleans become "yes"/"no", and nothing is formatted later but for
thousands of a number's digits staying as they are.

Groups smaller than :data:`MIN_SHOWN` are never shown answer by answer (Likert distributions): the
questionnaire promises respondents that reports only show groups of five or more. Scale means of
smaller groups are shown with a warning, as comparisons need them, never their individual answers.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trust_survey.review_cycle.compare import compare_groups
from trust_survey.ingest.platform_csv import EMAIL, EMAIL_REDACTED
from trust_survey.review_cycle.scoring import (
    alphas_frame, choice_keys, scale_alphas, scale_scores, unanswered_items,
)
from trust_survey.instruments.model import Crosswalk
from trust_survey.review_cycle.trends import KEY_FIGURES, key_figures, series_with_breaks

#: Decimal places kept in the tables (and so shown in the page).
DECIMALS = 3
PCT_DECIMALS = 1
P_DECIMALS = 6
P_COLUMNS = ("p_value", "p_holm")
#: Fewer responses than this in a group: its Likert answers are not shown (the questionnaire's promise).
MIN_SHOWN = 5
#: Below this many responses a comparison names the group in a small-group warning.
MIN_COMPARE = 5
TOP_CANDIDATES = 10

KEY_FIGURE_LABELS = {
    "kf_trainees_gen": "STP trainees in training: genomics",
    "kf_trainees_hi": "STP trainees in training: health informatics",
    "kf_trainees_ps": "STP trainees in training: physical sciences",
    "kf_in_post": "Qualified clinical bioinformaticians in post",
    "kf_left_programme": "Trainees who left the programme",
    "kf_left_nhs": "Qualified staff who left the NHS",
    "kf_dest_industry": "Leavers to industry",
    "kf_dest_academia": "Leavers to universities or research institutes",
    "kf_dest_public": "Leavers to another public body",
    "kf_dest_abroad": "Leavers who moved abroad",
    "kf_dest_unknown": "Leavers to destinations not known",
}
STREAM_FIGURES = {"kf_trainees_gen": "genomics", "kf_trainees_hi": "health informatics",
                  "kf_trainees_ps": "physical sciences"}
#: Headings of the report's own columns, in the words the advisory group reads; a column that holds an
#: instrument's item (the key figures) is headed with the item's label from its definition instead.
COLUMN_LABELS = {
    "instrument_id": "Instrument", "instrument_version": "Instrument version", "sent": "Sent",
    "heard_from": "Heard from", "valid": "Valid returns", "submissions": "Submissions",
    "response_rate_pct": "Response rate (%)", "state": "State", "organisations": "Organisations",
    "org_code": "Organisation code", "org_name": "Organisation", "org_code_now": "Organisation code now",
    "last_received": "Last received", "errors": "Errors", "round": "Round", "nation": "Nation",
    "returned": "Organisations that returned", "not_returned": "Organisations that did not return",
    "blank_cells": "Blank cells", "figure_id": "Key figure id", "figure": "Key figure", "value": "Value",
    "series_id": "Series", "break_before": "Series break before this round", "crosswalk_note": "Crosswalk note",
    "stream": "Stream", "trainees": "Trainees", "region_code": "Region code", "region_name": "Region",
    "item_id": "Statement id", "statement": "Statement", "scale": "Scale", "reverse_keyed": "Reverse keyed",
    "group": "Respondent group", "respondents": "Respondents", "answered": "Answered", "shown": "Shown",
    "strongly_disagree": "Strongly disagree", "disagree": "Disagree", "neither": "Neither agree nor disagree",
    "agree": "Agree", "strongly_agree": "Strongly agree", "not_answered": "Not answered",
    "pct_agree": "Agree or strongly agree (%)", "mean": "Mean", "grouping": "Compared by", "n": "n",
    "sd": "Standard deviation", "se": "Standard error", "ci_low": "95% CI low", "ci_high": "95% CI high",
    "below_min_n": f"Fewer than {MIN_COMPARE}", "test": "Test", "groups": "Groups", "statistic": "Statistic",
    "df1": "df (between)", "df2": "df (within)", "p_value": "p", "significant": "Significant at 5%",
    "hedges_g": "Hedges' g", "eta_squared": "Eta squared", "omega_squared": "Omega squared",
    "summary": "Summary", "warnings": "Warnings", "label": "Label", "alpha": "Cronbach's alpha",
    "n_items": "Statements", "n_complete": "Complete answers", "note": "Note", "group_a": "Group A",
    "group_b": "Group B", "mean_difference": "Difference in means", "df": "df", "p_holm": "p (Holm)",
    "question": "Question", "comment": "Comment", "decision": "Decision", "titles": "Job titles",
    "pct": "Share (%)", "relation": "Relation", "method": "Method", "rank": "Rank", "total": "Score",
    "dept_name": "Department", "direct_headcount": "Direct staff", "adjacent_headcount": "Adjacent staff",
    "supervisors_registered": "Supervisors (registered)", "willingness": "Willingness",
    "places": "Places offered", "reasons": "Reasons", "group_code": "Area code", "group_name": "Area",
    "status": "Status", "orgs": "Organisations", "low": "Low", "central": "Central", "high": "High",
    "central_change": "Change in central estimate",
}
LIKERT_COLUMNS = ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]
GROUPINGS = {"group": "respondent group", "stream": "stream", "region": "region"}


@dataclass
class Table:
    """One table of the report: its sheet in the workbook, its heading in the page, and its rows."""

    sheet: str
    title: str
    frame: pd.DataFrame
    note: str = ""
    collapsed: bool = False     # long tables start folded in the page


@dataclass
class Section:
    id: str
    title: str
    paragraphs: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)     # parts that could not be made, and why
    warnings: list[str] = field(default_factory=list)
    tables: list[Table] = field(default_factory=list)
    charts: list[tuple[str, str]] = field(default_factory=list)   # (kind, sheet of the table it draws)


@dataclass
class Report:
    round: int
    title: str
    sections: list[Section]
    item_labels: dict[str, str] = field(default_factory=dict)   # item id -> its label in the definition

    def heading(self, column: str) -> str:
        """A column's heading for readers: the report's own words for its columns, else the label of the
        instrument item it holds, else the name with underscores as spaces."""
        if column in COLUMN_LABELS:
            return COLUMN_LABELS[column]
        if column in self.item_labels:
            return self.item_labels[column]
        words = str(column).replace("_", " ").strip()
        return words[:1].upper() + words[1:]

    def tables(self) -> list[Table]:
        return [t for s in self.sections for t in s.tables]

    def table(self, sheet: str) -> Table:
        return next(t for t in self.tables() if t.sheet == sheet)


# ---------------------------------------------------------------------------------------------- helpers

def tidy(frame: pd.DataFrame, pct: tuple[str, ...] = ()) -> pd.DataFrame:
    """Round floats (percentages to 1 place, the rest to :data:`DECIMALS`), booleans to yes/no, and
    whole-number floats to integers, so the page and the workbook hold the same values."""
    out = frame.copy().reset_index(drop=True)
    for col in out.columns:
        s = out[col]
        if s.dtype == bool or (s.dtype == object and s.map(lambda v: isinstance(v, (bool, np.bool_))).all()
                               and len(s)):
            out[col] = s.map(lambda v: "yes" if bool(v) else "no")
        elif pd.api.types.is_float_dtype(s) or str(s.dtype) in ("Float64", "Int64"):
            numbers = pd.to_numeric(s, errors="coerce").astype(float)
            numbers = numbers.round(PCT_DECIMALS if col in pct else P_DECIMALS if col in P_COLUMNS else DECIMALS)
            whole = numbers.dropna()
            if len(whole) and (whole == whole.round()).all() and whole.abs().max() < 1e15:
                out[col] = pd.array([None if math.isnan(v) else int(v) for v in numbers], dtype=object)
            else:
                out[col] = pd.array([None if math.isnan(v) else float(v) for v in numbers], dtype=object)
    return out


# ---------------------------------------------------------------------------------------------- status

def status_section(status: pd.DataFrame, round_: int) -> Section:
    section = Section("status", "Response and chase status")
    if status.empty:
        section.missing.append(f"nothing was sent or received for round {round_}: no distribution list and no "
                               "returns in the store")
        return section
    counts = (status.groupby(["instrument_id", "state"]).size().rename("organisations").reset_index())
    order = {"accepted": 0, "accepted with warnings": 1, "rejected": 2, "not returned": 3}
    counts = counts.sort_values(["instrument_id", "state"], key=lambda s: s.map(order) if s.name == "state" else s)
    totals = status.groupby("instrument_id").agg(
        sent=("in_distribution", "sum"), heard_from=("submissions", lambda s: int((s > 0).sum())),
        valid=("state", lambda s: int(s.isin(["accepted", "accepted with warnings"]).sum())),
        submissions=("submissions", "sum")).reset_index()
    totals["response_rate_pct"] = np.where(totals["sent"] > 0, 100 * totals["valid"] / totals["sent"].clip(lower=1),
                                           np.nan)
    for r in totals.itertuples():
        section.paragraphs.append(
            f"{r.instrument_id}: {r.valid} of {r.sent} organisations sent a valid return"
            + (f" ({r.response_rate_pct:.{PCT_DECIMALS}f}%)" if pd.notna(r.response_rate_pct) else "") + ".")
    owing = status[~status["state"].isin(["accepted", "accepted with warnings"])]
    chase = owing[["org_code", "org_name", "instrument_id", "state", "submissions", "last_received", "errors"]]
    chase = chase.assign(last_received=chase["last_received"].map(
        lambda v: "" if pd.isna(v) else pd.Timestamp(v).strftime("%Y-%m-%d %H:%M")))
    section.tables += [
        Table("Response rate", "Returns received and valid, per instrument", tidy(totals, ("response_rate_pct",))),
        Table("Response status", "Organisations by state", tidy(counts)),
        Table("Chase list", "Organisations still owing a valid return", tidy(chase),
              note="Contact details are in `trust-survey status --chase-list`, not in this report.",
              collapsed=len(chase) > 15),
    ]
    section.charts.append(("status", "Response status"))
    return section


# ---------------------------------------------------------------------------------------------- key figures

def _with_region_names(frame: pd.DataFrame, region_names: dict[str, str]) -> pd.DataFrame:
    if "region_code" not in frame.columns:
        return frame
    at = list(frame.columns).index("region_code") + 1
    out = frame.copy()
    out.insert(at, "region_name", out["region_code"].map(lambda c: region_names.get(str(c), "")))
    return out


def key_figure_section(answers: pd.DataFrame, distribution: pd.DataFrame, round_versions: dict[int, int],
                       trust_versions: list, round_: int, region_names: dict[str, str],
                       successor_of: dict[str, str] | None = None) -> Section:
    section = Section("key_figures", "Workforce key figures from trust returns")
    if answers.empty:
        section.missing.append(f"no accepted trust returns with key figures for round {round_} or before, so "
                               "there are no key figures yet")
        return section
    dist = distribution.copy()
    regions = dist.drop_duplicates(["round", "org_code"])[["round", "org_code", "region_code"]]
    ans = answers.merge(regions, on=["round", "org_code"], how="left")
    national = key_figures(ans, dist, by="national")
    national.insert(1, "instrument_version", national["round"].map(round_versions))
    by_region = _with_region_names(key_figures(ans, dist, by="region"), region_names)
    by_trust = key_figures(ans, dist, by="trust")
    names = dist.drop_duplicates(["round", "org_code"]).set_index(["round", "org_code"])["org_name"]
    by_trust.insert(2, "org_name", [names.get((r, o), "") for r, o in zip(by_trust["round"], by_trust["org_code"])])
    by_trust = _with_region_names(by_trust, region_names)
    # Organisations follow mergers: a trust's rows carry the trust it is part of now, to follow it over rounds.
    by_trust.insert(2, "org_code_now", by_trust["org_code"].map(lambda c: (successor_of or {}).get(str(c), c)))

    figures = [f for f in KEY_FIGURES if f in national.columns]
    values = national.melt(id_vars=["round"], value_vars=figures, var_name="item_id", value_name="value")
    versions = {r: round_versions.get(r, 1) for r in values["round"].unique()}
    trend = series_with_breaks(values, trust_versions or {1: []}, versions)
    trend.insert(2, "figure", trend["item_id"].map(KEY_FIGURE_LABELS).fillna(trend["item_id"]))
    trend = trend[["round", "item_id", "figure", "value", "series_id", "break_before", "crosswalk_note",
                   "instrument_version"]].rename(columns={"item_id": "figure_id"})
    trend = trend.sort_values(["figure_id", "round"], key=lambda s: s.map(
        {f: i for i, f in enumerate(figures)}) if s.name == "figure_id" else s).reset_index(drop=True)
    streams = trend[trend["figure_id"].isin(STREAM_FIGURES)].copy()
    streams.insert(1, "stream", streams["figure_id"].map(STREAM_FIGURES))
    streams = streams[["round", "stream", "value", "series_id", "break_before", "crosswalk_note"]].rename(
        columns={"value": "trainees"})

    breaks = trend[trend["break_before"]]
    for b in breaks.itertuples():
        section.warnings.append(f"Series break in {b.round}: {b.figure} is not comparable with earlier rounds "
                                f"({b.crosswalk_note or 'the question changed'}); the trend is drawn as two "
                                "lines, not joined.")
    now = national[national["round"] == round_]
    if len(now):
        row = now.iloc[0]
        section.paragraphs.append(
            f"Round {round_}: {row['returned']} organisations returned key figures and {row['not_returned']} did "
            "not; figures are totals over the organisations that returned (no return is never counted as 0).")
    section.tables += [
        Table("Key figures", "Key figures for England, by round", tidy(national)),
        Table("Key figure trend", "Each key figure across rounds, with series breaks", tidy(trend), collapsed=True,
              note="break_before = yes: the question changed in that round (see crosswalk_note), so the value "
                   "starts a new series and is not joined to earlier rounds."),
        Table("Trainees by stream", "STP trainees in training by stream, across rounds", tidy(streams)),
        Table("Key figures by region", "Key figures by NHS England region and round", tidy(by_region),
              collapsed=True),
        Table("Key figures by trust", "Key figures by organisation and round", tidy(by_trust), collapsed=True),
    ]
    section.charts += [("trend", "Key figure trend"), ("streams", "Trainees by stream")]
    return section


# ---------------------------------------------------------------------------------------------- individuals

def as_keys(values: pd.Series, inst, item_id: str) -> pd.Series:
    """An item's answers as its choice keys (``trainee``, ``gen``…), in choice order, whether they come as
    numeric codes or as keys already; missing codes and unknown values become NaN."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().sum() >= values.notna().sum() and values.notna().any():
        return choice_keys(values, inst, item_id)
    keys = _order(inst, item_id)
    text = values.astype(object).where(values.astype(object).isin(keys))
    return pd.Series(pd.Categorical(text, categories=keys, ordered=True), index=values.index, name=values.name)


def respondent_groups(responses: pd.DataFrame, inst, region_of: dict[str, str]) -> pd.DataFrame:
    """group, stream and region of each respondent, as choice keys and region names."""
    out = pd.DataFrame(index=responses.index)
    for item_id in ("group", "stream"):
        out[item_id] = as_keys(responses[item_id], inst, item_id) if item_id in responses else None
    trusts = responses["trust_code"] if "trust_code" in responses else pd.Series(None, index=responses.index)
    out["region"] = trusts.map(lambda c: region_of.get(str(c).strip().upper()) if isinstance(c, str) else None)
    if "region" in responses:
        known = responses["region"].astype(object).where(responses["region"].notna(), None)
        out["region"] = known.where(known.notna(), out["region"])
    return out


def _order(inst, item_id: str) -> list[str]:
    return [c.key for c in inst.choices_for(inst.item(item_id)) if not c.missing]


def likert_section(responses: pd.DataFrame, groups: pd.DataFrame, inst) -> Section:
    section = Section("likert", "Answers to each statement")
    scale_of = {i: s.id for s in inst.scales for i in s.items}
    rows = []
    for _, item in inst.form_items():
        if item.type != "likert":
            continue
        values = pd.to_numeric(responses.get(item.id), errors="coerce") if item.id in responses else \
            pd.Series(np.nan, index=responses.index)
        parts = [("all", pd.Series(True, index=responses.index))]
        parts += [(g, groups["group"] == g) for g in _order(inst, "group") if (groups["group"] == g).any()]
        for group, mask in parts:
            v = values[mask]
            answered = v[v.between(1, 5)]
            row = {"item_id": item.id, "statement": item.label, "scale": scale_of.get(item.id, ""),
                   "reverse_keyed": bool(item.reverse), "group": group, "respondents": int(mask.sum()),
                   "answered": int(len(answered))}
            shown = int(mask.sum()) >= MIN_SHOWN
            row["shown"] = shown
            for code, col in enumerate(LIKERT_COLUMNS, start=1):
                row[col] = int((answered == code).sum()) if shown else None
            row["not_answered"] = int(len(v) - len(answered)) if shown else None
            row["pct_agree"] = (100 * float((answered >= 4).mean()) if shown and len(answered) else None)
            row["mean"] = float(answered.mean()) if shown and len(answered) else None
            rows.append(row)
    frame = pd.DataFrame(rows)
    hidden = sorted(set(frame.loc[~frame["shown"], "group"])) if len(frame) else []
    if hidden:
        section.warnings.append(f"Groups with fewer than {MIN_SHOWN} respondents are not shown statement by "
                                f"statement ({', '.join(hidden)}): the questionnaire promises that reports only "
                                f"show groups of {MIN_SHOWN} or more.")
    section.paragraphs.append("Counts of each answer, for all respondents and by group. mean is the raw answer "
                              "(1 = strongly disagree, 5 = strongly agree), before reverse keying; pct_agree is "
                              "the share answering agree or strongly agree.")
    section.tables.append(Table("Likert distributions", "Answers per statement and group",
                                tidy(frame, ("pct_agree",)), collapsed=True))
    section.charts.append(("likert", "Likert distributions"))
    return section


def scores_section(responses: pd.DataFrame, groups: pd.DataFrame, inst) -> Section:
    section = Section("scores", "Scale scores and group comparisons")
    scores = scale_scores(responses, inst)
    labels = {s.id: s.label for s in inst.scales}
    data = pd.concat([scores, groups], axis=1)
    desc, tests, pairs = [], [], []
    for scale in inst.scales:
        for grouping in GROUPINGS:
            order = _order(inst, grouping) if grouping in ("group", "stream") else None
            if data[grouping].notna().sum() == 0:
                continue
            col = data[grouping].astype(object)
            result = compare_groups(data.assign(**{grouping: col}), scale.id, grouping, min_n=MIN_COMPARE,
                                    order=order)
            frame = result.to_frame()
            frame.insert(0, "grouping", grouping)
            frame.insert(0, "scale", scale.id)
            desc.append(frame)
            t = result.test
            tests.append({
                "scale": scale.id, "grouping": grouping, "test": t.test if t else "none",
                "groups": ", ".join(t.groups) if t else "", "statistic": t.statistic if t else None,
                "df1": t.df1 if t else None, "df2": t.df2 if t else None, "p_value": t.p_value if t else None,
                "significant": bool(t.significant) if t else False,
                "hedges_g": t.hedges_g if t else None, "eta_squared": t.eta_squared if t else None,
                "omega_squared": t.omega_squared if t else None, "summary": result.summary(),
                "warnings": "; ".join(result.warnings + result.notes)})
            for w in result.warnings:  # the same small groups recur for every scale: say it once per grouping
                section.warnings.append(f"By {GROUPINGS[grouping]}: {w}")
            if len(result.pairwise):
                p = result.pairwise_frame()
                p.insert(0, "grouping", grouping)
                p.insert(0, "scale", scale.id)
                pairs.append(p)
    unanswered = unanswered_items(responses, inst)
    for scale in inst.scales:
        empty = unanswered.get(scale.id, [])
        if len(empty) == len(scale.items):
            section.warnings.append(f"{scale.label} ({scale.id}) could not be scored: none of its {len(empty)} "
                                    f"statements was answered by anyone ({', '.join(empty)}); check that the "
                                    "answers were read (for a platform export, its mapping)")
        elif empty:
            section.warnings.append(f"{scale.label} ({scale.id}) is scored from {len(scale.items) - len(empty)} of "
                                    f"its {len(scale.items)} statements: nobody answered {', '.join(empty)}, so "
                                    "it is not comparable with rounds where every statement was answered")
    alphas = alphas_frame(scale_alphas(responses, inst))
    alphas.insert(1, "label", alphas["scale"].map(labels))
    section.paragraphs.append(
        "Each scale score is the mean of its statements after reverse keying (1 to 5); higher means: "
        + "; ".join(f"{s.label.lower()}: {s.higher_means}" for s in inst.scales if s.higher_means) + ". "
        "Two groups are compared with Welch's t-test (Hedges' g), more with one-way ANOVA (eta², omega²) and "
        f"Holm-corrected pairwise Welch tests, at the 5% level. Groups under {MIN_COMPARE} are flagged.")
    section.tables += [
        Table("Scale scores", "Scale scores by group, stream and region", tidy(pd.concat(desc, ignore_index=True))),
        Table("Tests", "Tests between groups", tidy(pd.DataFrame(tests))),
        Table("Reliability", "Cronbach's alpha per scale", tidy(alphas)),
    ]
    if pairs:
        section.tables.append(Table("Pairwise", "Pairwise Welch tests (Holm-corrected)",
                                    tidy(pd.concat(pairs, ignore_index=True)), collapsed=True))
    section.charts.append(("means", "Scale scores"))
    return section


def scale_crosswalk(versions: list) -> dict[int, list[Crosswalk]]:
    """The item crosswalk lifted to scales: a scale's series breaks in a version where one of its items does."""
    out: dict[int, list[Crosswalk]] = {}
    for inst in versions:
        out[inst.version] = []
        for scale in inst.scales:
            broken = [c for c in inst.crosswalk if c.item in scale.items and not c.continues]
            if broken:
                note = "; ".join(f"{c.item}: {c.note}" for c in broken)
                out[inst.version].append(Crosswalk(item=scale.id, continues=False, note=note))
    return out


def score_trend(by_round: dict[int, pd.DataFrame], inst, versions: list) -> pd.DataFrame:
    """Mean scale scores by round, for everyone and per respondent group, with series breaks.

    Each round is scored with its own instrument version; a scale whose items changed in a version
    starts a new series there (``break_before``), so the trend never joins different questions."""
    by_version = {v.version: v for v in versions}
    rows = []
    for round_, frame in sorted(by_round.items()):
        version = inst.version
        if "instrument_version" in frame and frame["instrument_version"].notna().any():
            version = int(pd.to_numeric(frame["instrument_version"]).max())
        scoring = by_version.get(version, inst)
        scores = scale_scores(frame, scoring)
        groups = as_keys(frame["group"], scoring, "group") if "group" in frame else pd.Series(None, index=frame.index)
        parts = [("All", pd.Series(True, index=frame.index))]
        parts += [(g, groups == g) for g in _order(scoring, "group") if (groups == g).any()]
        for scale in scoring.scales:
            for group, mask in parts:
                v = scores.loc[mask, scale.id].dropna()
                rows.append({"round": round_, "item_id": scale.id, "group": group, "n": int(len(v)),
                             "mean": float(v.mean()) if len(v) else np.nan, "below_min_n": len(v) < MIN_COMPARE,
                             "instrument_version": version})
    if not rows:
        return pd.DataFrame()
    trend = series_with_breaks(pd.DataFrame(rows), scale_crosswalk(versions) or {inst.version: []})
    trend = trend.rename(columns={"item_id": "scale"})
    order = {s.id: i for i, s in enumerate(inst.scales)}
    trend = trend.sort_values(["scale", "group", "round"], key=lambda s: s.map(order) if s.name == "scale" else s)
    return trend[["scale", "group", "round", "n", "mean", "below_min_n", "series_id", "break_before",
                  "crosswalk_note", "instrument_version"]].reset_index(drop=True)


def comments_section(responses: pd.DataFrame, groups: pd.DataFrame, inst) -> Section:
    section = Section("comments", "Comments")
    rows = []
    sizes = groups["group"].astype(object).value_counts()
    small = {g for g, n in sizes.items() if n < MIN_SHOWN}
    for _, item in inst.form_items():
        if item.type not in ("long_text",) or item.id not in responses:
            continue
        for idx, text in responses[item.id].items():
            if isinstance(text, str) and text.strip():
                clean = EMAIL.sub(EMAIL_REDACTED, text.strip())
                group = groups.at[idx, "group"]
                shown = f"a group of fewer than {MIN_SHOWN}" if group in small else group
                rows.append({"question": item.label, "group": shown, "comment": clean})
    frame = pd.DataFrame(rows, columns=["question", "group", "comment"])
    frame = frame.sort_values(["question", "group", "comment"]).reset_index(drop=True)
    section.paragraphs.append("Free text as respondents typed it (email addresses removed), without respondent "
                              "ids, sorted so that order does not link a comment to a person; the group of a "
                              f"comment is only named for groups of {MIN_SHOWN} or more.")
    section.tables.append(Table("Comments", "Free-text comments", tidy(frame.astype(object))))
    return section


# ---------------------------------------------------------------------------------------------- coding

def coding_section(matches: pd.DataFrame | None, missing: str) -> Section:
    section = Section("coding", "Job-title coding")
    if matches is None:
        section.missing.append(f"Title coding: {missing}")
        return section
    n = len(matches)
    decisions = matches.groupby("decision").size().rename("titles").reset_index()
    decisions["pct"] = 100 * decisions["titles"] / n
    streams = (matches.groupby(["stream", "relation"], dropna=False).size().rename("titles").reset_index()
               .fillna({"relation": ""}))
    if "method" in matches.columns:
        methods = matches.groupby("method", dropna=False).size().rename("titles").reset_index().fillna("")
    else:
        methods = pd.DataFrame(columns=["method", "titles"])
    reviewed = int(matches["review_action"].notna().sum()) if "review_action" in matches.columns else 0
    section.paragraphs.append(f"{n} job titles coded; {reviewed} of them decided by a reviewer.")
    section.tables += [
        Table("Coding decisions", "Titles by decision (auto, review, none)", tidy(decisions, ("pct",))),
        Table("Coding by stream", "Titles by STP stream and relation", tidy(streams)),
        Table("Coding by method", "Titles by how they were matched", tidy(methods)),
    ]
    return section


# ---------------------------------------------------------------------------------------------- commissioning

CANDIDATE_SHOWN = ["stream", "rank", "total", "org_code", "org_name", "dept_name", "region_name", "direct_headcount",
                   "adjacent_headcount", "supervisors_registered", "willingness", "places", "reasons"]
DEMAND_SHOWN = ["round", "group_code", "group_name", "stream", "status", "orgs", "returned", "low", "central",
                "high", "central_change"]


def commissioning_section(candidates: pd.DataFrame | None, demand: pd.DataFrame | None, missing: str,
                          round_: int, notes: list[str] = ()) -> Section:
    section = Section("commissioning", "Candidate departments and demand")
    section.paragraphs += [f"Note: {n}" for n in dict.fromkeys(notes)]
    if candidates is None or demand is None:
        section.missing.append(f"Candidate departments and demand: {missing}")
        return section
    top = (candidates[candidates["total"] > 0].sort_values(["stream", "rank"])
           .groupby("stream", sort=False).head(TOP_CANDIDATES))
    top = top[[c for c in CANDIDATE_SHOWN if c in top.columns]]
    now = demand[demand["round"] == round_]
    now = now[[c for c in DEMAND_SHOWN if c in now.columns]]
    trend = (demand.groupby(["round", "stream"], sort=True)[["low", "central", "high"]]
             .sum(min_count=1).reset_index())
    section.paragraphs.append(f"The {TOP_CANDIDATES} highest-scoring departments per stream (see `trust-survey "
                              "candidates` for every department and every score component), and estimated "
                              "training places a year by region (low, central, high scenarios).")
    section.tables += [
        Table("Top candidates", f"Top {TOP_CANDIDATES} candidate departments per stream", tidy(top)),
        Table("Demand by region", f"Estimated places by region, round {round_}", tidy(now), collapsed=True),
        Table("Demand trend", "Estimated places for England, by round and stream", tidy(trend)),
    ]
    return section


# ---------------------------------------------------------------------------------------------- the lot

def build_report(inputs, *, include_free_text: bool = False, region_of: dict[str, str] | None = None,
                 region_names: dict[str, str] | None = None, successor_of: dict[str, str] | None = None) -> Report:
    """Every section of the round's report, from its inputs (see :mod:`trust_survey.report.sources`)."""
    region_names = region_names or {}
    sections = [status_section(inputs.status, inputs.round),
                key_figure_section(inputs.kf_answers, inputs.distribution, inputs.round_versions,
                                   inputs.trust_versions, inputs.round, region_names, successor_of)]
    if inputs.responses is None:
        for sid, title in (("likert", "Answers to each statement"), ("scores", "Scale scores and group comparisons")):
            sections.append(Section(sid, title, missing=[inputs.responses_missing]))
    else:
        inst = inputs.individual
        groups = respondent_groups(inputs.responses, inst, region_of or {})
        n = len(inputs.responses)
        likert = likert_section(inputs.responses, groups, inst)
        likert.paragraphs.insert(0, f"{n} individual responses in round {inputs.round}.")
        scores = scores_section(inputs.responses, groups, inst)
        trend = score_trend({**inputs.earlier_responses, inputs.round: inputs.responses}, inst,
                            inputs.individual_versions or [inst])
        if len(trend):
            rounds = sorted(set(trend["round"]))
            scores.tables.append(Table("Score trend", "Scale scores across rounds, with series breaks", tidy(trend),
                                       note="Rounds with individual responses: " + ", ".join(map(str, rounds))
                                       + ". break_before = yes: a statement of the scale changed in that round."))
            scores.charts.append(("score_trend", "Score trend"))
        sections += [likert, scores]
        if include_free_text:
            sections.append(comments_section(inputs.responses, groups, inst))
    if not include_free_text:
        sections.append(Section("comments", "Comments", paragraphs=[
            "Free-text answers are left out of this report; run it with --include-free-text to include them."]))
    sections.append(coding_section(inputs.matches, inputs.matches_missing))
    sections.append(commissioning_section(inputs.candidates, inputs.demand, inputs.commissioning_missing,
                                          inputs.round, inputs.notes))
    return Report(inputs.round, f"Clinical bioinformatics review cycle: round {inputs.round}", sections,
                  item_labels=item_labels([*inputs.trust_versions, *inputs.individual_versions,
                                           *([inputs.individual] if inputs.individual else [])]))


def item_labels(instruments: list) -> dict[str, str]:
    """Each answer field's label from the instrument definitions, a later version's label winning."""
    labels: dict[str, str] = {}
    for inst in sorted(instruments, key=lambda i: (i.id, i.version)):
        for f in inst.fields():
            labels[f.field_id] = f.label
    return labels
