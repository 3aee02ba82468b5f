"""Outputs are written whole or not at all, with ordinary permissions (not a temporary file's 0600)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from trust_survey.atomic import staged_dir, write_atomic
from trust_survey.errors import OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_write_atomic__result_has_ordinary_permissions_and_a_failure_leaves_the_old_file(tmp_path):
    path = tmp_path / "out.csv"
    write_atomic(path, lambda p: p.write_text("a,b\n1,2\n"))
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()
    with pytest.raises(OutputExistsError):
        write_atomic(path, lambda p: p.write_text("new"))

    def broken(p):
        p.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        write_atomic(path, broken, force=True)
    assert path.read_text() == "a,b\n1,2\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]  # no temporary file left behind


def test_staged_dir__replaces_the_folder_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "ref"
    with staged_dir(target) as tmp:
        (tmp / "a.csv").write_text("1")
    assert target.stat().st_mode & 0o777 == 0o777 & ~_umask()
    with pytest.raises(ValueError):
        with staged_dir(target, force=True) as tmp:
            (tmp / "b.csv").write_text("2")
            raise ValueError("bad input")
    assert sorted(p.name for p in target.iterdir()) == ["a.csv"]
    assert [p.name for p in tmp_path.iterdir()] == ["ref"]


def test_cli__output_locked_by_another_program__says_what_to_do_without_a_traceback(run, tmp_path, monkeypatch):
    """On Windows a workbook open in Excel cannot be replaced: PermissionError when renaming over it."""
    orgs = tmp_path / "orgs.csv"
    orgs.write_text("org_code,org_name\nRJ1,Guy's and St Thomas' NHS Foundation Trust\n", encoding="utf-8")
    out = tmp_path / "round"

    real_replace = os.replace

    def locked(src, dst):   # the output folder is held open; files inside the fresh staging folder are not
        if Path(dst) == out:
            raise PermissionError(13, "The process cannot access the file", str(src), None, str(dst))
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", locked)
    result = run("instruments", "build", "trust_capability", "--orgs", orgs, "--round", 2026, "--out", out,
                 expect=1)
    assert f"[OUT002] not allowed to write or replace {out}" in result.stderr
    assert "close it if it is open in another program (such as Excel)" in result.stderr
    assert "TS999" not in result.stderr and "Traceback" not in result.stderr
    assert not out.exists()   # nothing half-written
