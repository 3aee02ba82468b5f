"""Sending a round of 250 messages to an SMTP server on this computer, against writing the same emails.

Ours: `trust-survey send --smtp` to an aiosmtpd server started here (every attachment checked against the
register, each message recorded in the send ledger before and after the server accepts it), and
`trust-survey send --out` (the same messages as .eml files). Baseline: a plain script that builds the
same 250 messages with Python's email package (same text, same attachment) and writes them to disk,
with no checks and no ledger: the floor any sender pays.
"""
from __future__ import annotations

import csv
import sys
import tempfile
from pathlib import Path

from bench.common import measure, python_snippet

N_ORGS = 250

BASELINE = """
import sys
from pathlib import Path
from email.message import EmailMessage
from email.policy import SMTP
built, out = Path(sys.argv[1]), Path(sys.argv[2])
for path in sorted(built.glob("*.xlsx")):
    msg = EmailMessage(policy=SMTP)
    msg["From"], msg["To"], msg["Subject"] = "a@example.org", "b@example.org", "Your return " + path.stem
    msg.set_content("Dear colleague,\\n\\nYour return is attached.\\n")
    msg.add_alternative("<p>Dear colleague,</p><p>Your return is attached.</p>", subtype="html")
    msg.add_attachment(path.read_bytes(), maintype="application", subtype="octet-stream", filename=path.name)
    (out / (path.stem + ".eml")).write_bytes(msg.as_bytes())
"""


class _Count:
    def __init__(self):
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        return "250 OK"


def run() -> list[dict]:
    import socket

    from aiosmtpd.controller import Controller

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        orgs = tmp / "orgs.csv"
        with open(orgs, "w", newline="") as fh:
            writer = csv.writer(fh)
            writer.writerow(["org_code", "org_name", "contact_email"])
            for i in range(N_ORGS):
                writer.writerow([f"R{i:03d}"[:5], f"Benchmark Trust {i} NHS Foundation Trust",
                                 f"lead{i}@trust{i}.nhs.uk.example"])
        db = tmp / "bench.duckdb"
        measure([sys.executable, "-m", "trust_survey", "instruments", "build", "trust_capability", "--orgs",
                 str(orgs), "--round", "2026", "--out", str(tmp / "built"), "--quiet", "--db", str(db)])
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        handler = _Count()
        server = Controller(handler, hostname="127.0.0.1", port=port)
        server.start()
        try:
            smtp = measure([sys.executable, "-m", "trust_survey", "send", "--round", "2026", "--smtp",
                            f"smtp://127.0.0.1:{port}", "--quiet", "--db", str(db)])
        finally:
            server.stop()
        if handler.n != N_ORGS:
            raise RuntimeError(f"the server received {handler.n} messages, expected {N_ORGS}")
        outbox = measure([sys.executable, "-m", "trust_survey", "send", "--round", "2026", "--out",
                          str(tmp / "outbox"), "--quiet", "--db", str(db)])
        (tmp / "plain").mkdir()
        base = measure(python_snippet(BASELINE) + [str(tmp / "built"), str(tmp / "plain")])
    baseline = "plain email package: build and write the same 250 .eml files, no checks or ledger"
    return [{
        "name": f"send --smtp: {N_ORGS} messages to a local server",
        "seconds": smtp["seconds"], "peak_mb": smtp["peak_mb"], "baseline_name": baseline,
        "baseline_seconds": base["seconds"], "ratio": smtp["seconds"] / base["seconds"],
        "notes": "ours checks each attachment's sha256 against the register and records every message in the "
                 "ledger before and after the server accepts it; the server runs in the bench process",
    }, {
        "name": f"send --out: {N_ORGS} .eml files",
        "seconds": outbox["seconds"], "peak_mb": outbox["peak_mb"], "baseline_name": baseline,
        "baseline_seconds": base["seconds"], "ratio": outbox["seconds"] / base["seconds"],
        "notes": "the same messages written to an outbox folder with outbox.csv",
    }]


if __name__ == "__main__":
    from bench.__main__ import report

    report(run())
