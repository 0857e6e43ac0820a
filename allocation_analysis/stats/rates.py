"""Comparison of a binary outcome's rate between two groups (docs/methods.md §2)."""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import pandas as pd
from scipy import special, stats

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import ResultSet, TestResult, package_results
from allocation_analysis.stats._validation import (
    check_alpha,
    check_binary,
    check_columns,
    check_option,
    resolve_groups,
)
from allocation_analysis.stats.power import underpowered_warning
from allocation_analysis.text import fmt_float

__all__ = ["compare_rates", "newcombe_interval", "wilson_interval"]

logger = logging.getLogger(__name__)

_METHODS = ("auto", "score", "fisher")


def wilson_interval(events: float, n: float, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    Parameters
    ----------
    events, n : float
        Number of events and of trials.
    alpha : float, default 0.05
        The interval has level ``1 - alpha``.

    Returns
    -------
    (float, float)
        Lower and upper bounds; ``(nan, nan)`` when ``n == 0``.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. *JASA*, 22(158), 209–212.
    """
    if n <= 0:
        return (math.nan, math.nan)
    z = float(special.ndtri(1 - alpha / 2))
    p = events / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def newcombe_interval(
    x_compared: float,
    n_compared: float,
    x_reference: float,
    n_reference: float,
    *,
    alpha: float = 0.05,
) -> tuple[float, float]:
    """Newcombe's hybrid score interval of a difference of proportions.

    Interval of :math:`p_c - p_r` built from the two Wilson intervals
    (Newcombe 1998, method 10).

    Returns
    -------
    (float, float)
        Lower and upper bounds; NaN when a group is empty.

    References
    ----------
    Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions: comparison of eleven methods. *Statistics in
    Medicine*, 17(8), 873–890.
    """
    if n_compared <= 0 or n_reference <= 0:
        return (math.nan, math.nan)
    p1, p2 = x_compared / n_compared, x_reference / n_reference
    l1, u1 = wilson_interval(x_compared, n_compared, alpha=alpha)
    l2, u2 = wilson_interval(x_reference, n_reference, alpha=alpha)
    d = p1 - p2
    return (
        d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2),
        d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2),
    )


def _pearson(table: np.ndarray) -> dict[str, float]:
    """Pearson chi-square of a 2x2 table, without and with Yates' correction (as R)."""
    total = table.sum()
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    if total == 0 or (rows == 0).any() or (cols == 0).any():
        nan = math.nan
        return {
            "chisq": nan,
            "p_value": nan,
            "chisq_corrected": nan,
            "p_value_corrected": nan,
            "min_expected": float(np.min(np.outer(rows, cols) / total)) if total else nan,
        }
    expected = np.outer(rows, cols) / total
    dev = np.abs(table - expected)
    chisq = float(np.sum(dev**2 / expected))
    yates = min(0.5, float(dev[0, 0]))
    chisq_c = float(np.sum((dev - yates) ** 2 / expected))
    return {
        "chisq": chisq,
        "p_value": float(special.chdtrc(1, chisq)),
        "chisq_corrected": chisq_c,
        "p_value_corrected": float(special.chdtrc(1, chisq_c)),
        "min_expected": float(expected.min()),
    }


def compare_counts(
    x_compared: float,
    n_compared: float,
    x_reference: float,
    n_reference: float,
    *,
    alpha: float = 0.05,
) -> dict[str, float]:
    """Difference of two independent proportions from their counts.

    The difference ``x_compared / n_compared - x_reference / n_reference``,
    Newcombe's hybrid score interval (:func:`newcombe_interval`) and the
    score test of equal proportions (Pearson chi-square without continuity
    correction, R ``prop.test(c(x1, x2), c(n1, n2), correct = FALSE)``), as
    :func:`compare_rates` gives them from individual rows.

    Parameters
    ----------
    x_compared, n_compared, x_reference, n_reference : float
        Events and totals of the two samples.
    alpha : float, default 0.05

    Returns
    -------
    dict
        ``difference``, ``ci_low``, ``ci_high``, ``statistic`` (chi-square,
        1 df), ``p_value``; NaN when a sample is empty.
    """
    alpha = check_alpha(alpha)
    if n_compared <= 0 or n_reference <= 0:
        nan = math.nan
        return dict(difference=nan, ci_low=nan, ci_high=nan, statistic=nan, p_value=nan)
    lo, hi = newcombe_interval(x_compared, n_compared, x_reference, n_reference, alpha=alpha)
    table = np.array(
        [[x_compared, n_compared - x_compared], [x_reference, n_reference - x_reference]],
        dtype=float,
    )
    chi = _pearson(table)
    return {
        "difference": x_compared / n_compared - x_reference / n_reference,
        "ci_low": lo,
        "ci_high": hi,
        "statistic": chi["chisq"],
        "p_value": chi["p_value"],
    }


def _ratio(x1: float, n1: float, x2: float, n2: float, alpha: float) -> dict[str, float]:
    """Rate ratio compared / reference with the log (Katz) interval."""
    if n1 == 0 or n2 == 0 or x2 == 0:
        return {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan}
    ratio = (x1 / n1) / (x2 / n2)
    if x1 == 0:
        return {"estimate": ratio, "ci_low": math.nan, "ci_high": math.nan}
    z = float(special.ndtri(1 - alpha / 2))
    se = math.sqrt(1 / x1 - 1 / n1 + 1 / x2 - 1 / n2)
    return {
        "estimate": ratio,
        "ci_low": ratio * math.exp(-z * se),
        "ci_high": ratio * math.exp(z * se),
    }


def _compare_pair(
    y: pd.Series,
    g: pd.Series,
    reference: str,
    compared: str,
    method: str,
    alpha: float,
    base_warnings: list[str],
) -> TestResult:
    warnings = list(base_warnings)
    counts = {}
    for level in (compared, reference):
        yy = y[g == level]
        counts[level] = (int(yy.size), int(yy.sum()))
    n1, x1 = counts[compared]
    n2, x2 = counts[reference]
    rows = []
    for level, (n, x) in ((reference, (n2, x2)), (compared, (n1, x1))):
        lo, hi = wilson_interval(x, n, alpha=alpha)
        rows.append(
            {
                "group": level,
                "n": n,
                "events": x,
                "rate": x / n if n else math.nan,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    rates = pd.DataFrame(rows).astype({"group": "string", "n": "int64", "events": "int64"})

    for level, n in ((reference, n2), (compared, n1)):
        if n == 0:
            warnings.append(
                f"Le groupe « {level} » est vide : taux, écart et test non définis "
                f"(group '{level}' is empty)."
            )
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]], dtype=float)
    pearson = _pearson(table)
    empty = n1 == 0 or n2 == 0
    if not empty and x1 + x2 == 0:
        warnings.append(
            "Aucun événement dans les deux groupes : le test du khi-deux n'est pas défini "
            "(zero events in both groups)."
        )
    elif not empty and x1 + x2 == n1 + n2:
        warnings.append(
            "Tous les individus ont connu l'événement : le test du khi-deux n'est pas défini "
            "(all observations are events)."
        )

    use_fisher = method == "fisher" or (
        method == "auto" and not empty and not (pearson["min_expected"] >= 5)
    )
    if empty:
        statistic = p_value = df = math.nan
        method_txt = "Comparaison de taux (non calculable : groupe vide)"
    elif use_fisher:
        p_value = float(stats.fisher_exact(table, alternative="two-sided")[1])
        statistic = df = math.nan
        method_txt = "Test exact de Fisher (bilatéral)"
        if method == "auto":
            method_txt += f" — effectif attendu minimal {fmt_float(pearson['min_expected'])} < 5"
    else:
        statistic, p_value, df = pearson["chisq"], pearson["p_value"], 1.0
        method_txt = "Test du score (khi-deux de Pearson sans correction de continuité)"

    if empty:
        diff = lo_d = hi_d = math.nan
    else:
        diff = x1 / n1 - x2 / n2
        lo_d, hi_d = newcombe_interval(x1, n1, x2, n2, alpha=alpha)
    ratio = _ratio(x1, n1, x2, n2, alpha)
    if not empty and math.isnan(ratio["estimate"]):
        warnings.append(
            f"Rapport de taux non défini : aucun événement dans le groupe de référence "
            f"« {reference} » (rate ratio undefined: zero events in the reference group)."
        )
    if not empty:
        msg = underpowered_warning(n2, n1, x2 / n2, alpha=0.05)
        if msg:
            warnings.append(msg)

    details: dict[str, Any] = {
        "rates": rates,
        "rate_ratio": ratio,
        "chisq": pearson["chisq"],
        "p_value_chisq": pearson["p_value"],
        "chisq_corrected": pearson["chisq_corrected"],
        "p_value_chisq_corrected": pearson["p_value_corrected"],
        "min_expected": pearson["min_expected"],
        "table": table,
        "difference_ci_method": "Newcombe (Wilson hybride)",
    }
    return TestResult(
        name="compare_rates",
        method=method_txt,
        statistic=statistic,
        df=df,
        p_value=p_value,
        estimate=diff,
        estimate_name="rate_difference",
        ci_low=lo_d,
        ci_high=hi_d,
        n=n1 + n2,
        groups=(reference, compared),
        warnings=tuple(warnings),
        details=details,
        alpha=alpha,
    )


