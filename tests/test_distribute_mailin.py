"""`trust-survey ingest` on saved emails: .eml with one return, two returns, none and a zip bomb; real
Outlook .msg files from a public corpus; sender checked against the register."""
from __future__ import annotations

import datetime as dt
import shutil
import zipfile
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from pathlib import Path

import pandas as pd
import pytest

from distribute_helpers import REPO, build_round, query
from ingest_helpers import make_individual_return, make_return

INST = ("--instruments", REPO / "instruments")
MSG_DATA = Path(__file__).resolve().parent / "data" / "mail"
XLSX = ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet")


def make_eml(path: Path, sender: str, subject: str, when: dt.datetime, files: list[tuple[str, bytes]]) -> Path:
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = sender, "stp.survey@hee.nhs.uk.example", subject
    msg["Date"] = format_datetime(when)
    msg.set_content("Please find our return attached.\n")
    for name, data in files:
        maintype, subtype = XLSX if name.endswith(".xlsx") else ("application", "octet-stream")
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(msg.as_bytes())
    return path


def zip_bomb() -> bytes:
    import io

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        zf.writestr("xl/workbook.xml", "<workbook/>")
        with zf.open("xl/worksheets/sheet1.xml", "w") as fh:
            for _ in range(64):
                fh.write(b"\0" * (1 << 20))
    return buf.getvalue()


@pytest.fixture
def inbox(run, tmp_path):
    db, _ = build_round(run, tmp_path / "round")
    src = tmp_path / "src"
    rj1 = make_return(src / "a", "RJ1").read_bytes()
    rgt = make_return(src / "b", "RGT").read_bytes()
    rrk = make_return(src / "c", "RRK").read_bytes()
    box = tmp_path / "inbox"
    make_eml(box / "RE survey RJ1.eml", "Deputy <deputy.rj1@nhs.example>", "RE: our return",
             dt.datetime(2027, 1, 14, 9, 30, tzinfo=dt.timezone.utc), [("RJ1 return final.xlsx", rj1)])
    make_eml(box / "two returns.eml", "Shared Services <returns@nhs.example>", "Returns for RGT and RRK",
             dt.datetime(2027, 1, 15, 10, 0, tzinfo=dt.timezone.utc),
             [("RGT.xlsx", rgt), ("RRK.xlsx", rrk), ("covering letter.docx", b"not a return")])
    make_eml(box / "question.eml", "rgt@nhs.example", "Question about the survey",
             dt.datetime(2027, 1, 16, tzinfo=dt.timezone.utc), [("notes.pdf", b"%PDF-1.4 not a return")])
    make_eml(box / "bomb.eml", "rrk@nhs.example", "Our return", dt.datetime(2027, 1, 17, tzinfo=dt.timezone.utc),
             [("RRK_bomb.xlsx", zip_bomb())])
    return db, box, tmp_path


def test_ingest_eml__returns_are_taken_from_attachments_with_sender_date_and_subject_kept(run, inbox):
    db, box, tmp = inbox
    result = run("ingest", box, "--round", 2026, "--out", tmp / "run", "--db", db, "--engine", "pandas", *INST,
                 expect=1)   # the zip bomb is unreadable
    subs = query(db, "SELECT org_code, status, received_at FROM submissions ORDER BY org_code").set_index("org_code")
    assert sorted(subs.index) == ["RGT", "RJ1", "RRK"]
    assert subs.loc["RJ1", "received_at"] == pd.Timestamp(
        dt.datetime(2027, 1, 14, 9, 30, tzinfo=dt.timezone.utc).astimezone().replace(tzinfo=None))
    mails = query(db, "SELECT org_code, sender, subject, sent_date, message_file FROM mail_received "
                      "ORDER BY org_code").set_index("org_code")
    assert mails.loc["RJ1", "sender"] == "deputy.rj1@nhs.example" and mails.loc["RJ1", "subject"] == "RE: our return"
    assert "14 Jan 2027" in mails.loc["RJ1", "sent_date"] and mails.loc["RGT", "message_file"] == "two returns.eml"
    assert mails.loc["RRK", "subject"] == "Returns for RGT and RRK"
    # the shared mailbox is neither RGT's nor RRK's contact or cc; RJ1's deputy is its cc
    assert "the return for RGT came from returns@nhs.example" in result.stdout
    assert "the return for RRK came from returns@nhs.example" in result.stdout
    assert "RJ1 came from" not in result.stdout
    assert "question.eml" in result.stdout and "no return attached (attached: notes.pdf)" in result.stdout
    issues = pd.read_csv(tmp / "run" / "issues.csv", dtype=str)
    bomb = issues[issues.file == "RRK_bomb.xlsx"]
    assert list(bomb.code) == ["F003"] and "zip bomb" in bomb.message.iloc[0]
    emails = pd.read_csv(tmp / "run" / "emails.csv", dtype=str, keep_default_na=False)
    emails["name"] = emails.message_file.map(lambda p: Path(p).name)
    emails = emails.set_index("name")
    assert emails.loc["two returns.eml", "returns"] == "2" and "RGT trust_capability" in \
        emails.loc["two returns.eml", "outcome"]
    assert "reply asking the sender to attach" in emails.loc["question.eml", "what_to_do"]
    assert "not stored" in emails.loc["bomb.eml", "outcome"]
    files = pd.read_csv(tmp / "run" / "files.csv", dtype=str)
    assert not files.file.str.endswith(".eml").any()      # the emails themselves are not "skipped, not a return"
    assert "skipped" not in result.stderr


