"""Compare a score between groups (trainees / current / former; streams; regions) with scipy.

In: a DataFrame with a numeric value column and a group column. Out: a :class:`ComparisonResult` holding
a descriptive table per group (n, mean, sd, confidence interval), the test (Welch's t-test with Hedges' g
for two groups; one-way ANOVA with eta² and omega² for more, plus Welch pairwise tests with Holm
correction), and plain-language warnings when groups are too small to say anything. Never raises on small
or degenerate data: when no test can be run, the result says why.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import special, stats

from trust_survey.errors import NotFoundError, did_you_mean

#: A test needs at least this many responses in a group to estimate its spread.
TEST_MIN_N = 2


@dataclass(frozen=True)
class GroupStats:
    """Descriptive statistics of one group; sd and the interval are NaN below 2 responses."""

    group: str
    n: int
    mean: float
    sd: float
    se: float
    ci_low: float
    ci_high: float


@dataclass(frozen=True)
class TestResult:
    """The omnibus test: ``welch_t`` (two groups) or ``anova`` (three or more).

    For ``welch_t``, ``df1`` is the Welch-Satterthwaite degrees of freedom and ``df2`` is NaN;
    ``mean_difference`` and ``hedges_g`` are first group minus second. For ``anova``, ``df1``/``df2``
    are between/within degrees of freedom and ``eta_squared``/``omega_squared`` are the effect sizes
    (omega² is reported unclipped, so it can be slightly negative when there is no effect).
    """

    test: str
    groups: tuple[str, ...]
    statistic: float
    df1: float
    df2: float
    p_value: float
    significant: bool
    mean_difference: float = math.nan
    hedges_g: float = math.nan
    eta_squared: float = math.nan
    omega_squared: float = math.nan


@dataclass(frozen=True)
class PairwiseResult:
    """A Welch t-test between two groups, with its Holm-adjusted p-value across all pairs."""

    group_a: str
    group_b: str
    mean_difference: float
    statistic: float
    df: float
    p_value: float
    p_holm: float
    hedges_g: float
    significant: bool


def _clean(value: Any) -> Any:
    """JSON-friendly: numpy scalars to Python, NaN and infinities to None, tuples to lists."""
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return None if not math.isfinite(float(value)) else float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    return value


@dataclass
class ComparisonResult:
    """Everything a report needs to show one comparison of ``value`` between groups of ``group``."""

    value: str
    group: str
    min_n: int
    alpha: float
    ci_level: float
    groups: list[GroupStats]
    overall: GroupStats
    test: TestResult | None = None
    pairwise: list[PairwiseResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    no_test_reason: str | None = None

    def to_frame(self, include_all: bool = True) -> pd.DataFrame:
        """The descriptive table: one row per group (and an ``All`` row), with a ``below_min_n`` flag."""
        rows = [asdict(g) for g in self.groups] + ([asdict(self.overall)] if include_all else [])
        frame = pd.DataFrame(rows, columns=list(GroupStats.__dataclass_fields__))
        frame["below_min_n"] = frame["n"] < self.min_n
        if include_all:
            frame.loc[frame.index[-1], "below_min_n"] = False
        return frame

    def pairwise_frame(self) -> pd.DataFrame:
        """The pairwise Welch tests, one row per pair (empty unless three or more groups were tested)."""
        return pd.DataFrame([asdict(p) for p in self.pairwise], columns=list(PairwiseResult.__dataclass_fields__))

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (NaN becomes None)."""
        return _clean({
            "value": self.value, "group": self.group, "min_n": self.min_n, "alpha": self.alpha,
            "ci_level": self.ci_level, "groups": [asdict(g) for g in self.groups], "overall": asdict(self.overall),
            "test": asdict(self.test) if self.test else None, "pairwise": [asdict(p) for p in self.pairwise],
            "warnings": list(self.warnings), "notes": list(self.notes), "no_test_reason": self.no_test_reason,
            "summary": self.summary(),
        })

    def summary(self) -> str:
        """One sentence for a report: the test, its statistic and p-value, the effect size and the verdict."""
        if self.test is None:
            return f"No test was run: {self.no_test_reason}"
        t = self.test
        level = f"{self.alpha:.0%}".replace(".0%", "%")
        verdict = (f"a significant difference at the {level} level" if t.significant
                   else f"no significant difference at the {level} level")
        if t.test == "welch_t":
            return (f"Welch's t-test, {t.groups[0]} vs {t.groups[1]}: t({t.df1:.1f}) = {t.statistic:.2f}, "
                    f"p = {_p(t.p_value)}, Hedges' g = {t.hedges_g:.2f}: {verdict}.")
        return (f"One-way ANOVA across {', '.join(t.groups)}: F({t.df1:.0f}, {t.df2:.0f}) = {t.statistic:.2f}, "
                f"p = {_p(t.p_value)}, eta² = {t.eta_squared:.3f}, omega² = {t.omega_squared:.3f}: {verdict}.")


