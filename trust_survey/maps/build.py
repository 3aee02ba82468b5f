"""Draw the commissioners' map: one self-contained HTML page that works with no network at all.

:func:`build_map` takes the ranked candidates and the demand estimate and returns the page as text:

- one layer per stream of clustered department markers (a marker per department with staff matched to
  that stream), coloured by score; a hidden layer of departments with no matched staff;
- a popup per marker: department, organisation, score and rank, staff counts and the reasons behind the
  score; a tooltip with the department's name;
- demand by region or ICB behind the markers: a choropleth when boundaries are given, otherwise circles
  at each area's centre sized by the central estimate; "no return" is hatched grey and dashed, never the
  colour of zero;
- a legend drawn here (no CDN-hosted legend code), and the ranked table below the map.

Trusts typed the department names, so every text is HTML-escaped in Python before it reaches the page,
and the data travel as JSON with ``<``, ``>`` and ``&`` written as ``\\u`` escapes, so nothing typed can
end a script block or become a tag. Markers are created in the browser from compact arrays (strings
shared through lookup tables) rather than one folium object each, which keeps 5,000 departments well
under 10 MB. Leaflet, jQuery and marker clustering are inlined from the xstatic packages and the page is
checked for any remaining network reference before it is returned.
"""
from __future__ import annotations

import html
import json
import logging
import math
import re
from typing import Any

import numpy as np
import pandas as pd

from trust_survey.commissioning.weights import STREAMS, STREAM_LABELS
from trust_survey.maps.offline import asset, assert_offline, inline_assets

log = logging.getLogger(__name__)

ENGLAND_BOUNDS = [[49.9, -6.4], [55.9, 1.8]]
SCORE_BANDS = [  # (lowest total, css class, colour, label)
    (75, "ts-b4", "#08306b", "75 to 100"),
    (50, "ts-b3", "#2171b5", "50 to 75"),
    (25, "ts-b2", "#6baed6", "25 to 50"),
    (0, "ts-b1", "#c6dbef", "under 25"),
]
NO_STAFF_COLOUR = "#9e9e9e"
AREA_COLOURS = ["#fee8c8", "#fdbb84", "#ef6548", "#b30000"]   # positive central estimates, low to high
ZERO_COLOUR = "#ffffff"
NO_RETURN_COLOUR = "#bdbdbd"
STREAM_COLOURS = {"genomics": "#1b9e77", "health_informatics": "#7570b3", "physical_sciences": "#d95f02"}


