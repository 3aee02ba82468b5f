"""Load the labelled real-title corpus (``trust_survey/data/titles/corpus.csv``) and check it against the policy.

The corpus holds real NHS job titles, each labelled with a stream and the relation of the job to that
stream (HEE's title policy): ``direct`` or ``adjacent`` for a stream, ``none`` if and only if the stream is
``none``. A row that breaks this, or names an unknown stream, relation or split, is an error naming the
file, the line and what was expected; every bad row is listed, not only the first.
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from trust_survey.errors import InputFileError, did_you_mean
from trust_survey.matching.files import read_table
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE

DEFAULT_CORPUS = Path(__file__).resolve().parent.parent / "data" / "titles" / "corpus.csv"
CORPUS_COLUMNS = ("title", "department", "stream", "relation", "source", "split")
RELATIONS = ("direct", "adjacent", "none")
SPLITS = ("dev", "holdout")
MAX_LISTED = 50


def _row_problems(row: dict, line: int) -> list[str]:
    where = f"line {line}"
    problems = []
    title, stream, relation, split = (row["title"].strip(), row["stream"].strip(), row["relation"].strip(),
                                      row["split"].strip())
    if not title:
        problems.append(f"{where}: the title is empty")
    if stream not in ALL_STREAMS:
        problems.append(f"{where}: unknown stream '{stream}'{did_you_mean(stream, ALL_STREAMS)}; expected one "
                        f"of {', '.join(ALL_STREAMS)}")
    if relation not in RELATIONS:
        problems.append(f"{where}: unknown relation '{relation}'{did_you_mean(relation, RELATIONS)}; expected "
                        f"one of {', '.join(RELATIONS)}")
    elif stream in ALL_STREAMS:
        if stream == NONE and relation != "none":
            problems.append(f"{where}: relation '{relation}' with stream 'none'; a title in no stream has "
                            "relation 'none'")
        if stream != NONE and relation == "none":
            problems.append(f"{where}: relation 'none' with stream '{stream}'; a title in a stream is "
                            "'direct' or 'adjacent'")
    if split not in SPLITS:
        problems.append(f"{where}: unknown split '{split}'{did_you_mean(split, SPLITS)}; expected dev or "
                        "holdout")
    if not row["source"].strip():
        problems.append(f"{where}: the source is empty; every title keeps where it came from")
    return problems


def load_title_corpus(path: Path | str = DEFAULT_CORPUS) -> pd.DataFrame:
    """Read and check a labelled corpus; return it with columns ``CORPUS_COLUMNS`` (+ ``note``, ``line``).

    ``line`` is the 1-based line of the row in the file (the header is line 1). Raises ``InputFileError``
    (code ``IN010``) listing every row whose stream, relation or split is unknown or contradicts the
    policy, and ``IN011`` when a required column is missing.
    """
    path = Path(path)
    table = read_table(path)
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in CORPUS_COLUMNS if c not in table.columns]
    if missing:
        raise InputFileError(f"{path}: missing column(s) {', '.join(missing)}; a title corpus has columns "
                             f"{', '.join(CORPUS_COLUMNS)} (and optionally note)", code="IN011")
    if "note" not in table.columns:
        table["note"] = ""
    table = table[list(CORPUS_COLUMNS) + ["note"]].copy()
    table["line"] = range(2, len(table) + 2)
    problems = []
    for row in table.to_dict("records"):
        problems.extend(_row_problems(row, row["line"]))
    if problems:
        shown = problems[:MAX_LISTED]
        if len(problems) > MAX_LISTED:
            shown.append(f"... and {len(problems) - MAX_LISTED} more")
        raise InputFileError(f"{path}: {len(problems)} row problem(s) in the title corpus; fix the labels "
                             "(stream genomics, health_informatics, physical_sciences or none; relation "
                             "direct or adjacent with a stream, none without one; split dev or holdout)",
                             code="IN010", details=shown)
    for column in ("stream", "relation", "split"):
        table[column] = table[column].str.strip()
    return table.reset_index(drop=True)
