"""A learned stream classifier for job titles, trained on the taxonomy, labelled real titles and reviews.

The taxonomy's rules decide where they are explicit (exact, alias, abbreviation, reviewed alias, exclusion,
department veto); this model decides the rest (see :mod:`.matcher`). It is a scikit-learn pipeline:

- word 1-2-grams and character 2-5-grams (``char_wb``) of the normalised title, and words of the normalised
  department, each TF-IDF weighted;
- a logistic-loss linear classifier over the four streams (genomics, health_informatics, physical_sciences,
  none), fitted by stochastic gradient descent with a fixed seed: as accurate as an exact logistic
  regression on these titles and ten times quicker to train, so first use takes seconds.

What it learns from (:func:`training_rows`), later sources winning for the same title and department:

1. every role name, alias and abbreviation of the taxonomy, labelled with its role's stream (roles whose
   specialism is not stated are labelled none, as the policy labels such a title without its department);
2. the labelled real-title corpus (``trust_survey/data/titles/corpus.csv``: title, department, stream,
   relation, source, split); rows whose split is a held-out one are never trained on;
3. the reviewed aliases (``role_overrides.yaml``) and every decision in the store's ``title_reviews``.

Training is deterministic (fixed seeds, one thread, rows in a canonical order), so the same rows and the
same library versions give a byte-identical model file; its ``training_sha256`` identifies the rows. The
auto / review / none probability thresholds are calibrated on cross-validated predictions, so each title
is judged by a model that never saw it (:func:`calibrate_thresholds`).

The shipped model is never committed: :func:`default_model` trains it from the repository's data on first
use and caches it in the user cache folder, keyed by the training-set hash and the scikit-learn version.
"""
from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from trust_survey.errors import DefinitionError, InputFileError, NotFoundError
from trust_survey.matching.decision import OVERRULE, model_decision
from trust_survey.matching.matcher import Matcher
from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, STREAMS, Taxonomy

log = logging.getLogger(__name__)

MODEL_FORMAT = 1
#: Split names in the corpus that are held out: never trained on.
HELD_OUT = frozenset({"holdout", "held_out", "held-out", "heldout", "test"})
RELATIONS = ("direct", "adjacent", "none")
#: How precise automatic model decisions must be on cross-validated predictions.
TARGET_PRECISION = 0.98
#: Labelled real titles (not the taxonomy's own) needed to calibrate on them and to overrule the rules.
MIN_REAL = 200
#: The least probability to decide alone for a model not checked on real titles.
UNCHECKED = 0.9
#: New reviewed decisions since the model was trained that make retraining worthwhile.
RETRAIN_AFTER = 20
_FOLDS = 5
_SEED = 2026
_CONFIG = {"word": [1, 2], "char_wb": [2, 5], "classifier": "sgd-log_loss", "alpha": 2e-5, "epochs": 30,
           "folds": _FOLDS, "seed": _SEED, "target_precision": TARGET_PRECISION, "overrule": OVERRULE,
           "min_real": MIN_REAL, "unchecked": UNCHECKED, "confirm": "rules-review-agreement", "min_confirm": 10,
           "rescue": "half-right-from-0.5",
           "taxonomy_rows": "ambiguous-as-none"}
#: Titles the rules sent to review with a suggestion the model agrees with, needed to calibrate on them.
MIN_CONFIRM = 10


class ModelError(DefinitionError):
    """A model file that cannot be used."""

    code = "MODEL001"


# ---------------------------------------------------------------------------------------------- rows
def corpus_path() -> Path:
    """The labelled real-title corpus shipped with the package."""
    from trust_survey import settings

    return settings.PACKAGE_DATA / "titles" / "corpus.csv"


