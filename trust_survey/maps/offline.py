"""Make a saved folium page self-contained, and prove that it is.

folium links Leaflet and its plugins from CDNs. We point those links at placeholder names
(``xstatic:<package>/<file>``), then :func:`inline_assets` replaces each ``<script src>`` /
``<link href>`` with the file's text from the PyPI packages that ship it (``xstatic-leaflet``,
``xstatic-jquery``, ``xstatic-leaflet-markercluster``), turning images a stylesheet refers to into
``data:`` URIs. :func:`offline_problems` lists every reference that would still reach out (scripts,
stylesheets, images, frames, CSS ``url()``/``@import``, tile layers); :func:`assert_offline` raises when
there is one. The only allowed exception is a tile URL the user asked for.
"""
from __future__ import annotations

import base64
import functools
import mimetypes
import re
from pathlib import Path

from trust_survey.errors import TrustSurveyError

PLACEHOLDER = "xstatic:"


class OfflineError(TrustSurveyError):
    """The map would need the network (a script, stylesheet, image or tile it cannot carry inside)."""

    code = "MAP001"


def _package_dirs() -> dict[str, Path]:
    try:
        import xstatic.pkg.jquery as jquery
        import xstatic.pkg.leaflet as leaflet
        import xstatic.pkg.leaflet_markercluster as markercluster
    except ImportError as exc:
        raise OfflineError(f"cannot draw an offline map: {exc.name} is not installed; "
                           "pip install xstatic-leaflet xstatic-jquery xstatic-leaflet-markercluster") from None
    return {"leaflet": Path(leaflet.BASE_DIR), "jquery": Path(jquery.BASE_DIR),
            "leaflet_markercluster": Path(markercluster.BASE_DIR)}


def asset(package: str, name: str) -> str:
    """The placeholder URL of a vendored file, for folium's ``default_js``/``default_css``."""
    return f"{PLACEHOLDER}{package}/{name}"


def asset_path(ref: str) -> Path:
    """The file behind a placeholder URL."""
    package, _, name = ref.removeprefix(PLACEHOLDER).partition("/")
    dirs = _package_dirs()
    if package not in dirs:
        raise OfflineError(f"unknown vendored package '{package}' in {ref}")
    path = dirs[package] / name
    if not path.is_file():
        raise OfflineError(f"{path}: missing from the installed {package} package; reinstall xstatic-{package}")
    return path


_SOURCE_MAP = re.compile(r"^\s*(//[#@]\s*sourceMappingURL=.*|/\*[#@]\s*sourceMappingURL=.*?\*/)\s*$", re.M)
_CSS_URL = re.compile(r"url\(\s*(['\"]?)([^'\")]+)\1\s*\)")


@functools.lru_cache(maxsize=16)
def _script_text(ref: str) -> str:
    text = asset_path(ref).read_text(encoding="utf-8")
    text = _SOURCE_MAP.sub("", text)
    # A literal "</script" inside the code would end the inline block early.
    return re.sub(r"</(script)", r"<\\/\1", text, flags=re.I)


def data_uri(path: Path) -> str:
    mime = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return f"data:{mime};base64,{base64.b64encode(path.read_bytes()).decode('ascii')}"


@functools.lru_cache(maxsize=16)
def _style_text(ref: str) -> str:
    path = asset_path(ref)
    text = _SOURCE_MAP.sub("", path.read_text(encoding="utf-8"))

    def to_data(match: re.Match) -> str:
        target = match.group(2).strip()
        if target.startswith(("data:", "#")):
            return match.group(0)
        file = (path.parent / target.split("?")[0].split("#")[0]).resolve()
        if not file.is_file():
            raise OfflineError(f"{path}: refers to {target}, which the package does not ship")
        return f'url("{data_uri(file)}")'

    text = _CSS_URL.sub(to_data, text)
    return re.sub(r"</(style)", r"<\\/\1", text, flags=re.I)


_SCRIPT_TAG = re.compile(r"""<script\b[^>]*\bsrc\s*=\s*["'](xstatic:[^"']+)["'][^>]*>\s*</script>""", re.I)
_LINK_TAG = re.compile(r"""<link\b[^>]*\bhref\s*=\s*["'](xstatic:[^"']+)["'][^>]*/?>""", re.I)


def inline_assets(html: str) -> str:
    """Replace every placeholder ``<script src>``/``<link href>`` with the vendored file's text."""
    html = _SCRIPT_TAG.sub(lambda m: "<script>" + _script_text(m.group(1)) + "</script>", html)
    return _LINK_TAG.sub(lambda m: "<style>" + _style_text(m.group(1)) + "</style>", html)


_TAG = re.compile(r"<(script|link|img|iframe|source|embed|object|audio|video|input|frame)\b[^>]*>", re.I)
_ATTR = re.compile(r"""\b(src|href|data|srcset|poster)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_STYLE_BLOCK = re.compile(r"<style\b[^>]*>(.*?)</style>", re.I | re.S)
_STYLE_ATTR = re.compile(r"""\bstyle\s*=\s*(?:"([^"]*)"|'([^']*)')""", re.I)
_IMPORT = re.compile(r"""@import\s+(?:url\(\s*)?["']?([^"')\s;]+)""", re.I)
_TILE_LAYER = re.compile(r"""L\.tileLayer\(\s*(["'])(.*?)\1""", re.S)
_REMOTE = re.compile(r"^\s*(?:https?:)?//", re.I)


def offline_problems(html: str, allowed: tuple[str, ...] = ()) -> list[str]:
    """Every reference in ``html`` that would make the browser fetch something, except ``allowed`` URLs."""
    problems: list[str] = []

    def remote(url: str) -> bool:
        return bool(_REMOTE.match(url)) and url.strip() not in allowed

    for tag in _TAG.finditer(html):
        name = tag.group(1).lower()
        for attr in _ATTR.finditer(tag.group(0)):
            url = next(g for g in attr.groups()[1:] if g is not None)
            if name in ("script", "link") and not url.startswith("data:"):
                problems.append(f"<{name} {attr.group(1)}={url!r}> is not inlined")
            elif remote(url):
                problems.append(f"<{name} {attr.group(1)}={url!r}> needs the network")
    css_parts = [m.group(1) for m in _STYLE_BLOCK.finditer(html)]
    css_parts += [m.group(1) or m.group(2) or "" for m in _STYLE_ATTR.finditer(html)]
    for css in css_parts:
        for m in _CSS_URL.finditer(css):
            if remote(m.group(2)):
                problems.append(f"CSS url({m.group(2)}) needs the network")
        for m in _IMPORT.finditer(css):
            problems.append(f"CSS @import {m.group(1)} is not inlined")
    for m in _TILE_LAYER.finditer(html):
        if m.group(2).strip() not in allowed:
            problems.append(f"tile layer {m.group(2)!r} needs the network")
    return problems


def assert_offline(html: str, allowed: tuple[str, ...] = ()) -> None:
    """Raise :class:`OfflineError` listing every network reference left in ``html``."""
    problems = offline_problems(html, allowed)
    if problems:
        raise OfflineError(f"the map would need the network in {len(problems)} place(s); "
                           "this is a bug in trust-survey's map builder", details=problems[:20])
