"""``send``: one message per organisation in a round's distribution register, with its own files attached.

:func:`plan_invitations` reads the register from the store, checks that each organisation's files exist
and match the sha256 the register recorded (a missing or changed file blocks that organisation's
message: it is never sent), and renders each message. :func:`deliver_all` hands the messages over (an
outbox folder or an SMTP server), recording each in the send ledger: as ``sent`` only once the server
accepted it. Organisations already sent their invitation by the same route are left out, so a rerun
sends only what has not been sent; ``resend`` names the ones to send again.
"""
from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pandas as pd

from trust_survey import store
from trust_survey.common.hashing import sha256_file
from trust_survey.distribute import ledger
from trust_survey.distribute.message import Attachment, AttachmentError, Outgoing, addresses, build_email, message_id
from trust_survey.distribute.template import Template, render, shipped
from trust_survey.distribute.transport import Disconnected, eml_name
from trust_survey.errors import NotFoundError, TrustSurveyError, did_you_mean
from trust_survey.writers import append_csv_rows

log = logging.getLogger(__name__)
OUTBOX_COLUMNS = ["file", "message_id", "kind", "round", "instrument_id", "org_code", "org_name", "to", "cc",
                  "subject", "attachments", "attachment_sha256", "written_at"]
SENDER_NAME = "The clinical bioinformatics workforce survey team"
RECONNECTS = 1   # a dropped connection is opened again this many times for one message before the run stops


class SendError(TrustSurveyError):
    code = "SND001"


@dataclass
class Result:
    """What happened to each planned message: org_code -> (result, detail)."""

    messages: list[Outgoing]
    results: dict[str, tuple[str, str]] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)     # already sent by this route
    out_dir: Path | None = None
    stopped: str = ""                                    # why the run stopped early, if it did

    @classmethod
    def planned(cls, messages: list[Outgoing], skipped: list[str]) -> "Result":
        """What a dry run reports: each message would be sent, or is blocked with its problems."""
        res = cls(messages, skipped=skipped)
        for out in messages:
            res.results[out.org_code] = ("blocked" if out.problems else "would send", "; ".join(out.problems))
        return res

    def count(self, result: str) -> int:
        return sum(r == result for r, _ in self.results.values())

    @property
    def exit_code(self) -> int:
        return 1 if self.stopped or any(r in ("blocked", "refused", "failed", "no address")
                                        for r, _ in self.results.values()) else 0


def register(con, round_: int, instrument_id: str) -> pd.DataFrame:
    """The round's distribution register for an instrument, one row per file sent."""
    frame = con.execute("""SELECT * FROM distribution WHERE round = ? AND instrument_id = ?
                           ORDER BY org_code, file""", [round_, instrument_id]).df()
    if frame.empty:
        known = [r[0] for r in con.execute("SELECT DISTINCT instrument_id FROM distribution WHERE round = ?",
                                           [round_]).fetchall()]
        hint = f" (round {round_} has: {', '.join(known)})" if known else ""
        raise NotFoundError(f"no distribution recorded for {instrument_id}, round {round_}{hint}; run `trust-survey "
                            f"instruments build {instrument_id} --round {round_}` first", code="SND007")
    return frame


def open_round_store(db: Path, round_: int, instrument_id: str):
    """The store ``send`` and ``chase`` work on; one that does not exist is an error, never a new empty file
    (a mistyped --db would otherwise create one and then find no distribution in it)."""
    if not Path(db).is_file():
        raise NotFoundError(f"no database at {db}, so no distribution recorded for {instrument_id}, round {round_}; "
                            f"run `trust-survey instruments build {instrument_id} --round {round_}` first, or pass "
                            "--db", code="SND007")
    return store.open_store(db)


def text(value) -> str:
    return "" if value is None or value != value else str(value)


def check_files(rows: pd.DataFrame, files_dir: Path | None) -> tuple[list[Attachment], list[str]]:
    """The organisation's files as attachments, and every problem (missing, or not the register's sha256)."""
    attachments, problems = [], []
    for row in rows.itertuples(index=False):
        folder = Path(files_dir) if files_dir else Path(row.folder) if isinstance(row.folder, str) and row.folder \
            else None
        if folder is None:
            problems.append(f"{row.file}: the register does not say where it was built; pass --files FOLDER")
            continue
        path = folder / row.file
        if not path.is_file():
            problems.append(f"{path}: missing (the register lists it); rebuild the round or pass --files FOLDER")
            continue
        sha = sha256_file(path)
        if sha != row.sha256:
            problems.append(f"{path}: sha256 {sha[:12]}… differs from the register's {str(row.sha256)[:12]}…, so it "
                            "is not the file that was built; rebuild the round (or restore the file)")
            continue
        attachments.append(Attachment(row.file, path, sha))
    return attachments, problems


def values_for(out: Outgoing, *, instrument_title: str, deadline: str, contact: str, sender_name: str,
               changes: str = "", missing: str = "") -> dict[str, str]:
    return {"org_name": out.org_name or out.org_code, "org_code": out.org_code, "round": str(out.round),
            "instrument_title": instrument_title, "deadline": deadline, "contact": contact,
            "attachments": ", ".join(a.name for a in out.attachments) or "none", "changes": changes,
            "missing": missing, "sender_name": sender_name or SENDER_NAME}