def _training_rows(path: Path) -> pd.DataFrame:
    """The trainable rows of a labelled corpus CSV (title, department, stream[, relation, source, split]).

    Held-out rows are dropped. A row with an unknown stream, or a relation that contradicts its stream
    (``none`` is the relation of stream none and of nothing else), is an error naming the row.
    """
    from trust_survey.errors import did_you_mean
    from trust_survey.matching.files import read_table, require_columns

    df = read_table(path)
    require_columns(df, path, {"title": "title column", "stream": "stream column"})
    problems = []
    for i, rec in enumerate(df.to_dict("records")):
        stream = str(rec["stream"]).strip().lower()
        if stream not in ALL_STREAMS:
            problems.append(f"{path}: row {i + 2}, column 'stream': {rec['stream']!r} is not a stream"
                            f"{did_you_mean(stream, ALL_STREAMS)}")
            continue
        relation = str(rec.get("relation", "") or "").strip().lower()
        if relation and (relation not in RELATIONS or (relation == "none") != (stream == NONE)):
            problems.append(f"{path}: row {i + 2}, column 'relation': {rec.get('relation')!r} contradicts stream "
                            f"{stream!r} (stream none has relation none; other streams direct or adjacent)")
    if problems:
        raise InputFileError(f"{path}: {len(problems)} labelled row(s) cannot be trained on; fix them or "
                             "remove them", code="MODEL002", details=problems)
    split = df["split"].astype(str).str.strip().str.lower() if "split" in df.columns else ""
    keep = ~pd.Series(split, index=df.index).isin(HELD_OUT) if "split" in df.columns else slice(None)
    out = pd.DataFrame({"title": df["title"], "department": df.get("department", ""),
                        "stream": df["stream"].str.strip().str.lower()})[keep]
    out["source"] = "corpus"
    return out.reset_index(drop=True)


def _taxonomy_rows(taxonomy: Taxonomy) -> pd.DataFrame:
    # A role of unstated specialism ("Clinical Scientist", "Informatics Analyst") is labelled none, as the
    # policy labels such a title alone: the model learns that words naming no discipline are no evidence
    # of a stream (the department, when given, decides; see matcher._combine).
    rows = [(p.text, "", taxonomy.roles[p.role_id].stream, "taxonomy") for p in taxonomy.phrases]
    return pd.DataFrame(rows, columns=["title", "department", "stream", "source"])


def _context_text(taxonomy: Taxonomy, context: str | None) -> str:
    """A department standing for a reviewed decision's context ("genomics_laboratory" -> its first term)."""
    by_id = {dc.id: dc for dc in taxonomy.contexts}
    words = []
    for cid in str(context or "").split("+"):
        dc = by_id.get(cid.strip())
        if dc is not None and dc.terms:
            words.append(" ".join(dc.terms[0]))
    return " ".join(words)


def _review_rows(taxonomy: Taxonomy, reviews: pd.DataFrame | None, source: str) -> pd.DataFrame:
    if reviews is None or reviews.empty:
        return pd.DataFrame(columns=["title", "department", "stream", "source"])
    streams = reviews["stream"].astype(str).str.strip().str.lower()
    keep = streams.isin(ALL_STREAMS)
    ctx = reviews["context"] if "context" in reviews.columns else pd.Series([None] * len(reviews))
    return pd.DataFrame({"title": reviews["alias"].astype(str)[keep].to_numpy(),
                         "department": [_context_text(taxonomy, c) for c in ctx[keep]],
                         "stream": streams[keep].to_numpy(), "source": source})


def stored_reviews(db: Path | None) -> pd.DataFrame:
    """Every decision in the store's ``title_reviews`` (all rounds, oldest first); empty without a store."""
    from trust_survey.matching.store import REVIEW_COLUMNS, REVIEW_TABLE, has_table
    from trust_survey.store import open_store

    if db is None or not Path(db).is_file():
        return pd.DataFrame(columns=REVIEW_COLUMNS)
    with open_store(Path(db), read_only=True) as con:
        if not has_table(con, REVIEW_TABLE):
            return pd.DataFrame(columns=REVIEW_COLUMNS)
        return con.execute(f"SELECT * FROM {REVIEW_TABLE} ORDER BY imported_at, decided_at, sheet_row").df()


def training_rows(taxonomy: Taxonomy, *, corpus: Path | None = None, overrides=None,
                  reviews: pd.DataFrame | None = None) -> pd.DataFrame:
    """The model's training set: columns title, department (normalised words), stream, source.

    One row per distinct (normalised title, department); a later source wins a conflict (taxonomy, then
    corpus, then reviewed aliases, then stored reviews, each oldest first). Rows are sorted, so the same
    inputs in any order give the same set.
    """
    corpus = corpus_path() if corpus is None else corpus
    parts = [_taxonomy_rows(taxonomy)]
    if corpus and Path(corpus).is_file():
        parts.append(_training_rows(Path(corpus)))
    if overrides is not None and overrides.entries:
        frame = pd.DataFrame([{"alias": e.alias, "context": e.context, "stream": e.stream}
                              for e in overrides.entries])
        parts.append(_review_rows(taxonomy, frame, "reviewed_alias"))
    parts.append(_review_rows(taxonomy, reviews, "review"))
    rows = pd.concat([p for p in parts if len(p)], ignore_index=True)
    rows["title"] = [" ".join(taxonomy.normalise(t)) for t in rows["title"]]
    rows["department"] = [" ".join(taxonomy.normalise(d)) for d in rows["department"].fillna("")]
    rows = rows[rows["title"] != ""]
    rows = rows.drop_duplicates(["title", "department"], keep="last")
    return rows.sort_values(["title", "department"], kind="stable").reset_index(drop=True)


