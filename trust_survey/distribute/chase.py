"""``chase``: a reminder to each organisation still owing a valid return, saying what is missing.

Who is owed comes from the chase list (:func:`trust_survey.distribute.status.chase_list`: not returned, or
only a rejected return). An organisation that has not returned is sent its own files again (checked
against the register as ``send`` checks them); one whose return was rejected gets its feedback workbook,
made as ``feedback`` makes it, listing every error with its sheet and cell. Just before each message
goes, the store is asked again whether a valid return has come in; if it has, no reminder is sent.
Reminders go in the same send ledger as invitations; an organisation reminded today by the same route
is not reminded again today, so a rerun after a crash sends only the rest.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Callable

import pandas as pd

from trust_survey import store
from trust_survey.common.hashing import sha256_file
from trust_survey.distribute import ledger
from trust_survey.distribute.feedback import _write_workbook, feedback_targets
from trust_survey.distribute.message import Attachment, Outgoing, addresses, message_id
from trust_survey.distribute.send import (
    Result, check_files, deliver_all, open_round_store, register, text, values_for,
)
from trust_survey.distribute.status import chase_list
from trust_survey.distribute.template import Template, render, shipped


def _valid_return_in(con, org_code: str, round_: int, instrument_id: str) -> str:
    row = con.execute("""SELECT file_name, received_at FROM submissions WHERE org_code = ? AND round = ?
                         AND instrument_id = ? AND status IN ('accepted', 'accepted_with_warnings')
                         ORDER BY received_at DESC LIMIT 1""", [org_code, round_, instrument_id]).fetchone()
    if row is None:
        return ""
    when = f" on {row[1]:%d/%m/%Y %H:%M}" if row[1] is not None else ""
    return f"its valid return {row[0]} came in{when}; no reminder needed"


def _missing_text(owing: pd.Series) -> str:
    if owing.state == "rejected":
        return (f"We received your return but could not accept it: it has {int(owing.errors)} error(s). The "
                "attached feedback workbook lists each one with the sheet and cell of your return. Please "
                "correct them and send the whole return again.")
    return "We have not yet received your organisation's return. Your workbook is attached again in case you need it."


def _feedback_workbooks(con, round_: int, instrument_id: str, orgs: list[str], folder: Path) -> dict[str, Path]:
    """The feedback workbook of each rejected organisation named, written into ``folder``."""
    targets = feedback_targets(con, round_)
    targets = targets[(targets.instrument_id == instrument_id) & targets.org_code.isin(orgs)]
    if targets.empty:
        return {}
    issues = store.issues_of(con, [int(s) for s in targets.submission_id])
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for _, sub in targets.iterrows():
        path = folder / f"{sub.org_code}_{sub.instrument_id}_{sub['round']}_feedback.xlsx"
        if path.exists():
            path.unlink()
        _write_workbook(path, sub, issues[issues.submission_id == sub.submission_id])
        out[sub.org_code] = path
    return out


def plan_reminders(con, inst, round_: int, *, sender: str, route: str, deadline: str, contact: str,
                   feedback_dir: Path, template: Template | None = None, files_dir: Path | None = None,
                   today: dt.date | None = None, sender_name: str = "",
                   write_feedback: bool = True) -> tuple[list[Outgoing], list[str]]:
    """(reminders to hand over, organisations already reminded today by this route)."""
    template = template or shipped("reminder")
    today = today or dt.date.today()
    status = store.round_status(con, round_, inst.id)
    owing = chase_list(status) if not status.empty else status
    reg = register(con, round_, inst.id)
    done = ledger.delivered(con, "reminder", round_, inst.id, route, since=today)
    rejected = [o.org_code for o in owing.itertuples() if o.state == "rejected" and o.org_code not in done]
    feedback = _feedback_workbooks(con, round_, inst.id, rejected, feedback_dir) if write_feedback else {}
    messages, skipped = [], []
    for _, row in owing.iterrows():
        org = row.org_code
        if org in done:
            skipped.append(org)
            continue
        rows = reg[reg.org_code == org]
        first = rows.iloc[0] if len(rows) else None
        out = Outgoing("reminder", round_, inst.id, org, text(row.org_name), sender,
                       addresses(first.contact_email if first is not None else row.contact_email),
                       addresses(first.get("cc_email") if first is not None else ""))
        if row.state == "rejected":
            if org in feedback:
                path = feedback[org]
                out.attachments = [Attachment(path.name, path, sha256_file(path))]
        else:
            out.attachments, out.problems = check_files(rows, files_dir)
        if not out.to:
            out.problems.append("no contact_email in the register; add it to ORGS.csv and rebuild the round")
        out.note = today.isoformat()
        out.message_id = message_id("reminder", round_, inst.id, org, out.note, sender)
        out.rendered = render(template, values_for(out, instrument_title=inst.title, deadline=deadline,
                                                   contact=contact, missing=_missing_text(row),
                                                   sender_name=sender_name))
        messages.append(out)
    return messages, skipped


def chase_round(db: Path, inst, round_: int, transport, *, sender: str, deadline: str, contact: str,
                feedback_dir: Path, template: Template | None = None, files_dir: Path | None = None,
                dry_run: bool = False, sender_name: str = "",
                on_progress: Callable[[int], None] = lambda n: None) -> Result:
    """Plan and hand over the round's reminders (``dry_run``: plan and check only; nothing is recorded)."""
    with open_round_store(db, round_, inst.id) as con:
        messages, skipped = plan_reminders(con, inst, round_, sender=sender, route=transport.route,
                                           deadline=deadline, contact=contact, feedback_dir=feedback_dir,
                                           template=template, files_dir=files_dir, sender_name=sender_name,
                                           write_feedback=not dry_run)
        if dry_run:
            return Result.planned(messages, skipped)
        res = deliver_all(con, messages, transport, round_=round_, on_progress=on_progress,
                          before_each=lambda out: _valid_return_in(con, out.org_code, round_, out.instrument_id),
                          out_dir=getattr(transport, "folder", None))
        res.skipped = skipped
        return res
