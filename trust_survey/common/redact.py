"""Remove contact details and NHS numbers from free text before it is stored or shown.

Respondents are pseudonymous, but people type their details into comments. :func:`redact` replaces

- email addresses (``jo.bloggs@nhs.net``) with ``[email removed]``; the address ends at its last
  domain label, so a full stop, comma or bracket after it is kept;
- UK phone numbers (``+44 7700 900123``, ``+44 (0)20 7946 0000``, ``020-7946-0000``, ``07700900123``:
  ``0`` or ``+44`` then 9 or 10 digits, single spaces or dashes allowed between them) with
  ``[phone number removed]``;
- NHS numbers (10 digits, optionally ``943 476 5919`` or ``943-476-5919``, whose last digit is the
  modulus-11 check digit of the first nine) with ``[NHS number removed]``; ten digits that fail the check
  are left alone (they are not NHS numbers).

It says which kinds it removed, so the caller can put a warning on the cell.
"""
from __future__ import annotations

import re

EMAIL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
                   r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![A-Za-z0-9-])")
EMAIL_REDACTED = "[email removed]"
NHS_NUMBER = re.compile(r"(?<![\d+])(\d{3})([ -]?)(\d{3})\2(\d{4})(?![\d])")
PHONE = re.compile(r"(?<![\w+])(?:\+44[ -]?(?:\(0\)[ -]?)?|\(?0)(?:\d[ -]?\)?[ -]?){8,9}\d(?!\d)")
PHONE_REDACTED = "[phone number removed]"
NHS_REDACTED = "[NHS number removed]"


def nhs_number_valid(digits: str) -> bool:
    """Whether ten digits form a valid NHS number (modulus 11 check digit; a remainder giving 10 is invalid)."""
    if len(digits) != 10 or not digits.isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1)))
    check = 11 - total % 11
    check = 0 if check == 11 else check
    return check != 10 and check == int(digits[9])


def _nhs(match: re.Match) -> str:
    digits = match.group(1) + match.group(3) + match.group(4)
    return NHS_REDACTED if nhs_number_valid(digits) else match.group(0)


def redact(text: str) -> tuple[str, list[str]]:
    """(``text`` with emails, NHS numbers and UK phone numbers replaced, the kinds removed, in that order)."""
    kinds = []
    out = EMAIL.sub(EMAIL_REDACTED, text)
    if out != text:
        kinds.append("email address")
    before = out
    out = NHS_NUMBER.sub(_nhs, out)
    if out != before:
        kinds.append("NHS number")
    before = out
    out = PHONE.sub(PHONE_REDACTED, out)
    if out != before:
        kinds.append("phone number")
    return out, kinds


def removal_note(kind: str, where: str) -> tuple[str, str]:
    """(issue code, message) for one kind :func:`redact` removed from ``where``: P006 for an email address,
    P008 for a phone or NHS number."""
    article = "a" if kind.startswith("phone") else "an"
    return ("P006" if kind == "email address" else "P008",
            f"{article} {kind} in {where} was removed; respondents are pseudonymous")