def training_sha256(rows: pd.DataFrame) -> str:
    """Identifies a training set and the model settings: the same rows and settings, the same hash."""
    h = hashlib.sha256(json.dumps({"format": MODEL_FORMAT, "config": _CONFIG}, sort_keys=True).encode())
    for t, d, s in zip(rows["title"], rows["department"], rows["stream"]):
        h.update(f"{t}\t{d}\t{s}\n".encode())
    return h.hexdigest()


# ---------------------------------------------------------------------------------------------- model
_NO_DEPARTMENT = "nodepartment"   # a word of its own: no department is evidence too, and never an empty vocabulary


def _frame(titles, departments) -> pd.DataFrame:
    return pd.DataFrame({"title": list(titles), "department": [d or _NO_DEPARTMENT for d in departments]})


def _features():
    from sklearn.compose import ColumnTransformer
    from sklearn.feature_extraction.text import TfidfVectorizer

    return ColumnTransformer([
        ("word", TfidfVectorizer(ngram_range=tuple(_CONFIG["word"]), sublinear_tf=True, dtype=np.float32),
         "title"),
        ("char", TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(_CONFIG["char_wb"]), sublinear_tf=True,
                                 min_df=1, dtype=np.float32), "title"),
        ("dept", TfidfVectorizer(sublinear_tf=True, dtype=np.float32), "department"),
    ], n_jobs=1)


def _classifier():
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="log_loss", alpha=_CONFIG["alpha"], max_iter=_CONFIG["epochs"], tol=None,
                         class_weight="balanced", random_state=_SEED, n_jobs=1)


@dataclass
class TitleModel:
    """A trained pipeline and what it was trained on, with its calibrated thresholds."""

    pipeline: object
    training_sha256: str
    n_rows: int
    sources: dict[str, int]
    sklearn_version: str
    thresholds: dict[str, float]
    cv: dict[str, float]
    taxonomy_sha256: str = ""
    n_reviews: int = 0
    path: Path | None = field(default=None, compare=False)

    @property
    def version(self) -> str:
        return f"{MODEL_FORMAT}.{self.training_sha256[:12]}"

    @property
    def method(self) -> str:
        return f"model:{self.version}"

    def predict(self, titles: list[str], departments: list[str]) -> np.ndarray:
        """Probabilities (rows x :data:`ALL_STREAMS`) for normalised titles and departments."""
        if not titles:
            return np.zeros((0, len(ALL_STREAMS)), dtype=np.float32)
        frame = _frame(titles, departments)
        proba = self.pipeline.predict_proba(frame)
        out = np.zeros((len(titles), len(ALL_STREAMS)), dtype=np.float32)
        for j, cls in enumerate(self.pipeline.classes_):
            out[:, ALL_STREAMS.index(cls)] = proba[:, j]
        return out

    def meta(self) -> dict:
        return {"format": MODEL_FORMAT, "version": self.version, "training_sha256": self.training_sha256,
                "n_rows": self.n_rows, "sources": self.sources, "sklearn_version": self.sklearn_version,
                "thresholds": self.thresholds, "cv": self.cv, "taxonomy_sha256": self.taxonomy_sha256,
                "n_reviews": self.n_reviews}


def _single_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:   # pragma: no cover - scikit-learn depends on threadpoolctl
        import contextlib
        return contextlib.nullcontext()
    return threadpool_limits(1)


