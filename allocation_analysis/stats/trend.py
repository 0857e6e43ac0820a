"""Linear trend of a proportion across ordered periods (semesters).

With :math:`x_i` events out of :math:`n_i` units in period *i* and the
period's index (score) :math:`s_i`, the logistic model

.. math:: \\operatorname{logit} P(\\text{event} \\mid i) = \\beta_0 + \\beta_1 s_i

is fitted by maximum likelihood (binomial GLM on the grouped counts, as R
``glm(cbind(x, n - x) ~ s, family = binomial)``). :math:`e^{\\beta_1}` is the
odds ratio per unit of the index (per semester when the index counts
semesters), with its Wald interval and Wald test.

The score test of :math:`\\beta_1 = 0` in the same model is the
Cochran–Armitage test for trend (Armitage 1955): with :math:`N = \\sum n_i`,
:math:`\\hat p = \\sum x_i / N` and :math:`\\bar s = \\sum n_i s_i / N`,

.. math:: X^2 = \\frac{\\left(\\sum_i x_i (s_i - \\bar s)\\right)^2}
              {\\hat p (1 - \\hat p) \\sum_i n_i (s_i - \\bar s)^2},

referred to chi-square with 1 degree of freedom, exactly R
``prop.trend.test(x, n, score = s)``. It is reported in
``details["cochran_armitage"]``; unlike the Wald test it remains defined when
the maximum likelihood estimate does not exist (separation).

References
----------
Armitage, P. (1955). Tests for linear trends in proportions and frequencies.
*Biometrics*, 11(3), 375–386.

Cochran, W. G. (1954). Some methods for strengthening the common χ² tests.
*Biometrics*, 10(4), 417–451.

Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §5.3.5
(the Cochran–Armitage trend test as the score test of the linear logit
model) and §4.2.2 (logistic regression for grouped binomial data).
"""

from __future__ import annotations

import math
import warnings as _warnings
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import special

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import TestResult
from allocation_analysis.stats._validation import _show, check_alpha, check_columns
from allocation_analysis.stats.rates import wilson_interval

__all__ = ["cochran_armitage", "trend_test"]

#: Fewest periods with at least one unit for which a trend is computed.
MIN_PERIODS = 3

_NAME = "trend_test"
_ESTIMATE_NAME = "odds_ratio_per_period"
_METHOD = (
    "régression logistique binomiale sur l'indice du semestre (maximum de vraisemblance), "
    "OR par semestre de Wald ; test de Cochran–Armitage (score) en détail"
)
_NO_WALD = (
    "Tendance par régression logistique (OR par semestre non calculable) ; "
    "test de Cochran–Armitage (score) en détail"
)


def cochran_armitage(x: Any, n: Any, score: Any) -> dict[str, float]:
    """Cochran–Armitage chi-square test for a linear trend in proportions.

    Parameters
    ----------
    x, n : array-like
        Events and totals per period (``n == 0`` periods contribute nothing).
    score : array-like
        Score (index) of each period.

    Returns
    -------
    dict
        ``statistic`` (chi-square, 1 df, as R ``prop.trend.test``), ``z``
        (signed square root: positive when the proportion rises with the
        score), ``df`` (1) and ``p_value`` (two-sided); NaN when the pooled
        proportion is 0 or 1 or the scores of the non-empty periods are all
        equal.

    References
    ----------
    Armitage, P. (1955). Tests for linear trends in proportions and
    frequencies. *Biometrics*, 11(3), 375–386.

    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §5.3.5.
    """
    x = np.asarray(x, dtype=float)
    n = np.asarray(n, dtype=float)
    s = np.asarray(score, dtype=float)
    total = n.sum()
    nan = {"statistic": math.nan, "z": math.nan, "df": 1.0, "p_value": math.nan}
    if total <= 0:
        return nan
    p = x.sum() / total
    s_bar = float(np.sum(n * s) / total)
    ssq = float(np.sum(n * (s - s_bar) ** 2))
    var = p * (1 - p) * ssq
    if not var > 0:
        return nan
    z = float(np.sum(x * (s - s_bar))) / math.sqrt(var)
    return {
        "statistic": z * z,
        "z": z,
        "df": 1.0,
        "p_value": float(special.chdtrc(1, z * z)),
    }


