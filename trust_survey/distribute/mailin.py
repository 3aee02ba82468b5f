"""Returns straight from saved emails: ``.eml`` files (Python's :mod:`email`) and Outlook ``.msg`` files
(``extract-msg``), alone or in folders.

:func:`unpack` takes every attachment that could be a return out of each message into a private folder,
dated with the message's Date so that ingest orders resubmissions as they were sent; :func:`ingest_mail`
then ingests them with everything else given, exactly as if they had been saved by hand, and tells what
came from which message. Attachments are untrusted: a message file larger than a limit is not opened,
an attachment larger than ``--max-mb`` is not written, at most :data:`MAX_ATTACHMENTS` are taken from
one message, names are reduced to a safe file name, and everything written then goes through ingest's
own checks (content sniffing, the zip-bomb and declared-size limits, the quarantine).

For a trust return the store keeps the message's sender, date and subject beside the return
(``mail_received``); for an individual questionnaire nothing about the message is kept. A sender who is
neither the organisation's contact nor one of its cc addresses in the round's register is a warning:
many trusts share one mail domain, so the domain alone proves nothing.
"""
from __future__ import annotations

import datetime as dt
import email
import hashlib
import logging
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field
from email import policy
from email.utils import getaddresses, parsedate_to_datetime
from pathlib import Path
from typing import Iterable

import pandas as pd

from trust_survey import store
from trust_survey.distribute.message import addresses
from trust_survey.ingest.orchestrate import _special, _walk, collect_files, ingest_paths, run_folder
from trust_survey.writers import write_csv

MAIL_SUFFIXES = {".eml", ".msg"}
#: Attachments taken as possible returns (a .txt in an email is a note far more often than a return).
RETURN_SUFFIXES = {".xlsx", ".xlsm", ".xls", ".ods", ".csv", ".sav", ".zsav"}
MAX_ATTACHMENTS = 50
MAIL_OVERHEAD_MB = 5.0       # a message file may be this much larger than twice --max-mb (base64, body, headers)
EMAIL_COLUMNS = ["message_file", "sender", "date", "subject", "attachments", "returns", "outcome", "warning",
                 "what_to_do"]


@dataclass
class Mail:
    path: Path
    sender: str = ""
    date: dt.datetime | None = None
    date_text: str = ""
    subject: str = ""
    attachments: list[str] = field(default_factory=list)          # every attachment's name
    saved: list[tuple[Path, str]] = field(default_factory=list)   # (written file, sha256) of possible returns
    problems: list[str] = field(default_factory=list)
    returns: list[dict] = field(default_factory=list)             # filled after ingest
    warnings: list[str] = field(default_factory=list)
    individual: bool = False                                      # held an individual questionnaire


@dataclass
class MailIngest:
    mails: list[Mail]
    result: object                # the IngestResult, or None when no message held a return and nothing else was given
    emails_csv: Path | None


def is_mail(path: Path) -> bool:
    return path.suffix.lower() in MAIL_SUFFIXES


def find_mail(paths: Iterable[Path]) -> tuple[list[Path], list[Path]]:
    """(saved emails among ``paths`` and in their folders, the other paths as given)."""
    mails, others = [], []
    for path in map(Path, paths):
        if path.is_dir() and not _special(path):
            found = [p for p in sorted(_walk(path)) if is_mail(p) and not _special(p) and p.is_file()]
            mails.extend(found)
            others.append(path)
        elif is_mail(path) and not _special(path):
            mails.append(path)
        else:
            others.append(path)
    return mails, others


def safe_name(name: str) -> str:
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[\x00-\x1f\x7f<>:\"|?*]", "_", base).strip(" .")
    stem, dot, suffix = base.rpartition(".")
    if not dot:
        stem, suffix = base, ""
    stem = stem[:100] or "attachment"
    return f"{stem}.{suffix[:10]}" if suffix else stem


def _address(value: str) -> str:
    found = [a for _, a in getaddresses([value or ""]) if a]
    return found[0].lower() if found else (value or "").strip().lower()