def compare_rates(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: Any,
    compared: Any = None,
    method: str = "auto",
    alpha: float = 0.05,
) -> TestResult | ResultSet:
    """Compare the rate of a binary outcome between a group and a reference.

    Per-group rates with Wilson intervals; difference ``compared −
    reference`` with Newcombe's hybrid score interval; ratio with a log
    interval; Pearson's chi-square (score) test, or Fisher's exact test.

    Parameters
    ----------
    df : DataFrame
        One row per individual.
    outcome : str
        Binary column (bool, 0/1 …); rows where it is missing are ignored.
    group : str
        Column of the groups; rows where it is missing are ignored.
    reference : scalar
        Reference level of ``group``.
    compared : scalar, optional
        Compared level. ``None``: every other level, returned as a
        :class:`ResultSet` (even when the data hold a single other level).
    method : {"auto", "score", "fisher"}, default "auto"
        ``"score"``: Pearson chi-square without continuity correction (equal
        to R ``prop.test(correct = FALSE)``); ``"fisher"``: Fisher's exact
        test, two-sided as in R ``fisher.test``; ``"auto"``: Fisher when an
        expected cell is below 5, score test otherwise.
    alpha : float, default 0.05
        Intervals have level ``1 - alpha``.

    Returns
    -------
    TestResult or ResultSet
        ``estimate`` = rate difference (``"rate_difference"``) with its
        Newcombe interval; ``details`` holds ``rates`` (DataFrame with
        ``group, n, events, rate, ci_low, ci_high``), ``rate_ratio`` (dict
        ``estimate, ci_low, ci_high``), ``chisq``/``p_value_chisq``,
        ``chisq_corrected``/``p_value_chisq_corrected`` (Yates, as R's
        default ``prop.test``), ``min_expected`` and the 2×2 ``table`` (rows
        compared, reference; columns event, no event). The warning
        « Puissance insuffisante » is added when the minimum detectable
        difference at the observed group sizes (two-sided, 5 %, power 80 %)
        exceeds 10 percentage points (see :mod:`allocation_analysis.stats.power`).

    Raises
    ------
    ValueError
        Unknown column, ``reference``/``compared`` not a level of ``group``,
        non-binary outcome, unknown ``method``, or no level to compare.

    References
    ----------
    Wilson, E. B. (1927). Probable inference, the law of succession, and
    statistical inference. *JASA*, 22(158), 209–212.

    Newcombe, R. G. (1998). Interval estimation for the difference between
    independent proportions: comparison of eleven methods. *Statistics in
    Medicine*, 17(8), 873–890.

    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §3.5
    (Fisher's exact test) and §3.2 (Pearson's chi-square).
    """
    check_columns(df, outcome=outcome, group=group)
    check_option("method", method, _METHODS)
    alpha = check_alpha(alpha)
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    if not levels:
        raise ArgumentError(
            f"La colonne {group!r} n'a pas d'autre modalité que la référence {reference!r} : "
            "rien à comparer."
        )
    y = check_binary(df, outcome, name="outcome")
    g = df[group].astype("string")
    keep = y.notna() & g.notna()
    base_warnings = []
    n_drop = int((~keep).sum())
    if n_drop:
        base_warnings.append(
            f"{n_drop} ligne(s) ignorée(s) car `{outcome}` ou `{group}` est manquant "
            f"({n_drop} row(s) with a missing value ignored)."
        )
    y, g = y[keep], g[keep]
    results = [
        _compare_pair(y, g, str(reference), lv, method, alpha, base_warnings) for lv in levels
    ]
    return package_results(results, compared)
