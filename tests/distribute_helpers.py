"""Shared fixtures for the send/chase/mail-in tests: a built round, and reading .eml files back."""
from __future__ import annotations

import email
import hashlib
from email import policy
from pathlib import Path

import duckdb
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
ORGS_CSV = (
    "org_code,org_name,contact_email,cc_email\n"
    "RJ1,Guy's and St Thomas' NHS Foundation Trust,rj1@nhs.example,deputy.rj1@nhs.example; it.rj1@nhs.example\n"
    "RGT,Cambridge University Hospitals NHS Foundation Trust,rgt@nhs.example,\n"
    "RRK,University Hospitals Birmingham NHS Foundation Trust,rrk@nhs.example,\n"
)


def build_round(run, base: Path, orgs_csv: str = ORGS_CSV, fmt: str = "xlsx") -> tuple[Path, Path]:
    """Build round 2026 of trust_capability into ``base/built``; return (db, built folder)."""
    base.mkdir(parents=True, exist_ok=True)
    db, built = base / "survey.duckdb", base / "built"
    orgs = base / "orgs.csv"
    orgs.write_text(orgs_csv, encoding="utf-8")
    run("instruments", "build", "trust_capability", "--orgs", orgs, "--round", 2026, "--out", built, "--format", fmt,
        "--force", "-q", "--db", db, "--instruments", REPO / "instruments")
    return db, built


def read_eml(path: Path) -> email.message.EmailMessage:
    return email.message_from_bytes(Path(path).read_bytes(), policy=policy.default)


def parts(msg) -> tuple[str, str, dict[str, bytes]]:
    """(plain text, html, {attachment name: bytes})."""
    text = msg.get_body(preferencelist=("plain",)).get_content()
    html = msg.get_body(preferencelist=("html",)).get_content()
    files = {a.get_filename(): a.get_payload(decode=True) for a in msg.iter_attachments()}
    return text, html, files


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def query(db: Path, sql: str, *args) -> pd.DataFrame:
    con = duckdb.connect(str(db), read_only=True)
    try:
        return con.execute(sql, list(args)).df()
    finally:
        con.close()


def register_sha(db: Path) -> dict[str, str]:
    frame = query(db, "SELECT file, sha256 FROM distribution WHERE round = 2026")
    return dict(zip(frame.file, frame.sha256))
