"""``trust-survey taxonomy check`` and ``trust-survey match …``: code job titles to STP streams.

Long because it holds eight commands (taxonomy check; match titles, run, review-export, evaluate, train,
agreement, review-import) with their shared options; each body stays short and calls the library."""
from __future__ import annotations

import getpass
from pathlib import Path

import click

from trust_survey.cli import cli
from trust_survey.cli.options import (
    db_option, force_option, info, progress, quiet_option, resolve_db, round_option, wrote,
)

_PATH = click.Path(dir_okay=False, path_type=Path)


def taxonomy_option(fn):
    return click.option("--taxonomy", "taxonomy_path", type=_PATH, default=None,
                        help="Role taxonomy YAML. Default: $TRUST_SURVEY_TAXONOMY or "
                             "./role_taxonomy.yaml.")(fn)


def overrides_option(help_text: str):
    def deco(fn):
        return click.option("--overrides", "overrides_path", type=_PATH, default=None, help=help_text)(fn)
    return deco


def _encoding(ctx, param, value):
    if value is None:
        return None
    from trust_survey.matching.files import check_encoding

    try:
        return check_encoding(value)
    except LookupError:
        raise click.BadParameter(f"unknown encoding '{value}' (try utf-8, utf-8-sig or cp1252)") from None


def encoding_option(fn):
    return click.option("--encoding", default=None, callback=_encoding,
                        help="Encoding of the CSV (default: UTF-8 with or without BOM, else "
                             "Windows-1252).")(fn)


def model_option(fn):
    fn = click.option("--no-model", is_flag=True,
                      help="Code with the taxonomy's rules alone, without the learned title model.")(fn)
    return click.option("--model", "model_path", type=_PATH, default=None,
                        help="Title model file (from `match train`). Default: $TRUST_SURVEY_MODEL, else "
                             "title_model.pkl next to the taxonomy, else the shipped model (trained from the "
                             "project's data on first use and cached).")(fn)


def _model(model_path: Path | None, no_model: bool, taxonomy, overrides, quiet: bool = False):
    """The title model to code with (None with --no-model)."""
    if no_model:
        if model_path:
            raise click.UsageError("--model and --no-model cannot be used together")
        return None
    from trust_survey.matching.model import resolve_model

    model = resolve_model(model_path, taxonomy, overrides)
    info(f"title model {model.version} ({model.n_rows} training titles"
         + (f", {model.path}" if model.path else "") + ")", quiet)
    return model


def _load(taxonomy_path: Path | None, overrides_path: Path | None, use_overrides: bool = True):
    from trust_survey.matching.overrides import Overrides, load_overrides
    from trust_survey.matching.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(taxonomy_path)
    overrides = load_overrides(overrides_path, taxonomy) if use_overrides else Overrides.empty()
    return taxonomy, overrides


# ---------------------------------------------------------------------------------------------- taxonomy
@cli.group("taxonomy")
def taxonomy_group() -> None:
    """Check the role taxonomy that job titles are coded with (role_taxonomy.yaml).

    \b
    Example:
      trust-survey taxonomy check
    """