def esc(value: Any) -> str:
    """Text for HTML: missing values become empty, everything else is escaped (quotes included)."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    return html.escape(str(value), quote=True)


def js_data(value: Any) -> str:
    """JSON safe to put inside a ``<script>`` block: no ``<``, ``>`` or ``&`` survive as characters."""
    text = json.dumps(value, ensure_ascii=True, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _num(value: Any, digits: int = 1) -> float | int | None:
    if value is None:
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    if math.isnan(f):
        return None
    f = round(f, digits)
    return int(f) if f.is_integer() else f


def _fmt(value: Any) -> str:
    v = _num(value)
    return "" if v is None else f"{v:g}" if isinstance(v, float) else str(v)


# ------------------------------------------------------------------------------------------- department data
def _department_payload(candidates: pd.DataFrame) -> dict:
    """Compact arrays for the markers: strings in lookup tables, one small row per (department, stream)."""
    orgs: dict[tuple[str, str], int] = {}
    org_rows: list[list[str]] = []
    depts: dict[str, int] = {}
    dept_rows: list[list] = []
    phrases: dict[str, int] = {}
    phrase_rows: list[str] = []
    streams: dict[str, list[list]] = {s: [] for s in STREAMS}
    totals = {s: 0 for s in STREAMS}
    relevant_keys: set[str] = set()
    unplaced: set[str] = set()

    def phrase(text: str) -> int:
        if text not in phrases:
            phrases[text] = len(phrase_rows)
            phrase_rows.append(esc(text))
        return phrases[text]

    records = candidates.to_dict("records")
    for r in records:
        key = str(r["dept_key"])
        if key not in depts:
            okey = (str(r.get("org_code", "")), str(r.get("org_name", "") or ""))
            if okey not in orgs:
                orgs[okey] = len(org_rows)
                region = r.get("region_name") or r.get("region_code")
                org_rows.append([esc(okey[1] or okey[0]), esc(okey[0]), esc(region)])
            lat, lon = _num(r.get("lat"), 5), _num(r.get("lon"), 5)
            depts[key] = len(dept_rows)
            dept_rows.append([esc(r["dept_name"]), orgs[okey], lat, lon, bool(r.get("dept_listed", True))])
            if lat is None or lon is None:
                unplaced.add(key)
        stream = r["stream"]
        if stream not in streams:
            continue
        totals[stream] += 1
        team = (_num(r.get("direct_headcount")) or 0) + (_num(r.get("adjacent_headcount")) or 0)
        if team <= 0:
            continue
        relevant_keys.add(key)
        reasons = [p for p in str(r.get("reasons") or "").split("; ") if p]
        streams[stream].append([
            depts[key], int(r["rank"]), _num(r["total"]), _num(r.get("direct_headcount")),
            _num(r.get("adjacent_headcount")), _num(r.get("supervisors_registered")),
            _num(r.get("supervisors_other")), [phrase(p) for p in reasons],
        ])
    no_staff = [i for k, i in depts.items() if k not in relevant_keys]
    return {
        "orgs": org_rows, "depts": dept_rows, "phrases": phrase_rows, "streams": streams, "totals": totals,
        "noStaff": no_staff, "labels": {s: esc(STREAM_LABELS[s].capitalize()) for s in STREAMS},
        "bands": [[lo, cls] for lo, cls, _, _ in SCORE_BANDS], "unplaced": len(unplaced),
    }


# ------------------------------------------------------------------------------------------------- area data
def _area_classes(values: pd.Series) -> tuple[list[float], list[str]]:
    """Upper bounds of the positive classes (quantiles) and their labels."""
    pos = np.sort(values[values > 0].to_numpy(dtype=float))
    if len(pos) == 0:
        return [], []
    cuts = sorted(set(np.round(np.quantile(pos, [0.25, 0.5, 0.75, 1.0]), 1)))
    cuts[-1] = max(cuts[-1], float(pos.max()))
    labels, lower = [], 0.0
    for c in cuts:
        labels.append(f"over {lower:g} to {c:g}")
        lower = c
    return cuts, labels


def _area_payload(demand: pd.DataFrame | None, level: str) -> tuple[list[dict], dict]:
    """Per area: name, status, figures and the tooltip (escaped HTML), plus the legend classes."""
    if demand is None or demand.empty:
        return [], {"cuts": [], "labels": []}
    d = demand[demand["level"] == level] if "level" in demand.columns else demand
    if "round" in d.columns and d["round"].notna().any():
        d = d[d["round"] == d["round"].max()]
    every = d[d["stream"] == "all"].set_index("group_code")
    cuts, labels = _area_classes(every["central"].dropna())
    areas = []
    for code, row in every.iterrows():
        status = str(row["status"])
        central = _num(row["central"])
        if status == "no return":
            klass = "none"
        elif not central:
            klass = "zero"
        else:
            klass = f"c{next(i for i, c in enumerate(cuts) if central <= c + 1e-9)}"
        lines = [f"<b>{esc(row['group_name'])}</b>"]
        lines.append(f"Returned: {int(row['returned'])} of {int(row['orgs'])} organisations")
        if status == "no return":
            lines.append("<i>No return: demand not known (not zero)</i>")
        else:
            lines.append(f"Estimated places a year, all streams: <b>{_fmt(row['central'])}</b> "
                         f"(low {_fmt(row['low'])}, high {_fmt(row['high'])})")
            per = d[(d["group_code"] == code) & (d["stream"] != "all")]
            for _, s in per.iterrows():
                lines.append(f"{esc(STREAM_LABELS.get(s['stream'], s['stream']).capitalize())}: "
                             f"{_fmt(s['central'])} (low {_fmt(s['low'])}, high {_fmt(s['high'])})")
            if status == "partial":
                lines.append("<i>Some organisations have not returned: a floor, not a total</i>")
        areas.append({"code": str(code), "name": esc(row["group_name"]), "cls": klass, "central": central,
                      "tip": "<br>".join(lines)})
    return areas, {"cuts": cuts, "labels": labels}


def _round_coords(value: Any, digits: int = 4) -> Any:
    if isinstance(value, list):
        if value and all(isinstance(v, (int, float)) for v in value):
            return [round(float(v), digits) for v in value]
        return [_round_coords(v, digits) for v in value]
    return value


def _boundary_features(boundaries: dict | None, areas: list[dict]) -> list[dict]:
    """Features whose code property matches our areas, reduced to geometry + our own properties."""
    if not boundaries or not areas:
        return []
    features = boundaries.get("features") or []
    codes = {a["code"] for a in areas}
    best_key, best_hits = None, 0
    keys = {k for f in features for k in (f.get("properties") or {})}
    for key in keys:
        hits = sum(1 for f in features if str((f.get("properties") or {}).get(key, "")).strip() in codes)
        if hits > best_hits:
            best_key, best_hits = key, hits
    if not best_key:
        log.warning("boundaries: no feature property matches the area codes; drawing circles instead")
        return []
    by_code = {a["code"]: a for a in areas}
    index = {a["code"]: i for i, a in enumerate(areas)}
    out = []
    for f in features:
        code = str((f.get("properties") or {}).get(best_key, "")).strip()
        geometry = f.get("geometry")
        if not geometry:
            continue
        geometry = {"type": geometry["type"], "coordinates": _round_coords(geometry["coordinates"])}
        props = {"i": index[code]} if code in by_code else {"i": -1}
        out.append({"type": "Feature", "geometry": geometry, "properties": props})
    return out


def _area_points(candidates: pd.DataFrame, areas: list[dict], level: str,
                 points: pd.DataFrame | None) -> dict[str, list[float]]:
    """Centre of each area: from ``points`` (group_code, lat, lon) when given, else the mean of its
    departments' locations."""
    out: dict[str, list[float]] = {}
    if points is not None and len(points):
        for _, p in points.iterrows():
            lat, lon = _num(p.get("lat"), 4), _num(p.get("lon"), 4)
            if lat is not None and lon is not None:
                out[str(p["group_code"])] = [lat, lon]
    code_col = {"region": "region_code", "icb": "icb_code"}.get(level)
    if code_col and code_col in candidates.columns:
        located = candidates.dropna(subset=["lat", "lon"]).drop_duplicates("dept_key")
        for code, g in located.groupby(code_col):
            out.setdefault(str(code), [round(float(g["lat"].mean()), 4), round(float(g["lon"].mean()), 4)])
    return {a["code"]: out[a["code"]] for a in areas if a["code"] in out}


