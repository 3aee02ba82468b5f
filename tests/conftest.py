"""Shared fixtures: isolated environment, the real CLI, and the real third-party programs."""
from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from trust_survey.cli import cli

REPO = Path(__file__).resolve().parent.parent
DATA = Path(__file__).resolve().parent / "data"
PROGRAMS = Path(__file__).resolve().parent / "programs"   # the tests' own drivers for real programs


@pytest.fixture(autouse=True)
def isolated_env(tmp_path, monkeypatch):
    """Every test gets its own outputs folder and database, and sees the project's definitions."""
    for name in list(os.environ):
        if name.startswith("TRUST_SURVEY_") and name != "TRUST_SURVEY_REQUIRE_PROGRAMS":
            monkeypatch.delenv(name, raising=False)
    out = tmp_path / "outputs"
    monkeypatch.setenv("TRUST_SURVEY_OUTPUTS", str(out))
    monkeypatch.setenv("TRUST_SURVEY_DB", str(out / "trust_survey.duckdb"))
    monkeypatch.setenv("TRUST_SURVEY_INSTRUMENTS", str(REPO / "instruments"))
    monkeypatch.setenv("TRUST_SURVEY_TAXONOMY", str(REPO / "role_taxonomy.yaml"))
    monkeypatch.chdir(tmp_path)
    yield


class Run:
    """Invoke the real CLI in-process; returns click's Result with exit_code, stdout and stderr."""

    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args, input=None, expect: int | None = 0):
        result = self.runner.invoke(cli, [str(a) for a in args], input=input, catch_exceptions=True)
        if result.exception and not isinstance(result.exception, SystemExit):
            import traceback
            tb = "".join(traceback.format_exception(result.exception))
            raise AssertionError(f"trust-survey {' '.join(map(str, args))} raised:\n{tb}")
        if expect is not None:
            assert result.exit_code == expect, (
                f"exit {result.exit_code} != {expect} for {args}\nstdout:\n{result.stdout}\nstderr:\n{result.stderr}"
            )
        return result


@pytest.fixture
def run() -> Run:
    return Run()


def _missing(reason: str):
    if os.environ.get("TRUST_SURVEY_REQUIRE_PROGRAMS"):
        pytest.fail(f"{reason} (CI must have it: see .ci/run)")
    pytest.skip(reason)


@functools.lru_cache(maxsize=None)
def _python_uno() -> bool:
    """True when `uno` imports here or in the system python3 (Debian's python3-uno); lo_fill.py finds either."""
    import importlib.util
    import subprocess

    if importlib.util.find_spec("uno"):
        return True
    return any(subprocess.run([py, "-c", "import uno"], capture_output=True).returncode == 0
               for py in {"/usr/bin/python3", shutil.which("python3")} if py and Path(py).exists())


@pytest.fixture
def libreoffice() -> Path:
    """Path to tests/programs/lo_fill.py, when LibreOffice and python3-uno are installed."""
    if not shutil.which("soffice"):
        _missing("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui python3-uno")
    if not _python_uno():
        _missing("Python-UNO is not installed: apt-get install python3-uno")
    return PROGRAMS / "lo_fill.py"


@pytest.fixture
def pspp() -> Path:
    """Path to tests/programs/pspp_sav.py, when GNU PSPP is installed."""
    if not shutil.which("pspp"):
        _missing("GNU PSPP is not installed: apt-get install pspp")
    return PROGRAMS / "pspp_sav.py"


@pytest.fixture
def chromium() -> Path:
    """Path to tests/programs/browser.py, when headless Chromium, chromedriver and selenium are present."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        _missing("Chromium is not installed: apt-get install chromium chromium-driver")
    try:
        import selenium  # noqa: F401
    except ImportError:
        _missing("selenium is not installed: pip install -e '.[dev]'")
    return PROGRAMS / "browser.py"


AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--no-first-run", "--window-size=1280,900"]


@pytest.fixture
def axe(tmp_path):
    """``axe(page, wait_for=None) -> violations``: open a local HTML file in headless Chromium with every
    http(s)/ws(s) request blocked, run axe-core (from the selenium-axe-python package) with the WCAG 2.0
    and 2.1 A and AA rules, and return its violations as axe reports them."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        _missing("Chromium is not installed: apt-get install chromium chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.support.ui import WebDriverWait
        from selenium_axe_python import Axe
    except ImportError as exc:
        _missing(f"{exc.name} is not installed: pip install -e '.[dev]'")
    drivers = []

    def check(page: Path, wait_for: str | None = None) -> list[dict]:
        opts = webdriver.ChromeOptions()
        opts.binary_location = shutil.which("chromium")
        for flag in CHROMIUM_FLAGS + [f"--user-data-dir={tmp_path / f'profile{len(drivers)}'}"]:
            opts.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opts)
        drivers.append(driver)
        driver.set_script_timeout(300)   # axe checks every cell of a long report: a minute on a busy machine
        driver.execute_cdp_cmd("Network.enable", {})
        driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*", "ws://*", "wss://*"]})
        driver.get(Path(page).resolve().as_uri())
        if wait_for:
            WebDriverWait(driver, 30).until(lambda d: d.execute_script(f"return !!({wait_for});"))
        runner = Axe(driver)
        runner.inject()
        results = runner.run(options={"runOnly": {"type": "tag", "values": AXE_TAGS}})
        assert results.get("passes"), "axe-core ran no rule at all"
        return results["violations"]

    yield check
    for driver in drivers:
        driver.quit()


def axe_summary(violations: list[dict]) -> str:
    """One line per failing element: rule, impact, selector and what to fix."""
    return "\n".join(f"{v['id']} ({v['impact']}): {n['target']} {n['failureSummary']!r}"
                     for v in violations for n in v["nodes"])


def leaflet_axe_exceptions() -> set[str]:
    """axe rules the README allows inside Leaflet's own controls (its "Accessibility checks" section)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    _, _, section = text.partition("<!-- leaflet-axe-exceptions")
    section = section.split("\n#", 1)[0]
    import re
    return set(re.findall(r"^- `([a-z0-9-]+)`:", section, re.M))


def own_violations(violations: list[dict], allowed_in_leaflet: set[str] = frozenset()) -> list[dict]:
    """Violations in the project's own markup: all of them, less the nodes inside Leaflet's controls
    (selectors under ``.leaflet-``) whose rule is in ``allowed_in_leaflet``."""
    out = []
    for v in violations:
        nodes = [n for n in v["nodes"] if not (v["id"] in allowed_in_leaflet
                                               and any(".leaflet-" in str(t) for t in n["target"]))]
        if nodes:
            out.append({**v, "nodes": nodes})
    return out


@pytest.fixture
def soffice_pdf(tmp_path):
    """``soffice_pdf(workbook) -> pdf path``: print a workbook to PDF with real headless LibreOffice,
    as a trust printing its return would, in a throw-away profile."""
    import subprocess

    soffice = shutil.which("soffice")
    if not soffice:
        _missing("LibreOffice (soffice) is not installed: apt-get install libreoffice-calc-nogui")

    def convert(workbook: Path) -> Path:
        out = tmp_path / f"pdf_{workbook.stem}"
        proc = subprocess.run([soffice, f"-env:UserInstallation={(tmp_path / 'lo_profile').as_uri()}", "--headless",
                               "--convert-to", "pdf", "--outdir", str(out), str(workbook)],
                              capture_output=True, text=True, timeout=300)
        pdf = out / f"{workbook.stem}.pdf"
        assert pdf.is_file(), f"LibreOffice wrote no PDF (exit {proc.returncode}): {proc.stderr[-2000:]}"
        return pdf

    return convert
