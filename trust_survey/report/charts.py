"""Charts for the review-cycle report as inline SVG text: no scripts, no fonts, no network.

Each function takes one of the report's tables (the frame the workbook also holds) and returns an
``<svg>`` element as a string. Every piece of text is escaped. A trend line is split wherever its series
breaks (a declared crosswalk break starts a new series) or a round has no value, so a break is drawn as a
gap with a dashed marker, never joined.
"""
from __future__ import annotations

import math
from html import escape

import pandas as pd

PALETTE = ["#005eb8", "#ed8b00", "#009639", "#7c2855", "#00a9ce", "#8a1538", "#425563", "#ffb81c"]
LIKERT_COLOURS = ["#b2182b", "#ef8a62", "#d9d9d9", "#67a9cf", "#2166ac"]
STATE_COLOURS = {"accepted": "#009639", "accepted with warnings": "#78be20", "rejected": "#da291c",
                 "not returned": "#aeb7bd"}


def _e(text) -> str:
    return escape(str(text), quote=True)


def _num(v) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


def _fmt(v: float) -> str:
    return f"{v:g}"


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    out, v = [round(start, 10)], start
    while v < hi - step * 1e-9:   # the top tick is at or above the highest value
        v += step
        out.append(round(v, 10))
    return out


def line_chart(frame: pd.DataFrame, *, x: str, y: str, label: str, series: str, breaks: str | None,
               title: str, width: int = 860, height: int = 300) -> str:
    """Lines of ``y`` against ``x`` (rounds), one colour per ``label``; a new ``series`` value or a missing
    value starts a new line, and a row flagged in ``breaks`` gets a dashed marker."""
    data = frame.dropna(subset=[x])
    if data.empty:
        return ""
    present = sorted({int(v) for v in data[x]})
    xs = list(range(present[0], present[-1] + 1))   # every year, so a round with no data shows as a gap
    ys = [v for v in (_num(v) for v in data[y]) if v is not None]
    top = max(ys) if ys else 1
    ticks = _ticks(0, top * 1.1 if top > 0 else 1)
    left, right, upper, lower = 56, 330, 30, 36
    pw, ph = width - left - right, height - upper - lower

    def px(v):
        return left + (pw * (xs.index(v) / (len(xs) - 1)) if len(xs) > 1 else pw / 2)

    def py(v):
        return upper + ph - ph * v / ticks[-1]

    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{_e(title)}"><title>{_e(title)}</title>'
             f'<text x="{left}" y="14" font-size="12" font-weight="bold">{_e(title)}</text>']
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e8edee"/>'
                     f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>')
    for v in xs:
        parts.append(f'<text x="{px(v):.1f}" y="{upper + ph + 18}" text-anchor="middle" font-size="11">{v}</text>')
    labels = list(dict.fromkeys(data[label]))
    for i, name in enumerate(labels):
        colour = PALETTE[i % len(PALETTE)]
        rows = data[data[label] == name].sort_values(x)
        segment: list[tuple[float, float]] = []
        segments = []
        last_series, last_x = None, None
        for r in rows.itertuples(index=False):
            rec = r._asdict()
            value, sid = _num(rec[y]), rec[series]
            skipped = last_x is not None and int(rec[x]) - last_x > 1
            last_x = int(rec[x])
            if value is None or skipped or (last_series is not None and sid != last_series):
                if segment:
                    segments.append(segment)
                segment = []
            if value is not None:
                segment.append((px(int(rec[x])), py(value)))
            if breaks and str(rec[breaks]) in ("yes", "True"):
                bx = px(int(rec[x]))
                parts.append(f'<line class="series-break" x1="{bx - 8:.1f}" x2="{bx - 8:.1f}" y1="{upper}" '
                             f'y2="{upper + ph}" stroke="{colour}" stroke-dasharray="4 3"/>'
                             f'<text x="{bx - 10:.1f}" y="{upper + 10}" text-anchor="end" font-size="10" '
                             f'fill="{colour}">break</text>')
            last_series = sid
        if segment:
            segments.append(segment)
        for seg in segments:
            points = " ".join(f"{a:.1f},{b:.1f}" for a, b in seg)
            if len(seg) > 1:
                parts.append(f'<polyline class="series" points="{points}" fill="none" stroke="{colour}" '
                             'stroke-width="2"/>')
            for a, b in seg:
                parts.append(f'<circle cx="{a:.1f}" cy="{b:.1f}" r="3.5" fill="{colour}"/>')
        ly = upper + 14 + 18 * i
        parts.append(f'<rect x="{left + pw + 16}" y="{ly - 9}" width="12" height="3" fill="{colour}"/>'
                     f'<text x="{left + pw + 34}" y="{ly - 4}" font-size="11">{_e(name)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def likert_chart(frame: pd.DataFrame, title: str, width: int = 760) -> str:
    """100% stacked bars, one per statement, from the ``all`` rows of the Likert table."""
    rows = frame[(frame["group"] == "all") & (frame["shown"] == "yes")]
    if rows.empty:
        return ""
    cols = ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]
    names = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]
    left, bar_w, row_h = 330, width - 350, 24
    height = 40 + row_h * len(rows) + 10
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for k, (name, colour) in enumerate(zip(names, LIKERT_COLOURS)):
        parts.append(f'<rect x="{left + k * 120 - 200}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{left + k * 120 - 184}" y="16" font-size="11">{name}</text>')
    for i, r in enumerate(rows.to_dict("records")):
        y = 32 + i * row_h
        counts = [_num(r[c]) or 0 for c in cols]
        total = sum(counts)
        text = r["statement"] if len(str(r["statement"])) <= 52 else str(r["statement"])[:50] + "…"
        parts.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end" font-size="11">{_e(text)}</text>')
        parts.extend(_stacked_bar(left, y, bar_w, row_h - 6, total,
                                  [(c, colour, _fmt(c)) for c, colour in zip(counts, LIKERT_COLOURS)]))
    parts.append("</svg>")
    return "".join(parts)


