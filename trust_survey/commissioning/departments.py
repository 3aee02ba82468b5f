"""Which department each staff row belongs to: names compared after normalising, then fuzzily.

:func:`link_staff` joins each staff row to a department of its own organisation by name ("Med Phys"
finds "Medical Physics"); rows that name no listed department are kept and flagged ``unlisted``.
"""
from __future__ import annotations

import re
from typing import Any

import pandas as pd

from trust_survey.common.values import is_blank
from trust_survey.errors import InputFileError

#: Columns :func:`link_staff` adds to the staff rows.
LINK_COLUMNS = ["dept_key", "linked_dept_name", "link_method", "link_score"]


def require_columns(df: pd.DataFrame, columns: list[str], what: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputFileError(f"{what}: missing column(s) {', '.join(missing)}; found {', '.join(map(str, df.columns))}")


_ABBREVIATIONS = {
    "med": "medical", "phys": "physics", "physx": "physics", "sci": "science", "sciences": "science",
    "scientific": "science", "eng": "engineering", "engg": "engineering", "engineer": "engineering",
    "info": "informatics", "inf": "informatics", "comp": "computing", "computer": "computing",
    "lab": "laboratory", "labs": "laboratory", "laboratories": "laboratory", "svc": "service",
    "svcs": "service", "services": "service", "bioinf": "bioinformatics", "genetic": "genetics",
    "genomic": "genomics", "clin": "clinical", "dev": "development", "r": "research", "d": "development",
    "rd": "research development", "mgmt": "management", "it": "it",
}
_DROP = {"department", "dept", "of", "the", "and", "for", "team", "nhs"}
_WORD = re.compile(r"[a-z0-9]+")


def normalise_department(name: Any) -> str:
    """Department name reduced for comparison: lower case, abbreviations expanded, filler words dropped.

    ``"Dept. of Med Physics"``, ``"Medical Physics"`` and ``"medical  physics"`` all become
    ``"medical physics"``.
    """
    if is_blank(name):
        return ""
    words: list[str] = []
    for word in _WORD.findall(str(name).casefold().replace("&", " and ")):
        for part in _ABBREVIATIONS.get(word, word).split():
            if part not in _DROP:
                words.append(part)
    return " ".join(words)


def _casefold(name: Any) -> str:
    return "" if is_blank(name) else " ".join(str(name).split()).casefold()


def with_dept_keys(departments: pd.DataFrame) -> pd.DataFrame:
    deps = departments.reset_index(drop=True).copy()
    require_columns(deps, ["org_code", "dept_name"], "departments")
    if "dept_key" not in deps.columns:
        deps["dept_key"] = [f"{org}#{i + 1}" for i, org in enumerate(deps["org_code"].astype(str))]
    return deps


def link_staff(departments: pd.DataFrame, staff: pd.DataFrame, *, threshold: float = 85,
               margin: float = 5) -> pd.DataFrame:
    """Each staff row with the department of its own organisation that its ``staff_dept`` names.

    In: departments (``org_code``, ``dept_name``, optional ``dept_key``) and staff rows (``org_code``,
    ``staff_dept``). Out: the staff rows, same order, plus :data:`LINK_COLUMNS`. ``link_method`` is
    ``exact`` (same text ignoring case and spacing), ``normalised`` (same after expanding abbreviations:
    "Med Physics" and "Medical Physics"), ``fuzzy`` (rapidfuzz WRatio at least ``threshold`` and ``margin``
    ahead of the next department) or ``unlisted`` (no department of that organisation fits; the row gets
    a department key of its own, ``<org>#unlisted:<name>``, so it is never dropped).
    """
    from rapidfuzz import fuzz, process

    deps = with_dept_keys(departments)
    rows = staff.reset_index(drop=True).copy()
    require_columns(rows, ["org_code", "staff_dept"], "staff")
    by_org: dict[str, list[tuple[str, str, str, str]]] = {}
    for org, key, name in zip(deps["org_code"].astype(str), deps["dept_key"], deps["dept_name"]):
        by_org.setdefault(org, []).append((key, "" if is_blank(name) else str(name), _casefold(name),
                                           normalise_department(name)))

    cache: dict[tuple[str, str], tuple[str, str, str, float]] = {}

    def link(org: str, typed: Any) -> tuple[str, str, str, float]:
        folded = _casefold(typed)
        hit = cache.get((org, folded))
        if hit:
            return hit
        options = by_org.get(org, [])
        norm = normalise_department(typed)
        result = None
        exact = [o for o in options if folded and o[2] == folded]
        if len(exact) == 1:
            result = (exact[0][0], exact[0][1], "exact", 100.0)
        if result is None and norm:
            same = [o for o in options if o[3] == norm]
            if len(same) == 1:
                result = (same[0][0], same[0][1], "normalised", 100.0)
        if result is None and norm and options:
            scored = process.extract(norm, [o[3] for o in options], scorer=fuzz.WRatio, limit=2)
            best = scored[0]
            runner_up = scored[1][1] if len(scored) > 1 else 0.0
            if best[1] >= threshold and best[1] - runner_up >= margin:
                o = options[best[2]]
                result = (o[0], o[1], "fuzzy", round(float(best[1]), 1))
        if result is None:
            label = norm or folded or "(blank)"
            result = (f"{org}#unlisted:{label}", "" if is_blank(typed) else " ".join(str(typed).split()),
                      "unlisted", 0.0)
        cache[(org, folded)] = result
        return result

    linked = [link(str(o), t) for o, t in zip(rows["org_code"], rows["staff_dept"])]
    for i, col in enumerate(LINK_COLUMNS):
        rows[col] = [x[i] for x in linked]
    rows["link_score"] = rows["link_score"].astype(float)
    return rows