def _p(p: float) -> str:
    if not math.isfinite(p):
        return "n/a"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def describe(values: np.ndarray, group: str, ci_level: float = 0.95) -> GroupStats:
    """n, mean, sd, standard error and a t-based confidence interval for one group."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    if n == 0:
        return GroupStats(group, 0, math.nan, math.nan, math.nan, math.nan, math.nan)
    mean = float(values.mean())
    if n < 2:
        return GroupStats(group, n, mean, math.nan, math.nan, math.nan, math.nan)
    sd = float(values.std(ddof=1))
    se = sd / math.sqrt(n)
    half = float(stats.t.ppf(0.5 + ci_level / 2, n - 1)) * se
    return GroupStats(group, n, mean, sd, se, mean - half, mean + half)


def hedges_g(a: np.ndarray, b: np.ndarray) -> float:
    """Hedges' g for ``a`` minus ``b``: Cohen's d on the pooled sd, times the exact small-sample correction."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    n1, n2 = len(a), len(b)
    dof = n1 + n2 - 2
    if n1 < 2 or n2 < 2:
        return math.nan
    pooled = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / dof)
    if pooled == 0:
        return math.nan
    d = (a.mean() - b.mean()) / pooled
    correction = math.exp(special.gammaln(dof / 2) - special.gammaln((dof - 1) / 2)) / math.sqrt(dof / 2)
    return float(d * correction)


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest p times (m - i), made monotone and capped at 1.

    NaN p-values are carried through and do not count towards m.
    """
    p = np.asarray(p_values, dtype=float)
    out = np.full(len(p), np.nan)
    ok = np.flatnonzero(~np.isnan(p))
    m = len(ok)
    running = 0.0
    for rank, idx in enumerate(ok[np.argsort(p[ok], kind="stable")]):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out.tolist()


def _welch(a: np.ndarray, b: np.ndarray) -> tuple[float, float, float]:
    """Welch's t-test via scipy; (t, df, p), NaN where scipy cannot compute (both groups constant)."""
    if np.var(a) == 0 and np.var(b) == 0:
        return (math.nan, math.nan, math.nan)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        res = stats.ttest_ind(a, b, equal_var=False)
    return (float(res.statistic), float(getattr(res, "df", math.nan)), float(res.pvalue))


def _labels(series: pd.Series, order: Sequence[Any] | None) -> list[Any]:
    present = list(pd.unique(series.dropna()))
    if order is not None:
        return [g for g in order if g in present] + [g for g in present if g not in list(order)]
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [c for c in series.cat.categories if c in present]
    try:
        return sorted(present)
    except TypeError:
        return sorted(present, key=str)


