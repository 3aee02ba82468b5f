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


#: Width of a character as a share of the font size: wider than Arial's average letter, so a text's
#: estimated width is never less than the width it is drawn at.
CHAR_WIDTH = 0.62
FONT = 11


def text_width(text, size: float = FONT) -> float:
    return len(str(text)) * size * CHAR_WIDTH


def _fit(text, room: float, size: float = FONT) -> str:
    """``text``, cut with an ellipsis where it would be wider than ``room``."""
    text = str(text)
    most = max(1, int(room / (size * CHAR_WIDTH)))
    return text if len(text) <= most else text[:most - 1] + "…"


def _legend(entries: list[tuple[str, str]], x0: float, y0: float, right: float,
            swatch_h: float = 12) -> tuple[list[str], float]:
    """Legend entries (name, colour) laid out left to right from ``(x0, y0)``, starting a new line before
    an entry would pass ``right``, so no name is ever cut. Returns the parts and the y below the last line."""
    parts, x, y, line = [], x0, y0, 18
    for name, colour in entries:
        name = _fit(name, right - x0 - 16)
        w = 16 + text_width(name) + 18
        if x > x0 and x + w - 18 > right:
            x, y = x0, y + line
        parts.append(f'<rect x="{x:.1f}" y="{y + (12 - swatch_h) / 2:.1f}" width="12" height="{swatch_h}" '
                     f'fill="{colour}"/><text x="{x + 16:.1f}" y="{y + 10}" font-size="{FONT}">{_e(name)}</text>')
        x += w
    return parts, y + line


def _svg_open(width: float, height: float, title: str) -> str:
    return (f'<svg class="chart" role="img" viewBox="0 0 {width:.0f} {height:.0f}" width="{width:.0f}" '
            f'height="{height:.0f}" aria-label="{_e(title)}"><title>{_e(title)}</title>')


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
    left, right, upper, lower = 56, 20, 30, 36
    pw, ph = width - left - right, height - upper - lower
    labels = list(dict.fromkeys(data[label]))
    legend, bottom = _legend([(name, PALETTE[i % len(PALETTE)]) for i, name in enumerate(labels)],
                             left, height + 2, width - 8, swatch_h=3)

    def px(v):
        return left + (pw * (xs.index(v) / (len(xs) - 1)) if len(xs) > 1 else pw / 2)

    def py(v):
        return upper + ph - ph * v / ticks[-1]

    parts = [_svg_open(width, bottom + 4, title),
             f'<text x="{left}" y="14" font-size="12" font-weight="bold">{_e(_fit(title, width - left - 8, 12))}'
             '</text>']
    for t in ticks:
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#e8edee"/>'
                     f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" font-size="11">{_fmt(t)}</text>')
    for v in xs:
        parts.append(f'<text x="{px(v):.1f}" y="{upper + ph + 18}" text-anchor="middle" font-size="11">{v}</text>')
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
    parts += legend
    parts.append("</svg>")
    return "".join(parts)


def _label_room(texts, width: float) -> float:
    """Room for the labels left of the bars: the widest label, but never more than 45% of the chart."""
    return min(width * 0.45, max([text_width(t) for t in texts] + [40]) + 16)


def likert_chart(frame: pd.DataFrame, title: str, width: int = 760) -> str:
    """100% stacked bars, one per statement, from the ``all`` rows of the Likert table."""
    rows = frame[(frame["group"] == "all") & (frame["shown"] == "yes")]
    if rows.empty:
        return ""
    cols = ["strongly_disagree", "disagree", "neither", "agree", "strongly_agree"]
    names = ["Strongly disagree", "Disagree", "Neither", "Agree", "Strongly agree"]
    records = rows.to_dict("records")
    left = _label_room([r["statement"] for r in records], width)
    bar_w, row_h = width - left - 20, 24
    legend, top = _legend(list(zip(names, LIKERT_COLOURS)), 8, 6, width - 8)
    height = top + 8 + row_h * len(records) + 4
    parts = [_svg_open(width, height, title), *legend]
    for i, r in enumerate(records):
        y = top + 8 + i * row_h
        counts = [_num(r[c]) or 0 for c in cols]
        total = sum(counts)
        parts.append(f'<text x="{left - 8:.1f}" y="{y + 14}" text-anchor="end" font-size="11">'
                     f'<title>{_e(r["statement"])}</title>{_e(_fit(r["statement"], left - 12))}</text>')
        parts.extend(_stacked_bar(left, y, bar_w, row_h - 6, total,
                                  [(c, colour, _fmt(c)) for c, colour in zip(counts, LIKERT_COLOURS)]))
    parts.append("</svg>")
    return "".join(parts)


def means_chart(frame: pd.DataFrame, title: str, width: int = 720) -> str:
    """Mean and confidence interval of each scale by respondent group, on the 1-5 scale."""
    rows = frame[(frame["grouping"] == "group")]
    if rows.empty:
        return ""
    records = rows.to_dict("records")
    names = [f'{r["scale"]}: {r["group"]} (n={r["n"]}){" *" if str(r.get("below_min_n")) == "yes" else ""}'
             for r in records]
    left, right, row_h = _label_room(names, width), 40, 20
    pw = width - left - right
    height = 40 + row_h * len(records) + 10

    def px(v):
        return left + pw * (v - 1) / 4

    parts = [_svg_open(width, height, title)]
    for t in (1, 2, 3, 4, 5):
        parts.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="24" y2="{height - 6}" stroke="#e8edee"/>'
                     f'<text x="{px(t):.1f}" y="16" text-anchor="middle" font-size="11">{t}</text>')
    for i, (r, name) in enumerate(zip(records, names)):
        y = 36 + i * row_h
        small = str(r.get("below_min_n")) == "yes"
        parts.append(f'<text x="{left - 8:.1f}" y="{y + 4}" text-anchor="end" font-size="11">'
                     f'<title>{_e(name)}</title>{_e(_fit(name, left - 12))}</text>')
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
    left, row_h = _label_room(instruments, width), 28
    bar_w = width - left - 20
    legend, top = _legend(list(STATE_COLOURS.items()), 8, 6, width - 8)
    height = top + 6 + row_h * len(instruments)
    parts = [_svg_open(width, height, title), *legend]
    for i, inst in enumerate(instruments):
        part = frame[frame["instrument_id"] == inst]
        total = sum(_num(v) or 0 for v in part["organisations"])
        y = top + 4 + i * row_h
        parts.append(f'<text x="{left - 8:.1f}" y="{y + 15}" text-anchor="end" font-size="11">'
                     f'{_e(_fit(inst, left - 12))}</text>')
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