@taxonomy_group.command("check")
@click.argument("path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@overrides_option("Reviewed aliases to check as well. Default: role_overrides.yaml next to the taxonomy.")
def taxonomy_check_cmd(path: Path | None, overrides_path: Path | None) -> None:
    """Check the role taxonomy strictly; list every problem and exit 1 if there are any.

    Unknown keys, duplicate role ids, aliases claimed by two roles, unknown streams and thresholds out of
    order are all reported at once, as `file: path.to.key: problem` lines. The reviewed aliases file is
    checked against the taxonomy too, when it exists, including each alias's department context (any,
    other, or ids of the taxonomy's department_contexts joined by +).

    \b
    Example:
      trust-survey taxonomy check
      trust-survey taxonomy check my_taxonomy.yaml
    """
    from trust_survey import settings
    from trust_survey.errors import DefinitionError
    from trust_survey.matching.overrides import load_overrides
    from trust_survey.matching.taxonomy import load_taxonomy

    explicit = path is not None
    path = path or settings.taxonomy_path()
    try:
        tax = load_taxonomy(path)
    except DefinitionError as exc:
        for line in exc.details or [str(exc)]:
            click.echo(line)
        raise click.ClickException(f"[{exc.code}] {len(exc.details) or 1} problem(s) in {path}") from None
    kinds = {}
    for p in tax.phrases:
        kinds[p.kind] = kinds.get(p.kind, 0) + 1
    click.echo(f"{path}: ok (version {tax.version}; {len(tax.roles)} roles, {kinds.get('alias', 0)} aliases, "
               f"{kinds.get('abbreviation', 0)} abbreviations, {kinds.get('key_term', 0)} key terms, "
               f"{len(tax.contexts)} department contexts)")
    opath = overrides_path or (path.parent / "role_overrides.yaml" if explicit else settings.overrides_path())
    if opath.is_file():
        try:
            ov = load_overrides(opath, tax)
        except DefinitionError as exc:
            for line in exc.details or [str(exc)]:
                click.echo(line)
            count = len(exc.details) or 1
            raise click.ClickException(f"[{exc.code}] {count} problem(s) in {opath}") from None
        scoped = sum(e.context != "any" for e in ov.entries)
        click.echo(f"{opath}: ok (format {ov.format}, version {ov.version}; {len(ov.entries)} reviewed aliases, "
                   f"{scoped} for one department context)")


# ---------------------------------------------------------------------------------------------- match
@cli.group("match")
def match_group() -> None:
    """Code free-text job titles to a role and an STP stream, evaluate the coding, review doubtful ones.

    Each title gets a role, a stream (genomics, health_informatics, physical_sciences or none), a score,
    the method and alias that matched, alternatives, and a decision: auto, review or none.

    \b
    Example:
      trust-survey match run --round 2026
      trust-survey match review-export --round 2026 --out review.xlsx
      trust-survey match titles staff.csv --column title --context-column department --out coded.csv
      trust-survey match evaluate tests/data/titles_dev.csv --column title --label stream
    """


@match_group.command("titles")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--column", required=True, help="Column holding the job titles.")
@click.option("--context-column", default=None, help="Column holding the department (optional).")
@click.option("--out", "out", type=_PATH, required=True,
              help="Output CSV: the input plus the coding columns.")
@click.option("--review-out", type=_PATH, default=None,
              help="Also write the review queue as a workbook (.xlsx) to fill in and `review-import`.")
@encoding_option
@taxonomy_option
@overrides_option("Reviewed aliases. Default: $TRUST_SURVEY_OVERRIDES or role_overrides.yaml next to the "
                  "taxonomy.")
@model_option
@force_option
@quiet_option
def titles_cmd(file: Path, column: str, context_column: str | None, out: Path, review_out: Path | None,
               encoding: str | None, taxonomy_path: Path | None, overrides_path: Path | None,
               model_path: Path | None, no_model: bool, force: bool, quiet: bool) -> None:
    """Code every row of a CSV of job titles; OUT is the input plus the coding columns.

    Added columns: role_id, role, stream, relation, score (0-100), method (exact, alias, abbreviation,
    fuzzy, none, or model:<version> where the learned title model decided), matched_alias, decision
    (auto, review, none), alternatives (the model's next streams with their probabilities where it
    decided), then normalised_title, margin, taxonomy_version, department_context and model_version.
    Every input row comes back, blank titles included (coded none). Input columns with those names are
    kept as input_<name>.

    \b
    Example:
      trust-survey match titles staff.csv --column title --out coded.csv
      trust-survey match titles staff.csv --column "Job title" --context-column Department \\
          --out coded.csv --review-out review.xlsx
    """
    from trust_survey.errors import OutputExistsError
    from trust_survey.matching.files import read_table, require_columns, write_table_chunks
    from trust_survey.matching.matcher import match_frame_chunks

    for target in [out] + ([review_out] if review_out else []):
        if target.exists() and not force:
            raise OutputExistsError(f"{target}: already exists; pass --force to replace it")
    df = read_table(file, encoding)
    require_columns(df, file, {column: "--column", **({context_column: "--context-column"}
                                                      if context_column else {})})
    taxonomy, overrides = _load(taxonomy_path, overrides_path)
    model = _model(model_path, no_model, taxonomy, overrides, quiet)
    tally = _Tally(keep=review_out is not None)
    with progress(length=len(df), label=f"coding {len(df):,} titles", quiet=quiet) as bar:
        chunks = match_frame_chunks(df, column, context_column, taxonomy=taxonomy, overrides=overrides,
                                    model=model, on_progress=bar.update)
        write_table_chunks(map(tally.add, chunks), out, force=force)
    del df
    tally.summarise(quiet)
    wrote(out, "coded titles", quiet)
    coded = tally.frame()
    if review_out:
        from trust_survey.matching.review import build_review_workbook

        title_col = f"input_{column}" if f"input_{column}" in coded.columns else column
        build_review_workbook(coded, taxonomy, review_out, title_column=title_col,
                              context_column=context_column, force=force)
        wrote(review_out, "review workbook", quiet)


class _Tally:
    """Counts decisions as coded chunks go by to the writer (and keeps them when a review workbook needs them)."""

    def __init__(self, keep: bool):
        self.keep, self.kept = keep, []
        self.rows, self.decisions, self.auto_streams, self.titles = 0, {}, {}, set()

    def add(self, chunk):
        self.rows += len(chunk)
        for k, v in chunk["decision"].value_counts().items():
            self.decisions[k] = self.decisions.get(k, 0) + int(v)
        for k, v in chunk.loc[chunk["decision"] == "auto", "stream"].value_counts().items():
            self.auto_streams[k] = self.auto_streams.get(k, 0) + int(v)
        self.titles.update(chunk["normalised_title"].unique())
        if self.keep:
            self.kept.append(chunk)
        return chunk

    def frame(self):
        import pandas as pd

        return pd.concat(self.kept, ignore_index=True) if self.kept else None

    def summarise(self, quiet: bool) -> None:
        d, s = self.decisions, sorted(self.auto_streams.items(), key=lambda kv: -kv[1])
        info(f"coded {self.rows} title(s), {len(self.titles)} distinct: "
             f"{d.get('auto', 0)} auto, {d.get('review', 0)} to review, {d.get('none', 0)} none; "
             "automatic by stream: " + ", ".join(f"{k} {v}" for k, v in s), quiet)


@match_group.command("run")
@round_option()
@db_option
@taxonomy_option
@overrides_option("Reviewed aliases. Default: $TRUST_SURVEY_OVERRIDES or role_overrides.yaml next to the "
                  "taxonomy.")
@model_option
@quiet_option
def run_cmd(round_: int, db: Path | None, taxonomy_path: Path | None, overrides_path: Path | None,
            model_path: Path | None, no_model: bool, quiet: bool) -> None:
    """Code every stored job title of a round's accepted returns and keep the results in the database.

    Each title is coded with its department's name and type as context. Results go to the store's
    title_matches table with the taxonomy and reviewed-aliases versions used; running again replaces
    the round's results in one transaction. Review decisions already imported for the round (see
    `match review-import`) are applied on top, so a person's decision beats the automatic one.
    `candidates`, `demand` and `map` read these results.

    \b
    Example:
      trust-survey match run --round 2026
      trust-survey match run --round 2026 --db outputs/trust_survey.duckdb --taxonomy role_taxonomy.yaml
    """
    from trust_survey.matching.coding import code_titles, count_distinct, save_matches
    from trust_survey.matching.store import MATCH_TABLE, round_titles

    db = resolve_db(db)
    titles = round_titles(db, round_)
    taxonomy, overrides = _load(taxonomy_path, overrides_path)
    model = _model(model_path, no_model, taxonomy, overrides, quiet)
    distinct = count_distinct(titles)
    with progress(length=distinct, label=f"coding {distinct} distinct titles", quiet=quiet) as bar:
        coded = code_titles(titles, taxonomy, overrides, on_progress=bar.update, model=model)
    stored, reviewed = save_matches(db, round_, coded, taxonomy, overrides, model)
    _summarise_stored(stored, round_, quiet)
    info(f"taxonomy version {taxonomy.version}; reviewed aliases version {overrides.version}; title model "
         f"{model.version if model else 'none'}"
         + (f"; this round's review decisions applied to {reviewed} title(s)" if reviewed else ""), quiet)
    wrote(f"{db} (table {MATCH_TABLE}, round {round_})", "match results", quiet)


def _summarise_stored(stored, round_: int, quiet: bool) -> None:
    d = stored["decision"].value_counts()
    s = stored["stream"].value_counts()
    orgs = stored["org_code"].nunique()
    info(f"round {round_}: coded {len(stored)} title(s) from {orgs} organisation(s), "
         f"{stored['title_key'].nunique()} distinct", quiet)
    info("by decision: " + ", ".join(f"{k} {d.get(k, 0)}" for k in ("auto", "review", "none")), quiet)
    from trust_survey.matching.taxonomy import ALL_STREAMS

    info("by stream: " + ", ".join(f"{k} {s.get(k, 0)}" for k in ALL_STREAMS), quiet)


@match_group.command("review-export")
@round_option()
@click.option("--out", "out", type=_PATH, required=True, help="Review workbook to write (.xlsx).")
@db_option
@taxonomy_option
@force_option
@quiet_option
def review_export_cmd(round_: int, out: Path, db: Path | None, taxonomy_path: Path | None, force: bool,
                      quiet: bool) -> None:
    """Write the review queue of a round's stored matches as a workbook to fill in and `review-import`.

    One row per distinct normalised title and department context sent to review, most frequent first,
    with how often it occurs, example titles, organisations and departments, the suggestion and the best
    alternatives, and drop-downs to accept it, pick another role or stream, or reject it. A decision
    applies in its department context only, unless All departments is set to yes. The workbook remembers its round,
    so importing it updates that round's stored matches.

    \b
    Example:
      trust-survey match run --round 2026
      trust-survey match review-export --round 2026 --out review.xlsx
    """
    from trust_survey.errors import OutputExistsError
    from trust_survey.matching.review import build_review_workbook, review_queue
    from trust_survey.matching.store import stored_matches
    from trust_survey.matching.taxonomy import load_taxonomy

    if out.suffix.lower() != ".xlsx":
        raise click.BadParameter(f"'{out}' must end in .xlsx", param_hint="--out")
    if out.exists() and not force:
        raise OutputExistsError(f"{out}: already exists; pass --force to replace it")
    db = resolve_db(db)
    stored = stored_matches(db, round_)
    taxonomy = load_taxonomy(taxonomy_path)
    _warn_versions(stored, taxonomy, round_, quiet)
    meta = {"round": round_, "database": str(db), "matched_at": str(stored["matched_at"].max())}
    build_review_workbook(stored, taxonomy, out, title_column="job_title", context_column="staff_dept",
                          org_column="org_code", force=force, meta=meta)
    queue = review_queue(stored, taxonomy, title_column="job_title")
    n = int((stored["decision"] == "review").sum())
    info(f"round {round_}: {len(queue)} distinct title(s) and department context(s) to review ({n} of "
         f"{len(stored)} stored title(s))", quiet)
    wrote(out, "review workbook", quiet)


def _warn_versions(stored, taxonomy, round_: int, quiet: bool) -> None:
    used = {int(v) for v in stored["taxonomy_version"].dropna()}
    if used and used != {int(taxonomy.version)}:
        info(f"note: round {round_} was coded with taxonomy version {', '.join(map(str, sorted(used)))}; the "
             f"taxonomy is now version {taxonomy.version}: run `trust-survey match run --round {round_}` to "
             "recode it", quiet)


@match_group.command("evaluate")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--column", required=True, help="Column holding the job titles.")
@click.option("--label", required=True, help="Column holding the correct stream of each title.")
@click.option("--context-column", default=None, help="Column holding the department (optional).")
@click.option("--out", "out", type=_PATH, default=None,
              help="Also write every coded row with its label (CSV).")
@click.option("--calibrate", is_flag=True,
              help="Also search the decision thresholds on this set and print a `decision:` block to paste "
                   "into the taxonomy.")
@click.option("--min-auto-precision", type=click.FloatRange(0.5, 1.0), default=0.99, show_default=True,
              help="With --calibrate: the precision automatic decisions must keep.")
@click.option("--overrides", "overrides_path", type=_PATH, default=None,
              help="Apply these reviewed aliases too (default: none, so the taxonomy itself is measured).")
@encoding_option
@taxonomy_option
@model_option
@force_option
def evaluate_cmd(file: Path, column: str, label: str, context_column: str | None, out: Path | None,
                 calibrate: bool, min_auto_precision: float, overrides_path: Path | None,
                 encoding: str | None, taxonomy_path: Path | None, model_path: Path | None, no_model: bool,
                 force: bool) -> None:
    """Measure the coding against a labelled CSV: per-stream precision, recall and F1, macro-F1, share
    decided automatically, precision of automatic decisions, and the confusion matrix.

    Labels must be genomics, health_informatics, physical_sciences or none. "Automatic" means decision
    auto or none; "relevant auto+right" is the share of titles labelled with a stream that were coded
    auto to that stream. The title model takes part as in `match titles` (--no-model: the rules alone,
    for a before-and-after comparison); --calibrate searches the rules' thresholds.

    \b
    Example:
      trust-survey match evaluate tests/data/titles_dev.csv --column title --label stream \\
          --context-column department
      trust-survey match evaluate labelled.csv --column title --label stream --calibrate
    """
    from trust_survey.errors import InputFileError, OutputExistsError
    from trust_survey.matching.evaluate import calibrate as run_calibration
    from trust_survey.matching.evaluate import evaluate
    from trust_survey.matching.files import read_table, require_columns, write_table
    from trust_survey.matching.matcher import Matcher
    from trust_survey.matching.taxonomy import ALL_STREAMS

    if out and out.exists() and not force:
        raise OutputExistsError(f"{out}: already exists; pass --force to replace it")
    df = read_table(file, encoding)
    require_columns(df, file, {column: "--column", label: "--label",
                               **({context_column: "--context-column"} if context_column else {})})
    labels = df[label].astype(str).str.strip().str.lower().str.replace(" ", "_")
    bad = [(i + 2, v) for i, v in enumerate(df[label]) if labels.iloc[i] not in ALL_STREAMS]
    if bad:
        from trust_survey.errors import did_you_mean

        details = [f"{file}: row {row}, column {label!r}: {v!r} is not a stream"
                   f"{did_you_mean(str(v).strip().lower(), ALL_STREAMS)}" for row, v in bad]
        raise InputFileError(f"{file}: {len(bad)} label(s) are not one of {', '.join(ALL_STREAMS)}",
                             code="IN006", details=details)
    taxonomy, overrides = _load(taxonomy_path, overrides_path, use_overrides=overrides_path is not None)
    contexts = df[context_column] if context_column else None
    model = _model(model_path, no_model, taxonomy, overrides, quiet=True)
    coded = Matcher(taxonomy, overrides, model).code(df[column], contexts)
    result = evaluate(labels, coded["stream"], coded["decision"])
    click.echo(f"{file}: {result.n} labelled titles, taxonomy version {taxonomy.version}, title model "
               f"{model.version if model else 'none (rules alone)'}")
    click.echo(result.report())
    if calibrate:
        rules = Matcher(taxonomy, overrides).code(df[column], contexts, diagnostics=True)
        cal = run_calibration(rules, labels, taxonomy.thresholds, min_auto_precision=min_auto_precision)
        t = cal.thresholds
        s = cal.evaluation.summary()
        click.echo("\nsuggested thresholds (paste into role_taxonomy.yaml):")
        click.echo(f"decision:\n  auto_score: {t.auto_score:g}\n  auto_margin: {t.auto_margin:g}\n"
                   f"  review_score: {t.review_score:g}\n"
                   f"  none_when_relevant_below: {t.none_when_relevant_below:g}\n"
                   f"  calibration: \"{t.calibration}\"")
        click.echo(f"with them: macro-F1 {s['macro_f1']:.3f}, auto precision {s['auto_precision']:.3f}, "
                   f"relevant auto+right {s['relevant_auto_correct']:.3f}, decided automatically "
                   f"{s['auto_share']:.3f}")
    if out:
        import pandas as pd

        from trust_survey.matching.matcher import EXTRA_COLUMNS, RESULT_COLUMNS

        table = pd.concat([df.reset_index(drop=True),
                           coded[RESULT_COLUMNS + EXTRA_COLUMNS].add_prefix("coded_")], axis=1)
        table["correct"] = (labels.to_numpy() == coded["stream"].to_numpy())
        wrote(write_table(table, out, force=force), "coded rows with labels")


@match_group.command("train")
@db_option
@click.option("--out", "out", type=_PATH, default=None,
              help="Model file to write. Default: title_model.pkl next to the taxonomy (the current model, "
                   "used by match titles, run and evaluate).")
@click.option("--corpus", type=click.Path(exists=True, dir_okay=False, path_type=Path), default=None,
              help="Labelled titles CSV (title, department, stream, relation, source, split). Default: the "
                   "corpus shipped with trust-survey.")
@taxonomy_option
@overrides_option("Reviewed aliases to learn from. Default: $TRUST_SURVEY_OVERRIDES or role_overrides.yaml "
                  "next to the taxonomy.")
@force_option
@quiet_option
def train_cmd(db: Path | None, out: Path | None, corpus: Path | None, taxonomy_path: Path | None,
              overrides_path: Path | None, force: bool, quiet: bool) -> None:
    """Rebuild the title model from the taxonomy, the labelled corpus and every reviewed decision.

    It learns from the taxonomy's role names, aliases and abbreviations, the labelled real titles
    (held-out rows are never used), the reviewed aliases and every decision stored in the database's
    title_reviews table, and calibrates its auto / review / none thresholds on cross-validated
    predictions so automatic decisions stay at least 98% right. Training is deterministic: the same
    inputs and library versions give the same model file. Prints the model version, the training-set
    hash (both stored with every row `match run` codes) and the cross-validated figures. The default
    OUT is replaced; another existing file needs --force.

    \b
    Example:
      trust-survey match train
      trust-survey match train --db outputs/trust_survey.duckdb --out models/title_model.pkl --force
    """
    from trust_survey.errors import OutputExistsError
    from trust_survey.matching.model import (
        default_model_path, save_model, stored_reviews, train, training_rows,
    )

    taxonomy, overrides = _load(taxonomy_path, overrides_path)
    target = out or default_model_path(taxonomy)
    if out is not None and out.exists() and not force:
        raise OutputExistsError(f"{out}: already exists; pass --force to replace it")
    reviews = stored_reviews(resolve_db(db))
    rows = training_rows(taxonomy, corpus=corpus, overrides=overrides, reviews=reviews)
    info(f"training on {len(rows)} distinct titles: "
         + ", ".join(f"{k} {v}" for k, v in rows["source"].value_counts().sort_index().items()), quiet)
    model = train(rows, taxonomy_sha256=taxonomy.sha256, n_reviews=len(reviews) + len(overrides.entries),
                  taxonomy=taxonomy)
    save_model(model, target)
    click.echo(f"model version {model.version}; training-set sha256 {model.training_sha256}")
    th = model.thresholds
    click.echo(f"thresholds: auto from {th['auto']:.2f} (agreeing with the rules' suggestion from "
               f"{th.get('confirm', th['auto']):.2f}), none from {th['none']:.2f}, review from "
               f"{th['review']:.2f} (calibrated on cross-validated predictions)")
    if model.cv:
        cv = model.cv
        click.echo(f"cross-validated on {cv['rows']} titles: macro-F1 {cv['macro_f1']:.3f}, auto precision "
                   f"{cv['auto_precision']:.3f}, relevant auto+right {cv['relevant_auto_correct']:.3f}, "
                   f"decided automatically {cv['auto_share']:.3f}")
    wrote(target, "title model", quiet)


@match_group.command("agreement")
@click.argument("file_a", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.argument("file_b", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--column", default="stream", show_default=True, help="Column holding each coder's code.")
@click.option("--key", default=None,
              help="Column identifying an item in both files (joined on it); default: same row order.")
@encoding_option
def agreement_cmd(file_a: Path, file_b: Path, column: str, key: str | None, encoding: str | None) -> None:
    """Cohen's kappa between two coders of the same titles, with observed and chance agreement.

    \b
    Example:
      trust-survey match agreement coder_a.csv coder_b.csv --column stream
      trust-survey match agreement coder_a.csv coder_b.csv --column stream --key title
    """
    from trust_survey.errors import InputFileError
    from trust_survey.matching.evaluate import agreement
    from trust_survey.matching.files import read_table, require_columns

    a, b = read_table(file_a, encoding), read_table(file_b, encoding)
    for path, df in ((file_a, a), (file_b, b)):
        require_columns(df, path, {column: "--column", **({key: "--key"} if key else {})})
        if key:
            dup = df[key][df[key].duplicated()].unique().tolist()
            if dup:
                raise InputFileError(f"{path}: --key {key!r} is not unique; repeated: "
                                     + ", ".join(repr(v) for v in dup[:5]), code="IN007")
    if key:
        merged = a[[key, column]].merge(b[[key, column]], on=key, how="inner", suffixes=("_a", "_b"))
        codes_a, codes_b = merged[f"{column}_a"], merged[f"{column}_b"]
        unmatched = len(a) + len(b) - 2 * len(merged)
        if unmatched:
            info(f"{unmatched} item(s) appear in only one file and are left out")
    else:
        if len(a) != len(b):
            raise InputFileError(f"{file_a} has {len(a)} rows and {file_b} has {len(b)}; pass --key to join "
                                 "them on a column", code="IN007")
        codes_a, codes_b = a[column], b[column]

    def norm(s):
        return s.astype(str).str.strip().str.lower()

    result = agreement(norm(codes_a).tolist(), norm(codes_b).tolist())
    click.echo(result.report(file_a.name, file_b.name))


@match_group.command("review-import")
@click.argument("workbook", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@overrides_option("Reviewed aliases file to update. Default: $TRUST_SURVEY_OVERRIDES or role_overrides.yaml "
                  "next to the taxonomy.")
@click.option("--reviewer", default=None,
              help="Name recorded for rows whose Reviewer cell is blank (default: your login name).")
@click.option("--dry-run", is_flag=True, help="Check the workbook and report; write nothing.")
@round_option(required=False)
@db_option
@taxonomy_option
@quiet_option
def review_import_cmd(workbook: Path, overrides_path: Path | None, reviewer: str | None, dry_run: bool,
                      round_: int | None, db: Path | None, taxonomy_path: Path | None, quiet: bool) -> None:
    """Read a filled review workbook: store its decisions and turn them into reviewed aliases.

    Accepted, changed and rejected titles are added to the versioned overrides file (its version is
    bumped) with the department context they were decided in, so the matcher codes them automatically
    from now on in that context (everywhere for context any), and appended with who and when to
    <overrides>.decisions.csv beside it. A workbook from `match review-export` remembers its round: its
    decisions are also stored in the database (table title_reviews, with who, when and the round) and
    applied to that round's stored matches at once, so `candidates`, `demand` and `map` use them without
    another `match run`. Importing the same decisions again changes nothing. A workbook with any bad
    value is refused whole, each problem named by sheet and cell.

    \b
    Example:
      trust-survey match review-import review.xlsx --reviewer "A. Analyst"
      trust-survey match review-import review.xlsx --round 2026 --db outputs/trust_survey.duckdb
    """
    from trust_survey import settings
    from trust_survey.matching.review import read_review_meta, read_review_workbook
    from trust_survey.matching.review import import_review
    from trust_survey.matching.taxonomy import load_taxonomy

    taxonomy = load_taxonomy(taxonomy_path)
    decisions = read_review_workbook(workbook, taxonomy)
    round_ = _workbook_round(workbook, read_review_meta(workbook), round_)
    counts = decisions["action"].value_counts().to_dict()
    summary = ", ".join(f"{v} {k}" for k, v in counts.items()) or "none filled in"
    info(f"{workbook}: {len(decisions)} decision(s): {summary}", quiet)
    if decisions.empty:
        return
    result = import_review(decisions, workbook, taxonomy, overrides_path=overrides_path or settings.overrides_path(),
                           reviewer=reviewer or _login(), db=resolve_db(db) if round_ else None, round_=round_,
                           dry_run=dry_run)
    _report_import(result, dry_run, quiet)
    if result.written:
        _retrain_hint(taxonomy, db, result.overrides_path, quiet)


def _retrain_hint(taxonomy, db: Path | None, overrides_path: Path, quiet: bool) -> None:
    """Say when enough reviewed decisions wait that the current title model has not learned."""
    from trust_survey import settings
    from trust_survey.matching.model import RETRAIN_AFTER, default_model_path, load_model, stored_reviews
    from trust_survey.matching.overrides import load_overrides

    path = settings.model_path() or default_model_path(taxonomy)
    learned = 0
    if path.is_file():
        try:
            learned = load_model(path).n_reviews
        except Exception:  # noqa: BLE001 - an unreadable model has learned nothing
            learned = 0
    waiting = len(stored_reviews(resolve_db(db))) + len(load_overrides(overrides_path, taxonomy).entries) - learned
    if waiting >= RETRAIN_AFTER:
        info(f"{waiting} reviewed decision(s) are not yet learned by the title model; retrain it with "
             "`trust-survey match train`", quiet)


def _workbook_round(workbook: Path, meta: dict, round_: int | None) -> int | None:
    """The round the decisions are for: --round, else the one the workbook was exported for."""
    raw = meta.get("round", "")
    try:
        exported = int(float(raw)) if raw else None
    except ValueError:
        exported = None
    if round_ is not None and exported is not None and round_ != exported:
        raise click.BadParameter(f"{workbook} was exported for round {exported}, not {round_}",
                                 param_hint="--round")
    return round_ if round_ is not None else exported


def _report_import(result, dry_run: bool, quiet: bool) -> None:
    where = f" and round {result.round} in the database" if result.round is not None else ""
    if result.nothing_new:
        info(f"nothing new: all {result.decisions} decision(s) are already in the reviewed aliases (version "
             f"{result.overrides_version}){where}; nothing was changed", quiet)
        return
    unchanged = result.decisions - max(result.for_overrides, result.for_round)
    if dry_run:
        info(f"dry run: would store {result.for_overrides} reviewed alias(es)"
             + (f" and {result.for_round} decision(s) for round {result.round}" if result.round is not None else "")
             + f"; {unchanged} already imported; nothing written", quiet)
        return
    if result.for_overrides:
        info(f"{result.added} new and {result.updated} updated reviewed alias(es); overrides version "
             f"{result.overrides_version}", quiet)
    if result.round is not None:
        info(f"round {result.round}: {result.for_round} decision(s) stored in the database; "
             f"{result.matches_changed} stored title(s) recoded", quiet)
    if unchanged:
        info(f"{unchanged} decision(s) were already imported and are unchanged", quiet)
    if result.for_overrides:
        wrote(result.overrides_path, "reviewed aliases", quiet)
    wrote(result.log_path, "decision log", quiet)


def _login() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"