# ------------------------------------------------------------------------------------------------- page parts
def _legend_html(payload: dict, area_info: dict, level: str, mode: str, unplaced_areas: int,
                 unsurveyed: int = 0) -> str:
    rows = ["<div class='ts-legend-title'>Departments: score out of 100</div>"]
    for _, cls, _, label in SCORE_BANDS:
        rows.append(f"<div><span class='ts-pin ts-sw {cls}'></span>{esc(label)}</div>")
    rows.append("<div><span class='ts-pin ts-sw ts-b0'></span>no staff matched (hidden layer)</div>")
    rows.append("<div class='ts-note'>Numbered circles are clusters of nearby departments.</div>")
    if payload["unplaced"]:
        rows.append(f"<div class='ts-note'>{payload['unplaced']} department(s) have no location and are only "
                    "in the table.</div>")
    if mode != "none":
        area_word = "region" if level == "region" else "ICB"
        rows.append(f"<div class='ts-legend-title'>Estimated places by {area_word} (central, all streams)</div>")
        if mode == "circles":
            rows.append("<div class='ts-note'>Circle size shows the central estimate.</div>")
        for colour, label in zip(AREA_COLOURS, area_info["labels"]):
            rows.append(f"<div><span class='ts-sw' style='background:{colour}'></span>{esc(label)}</div>")
        rows.append(f"<div><span class='ts-sw' style='background:{ZERO_COLOUR}'></span>0 (returned, no places)</div>")
        rows.append("<div><span class='ts-sw ts-hatch'></span>no return: not known, not zero</div>")
        if unsurveyed:
            rows.append("<div><span class='ts-sw ts-unsurveyed'></span>not sent the return this round</div>")
        if unplaced_areas:
            rows.append(f"<div class='ts-note'>{unplaced_areas} area(s) could not be placed on the map.</div>")
    return "".join(rows)


