"""pydantic's validation errors as ``path.to.key: problem`` lines: the one wording every strict loader uses.

Each loader says where a problem is (its own labels: ``roles.bioinformatician``, ``sections[2].items``) and
which keys are allowed there; this module says what the problem is, the same way for every file:
``unknown key; did you mean 'weight'?``, ``required key is missing``, ``'redy' is not allowed; expected one
of ready, no; did you mean 'ready'?``, or pydantic's own message, with a hint when YAML turned a bare yes/no
into a boolean.
"""
from __future__ import annotations

import re
from typing import Callable

from pydantic import ValidationError

from trust_survey.errors import did_you_mean


def _dotted(loc: tuple) -> str:
    return ".".join(str(p) for p in loc) or "(top level)"


def problem_lines(exc: ValidationError, *, where: Callable[[tuple], str] = _dotted,
                  allowed: Callable[[tuple], list[str]] = lambda loc: []) -> list[str]:
    """One line per error of ``exc``: ``where(loc): problem``; ``allowed(loc)`` names the keys a misspelt
    key is compared with."""
    lines = []
    for err in exc.errors():
        loc = tuple(err["loc"])
        given = err.get("input")
        if err["type"] == "extra_forbidden":
            problem = f"unknown key{did_you_mean(str(loc[-1]), allowed(loc))}"
        elif err["type"] == "missing":
            problem = "required key is missing"
        elif err["type"] == "literal_error":
            options = re.findall(r"'([^']+)'", err.get("ctx", {}).get("expected", ""))
            problem = (f"{given!r} is not allowed; expected one of {', '.join(options)}"
                       f"{did_you_mean(str(given), options)}")
        else:
            problem = err["msg"].removeprefix("Value error, ")
            if isinstance(given, bool):
                problem += " (YAML reads a bare yes/no/on/off as true/false: put it in quotes)"
        lines.append(f"{where(loc)}: {problem}")
    return lines
