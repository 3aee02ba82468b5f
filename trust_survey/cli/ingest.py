"""``trust-survey ingest``, ``status``, ``diff``, ``feedback`` and ``export``: returns in, findings out."""
from __future__ import annotations

from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import (
    db_option, force_option, info, instruments_option, progress, quiet_option, resolve_db, round_option, wrote,
)

_DIR = click.Path(file_okay=False, path_type=Path)
STATUS_WORDS = {"accepted": "accepted", "accepted_with_warnings": "accepted with warnings", "rejected": "REJECTED",
                "quarantined": "UNREADABLE", "duplicate": "already ingested", "superseded": "superseded on arrival"}
SKIPPED_SHOWN = 20  # skipped files listed on screen; all are in files.csv
STATES_SHOWN = ("accepted", "accepted with warnings", "rejected", "not returned")


def _registry(instruments_dir: Path | None):
    from trust_survey.instruments import load_registry

    return load_registry(instruments_dir)


def _check_out(out: Path | None, force: bool) -> None:
    from trust_survey.errors import OutputExistsError

    if out is not None and out.exists() and (not out.is_dir() or any(out.iterdir())) and not force:
        raise OutputExistsError(f"{out}: already exists and is not empty; choose another --out or pass --force")


def _print_outcomes(result) -> None:
    lines = []   # one write: a platform export is thousands of respondents, each a line
    for o in result.outcomes:
        counts = f"{o.errors} error(s), {o.warnings} warning(s)" if (o.errors or o.warnings) else ""
        head = f"{STATUS_WORDS.get(o.status, o.status):<22} {o.org_code or '-':<6} {o.instrument or '-':<22}"
        detail = f"\n{'':<24}{o.message}" if o.message else ""
        lines.append(f"{head} {o.file}" + (f"  [{counts}]" if counts else "") + detail)
    if lines:
        click.echo("\n".join(lines))


def _print_mail(mail, quiet: bool) -> None:
    """Each saved email: which returns it held, a sender who is not the organisation's, or what to do."""
    from trust_survey.distribute.mailin import _what_to_do

    for m in mail.mails:
        todo = _what_to_do(m)
        if todo:
            click.echo(f"{'email, no return':<22} {'-':<6} {'-':<22} {m.path.name}\n{'':<24}{todo}")
        for warning in m.warnings:
            click.echo(f"{'WARNING':<22} {'-':<6} {'-':<22} {warning}")
    returns = sum(len(m.saved) for m in mail.mails)
    info(f"{len(mail.mails)} saved email(s): {returns} possible return(s) attached", quiet)
    if mail.emails_csv:
        wrote(mail.emails_csv, "emails and what came in each", quiet)


def _print_platform_reads(issues) -> None:
    """Say which mapping read each survey-platform export (W032), once per file."""
    if issues is None or issues.empty or "code" not in issues.columns:
        return
    for _, issue in issues[issues.code == "W032"].drop_duplicates("file").iterrows():
        click.echo(f"{issue.file}: {issue.message}")


@cli.command("ingest")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path))
@round_option(required=False)
@click.option("--strict", is_flag=True, help="Exit 1 when any file has warnings, not only errors.")
@click.option("--out", "out", type=_DIR, default=None,
              help="Folder for this run's reports. Default: outputs/ingest/<timestamp>.")
@click.option("--engine", type=click.Choice(["gx", "pandas"]), default="gx", show_default=True,
              help="What runs the column rules: Great Expectations, or the same rules in pandas (faster start).")
@click.option("--max-mb", "max_mb", type=click.FloatRange(0.01, 2048), default=20.0, show_default=True,
              help="Refuse files larger than this many megabytes.")
