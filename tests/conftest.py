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