def _table_html(candidates: pd.DataFrame, limit: int) -> str:
    parts = ["<section class='ts-tables'><h2>Ranked candidate departments</h2>",
             "<p>Score out of 100, ranked within each stream. The reasons say where every point came from. "
             "Departments with no staff matched to a stream score 0 there.</p>"]
    for stream in STREAMS:
        rows = candidates[candidates["stream"] == stream]
        shown = rows.head(limit)
        label = STREAM_LABELS[stream].capitalize()
        more = f" (top {len(shown)} of {len(rows)}; the full list is in the candidates file)" \
            if len(rows) > len(shown) else ""
        parts.append(f"<h3 id='table-{stream}'>{esc(label)}{esc(more)}</h3>")
        parts.append("<table class='ts-table'><thead><tr><th>Rank</th><th>Department</th><th>Organisation</th>"
                     "<th>Region</th><th>Score</th><th>Direct staff</th><th>Adjacent staff</th>"
                     "<th>Supervisors (registered)</th><th>Why</th></tr></thead><tbody>")
        for r in shown.to_dict("records"):
            name = esc(r["dept_name"])
            if not r.get("dept_listed", True):
                name += " <i>(staff sheet only)</i>"
            if _num(r.get("lat")) is None:
                name += " <i>(no location)</i>"
            parts.append(
                f"<tr><td>{int(r['rank'])}</td><td>{name}</td><td>{esc(r.get('org_name') or r.get('org_code'))}</td>"
                f"<td>{esc(r.get('region_name') or r.get('region_code'))}</td><td>{_fmt(r['total'])}</td>"
                f"<td>{_fmt(r.get('direct_headcount'))}</td><td>{_fmt(r.get('adjacent_headcount'))}</td>"
                f"<td>{_fmt(r.get('supervisors_registered'))}</td><td class='ts-why'>{esc(r.get('reasons'))}</td></tr>")
        parts.append("</tbody></table>")
    parts.append("</section>")
    return "".join(parts)


