"""Every command has help with an example, and the README documents it (sqlite-utils' test_docs idea)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest

from trust_survey.cli import cli

README = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, cmd in sorted(group.commands.items()):
        path = prefix + (name,)
        yield path, cmd
        if isinstance(cmd, click.Group):
            yield from _commands(cmd, path)


COMMANDS = list(_commands(cli))


@pytest.mark.parametrize("path, cmd", COMMANDS, ids=[" ".join(p) for p, _ in COMMANDS])
def test_command__has_help_with_an_example_and_is_in_the_readme(run, path, cmd):
    result = run(*path, "--help")
    assert "Example:" in result.stdout, f"trust-survey {' '.join(path)} --help has no Example: block"
    assert f"trust-survey {' '.join(path)}" in README, f"README does not mention trust-survey {' '.join(path)}"


def test_readme__starts_with_the_two_commands():
    code = README.split("```")[1]
    assert code.strip().splitlines()[0].startswith("make demo")
    assert code.strip().splitlines()[1].startswith("make test")


def test_installed_script_and_module__both_run():
    exe = Path(sys.executable).parent / "trust-survey"
    for cmd in ([str(exe), "--version"], [sys.executable, "-m", "trust_survey", "--version"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "trust-survey" in proc.stdout


def test_unknown_option__is_a_usage_error_with_exit_2(run):
    result = run("instruments", "list", "--nope", expect=2)
    assert "No such option" in result.stderr