def calibrate_thresholds(proba: np.ndarray, labels: np.ndarray, target: float = TARGET_PRECISION) -> dict:
    """The lowest probabilities at which automatic decisions keep ``target`` precision, from held-out
    predictions: ``auto`` for a stream, ``none`` for coding none automatically; below ``review`` for every
    stream a title is coded none (nothing relevant is likely enough to be worth a reviewer's time)."""
    top = proba.argmax(axis=1)
    p_top = proba[np.arange(len(proba)), top]
    right = np.array(ALL_STREAMS)[top] == labels
    none_i = ALL_STREAMS.index(NONE)
    out = {}
    for name, mask in (("auto", top != none_i), ("none", top == none_i)):
        chosen = 0.99
        for t in np.round(np.arange(0.99, 0.34, -0.01), 2):
            sel = mask & (p_top >= t)
            if sel.sum() and right[sel].mean() < target:
                break
            chosen = float(t)
        out[name] = chosen
    relevant = np.isin(labels, STREAMS)
    if relevant.any():
        rel_idx = [ALL_STREAMS.index(s) for s in STREAMS]
        p_rel = proba[relevant][:, rel_idx].max(axis=1)
        out["review"] = float(np.clip(np.quantile(p_rel, 0.02), 0.05, 0.3))
    else:
        out["review"] = 0.3
    return {k: round(v, 2) for k, v in out.items()}


def calibrate_confirm(proba: np.ndarray, labels: np.ndarray, decisions: np.ndarray, suggested: np.ndarray,
                      fallback: float, target: float = TARGET_PRECISION) -> float:
    """The lowest probability at which the model, agreeing with the stream the rules suggested for a title
    they sent to review, codes it automatically and stays ``target`` precise, from held-out predictions.
    Two opinions that agree are stronger than one, so this may be lower than ``auto`` (never higher);
    with fewer than :data:`MIN_CONFIRM` such titles it is ``fallback``."""
    top = np.array(ALL_STREAMS)[proba.argmax(axis=1)]
    p_top = proba.max(axis=1)
    agree = (decisions == "review") & np.isin(suggested, STREAMS) & (top == suggested)
    if agree.sum() < MIN_CONFIRM:
        return round(float(fallback), 2)
    right = top == labels
    chosen = 0.99
    for t in np.round(np.arange(0.99, 0.49, -0.01), 2):
        sel = agree & (p_top >= t)
        if sel.sum() and right[sel].mean() < target:
            break
        chosen = float(t)
    return round(min(chosen, float(fallback)), 2)


def calibrate_rescue(proba: np.ndarray, labels: np.ndarray, decisions: np.ndarray, fallback: float) -> float:
    """The lowest probability (from 0.5) of a stream at which the model sends a title the rules coded none to
    review, from held-out predictions: where at least half of such titles are of that stream, so a
    reviewer's suggestion is more often right than wrong. With fewer than :data:`MIN_CONFIRM` such titles,
    or none that qualifies, it is ``fallback`` (the model then only codes a title the rules found nothing in
    when it is sure enough to overrule them)."""
    top = np.array(ALL_STREAMS)[proba.argmax(axis=1)]
    p_top = proba.max(axis=1)
    rescued = (decisions == "none") & np.isin(top, STREAMS)
    if rescued.sum() < MIN_CONFIRM:
        return round(float(fallback), 2)
    right = top == labels
    for t in np.round(np.arange(0.5, float(fallback), 0.01), 2):
        sel = rescued & (p_top >= t)
        if sel.sum() >= MIN_CONFIRM and right[sel].mean() >= 0.5:
            return float(t)
    return round(float(fallback), 2)


