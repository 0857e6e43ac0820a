"""Difference of the means (and medians) of a score between two groups, split by component.

A total score that is the sum of components (the points of each criterion of
a scoring grid) has a group mean that is the sum of the components' group
means; the difference of the total's means is then exactly the sum of the
differences of the components' means: each component's contribution.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from allocation_analysis.stats._result import TestResult
from allocation_analysis.stats._validation import (
    check_alpha,
    check_columns,
    check_dataframe,
    resolve_groups,
)

__all__ = ["mean_difference"]


def mean_difference(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: Any,
    compared: Any,
    components: Sequence[str] = (),
    alpha: float = 0.05,
    n_boot: int = 200,
    seed: int = 0,
) -> TestResult:
    """Difference of the group means of a score (compared − reference), with its parts.

    The estimate is ``mean_c − mean_r`` with the Welch interval and test [1]_
    (unequal variances, Welch–Satterthwaite degrees of freedom). The
    difference of the medians is given in ``details`` with a percentile
    bootstrap interval [2]_ (resampling within each group). When
    ``components`` are given (columns that add up to ``outcome``), each
    component's difference of means is its exact contribution: they sum to
    the estimate.

    Parameters
    ----------
    df : DataFrame
        One row per unit (demand).
    outcome : str
        Numeric column (the total score).
    group : str
        Column of the groups compared.
    reference, compared : scalar
        Levels of ``group``.
    components : sequence of str, optional
        Numeric columns whose sum is ``outcome`` (criteria of the grid).
    alpha : float, default 0.05
        1 - confidence level.
    n_boot : int, default 200
        Bootstrap replicates of the median difference.
    seed : int, default 0
        Seed of the bootstrap.

    Returns
    -------
    TestResult
        ``estimate_name="mean_difference"``, ``statistic`` = Welch t, ``df``
        its degrees of freedom. ``details``: ``mean_by_group``,
        ``median_by_group``, ``median_difference`` and its
        ``median_ci_low``/``median_ci_high``, ``contributions`` (component →
        difference of its means), ``contributions_sum_gap`` (estimate minus
        the sum of the contributions: 0 when the components add up to the
        outcome on every row), ``n_by_group``.

    Notes
    -----
    Rows with a missing outcome, group or component are dropped, with a
    French warning. Fewer than two rows in a group give NaN values with a
    warning, never an exception.

    References
    ----------
    .. [1] Welch, B. L. (1947). The generalization of "Student's" problem when
       several different population variances are involved. *Biometrika*
       34(1/2), 28–35.
    .. [2] Efron, B. and Tibshirani, R. J. (1993). *An Introduction to the
       Bootstrap*, ch. 13. Chapman & Hall.
    """
    check_dataframe(df)
    components = [components] if isinstance(components, str) else list(components)
    check_columns(df, outcome=outcome, group=group, components=components)
    alpha = check_alpha(alpha)
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    ref, cmp = str(reference), levels[0]
    g = df[group].astype("string")
    keep = ((g == ref) | (g == cmp)).fillna(False).to_numpy(dtype=bool)
    cols = [outcome, *components]
    vals = df.loc[keep, cols].apply(pd.to_numeric, errors="coerce").astype("float64")
    g = g[keep]
    warns: list[str] = []
    ok = vals.notna().all(axis=1).to_numpy()
    if not ok.all():
        warns.append(
            f"{int((~ok).sum())} ligne(s) écartée(s) sur {len(ok)} à cause de valeurs "
            f"manquantes dans {cols}."
        )
    vals, g = vals[ok], g[ok]
    is_c = (g == cmp).to_numpy(dtype=bool)
    xr, xc = vals[outcome].to_numpy()[~is_c], vals[outcome].to_numpy()[is_c]
    n_r, n_c = len(xr), len(xc)
    details: dict[str, Any] = {
        "n_by_group": {ref: n_r, cmp: n_c},
        "mean_by_group": {},
        "median_by_group": {},
        "median_difference": math.nan,
        "median_ci_low": math.nan,
        "median_ci_high": math.nan,
        "contributions": {},
        "contributions_sum_gap": math.nan,
    }
    base = dict(
        name=f"mean_difference:{outcome}",
        method="mean_difference",
        estimate_name="mean_difference",
        n=n_r + n_c,
        groups=(ref, cmp),
        alpha=alpha,
    )
    if n_r < 2 or n_c < 2:
        warns.append("Moins de deux observations dans un groupe : écart non calculable.")
        return TestResult(**base, warnings=tuple(warns), details=details)
    m_r, m_c = float(xr.mean()), float(xc.mean())
    v_r, v_c = float(xr.var(ddof=1)) / n_r, float(xc.var(ddof=1)) / n_c
    diff = m_c - m_r
    se = math.sqrt(v_r + v_c)
    if se > 0:
        dof = (v_r + v_c) ** 2 / (v_r**2 / (n_r - 1) + v_c**2 / (n_c - 1))
        t = diff / se
        p = float(2 * sps.t.sf(abs(t), dof))
        q = float(sps.t.ppf(1 - alpha / 2, dof))
        lo, hi = diff - q * se, diff + q * se
    else:
        dof, t, p, lo, hi = math.nan, math.nan, math.nan, math.nan, math.nan
        warns.append("Score constant dans les deux groupes : test non calculable.")
    rng = np.random.default_rng(seed)
    boot = np.empty(int(n_boot))
    for b in range(int(n_boot)):
        boot[b] = np.median(rng.choice(xc, n_c)) - np.median(rng.choice(xr, n_r))
    contributions = {
        c: float(vals[c].to_numpy()[is_c].mean() - vals[c].to_numpy()[~is_c].mean())
        for c in components
    }
    details.update(
        mean_by_group={ref: m_r, cmp: m_c},
        median_by_group={ref: float(np.median(xr)), cmp: float(np.median(xc))},
        median_difference=float(np.median(xc) - np.median(xr)),
        median_ci_low=float(np.quantile(boot, alpha / 2)) if n_boot else math.nan,
        median_ci_high=float(np.quantile(boot, 1 - alpha / 2)) if n_boot else math.nan,
        contributions=contributions,
        contributions_sum_gap=(diff - sum(contributions.values())) if components else math.nan,
        se=se,
    )
    return TestResult(
        **base,
        statistic=float(t),
        df=float(dof),
        p_value=p,
        estimate=diff,
        ci_low=float(lo),
        ci_high=float(hi),
        warnings=tuple(warns),
        details=details,
    )