def _numeric(counts: pd.DataFrame, arg: str, column: str) -> np.ndarray:
    """A numeric column as float (NaN for missing), ``ValueError`` otherwise."""
    s = counts[column]
    if pd.api.types.is_bool_dtype(s.dtype) or not pd.api.types.is_numeric_dtype(s.dtype):
        what = "l'indice numérique des semestres" if arg == "period_index" else "des effectifs"
        raise ArgumentError(
            f"L'argument `{arg}` désigne la colonne {column!r}, qui doit contenir {what} "
            f"(type numérique), reçu le type {s.dtype}."
        )
    values = s.to_numpy(dtype="float64", na_value=np.nan)
    if np.isinf(values).any():
        raise ArgumentError(
            f"L'argument `{arg}` désigne la colonne {column!r}, qui contient des valeurs infinies."
        )
    return values


def _separated(rates: np.ndarray) -> bool:
    """Whether the logit MLE of the slope does not exist (Albert and Anderson 1984).

    With one covariate and an intercept, the fit is (quasi-)completely
    separated when, periods sorted by index, every period before some period
    *j* has rate 0 and every period after it has rate 1 (or the reverse),
    whatever the rate of *j* — the slope then diverges. ``rates`` are those
    of the non-empty periods, in index order, not all 0 and not all 1.
    """
    k = rates.size
    for r in (rates, 1.0 - rates):
        zeros = np.concatenate([[True], np.cumprod(r == 0).astype(bool)])  # prefix all 0
        ones = np.concatenate([np.cumprod((r == 1)[::-1]).astype(bool)[::-1], [True]])
        # period j separates the 0s (before it) from the 1s (after it)
        if any(zeros[j] and ones[j + 1] for j in range(k)):
            return True
    return False


def _fit_logit(x: np.ndarray, n: np.ndarray, s: np.ndarray) -> dict[str, Any] | None:
    """Binomial GLM of ``x / n`` on ``s``; None when the fit fails or does not converge."""
    X = np.column_stack([np.ones_like(s), s])
    endog = np.column_stack([x, n - x])
    with _warnings.catch_warnings():
        _warnings.simplefilter("ignore")
        try:
            fit = sm.GLM(endog, X, family=sm.families.Binomial()).fit(tol=1e-12, maxiter=200)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return None
    if not bool(getattr(fit, "converged", True)):
        return None
    params = np.asarray(fit.params, dtype=float)
    bse = np.asarray(fit.bse, dtype=float)
    if not (np.isfinite(params).all() and np.isfinite(bse).all() and bse[1] > 0):
        return None
    return {
        "intercept": float(params[0]),
        "slope": float(params[1]),
        "se": float(bse[1]),
        "deviance": float(fit.deviance),
        "df_residual": float(fit.df_resid),
        "fitted": np.asarray(fit.fittedvalues, dtype=float),
    }


