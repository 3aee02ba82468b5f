"""Read and check the list of organisations a round is sent to (ORGS.csv)."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from trust_survey.errors import InputFileError, did_you_mean
from trust_survey.csvread import blank, read_records

REQUIRED = ("org_code", "org_name")
OPTIONAL = ("org_type", "region_code", "icb_code", "contact_email", "cc_email")
ODS_CODE = re.compile(r"^[A-Z0-9]{3,5}$")
REGION_CODE = re.compile(r"^Y\d{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
ORG_TYPES = ("trust", "icb", "other")


def _records(path: Path, encoding: str | None, expected: str) -> list[tuple[int, list[str]]]:
    """(record number, cells) of the header and every data record, read by :mod:`trust_survey.csvread`."""
    try:
        table = read_records(path, encoding=encoding)
    except InputFileError as exc:
        if exc.code == "F010":
            raise InputFileError(f"{path}: empty file; expected a header row with {expected}") from None
        raise InputFileError(f"{path}: {getattr(exc, 'message', exc)}", code="ORG004") from None
    return [(table.header_number, table.header),
            *((n, record) for n, record in zip(table.numbers, table.records) if not blank(record))]


RESPONDENT_ID = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,19}$")


def read_respondents(path: Path, encoding: str | None = None) -> pd.DataFrame:
    """Respondents of an individual instrument (``respondent_id`` [, contact_email]) in the shape
    :func:`read_orgs` returns, the pseudonymous id as ``org_code``. Names are never kept: an
    ``org_name`` or name column is ignored, so no name reaches a workbook, its meta sheet or the store.
    """
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: respondents file not found")
    rows = _records(path, encoding, "respondent_id")
    header = [h.strip().lower() for h in rows[0][1]]
    id_col = "respondent_id" if "respondent_id" in header else "org_code" if "org_code" in header else None
    if id_col is None:
        raise InputFileError(f"{path}: line 1: missing column respondent_id{did_you_mean('respondent_id', header)}; "
                             f"found {', '.join(header)}", code="ORG001")
    problems, records, seen = [], [], {}
    for line_no, row in rows[1:]:
        rec = {h: cell.strip() for h, cell in zip(header, row)}
        rid = rec.get(id_col, "").upper()
        email = rec.get("contact_email", "")
        if not RESPONDENT_ID.match(rid):
            problems.append(f"{path}: line {line_no}: respondent_id '{rid}' is not a respondent id (letters, digits, "
                            "'-' or '_', up to 20, e.g. IR2026-0001)")
        elif rid in seen:
            problems.append(f"{path}: line {line_no}: respondent_id '{rid}' repeats line {seen[rid]}")
        else:
            seen[rid] = line_no
        if email and not EMAIL.match(email):
            problems.append(f"{path}: line {line_no}: contact_email '{email}' is not an email address")
        records.append({"org_code": rid, "org_name": "", "org_type": "other", "region_code": "", "icb_code": "",
                        "contact_email": email, "cc_email": ""})
    if problems:
        raise InputFileError(f"{path}: {len(problems)} problem(s) in the respondents file", code="ORG002",
                             details=problems)
    if not records:
        raise InputFileError(f"{path}: no respondents listed below the header", code="ORG003")
    return pd.DataFrame(records, columns=list(REQUIRED) + list(OPTIONAL))


def read_orgs(path: Path, encoding: str | None = None, *, individual: bool = False) -> pd.DataFrame:
    """Return the organisations as a DataFrame; raise InputFileError listing every bad line.

    Line numbers in messages count the header as line 1, as a spreadsheet shows them. With
    ``individual`` (an instrument answered by individuals) read respondents instead
    (:func:`read_respondents`).
    """
    if individual:
        return read_respondents(path, encoding)
    path = Path(path)
    if not path.is_file():
        raise InputFileError(f"{path}: organisations file not found")
    rows = _records(path, encoding, ", ".join(REQUIRED))
    header = [h.strip().lower() for h in rows[0][1]]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        hints = "".join(did_you_mean(c, header) for c in missing)
        raise InputFileError(
            f"{path}: line 1: missing column(s) {', '.join(missing)}{hints}; found {', '.join(header)}",
            code="ORG001")
    problems: list[str] = []
    records = []
    seen: dict[str, int] = {}
    for line_no, row in rows[1:]:
        rec = {h: cell.strip() for h, cell in zip(header, row)}
        code = rec["org_code"].upper()
        rec["org_code"] = code
        if not code:
            problems.append(f"{path}: line {line_no}: org_code is blank")
        elif not ODS_CODE.match(code):
            problems.append(f"{path}: line {line_no}: org_code '{code}' is not an ODS code "
                            "(3 to 5 letters and digits, e.g. RJ1)")
        elif code in seen:
            problems.append(f"{path}: line {line_no}: org_code '{code}' repeats line {seen[code]}")
        else:
            seen[code] = line_no
        if not rec["org_name"]:
            problems.append(f"{path}: line {line_no}: org_name is blank")
        org_type = rec.get("org_type", "").lower() or "trust"
        if org_type not in ORG_TYPES:
            problems.append(f"{path}: line {line_no}: org_type '{org_type}' is not one of "
                            f"{', '.join(ORG_TYPES)}{did_you_mean(org_type, ORG_TYPES)}")
        rec["org_type"] = org_type
        region = rec.get("region_code", "").upper()
        if region and not REGION_CODE.match(region):
            problems.append(f"{path}: line {line_no}: region_code '{region}' is not an NHS England region "
                            "code (Y56 to Y63)")
        rec["region_code"] = region
        icb = rec.get("icb_code", "").upper()
        if icb and not ODS_CODE.match(icb):
            problems.append(f"{path}: line {line_no}: icb_code '{icb}' is not an ODS code")
        rec["icb_code"] = icb
        email = rec.get("contact_email", "")
        if email and not EMAIL.match(email):
            problems.append(f"{path}: line {line_no}: contact_email '{email}' is not an email address")
        rec["contact_email"] = email
        cc = [a.strip() for a in re.split(r"[;,]", rec.get("cc_email", "")) if a.strip()]
        for address in cc:
            if not EMAIL.match(address):
                problems.append(f"{path}: line {line_no}: cc_email '{address}' is not an email address "
                                "(several are separated by ';')")
        rec["cc_email"] = "; ".join(cc)
        records.append(rec)
    if problems:
        raise InputFileError(f"{path}: {len(problems)} problem(s) in the organisations file",
                             code="ORG002", details=problems)
    if not records:
        raise InputFileError(f"{path}: no organisations listed below the header", code="ORG003")
    columns = list(REQUIRED) + list(OPTIONAL) + [h for h in header if h not in REQUIRED + OPTIONAL]
    return pd.DataFrame(records).reindex(columns=columns).fillna("")
