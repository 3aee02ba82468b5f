"""The embedded DuckDB store: submissions ledger, tidy answers with provenance, issues, distribution.

One file (``--db``, ``$TRUST_SURVEY_DB``, default ``outputs/trust_survey.duckdb``) with, beside it,
``archive/<sha[:2]>/<sha>`` (every received file's original bytes, content-addressed) and
``quarantine/<sha>_<name>`` plus ``.reason.txt`` (files that were rejected, and why).

- ``submissions``: the ledger. One row per return received (an SPSS/CSV return's record files are one
  submission), its validation ``outcome`` (accepted, accepted_with_warnings, rejected) and its
  ``status`` (the outcome, or ``superseded``), what it supersedes, counts of errors and warnings.
  A newer accepted return from the same organisation, round and instrument supersedes every older one;
  a rejected return supersedes only older rejected ones, so a bad resubmission never hides a good
  return.
- ``answers``: tidy, one row per submission, table row and answer field, with the canonical text value,
  the number behind it (a choice's code), and where it was read (file, sheet, cell).
- ``issues``: every finding of every stored submission.
- ``distribution``: who was sent which file in each round (written by ``instruments build``), with the
  folder it was built in and the organisation's cc address.
- ``mail_ledger``: every message sent or written to an outbox by ``send`` and ``chase``, one row per
  attempt, with its result (see :mod:`trust_survey.distribute.ledger`).
- ``mail_received``: the sender, date and subject of the email each trust return arrived in, when it was
  ingested from a saved email (never for an individual questionnaire).
- ``wide_<instrument>_<form|table>`` views: one column per field over current accepted returns, every
  version of the instrument side by side (personal items left out).

Every file is written in one transaction; any exception rolls it back, so a crash or a bad file leaves
the database exactly as it was. DuckDB allows one writing process: a second gets
:class:`~trust_survey.errors.StoreBusyError` naming the process that holds the database.

Long because it is the one place that knows the ingest tables' SQL: the ledger's supersede rules, the
queries the later stages read and the wide views share one schema and one transaction discipline. The
match tables are :mod:`trust_survey.matching.store`'s and the distribution register's writer is
:mod:`trust_survey.distribute.register`.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
from pathlib import Path
from typing import Iterator

import pandas as pd

from trust_survey.atomic import copy_atomic, write_bytes_atomic
from trust_survey.errors import NotFoundError, StoreBusyError, StoreError
from trust_survey.errors import did_you_mean
from trust_survey.instruments import load_registry

SCHEMA_VERSION = 2
#: The statuses of a return that counts: the one place they are listed (SQL uses :data:`ACCEPTED_SQL`).
ACCEPTED = ("accepted", "accepted_with_warnings")
ACCEPTED_SQL = "(" + ", ".join(f"'{s}'" for s in ACCEPTED) + ")"
ANSWER_COLUMNS = ["submission_id", "org_code", "round", "instrument_id", "instrument_version", "section_id",
                  "table_id", "row_index", "field_id", "item_id", "value", "value_num", "file_name", "sheet",
                  "cell"]
ISSUE_COLUMNS = ["submission_id", "file", "sheet", "cell", "row", "column", "field", "value", "expected", "code",
                 "severity", "message"]
DISTRIBUTION_COLUMNS = ["org_code", "org_name", "org_type", "region_code", "icb_code", "contact_email", "file",
                        "sha256", "created", "cc_email", "folder"]

#: Field ids the matcher reads from the staff and departments tables.
TITLE_FIELD, STAFF_DEPT_FIELD, DEPT_NAME_FIELD, DEPT_TYPE_FIELD = "job_title", "staff_dept", "dept_name", "dept_type"

MIGRATIONS: dict[int, list[str]] = {
    1: [
        "CREATE SEQUENCE IF NOT EXISTS submission_ids START 1",
        """CREATE TABLE IF NOT EXISTS submissions (
            submission_id INTEGER PRIMARY KEY, org_code VARCHAR NOT NULL, org_name VARCHAR,
            instrument_id VARCHAR NOT NULL, instrument_version INTEGER NOT NULL, round INTEGER NOT NULL,
            file_name VARCHAR NOT NULL, format VARCHAR, sha256 VARCHAR NOT NULL UNIQUE, bytes BIGINT,
            received_at TIMESTAMP, ingested_at TIMESTAMP NOT NULL, outcome VARCHAR NOT NULL,
            status VARCHAR NOT NULL, supersedes INTEGER, superseded_by INTEGER, errors INTEGER NOT NULL,
            warnings INTEGER NOT NULL, identified_by VARCHAR, run_id VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS submission_files (
            submission_id INTEGER NOT NULL, file_name VARCHAR NOT NULL, sha256 VARCHAR NOT NULL,
            bytes BIGINT, archive_path VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS answers (
            submission_id INTEGER NOT NULL, org_code VARCHAR NOT NULL, round INTEGER NOT NULL,
            instrument_id VARCHAR NOT NULL, instrument_version INTEGER NOT NULL, section_id VARCHAR,
            table_id VARCHAR, row_index INTEGER NOT NULL, field_id VARCHAR NOT NULL, item_id VARCHAR,
            value VARCHAR, value_num DOUBLE, file_name VARCHAR, sheet VARCHAR, cell VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS issues (
            submission_id INTEGER NOT NULL, file VARCHAR, sheet VARCHAR, cell VARCHAR, "row" INTEGER,
            "column" VARCHAR, field VARCHAR, value VARCHAR, expected VARCHAR, code VARCHAR NOT NULL,
            severity VARCHAR NOT NULL, message VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS distribution (
            round INTEGER NOT NULL, instrument_id VARCHAR NOT NULL, instrument_version INTEGER,
            org_code VARCHAR NOT NULL, org_name VARCHAR, org_type VARCHAR, region_code VARCHAR,
            icb_code VARCHAR, contact_email VARCHAR, file VARCHAR NOT NULL, sha256 VARCHAR, created VARCHAR,
            recorded_at TIMESTAMP, PRIMARY KEY (round, instrument_id, org_code, file))""",
    ],
    2: [   # sending by email (issue #15)
        "ALTER TABLE distribution ADD COLUMN cc_email VARCHAR",
        "ALTER TABLE distribution ADD COLUMN folder VARCHAR",
        """CREATE TABLE IF NOT EXISTS mail_ledger (
            message_id VARCHAR NOT NULL, kind VARCHAR NOT NULL, round INTEGER NOT NULL,
            instrument_id VARCHAR NOT NULL, org_code VARCHAR NOT NULL, route VARCHAR NOT NULL, sender VARCHAR,
            recipients VARCHAR, refused VARCHAR, subject VARCHAR, attachments VARCHAR, attachment_sha256 VARCHAR,
            handed_at TIMESTAMP NOT NULL, result VARCHAR NOT NULL, detail VARCHAR)""",
        """CREATE TABLE IF NOT EXISTS mail_received (
            submission_id INTEGER, sha256 VARCHAR NOT NULL, org_code VARCHAR, round INTEGER,
            instrument_id VARCHAR, sender VARCHAR, sent_date VARCHAR, subject VARCHAR, message_file VARCHAR,
            recorded_at TIMESTAMP NOT NULL)""",
    ],
}


# ---- connections -----------------------------------------------------------------------------------------

def _open_error(db: Path, exc: Exception) -> StoreError:
    text = str(exc)
    # Linux and macOS: "Could not set lock on file ... (PID n)"; Windows: "... being used by another process"
    # (in the system's language), then DuckDB's own "File is already open in <program> (PID n)"
    if any(sign in text.lower() for sign in ("lock", "used by another process", "already open in")):
        pid = re.search(r"PID (\d+)", text)
        who = f" (PID {pid.group(1)})" if pid else ""
        return StoreBusyError(f"database {db} is in use by another trust-survey process{who}; wait for it to "
                              "finish, then run this again")
    if "not a valid DuckDB database" in text:
        return StoreError(f"{db} is not a trust-survey database (not a DuckDB file); pass another --db")
    return StoreError(f"cannot open database {db}: {text}")


def connect(db: Path, read_only: bool = False):
    """Open the store (creating and migrating it when writable); raise StoreBusyError if it is held."""
    import duckdb

    db = Path(db)
    if read_only and not db.exists():
        raise NotFoundError(f"no database at {db}; run `trust-survey ingest` first, or pass --db")
    if not read_only:
        try:
            db.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"cannot create the database at {db}: {exc.strerror or exc} ({db.parent} is not a "
                             "folder that can be written); pass another --db") from None
    try:
        con = duckdb.connect(str(db), read_only=read_only)
    except duckdb.Error as exc:
        raise _open_error(db, exc) from None
    try:
        if read_only:
            if schema_version(con) is None:
                raise StoreError(f"{db} is a DuckDB file but not a trust-survey database; pass another --db")
        else:
            migrate(con)
    except BaseException:
        con.close()
        raise
    return con


@contextlib.contextmanager
def open_store(db: Path, read_only: bool = False) -> Iterator:
    con = connect(db, read_only)
    try:
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con) -> Iterator:
    """BEGIN … COMMIT, or ROLLBACK on any exception (the exception is re-raised)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")


def schema_version(con) -> int | None:
    exists = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_name = 'schema_version'"
                         ).fetchone()[0]
    if not exists:
        return None
    row = con.execute("SELECT max(version) FROM schema_version").fetchone()
    return row[0] if row and row[0] is not None else 0


def migrate(con) -> int:
    """Bring the schema up to SCHEMA_VERSION, one migration per transaction; return the version."""
    current = schema_version(con)
    if current is None:
        con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
        current = 0
    if current > SCHEMA_VERSION:
        raise StoreError(f"the database was written by a newer trust-survey (schema {current}, this one knows "
                         f"{SCHEMA_VERSION}); upgrade trust-survey")
    for version in range(current + 1, SCHEMA_VERSION + 1):
        with transaction(con):
            for statement in MIGRATIONS[version]:
                con.execute(statement)
            con.execute("INSERT INTO schema_version VALUES (?, ?)", [version, now()])
    return SCHEMA_VERSION


def now() -> dt.datetime:
    """The time the store writes on rows: local, to the second."""
    return dt.datetime.now().replace(microsecond=0)


# ---- files beside the database ----------------------------------------------------------------------------

def archive_dir(db: Path) -> Path:
    return Path(db).parent / "archive"


def quarantine_dir(db: Path) -> Path:
    return Path(db).parent / "quarantine"


def archive_file(db: Path, source: Path, sha256: str) -> Path:
    """Keep the original bytes under ``archive/<sha[:2]>/<sha>`` (once; the same content is one file)."""
    target = archive_dir(db) / sha256[:2] / sha256
    if not target.exists():
        copy_atomic(source, target)
    return target


def archive_bytes(db: Path, data: bytes) -> Path:
    """Keep ``data`` (a minimised copy of a received file) under ``archive/<sha[:2]>/<sha>`` of its own sha256."""
    sha256 = hashlib.sha256(data).hexdigest()
    target = archive_dir(db) / sha256[:2] / sha256
    if not target.exists():
        write_bytes_atomic(data, target)
    return target


def quarantine_bytes(db: Path, data: bytes, name: str, reason: str) -> Path:
    """Put ``data`` (a minimised copy of the received file ``name``) in the quarantine as
    ``<its sha256>_<name>``, with ``<…>.reason.txt`` beside it."""
    target = _quarantined(db, name, hashlib.sha256(data).hexdigest())
    if not target.exists():
        write_bytes_atomic(data, target)
    _write_reason(target, reason)
    return target


def quarantine_reason(db: Path, name: str, sha256: str, reason: str) -> Path:
    """Record in the quarantine why a file was refused, without a copy of it: ``<sha>_<name>.reason.txt``."""
    target = _quarantined(db, name, sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    return _write_reason(target, reason)


def quarantine_file(db: Path, source: Path, sha256: str, reason: str) -> Path:
    """Copy a rejected file to ``quarantine/<sha>_<name>`` with ``<…>.reason.txt`` beside it."""
    target = _quarantined(db, source, sha256)
    if not target.exists():
        copy_atomic(source, target)
    _write_reason(target, reason)
    return target


def _quarantined(db: Path, name: str | Path, sha256: str) -> Path:
    """Where a received file goes in the quarantine: ``<sha>_<its name, made safe>``."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", Path(name).name)[:120]
    return quarantine_dir(db) / f"{sha256}_{safe}"


def _write_reason(target: Path, reason: str) -> Path:
    """``<target>.reason.txt``: why the file was quarantined."""
    return write_bytes_atomic((reason.rstrip() + "\n").encode("utf-8"), target.with_name(target.name + ".reason.txt"))


# ---- the ledger -------------------------------------------------------------------------------------------

def known_hashes(con) -> dict[str, tuple]:
    """sha256 -> (submission_id, status, ingested_at, org_code) of every stored submission and file."""
    rows = con.execute("""SELECT f.sha256, s.submission_id, s.status, s.ingested_at, s.org_code
                          FROM submission_files f JOIN submissions s USING (submission_id)
                          UNION ALL
                          SELECT sha256, submission_id, status, ingested_at, org_code FROM submissions""").fetchall()
    return {r[0]: tuple(r[1:]) for r in rows}


def _live(con, org_code: str, round_: int, instrument_id: str) -> list[tuple]:
    return con.execute("""SELECT submission_id, outcome, received_at FROM submissions
                          WHERE org_code = ? AND round = ? AND instrument_id = ? AND status <> 'superseded'
                          ORDER BY received_at, submission_id""", [org_code, round_, instrument_id]).fetchall()


STAGED = {"answers": "_staged_answers", "issues": "_staged_issues"}


def stage(con, answers: pd.DataFrame, issues: pd.DataFrame) -> None:
    """Hold answers and issues (each row tagged with its ``_unit``) in temporary tables, so each file's
    transaction copies its rows in one statement instead of sending a DataFrame per file. Temporary
    tables live in memory and vanish with the connection: they never change the database."""
    for table, frame in (("answers", answers), ("issues", issues)):
        name = f"_incoming_{table}"
        con.register(name, frame)
        try:
            con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGED[table]} AS SELECT * FROM {name}")
        finally:
            con.unregister(name)


def _insert_staged(con, table: str, columns: list[str], sid: int, unit: int) -> None:
    cols = ", ".join(f'"{c}"' for c in columns if c != "submission_id")
    con.execute(f'INSERT INTO {table} ("submission_id", {cols}) SELECT ?, {cols} FROM {STAGED[table]} '
                "WHERE _unit = ?", [sid, unit])


def _supersession(live: list[tuple], accepted: bool, received) -> tuple[str | None, int | None, list[int]]:
    """(status override, superseded_by, ids to supersede) for a new submission given the live ones."""
    newer = [r for r in live if r[2] is not None and received is not None and r[2] > received
             and (r[1] in ACCEPTED or not accepted)]
    if newer:
        return "superseded", newer[-1][0], []
    return None, None, [r[0] for r in live if accepted or r[1] not in ACCEPTED]


def store_submission(con, sub: dict, files: list[dict], answers: pd.DataFrame | None = None,
                     issues: pd.DataFrame | None = None, unit: int | None = None, *, sid: int | None = None,
                     live: list[tuple] | None = None, has_issues: bool = True) -> dict:
    """Write one submission (ledger row, files, answers, issues) and supersede older returns.

    Call inside :func:`transaction`. ``sub`` holds the ledger fields (org_code, org_name, instrument_id,
    instrument_version, round, file_name, format, sha256, bytes, received_at, outcome, errors, warnings,
    identified_by, run_id). Answers and issues come as DataFrames, or from :func:`stage` by ``unit``.
    ``sid`` and ``live`` may be supplied by a :class:`Writer` that keeps them. Returns
    ``{"submission_id", "status", "supersedes", "superseded_by", "superseded"}``.
    """
    if sid is None:
        sid = con.execute("SELECT coalesce(max(submission_id), 0) + 1 FROM submissions").fetchone()[0]
    if live is None:
        live = _live(con, sub["org_code"], sub["round"], sub["instrument_id"])
    override, superseded_by, older = _supersession(live, sub["outcome"] in ACCEPTED, sub["received_at"])
    status = override or sub["outcome"]
    supersedes = older[-1] if older else None
    if older:
        con.execute(f"UPDATE submissions SET status = 'superseded', superseded_by = ? "
                    f"WHERE submission_id IN ({','.join('?' * len(older))})", [sid, *older])
    con.execute("""INSERT INTO submissions VALUES ($sid, $org_code, $org_name, $instrument_id, $instrument_version,
                   $round, $file_name, $format, $sha256, $bytes, $received_at, $ingested_at, $outcome, $status,
                   $supersedes, $superseded_by, $errors, $warnings, $identified_by, $run_id)""",
                {**{k: sub.get(k) for k in ("org_code", "org_name", "instrument_id", "instrument_version", "round",
                                            "file_name", "format", "sha256", "bytes", "received_at", "outcome",
                                            "errors", "warnings", "identified_by", "run_id")},
                 "sid": sid, "ingested_at": now(), "status": status, "supersedes": supersedes,
                 "superseded_by": superseded_by})
    for f in files:
        con.execute("INSERT INTO submission_files VALUES (?, ?, ?, ?, ?)",
                    [sid, f["file_name"], f["sha256"], f["bytes"], f.get("archive_path")])
    if unit is not None:
        _insert_staged(con, "answers", ANSWER_COLUMNS, sid, unit)
        if has_issues:
            _insert_staged(con, "issues", ISSUE_COLUMNS, sid, unit)
    else:
        _insert_frame(con, "answers", answers.assign(submission_id=sid), ANSWER_COLUMNS)
        _insert_frame(con, "issues", issues.assign(submission_id=sid), ISSUE_COLUMNS)
    return {"submission_id": sid, "status": status, "supersedes": supersedes, "superseded_by": superseded_by,
            "superseded": older}


class Writer:
    """Stores one submission per transaction for a run, keeping the next id and the live submissions of
    each organisation in memory (they change only through this writer while it holds the database)."""

    def __init__(self, con):
        self.con = con
        self.next_id = con.execute("SELECT coalesce(max(submission_id), 0) + 1 FROM submissions").fetchone()[0]
        self.live: dict[tuple, list[tuple]] = {}
        for sid, org, round_, inst, outcome, received in con.execute(
                """SELECT submission_id, org_code, round, instrument_id, outcome, received_at FROM submissions
                   WHERE status <> 'superseded' ORDER BY received_at, submission_id""").fetchall():
            self.live.setdefault((org, round_, inst), []).append((sid, outcome, received))

    def store(self, sub: dict, files: list[dict], unit: int, has_issues: bool, before_commit=None) -> dict:
        """Store a staged unit in its own transaction; ``before_commit(con)`` runs inside it."""
        key = (sub["org_code"], sub["round"], sub["instrument_id"])
        live = self.live.get(key, [])
        with transaction(self.con):
            stored = store_submission(self.con, sub, files, unit=unit, sid=self.next_id, live=live,
                                      has_issues=has_issues)
            if before_commit:
                before_commit(self.con)
        self.next_id += 1
        gone = set(stored["superseded"])
        kept = [r for r in live if r[0] not in gone]
        if stored["status"] != "superseded":
            kept.append((stored["submission_id"], sub["outcome"], sub["received_at"]))
            kept.sort(key=lambda r: (r[2] is None, r[2], r[0]))
        self.live[key] = kept
        return stored


SUBMISSION_COLUMNS = ["submission_id", "org_code", "org_name", "instrument_id", "instrument_version", "round",
                      "file_name", "format", "sha256", "bytes", "received_at", "ingested_at", "outcome", "status",
                      "supersedes", "superseded_by", "errors", "warnings", "identified_by", "run_id"]


#: Submissions whose answers :func:`store_batch` copies (sorted by submission) in one statement.
BATCH_SORTED = 2_000


def store_batch(con, items: list[tuple[dict, list[dict], int]], before_commit=None) -> list[dict]:
    """Store many staged submissions, oldest first, in ONE transaction and a handful of statements.

    ``items`` are ``(sub, files, unit)`` as for :func:`store_submission` (answers and issues staged by
    :func:`stage`). Supersession follows exactly the rules of :func:`store_submission` applied one
    submission after another (a later return in the batch supersedes an earlier one). All or nothing:
    any error rolls the whole batch back and is re-raised, so the caller can retry file by file.
    ``before_commit(con)`` runs inside the transaction. Returns one result per item, as
    :func:`store_submission` does.
    """
    writer = Writer(con)
    next_id, live = writer.next_id, writer.live
    pending: dict[int, dict] = {}
    in_db: dict[int, int] = {}   # stored submission -> the new one that supersedes it
    results = []
    ingested_at = now()
    for sub, files, unit in items:
        sid = next_id
        next_id += 1
        key = (sub["org_code"], sub["round"], sub["instrument_id"])
        mine = live.get(key, [])
        override, superseded_by, older = _supersession(mine, sub["outcome"] in ACCEPTED, sub["received_at"])
        status = override or sub["outcome"]
        for old in older:
            if old in pending:
                pending[old].update(status="superseded", superseded_by=sid)
            else:
                in_db[old] = sid
        pending[sid] = {**{k: sub.get(k) for k in SUBMISSION_COLUMNS}, "submission_id": sid, "ingested_at": ingested_at,
                        "status": status, "supersedes": older[-1] if older else None,
                        "superseded_by": superseded_by, "_unit": unit, "_files": files}
        gone = set(older)
        kept = [r for r in mine if r[0] not in gone]
        if status != "superseded":
            kept.append((sid, sub["outcome"], sub["received_at"]))
            kept.sort(key=lambda r: (r[2] is None, r[2], r[0]))
        live[key] = kept
        results.append({"submission_id": sid, "status": status, "supersedes": older[-1] if older else None,
                        "superseded_by": superseded_by, "superseded": older})
    subs = pd.DataFrame([{k: v for k, v in row.items() if not k.startswith("_")} for row in pending.values()],
                        columns=SUBMISSION_COLUMNS)
    for col in ("supersedes", "superseded_by", "submission_id", "instrument_version", "round", "bytes", "errors",
                "warnings"):
        subs[col] = pd.array(subs[col], dtype="Int64")
    units = pd.DataFrame({"unit": [row["_unit"] for row in pending.values()], "sid": list(pending)},
                         columns=["unit", "sid"]).astype("int64")
    files = pd.DataFrame([{"submission_id": sid, **{k: f.get(k) for k in ("file_name", "sha256", "bytes",
                                                                          "archive_path")}}
                          for sid, row in pending.items() for f in row["_files"]],
                         columns=["submission_id", "file_name", "sha256", "bytes", "archive_path"])
    files["bytes"] = pd.array(files["bytes"], dtype="Int64")
    superseded = pd.DataFrame({"sid": list(in_db), "by": list(in_db.values())}, columns=["sid", "by"]).astype("int64")
    with transaction(con):
        if len(superseded):
            con.register("_batch_superseded", superseded)
            con.execute("""UPDATE submissions SET status = 'superseded', superseded_by = m.by
                           FROM _batch_superseded m WHERE submissions.submission_id = m.sid""")
        if len(subs):
            _insert_frame(con, "submissions", subs, SUBMISSION_COLUMNS)
            _insert_frame(con, "submission_files", files, list(files.columns))
            con.register("_batch_units", units)
            first, last = int(units["sid"].min()), int(units["sid"].max())
            for table, columns in (("answers", ANSWER_COLUMNS), ("issues", ISSUE_COLUMNS)):
                cols = ", ".join(f's."{c}"' for c in columns if c != "submission_id")
                names = ", ".join(f'"{c}"' for c in columns if c != "submission_id")
                # A few thousand submissions per statement: sorting all of a 15,000-respondent export's
                # answers at once would hold every one of them twice more in memory.
                for low in range(first, last + 1, BATCH_SORTED):
                    con.execute(f'INSERT INTO {table} ("submission_id", {names}) SELECT m.sid, {cols} '
                                f"FROM {STAGED[table]} s JOIN _batch_units m ON s._unit = m.unit "
                                "WHERE m.sid BETWEEN ? AND ? ORDER BY m.sid", [low, low + BATCH_SORTED - 1])
        if before_commit:
            before_commit(con)
    for name in ("_batch_superseded", "_batch_units"):
        with contextlib.suppress(Exception):
            con.unregister(name)
    return results


def _insert_frame(con, table: str, frame: pd.DataFrame, columns: list[str]) -> None:
    if frame.empty:
        return
    name = f"_incoming_{table}"
    con.register(name, frame[columns])
    try:
        cols = ", ".join(f'"{c}"' for c in columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM {name}")
    finally:
        con.unregister(name)


# ---- wide views -------------------------------------------------------------------------------------------

def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def view_name(instrument_id: str, record: str) -> str:
    return f"wide_{instrument_id}_{record}"


def wide_columns(instruments: list, record: str) -> list:
    """The answer fields of a record across every version given (latest version's order first)."""
    seen: dict[str, object] = {}
    for inst in sorted(instruments, key=lambda i: -i.version):
        for f in inst.fields():
            if (f.table or "form") == record and not f.item.personal and f.field_id not in seen:
                seen[f.field_id] = f
    return list(seen.values())


def ensure_views(con, instruments: list) -> list[str]:
    """(Re)create the wide views of one instrument (all its versions given); return their names."""
    inst_id = instruments[0].id
    records = ["form"] + [t.id for i in instruments for _, t in i.tables()]
    records = list(dict.fromkeys(records))
    id_items = {i.id_item for i in instruments}
    names = []
    for record in records:
        base = ["a.submission_id", "s.org_code", "s.round", "s.instrument_version"]
        if record != "form":
            base.append("a.row_index")
        cols = []
        taken = {"submission_id", "org_code", "round", "instrument_version", "row_index"}
        for f in wide_columns(instruments, record):
            if f.field_id in id_items and record == "form":
                continue
            alias = f.field_id if f.field_id not in taken else f"{f.field_id}_answer"
            taken.add(alias)
            expr = f"max(CASE WHEN a.field_id = '{f.field_id}' THEN a.{{col}} END)"
            if f.type in ("integer", "decimal"):
                cols.append(f"{expr.format(col='value_num')} AS {_ident(alias)}")
            elif f.type == "date":
                cols.append(f"TRY_CAST({expr.format(col='value')} AS DATE) AS {_ident(alias)}")
            else:
                cols.append(f"{expr.format(col='value')} AS {_ident(alias)}")
        where = "a.table_id IS NULL" if record == "form" else f"a.table_id = '{record}'"
        select = ", ".join(base + cols)
        if record == "form":
            source = (f"submissions s LEFT JOIN answers a ON a.submission_id = s.submission_id AND {where}")
            group = "a.submission_id, s.submission_id, s.org_code, s.round, s.instrument_version"
            select = select.replace("a.submission_id", "s.submission_id", 1)
        else:
            source = f"answers a JOIN submissions s ON a.submission_id = s.submission_id AND {where}"
            group = "a.submission_id, s.org_code, s.round, s.instrument_version, a.row_index"
        name = view_name(inst_id, record)
        con.execute(f"""CREATE OR REPLACE VIEW {_ident(name)} AS SELECT {select} FROM {source}
                        WHERE s.instrument_id = '{inst_id}' AND s.status IN {ACCEPTED_SQL}
                        GROUP BY {group}""")
        names.append(name)
    return names


# ---- distribution -----------------------------------------------------------------------------------------

def distributed_orgs(con, round_: int) -> set[tuple[str, str]] | None:
    """(org_code, instrument_id) pairs sent out in a round, or None when no distribution was recorded."""
    rows = con.execute("SELECT DISTINCT org_code, instrument_id FROM distribution WHERE round = ?",
                       [round_]).fetchall()
    return {(r[0], r[1]) for r in rows} if rows else None


# ---- queries for status, diff, feedback, export and matching -------------------------------------------

STATES = ("not returned", "rejected", "accepted with warnings", "accepted")


def round_status(con, round_: int, instrument_id: str | None = None) -> pd.DataFrame:
    """Every organisation expected or heard from in a round, with its state, last received and counts."""
    args: list = [round_]
    inst_filter = ""
    if instrument_id:
        inst_filter = " AND instrument_id = ?"
        args.append(instrument_id)
    dist = con.execute(f"""SELECT org_code, instrument_id, any_value(org_name) AS org_name,
                              any_value(contact_email) AS contact_email, string_agg(file, '; ') AS files_sent
                           FROM distribution WHERE round = ?{inst_filter}
                           GROUP BY org_code, instrument_id""", args).df()
    subs = con.execute(f"""SELECT submission_id, org_code, org_name, instrument_id, instrument_version, file_name,
                              received_at, outcome, status, errors, warnings
                           FROM submissions WHERE round = ?{inst_filter}
                           ORDER BY received_at, submission_id""", args).df()
    rows = []
    keys = list(dict.fromkeys([(r.org_code, r.instrument_id) for r in dist.itertuples()]
                              + [(r.org_code, r.instrument_id) for r in subs.itertuples()]))
    dist_by = {(r.org_code, r.instrument_id): r for r in dist.itertuples()}
    for org, inst in keys:
        mine = subs[(subs.org_code == org) & (subs.instrument_id == inst)]
        live = mine[mine.status != "superseded"]
        good = live[live.outcome.isin(ACCEPTED)]
        if len(good):
            current = good.iloc[-1]
            state = "accepted" if current.outcome == "accepted" else "accepted with warnings"
        elif len(live):
            current = live.iloc[-1]
            state = "rejected"
        else:
            current, state = None, "not returned"
        d = dist_by.get((org, inst))
        rows.append({
            "org_code": org, "org_name": (d.org_name if d is not None else None) or (
                mine.org_name.iloc[-1] if len(mine) else ""),
            "instrument_id": inst, "state": state, "in_distribution": d is not None,
            "contact_email": d.contact_email if d is not None else "",
            "files_sent": d.files_sent if d is not None else "",
            "submissions": len(mine), "last_received": mine.received_at.max() if len(mine) else pd.NaT,
            "current_submission": int(current.submission_id) if current is not None else None,
            "current_file": current.file_name if current is not None else "",
            "errors": int(current.errors) if current is not None else 0,
            "warnings": int(current.warnings) if current is not None else 0,
        })
    columns = ["org_code", "org_name", "instrument_id", "state", "in_distribution", "contact_email", "files_sent",
               "submissions", "last_received", "current_submission", "current_file", "errors", "warnings"]
    out = pd.DataFrame(rows, columns=columns)
    if not out.empty:
        order = {s: i for i, s in enumerate(STATES)}
        out = out.sort_values(["state", "org_code"], key=lambda s: s.map(order) if s.name == "state" else s)
    return out.reset_index(drop=True)


def submissions_for(con, org_code: str, round_: int, instrument_id: str | None = None) -> pd.DataFrame:
    args: list = [org_code.upper(), round_]
    extra = ""
    if instrument_id:
        extra, args = " AND instrument_id = ?", args + [instrument_id]
    return con.execute(f"""SELECT * FROM submissions WHERE org_code = ? AND round = ?{extra}
                           ORDER BY received_at, submission_id""", args).df()


def answers_of(con, submission_id: int) -> pd.DataFrame:
    return con.execute("SELECT * FROM answers WHERE submission_id = ? ORDER BY table_id NULLS FIRST, row_index, "
                       "field_id", [submission_id]).df()


def issues_of(con, submission_ids: list[int]) -> pd.DataFrame:
    if not submission_ids:
        return pd.DataFrame(columns=ISSUE_COLUMNS)
    marks = ",".join("?" * len(submission_ids))
    return con.execute(f"""SELECT * FROM issues WHERE submission_id IN ({marks})
                           ORDER BY submission_id, severity, file, sheet, "row", cell""", submission_ids).df()


def current_submissions(con, round_: int) -> pd.DataFrame:
    """The live (not superseded) submissions of a round, accepted or rejected."""
    return con.execute("""SELECT * FROM submissions WHERE round = ? AND status <> 'superseded'
                          ORDER BY org_code, instrument_id, received_at""", [round_]).df()


def titles_for_round(db: Path, round_: int) -> pd.DataFrame:
    """Every job title of a round's current accepted returns, for the matcher.

    Columns: submission_id, org_code, row_index, job_title, staff_dept, dept_type (the type of the
    department of that name on the same return's Departments sheet, when it can be found).
    """
    with open_store(Path(db), read_only=True) as con:
        return con.execute(f"""
            WITH live AS (SELECT submission_id, org_code FROM submissions
                          WHERE round = ? AND status IN {ACCEPTED_SQL}),
            staff AS (SELECT a.submission_id, a.row_index,
                         max(CASE WHEN field_id = '{TITLE_FIELD}' THEN value END) AS job_title,
                         max(CASE WHEN field_id = '{STAFF_DEPT_FIELD}' THEN value END) AS staff_dept
                      FROM answers a JOIN live USING (submission_id)
                      WHERE field_id IN ('{TITLE_FIELD}', '{STAFF_DEPT_FIELD}')
                      GROUP BY a.submission_id, a.table_id, a.row_index),
            depts AS (SELECT a.submission_id,
                         lower(trim(max(CASE WHEN field_id = '{DEPT_NAME_FIELD}' THEN value END))) AS dept_key,
                         max(CASE WHEN field_id = '{DEPT_TYPE_FIELD}' THEN value END) AS dept_type
                      FROM answers a JOIN live USING (submission_id)
                      WHERE field_id IN ('{DEPT_NAME_FIELD}', '{DEPT_TYPE_FIELD}')
                      GROUP BY a.submission_id, a.table_id, a.row_index),
            one_dept AS (SELECT submission_id, dept_key, any_value(dept_type) AS dept_type FROM depts
                         GROUP BY submission_id, dept_key)
            SELECT s.submission_id, live.org_code, s.row_index, s.job_title, s.staff_dept, d.dept_type
            FROM staff s JOIN live USING (submission_id)
            LEFT JOIN one_dept d ON d.submission_id = s.submission_id AND d.dept_key = lower(trim(s.staff_dept))
            WHERE s.job_title IS NOT NULL
            ORDER BY live.org_code, s.submission_id, s.row_index""", [round_]).df()


# ---- individual returns (the review-cycle questionnaire) ------------------------------------------------

#: Columns that lead every individual-responses frame, before the item columns.
INDIVIDUAL_LEAD = ["round", "respondent_id", "submission_id", "instrument_id", "instrument_version", "file_name",
                   "format"]
#: Columns added after the items from the reference geography, keyed by the answered trust code.
INDIVIDUAL_PLACE = ["trust_name", "region_code", "region"]
FREE_TEXT_TYPES = ("text", "long_text")


def _individual_instrument_ids(registry) -> list[str]:
    return [i for i in registry.ids() if "individual" in registry.get(i).audience]


def individual_responses(db, round_: int, instrument_id: str | None = None, *, registry=None,
                         include_free_text: bool = True) -> pd.DataFrame:
    """A round's current individual responses: one row per respondent, one column per item id.

    ``db`` is the store's path (opened read-only) or an open connection. ``instrument_id`` defaults
    to every instrument whose audience is ``individual`` (normally ``individual_review``). Only current
    accepted submissions count (a respondent's later answer supersedes an earlier one, whatever the
    format). Columns: :data:`INDIVIDUAL_LEAD`, then every non-personal form item of the instrument in its
    definition's order (across versions), then :data:`INDIVIDUAL_PLACE` from the answered ``trust_code``.

    Values: choice items hold the choice's code (``group``: trainee/current/former/manager, ``stream``:
    gen/hi/ps/na, as :func:`trust_survey.simulate.individuals.simulate_individuals` gives them); Likert,
    integer and decimal items are numbers (Likert as answered, 1-5, reverse-keyed items not reversed;
    user-missing codes such as -9 are blank); dates are dates; text is text (left out with
    ``include_free_text=False``). Names and emails are never stored, so never appear.
    """
    registry = registry or load_registry()
    ids = [instrument_id] if instrument_id else _individual_instrument_ids(registry)
    if instrument_id and instrument_id not in registry.ids():
        raise NotFoundError(f"no instrument '{instrument_id}'{_did_you_mean(instrument_id, registry.ids())}")
    if isinstance(db, (str, Path)):
        with open_store(Path(db), read_only=True) as con:
            return _individual_frame(con, round_, ids, registry, include_free_text)
    return _individual_frame(db, round_, ids, registry, include_free_text)


def _individual_frame(con, round_: int, ids: list[str], registry, include_free_text: bool) -> pd.DataFrame:
    frame = _form_frame(con, [round_], ids, registry, include_free_text, "respondent_id", INDIVIDUAL_LEAD)
    place = _trust_places(frame["trust_code"] if "trust_code" in frame.columns else
                          pd.Series([pd.NA] * len(frame), dtype="string"))
    for col in INDIVIDUAL_PLACE:
        frame[col] = place[col].values
    return frame


#: Columns that lead every form-answers frame (organisations' returns), before the item columns.
FORM_LEAD = ["round", "org_code", "org_name", "submission_id", "instrument_id", "instrument_version", "region_code",
             "region"]
KEY_FIGURE_PREFIX = "kf_"


def form_answers(db, instrument_id: str, rounds: int | list[int] | None = None, *, fields: list[str] | None = None,
                 registry=None) -> pd.DataFrame:
    """Organisations' current accepted returns of an instrument: one row per organisation and round.

    ``db`` is the store's path (opened read-only) or an open connection; ``rounds`` one round, a list, or
    every round held. Columns: :data:`FORM_LEAD` (region from the round's distribution register, else the
    reference trust list), then each non-personal form item (or only ``fields``) in definition order:
    integers and decimals as numbers, choices as their code (``code`` in the definition, else the
    value), dates as dates, text as text. Table answers (staff, departments) are not included.
    """
    registry = registry or load_registry()
    if instrument_id not in registry.ids():
        raise NotFoundError(f"no instrument '{instrument_id}'{_did_you_mean(instrument_id, registry.ids())}")
    if isinstance(db, (str, Path)):
        with open_store(Path(db), read_only=True) as con:
            return _org_frame(con, rounds, instrument_id, registry, fields)
    return _org_frame(db, rounds, instrument_id, registry, fields)


def key_figures(db, rounds: int | list[int] | None = None, instrument_id: str = "trust_capability", *,
                registry=None) -> pd.DataFrame:
    """Key workforce figures from trust returns over rounds: one row per organisation and round.

    :func:`form_answers` limited to the items whose id starts ``kf_`` (trainees in training by stream,
    qualified staff in post, leavers from the programme and from the NHS, and leavers' destinations),
    as nullable integers; a blank is an unanswered figure, not zero.
    """
    registry = registry or load_registry()
    wanted = []
    for version in sorted(registry.versions(instrument_id), reverse=True):
        for _, item in registry.get(instrument_id, version).form_items():
            if item.id.startswith(KEY_FIGURE_PREFIX) and item.id not in wanted:
                wanted.append(item.id)
    return form_answers(db, instrument_id, rounds, fields=wanted, registry=registry)


def _org_frame(con, rounds, instrument_id: str, registry, fields: list[str] | None) -> pd.DataFrame:
    if rounds is None:
        rounds = [r[0] for r in con.execute("SELECT DISTINCT round FROM submissions WHERE instrument_id = ? "
                                            "ORDER BY round", [instrument_id]).fetchall()]
    elif isinstance(rounds, int):
        rounds = [rounds]
    frame = _form_frame(con, list(rounds), [instrument_id], registry, True, "org_code", FORM_LEAD,
                        keep=set(fields) if fields is not None else None)
    if frame.empty:
        return frame
    dist = con.execute(f"""SELECT round, org_code, any_value(nullif(region_code, '')) AS region_code
                           FROM distribution WHERE instrument_id = ? AND round IN ({','.join('?' * len(rounds))})
                           GROUP BY round, org_code""", [instrument_id, *rounds]).df()
    given = frame[["round", "org_code"]].merge(dist, on=["round", "org_code"], how="left")["region_code"]
    place = _trust_places(frame["org_code"])
    frame["region_code"] = given.astype("string").fillna(place["region_code"]).values
    regions = _region_names()
    frame["region"] = frame["region_code"].map(lambda c: regions.get(c, pd.NA) if isinstance(c, str) else pd.NA
                                               ).astype("string")
    return frame


def _region_names() -> dict[str, str]:
    try:
        from trust_survey.geography.reference import load_regions

        regions = load_regions()
    except Exception:  # noqa: BLE001 - without reference data, regions stay blank
        return {}
    return dict(zip(regions["region_ods"], regions["region_name"]))


def _did_you_mean(value: str, options) -> str:
    return did_you_mean(value, options)


def _form_frame(con, rounds: list[int], ids: list[str], registry, include_free_text: bool, id_name: str,
                lead: list[str], keep: set[str] | None = None) -> pd.DataFrame:
    """Current accepted form answers of instruments ``ids`` in ``rounds``: one row per submission, the
    submission's org_code as ``id_name``, then each item (only ``keep`` when given) as a column."""
    items: dict[str, object] = {}      # item id -> item (latest version first)
    choices: dict[tuple[str, float], str] = {}
    missing: dict[str, set[float]] = {}
    for inst_id in ids:
        for version in sorted(registry.versions(inst_id), reverse=True):
            inst = registry.get(inst_id, version)
            codes = {float(m.value) for m in inst.spss_missing}
            for _, item in inst.form_items():
                if item.personal or item.type == "email" or item.type == "multiple_choice":
                    continue
                if not include_free_text and item.type in FREE_TEXT_TYPES and item.id != inst.id_item:
                    continue
                if item.id == inst.id_item or (keep is not None and item.id not in keep):
                    continue
                items.setdefault(item.id, item)
                if item.choices or item.type == "likert":
                    for c in inst.choices_for(item):
                        choices.setdefault((item.id, float(c.value)), c.key)
                missing.setdefault(item.id, set()).update(codes)
    columns = lead + list(items)
    if not ids or not rounds:
        return pd.DataFrame(columns=columns)
    marks, round_marks = ",".join("?" * len(ids)), ",".join("?" * len(rounds))
    subs = con.execute(f"""SELECT round, org_code AS {id_name}, org_name, submission_id, instrument_id,
                              instrument_version, file_name, format FROM submissions
                           WHERE round IN ({round_marks}) AND instrument_id IN ({marks})
                             AND status IN {ACCEPTED_SQL}
                           ORDER BY round, org_code, submission_id""", [*rounds, *ids]).df()
    answers = con.execute(f"""SELECT a.submission_id, a.field_id, a.value, a.value_num FROM answers a
                              JOIN submissions s USING (submission_id)
                              WHERE s.round IN ({round_marks}) AND s.instrument_id IN ({marks})
                                AND a.table_id IS NULL AND a.field_id IN ({','.join('?' * max(len(items), 1))})
                                AND s.status IN {ACCEPTED_SQL}""",
                          [*rounds, *ids, *(list(items) or [""])]).df()
    out = subs.set_index("submission_id", drop=False)
    for item_id, item in items.items():
        mine = answers[answers.field_id == item_id].set_index("submission_id")
        if item.type == "likert" or item.type in ("integer", "decimal"):
            nums = mine["value_num"].astype("float64")
            nums = nums.where(~nums.isin(list(missing.get(item_id, ()))))
            if item.type == "likert" or item.type == "integer":
                col = nums.round().astype("Int64")
            else:
                col = nums.astype("Float64")
        elif item.choices:
            col = pd.Series([choices.get((item_id, float(n)), v) if n == n else v
                             for n, v in zip(mine["value_num"], mine["value"])], index=mine.index, dtype="string")
        elif item.type == "date":
            col = pd.to_datetime(mine["value"], errors="coerce").dt.date
        else:
            col = mine["value"].astype("string")
        out[item_id] = col.reindex(out.index)
        if item.type in ("likert", "integer"):
            out[item_id] = out[item_id].astype("Int64")
        elif item.type == "decimal":
            out[item_id] = out[item_id].astype("Float64")
    out = out.reset_index(drop=True)
    out["round"] = out["round"].astype("int64")
    out["submission_id"] = out["submission_id"].astype("int64")
    out["instrument_version"] = out["instrument_version"].astype("int64")
    return out.reindex(columns=columns)


def _trust_places(codes: pd.Series) -> pd.DataFrame:
    """trust_name, region_code and region of each answered trust code (blank where unknown)."""
    frame = pd.DataFrame({"code": codes.astype("string").str.strip().str.upper()})
    try:
        from trust_survey.geography.reference import load_regions, load_trusts

        trusts = load_trusts()[["org_code", "org_name", "region_ods"]]
        regions = load_regions()[["region_ods", "region_name"]]
    except Exception:  # noqa: BLE001 - reference data missing: places stay blank, answers still come back
        return pd.DataFrame({c: pd.array([pd.NA] * len(frame), dtype="string") for c in INDIVIDUAL_PLACE})
    looked = trusts.merge(regions, on="region_ods", how="left").rename(
        columns={"org_code": "code", "org_name": "trust_name", "region_ods": "region_code", "region_name": "region"})
    looked["code"] = looked["code"].astype("string").str.upper()
    merged = frame.merge(looked.drop_duplicates("code"), on="code", how="left")
    return merged[INDIVIDUAL_PLACE].astype("string")
