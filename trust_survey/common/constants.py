"""Names shared by the workbook builder, the readers, simulate and feedback: written once, here."""

COVER_SHEET = "Cover"
LISTS_SHEET = "Lists"
CHECKS_SHEET = "Checks"
META_SHEET = "meta"

#: Form sections: one row per question, a single header row.
FORM_HEADERS = ("Ref", "Question", "Answer", "Guidance")
FORM_REF_COL = 1
FORM_QUESTION_COL = 2
FORM_ANSWER_COL = 3
FORM_GUIDANCE_COL = 4
HEADER_ROW = 1
FIRST_DATA_ROW = 2

#: Rows of the cover sheet, label in column A and value in column B; the reader falls back on them.
COVER_FIELDS = (
    ("Organisation", "org_name"),
    ("ODS code", "org_code"),
    ("Survey round", "round"),
    ("Instrument", "instrument_id"),
    ("Instrument version", "instrument_version"),
    ("Return by", "deadline"),
    ("Questions to", "contact"),
)
#: The cover of an individual instrument's workbook: a pseudonymous respondent id, never a name.
INDIVIDUAL_COVER_FIELDS = (
    ("Respondent id", "org_code"),
    ("Survey round", "round"),
    ("Instrument", "instrument_id"),
    ("Instrument version", "instrument_version"),
    ("Return by", "deadline"),
    ("Questions to", "contact"),
)
COVER_FIRST_ROW = 3

#: Keys written to the very hidden meta sheet (column A key, column B value).
META_KEYS = (
    "instrument_id", "instrument_version", "round", "org_code", "org_name",
    "definition_sha256", "built_at", "toolkit_version",
)

LIST_NAME_PREFIX = "lst_"
