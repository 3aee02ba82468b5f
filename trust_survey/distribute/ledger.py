"""The send ledger (``mail_ledger`` in the store): every message sent or written to an outbox.

One row per attempt. A message is first recorded as ``sending``, then updated once the attempt is over:

- ``sent``: the SMTP server accepted it (for at least one recipient; ``refused`` lists any it refused);
- ``written``: written to an outbox folder as an ``.eml`` file, to be sent from a mail program;
- ``refused``: the server refused every recipient; nothing was delivered;
- ``failed``: the server or the connection failed before accepting it;
- ``blocked``: never sent, because an attachment was missing or differed from the register.

A row left at ``sending`` means the run stopped while handing the message over; the next run tries it
again under the same Message-ID and marks the old row ``interrupted``.
"""
from __future__ import annotations

import datetime as dt

import pandas as pd

from trust_survey.store import open_store, transaction

DELIVERED = {"smtp": ("sent",), "outbox": ("sent", "written")}
LEDGER_COLUMNS = ["message_id", "kind", "round", "instrument_id", "org_code", "route", "sender", "recipients",
                  "refused", "subject", "attachments", "attachment_sha256", "handed_at", "result", "detail"]


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def delivered(con, kind: str, round_: int, instrument_id: str, route: str, since: dt.date | None = None) -> set[str]:
    """Organisations already sent this kind of message by this route (an outbox counts what was sent by
    SMTP too; SMTP does not count what was only written to an outbox). ``since``: only messages that day
    or later."""
    results = DELIVERED[route]
    args: list = [kind, round_, instrument_id, *results]
    extra = ""
    if since is not None:
        extra, args = " AND handed_at >= ?", args + [dt.datetime.combine(since, dt.time())]
    rows = con.execute(f"""SELECT DISTINCT org_code FROM mail_ledger WHERE kind = ? AND round = ? AND instrument_id = ?
                           AND result IN ({','.join('?' * len(results))}){extra}""", args).fetchall()
    return {r[0] for r in rows}


def sequence(con, kind: str, round_: int, instrument_id: str, org_code: str, route: str) -> int:
    """How many messages of this kind the organisation has been sent already by this route: the next
    message's sequence number (a retry of an unfinished one keeps its number, as nothing was delivered)."""
    results = DELIVERED[route]
    return con.execute(f"""SELECT count(DISTINCT message_id) FROM mail_ledger WHERE kind = ? AND round = ?
                           AND instrument_id = ? AND org_code = ? AND result IN ({','.join('?' * len(results))})""",
                       [kind, round_, instrument_id, org_code, *results]).fetchone()[0]


def start(con, out, route: str) -> dt.datetime:
    """Record a message as being handed over (result ``sending``); return the time recorded."""
    at = _now()
    with transaction(con):
        con.execute("UPDATE mail_ledger SET result = 'interrupted' WHERE message_id = ? AND result = 'sending'",
                    [out.message_id])
        con.execute("INSERT INTO mail_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?, ?, ?, 'sending', NULL)",
                    [out.message_id, out.kind, out.round, out.instrument_id, out.org_code, route, out.sender,
                     "; ".join(out.recipients), out.rendered.subject if out.rendered else "",
                     out.attachment_names, out.attachment_sha256, at])
    return at


def finish(con, message_id: str, at: dt.datetime, result: str, *, refused: str = "", detail: str = "") -> None:
    """Record how the attempt started at ``at`` ended."""
    with transaction(con):
        con.execute("""UPDATE mail_ledger SET result = ?, refused = ?, detail = ?
                       WHERE message_id = ? AND handed_at = ? AND result = 'sending'""",
                    [result, refused or None, detail or None, message_id, at])


def record_blocked(con, out, route: str, detail: str) -> None:
    with transaction(con):
        con.execute("INSERT INTO mail_ledger VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, ?, 'blocked', ?)",
                    [out.message_id, out.kind, out.round, out.instrument_id, out.org_code, route, out.sender,
                     "; ".join(out.recipients), out.attachment_names, out.attachment_sha256, _now(), detail])


def entries(con, round_: int | None = None) -> pd.DataFrame:
    """The ledger (of one round), oldest first."""
    if round_ is None:
        return con.execute("SELECT * FROM mail_ledger ORDER BY handed_at").df()
    return con.execute("SELECT * FROM mail_ledger WHERE round = ? ORDER BY handed_at", [round_]).df()


def last_chased(con, round_: int) -> pd.DataFrame:
    """When each organisation was last sent (or written) a reminder in a round: org_code, instrument_id,
    last_chased, reminders."""
    return con.execute("""SELECT org_code, instrument_id, max(handed_at) AS last_chased,
                              count(DISTINCT message_id) AS reminders FROM mail_ledger
                          WHERE round = ? AND kind = 'reminder' AND result IN ('sent', 'written')
                          GROUP BY org_code, instrument_id""", [round_]).df()


def chase_times(db, round_: int) -> dict[tuple[str, str], dt.datetime]:
    """(org_code, instrument_id) -> when last reminded, read from the store at ``db`` (empty for a database
    from before the send ledger)."""
    with open_store(db, read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'mail_ledger'"
                           ).fetchone()[0]:
            return {}
        frame = last_chased(con, round_)
    return {(r.org_code, r.instrument_id): r.last_chased.to_pydatetime() for r in frame.itertuples()}
