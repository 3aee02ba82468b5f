"""Measure coded titles against labels, compare two coders, and calibrate the decision thresholds.

Definitions used throughout (and by ``trust-survey match evaluate``):

- **per-stream precision, recall, F1** and **macro-F1** over the four classes (genomics, health_informatics,
  physical_sciences, none), on the stream the matcher suggests for every row, including rows it sends to
  review;
- **automatic** rows are those decided without a person: decision ``auto`` or ``none``;
  **auto share** is their share of all rows, **auto precision** the share of them whose stream is right;
- **relevant auto-correct** is the share of rows *labelled* with a stream (not none) that were coded
  ``auto`` to that stream: the work a person no longer has to do;
- Cohen's kappa between two coders: ``(p_o - p_e) / (1 - p_e)``.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from trust_survey.matching.taxonomy import ALL_STREAMS, NONE, ThresholdsModel

CLASSES = list(ALL_STREAMS)


@dataclass
class Evaluation:
    """Metrics of one coded set against its labels."""

    n: int
    per_stream: pd.DataFrame          # stream, precision, recall, f1, support, predicted
    macro_f1: float
    auto_share: float
    auto_precision: float
    relevant_auto_correct: float
    review_share: float
    confusion: pd.DataFrame           # rows: label, columns: predicted stream
    decisions: dict[str, int] = field(default_factory=dict)

    def summary(self) -> dict[str, float]:
        return {"n": self.n, "macro_f1": round(self.macro_f1, 4), "auto_share": round(self.auto_share, 4),
                "auto_precision": round(self.auto_precision, 4),
                "relevant_auto_correct": round(self.relevant_auto_correct, 4),
                "review_share": round(self.review_share, 4)}

    def report(self) -> str:
        """A plain-text report: per-stream table, headline figures, confusion matrix."""
        lines = [f"{'stream':<20} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8} {'predicted':>9}"]
        for r in self.per_stream.itertuples():
            lines.append(f"{r.stream:<20} {r.precision:>9.3f} {r.recall:>7.3f} {r.f1:>6.3f} {r.support:>8d} "
                         f"{r.predicted:>9d}")
        lines += ["",
                  f"macro-F1                          {self.macro_f1:.3f}",
                  f"decided automatically (auto+none) {self.auto_share:.3f}  "
                  f"({self.decisions.get('auto', 0)} auto, {self.decisions.get('none', 0)} none, "
                  f"{self.decisions.get('review', 0)} review)",
                  f"precision of automatic decisions  {self.auto_precision:.3f}",
                  f"relevant titles coded auto+right  {self.relevant_auto_correct:.3f}",
                  "", "confusion (rows: label, columns: predicted stream)"]
        width = max(len(c) for c in CLASSES) + 1
        lines.append(" " * width + " ".join(f"{c[:12]:>12}" for c in self.confusion.columns))
        for label, row in self.confusion.iterrows():
            lines.append(f"{label:<{width}}" + " ".join(f"{int(v):>12d}" for v in row))
        return "\n".join(lines)


def _prf(labels: np.ndarray, predicted: np.ndarray, cls: str) -> tuple[float, float, float, int, int]:
    tp = int(((predicted == cls) & (labels == cls)).sum())
    n_pred = int((predicted == cls).sum())
    n_true = int((labels == cls).sum())
    precision = tp / n_pred if n_pred else 0.0
    recall = tp / n_true if n_true else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1, n_true, n_pred


def evaluate(labels: Sequence[str], predicted: Sequence[str], decisions: Sequence[str]) -> Evaluation:
    """Compare predicted streams (and the matcher's decisions) with labelled streams, row by row."""
    labels = np.asarray([str(v) for v in labels], dtype=object)
    predicted = np.asarray([str(v) for v in predicted], dtype=object)
    decisions = np.asarray([str(v) for v in decisions], dtype=object)
    if not (len(labels) == len(predicted) == len(decisions)):
        raise ValueError("labels, predictions and decisions differ in length")
    n = len(labels)
    rows = []
    for cls in CLASSES:
        p, r, f, support, n_pred = _prf(labels, predicted, cls)
        rows.append({"stream": cls, "precision": p, "recall": r, "f1": f, "support": support,
                     "predicted": n_pred})
    per_stream = pd.DataFrame(rows)
    automatic = decisions != "review"
    relevant = labels != NONE
    correct = labels == predicted
    confusion = pd.crosstab(pd.Categorical(labels, categories=CLASSES),
                            pd.Categorical(predicted, categories=CLASSES), dropna=False)
    confusion.index.name, confusion.columns.name = "label", "predicted"
    return Evaluation(
        n=n, per_stream=per_stream, macro_f1=float(per_stream["f1"].mean()) if n else 0.0,
        auto_share=float(automatic.mean()) if n else 0.0,
        auto_precision=float(correct[automatic].mean()) if automatic.any() else 0.0,
        relevant_auto_correct=float((correct & (decisions == "auto") & relevant).sum() / relevant.sum())
        if relevant.any() else 0.0,
        review_share=float((~automatic).mean()) if n else 0.0, confusion=confusion,
        decisions={d: int((decisions == d).sum()) for d in ("auto", "review", "none")})


def cohen_kappa(a: Iterable, b: Iterable) -> float:
    """Cohen's kappa of two codings of the same items; NaN when chance agreement is total."""
    a, b = list(a), list(b)
    if len(a) != len(b):
        raise ValueError(f"{len(a)} codes against {len(b)}")
    n = len(a)
    if n == 0:
        return float("nan")
    observed = sum(x == y for x, y in zip(a, b)) / n
    categories = set(a) | set(b)
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in categories)
    if expected >= 1.0:
        return float("nan")
    return (observed - expected) / (1 - expected)