def trend_test(
    counts: pd.DataFrame,
    *,
    events: str = "events",
    totals: str = "totals",
    period_index: str = "index",
    alpha: float = 0.05,
) -> TestResult:
    """Test for a linear trend of a proportion across ordered periods (semesters).

    Logistic regression of ``events / totals`` on the period index (binomial
    GLM on the counts): the slope, as an odds ratio per period with its Wald
    interval and Wald test, is the estimate; the Cochran–Armitage test, the
    score test of the same slope, is given in ``details``.

    Parameters
    ----------
    counts : DataFrame
        One row per period (semester): number of events (e.g. allocations)
        and of units at risk (e.g. active demands) and the period's index.
    events : str, default "events"
        Column of the numbers of events.
    totals : str, default "totals"
        Column of the numbers of units (``events <= totals``).
    period_index : str, default "index"
        Column of the period's numeric index, the score of the trend (e.g.
        0, 1, 2 … for consecutive semesters; a missing semester leaves a gap,
        e.g. 0, 1, 3). The odds ratio is per unit of this index: per
        semester when it counts semesters. Values must be distinct (one row
        per period); only differences between them matter (shifting the
        index changes neither the odds ratio nor the tests).
    alpha : float, default 0.05
        The interval has level ``1 - alpha``.

    Returns
    -------
    TestResult
        ``estimate`` = odds ratio per period ``exp(slope)``
        (``"odds_ratio_per_period"``) with its Wald interval; ``statistic``
        = Wald chi-square ``(slope / se)²``, ``df`` = 1, ``p_value`` (two-sided
        Wald), as R ``glm(cbind(x, n - x) ~ index, family = binomial)`` and
        ``confint.default``; ``n`` = sum of the totals. ``details`` holds
        ``slope``, ``se``, ``z``, ``intercept`` (log-odds at index 0),
        ``deviance`` and ``df_residual`` (residual deviance of the linear
        logit, a check of departure from linearity on ``k − 2`` df),
        ``cochran_armitage`` (dict ``statistic``, ``z``, ``df``, ``p_value``:
        R ``prop.trend.test(x, n, score = index)``), ``n_periods`` (periods
        with a non-zero total) and ``periods`` (DataFrame sorted by index:
        ``period_index, events, totals, rate, ci_low, ci_high`` with Wilson
        intervals, ``fitted`` rate, ``used``).

        Degenerate data are not errors: all fields NaN with a French warning
        when fewer than three periods have a non-zero total (« tendance non
        calculable »), when no period has an event or every unit has one;
        when the proportion is 0 in the first periods and 1 in the last ones
        (or the reverse) the maximum likelihood slope does not exist
        (separation): the Wald fields are NaN and the Cochran–Armitage test
        in ``details`` remains defined. Periods with a zero total are kept
        in ``details["periods"]`` (``used`` false) and carry no information;
        rows with a missing count or index are ignored with a warning.

    Raises
    ------
    ValueError
        When ``counts`` is not a DataFrame, a column is missing or not
        numeric, a count is negative or infinite, events exceed totals,
        period indices are repeated, or ``alpha`` is not in ]0 ; 1[.

    See Also
    --------
    allocation_analysis.stats.rates.compare_counts : two periods compared.

    References
    ----------
    Armitage, P. (1955). Tests for linear trends in proportions and
    frequencies. *Biometrics*, 11(3), 375–386.

    Cochran, W. G. (1954). Some methods for strengthening the common χ²
    tests. *Biometrics*, 10(4), 417–451.

    Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, §5.3.5
    (Cochran–Armitage trend test, score test of the linear logit model) and
    §4.2 (logistic regression, Wald inference).

    Examples
    --------
    >>> counts = pd.DataFrame(
    ...     {"index": [0, 1, 2, 3], "events": [40, 48, 55, 63], "totals": [200] * 4}
    ... )
    >>> res = trend_test(counts)
    >>> round(res.estimate, 3), res.p_value < 0.05
    (1.222, True)
    """
    check_columns(counts, events=events, totals=totals, period_index=period_index)
    alpha = check_alpha(alpha)
    x_all = _numeric(counts, "events", events)
    n_all = _numeric(counts, "totals", totals)
    s_all = _numeric(counts, "period_index", period_index)
    idx_label = counts[period_index].to_numpy()

    both = ~np.isnan(x_all) & ~np.isnan(n_all)
    for arg, col, v in (("events", events, x_all), ("totals", totals, n_all)):
        bad = ~np.isnan(v) & (v < 0)
        if bad.any():
            raise ArgumentError(
                f"L'argument `{arg}` désigne la colonne {col!r}, qui doit contenir des "
                f"effectifs positifs ou nuls ; valeurs négatives aux semestres "
                f"{_show(idx_label[bad][:5])}."
            )
    over = both & (x_all > n_all)
    if over.any():
        raise ArgumentError(
            f"La colonne {events!r} (`events`) dépasse la colonne {totals!r} (`totals`) aux "
            f"semestres {_show(idx_label[over][:5])} : le nombre d'événements ne peut pas "
            "dépasser l'effectif."
        )
    s_present = s_all[~np.isnan(s_all)]
    if np.unique(s_present).size < s_present.size:
        vals, cnt = np.unique(s_present, return_counts=True)
        raise ArgumentError(
            f"L'argument `period_index` désigne la colonne {period_index!r}, dont les valeurs "
            f"doivent être distinctes (une ligne par semestre) ; valeurs répétées : "
            f"{_show(vals[cnt > 1][:5])}."
        )

    warns: list[str] = []
    keep = both & ~np.isnan(s_all)
    n_drop = int((~keep).sum())
    if n_drop:
        warns.append(
            f"{n_drop} ligne(s) ignorée(s) car `{events}`, `{totals}` ou `{period_index}` est "
            f"manquant ({n_drop} row(s) with a missing value ignored)."
        )
    order = np.argsort(s_all[keep], kind="stable")
    x, n, s = x_all[keep][order], n_all[keep][order], s_all[keep][order]
    used = n > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        rate = np.where(used, x / np.where(used, n, 1.0), np.nan)
    ci = [wilson_interval(float(xi), float(ni), alpha=alpha) for xi, ni in zip(x, n, strict=True)]
    whole = bool(np.all(x == np.round(x)) and np.all(n == np.round(n)))
    periods = pd.DataFrame(
        {
            "period_index": counts[period_index].to_numpy()[keep][order],
            "events": x.astype("int64") if whole else x,
            "totals": n.astype("int64") if whole else n,
            "rate": rate,
            "ci_low": [c[0] for c in ci],
            "ci_high": [c[1] for c in ci],
            "fitted": np.nan,
            "used": used,
        }
    )
    k = int(used.sum())
    xu, nu, su = x[used], n[used], s[used]
    n_total = int(round(float(nu.sum())))
    details: dict[str, Any] = {
        "slope": math.nan,
        "se": math.nan,
        "z": math.nan,
        "intercept": math.nan,
        "deviance": math.nan,
        "df_residual": math.nan,
        "cochran_armitage": cochran_armitage(xu, nu, su),
        "n_periods": k,
        "periods": periods,
    }

    def result(method: str = _METHOD, **kw: Any) -> TestResult:
        return TestResult(
            name=_NAME,
            method=method,
            estimate_name=_ESTIMATE_NAME,
            n=n_total,
            warnings=tuple(warns),
            details=details,
            alpha=alpha,
            **kw,
        )

    not_computable = "Tendance par régression logistique (non calculable)"
    if k < MIN_PERIODS:
        n_zero = int((~used).sum())
        zero_txt = f", {n_zero} semestre(s) d'effectif nul" if n_zero else ""
        warns.append(
            f"Tendance non calculable : moins de trois semestres de données ({k} semestre(s) "
            f"d'effectif non nul{zero_txt}) (trend not computable: fewer than three periods "
            "with data)."
        )
        details["cochran_armitage"] = cochran_armitage([], [], [])
        return result(method=not_computable)
    if xu.sum() == 0:
        warns.append(
            "Tendance non calculable : aucun événement sur l'ensemble des semestres "
            "(trend not computable: zero events in every period)."
        )
        return result(method=not_computable)
    if xu.sum() == nu.sum():
        warns.append(
            "Tendance non calculable : tous les individus ont connu l'événement à chaque "
            "semestre (trend not computable: all observations are events)."
        )
        return result(method=not_computable)
    if _separated(xu / nu):
        warns.append(
            "Séparation : la proportion vaut 0 aux premiers semestres et 1 aux derniers (ou "
            "l'inverse), la pente de la régression logistique n'est pas estimable par maximum "
            "de vraisemblance ; seul le test de Cochran–Armitage (details) est défini "
            "(separation: the slope's MLE does not exist)."
        )
        return result(method=_NO_WALD)
    fit = _fit_logit(xu, nu, su)
    if fit is None:
        warns.append(
            "La régression logistique n'a pas convergé : odds ratio par semestre non défini ; "
            "le test de Cochran–Armitage (details) reste défini (the logistic fit failed)."
        )
        return result(method=_NO_WALD)

    b, se = fit["slope"], fit["se"]
    z = b / se
    zc = float(special.ndtri(1 - alpha / 2))
    details.update(
        slope=b,
        se=se,
        z=z,
        intercept=fit["intercept"],
        deviance=fit["deviance"],
        df_residual=fit["df_residual"],
    )
    fitted = np.full(len(periods), np.nan)
    fitted[used] = fit["fitted"]
    periods["fitted"] = fitted
    return result(
        statistic=z * z,
        df=1.0,
        p_value=float(special.chdtrc(1, z * z)),
        estimate=math.exp(b),
        ci_low=math.exp(b - zc * se),
        ci_high=math.exp(b + zc * se),
    )