def compare_groups(df: pd.DataFrame, value: str, group: str, min_n: int = 5, alpha: float = 0.05, *,
                   order: Sequence[Any] | None = None, ci_level: float = 0.95) -> ComparisonResult:
    """Compare ``df[value]`` between the groups of ``df[group]``.

    Rows without a value or a group are left out (counted in ``notes``). Every group is described; a
    group below ``min_n`` is named in ``warnings`` but still tested if it has at least 2 responses. With
    two testable groups: Welch's t-test (``scipy.stats.ttest_ind(equal_var=False)``) and Hedges' g. With
    more: one-way ANOVA (``scipy.stats.f_oneway``), eta² and omega², and Welch pairwise tests with Holm
    correction. Fewer than two testable groups, or no variation at all, gives no test and a reason.
    Groups appear in ``order`` if given, else category order for a categorical column, else sorted.
    """
    for name in (value, group):
        if name not in df.columns:
            raise NotFoundError(f"no column '{name}' to compare{did_you_mean(name, map(str, df.columns))} "
                                f"(columns: {', '.join(map(str, df.columns))})")
    values = pd.to_numeric(df[value], errors="coerce")
    keep = values.notna() & df[group].notna()
    result = ComparisonResult(value=value, group=group, min_n=min_n, alpha=alpha, ci_level=ci_level,
                              groups=[], overall=describe(values[keep].to_numpy(), "All", ci_level))
    if (~keep).sum():
        result.notes.append(f"{int((~keep).sum())} of {len(df)} rows have no {value} or no {group} "
                            "and are left out")
    data = {str(g): values[keep & (df[group] == g)].to_numpy(dtype=float) for g in _labels(df[group][keep], order)}
    result.groups = [describe(v, g, ci_level) for g, v in data.items()]

    for g, v in data.items():
        if len(v) < min_n:
            msg = f"{g}: n={len(v)} is below {min_n}; the comparison cannot say anything reliable about it"
            if len(v) < TEST_MIN_N:
                msg += f", and it is left out of the tests, which need at least {TEST_MIN_N} responses per group"
            result.warnings.append(msg)
        elif len(v) < TEST_MIN_N:
            result.warnings.append(f"{g}: n={len(v)} is left out of the tests, which need at least "
                                   f"{TEST_MIN_N} responses per group")
    testable = {g: v for g, v in data.items() if len(v) >= TEST_MIN_N}

    if not data:
        result.no_test_reason = f"no rows have both a {value} and a {group}"
        return result
    if len(testable) < 2:
        sizes = ", ".join(f"{g}: n={len(v)}" for g, v in data.items())
        result.no_test_reason = (f"a comparison needs at least two groups with {TEST_MIN_N} or more responses; "
                                 f"found {sizes}")
        return result
    pooled = np.concatenate(list(testable.values()))
    grand = pooled.mean()
    ss_total = float(((pooled - grand) ** 2).sum())
    ss_within = float(sum(((v - v.mean()) ** 2).sum() for v in testable.values()))
    if ss_total <= 1e-12:
        result.no_test_reason = (f"every {value} in the tested groups is the same ({grand:g}), "
                                 "so there is nothing to compare")
        return result
    if ss_within <= 1e-12:
        result.warnings.append(f"no variation within any group: every response in a group has the same {value}, "
                               "so the test statistic is infinite and the p-value means little")

    names = tuple(testable)
    if len(testable) == 2:
        a, b = testable[names[0]], testable[names[1]]
        t, dof, p = _welch(a, b)
        result.test = TestResult("welch_t", names, t, dof, math.nan, p, bool(p < alpha),
                                 mean_difference=float(a.mean() - b.mean()), hedges_g=hedges_g(a, b))
        return result

    k, n = len(testable), len(pooled)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f_stat, p = stats.f_oneway(*testable.values())
    ss_between = ss_total - ss_within
    ms_within = ss_within / (n - k)
    omega = (ss_between - (k - 1) * ms_within) / (ss_total + ms_within)
    result.test = TestResult("anova", names, float(f_stat), float(k - 1), float(n - k), float(p), bool(p < alpha),
                             eta_squared=ss_between / ss_total, omega_squared=float(omega))

    pairs = [(names[i], names[j]) for i in range(k) for j in range(i + 1, k)]
    raw = [_welch(testable[x], testable[y]) for x, y in pairs]
    adjusted = holm_adjust([r[2] for r in raw])
    for (x, y), (t, dof, p_raw), p_adj in zip(pairs, raw, adjusted):
        result.pairwise.append(PairwiseResult(
            x, y, float(testable[x].mean() - testable[y].mean()), t, dof, p_raw, p_adj,
            hedges_g(testable[x], testable[y]), bool(p_adj < alpha)))
    return result