def test_ingest_eml__same_email_twice_is_a_no_op(run, inbox):
    db, box, tmp = inbox
    one = box / "RE survey RJ1.eml"
    run("ingest", one, "--round", 2026, "--out", tmp / "r1", "--db", db, "--engine", "pandas", *INST)
    again = run("ingest", one, "--round", 2026, "--out", tmp / "r2", "--db", db, "--engine", "pandas", *INST)
    assert "already ingested" in again.stdout
    assert query(db, "SELECT count(*) AS n FROM mail_received").n[0] == 1


def test_ingest_eml__an_individual_questionnaire_keeps_nothing_about_the_message(run, tmp_path):
    db = tmp_path / "s.duckdb"
    form = make_individual_return(tmp_path / "src").read_bytes()
    eml = make_eml(tmp_path / "box" / "mine.eml", "Jo Bloggs <jo.bloggs@nhs.example>", "My questionnaire, Jo",
                   dt.datetime(2027, 2, 1, tzinfo=dt.timezone.utc), [("review.xlsx", form)])
    run("ingest", eml, "--round", 2026, "--out", tmp_path / "run", "--db", db, "--engine", "pandas", *INST)
    assert query(db, "SELECT count(*) AS n FROM submissions").n[0] == 1
    assert query(db, "SELECT count(*) AS n FROM mail_received").n[0] == 0
    emails = (tmp_path / "run" / "emails.csv").read_text(encoding="utf-8")
    assert "jo.bloggs" not in emails and "Jo" not in emails.split("\n", 1)[1]


def test_ingest_msg__real_outlook_files_are_read_and_listed_with_what_to_do(run, tmp_path):
    box = tmp_path / "outlook"
    box.mkdir()
    for name in ("testMSG.msg", "testMSG_att_doc.msg", "testMSG_att_msg.msg"):
        shutil.copy(MSG_DATA / name, box / name)
    result = run("ingest", box, "--round", 2026, "--out", tmp_path / "run", "--db", tmp_path / "s.duckdb", *INST,
                 expect=1)
    assert "[ING002] no returns attached" in result.stderr
    assert "no return attached (attached: test-unicode.doc, pj1.txt)" in result.stdout
    assert "no return attached (nothing attached)" in result.stdout
    emails = pd.read_csv(tmp_path / "run" / "emails.csv", dtype=str, keep_default_na=False)
    emails = emails.set_index(emails.message_file.map(lambda p: Path(p).name))
    assert emails.loc["testMSG.msg", "sender"] == "jukka.zitting@gmail.com"
    assert emails.loc["testMSG.msg", "subject"] == "MIME registry use cases"
    assert emails.loc["testMSG.msg", "date"].startswith("2009-01-29")
    assert emails.loc["testMSG_att_doc.msg", "subject"] == "test pièce jointe 1"
    assert "smbprn.00009008.KdcPjl.pdf" in emails.loc["testMSG_att_msg.msg", "attachments"]


def test_ingest_eml__an_unreadable_message_file_is_reported_not_fatal(run, inbox):
    db, box, tmp = inbox
    (box / "broken.msg").write_bytes(b"this is not an Outlook file")
    result = run("ingest", box / "broken.msg", box / "RE survey RJ1.eml", "--round", 2026, "--out", tmp / "run",
                 "--db", db, "--engine", "pandas", *INST)
    assert "broken.msg" in result.stdout and "cannot be read as a saved Outlook message" in result.stdout
    assert query(db, "SELECT org_code FROM submissions").org_code.tolist() == ["RJ1"]
