"""`trust-survey send --smtp` to a real SMTP server on localhost: every message once, resumed after a dropped
connection without duplicates, refused recipients reported, login only from the environment."""
from __future__ import annotations

import shutil
import ssl
import subprocess
import time

import pytest

from distribute_helpers import REPO, build_round, parts, query, register_sha, sha
from smtp_helpers import Recorder, Server

INST = ("--instruments", REPO / "instruments")


@pytest.fixture
def round_built(run, tmp_path):
    return build_round(run, tmp_path / "round", fmt="all")


def test_smtp__every_message_arrives_once_with_its_files_headers_and_both_parts(run, round_built, monkeypatch):
    db, _ = round_built
    monkeypatch.setenv("TRUST_SURVEY_SMTP_USER", "survey-robot")
    monkeypatch.setenv("TRUST_SURVEY_SMTP_PASSWORD", "s3cret-Pa55")
    with Server(Recorder(), user="survey-robot", password="s3cret-Pa55") as srv:
        result = run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    handler = srv.handler
    assert handler.logins == ["survey-robot"]
    got = handler.by_org()
    assert sorted(got) == ["RGT", "RJ1", "RRK"] and all(len(v) == 1 for v in got.values())
    shas = register_sha(db)
    for org, [(rcpts, msg, _)] in got.items():
        text, html, files = parts(msg)
        assert f"{org}_trust_capability_v1_2026.xlsx" in files and f"{org}_trust_capability_v1_2026.sav" in files
        assert {n: sha(d) for n, d in files.items()} == {n: shas[n] for n in files}   # the register's bytes
        assert msg["From"] == "stp.survey@hee.nhs.uk.example" and msg["Message-ID"].startswith("<ts.invitation.")
        assert msg["X-Unsent"] is None and "Dear colleague" in text and "<h2" in html
    assert got["RJ1"][0][0] == ["rj1@nhs.example", "deputy.rj1@nhs.example", "it.rj1@nhs.example"]
    ledger = query(db, "SELECT * FROM mail_ledger")
    assert set(ledger.result) == {"sent"} and len(ledger) == 3
    assert "3 message(s): 3 sent" in result.stderr
    secret = "s3cret-Pa55"
    assert secret not in result.stdout + result.stderr and secret.encode() not in db.read_bytes()
    assert not ledger.astype(str).apply(lambda c: c.str.contains(secret)).any().any()
    again = run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)   # server gone: nothing to send
    assert "3 organisation(s) already sent" in again.stderr


def test_smtp__a_connection_dropped_halfway_is_resumed_without_sending_anyone_twice(run, round_built):
    db, _ = round_built
    # the 2nd message's data and its one retry are cut off: the run stops after one message
    with Server(Recorder(drop_at={2, 3})) as srv:
        first = run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST, expect=1)
        assert "connection to the server was lost" in first.stderr and "run the same command again" in first.stderr
        assert len(srv.handler.accepted) == 1
        failed = query(db, "SELECT org_code, message_id FROM mail_ledger WHERE result = 'failed'")
        second = run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    got = srv.handler.by_org()
    assert sorted(got) == ["RGT", "RJ1", "RRK"] and all(len(v) == 1 for v in got.values())
    assert "1 organisation(s) already sent" in second.stderr
    retried = got[failed.org_code[0]][0][1]
    assert retried["Message-ID"] == failed.message_id[0]      # the same message, recognisable as a retry
    sent = query(db, "SELECT org_code FROM mail_ledger WHERE result = 'sent'")
    assert sorted(sent.org_code) == ["RGT", "RJ1", "RRK"]


def test_smtp__one_dropped_connection_is_opened_again_within_the_run(run, round_built):
    db, _ = round_built
    with Server(Recorder(drop_at={2})) as srv:
        run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    assert sorted(srv.handler.by_org()) == ["RGT", "RJ1", "RRK"] and len(srv.handler.accepted) == 3


