"""The offline map: no network references, escaped text, and a real headless Chromium with the network cut."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from trust_survey.commissioning.scoring import score_departments
from trust_survey.commissioning.weights import DEFAULT_WEIGHTS, load_weights
from trust_survey.commissioning.demand import estimate_demand
from trust_survey.maps import OfflineError, assert_offline, build_map, offline_problems

from conftest import axe_summary, leaflet_axe_exceptions, own_violations

XSS_ALERT = "<img src=x onerror=alert(1)>"
HOSTILE = [
    XSS_ALERT,
    '<img src=x onerror="window.__xss=1">',
    '"><script>window.__xss=1</script>',
    "</script><script>window.__xss=1</script>",
    "'); window.__xss=1; //",
    "`${window.__xss=1}` O'Brien & Sons",
]


def _frames(n_depts: int, n_orgs: int, seed: int = 1, hostile: bool = False):
    rng = np.random.default_rng(seed)
    orgs = [f"R{i:03d}" for i in range(n_orgs)]
    regions = ["Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63"]
    org_region = {o: regions[i % len(regions)] for i, o in enumerate(orgs)}
    names = [f"Department {i} medical physics and informatics" for i in range(n_depts)]
    if hostile:
        names[:len(HOSTILE)] = HOSTILE
    deps = pd.DataFrame({
        "org_code": [orgs[i % n_orgs] for i in range(n_depts)], "dept_name": names,
        "dept_hosting": rng.integers(1, 4, n_depts), "dept_streams__gen": rng.integers(0, 2, n_depts),
        "lat": rng.uniform(50.5, 54.8, n_depts), "lon": rng.uniform(-4.5, 1.2, n_depts)})
    deps["org_name"] = deps["org_code"] + " NHS Foundation Trust"
    if hostile:
        deps.loc[1, "org_name"] = "<b onmouseover=\"window.__xss=1\">Trust</b>"
    deps["region_code"] = deps["org_code"].map(org_region)
    deps["region_name"] = "Region " + deps["region_code"]
    streams = np.array(["genomics", "health_informatics", "physical_sciences"])
    # Every department has genomics staff, so the genomics layer holds exactly one marker per department.
    staff = pd.DataFrame({
        "org_code": np.repeat(deps["org_code"].to_numpy(), 2), "staff_dept": np.repeat(deps["dept_name"].to_numpy(), 2),
        "headcount": rng.integers(1, 6, 2 * n_depts), "registration": rng.integers(1, 6, 2 * n_depts),
        "supervisors": rng.integers(0, 2, 2 * n_depts),
        "stream": np.where(np.arange(2 * n_depts) % 2 == 0, "genomics", rng.choice(streams[1:], 2 * n_depts)),
        "relation": rng.choice(["direct", "adjacent"], 2 * n_depts), "decision": "auto"})
    staff["wte"] = staff["headcount"] * 0.9
    cap = pd.DataFrame({"org_code": orgs, **{f"will_{c}": rng.integers(1, 5, n_orgs) for c in ("gen", "hi", "ps")},
                        **{f"places_{c}": rng.integers(0, 4, n_orgs) for c in ("gen", "hi", "ps")}})
    dist = pd.DataFrame({"org_code": orgs + ["RZZ"], "region_code": [org_region[o] for o in orgs] + ["Y99"],
                         "region_name": [f"Region {org_region[o]}" for o in orgs] + ["<i>Silent</i> region"]})
    if hostile:
        dist.loc[dist["region_code"] == "Y56", "region_name"] = "<i>London</i> & region"
    w = load_weights(DEFAULT_WEIGHTS)
    scores = score_departments(deps, staff, cap, None, w)
    demand = estimate_demand(scores, cap, dist, w.demand, "region")
    return scores, demand


@pytest.fixture(scope="module")
def small():
    scores, demand = _frames(40, 8, hostile=True)
    return scores, demand, build_map(scores, demand, title="Test map")


def _squares(codes):
    feats = []
    for i, code in enumerate(codes):
        x, y = -4 + i * 0.8, 51 + (i % 3)
        ring = [[x, y], [x + 0.7, y], [x + 0.7, y + 0.9], [x, y + 0.9], [x, y]]
        feats.append({"type": "Feature", "properties": {"nhser_ods": code, "name": "<script>x</script>"},
                      "geometry": {"type": "Polygon", "coordinates": [ring]}})
    return {"type": "FeatureCollection", "features": feats}


# --------------------------------------------------------------------------------------------- static HTML
def test_map__html__has_no_network_reference(small):
    page = small[2]
    assert offline_problems(page) == []
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<link[^>]*\bhref\s*=", page, re.I)
    assert not re.search(r"<img[^>]*\bsrc\s*=\s*[\"']?(https?:)?//", page, re.I)
    assert not re.search(r"url\(\s*[\"']?(https?:)?//", page, re.I)
    for cdn in ("cdn.jsdelivr", "cdnjs", "code.jquery", "bootstrapcdn", "unpkg", "openstreetmap"):
        assert cdn not in page


def test_map__viewport__lets_phones_and_tablets_zoom(small):
    page = small[2]
    viewports = re.findall(r"<meta\b[^>]*name=[\"']?viewport[^>]*>", page, re.I)
    assert len(viewports) == 1, viewports
    assert "user-scalable" not in viewports[0] and "maximum-scale" not in viewports[0]
    assert "width=device-width" in viewports[0]


def test_map__hostile_department_name__is_escaped_text_not_a_tag(small):
    page = small[2]
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    for raw in HOSTILE[:4]:
        assert raw not in page
    assert "window.__xss=1</script>" not in page
    assert '<b onmouseover' not in page


def test_map__boundaries__drawn_as_a_choropleth_with_only_our_properties():
    scores, demand = _frames(30, 7)
    page = build_map(scores, demand, boundaries=_squares(["Y56", "Y58", "Y59", "Y60", "Y61", "Y62", "Y63", "Y99"]))
    data = re.search(r"var A = (\{.*?\});\n", page).group(1)
    areas = json.loads(data)
    assert areas["mode"] == "polygons"
    assert len(areas["features"]) == 8
    assert all(set(f["properties"]) == {"i"} for f in areas["features"])
    none = [a for a in areas["areas"] if a["code"] == "Y99"][0]
    assert none["cls"] == "none" and "not zero" in none["tip"]
    assert "&lt;i&gt;Silent&lt;/i&gt;" in none["tip"].replace("\\u0026", "&")


def test_map__boundaries_that_match_nothing__fall_back_to_circles():
    scores, demand = _frames(30, 7)
    page = build_map(scores, demand, boundaries=_squares(["E99", "E98"]))
    assert json.loads(re.search(r"var A = (\{.*?\});\n", page).group(1))["mode"] == "circles"


def test_assert_offline__cdn_script_or_tiles__raise_unless_asked_for():
    with pytest.raises(OfflineError) as exc:
        assert_offline('<script src="https://cdn.jsdelivr.net/npm/leaflet.js"></script>')
    assert exc.value.code == "MAP001"
    assert offline_problems('<link rel="stylesheet" href="//cdnjs.cloudflare.com/x.css"/>')
    assert offline_problems("<style>.a{background:url(https://x/y.png)}</style>")
    assert offline_problems('<img src="http://x/y.png">')
    tiles = "https://tile.example/{z}/{x}/{y}.png"
    page = f'<script>L.tileLayer("{tiles}", {{}})</script>'
    assert offline_problems(page)
    assert offline_problems(page, allowed=(tiles,)) == []


def test_map__tiles__only_the_requested_url_is_online():
    scores, demand = _frames(10, 3)
    tiles = "https://tile.example.org/{z}/{x}/{y}.png"
    page = build_map(scores, demand, tiles=tiles)
    assert tiles in page
    assert offline_problems(page, allowed=(tiles,)) == []
    assert offline_problems(page)  # the check does notice it


# --------------------------------------------------------------------------------------------- in Chromium
# Open every popup and tooltip the way Leaflet does (innerHTML of the overlay), then wait a moment for any
# injected onerror handler to fire before the checks run.
OPEN_ALL = """(function () {
  if (!window.trustSurveyMap) return false;
  if (!window.__opened) {
    window.__opened = Date.now(); window.__texts = []; window.__tags = 0;
    var map = trustSurveyMap.map;
    Object.keys(trustSurveyMap.layers).forEach(function (k) {
      trustSurveyMap.layers[k].getLayers().forEach(function (m) {
        [[m.getPopup(), L.popup({maxWidth: 400})], [m.getTooltip(), L.tooltip()]].forEach(function (pair) {
          var c = pair[0].getContent(); if (typeof c === 'function') c = c(m);
          pair[1].setLatLng(m.getLatLng()).setContent(c).openOn(map);
          var el = pair[1].getElement();
          window.__texts.push(el.textContent);
          window.__tags += el.querySelectorAll('img,script,b[onmouseover]').length;
        });
      });
    });
    if (trustSurveyMap.areas) trustSurveyMap.areas.eachLayer(function (l) {
      var t = L.tooltip().setLatLng(map.getCenter()).setContent(l.getTooltip().getContent()).openOn(map);
      window.__texts.push(t.getElement().textContent);
      window.__tags += t.getElement().querySelectorAll('img,script').length;
    });
  }
  return Date.now() - window.__opened > 400;
})()"""


def _browse(tool, page_path, *evals, wait_for=None, timeout=60):
    cmd = [sys.executable, str(tool), str(page_path), "--offline", "--fail-on-errors", "--timeout", "45"]
    if wait_for:
        cmd += ["--wait-for", wait_for]
    for e in evals:
        cmd += ["--eval", e]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    try:
        report = json.loads(proc.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"browser.py gave no report (exit {proc.returncode}):\n{proc.stderr[-2000:]}")
    return proc.returncode, report


@pytest.mark.chromium
def test_map__in_chromium_offline__markers_render_and_hostile_text_runs_nothing(chromium, small, tmp_path):
    scores, _, page = small
    path = tmp_path / "map.html"
    path.write_text(page, encoding="utf-8")
    rc, report = _browse(
        chromium, path,
        "trustSurveyMap.counts.genomics",
        "document.querySelectorAll('.leaflet-marker-icon').length",
        "window.__xss === undefined",
        "window.__tags",
        "window.__texts.filter(function (t) { return t.indexOf('<img src=x onerror=alert(1)>') >= 0; }).length",
        "Array.from(document.querySelectorAll('.ts-tables td')).filter(function (td) {"
        " return td.textContent.indexOf('<img src=x onerror=alert(1)>') === 0; }).length",
        "document.querySelectorAll('.ts-tables img, .ts-tables script').length",
        "document.querySelector('.ts-legend') !== null && document.querySelector('.leaflet-control-layers') !== null",
        "window.__texts.filter(function (t) { return t.indexOf('<i>London</i> & region') >= 0; }).length",
        wait_for=OPEN_ALL,
    )
    assert rc == 0, json.dumps(report, indent=1)[:3000]
    assert report["failed_requests"] == [] and report["errors"] == []
    assert not [c for c in report["console"] if c["level"] == "SEVERE"]
    ev = list(report["eval"].values())
    staffed = scores["direct_headcount"] + scores["adjacent_headcount"] > 0
    genomics = scores[(scores["stream"] == "genomics") & staffed]
    assert ev[0] == len(genomics) == 40
    assert ev[1] > 0                 # markers or clusters drawn
    assert ev[2] is True             # no injected handler ran
    assert ev[3] == 0                # no tag came out of typed text in any popup or tooltip
    assert ev[4] >= 2                # the name shows as text in its popup and tooltip
    assert ev[5] == 3                # and in the table, once per stream
    assert ev[6] == 0
    assert ev[7] is True
    assert ev[8] == 1                # an area's name typed with markup shows as text in its tooltip


@pytest.mark.chromium
def test_map__5000_departments__under_10_mb_and_renders_offline(chromium, tmp_path):
    scores, demand = _frames(5000, 250, seed=7)
    started = time.perf_counter()
    page = build_map(scores, demand)
    built = time.perf_counter() - started
    path = tmp_path / "big.html"
    path.write_text(page, encoding="utf-8")
    size_mb = path.stat().st_size / 1e6
    assert size_mb < 10, f"{size_mb:.1f} MB"
    started = time.perf_counter()
    rc, report = _browse(chromium, path, "trustSurveyMap.counts.genomics",
                         "document.querySelectorAll('.marker-cluster').length",
                         "document.querySelectorAll('.ts-tables tr').length",
                         wait_for="window.trustSurveyMap && document.querySelectorAll('.marker-cluster').length > 0")
    opened = time.perf_counter() - started
    assert rc == 0, json.dumps(report, indent=1)[:3000]
    counts = list(report["eval"].values())
    assert counts[0] == 5000
    assert counts[1] > 0
    assert counts[2] == 3 * (100 + 1)
    print(f"5,000 departments: {size_mb:.2f} MB, built in {built:.1f} s, opened in Chromium in {opened:.1f} s")


@pytest.mark.chromium
def test_map__axe_core_in_chromium__no_wcag_21_aa_violation_outside_listed_leaflet_ones(axe, small, tmp_path):
    path = tmp_path / "map.html"
    path.write_text(small[2], encoding="utf-8")
    violations = axe(path, wait_for="window.trustSurveyMap && document.querySelector('.leaflet-marker-icon')")
    own = own_violations(violations, leaflet_axe_exceptions())
    assert own == [], axe_summary(own)
