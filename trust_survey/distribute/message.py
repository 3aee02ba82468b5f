"""One outgoing email: who it is to, its two parts and its attachments, with a stable Message-ID.

The Message-ID is derived from what the message is (its kind, round, instrument, organisation and its
sequence number: 0 for the first, 1 after one ``--resend``…; a reminder also by its date), so the same
message tried again after a crash or a dropped connection carries the same id and a mail system or a
reader can recognise the retry.
"""
from __future__ import annotations

import hashlib
import mimetypes
import re
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, getaddresses, localtime
from pathlib import Path

from trust_survey.distribute.template import Rendered
from trust_survey.errors import TrustSurveyError

CONTENT_TYPES = {
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".xlsm": ("application", "vnd.ms-excel.sheet.macroEnabled.12"),
    ".sav": ("application", "x-spss-sav"),
    ".zsav": ("application", "x-spss-sav"),
    ".csv": ("text", "csv"),
}
HEADER_TAG = "X-Trust-Survey"


class AttachmentError(TrustSurveyError):
    """An attachment is missing or is not the file the register recorded."""

    code = "SND002"


@dataclass
class Attachment:
    name: str
    path: Path
    sha256: str


@dataclass
class Outgoing:
    """A message to one organisation, before it is handed over."""

    kind: str                    # invitation | reminder
    round: int
    instrument_id: str
    org_code: str
    org_name: str
    sender: str
    to: list[str]
    cc: list[str]
    rendered: Rendered | None = None
    attachments: list[Attachment] = field(default_factory=list)
    message_id: str = ""
    problems: list[str] = field(default_factory=list)   # why it cannot be sent (it never is, then)
    note: str = ""

    @property
    def recipients(self) -> list[str]:
        return self.to + [c for c in self.cc if c.lower() not in {t.lower() for t in self.to}]

    @property
    def attachment_sha256(self) -> str:
        return "; ".join(a.sha256 for a in self.attachments)

    @property
    def attachment_names(self) -> str:
        return "; ".join(a.name for a in self.attachments)


def addresses(value: str | None) -> list[str]:
    """Email addresses in a register cell: one, or several separated by ``;`` or ``,``."""
    if not value or value != value:
        return []
    return [addr for _, addr in getaddresses([str(value).replace(";", ",")]) if addr]


def domain_of(address: str) -> str:
    return address.rsplit("@", 1)[-1].strip().lower() if "@" in address else "trust-survey.invalid"


def message_id(kind: str, round_: int, instrument_id: str, org_code: str, sequence: str, sender: str) -> str:
    """A Message-ID that is the same every time the same message is tried."""
    key = f"{kind}|{round_}|{instrument_id}|{org_code}|{sequence}|{sender.lower()}"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]
    safe = re.sub(r"[^A-Za-z0-9.-]", "-", f"{kind}.{round_}.{instrument_id}.{org_code}.{sequence}")
    return f"<ts.{safe}.{digest}@{domain_of(sender)}>"


def build_email(out: Outgoing, *, draft: bool = False) -> EmailMessage:
    """The email as it is sent (or, with ``draft``, as an ``.eml`` that Outlook opens ready to send)."""
    msg = EmailMessage(policy=SMTP)
    msg["From"] = out.sender
    msg["To"] = ", ".join(out.to)
    if out.cc:
        msg["Cc"] = ", ".join(out.cc)
    msg["Subject"] = out.rendered.subject
    msg["Date"] = format_datetime(localtime())
    msg["Message-ID"] = out.message_id
    msg[HEADER_TAG] = f"{out.kind}; round={out.round}; instrument={out.instrument_id}; org={out.org_code}"
    if draft:
        msg["X-Unsent"] = "1"   # Outlook opens the file as a draft with a Send button
    msg.set_content(out.rendered.text, subtype="plain", charset="utf-8")
    msg.add_alternative(out.rendered.html, subtype="html", charset="utf-8")
    for att in out.attachments:
        maintype, subtype = CONTENT_TYPES.get(att.path.suffix.lower()) or \
            tuple((mimetypes.guess_type(att.name)[0] or "application/octet-stream").split("/", 1))
        data = att.path.read_bytes()
        if hashlib.sha256(data).hexdigest() != att.sha256:   # changed since it was checked: never send it
            raise AttachmentError(f"{att.path}: changed while the message was being made (sha256 no longer "
                                  "matches the register); nothing was sent to "
                                  f"{out.org_code}; rebuild the round or restore the file, then run this again")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=att.name)
    return msg