def rules_suggestions(taxonomy: Taxonomy, rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """The rules' decision and suggested stream for each training row (the stream of their best candidate
    when it names a specialism, else none), as :meth:`.matcher.Matcher._combine` weighs them."""
    coded = Matcher(taxonomy).code(rows["title"], rows["department"].replace("", None), diagnostics=True)
    decisions = coded["decision"].to_numpy(dtype=object)
    suggested = np.where((decisions != "none") & ~coded["_ambiguous"].to_numpy(bool),
                         coded["_stream"].to_numpy(dtype=object), NONE)
    return decisions, suggested


def figures(proba: np.ndarray, labels: np.ndarray, thresholds: dict) -> dict:
    """Cross-validated figures of the model alone: macro-F1, automatic precision, share decided."""
    from trust_survey.matching.evaluate import evaluate

    streams = np.array(ALL_STREAMS)[proba.argmax(axis=1)]
    decisions = [model_decision(p, thresholds) for p in proba]
    ev = evaluate(pd.Series(labels), pd.Series(streams), pd.Series(decisions)).summary()
    return {k: round(float(v), 4) for k, v in ev.items() if isinstance(v, (int, float))}


def train(rows: pd.DataFrame, *, taxonomy_sha256: str = "", n_reviews: int = 0,
          taxonomy: Taxonomy | None = None) -> TitleModel:
    """Fit the pipeline on ``rows`` (from :func:`training_rows`) and calibrate its thresholds on
    cross-validated predictions, one thread, fixed seeds. With the ``taxonomy`` its rules code the rows too,
    to calibrate ``confirm`` (:func:`calibrate_confirm`); without it ``confirm`` is ``auto``."""
    import sklearn
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    if rows["stream"].nunique() < 2:
        raise DefinitionError("the training set has fewer than two streams; nothing to learn", code="MODEL003")
    X = _frame(rows["title"], rows["department"])
    y = rows["stream"].to_numpy()
    with _single_thread():
        features = _features()
        F = features.fit_transform(X)
        counts = pd.Series(y).value_counts()
        folds = int(min(_FOLDS, counts.min())) if counts.min() >= 2 else 0
        if folds >= 2:
            # The n-gram vocabulary is built once on all rows; a fold's classifier learns no weight for an
            # n-gram only its held-out titles have, so their predictions are still out-of-sample.
            cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=_SEED)
            raw = cross_val_predict(_classifier(), F, y, cv=cv, method="predict_proba", n_jobs=1)
            classes = sorted(set(y))
            proba = np.zeros((len(y), len(ALL_STREAMS)), dtype=np.float64)
            for j, cls in enumerate(classes):
                proba[:, ALL_STREAMS.index(cls)] = raw[:, j]
            # Calibrate on titles as people write them (not the taxonomy's own names) when there are enough.
            real = (rows["source"] != "taxonomy").to_numpy()
            sel = real if real.sum() >= MIN_REAL else np.ones(len(y), dtype=bool)
            thresholds = calibrate_thresholds(proba[sel], y[sel])
            # Only a model checked on titles as people write them may overrule the rules' scored matching;
            # one that has seen nothing but the taxonomy's own words only decides where the rules did not.
            thresholds["overrule"] = max(OVERRULE, thresholds["auto"]) if real.sum() >= MIN_REAL else 1.01
            if real.sum() < MIN_REAL:
                # calibrated on the taxonomy's own words, which are easy: ask for more before deciding alone
                thresholds["auto"] = max(thresholds["auto"], UNCHECKED)
                thresholds["none"] = max(thresholds["none"], UNCHECKED)
            thresholds["confirm"] = thresholds["auto"]
            thresholds["rescue"] = thresholds["overrule"]
            if taxonomy is not None and real.sum() >= MIN_REAL:
                decisions, suggested = rules_suggestions(taxonomy, rows)
                thresholds["confirm"] = calibrate_confirm(proba[sel], y[sel], decisions[sel], suggested[sel],
                                                          thresholds["auto"])
                thresholds["rescue"] = calibrate_rescue(proba[sel], y[sel], decisions[sel], thresholds["overrule"])
            cv_figures = figures(proba[sel], y[sel], thresholds)
            cv_figures["rows"] = int(sel.sum())
        else:
            thresholds, cv_figures = {"auto": 0.99, "none": 0.99, "review": 0.3, "overrule": 1.01,
                                      "confirm": 0.99, "rescue": 1.01}, {}
        from sklearn.pipeline import Pipeline

        pipeline = Pipeline([("features", features), ("clf", _classifier().fit(F, y))])
    sources = {str(k): int(v) for k, v in sorted(rows["source"].value_counts().items())}
    return TitleModel(pipeline=pipeline, training_sha256=training_sha256(rows), n_rows=len(rows),
                      sources=sources, sklearn_version=sklearn.__version__, thresholds=thresholds,
                      cv=cv_figures, taxonomy_sha256=taxonomy_sha256, n_reviews=n_reviews)