def test_smtp__a_refused_recipient_is_reported_and_the_rest_are_still_sent(run, round_built):
    db, _ = round_built
    with Server(Recorder(refuse={"rgt@nhs.example", "it.rj1@nhs.example"})) as srv:
        result = run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST, expect=1)
        assert sorted(srv.handler.by_org()) == ["RJ1", "RRK"]
        assert "REFUSED" in result.stdout and "rgt@nhs.example (550" in result.stdout
        assert "it.rj1@nhs.example (550" in result.stdout    # RJ1 sent to the others; its refused cc reported
        ledger = query(db, "SELECT org_code, result, refused FROM mail_ledger").set_index("org_code")
        assert ledger.loc["RGT", "result"] == "refused" and ledger.loc["RJ1", "result"] == "sent"
        assert "it.rj1@nhs.example" in ledger.loc["RJ1", "refused"]
        srv.handler.refuse.clear()        # the address is fixed at the far end: a rerun sends only RGT's
        run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    got = srv.handler.by_org()
    assert sorted(got) == ["RGT", "RJ1", "RRK"] and all(len(v) == 1 for v in got.values())


def test_smtp__per_minute_spaces_the_messages_out(run, round_built):
    db, _ = round_built
    with Server(Recorder()) as srv:
        started = time.monotonic()
        run("send", "--round", 2026, "--smtp", srv.url, "--per-minute", 120, "--db", db, *INST)
        took = time.monotonic() - started
    assert len(srv.handler.accepted) == 3 and took >= 1.0     # three messages, half a second apart at least


def test_smtp__credentials_in_the_url_are_refused(run, round_built):
    db, _ = round_built
    result = run("send", "--round", 2026, "--smtp", "smtp://me:pw@127.0.0.1:2525", "--db", db, *INST, expect=1)
    assert "[SND004]" in result.stderr and "TRUST_SURVEY_SMTP_PASSWORD" in result.stderr
    assert "pw" not in result.stdout


def test_smtp__a_wrong_password_is_a_clear_error_and_nothing_is_recorded_as_sent(run, round_built, monkeypatch):
    db, _ = round_built
    monkeypatch.setenv("TRUST_SURVEY_SMTP_USER", "survey-robot")
    monkeypatch.setenv("TRUST_SURVEY_SMTP_PASSWORD", "wrong")
    with Server(Recorder(), user="survey-robot", password="right") as srv:
        result = run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST, expect=1)
    assert "[SND006]" in result.stderr and "refused the login" in result.stderr and not srv.handler.accepted
    assert query(db, "SELECT count(*) AS n FROM mail_ledger WHERE result = 'sent'").n[0] == 0


@pytest.fixture
def self_signed(tmp_path):
    if not shutil.which("openssl"):
        pytest.skip("openssl is not installed")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
                    "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    return key, cert


def test_smtp__starttls_comes_before_the_login(run, round_built, monkeypatch, self_signed):
    db, _ = round_built
    key, cert = self_signed
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))      # trust the test server's own certificate
    monkeypatch.setenv("TRUST_SURVEY_SMTP_USER", "survey-robot")
    monkeypatch.setenv("TRUST_SURVEY_SMTP_PASSWORD", "over-tls-only")
    with Server(Recorder(), user="survey-robot", password="over-tls-only", tls_context=context,
                require_starttls=True) as srv:
        run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    assert srv.handler.logins == ["survey-robot"] and len(srv.handler.accepted) == 3


def test_smtp__a_message_left_half_sent_by_a_crash_is_tried_again_under_the_same_message_id(run, round_built):
    """The process died after handing RJ1's message over but before recording the answer: the next run
    sends it again (the ledger cannot know it arrived) with the same Message-ID, so it is recognisable."""
    from trust_survey import store
    from trust_survey.distribute import ledger
    from trust_survey.distribute.send import plan_invitations
    from trust_survey.instruments import load_registry

    db, _ = round_built
    inst = load_registry(REPO / "instruments").get("trust_capability")
    with store.open_store(db) as con:
        planned, _ = plan_invitations(con, inst, 2026, sender="stp.survey@hee.nhs.uk.example", route="smtp",
                                      deadline="31 March 2027", contact="x")
        rj1 = next(m for m in planned if m.org_code == "RJ1")
        ledger.start(con, rj1, "smtp")              # ... and then the crash
    with Server(Recorder()) as srv:
        run("send", "--round", 2026, "--smtp", srv.url, "--db", db, *INST)
    got = srv.handler.by_org()
    assert got["RJ1"][0][1]["Message-ID"] == rj1.message_id and len(srv.handler.accepted) == 3
    rows = query(db, "SELECT result FROM mail_ledger WHERE org_code = 'RJ1' ORDER BY handed_at, result")
    assert sorted(rows.result) == ["interrupted", "sent"]
