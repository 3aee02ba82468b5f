"""How a survey platform's header rows become column names, and which mapping fits an export.

Platforms write one to three header rows. SurveyMonkey's "expanded" export puts the question in row 1,
only over the first column of a matrix, and the statement (or "Response" / "Open-Ended Response") in
row 2; Qualtrics writes short names, then question text, then ImportId JSON. A mapping says how many
header rows there are (``header_rows``) and how to name a column from them (``header_names``):

- ``{row: 2}``: the text of one row;
- ``{join: [1, 2]}``: the texts of several rows joined with ``separator`` (" - "), each row but the
  last carried across blank cells to its right, parts in ``ignore`` ("Response", "Open-Ended
  Response") left out, a part equal to the one before it said once.

``strip_numbers: true`` also removes a leading question number ("Q3 - ", "3. ", "6.1. ", "Q6_1 -") from
each part, for platforms that number questions in their headers. Without ``header_names`` a column is
named by row 1, as before.
"""
from __future__ import annotations

import re
from typing import Any, Sequence

from pydantic import BaseModel, ConfigDict, Field, model_validator

IGNORED_PARTS = ["Response", "Open-Ended Response"]
_NUMBER = re.compile(r"^\s*(?:Q\s*\d+(?:[._-]?(?:\d+|[a-z]\b))*\s*[.):]?|\d+(?:[._](?:\d+|[a-z]\b))*\s*[.):](?!\d))"
                     r"\s*(?:-\s+)?", re.IGNORECASE)


class HeaderNames(BaseModel):
    """How to build a column's name from the export's header rows (see the module docstring)."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    row: int | None = Field(default=None, ge=1, le=5)
    join: list[int] | None = Field(default=None, min_length=2, max_length=5)
    separator: str = " - "
    ignore: list[str] = Field(default_factory=lambda: list(IGNORED_PARTS))
    strip_numbers: bool = False

    @model_validator(mode="after")
    def _one_way(self) -> "HeaderNames":
        if (self.row is None) == (self.join is None):
            raise ValueError("give exactly one of 'row' (one header row's text) or 'join' (rows to join, e.g. [1, 2])")
        if self.join is not None and (len(set(self.join)) != len(self.join) or any(r < 1 or r > 5 for r in self.join)):
            raise ValueError("'join' lists header rows (1 to 5), each once")
        return self

    @property
    def rows(self) -> list[int]:
        return [self.row] if self.row is not None else list(self.join)


def _text(value: Any) -> str:
    return "" if value is None else " ".join(str(value).replace("\ufeff", "").split())


def strip_number(text: str) -> str:
    """``text`` without a leading question number ("Q3 - ", "3. ", "6.1. "), if that leaves something."""
    rest = _NUMBER.sub("", text, count=1).strip()
    return rest or text


def header_problems(spec: HeaderNames | None, header_rows: int) -> list[str]:
    """``path.to.key: problem`` lines for rows the spec names that the mapping's header does not have."""
    if spec is None:
        return []
    return [f"header_names: row {r} is beyond header_rows ({header_rows}); raise header_rows or name another row"
            for r in spec.rows if r > header_rows]


def column_names(header: Sequence[Sequence[Any]], spec: HeaderNames | None) -> list[str]:
    """Each column's name from the header rows (``header[0]`` is row 1); rows may differ in length."""
    width = max((len(r) for r in header), default=0)
    grid = [[_text(r[i]) if i < len(r) else "" for i in range(width)] for r in header]
    if spec is None:
        return grid[0] if grid else []
    rows = [grid[r - 1] if r - 1 < len(grid) else [""] * width for r in spec.rows]
    ignore = {p.casefold() for p in spec.ignore}
    carried = [list(r) for r in rows]
    for r in carried[:-1]:
        for i in range(1, width):
            if not r[i]:
                r[i] = r[i - 1]
    names = []
    for i in range(width):
        if not any(r[i] for r in rows):   # nothing of this column's own: a trailing blank column stays blank
            names.append("")
            continue
        parts: list[str] = []
        for r in carried:
            part = strip_number(r[i]) if spec.strip_numbers else r[i]
            if part and part.casefold() not in ignore and (not parts or parts[-1].casefold() != part.casefold()):
                parts.append(part)
        names.append(spec.separator.join(parts))
    return names


def _norm(text: Any) -> str:
    return " ".join(str(text).replace("\ufeff", "").split()).casefold()


def export_names(columns: Sequence[Any], rows: Sequence[Sequence[Any]], mapping) -> list[str]:
    """A read export's column names under ``mapping``: ``columns`` is its first row, ``rows`` what follows."""
    header = [list(columns), *[list(r) for r in rows[:mapping.header_rows - 1]]]
    return column_names(header, getattr(mapping, "header_names", None))


def explained_share(names: Sequence[str], mapping) -> float:
    """The share of the non-blank ``names`` that ``mapping`` names (mapped, dropped or personal)."""
    headers = {_norm(c) for c in names if str(c).strip()}
    if not headers:
        return 0.0
    known = {_norm(c) for c in [*mapping.columns, *mapping.drop, *mapping.personal]}
    return len(headers & known) / len(headers)


def best_mapping(columns: Sequence[Any], rows: Sequence[Sequence[Any]], candidates: Sequence,
                 min_share: float) -> tuple[Any, float]:
    """The candidate (an object with ``.mapping``) whose header layout explains most of the export, with its
    share; ``(None, best share)`` when none explains at least ``min_share``. Ties go to the earlier one."""
    best, best_share = None, 0.0
    for cand in candidates:
        share = explained_share(export_names(columns, rows, cand.mapping), cand.mapping)
        if share > best_share:
            best, best_share = cand, share
    return (best, best_share) if best is not None and best_share >= min_share else (None, best_share)