def _read_eml(path: Path, mail: Mail) -> list[tuple[str, object]]:
    msg = email.message_from_bytes(path.read_bytes(), policy=policy.default)
    mail.sender = _address(str(msg.get("From", "")))
    mail.subject = str(msg.get("Subject", "") or "")
    mail.date_text = str(msg.get("Date", "") or "")
    try:
        mail.date = parsedate_to_datetime(mail.date_text) if mail.date_text else None
    except (TypeError, ValueError):
        mail.date = None
    parts = []
    for part in msg.walk():   # also into forwarded messages (message/rfc822)
        name = part.get_filename()
        if name and not part.is_multipart():
            parts.append((name, part))
    return parts


def _read_msg(path: Path, mail: Mail) -> list[tuple[str, object]]:
    import extract_msg

    # extract-msg logs its own complaint about a file it cannot read; that file's outcome already says so
    logging.getLogger("extract_msg").setLevel(logging.CRITICAL)
    msg = extract_msg.openMsg(str(path), delayAttachments=False)
    try:
        mail.sender = _address(msg.sender or "")
        mail.subject = msg.subject or ""
        mail.date = msg.date if isinstance(msg.date, dt.datetime) else None
        mail.date_text = mail.date.isoformat() if mail.date else ""
        parts = []
        for att in msg.attachments:
            data = att.data
            # a message attached to the message: its own attachments
            for one in (data.attachments if not isinstance(data, bytes) and hasattr(data, "attachments") else [att]):
                parts.append((one.longFilename or one.shortFilename or "attachment",
                              one.data if isinstance(one.data, bytes) else None))
        return parts
    finally:
        msg.close()


def unpack(path: Path, folder: Path, max_mb: float) -> Mail:
    """Read one saved email and write its possible returns into ``folder`` (its own, empty)."""
    mail = Mail(path)
    limit = max_mb * 2 + MAIL_OVERHEAD_MB
    size = path.stat().st_size
    if size > limit * 1024 * 1024:
        mail.problems.append(f"the message file is {size / 1e6:.1f} MB, over the {limit:.0f} MB limit for a saved "
                             "email; save the attachment itself and ingest that (or raise --max-mb)")
        return mail
    try:
        parts = _read_msg(path, mail) if path.suffix.lower() == ".msg" else _read_eml(path, mail)
    except Exception as exc:  # noqa: BLE001 - an unreadable message is reported, never fatal to the run
        kind = "Outlook message" if path.suffix.lower() == ".msg" else "email"
        mail.problems.append(f"cannot be read as a saved {kind} ({type(exc).__name__}: {exc}); save the attachment "
                             "itself and ingest that")
        return mail
    stamp = mail.date.timestamp() if mail.date else None
    taken = 0
    for name, part in parts:
        name = safe_name(str(name))
        mail.attachments.append(name)
        if Path(name).suffix.lower() not in RETURN_SUFFIXES:
            continue
        if taken >= MAX_ATTACHMENTS:
            mail.problems.append(f"more than {MAX_ATTACHMENTS} possible returns attached; only the first "
                                 f"{MAX_ATTACHMENTS} were read")
            break
        data = part if isinstance(part, (bytes, type(None))) else part.get_payload(decode=True)
        if not data:
            mail.problems.append(f"{name}: the attachment is empty or could not be decoded")
            continue
        if len(data) > max_mb * 1024 * 1024:
            mail.problems.append(f"{name}: {len(data) / 1e6:.1f} MB, over the --max-mb limit of {max_mb:g} MB; "
                                 "not read")
            continue
        taken += 1
        target = folder / f"{taken:02d}" / name
        target.parent.mkdir(parents=True)
        target.write_bytes(data)
        if stamp is not None:
            os.utime(target, (stamp, stamp))
        mail.saved.append((target, hashlib.sha256(data).hexdigest()))
    return mail


def _what_to_do(mail: Mail) -> str:
    if mail.problems and not mail.saved:
        return "; ".join(mail.problems)
    if not mail.saved:
        seen = f" (attached: {', '.join(mail.attachments)})" if mail.attachments else " (nothing attached)"
        return (f"no return attached{seen}: if the return came as a link or in a .zip, save the workbook and ingest "
                "it; otherwise reply asking the sender to attach the completed workbook")
    return ""