# ---------------------------------------------------------------------------------------------- files
def model_bytes(model: TitleModel) -> bytes:
    """The model file's content: a pickle of the metadata and the fitted pipeline (deterministic)."""
    import pickle

    # A vectoriser remembers the memory address of its stop-word list as a cache key; it differs from run to
    # run and would make two identical models differ by a few bytes. Without it the check simply reruns.
    for _, transformer, _ in getattr(model.pipeline.named_steps["features"], "transformers_", []):
        if hasattr(transformer, "_stop_words_id"):
            del transformer._stop_words_id
    buf = io.BytesIO()
    pickle.dump({"meta": model.meta(), "pipeline": model.pipeline}, buf, protocol=4)
    return buf.getvalue()


def save_model(model: TitleModel, path: Path) -> Path:
    """Write the model atomically (a temporary file renamed)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(model_bytes(model))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    model.path = path
    return path


def load_model(path: Path) -> TitleModel:
    """A model written by :func:`save_model`. Only load model files you made: a pickle can run code."""
    import pickle
    import warnings

    import sklearn

    path = Path(path)
    if not path.is_file():
        raise NotFoundError(f"{path}: no model file; make one with `trust-survey match train --out {path}`")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            data = pickle.loads(path.read_bytes())
        meta, pipeline = data["meta"], data["pipeline"]
    except Exception as exc:  # noqa: BLE001 - any unreadable file gets the same advice
        raise ModelError(f"{path}: not a trust-survey title model ({type(exc).__name__}); rebuild it with "
                         f"`trust-survey match train --out {path}`") from None
    if meta.get("format") != MODEL_FORMAT or meta.get("sklearn_version") != sklearn.__version__:
        raise ModelError(f"{path}: made with model format {meta.get('format')} and scikit-learn "
                         f"{meta.get('sklearn_version')}; this is format {MODEL_FORMAT} with scikit-learn "
                         f"{sklearn.__version__}; rebuild it with `trust-survey match train --out {path}`")
    return TitleModel(pipeline=pipeline, training_sha256=meta["training_sha256"], n_rows=meta["n_rows"],
                      sources=meta["sources"], sklearn_version=meta["sklearn_version"],
                      thresholds=meta["thresholds"], cv=meta["cv"], taxonomy_sha256=meta.get("taxonomy_sha256", ""),
                      n_reviews=meta.get("n_reviews", 0), path=path)


def cache_dir() -> Path:
    """Where the shipped model is cached: $TRUST_SURVEY_CACHE, else the user's cache folder."""
    env = os.environ.get("TRUST_SURVEY_CACHE", "").strip()
    if env:
        return Path(env).expanduser()
    if os.name == "nt":
        base = Path(os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local")
        return base / "trust-survey" / "Cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trust-survey"


_LOADED: dict[tuple, TitleModel] = {}


def default_model(taxonomy: Taxonomy, overrides=None) -> TitleModel:
    """The model trained from the repository's data (taxonomy, corpus, reviewed aliases), from the cache,
    training it (a few seconds) and caching it on first use."""
    import sklearn

    rows = training_rows(taxonomy, overrides=overrides)
    digest = training_sha256(rows)
    key = (digest, sklearn.__version__)
    if key in _LOADED:
        return _LOADED[key]
    path = cache_dir() / f"title_model-{digest[:16]}-sklearn{sklearn.__version__}.pkl"
    model = None
    if path.is_file():
        try:
            model = load_model(path)
        except (ModelError, NotFoundError):
            model = None
    if model is None:
        log.info("training the title model on %d rows (first use; cached in %s)", len(rows), path)
        model = train(rows, taxonomy_sha256=taxonomy.sha256, taxonomy=taxonomy)
        try:
            save_model(model, path)
        except OSError as exc:   # a read-only home: use it without caching
            log.warning("could not cache the title model in %s: %s", path, exc)
    _LOADED[key] = model
    return model


def resolve_model(path: Path | None, taxonomy: Taxonomy, overrides=None) -> TitleModel:
    """The model to code with: ``path`` (``--model``), else $TRUST_SURVEY_MODEL, else ``title_model.pkl``
    beside the taxonomy (what ``match train`` writes), else the shipped model (:func:`default_model`)."""
    from trust_survey import settings

    chosen = path or settings.model_path()
    if chosen is not None:
        return load_model(chosen)
    beside = default_model_path(taxonomy)
    if beside.is_file():
        return load_model(beside)
    return default_model(taxonomy, overrides)


def default_model_path(taxonomy: Taxonomy) -> Path:
    """Where ``match train`` writes the current model by default: beside the taxonomy."""
    return Path(taxonomy.path).parent / "title_model.pkl"
