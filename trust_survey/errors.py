"""Errors raised by the library. The CLI turns them into messages and exit codes.

Every error carries a stable ``code`` (tests assert it) and a message that says where the problem is,
what was expected and how to fix it. Library code raises these and never calls ``sys.exit``.
"""
from __future__ import annotations

import difflib
from typing import Iterable, Sequence


class TrustSurveyError(Exception):
    """A problem the user can fix; the CLI exits 1 and prints the message."""

    code = "TS000"

    def __init__(self, message: str, *, code: str | None = None, details: Sequence[str] = ()):
        super().__init__(message)
        if code:
            self.code = code
        self.details = list(details)

    def __str__(self) -> str:
        text = super().__str__()
        if self.details:
            text += "\n" + "\n".join(f"  {line}" for line in self.details)
        return text


class DefinitionError(TrustSurveyError):
    """A YAML definition (instrument, taxonomy, weights) is invalid; ``details`` lists every problem."""

    code = "DEF001"


class InputFileError(TrustSurveyError):
    """An input file (ORGS.csv, a return, a labelled set) is missing, unreadable or malformed."""

    code = "IN001"


class OutputExistsError(TrustSurveyError):
    """Refusing to overwrite existing output without --force."""

    code = "OUT001"


class StoreError(TrustSurveyError):
    """The database cannot be opened or used."""

    code = "DB001"


class StoreBusyError(StoreError):
    """Another process holds the database."""

    code = "DB002"


class NotFoundError(TrustSurveyError):
    """Something named on the command line does not exist (instrument, round, organisation)."""

    code = "NF001"


def did_you_mean(value: str, options: Iterable[str], n: int = 1, cutoff: float = 0.6) -> str:
    """Return ``"; did you mean 'x'?"`` for the closest option, or an empty string."""
    options = [str(o) for o in options]
    close = difflib.get_close_matches(str(value), options, n=n, cutoff=cutoff)
    if not close:
        lower = {o.lower(): o for o in options}
        close = [lower[c] for c in difflib.get_close_matches(str(value).lower(), list(lower), n=n, cutoff=cutoff)]
    if not close:
        return ""
    return "; did you mean " + " or ".join(f"'{c}'" for c in close) + "?"