def _record(db: Path, mails: list[Mail], registry) -> None:
    """Link each return to its message; keep sender, date and subject for trust returns only; warn about a
    sender who is not the organisation's contact or cc."""
    by_sha = {sha: mail for mail in mails for _, sha in mail.saved}
    if not by_sha:
        return
    individual = {i for i in registry.ids() if "individual" in registry.get(i).audience}
    with store.open_store(db) as con:
        marks = ",".join("?" * len(by_sha))
        subs = con.execute(f"""SELECT f.sha256, s.submission_id, s.org_code, s.round, s.instrument_id, s.status
                               FROM submission_files f JOIN submissions s USING (submission_id)
                               WHERE f.sha256 IN ({marks})""", list(by_sha)).fetchall()
        now = dt.datetime.now().replace(microsecond=0)
        for sha, sid, org, round_, inst, status in subs:
            mail = by_sha[sha]
            mail.returns.append({"org_code": org, "instrument_id": inst, "round": round_, "submission_id": sid,
                                 "status": status})
            if inst in individual:
                mail.individual = True
                continue
            known = con.execute("SELECT count(*) FROM mail_received WHERE sha256 = ?", [sha]).fetchone()[0]
            if not known:
                con.execute("INSERT INTO mail_received VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                            [sid, sha, org, round_, inst, mail.sender, mail.date_text, mail.subject,
                             mail.path.name, now])
            rows = con.execute("""SELECT contact_email, cc_email FROM distribution WHERE round = ? AND org_code = ?
                                  AND instrument_id = ?""", [round_, org, inst]).fetchall()
            if not rows:
                continue
            allowed = {a.lower() for row in rows for cell in row for a in addresses(cell)}
            if mail.sender and mail.sender not in allowed:
                mail.warnings.append(f"{mail.path.name}: the return for {org} came from {mail.sender}, who is neither "
                                     f"{org}'s contact nor cc in the round {round_} register "
                                     f"({', '.join(sorted(allowed)) or 'none recorded'}); check that it is "
                                     f"{org}'s return")


def ingest_mail(paths, db: Path, round_, strict, out_dir, on_progress, *, engine, max_mb, registry,
                mapping) -> MailIngest:
    """Ingest ``paths``, taking returns out of any saved emails among them (see the module's docstring)."""
    mail_paths, others = find_mail(paths)
    staging = Path(tempfile.mkdtemp(prefix="trust-survey-mail-"))
    try:
        mails = [unpack(p, staging / f"m{i:04d}", max_mb) for i, p in enumerate(mail_paths)]
        extracted = [f for m in mails for f, _ in m.saved]
        has_files = bool(extracted) or any(not Path(p).is_dir() or _has_returns(Path(p)) for p in others)
        out_dir = Path(out_dir) if out_dir else run_folder()
        result = None
        if has_files:
            result = ingest_paths([*others, *extracted], db, round_, strict, out_dir, on_progress, engine=engine,
                                  max_mb=max_mb, registry=registry, mapping=mapping)
            _record(db, mails, registry)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    rows = []
    for mail in mails:
        outcome = "; ".join(f"{r['org_code']} {r['instrument_id']}: {r['status']}" for r in mail.returns)
        if mail.saved and not mail.returns:
            outcome = "attachment(s) not stored (unreadable or refused: see files.csv and issues.csv)"
        private = mail.individual   # nothing about an individual's message is kept, not even here
        rows.append({"message_file": str(mail.path), "sender": "" if private else mail.sender,
                     "date": "" if private else mail.date_text, "subject": "" if private else mail.subject,
                     "attachments": "; ".join(mail.attachments),
                     "returns": len(mail.saved), "outcome": outcome, "warning": "; ".join(mail.warnings),
                     "what_to_do": _what_to_do(mail)})
    emails_csv = None
    if mails:
        emails_csv = write_csv(out_dir / "emails.csv", pd.DataFrame(rows, columns=EMAIL_COLUMNS), force=True,
                               integers=("returns",))
    return MailIngest(mails, result, emails_csv)


def _has_returns(folder: Path) -> bool:
    files, _ = collect_files([folder])
    return bool(files)
