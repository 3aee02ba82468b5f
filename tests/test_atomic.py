"""Outputs are written whole or not at all, with ordinary permissions (not a temporary file's 0600)."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from trust_survey.atomic import staged_dir, staged_files, write_atomic
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


def test_staged_files__adds_files_to_a_folder_whole_or_not_at_all_and_leaves_other_files_alone(tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    (out / "a.csv").write_text("old")
    with staged_files(out) as staging:
        (staging / "a.csv").write_text("new")
        (staging / "b.csv").write_text("b")
        assert (out / "a.csv").read_text() == "old"        # nothing lands until the block succeeds
    assert {p.name: p.read_text() for p in out.iterdir()} == {"keep.txt": "mine", "a.csv": "new", "b.csv": "b"}
    with pytest.raises(RuntimeError):
        with staged_files(out) as staging:
            (staging / "a.csv").write_text("half")
            raise RuntimeError("disk full")
    assert (out / "a.csv").read_text() == "new" and not (out / "c.csv").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]   # no staging folder left behind
