"""`trust-survey send` to an outbox folder: one .eml per organisation, checked against the register."""
from __future__ import annotations

import pandas as pd
import pytest

from distribute_helpers import ORGS_CSV, REPO, build_round, parts, query, read_eml, register_sha, sha

INST = ("--instruments", REPO / "instruments")


@pytest.fixture
def round_built(run, tmp_path):
    return build_round(run, tmp_path / "round")


def test_send__writes_one_eml_per_organisation_with_its_own_workbook_both_parts_and_outbox_csv(run, round_built,
                                                                                               tmp_path):
    db, built = round_built
    outbox = tmp_path / "outbox"
    result = run("send", "--round", 2026, "--out", outbox, "--db", db, *INST)
    assert "3 message(s): 3 written" in result.stderr
    listed = pd.read_csv(outbox / "outbox.csv", dtype=str, keep_default_na=False)
    assert sorted(listed.org_code) == ["RGT", "RJ1", "RRK"]
    shas = register_sha(db)
    for row in listed.itertuples():
        msg = read_eml(outbox / row.file)
        text, html, files = parts(msg)
        assert list(files) == [f"{row.org_code}_trust_capability_v1_2026.xlsx"]   # its own workbook, only
        assert {name: sha(data) for name, data in files.items()} == {n: shas[n] for n in files}
        assert msg["Message-ID"] == row.message_id and msg["X-Unsent"] == "1"
        assert msg["To"] == f"{row.org_code.lower()}@nhs.example"
        assert "2026" in msg["Subject"] and "31 March 2027" in text and "31 March 2027" in html
        assert '<html lang="en-GB">' in html and "<h2" in html and "<ul" in html
    rj1 = read_eml(outbox / listed.set_index("org_code").loc["RJ1", "file"])
    assert rj1["Cc"] == "deputy.rj1@nhs.example, it.rj1@nhs.example"
    text, html, _ = parts(rj1)
    assert "Guy's and St Thomas'" in text and "Guy&#x27;s and St Thomas&#x27;" in html
    ledger = query(db, "SELECT org_code, result, route, attachment_sha256 FROM mail_ledger ORDER BY org_code")
    assert list(ledger.result) == ["written"] * 3 and set(ledger.route) == {"outbox"}
    assert ledger.set_index("org_code").loc["RGT", "attachment_sha256"] == shas["RGT_trust_capability_v1_2026.xlsx"]


def test_send__rerun_sends_nothing_again_and_resend_sends_one_with_a_new_message_id(run, round_built, tmp_path):
    db, _ = round_built
    outbox = tmp_path / "outbox"
    run("send", "--round", 2026, "--out", outbox, "--db", db, *INST)
    again = run("send", "--round", 2026, "--out", outbox, "--db", db, *INST)
    assert "3 organisation(s) already sent" in again.stderr and "0 message(s)" in again.stderr
    assert len(list(outbox.glob("*.eml"))) == 3
    resent = run("send", "--round", 2026, "--out", outbox, "--db", db, "--resend", "rgt", *INST)
    assert "1 message(s): 1 written" in resent.stderr
    listed = pd.read_csv(outbox / "outbox.csv", dtype=str)
    rgt = listed[listed.org_code == "RGT"]
    assert len(rgt) == 2 and rgt.message_id.nunique() == 2 and len(list(outbox.glob("*.eml"))) == 4
    unknown = run("send", "--round", 2026, "--out", outbox, "--db", db, "--resend", "RGX", *INST, expect=1)
    assert "[SND008]" in unknown.stderr and "did you mean 'RGT'" in unknown.stderr


def test_send__a_changed_or_missing_workbook_is_blocked_never_sent(run, round_built, tmp_path):
    db, built = round_built
    (built / "RGT_trust_capability_v1_2026.xlsx").write_bytes(b"PK\x03\x04 not the built file")
    (built / "RRK_trust_capability_v1_2026.xlsx").unlink()
    outbox = tmp_path / "outbox"
    result = run("send", "--round", 2026, "--out", outbox, "--db", db, *INST, expect=1)
    assert "differs from the register's" in result.stdout and "missing (the register lists it)" in result.stdout
    assert [p.name.split("_")[0] for p in outbox.glob("*.eml")] == ["RJ1"]
    ledger = query(db, "SELECT org_code, result FROM mail_ledger ORDER BY org_code")
    assert dict(zip(ledger.org_code, ledger.result)) == {"RGT": "blocked", "RJ1": "written", "RRK": "blocked"}