PAGE_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;color:#222}
.ts-head{padding:6px 12px;border-bottom:1px solid #ccc}
.ts-head h1{font-size:1.2rem;margin:0}
.ts-head p{margin:2px 0;font-size:.85rem;color:#444}
.ts-pin{border-radius:50%;border:2px solid #fff;box-shadow:0 0 2px rgba(0,0,0,.8);box-sizing:border-box}
.ts-b4{background:#08306b}.ts-b3{background:#2171b5}.ts-b2{background:#6baed6}.ts-b1{background:#c6dbef}
.ts-b0{background:#9e9e9e}
.ts-legend{background:rgba(255,255,255,.92);padding:6px 8px;font-size:12px;line-height:18px;max-width:240px;
  box-shadow:0 0 4px rgba(0,0,0,.3);border-radius:4px}
.ts-legend-title{font-weight:bold;margin-top:4px}
.ts-sw{display:inline-block;width:14px;height:14px;margin-right:6px;vertical-align:middle;border:1px solid #555}
.ts-pin.ts-sw{border:2px solid #fff}
.ts-hatch{background:repeating-linear-gradient(45deg,#bdbdbd 0 3px,#fff 3px 6px);border:1px dashed #555}
.ts-unsurveyed{background:transparent;border:1px dashed #777}
.ts-note{font-size:11px;color:#555}
.leaflet-container{background:#eef2f5}
.leaflet-control-layers{font-size:13px}
.ts-pop{font-size:13px;line-height:1.35}
.ts-pop ul{margin:4px 0 0 16px;padding:0}
.ts-pop li{margin:0 0 2px 0}
.ts-tables{padding:8px 12px}
.ts-table{border-collapse:collapse;font-size:12px;width:100%;margin-bottom:16px}
.ts-table th,.ts-table td{border:1px solid #ddd;padding:3px 5px;text-align:left;vertical-align:top}
.ts-table th{background:#f2f2f2;position:sticky;top:0}
.ts-why{font-size:11px;color:#333;max-width:520px}
"""

_PLACEHOLDER = "/*trust-survey map script*/"
MAP_JS = r"""
(function () {
  var D = %(data)s;
  var A = %(areas)s;
  var map = %(map)s;
  var layers = {%(layers)s};
  var icons = {};
  function icon(cls) {
    if (!icons[cls]) {
      icons[cls] = L.divIcon({className: 'ts-pin ' + cls, iconSize: [14, 14], iconAnchor: [7, 7],
                              popupAnchor: [0, -7], tooltipAnchor: [7, 0]});
    }
    return icons[cls];
  }
  function band(total) {
    for (var i = 0; i < D.bands.length; i++) { if (total >= D.bands[i][0] && total > 0) return D.bands[i][1]; }
    return 'ts-b1';
  }
  function orgLine(d) {
    var o = D.orgs[d[1]];
    return o[0] + (o[2] ? ' &middot; ' + o[2] : '');
  }
  function popupFor(stream, r) {
    return function () {
      var d = D.depts[r[0]];
      var h = '<div class="ts-pop"><b>' + d[0] + '</b><br>' + orgLine(d) + '<br>' + D.labels[stream] +
        ': score <b>' + r[2] + '</b> of 100, rank ' + r[1] + ' of ' + D.totals[stream] +
        '<br>Staff matched: ' + r[3] + ' direct, ' + r[4] + ' adjacent; could supervise: ' + r[5] +
        ' registered, ' + r[6] + ' other<ul>';
      for (var i = 0; i < r[7].length; i++) { h += '<li>' + D.phrases[r[7][i]] + '</li>'; }
      return h + '</ul></div>';
    };
  }
  function nameFor(d) { return function () { return d[0]; }; }
  var counts = {};
  Object.keys(layers).forEach(function (stream) {
    var rows = stream === 'none' ? D.noStaff.map(function (i) { return [i]; }) : D.streams[stream];
    var markers = [];
    rows.forEach(function (r) {
      var d = D.depts[r[0]];
      if (d[2] === null || d[3] === null) return;
      var m = L.marker([d[2], d[3]], {icon: icon(stream === 'none' ? 'ts-b0' : band(r[2])), keyboard: false});
      if (stream === 'none') {
        m.bindPopup(function () {
          return '<div class="ts-pop"><b>' + d[0] + '</b><br>' + orgLine(d) +
            '<br>No staff here matched to any STP stream (score 0 in every stream).</div>';
        });
      } else {
        m.bindPopup(popupFor(stream, r), {maxWidth: 360});
      }
      m.bindTooltip(nameFor(d));
      markers.push(m);
    });
    layers[stream].addLayers(markers);
    counts[stream] = markers.length;
  });
  var areaLayer = null;
  if (A.mode !== 'none') {
    var areaStyle = function (a) {
      if (!a) return {color: '#777', weight: 1, fillOpacity: 0, dashArray: '2 4'};
      if (a.cls === 'none') return {color: '#555', weight: 1.5, dashArray: '6 4', fillColor: 'url(#ts-hatch)',
                                    fillOpacity: 0.9};
      if (a.cls === 'zero') return {color: '#555', weight: 1, fillColor: A.zero, fillOpacity: 0.7};
      return {color: '#555', weight: 1, fillColor: A.colours[+a.cls.slice(1)], fillOpacity: 0.6};
    };
    if (A.mode === 'polygons') {
      areaLayer = L.geoJSON(A.features, {
        style: function (f) { return areaStyle(A.areas[f.properties.i]); },
        onEachFeature: function (f, l) {
          var a = A.areas[f.properties.i];
          l.bindTooltip(a ? a.tip : 'Not on this round\'s distribution list', {sticky: true});
        }
      });
    } else {
      areaLayer = L.featureGroup();
      A.areas.forEach(function (a) {
        var p = A.points[a.code];
        if (!p) return;
        var st = areaStyle(a);
        if (a.cls === 'none') { st.fillColor = A.none; st.fillOpacity = 0.35; }
        st.radius = a.cls === 'none' ? 12 : a.cls === 'zero' ? 6 : 6 + 24 * Math.sqrt(a.central / A.max);
        L.circleMarker(p, st).bindTooltip(a.tip, {sticky: true}).addTo(areaLayer);
      });
    }
    %(area_group)s.addLayer(areaLayer);
    var addHatch = function () {
      var svg = map.getPanes().overlayPane.querySelector('svg');
      if (!svg || svg.querySelector('#ts-hatch')) return;
      var ns = svg.namespaceURI;
      var defs = document.createElementNS(ns, 'defs');
      var pat = document.createElementNS(ns, 'pattern');
      pat.setAttribute('id', 'ts-hatch');
      pat.setAttribute('patternUnits', 'userSpaceOnUse');
      pat.setAttribute('width', '8');
      pat.setAttribute('height', '8');
      pat.setAttribute('patternTransform', 'rotate(45)');
      var bg = document.createElementNS(ns, 'rect');
      bg.setAttribute('width', '8'); bg.setAttribute('height', '8'); bg.setAttribute('fill', A.none);
      var line = document.createElementNS(ns, 'rect');
      line.setAttribute('width', '3'); line.setAttribute('height', '8'); line.setAttribute('fill', '#ffffff');
      pat.appendChild(bg); pat.appendChild(line); defs.appendChild(pat);
      svg.insertBefore(defs, svg.firstChild);
    };
    addHatch();
    map.on('layeradd', addHatch);
    areaLayer.bringToBack && areaLayer.bringToBack();
  }
  var legend = L.control({position: 'bottomright'});
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'ts-legend');
    div.innerHTML = %(legend)s;
    L.DomEvent.disableScrollPropagation(div);
    return div;
  };
  legend.addTo(map);
  window.trustSurveyMap = {map: map, layers: layers, counts: counts, areas: areaLayer, areaMode: A.mode};
})();
"""


_VIEWPORT = re.compile(r"""<meta\b[^>]*\bname\s*=\s*["']?viewport["']?[^>]*>""", re.I)
VIEWPORT = '<meta name="viewport" content="width=device-width, initial-scale=1">'


def allow_zoom(page: str) -> str:
    """folium's page sets ``maximum-scale=1.0, user-scalable=no``, which stops people zooming on phones and
    tablets (WCAG 2.1 1.4.4, 1.4.10). Replace every viewport tag with one that lets the page be zoomed."""
    page = _VIEWPORT.sub("", page)
    return page.replace("<head>", "<head>" + VIEWPORT, 1)


def build_map(candidates: pd.DataFrame, demand: pd.DataFrame | None = None, *, area_level: str = "region",
              boundaries: dict | None = None, area_points: pd.DataFrame | None = None, tiles: str | None = None,
              tiles_attribution: str | None = None, title: str = "Candidate STP training departments",
              subtitle: str = "", table_limit: int = 100) -> str:
    """The whole map page as HTML text, checked to need no network (except ``tiles`` when given).

    In: ``candidates`` from :func:`trust_survey.commissioning.scoring.score_departments` (with ``lat``/``lon``);
    ``demand`` from :func:`trust_survey.commissioning.demand.estimate_demand` grouped by ``area_level`` (region or icb);
    ``boundaries`` a GeoJSON FeatureCollection of those areas, or None to draw circles at ``area_points``
    (``group_code``, ``lat``, ``lon``; default: the mean location of each area's departments).
    """
    import folium
    from folium.elements import MacroElement
    from folium.plugins import MarkerCluster
    from folium.template import Template

    payload = _department_payload(candidates)
    areas, area_info = _area_payload(demand, area_level)
    features = _boundary_features(boundaries, areas)
    mode = "none" if not areas else "polygons" if features else "circles"
    points = _area_points(candidates, areas, area_level, area_points) if mode == "circles" else {}
    unplaced_areas = len([a for a in areas if a["code"] not in points]) if mode == "circles" else 0
    positives = [a["central"] for a in areas if a["cls"].startswith("c") and a["central"]]
    area_data = {"mode": mode, "areas": areas, "features": features, "points": points,
                 "colours": AREA_COLOURS, "zero": ZERO_COLOUR, "none": NO_RETURN_COLOUR,
                 "max": max(positives) if positives else 1}

    m = folium.Map(location=[52.8, -1.6], zoom_start=6, tiles=None, maxZoom=18 if tiles else 12, minZoom=5,
                   height="75vh", prefer_canvas=False)
    m.default_js = [("leaflet", asset("leaflet", "leaflet.js")), ("jquery", asset("jquery", "jquery.min.js"))]
    m.default_css = [("leaflet_css", asset("leaflet", "leaflet.css"))]
    allowed: tuple[str, ...] = ()
    if tiles:
        attribution = esc(tiles_attribution or f"Base map: {tiles.split('/')[2] if '//' in tiles else tiles}")
        folium.TileLayer(tiles=tiles, attr=attribution, name="Base map", max_zoom=18).add_to(m)
        allowed = (tiles,)

    area_group = folium.FeatureGroup(name="Estimated places by " + ("region" if area_level == "region" else "ICB"),
                                     show=True)
    area_group.add_to(m)
    clusters = {}
    for i, stream in enumerate(STREAMS):
        label = f"{STREAM_LABELS[stream].capitalize()} ({len(payload['streams'][stream])} departments)"
        clusters[stream] = MarkerCluster(name=label, show=(i == 0),
                                         options={"chunkedLoading": True, "showCoverageOnHover": False})
    clusters["none"] = MarkerCluster(name=f"No matched staff ({len(payload['noStaff'])} departments)", show=False,
                                     options={"chunkedLoading": True, "showCoverageOnHover": False})
    for cluster in clusters.values():
        cluster.default_js = [("markercluster", asset("leaflet_markercluster", "leaflet.markercluster.js"))]
        cluster.default_css = [("markercluster_css", asset("leaflet_markercluster", "MarkerCluster.css")),
                               ("markercluster_default_css", asset("leaflet_markercluster",
                                                                   "MarkerCluster.Default.css"))]
        cluster.add_to(m)
    folium.LayerControl(collapsed=False).add_to(m)

    unsurveyed = sum(1 for f in features if f["properties"]["i"] < 0)
    legend = _legend_html(payload, area_info, area_level, mode, unplaced_areas, unsurveyed)
    script = MAP_JS % {
        "data": js_data(payload), "areas": js_data(area_data), "map": m.get_name(),
        "layers": ", ".join(f"{js_data(s)}: {c.get_name()}" for s, c in clusters.items()),
        "area_group": area_group.get_name(), "legend": js_data(legend),
    }

    class _Script(MacroElement):
        _template = Template("{% macro script(this, kwargs) %}" + _PLACEHOLDER + "{% endmacro %}")

    _Script().add_to(m)
    located = [d for d in payload["depts"] if d[2] is not None and d[3] is not None]
    if located:
        lats, lons = [d[2] for d in located], [d[3] for d in located]
        pad = 0.3
        m.fit_bounds([[min(lats) - pad, min(lons) - pad], [max(lats) + pad, max(lons) + pad]])
    else:
        m.fit_bounds(ENGLAND_BOUNDS)

    page = m.get_root().render()
    if page.count(_PLACEHOLDER) != 1:
        raise RuntimeError("map script placeholder not found exactly once in the rendered page")
    page = page.replace(_PLACEHOLDER, script, 1)
    head = (f"<style>{PAGE_CSS}</style>")
    header = (f"<header class='ts-head'><h1>{esc(title)}</h1>"
              f"{'<p>' + esc(subtitle) + '</p>' if subtitle else ''}"
              "<p>Works offline. Use the layer list (top right) to switch streams; click a marker for the "
              "reasons behind its score. The ranked table is below the map.</p></header>")
    page = page.replace("</head>", head + "</head>", 1)
    page = page.replace("<body>", "<body>" + header, 1)
    page = page.replace("</body>", _table_html(candidates, table_limit) + "</body>", 1)
    page = allow_zoom(page)
    page = page.replace("<html>", "<html lang=\"en\">", 1)
    page = page.replace("<head>", f"<head><title>{esc(title)}</title>", 1)
    page = inline_assets(page)
    assert_offline(page, allowed)
    return page
