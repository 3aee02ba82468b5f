"""Small predicates on cell values that arrive as None, NaN, pandas NA, numbers or text."""
from __future__ import annotations

import math
from typing import Any

import pandas as pd


def is_blank(value: Any) -> bool:
    """True for None, NaN, pandas NA/NaT and text that is empty or only spaces."""
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        if pd.isna(value):
            return True
    except (TypeError, ValueError):  # list-like values: not a missing scalar
        pass
    return not str(value).strip()


class DateOutOfRange(str):
    """A date a file holds that no calendar date can (an SPSS date after 31/12/9999), as text to report.

    Readers give it in the date's place so the cleaner reports it on its cell instead of the file failing."""