def means_chart(frame: pd.DataFrame, title: str, width: int = 720) -> str:
    """Mean and confidence interval of each scale by respondent group, on the 1-5 scale."""
    rows = frame[(frame["grouping"] == "group")]
    if rows.empty:
        return ""
    left, right, row_h = 250, 40, 20
    pw = width - left - right
    height = 40 + row_h * len(rows) + 10

    def px(v):
        return left + pw * (v - 1) / 4

    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for t in (1, 2, 3, 4, 5):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="24" y2="{height - 6}" stroke="#e8edee"/>'
                     f'<text x="{px(t):.1f}" y="16" text-anchor="middle" font-size="11">{t}</text>')
    for i, r in enumerate(rows.to_dict("records")):
        y = 36 + i * row_h
        small = str(r.get("below_min_n")) == "yes"
        parts.append(f'<text x="{left - 8}" y="{y + 4}" text-anchor="end" font-size="11">'
                     f'{_e(r["scale"])}: {_e(r["group"])} (n={_e(r["n"])}){" *" if small else ""}</text>')
        mean, lo, hi = _num(r["mean"]), _num(r["ci_low"]), _num(r["ci_high"])
        if lo is not None and hi is not None:
            parts.append(f'<line x1="{px(max(1, lo)):.1f}" x2="{px(min(5, hi)):.1f}" y1="{y}" y2="{y}" '
                         'stroke="#425563"/>')
        if mean is not None:
            colour = "#aeb7bd" if small else "#005eb8"
            parts.append(f'<circle cx="{px(mean):.1f}" cy="{y}" r="4.5" fill="{colour}"><title>{_fmt(mean)}</title>'
                         '</circle>')
    parts.append("</svg>")
    return "".join(parts)


def status_chart(frame: pd.DataFrame, title: str, width: int = 720) -> str:
    """One stacked bar per instrument: organisations by state."""
    if frame.empty:
        return ""
    instruments = list(dict.fromkeys(frame["instrument_id"]))
    left, row_h = 160, 28
    bar_w = width - left - 20
    height = 34 + row_h * len(instruments)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" aria-label="{_e(title)}"><title>{_e(title)}</title>']
    for k, (state, colour) in enumerate(STATE_COLOURS.items()):
        parts.append(f'<rect x="{left + k * 165}" y="6" width="12" height="12" fill="{colour}"/>'
                     f'<text x="{left + k * 165 + 16}" y="16" font-size="11">{state}</text>')
    for i, inst in enumerate(instruments):
        part = frame[frame["instrument_id"] == inst]
        total = sum(_num(v) or 0 for v in part["organisations"])
        y = 28 + i * row_h
        parts.append(f'<text x="{left - 8}" y="{y + 15}" text-anchor="end" font-size="11">{_e(inst)}</text>')
        counts = {state: sum(_num(v) or 0 for v in part.loc[part["state"] == state, "organisations"])
                  for state in STATE_COLOURS}
        segments = [(n, STATE_COLOURS[state], f"{_e(state)}: {_fmt(n)}") for state, n in counts.items()]
        parts.extend(_stacked_bar(left, y, bar_w, row_h - 8, total, segments))
    parts.append("</svg>")
    return "".join(parts)


def _stacked_bar(left: float, y: float, bar_w: float, height: float, total: float,
                 segments: list[tuple[float, str, str]]) -> list[str]:
    """One horizontal bar: each (count, colour, tooltip) a segment of its share of ``total``, left to right."""
    out, x = [], left
    for n, colour, tip in segments:
        w = bar_w * n / total if total else 0
        if w > 0:
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{height}" fill="{colour}">'
                       f'<title>{tip}</title></rect>')
        x += w
    return out


def chart_for(kind: str, frame: pd.DataFrame, title: str) -> str:
    """The chart of ``kind`` drawn from its table."""
    if kind == "trend":
        rows = frame[~frame["figure_id"].isin(["kf_trainees_gen", "kf_trainees_hi", "kf_trainees_ps"])
                     & frame["figure_id"].isin(["kf_in_post", "kf_left_programme", "kf_left_nhs"])]
        return line_chart(rows, x="round", y="value", label="figure", series="series_id", breaks="break_before",
                          title=title)
    if kind == "streams":
        return line_chart(frame, x="round", y="trainees", label="stream", series="series_id", breaks="break_before",
                          title=title)
    if kind == "score_trend":
        return line_chart(frame[frame["group"] == "All"], x="round", y="mean", label="scale", series="series_id",
                          breaks="break_before", title=title)
    if kind == "likert":
        return likert_chart(frame, title)
    if kind == "means":
        return means_chart(frame, title)
    if kind == "status":
        return status_chart(frame, title)
    raise ValueError(f"unknown chart kind {kind!r}")
