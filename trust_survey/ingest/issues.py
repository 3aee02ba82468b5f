"""Validation results as data: the :class:`Issue` record and the catalogue of stable issue codes.

Codes never change meaning (tests, feedback workbooks and analysts' filters rely on them):

- ``F0xx`` file-level problems: the file cannot be read or identified; it is quarantined and nothing
  is stored.
- ``V0xx`` validation errors: the return is stored as *rejected* and sent back to the trust.
  (``V009``, a cross-field rule, takes its severity from the rule in the definition.)
- ``W0xx`` warnings: the return is accepted and flagged; mess that was cleaned says what it became.
- ``P0xx`` findings about a survey-platform CSV export read through its mapping file (P003 and P004
  are errors for that respondent; P002, a mapped column missing from the file, refuses the whole file
  unless the mapping marks the column optional; the rest are warnings).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from trust_survey.common.safe_text import strip_controls

ERROR, WARNING = "error", "warning"

#: code -> (severity, short title)
CODES: dict[str, tuple[str, str]] = {
    "F001": (ERROR, "damaged or truncated file"),
    "F002": (ERROR, "file too large"),
    "F003": (ERROR, "zip bomb (uncompressed size or ratio too high)"),
    "F004": (ERROR, "password-protected or encrypted"),
    "F005": (ERROR, "a web page (HTML), not a workbook"),
    "F006": (ERROR, "not a supported file format"),
    "F007": (ERROR, "cannot tell which instrument this return answers"),
    "F008": (ERROR, "unknown instrument or version"),
    "F009": (ERROR, "return is for another round"),
    "F010": (ERROR, "empty file"),
    "F011": (ERROR, "sheet far too large"),
    "F012": (ERROR, "cannot tell which organisation or round this return is from"),
    "F013": (ERROR, "record files of one return disagree"),
    "F014": (ERROR, "the return disagrees with itself about who it is from"),
    "V001": (ERROR, "required answer missing"),
    "V002": (ERROR, "not a number"),
    "V003": (ERROR, "out of bounds"),
    "V004": (ERROR, "not in the list"),
    "V005": (ERROR, "not an ODS code"),
    "V006": (ERROR, "not a date"),
    "V007": (ERROR, "not an email address"),
    "V008": (ERROR, "duplicate row"),
    "V009": (ERROR, "cross-field rule broken"),
    "V010": (ERROR, "text too long"),
    "V011": (ERROR, "not a UK postcode"),
    "V012": (ERROR, "organisation code differs from the file's organisation"),
    "V013": (ERROR, "sheet, column, question or record file missing"),
    "V014": (ERROR, "spreadsheet error value in a cell"),
    "V015": (ERROR, "more than one case in a one-case record"),
    "W001": (WARNING, "'N/A' or '-' read as blank"),
    "W002": (WARNING, "spaces removed"),
    "W003": (WARNING, "number stored as text"),
    "W004": (WARNING, "thousands separator removed"),
    "W005": (WARNING, "date typed as text"),
    "W006": (WARNING, "band spelling normalised"),
    "W007": (WARNING, "choice matched ignoring case or by its code"),
    "W008": (WARNING, "yes/no written another way"),
    "W009": (WARNING, "code or postcode tidied"),
    "W010": (WARNING, "formula in an answer cell (not run)"),
    "W011": (WARNING, "text that a spreadsheet would run as a formula"),
    "W012": (WARNING, "markup in text"),
    "W013": (WARNING, "value outside the answer cells"),
    "W014": (WARNING, "decimal comma read as a decimal point"),
    "W015": (WARNING, "control characters removed from text"),
    "W020": (WARNING, "identified from the cover sheet"),
    "W021": (WARNING, "identified from sheet headers"),
    "W022": (WARNING, "built from a different definition"),
    "W023": (WARNING, "older version of the instrument"),
    "W024": (WARNING, "content does not match the file extension"),
    "W025": (WARNING, "extra sheet ignored"),
    "W026": (WARNING, "extra column or variable ignored"),
    "W027": (WARNING, "organisation not in the round's distribution"),
    "W028": (WARNING, "sheet or column found under another name"),
    "W029": (WARNING, "question rows moved"),
    "W030": (WARNING, "text file is not UTF-8"),
    "W031": (WARNING, "macros present (not run)"),
    "W032": (WARNING, "read as a survey-platform export through a mapping file"),
    "W033": (WARNING, "optional variable missing from an individual's file (its answers are blank)"),
    # Survey-platform CSV exports (trust_survey.ingest.platform_csv): same meaning, same codes.
    "P001": (WARNING, "platform column not in the mapping (left out)"),
    "P002": (ERROR, "mapped platform column not in the file (a warning when the mapping marks it optional)"),
    "P003": (ERROR, "platform answer label not recognised"),
    "P004": (ERROR, "platform answer is not a number"),
    "P005": (WARNING, "respondent id repeated"),
    "P006": (WARNING, "email address removed or in an unmapped column"),
    "P007": (WARNING, "platform column name used twice"),
    "P008": (WARNING, "phone or NHS number removed from a text answer"),
}

COLUMNS = ["file", "sheet", "cell", "row", "column", "field", "value", "expected", "code", "severity", "message"]


@dataclass
class Issue:
    """One finding, saying where (file, sheet, cell, row, column), what was found and what was expected."""

    code: str
    message: str
    file: str = ""
    sheet: str = ""
    cell: str = ""
    row: int | None = None
    column: str = ""
    field: str = ""
    value: str = ""
    expected: str = ""
    severity: str = ""

    def __post_init__(self) -> None:
        if not self.severity:
            self.severity = CODES[self.code][0]
        if self.value is None:
            self.value = ""
        elif isinstance(self.value, str):   # the text as found, less controls no output can hold (W015 says so)
            self.value = strip_controls(self.value)
        elif not isinstance(self.value, str):
            self.value = display(self.value)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def where(self) -> str:
        if self.sheet and self.cell:
            return f"{self.sheet}!{self.cell}"
        if self.column and self.row:
            return f"{self.file}: {self.column}, row {self.row}"
        return self.sheet or self.column or ""

    def as_dict(self) -> dict:
        out = asdict(self)
        return {k: out[k] for k in COLUMNS}


ISSUE_FIELDS = [f.name for f in fields(Issue)]


def display(value) -> str:
    """A value as the person who typed it would recognise it (12 not 12.0, dates as dd/mm/yyyy)."""
    import datetime as dt

    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        if value != value:
            return ""
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.strftime("%d/%m/%Y")
        return value.strftime("%d/%m/%Y %H:%M")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    return str(value)


class FileProblem(Exception):
    """A file-level problem (an ``F`` code): the file is quarantined and nothing is stored."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message