@dataclass
class Agreement:
    n: int
    observed: float
    expected: float
    kappa: float
    confusion: pd.DataFrame

    def report(self, name_a: str = "A", name_b: str = "B") -> str:
        kappa = ("undefined (both coders used a single category)" if np.isnan(self.kappa)
                 else f"{self.kappa:.3f}")
        lines = [f"items compared      {self.n}", f"observed agreement  {self.observed:.3f}",
                 f"chance agreement    {self.expected:.3f}", f"Cohen's kappa       {kappa}", "",
                 f"confusion (rows: {name_a}, columns: {name_b})"]
        width = max([len(str(c)) for c in self.confusion.index] + [6]) + 1
        lines.append(" " * width + " ".join(f"{str(c)[:12]:>12}" for c in self.confusion.columns))
        for label, row in self.confusion.iterrows():
            lines.append(f"{str(label):<{width}}" + " ".join(f"{int(v):>12d}" for v in row))
        return "\n".join(lines)


def agreement(a: Sequence, b: Sequence) -> Agreement:
    """Observed and chance agreement, kappa and the cross-table of two coders."""
    a, b = [str(x) for x in a], [str(x) for x in b]
    n = len(a)
    kappa = cohen_kappa(a, b)
    observed = sum(x == y for x, y in zip(a, b)) / n if n else float("nan")
    cats = sorted(set(a) | set(b), key=lambda c: (CLASSES.index(c) if c in CLASSES else len(CLASSES), c))
    expected = sum((a.count(c) / n) * (b.count(c) / n) for c in cats) if n else float("nan")
    confusion = pd.crosstab(pd.Categorical(a, categories=cats), pd.Categorical(b, categories=cats),
                            dropna=False)
    return Agreement(n, observed, expected, kappa, confusion)


@dataclass
class Calibration:
    thresholds: ThresholdsModel
    evaluation: Evaluation
    candidates: int
    note: str


def calibrate(diag: pd.DataFrame, labels: Sequence[str], current: ThresholdsModel, *,
              min_auto_precision: float = 0.99, coverage_slack: float = 0.03) -> Calibration:
    """Grid-search the four thresholds on a labelled, coded set (``diagnostics=True``).

    Keeps the settings whose automatic decisions reach ``min_auto_precision`` and whose share of relevant
    titles coded automatically and correctly is within ``coverage_slack`` of the best: the safe plateau.
    Then takes the centre of that plateau (the median of each threshold over it) and the plateau member
    nearest to that centre. A labelled set written to tune the taxonomy is close to separable, so the
    plateau is wide and its edges move with every small change; its centre does not, and sits away from
    both failure modes (thin margins coded automatically; doubt coded none).
    """
    labels = np.asarray([str(v) for v in labels], dtype=object)
    score = diag["_score"].to_numpy(float)
    margin = diag["_margin"].to_numpy(float)
    stream = diag["_stream"].to_numpy(object)
    ambiguous = diag["_ambiguous"].to_numpy(bool)
    best_rel = diag["_best_relevant"].to_numpy(float)
    fixed = ((diag["method"] == "alias") & (diag["score"] == 100) & (diag["margin"] == 100)
             & (diag["decision"] == "auto")).to_numpy()
    fixed_stream = diag["stream"].to_numpy(object)
    relevant = labels != NONE

    def run(auto_score, auto_margin, review_score, none_below):
        below = score < review_score
        auto = (~below) & (~ambiguous) & (((score >= auto_score) & (margin >= auto_margin))
                                          | ((stream == NONE) & (best_rel < none_below)))
        dec = np.where(below, "none", np.where(auto, "auto", "review"))
        pred = np.where(below, NONE, stream)
        dec = np.where(fixed, "auto", dec)
        pred = np.where(fixed, fixed_stream, pred)
        return pred, dec

    results = []
    grid = itertools.product(range(60, 100, 5), range(5, 40, 5), range(30, 60, 5), range(20, 65, 5))
    for auto_score, auto_margin, review_score, none_below in grid:
        if review_score > auto_score:
            continue
        pred, dec = run(auto_score, auto_margin, review_score, none_below)
        automatic = dec != "review"
        correct = pred == labels
        precision = correct[automatic].mean() if automatic.any() else 0.0
        coverage = (correct & (dec == "auto") & relevant).sum() / max(relevant.sum(), 1)
        results.append((auto_score, auto_margin, review_score, none_below, precision, coverage,
                        round(float(automatic.mean()), 2), int((automatic & ~correct).sum())))
    ok = [r for r in results if r[4] >= min_auto_precision]
    if not ok:
        ok = sorted(results, key=lambda r: -r[4])[:1]
    best_cov = max(r[5] for r in ok)
    plateau = [r for r in ok if r[5] >= best_cov - coverage_slack]
    centre = [float(np.median([r[k] for r in plateau])) for k in range(4)]
    steps = (5.0, 5.0, 5.0, 5.0)
    plateau.sort(key=lambda r: (sum(abs(r[k] - centre[k]) / steps[k] for k in range(4)), r[7], -r[0], -r[1]))
    a, m, rv, nb = plateau[0][:4]
    note = (f"calibrated on {len(labels)} labelled titles: the centre of the settings with auto precision >= "
            f"{min_auto_precision:.2f} and relevant coverage within {coverage_slack:.2f} of the best "
            f"({best_cov:.3f}); {len(plateau)} of {len(results)} settings qualified")
    th = ThresholdsModel(auto_score=a, auto_margin=m, review_score=rv, none_when_relevant_below=nb,
                         calibration=note)
    pred, dec = run(a, m, rv, nb)
    return Calibration(th, evaluate(labels, pred, dec), len(results), note)