def plan_invitations(con, inst, round_: int, *, sender: str, route: str, deadline: str, contact: str,
                     template: Template | None = None, files_dir: Path | None = None, changes: str = "",
                     resend: set[str] = frozenset(), sender_name: str = "") -> tuple[list[Outgoing], list[str]]:
    """(messages to hand over, organisations skipped as already sent by this route)."""
    template = template or shipped("invitation")
    reg = register(con, round_, inst.id)
    unknown = sorted(set(resend) - set(reg.org_code))
    if unknown:
        raise NotFoundError(f"--resend {unknown[0]}: not in the distribution register of {inst.id}, round "
                            f"{round_}{did_you_mean(unknown[0], sorted(set(reg.org_code)))}", code="SND008")
    done = ledger.delivered(con, "invitation", round_, inst.id, route)
    messages, skipped = [], []
    for org, rows in reg.groupby("org_code", sort=True):
        if org in done and org not in resend:
            skipped.append(org)
            continue
        first = rows.iloc[0]
        out = Outgoing("invitation", round_, inst.id, org, text(first.org_name), sender,
                       addresses(first.contact_email), addresses(first.get("cc_email")))
        out.attachments, out.problems = check_files(rows, files_dir)
        if not out.to:
            out.problems.append("no contact_email in the register; add it to ORGS.csv and rebuild the round")
        seq = ledger.sequence(con, "invitation", round_, inst.id, org, route)
        out.message_id = message_id("invitation", round_, inst.id, org, str(seq), sender)
        out.note = str(seq)
        out.rendered = render(template, values_for(out, instrument_title=inst.title, deadline=deadline,
                                                   contact=contact, changes=changes, sender_name=sender_name))
        messages.append(out)
    return messages, skipped


def deliver_all(con, messages: list[Outgoing], transport, *, round_: int, on_progress: Callable[[int], None],
                before_each: Callable[[Outgoing], str] | None = None, out_dir: Path | None = None) -> Result:
    """Hand every message over, recording each in the ledger; ``before_each(out)`` may return a reason not
    to send (checked just before the message goes)."""
    result = Result(messages, out_dir=out_dir)
    outbox_rows = []
    with transport:
        for out in messages:
            on_progress(1)
            if out.problems:
                detail = "; ".join(out.problems)
                ledger.record_blocked(con, out, transport.route, detail)
                result.results[out.org_code] = ("no address" if not out.to and len(out.problems) == 1 else "blocked",
                                                detail)
                continue
            if before_each:
                reason = before_each(out)
                if reason:
                    result.results[out.org_code] = ("not needed", reason)
                    continue
            try:
                msg = build_email(out, draft=transport.route == "outbox")
            except AttachmentError as exc:
                ledger.record_blocked(con, out, transport.route, str(exc))
                result.results[out.org_code] = ("blocked", str(exc))
                continue
            at = ledger.start(con, out, transport.route)
            name = eml_name(out.org_code, out.kind, out.round, out.instrument_id, out.note)
            delivery = None
            for attempt in range(RECONNECTS + 1):
                try:
                    delivery = transport.deliver(msg, name)
                    break
                except TrustSurveyError as exc:     # cannot connect or log in: nothing more can be sent
                    ledger.finish(con, out.message_id, at, "failed", detail=str(exc))
                    raise
                except Disconnected as exc:
                    log.warning("connection lost while sending to %s (%s); %s", out.org_code, exc,
                                "connecting again" if attempt < RECONNECTS else "stopping")
                    last = str(exc)
            if delivery is None:
                ledger.finish(con, out.message_id, at, "failed", detail=f"connection lost: {last}")
                result.results[out.org_code] = ("failed", f"connection lost: {last}")
                result.stopped = (f"the connection to the server was lost twice while sending to {out.org_code}; "
                                  "run the same command again to send the rest (nothing is sent twice)")
                break
            if transport.route == "outbox":
                ledger.finish(con, out.message_id, at, "written", detail=delivery.where)
                result.results[out.org_code] = ("written", delivery.where)
                outbox_rows.append({"file": name, "message_id": out.message_id, "kind": out.kind,
                                    "round": out.round, "instrument_id": out.instrument_id,
                                    "org_code": out.org_code, "org_name": out.org_name, "to": "; ".join(out.to),
                                    "cc": "; ".join(out.cc), "subject": out.rendered.subject,
                                    "attachments": out.attachment_names,
                                    "attachment_sha256": out.attachment_sha256,
                                    "written_at": dt.datetime.now().isoformat(timespec="seconds")})
                continue
            refused = "; ".join(f"{a} ({r})" for a, r in delivery.refused.items())
            if delivery.accepted:
                ledger.finish(con, out.message_id, at, "sent", refused=refused, detail=delivery.where)
                result.results[out.org_code] = ("sent", f"refused: {refused}" if refused else "")
            else:
                ledger.finish(con, out.message_id, at, "refused", refused=refused)
                result.results[out.org_code] = ("refused", refused)
    if outbox_rows and out_dir is not None:
        append_csv_rows(Path(out_dir) / "outbox.csv", OUTBOX_COLUMNS, outbox_rows)
    return result


def send_round(db: Path, inst, round_: int, transport, *, sender: str, deadline: str, contact: str,
               template: Template | None = None, files_dir: Path | None = None, changes: str = "",
               resend: set[str] = frozenset(), dry_run: bool = False, sender_name: str = "",
               on_progress: Callable[[int], None] = lambda n: None) -> Result:
    """Plan and hand over the round's invitations (``dry_run``: plan and check only; nothing is recorded)."""
    with open_round_store(db, round_, inst.id) as con:   # writable even for a dry run: an older one is upgraded
        messages, skipped = plan_invitations(con, inst, round_, sender=sender, route=transport.route,
                                             deadline=deadline, contact=contact, template=template,
                                             files_dir=files_dir, changes=changes, resend=resend,
                                             sender_name=sender_name)
        if dry_run:
            return Result.planned(messages, skipped)
        res = deliver_all(con, messages, transport, round_=round_, on_progress=on_progress,
                          out_dir=getattr(transport, "folder", None))
        res.skipped = skipped
        return res
