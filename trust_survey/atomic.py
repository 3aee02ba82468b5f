"""The one atomic writer: refuse to replace an output without ``force``, write to a temporary name beside
it and rename, so a crash never leaves a half-written file where a finished one is expected."""
from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable, Iterator

from trust_survey.errors import OutputExistsError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def check_writable(path: Path, force: bool) -> None:
    """Raise OutputExistsError when ``path`` exists and ``force`` is not set."""
    if Path(path).exists() and not force:
        raise OutputExistsError(f"{path}: already exists; pass --force to replace it")


def write_atomic(path: Path | str, write: Callable[[Path], None], *, force: bool = False) -> Path:
    """Call ``write(tmp_path)`` and rename the result to ``path``. Returns ``path``."""
    path = Path(path)
    check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes files private; outputs are ordinary files
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


@contextlib.contextmanager
def staged_dir(path: Path | str, *, force: bool = False) -> Iterator[Path]:
    """Yield a temporary folder beside ``path``; when the block succeeds it replaces ``path`` (refused
    without ``force`` if it exists), and when it fails it is removed and ``path`` is untouched."""
    path = Path(path)
    check_writable(path, force)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, 0o777 & ~_umask())
        if path.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old.", dir=path.parent))
            os.replace(path, old / path.name)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def copy_atomic(source: Path | str, target: Path | str) -> Path:
    """Copy ``source`` to ``target`` so that ``target`` is either absent or complete, never half-written."""
    return write_atomic(target, lambda tmp: shutil.copyfile(source, tmp), force=True)


def write_bytes_atomic(data: bytes, target: Path | str) -> Path:
    """Write ``data`` to ``target`` so that ``target`` is either absent or complete."""
    return write_atomic(target, lambda tmp: tmp.write_bytes(data), force=True)


@contextlib.contextmanager
def staged_files(folder: Path | str) -> Iterator[Path]:
    """Yield a temporary folder beside ``folder``; when the block succeeds, every file written into it
    moves into ``folder`` (replacing files of the same name, leaving others there alone); when it fails,
    nothing in ``folder`` changes. For outputs that add files to a folder rather than replace it."""
    folder = Path(folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        yield tmp
        folder.mkdir(parents=True, exist_ok=True)
        for item in sorted(tmp.iterdir()):
            target = folder / item.name
            if target.is_dir() and not item.is_dir():
                shutil.rmtree(target)
            os.replace(item, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
