"""Read a YAML definition file (instrument, platform mapping, scoring weights) with errors that say where.

Every strict loader starts the same way: UTF-8 text, then YAML, with a bad byte or a syntax error
reported as ``file: line L, column C: problem``. The strict model checks that follow are each loader's own.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trust_survey.errors import DefinitionError, NotFoundError

#: libyaml's safe loader when PyYAML was built with it (parses the same YAML about ten times faster:
#: it is most of the time ``load_registry`` takes), else PyYAML's own.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def parse_yaml(text: str) -> Any:
    """``yaml.safe_load`` with the fastest safe loader available; raises ``yaml.YAMLError``."""
    return yaml.load(text, Loader=_LOADER)  # noqa: S506 - a safe loader, chosen above


def read_yaml(path: Path | str, what: str = "definition") -> Any:
    """The parsed YAML of ``path``; NotFoundError names ``what`` when the file is missing."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NotFoundError(f"{path}: no such {what} file") from None
    except UnicodeDecodeError as exc:
        raise DefinitionError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as UTF-8") from None
    try:
        return parse_yaml(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "unknown position"
        problem = getattr(exc, "problem", None) or str(exc)
        raise DefinitionError(f"{path}: malformed YAML at {where}: {problem}",
                              details=[f"{path}: {where}: {problem}"]) from None
