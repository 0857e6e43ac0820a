"""Adjustment of p-values for multiple testing, and intervals consistent with it.

- :func:`adjust_pvalues`: Benjamini–Hochberg and Holm adjusted p-values.
- :func:`fcr_adjusted_level`: the confidence level of the false coverage-rate
  (FCR) adjusted intervals of Benjamini and Yekutieli (2005) after a
  Benjamini–Hochberg selection.
- :func:`wald_interval_at_level`: a Wald interval recomputed at another level
  from its bounds (no refit).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import pandas as pd
from scipy import stats as sps

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._validation import check_alpha, check_option

__all__ = ["adjust_pvalues", "fcr_adjusted_level", "wald_interval_at_level"]

logger = logging.getLogger(__name__)

P = TypeVar("P", list, np.ndarray, pd.Series)

_METHODS = ("fdr_bh", "holm")


def _adjust(p: np.ndarray, method: str) -> np.ndarray:
    """Adjust a 1-D array without NaN (R ``p.adjust`` algorithms)."""
    m = p.size
    if m == 0:
        return p.copy()
    order = np.argsort(p, kind="mergesort")
    ranks = np.arange(1, m + 1)
    sorted_p = p[order]
    if method == "holm":
        adj = np.maximum.accumulate((m + 1 - ranks) * sorted_p)
    else:  # fdr_bh: cumulative minimum from the largest p-value down
        adj = np.minimum.accumulate((m / ranks * sorted_p)[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(adj, 1.0)
    return out


def adjust_pvalues(p: Sequence[float] | np.ndarray | pd.Series, *, method: str = "fdr_bh"):
    """Adjust p-values for multiple comparisons.

    Missing p-values (NaN or None) stay missing and the others are adjusted
    over the number of non-missing values, as R's ``p.adjust`` does.

    Parameters
    ----------
    p : list, ndarray or Series of float
        The raw p-values.
    method : {"fdr_bh", "holm"}, default "fdr_bh"
        ``"fdr_bh"``: Benjamini–Hochberg step-up adjustment, controlling the
        false discovery rate. ``"holm"``: Holm step-down adjustment,
        controlling the family-wise error rate.

    Returns
    -------
    list, ndarray or Series
        The adjusted p-values, of the same kind as ``p`` (a Series keeps its
        index and name; a list comes back as a list of float).

    Raises
    ------
    ValueError
        When ``method`` is unknown or a p-value lies outside [0, 1].

    References
    ----------
    Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery
    rate: a practical and powerful approach to multiple testing. *Journal of
    the Royal Statistical Society B*, 57(1), 289–300.

    Holm, S. (1979). A simple sequentially rejective multiple test procedure.
    *Scandinavian Journal of Statistics*, 6(2), 65–70.

    Examples
    --------
    >>> adjust_pvalues([0.01, float("nan"), 0.04, 0.03])
    [0.03, nan, 0.04, 0.04]
    """
    check_option("method", method, _METHODS)
    if isinstance(p, pd.Series):
        values = pd.to_numeric(p, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    else:
        values = np.array(
            [np.nan if v is None else v for v in np.ravel(np.asarray(p, dtype=object))],
            dtype="float64",
        )
        if isinstance(p, np.ndarray):
            values = values.reshape(p.shape)
    flat = values.ravel()
    ok = ~np.isnan(flat)
    if np.any((flat[ok] < 0) | (flat[ok] > 1)):
        raise ArgumentError("L'argument `p` doit contenir des p-valeurs comprises entre 0 et 1.")
    out = np.full(flat.shape, np.nan)
    out[ok] = _adjust(flat[ok], method)
    if not ok.any() and flat.size:
        logger.warning("adjust_pvalues: toutes les p-valeurs sont manquantes")
    if isinstance(p, pd.Series):
        return pd.Series(out, index=p.index, name=p.name)
    if isinstance(p, np.ndarray):
        return out.reshape(values.shape)
    return [float(v) for v in out]


def fcr_adjusted_level(
    p: Sequence[float] | np.ndarray | pd.Series, *, alpha: float = 0.05
) -> float:
    """Level of the FCR-adjusted intervals of a family selected by Benjamini–Hochberg.

    With ``m`` non-missing p-values and ``R`` of them selected by the
    Benjamini–Hochberg procedure at level ``alpha`` (adjusted p-value strictly
    below ``alpha``), Benjamini and Yekutieli (2005) give each selected
    parameter its marginal interval at level ``1 - R * alpha / m``; the false
    coverage-statement rate (expected share of the selected intervals that
    miss their parameter) is then at most ``alpha`` for independent or
    positively dependent (PRDS) test statistics. This function returns
    ``1 - max(R, 1) * alpha / m``: with no selection, the Bonferroni level
    ``1 - alpha / m``.

    Applied to every member of the family, these intervals agree with the
    adjusted p-values whenever each p-value is the dual of its interval (a
    Wald test and a Wald interval of the same estimate): an interval excludes
    the null value exactly when the test is selected. Indeed the selected
    p-values are all below ``R * alpha / m``, and no other p-value is, or
    the step-up rule would have selected it.

    Parameters
    ----------
    p : sequence of float
        The family's raw p-values (NaN for a test without one: not counted).
    alpha : float, default 0.05
        Level of the Benjamini–Hochberg selection and of the FCR.

    Returns
    -------
    float
        The confidence level, NaN for a family without any p-value.

    References
    ----------
    Benjamini, Y. and Yekutieli, D. (2005). False discovery rate-adjusted
    multiple confidence intervals for selected parameters. *Journal of the
    American Statistical Association*, 100(469), 71–81.

    Benjamini, Y. and Hochberg, Y. (1995), see :func:`adjust_pvalues`.

    Examples
    --------
    >>> round(fcr_adjusted_level([0.001, 0.01, 0.03, 0.2, float("nan")]), 4)
    0.9625
    """
    alpha = check_alpha(alpha)
    raw = p.tolist() if isinstance(p, pd.Series) else list(np.ravel(np.asarray(p, dtype=object)))
    adjusted = np.asarray(adjust_pvalues(raw, method="fdr_bh"), dtype=float)
    m = int((~np.isnan(adjusted)).sum())
    if m == 0:
        return math.nan
    r = int((adjusted < alpha).sum())
    return 1.0 - max(r, 1) * alpha / m


def wald_interval_at_level(
    estimate: float,
    ci_low: float,
    ci_high: float,
    *,
    alpha: float,
    level: float,
    log_scale: bool,
    df: float | None = None,
    rtol: float = 1e-6,
) -> tuple[float, float]:
    """A Wald interval at level ``1 - alpha`` recomputed at another ``level``.

    A Wald interval is ``g^-1(g(estimate) ± z_(1 - alpha/2) se)`` with ``g`` the
    logarithm for ratios (odds ratio, hazard ratio) and the identity
    otherwise, so ``se`` is recovered from the bounds and the interval is
    rebuilt with ``z_((1 + level)/2)``, exactly as a refit at that level would
    give.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        The estimate and its interval at level ``1 - alpha``.
    alpha : float, keyword-only
        Level of the given interval.
    level : float, keyword-only
        Wanted confidence level, in (0, 1).
    log_scale : bool, keyword-only
        The interval is symmetric on the log scale (ratios).
    df : float, optional, keyword-only
        Degrees of freedom when the interval was built with Student's t
        quantiles (cluster-robust tests with few clusters: ``G - 1``); the
        normal quantiles otherwise.
    rtol : float, keyword-only
        Tolerance of the symmetry check.

    Returns
    -------
    (float, float)
        The bounds, both NaN when an input is missing or the interval is not
        symmetric around the estimate on its scale (not a Wald interval).

    Examples
    --------
    >>> lo, hi = wald_interval_at_level(2.0, 1.0, 4.0, alpha=0.05, level=0.95, log_scale=True)
    >>> round(lo, 6), round(hi, 6)
    (1.0, 4.0)
    """
    alpha = check_alpha(alpha)
    if not 0 < level < 1:
        raise ArgumentError(f"L'argument `level` doit être compris entre 0 et 1 (reçu {level}).")
    vals = [estimate, ci_low, ci_high]
    if any(v is None or not math.isfinite(float(v)) for v in vals):
        return math.nan, math.nan
    est, lo, hi = (float(v) for v in vals)
    if log_scale:
        if min(est, lo, hi) <= 0:
            return math.nan, math.nan
        est, lo, hi = math.log(est), math.log(lo), math.log(hi)
    half = (hi - lo) / 2
    if half < 0 or not math.isclose(
        (hi + lo) / 2, est, rel_tol=rtol, abs_tol=rtol * max(half, 1e-12)
    ):
        return math.nan, math.nan
    ref = sps.norm if df is None or not math.isfinite(float(df)) else sps.t(float(df))
    ratio = float(ref.ppf((1 + level) / 2) / ref.ppf(1 - alpha / 2))
    new_lo, new_hi = est - half * ratio, est + half * ratio
    if log_scale:
        return math.exp(new_lo), math.exp(new_hi)
    return new_lo, new_hi