def test_send__dry_run_checks_every_attachment_and_records_nothing(run, round_built, tmp_path):
    db, built = round_built
    ok = run("send", "--round", 2026, "--dry-run", "--db", db, *INST)
    assert ok.stdout.count("would send") == 3 and "rj1@nhs.example" in ok.stdout
    (built / "RJ1_trust_capability_v1_2026.xlsx").write_bytes(b"tampered")
    bad = run("send", "--round", 2026, "--dry-run", "--db", db, *INST, expect=1)
    assert "BLOCKED" in bad.stdout and "RJ1" in bad.stdout
    assert query(db, "SELECT count(*) AS n FROM mail_ledger").n[0] == 0
    assert not (tmp_path / "outputs" / "outbox_2026").exists()


def test_send__values_are_escaped_in_the_html_part_and_kept_as_typed_in_the_text(run, tmp_path):
    hostile = ORGS_CSV.replace("Cambridge University Hospitals NHS Foundation Trust",
                               '"<script>alert(1)</script> A&E {deadline}"')
    db, _ = build_round(run, tmp_path / "round", hostile)
    outbox = tmp_path / "outbox"
    run("send", "--round", 2026, "--out", outbox, "--db", db, *INST)
    msg = read_eml(next(outbox.glob("RGT_*.eml")))
    text, html, _ = parts(msg)
    assert "&lt;script&gt;alert(1)&lt;/script&gt; A&amp;E {deadline}" in html and "<script>" not in html
    assert "<script>alert(1)</script> A&E {deadline}" in text     # a value is never filled in twice
    assert "\n" not in msg["Subject"]


def test_send__own_template_with_an_unknown_placeholder_is_refused_naming_the_line(run, round_built, tmp_path):
    db, _ = round_built
    tpl = tmp_path / "mine.md"
    tpl.write_text("Subject: Survey for {org_name}\n\nDear {org_nmae},\n", encoding="utf-8")
    result = run("send", "--round", 2026, "--template", tpl, "--db", db, *INST, expect=1)
    assert "[TPL001]" in result.stderr and "line 3: unknown placeholder {org_nmae}" in result.stderr
    assert "did you mean 'org_name'" in result.stderr


def test_send__out_and_smtp_together_is_a_usage_error(run, round_built, tmp_path):
    db, _ = round_built
    result = run("send", "--round", 2026, "--out", tmp_path / "o", "--smtp", "smtp://localhost:25", "--db", db,
                 expect=2)
    assert "not both" in result.stderr


def test_send__with_no_distribution_says_to_build_first(run, tmp_path):
    result = run("send", "--round", 2031, "--db", tmp_path / "empty.duckdb", *INST, expect=1)
    assert "[SND007]" in result.stderr and "instruments build trust_capability --round 2031" in result.stderr
    assert not (tmp_path / "empty.duckdb").exists()   # a mistyped --db is not created


def test_store__a_version_1_database_is_migrated_with_cc_email_and_the_send_ledger(tmp_path):
    import duckdb

    from trust_survey import store

    db = tmp_path / "old.duckdb"
    con = duckdb.connect(str(db))
    con.execute("CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMP NOT NULL)")
    for statement in store.MIGRATIONS[1]:
        con.execute(statement)
    con.execute("INSERT INTO schema_version VALUES (1, now())")
    con.execute("INSERT INTO distribution (round, instrument_id, org_code, file) VALUES (2025, 'x', 'RJ1', 'f')")
    con.close()
    with store.open_store(db) as con:
        assert store.schema_version(con) == 2
        row = con.execute("SELECT org_code, cc_email, folder FROM distribution").fetchall()
        assert row == [("RJ1", None, None)]
        assert con.execute("SELECT count(*) FROM mail_ledger").fetchone()[0] == 0


def test_send__an_organisation_without_an_address_is_listed_and_the_rest_still_written(run, tmp_path):
    orgs = ORGS_CSV.replace("rrk@nhs.example", "")
    db, _ = build_round(run, tmp_path / "round", orgs)
    outbox = tmp_path / "outbox"
    result = run("send", "--round", 2026, "--out", outbox, "--db", db, *INST, expect=1)
    assert "NO ADDRESS   RRK" in result.stdout and "no contact_email in the register" in result.stdout
    assert sorted(p.name.split("_")[0] for p in outbox.glob("*.eml")) == ["RGT", "RJ1"]