@click.option("--mapping", "mapping", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Mapping file for survey-platform CSV exports (default: any in <instruments>/mappings/ whose "
                   "columns match the file's header).")
@instruments_option
@db_option
@force_option
@quiet_option
def ingest_cmd(paths, round_, strict, out, engine, max_mb, mapping, instruments_dir, db, force, quiet) -> None:
    """Take in returns: validate each against its definition and store it in the database.

    PATHS are files or folders (read recursively): .xlsx, .xlsm, .xls, .ods, .csv, .sav, .zsav,
    recognised by content, and saved emails (.eml, Outlook .msg) whose attached returns are taken
    in as if saved by hand (sender, date and subject kept beside a trust return; a sender who is
    not the organisation's contact or cc is a warning; emails.csv lists every message). Each return
    is identified from its hidden meta sheet (else its cover
    sheet or headers; SPSS/CSV by variable names), cleaned (every change reported as a warning) and
    checked. Individual questionnaires (individual_review) come as the toolkit's workbook, an SPSS or
    CSV file with one case per respondent, or a survey-platform CSV export read through a mapping file
    (recognised by its header row); each respondent is stored as one submission under their
    pseudonymous id, and names, emails and IP addresses are never read. Errors reject a return
    (stored as rejected, copied to the quarantine); warnings are accepted and flagged; unreadable
    files are quarantined and nothing is stored. The same file twice
    is a no-op; a newer return from the same organisation supersedes the older one. Writes
    issues.csv, issues.json, files.csv and report.html to the run folder. Exit 1 when any file was
    rejected or had errors (--strict: warnings too).

    \b
    Example:
      trust-survey ingest returns/ --round 2026
      trust-survey ingest "inbox/RE Survey return.msg" saved_emails/ --round 2026
      trust-survey ingest RJ1_trust_capability_v1_2026.xlsx --strict --db outputs/survey.duckdb
      trust-survey ingest platform_export_2026.csv --round 2026 --mapping my_platform.yaml
    """
    from trust_survey.ingest.orchestrate import ingest_paths

    _check_out(out, force)
    registry = _registry(instruments_dir)
    db = resolve_db(db)
    from trust_survey.distribute.mailin import find_mail, ingest_mail

    with progress(length=len(paths), label="ingesting", quiet=quiet) as bar:
        if find_mail(paths)[0]:   # saved emails: their attachments are ingested as if saved by hand
            mail = ingest_mail(paths, db, round_, strict, out, bar.update, engine=engine, max_mb=max_mb,
                               registry=registry, mapping=mapping)
            result = mail.result
        else:
            mail = None
            result = ingest_paths(paths, db, round_, strict, out, on_progress=bar.update, engine=engine,
                                  max_mb=max_mb, registry=registry, mapping=mapping)
    if mail is not None:
        _print_mail(mail, quiet)
        if result is None:
            raise click.ClickException("[ING002] no returns attached to the saved email(s) given; see what to do "
                                       f"above and in {mail.emails_csv}")
    _print_outcomes(result)
    _print_platform_reads(result.issues)
    if result.skipped:
        from trust_survey.ingest.orchestrate import skip_reason

        own = [p for p in result.skipped if skip_reason(p).startswith("one of trust-survey's own")]
        others = [p for p in result.skipped if p not in own]
        for path in others[:SKIPPED_SHOWN]:
            click.echo(f"{'skipped':<22} {'-':<6} {'-':<22} {path.name}\n{'':<24}{skip_reason(path)}")
        more = len(others) - SKIPPED_SHOWN
        info(f"skipped {len(result.skipped)} file(s) that are not returns"
             + (f" ({len(own)} of them trust-survey's own files)" if own else "")
             + (f"; {more} more listed in files.csv" if more > 0 else ""), quiet)
    info(f"{len(result.outcomes)} file(s): {result.count('accepted')} accepted, "
         f"{result.count('accepted_with_warnings')} accepted with warnings, {result.count('rejected')} rejected, "
         f"{result.count('quarantined')} unreadable, {result.count('duplicate')} already ingested, "
         f"{result.count('superseded')} superseded on arrival; {len(result.issues)} issue(s)", quiet)
    wrote(result.paths["report_html"], "validation report", quiet)
    wrote(result.paths["issues_csv"], "issues", quiet)
    info(f"database: {db}", quiet)
    if result.exit_code:
        raise click.exceptions.Exit(result.exit_code)


@cli.command("status")
@round_option()
@click.option("--chase-list", "chase", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the organisations still owing a valid return to this CSV.")
@click.option("--instrument", "instrument_id", default=None,
              help="Only this instrument (default: all). Name an individual instrument to list its respondents.")
@instruments_option
@db_option
@force_option
@quiet_option
def status_cmd(round_, chase, instrument_id, instruments_dir, db, force, quiet) -> None:
    """Show every organisation in a round with its state: not returned, rejected, accepted.

    Organisations come from the round's distribution register (recorded by `instruments build`),
    plus any that returned without being sent a file. The chase list holds those not returned or
    only rejected; an organisation whose valid return is in is never on it. "last chased" is when
    `chase` last sent (or wrote) the organisation a reminder. Individual questionnaires
    (individual_review) are counted, not listed respondent by respondent, unless named with --instrument;
    respondents are never on the chase list.

    \b
    Example:
      trust-survey status --round 2026
      trust-survey status --round 2026 --chase-list outputs/chase_2026.csv
      trust-survey status --round 2026 --instrument individual_review
    """
    from trust_survey.distribute.status import chase_list, round_status
    from trust_survey.writers import write_csv

    db = resolve_db(db)
    status = round_status(db, round_, instrument_id)
    individual = _individual_instruments(instruments_dir, set(status.instrument_id))
    people = status[status.instrument_id.isin(individual)]
    orgs = status if instrument_id else status[~status.instrument_id.isin(individual)]
    listed = "respondent" if instrument_id and instrument_id in individual else "organisation"
    if len(orgs):
        from trust_survey.distribute.ledger import chase_times

        chased = chase_times(db, round_)   # when each was last sent a reminder by `chase`
        w = max([6] + [len(str(c)) for c in orgs.org_code])   # respondent ids are longer than ODS codes
        click.echo(f"{'org':<{w}} {'state':<23} {'last received':<17} {'last chased':<17} {'err':>4} {'warn':>4} "
                   f"{'subs':>4}  {listed}")
        for r in orgs.itertuples(index=False):
            when = "" if r.last_received is None or r.last_received != r.last_received else \
                f"{r.last_received:%d/%m/%Y %H:%M}"
            last = chased.get((r.org_code, r.instrument_id))
            last = f"{last:%d/%m/%Y %H:%M}" if last else ""
            flag = "" if r.in_distribution or listed == "respondent" else "  (not in distribution)"
            click.echo(f"{r.org_code:<{w}} {r.state:<23} {when:<17} {last:<17} {r.errors:>4} {r.warnings:>4} "
                       f"{r.submissions:>4}  {r.org_name or ''}{flag}")
        counts = orgs.state.value_counts()
        info(f"round {round_}: {len(orgs)} {listed}(s): "
             + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATES_SHOWN), quiet)
    if not instrument_id:
        for inst_id, group in people.groupby("instrument_id"):
            counts = group.state.value_counts()
            info(f"round {round_}: {inst_id}: {len(group)} respondent(s): "
                 + ", ".join(f"{counts.get(s, 0)} {s}" for s in STATES_SHOWN[:3])
                 + f" (list them with --instrument {inst_id})", quiet)
    if len(orgs) and not status.attrs.get("has_distribution"):
        info(f"no distribution recorded for round {round_}: only organisations that returned are listed "
             "(run `instruments build` for the round to record whom to expect)", quiet)
    if chase:
        owing = chase_list(status[~status.instrument_id.isin(individual)])
        write_csv(chase, owing, force=force, integers=("errors",))
        wrote(chase, f"chase list ({len(owing)} organisation(s))", quiet)


def _individual_instruments(instruments_dir: Path | None, ids: set[str]) -> set[str]:
    """The instruments among ``ids`` answered by individuals rather than organisations."""
    from trust_survey.errors import TrustSurveyError

    registry = _registry(instruments_dir)
    out = set()
    for inst_id in ids:
        try:
            audience = set(registry.get(inst_id).audience)
        except TrustSurveyError:   # a definition no longer in the folder: treat as an organisation return
            continue
        if audience == {"individual"}:
            out.add(inst_id)
    return out


@cli.command("diff")
@click.argument("org_code")
@round_option()
@click.option("--instrument", "instrument_id", default=None, help="Instrument, when the organisation returned several.")
@click.option("--from", "old", type=int, default=None, help="Submission id to compare from (default: the earlier).")
@click.option("--to", "new", type=int, default=None, help="Submission id to compare to (default: the latest).")
@click.option("--out", "out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the changes to this CSV.")
@instruments_option
@db_option
@force_option
def diff_cmd(org_code, round_, instrument_id, old, new, out, instruments_dir, db, force) -> None:
    """Show what changed, cell by cell, between an organisation's two latest returns.

    \b
    Example:
      trust-survey diff RJ1 --round 2026
      trust-survey diff RJ1 --round 2026 --from 3 --to 7 --out outputs/RJ1_changes.csv
    """
    from trust_survey.distribute.status import diff_returns
    from trust_survey.writers import write_csv

    changes, a, b = diff_returns(resolve_db(db), _registry(instruments_dir), org_code, round_,
                                 instrument_id=instrument_id, old=old, new=new)
    click.echo(f"{org_code.upper()} round {round_}: submission {a.submission_id} ({a.file_name}, {a.status}) -> "
               f"submission {b.submission_id} ({b.file_name}, {b.status}): {len(changes)} change(s)")
    for r in changes.itertuples(index=False):
        where = f"{r.sheet}!{r.cell}" if r.sheet else f"{r.table} row {r.row}"
        old_v = "(blank)" if r.old is None or r.old != r.old else repr(r.old)
        new_v = "(blank)" if r.new is None or r.new != r.new else repr(r.new)
        click.echo(f"  {where:<18} {r.change:<8} {r.question or r.field}: {old_v} -> {new_v}")
    if out:
        write_csv(out, changes, force=force, integers=("row",))
        wrote(out, "changes")


@cli.command("feedback")
@round_option()
@click.option("--out", "out", type=_DIR, required=True, help="Folder for the feedback workbooks.")
@db_option
@force_option
@quiet_option
def feedback_cmd(round_, out, db, force, quiet) -> None:
    """Write one feedback workbook per organisation whose return has errors or warnings.

    Each lists every issue with the sheet and cell of the return, the value found and what was
    expected, errors first, ready to send back to the trust.

    \b
    Example:
      trust-survey feedback --round 2026 --out outputs/feedback_2026
    """
    from trust_survey.distribute.feedback import write_feedback

    result = write_feedback(resolve_db(db), round_, out, force)
    info(f"{result.organisations} organisation(s) have issues to feed back", quiet)
    wrote(result.out_dir, "feedback workbooks", quiet)


@cli.command("export")
@round_option()
@click.option("--format", "fmt", type=click.Choice(["csv", "xlsx", "sav"]), required=True,
              help="CSV files, one Excel workbook per instrument version, or SPSS .sav files.")
@click.option("--out", "out", type=_DIR, required=True, help="Folder for the exported tables.")
@click.option("--instrument", "instrument_id", default=None, help="Only this instrument (default: all).")
@click.option("--include-free-text", "free_text", is_flag=True,
              help="Keep individual respondents' free-text answers (left out by default).")
@instruments_option
@db_option
@force_option
@quiet_option
def export_cmd(round_, fmt, out, instrument_id, free_text, instruments_dir, db, force, quiet) -> None:
    """Export the round's accepted returns as tidy tables (and the ledger) in CSV, Excel or SPSS.

    One table per instrument version and record type: the form (one row per organisation) and each
    table (one row per organisation and row). SPSS files carry the definition's variable and value
    labels. Text that a spreadsheet would run as a formula is made safe; numbers stay numbers.
    Individual questionnaires come one row per respondent (pseudonymous id); their free-text
    answers are left out unless --include-free-text.

    \b
    Example:
      trust-survey export --round 2026 --format xlsx --out outputs/export_2026
      trust-survey export --round 2026 --format sav --out outputs/spss_2026
    """
    from trust_survey.ingest.export import export_round

    result = export_round(resolve_db(db), _registry(instruments_dir), round_, fmt, out,
                          instrument_id=instrument_id, force=force, include_free_text=free_text)
    info(f"exported {len(result.written)} file(s) for round {round_}", quiet)
    wrote(result.out_dir, f"{fmt} tables", quiet)
