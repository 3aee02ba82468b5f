"""``trust-survey send`` and ``chase``: the round's invitations and reminders, by email."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import db_option, info, instruments_option, quiet_option, resolve_db, round_option, \
    wrote

RESULT_WORDS = {"sent": "sent", "written": "written", "would send": "would send", "blocked": "BLOCKED",
                "refused": "REFUSED", "failed": "FAILED", "no address": "NO ADDRESS", "not needed": "not needed"}


def mail_options(fn):
    """Where messages go and what they say: --out/--smtp, --from, --template, --deadline, --contact, …"""
    for deco in reversed([
        click.option("--out", "out", type=click.Path(file_okay=False, path_type=Path), default=None,
                     help="Write each message as an .eml file (open it in Outlook or Thunderbird and send) with "
                          "outbox.csv listing them. The default, in outputs/<outbox>_<YEAR>/<instrument>/."),
        click.option("--smtp", "smtp", default=None, metavar="URL",
                     help="Send through this server instead: smtp://host:port (STARTTLS) or smtps://host:port. "
                          "Login from $TRUST_SURVEY_SMTP_USER and $TRUST_SURVEY_SMTP_PASSWORD, or the keyring."),
        click.option("--from", "sender", default=None, metavar="ADDRESS",
                     help="From address (default: the instrument's contact_email)."),
        click.option("--template", "template", type=click.Path(exists=True, dir_okay=False, path_type=Path),
                     default=None, help="Message template (Markdown, first line 'Subject: …'; default: the "
                                        "shipped one)."),
        click.option("--deadline", default=None, help="Return-by date in the message (default: 31 March next "
                                                      "year)."),
        click.option("--contact", default=None, help="Who to ask about the survey (default: the From address)."),
        click.option("--per-minute", "per_minute", type=click.FloatRange(0.1, 10000), default=None,
                     help="Send at most this many messages a minute (SMTP only)."),
        click.option("--dry-run", is_flag=True, help="Say who would get what and check every attachment; send "
                                                     "and record nothing."),
    ]):
        fn = deco(fn)
    return fn


def _transport(out: Path | None, smtp: str | None, default: Path, per_minute):
    from trust_survey.distribute.transport import Outbox, Smtp

    if out and smtp:
        raise click.UsageError("give --out (write .eml files) or --smtp (send), not both")
    if smtp:
        return Smtp(smtp, per_minute=per_minute)
    return Outbox(out or default)


def _setup(instruments_dir, instrument_id, version, round_, sender, template, deadline, contact):
    from trust_survey.build.orchestrate import default_deadline
    from trust_survey.distribute.template import load_template
    from trust_survey.instruments import load_registry

    inst = load_registry(instruments_dir).get(instrument_id, version)
    sender = sender or inst.contact_email
    if not sender:
        raise click.UsageError(f"{inst.key} has no contact_email; give --from ADDRESS")
    return (inst, sender, load_template(template) if template else None, deadline or default_deadline(round_),
            contact or sender)


def _progress(quiet: bool):
    """One dot per message on a terminal (the count is known only once the register is read)."""
    import sys

    if quiet or not sys.stderr.isatty():
        return lambda n: None
    return lambda n: click.echo(".", nl=False, err=True)


def _report(result, dry_run: bool, quiet: bool) -> None:
    for out in result.messages:
        word, detail = result.results.get(out.org_code, ("not handed over", result.stopped))
        to = ", ".join(out.recipients) or "-"
        click.echo(f"{RESULT_WORDS.get(word, word):<12} {out.org_code:<6} {to}  [{out.attachment_names or 'no files'}]"
                   + (f"\n{'':<20}{detail}" if detail and word not in ("written", "sent") else "")
                   + (f"\n{'':<20}{detail}" if detail and word == "sent" else ""))
    if result.skipped:
        info(f"{len(result.skipped)} organisation(s) already sent this message by this route, left out "
             f"(--resend ORG sends one again): {', '.join(result.skipped[:10])}"
             + (" …" if len(result.skipped) > 10 else ""), quiet)
    counts = {}
    for word, _ in result.results.values():
        counts[word] = counts.get(word, 0) + 1
    info(f"{len(result.messages)} message(s): " + (", ".join(f"{n} {w}" for w, n in sorted(counts.items())) or "none")
         + (" (dry run: nothing sent or recorded)" if dry_run else ""), quiet)
    if result.stopped:
        info(result.stopped, False)


@cli.command("send")
@round_option()
@click.option("--instrument", "instrument_id", default="trust_capability", show_default=True,
              help="Which instrument's distribution to send.")
@click.option("--version", "version", type=int, default=None, help="Instrument version (default: latest).")
@click.option("--files", "files_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder holding the built files (default: where `instruments build` wrote them).")
@click.option("--changes", "changes", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Text file: what changed in the instrument since last year, put in the message.")
@click.option("--resend", "resend", multiple=True, metavar="ORG",
              help="Send this organisation its message again although it was sent (repeatable).")
@mail_options
@instruments_option
@db_option
@quiet_option
def send_cmd(round_, instrument_id, version, files_dir, changes, resend, out, smtp, sender, template, deadline,
             contact, per_minute, dry_run, instruments_dir, db, quiet) -> None:
    """Send each organisation in the round's distribution register its own return, by email.

    One message per organisation, to its contact_email and cc_email, with its own workbook (and SPSS
    template when built) attached. Each file must exist and match the sha256 recorded when it was
    built; otherwise that organisation's message is blocked, never sent. Every message is recorded in
    the database's send ledger; a rerun sends only what has not been sent (--resend ORG sends again).
    Messages are written as .eml files to an outbox folder (the default) or sent with --smtp. Exit 1
    when any message was blocked, refused or failed.

    \b
    Example:
      trust-survey send --round 2026 --dry-run
      trust-survey send --round 2026 --out outputs/outbox_2026/trust_capability
      TRUST_SURVEY_SMTP_USER=me TRUST_SURVEY_SMTP_PASSWORD=… \\
        trust-survey send --round 2026 --smtp smtp://smtp.example.nhs.uk:587 --per-minute 30
    """
    from trust_survey import settings
    from trust_survey.distribute.send import send_round

    inst, sender, tpl, deadline, contact = _setup(instruments_dir, instrument_id, version, round_, sender,
                                                  template, deadline, contact)
    transport = _transport(out, smtp, settings.outputs_dir() / f"outbox_{round_}" / inst.id, per_minute)
    notes = changes.read_text(encoding="utf-8-sig").strip() if changes else ""
    db = resolve_db(db)
    result = send_round(db, inst, round_, transport, sender=sender, deadline=deadline, contact=contact,
                        template=tpl, files_dir=files_dir, changes=notes, resend={r.upper() for r in resend},
                        dry_run=dry_run, on_progress=_progress(quiet))
    _report(result, dry_run, quiet)
    if not dry_run and transport.route == "outbox" and result.count("written"):
        wrote(transport.folder, "outbox (.eml files and outbox.csv)", quiet)
    elif not dry_run and transport.route == "smtp":
        info(f"sent through {transport.url}; recorded in the send ledger of {db}", quiet)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


@cli.command("chase")
@round_option()
@click.option("--instrument", "instrument_id", default="trust_capability", show_default=True,
              help="Which instrument's returns to chase.")
@click.option("--version", "version", type=int, default=None, help="Instrument version (default: latest).")
@click.option("--files", "files_dir", type=click.Path(file_okay=False, exists=True, path_type=Path), default=None,
              help="Folder holding the built files (default: where `instruments build` wrote them).")
@mail_options
@instruments_option
@db_option
@quiet_option
def chase_cmd(round_, instrument_id, version, files_dir, out, smtp, sender, template, deadline, contact,
              per_minute, dry_run, instruments_dir, db, quiet) -> None:
    """Remind each organisation still owing a valid return, saying what is missing.

    The organisations are those on the chase list (`status --chase-list`): not returned (sent their
    own files again) or only rejected (sent the feedback workbook listing each error). Just before
    each message goes, the database is asked again: an organisation whose valid return is in is never
    reminded. Reminders are recorded in the send ledger, so `status` shows when each was last chased;
    an organisation already reminded today by the same route is not reminded again today. Written as
    .eml files to an outbox folder (the default) or sent with --smtp.

    \b
    Example:
      trust-survey chase --round 2026 --dry-run
      trust-survey chase --round 2026 --out outputs/chase_2026
      trust-survey chase --round 2026 --smtp smtps://smtp.example.nhs.uk:465 --per-minute 30
    """
    import datetime as dt

    from trust_survey import settings
    from trust_survey.distribute.chase import chase_round

    inst, sender, tpl, deadline, contact = _setup(instruments_dir, instrument_id, version, round_, sender,
                                                  template, deadline, contact)
    default = settings.outputs_dir() / f"chase_{round_}" / f"{inst.id}_{dt.date.today():%Y-%m-%d}"
    transport = _transport(out, smtp, default, per_minute)
    feedback_dir = (transport.folder if transport.route == "outbox" else default) / "feedback"
    db = resolve_db(db)
    result = chase_round(db, inst, round_, transport, sender=sender, deadline=deadline, contact=contact,
                         feedback_dir=feedback_dir, template=tpl, files_dir=files_dir, dry_run=dry_run,
                         on_progress=_progress(quiet))
    _report(result, dry_run, quiet)
    if not result.messages and not result.skipped:
        info(f"nobody to chase for {inst.id}, round {round_}: every organisation's valid return is in", quiet)
    if not dry_run and transport.route == "outbox" and result.count("written"):
        wrote(transport.folder, "chase outbox (.eml files and outbox.csv)", quiet)
    elif not dry_run and transport.route == "smtp" and result.messages:
        info(f"sent through {transport.url}; recorded in the send ledger of {db}", quiet)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)
