"""Cochran–Mantel–Haenszel test and Breslow–Day homogeneity (docs/methods.md §2)."""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import special

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import ResultSet, TestResult, package_results
from allocation_analysis.stats._validation import (
    check_alpha,
    check_binary,
    check_columns,
    resolve_groups,
)
from allocation_analysis.stats.power import underpowered_warning

__all__ = ["breslow_day", "cmh", "cmh_from_tables"]

logger = logging.getLogger(__name__)


def _expected_cell(n1: float, m1: float, N: float, psi: float) -> float:
    """Expected top-left cell given the margins and a common odds ratio ``psi``.

    Root in ``[max(0, n1 + m1 - N), min(n1, m1)]`` of
    ``(1 - psi) e² + (N - n1 - m1 + psi (n1 + m1)) e - psi n1 m1 = 0``,
    computed in a cancellation-free way (the equation is linear when
    ``psi == 1``).
    """
    lo, hi = max(0.0, n1 + m1 - N), min(n1, m1)
    A = 1.0 - psi
    B = N - n1 - m1 + psi * (n1 + m1)
    C = -psi * n1 * m1
    if A == 0.0:
        roots = [-C / B]
    else:
        disc = max(B * B - 4.0 * A * C, 0.0)
        q = -0.5 * (B + math.copysign(math.sqrt(disc), B))
        roots = [q / A, C / q] if q != 0 else [0.0]
    tol = 1e-9 * max(1.0, hi)
    inside = [r for r in roots if lo - tol <= r <= hi + tol]
    if not inside:  # pragma: no cover - impossible for 0 < psi < inf
        return math.nan
    return min(max(inside[0], lo), hi)


def breslow_day(tables: np.ndarray, odds_ratio: float) -> dict[str, float]:
    """Breslow–Day test of homogeneous odds ratios with Tarone's correction.

    Parameters
    ----------
    tables : ndarray, shape (K, 2, 2)
        Strata, none with a zero margin.
    odds_ratio : float
        The common odds ratio (Mantel–Haenszel), strictly positive and finite.

    Returns
    -------
    dict
        ``statistic`` (Tarone-corrected), ``statistic_uncorrected``, ``df``
        (K − 1) and ``p_value`` (chi-square upper tail).

    References
    ----------
    Breslow, N. E. and Day, N. E. (1980). *Statistical Methods in Cancer
    Research, Vol. I: The Analysis of Case-Control Studies*, IARC, §4.4.

    Tarone, R. E. (1985). On heterogeneity tests based on efficient scores.
    *Biometrika*, 72(1), 91–95.
    """
    t = np.asarray(tables, dtype=float)
    K = t.shape[0]
    nan = {
        "statistic": math.nan,
        "statistic_uncorrected": math.nan,
        "df": math.nan,
        "p_value": math.nan,
    }
    if K < 2 or not (0 < odds_ratio < math.inf):
        return nan
    a = t[:, 0, 0]
    n1 = t[:, 0, :].sum(axis=1)
    m1 = t[:, :, 0].sum(axis=1)
    N = t.sum(axis=(1, 2))
    e = np.array([_expected_cell(n1[k], m1[k], N[k], odds_ratio) for k in range(K)])
    v = 1.0 / (1.0 / e + 1.0 / (n1 - e) + 1.0 / (m1 - e) + 1.0 / (N - n1 - m1 + e))
    dev = a - e
    bd = float(np.sum(dev**2 / v))
    tarone = bd - float(dev.sum()) ** 2 / float(v.sum())
    return {
        "statistic": tarone,
        "statistic_uncorrected": bd,
        "df": float(K - 1),
        "p_value": float(special.chdtrc(K - 1, tarone)),
    }


def cmh_from_tables(
    tables: Any,
    *,
    correction: bool = True,
    alpha: float = 0.05,
    strata_names: Sequence[Any] | None = None,
    groups: tuple[str, str] = ("reference", "compared"),
) -> TestResult:
    """Cochran–Mantel–Haenszel test and common odds ratio of K 2×2 tables.

    Parameters
    ----------
    tables : array-like, shape (K, 2, 2)
        One 2×2 table per stratum: rows = [compared group, reference group],
        columns = [outcome yes, outcome no]. Strata with a zero margin (no
        one of a group, or no event / no non-event) carry no information and
        are dropped with a warning.
    correction : bool, default True
        Continuity correction of the MH chi-square, exactly as R
        ``mantelhaen.test`` (subtract 0.5 from ``|Σ(a − E a)|`` when it is
        at least 0.5).
    alpha : float, default 0.05
        The interval has level ``1 - alpha``.
    strata_names : sequence, optional
        Labels of the strata (default 0…K−1), used in ``details``.
    groups : (str, str), default ("reference", "compared")
        Labels of the reference and compared groups.

    Returns
    -------
    TestResult
        ``estimate`` = Mantel–Haenszel common odds ratio (compared vs
        reference) with the Robins–Breslow–Greenland interval; ``statistic``,
        ``df`` = 1 and ``p_value`` of the MH chi-square; ``details`` holds
        ``breslow_day`` (``statistic`` Tarone-corrected,
        ``statistic_uncorrected``, ``df``, ``p_value``), ``statistic_corrected``
        / ``statistic_uncorrected`` and their p-values, ``log_or_se`` and the
        per-stratum table ``strata`` (``stratum, a, b, c, d, n, odds_ratio,
        kept``).

    Raises
    ------
    ValueError
        When ``tables`` does not have shape (K, 2, 2) or has negative counts.

    References
    ----------
    Mantel, N. and Haenszel, W. (1959). Statistical aspects of the analysis
    of data from retrospective studies of disease. *JNCI*, 22(4), 719–748.

    Robins, J., Breslow, N. and Greenland, S. (1986). Estimators of the
    Mantel–Haenszel variance consistent in both sparse data and large-strata
    limiting models. *Biometrics*, 42(2), 311–323.

    Breslow, N. E. and Day, N. E. (1980). *Statistical Methods in Cancer
    Research, Vol. I*, IARC, §4.4; Tarone, R. E. (1985). *Biometrika*,
    72(1), 91–95.
    """
    alpha = check_alpha(alpha)
    t = np.asarray(tables, dtype=float)
    if t.ndim == 2 and t.shape == (2, 2):
        t = t[None]
    if t.ndim != 3 or t.shape[1:] != (2, 2):
        raise ArgumentError(
            f"L'argument `tables` doit avoir la forme (K, 2, 2), reçu la forme {t.shape}."
        )
    if np.isnan(t).any() or (t < 0).any():
        raise ArgumentError("L'argument `tables` doit contenir des effectifs positifs ou nuls.")
    K = t.shape[0]
    names = list(strata_names) if strata_names is not None else list(range(K))
    if len(names) != K:
        raise ArgumentError("L'argument `strata_names` doit avoir une étiquette par strate.")
    warnings: list[str] = []
    a, b, c, d = t[:, 0, 0], t[:, 0, 1], t[:, 1, 0], t[:, 1, 1]
    margins = np.stack([a + b, c + d, a + c, b + d], axis=1)
    keep = (margins > 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        or_k = (a * d) / (b * c)
    strata = pd.DataFrame(
        {
            "stratum": names,
            "a": a,
            "b": b,
            "c": c,
            "d": d,
            "n": a + b + c + d,
            "odds_ratio": or_k,
            "kept": keep,
        }
    )
    if (~keep).any():
        dropped = [str(s) for s, k in zip(names, keep, strict=True) if not k]
        shown = ", ".join(dropped[:10]) + (" …" if len(dropped) > 10 else "")
        warnings.append(
            f"{len(dropped)} strate(s) sans information écartée(s) (un des groupes ou une des "
            f"issues y est absent) : {shown} (strata with a zero margin dropped)."
        )
    tk = t[keep]
    n_used = int(tk.sum())
    details: dict[str, Any] = {"strata": strata, "n_strata": int(keep.sum())}
    ref, comp = groups
    nan = math.nan

    def result(**kw: Any) -> TestResult:
        return TestResult(
            name="cmh",
            method=kw.pop("method"),
            estimate_name="odds_ratio",
            n=n_used,
            groups=(ref, comp),
            warnings=tuple(warnings),
            details=details,
            alpha=alpha,
            **kw,
        )

    if tk.shape[0] == 0:
        warnings.append(
            "Aucune strate exploitable : rapport de cotes et test non définis "
            "(no informative stratum)."
        )
        details["breslow_day"] = breslow_day(tk, nan)
        return result(method="Cochran–Mantel–Haenszel (non calculable)")

    a, b, c, d = tk[:, 0, 0], tk[:, 0, 1], tk[:, 1, 0], tk[:, 1, 1]
    n = a + b + c + d
    R, S = a * d / n, b * c / n
    P, Q = (a + d) / n, (b + c) / n
    sR, sS = R.sum(), S.sum()

    # MH chi-square (as R mantelhaen.test)
    n1, n2, m1, m2 = a + b, c + d, a + c, b + d
    delta = float(np.sum(a - n1 * m1 / n))
    var = float(np.sum(n1 * n2 * m1 * m2 / (n * n * (n - 1))))
    stat0 = delta**2 / var if var > 0 else nan
    yates = 0.5 if abs(delta) >= 0.5 else 0.0
    stat1 = (abs(delta) - yates) ** 2 / var if var > 0 else nan
    p0 = float(special.chdtrc(1, stat0)) if var > 0 else nan
    p1 = float(special.chdtrc(1, stat1)) if var > 0 else nan
    statistic, p_value = (stat1, p1) if correction else (stat0, p0)
    details.update(
        statistic_corrected=stat1,
        p_value_corrected=p1,
        statistic_uncorrected=stat0,
        p_value_uncorrected=p0,
    )

    # common odds ratio with the RBG interval
    if sR > 0 and sS > 0:
        est = sR / sS
        se = math.sqrt(
            np.sum(P * R) / (2 * sR**2)
            + np.sum(P * S + Q * R) / (2 * sR * sS)
            + np.sum(Q * S) / (2 * sS**2)
        )
        z = float(special.ndtri(1 - alpha / 2))
        lo, hi = est * math.exp(-z * se), est * math.exp(z * se)
    else:
        est = nan if sR == sS == 0 else (0.0 if sR == 0 else math.inf)
        se = lo = hi = nan
        warnings.append(
            "Rapport de cotes commun non borné (toutes les paires discordantes vont dans le même "
            "sens) : intervalle de confiance non défini (common odds ratio is 0 or infinite)."
        )
    details["log_or_se"] = se

    bd = breslow_day(tk, est)
    details["breslow_day"] = bd
    if tk.shape[0] < 2:
        warnings.append(
            "Une seule strate exploitable : le test d'homogénéité de Breslow–Day n'est pas "
            "défini (Breslow–Day needs at least two strata)."
        )
    if var == 0:
        warnings.append(
            "Variance nulle : le test de Mantel–Haenszel n'est pas défini (zero variance)."
        )
    n_comp, n_ref, x_ref = float(n1.sum()), float(n2.sum()), float(c.sum())
    msg = underpowered_warning(n_ref, n_comp, x_ref / n_ref)
    if msg:
        warnings.append(msg)
    method = "Cochran–Mantel–Haenszel " + (
        "avec correction de continuité" if correction else "sans correction de continuité"
    )
    return result(
        method=method + ", IC de Robins–Breslow–Greenland",
        statistic=statistic,
        df=1.0 if var > 0 else nan,
        p_value=p_value,
        estimate=est,
        ci_low=lo,
        ci_high=hi,
    )


def cmh(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    strata: str | Sequence[str],
    reference: Any,
    compared: Any = None,
    correction: bool = True,
    alpha: float = 0.05,
) -> TestResult | ResultSet:
    """Cochran–Mantel–Haenszel test of a group effect on a binary outcome.

    Builds one 2×2 table per stratum (rows compared, reference; columns
    outcome yes, no) and calls :func:`cmh_from_tables`.

    Parameters
    ----------
    df : DataFrame
        One row per individual.
    outcome : str
        Binary column; rows where it is missing are ignored.
    group : str
        Column of the groups.
    strata : str or sequence of str
        Column(s) defining the strata (several columns: their crossing).
        Rows with a missing stratum are ignored.
    reference : scalar
        Reference level of ``group``.
    compared : scalar, optional
        Compared level; ``None``: every other level, returned as a
        :class:`ResultSet` (even when the data hold a single other level).
    correction : bool, default True
        Continuity correction of the MH chi-square (as R).
    alpha : float, default 0.05
        The interval has level ``1 - alpha``.

    Returns
    -------
    TestResult or ResultSet
        See :func:`cmh_from_tables`.

    Raises
    ------
    ValueError
        Unknown column, ``reference``/``compared`` not a level of ``group``,
        non-binary outcome, or no level to compare.

    References
    ----------
    Mantel, N. and Haenszel, W. (1959). *JNCI*, 22(4), 719–748.

    Robins, J., Breslow, N. and Greenland, S. (1986). *Biometrics*, 42(2),
    311–323.
    """
    strata_cols = [strata] if isinstance(strata, str) else list(strata)
    check_columns(df, outcome=outcome, group=group, strata=strata_cols)
    alpha = check_alpha(alpha)
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    if not levels:
        raise ArgumentError(
            f"La colonne {group!r} n'a pas d'autre modalité que la référence {reference!r} : "
            "rien à comparer."
        )
    y = check_binary(df, outcome, name="outcome")
    g = df[group].astype("string")
    keep = y.notna() & g.notna() & df[strata_cols].notna().all(axis=1)
    n_drop = int((~keep).sum())
    base_warnings = []
    if n_drop:
        base_warnings.append(
            f"{n_drop} ligne(s) ignorée(s) car `{outcome}`, `{group}` ou une strate est "
            f"manquant ({n_drop} row(s) with a missing value ignored)."
        )
    data = pd.DataFrame({"y": y[keep], "g": g[keep]})
    if len(strata_cols) == 1:
        data["s"] = df.loc[keep, strata_cols[0]].astype("string")
    else:
        data["s"] = df.loc[keep, strata_cols].astype("string").agg(" × ".join, axis=1)
    s_codes, uniques = pd.factorize(data["s"], sort=True)
    stratum_names = [str(u) for u in uniques]
    K = len(stratum_names)
    g_arr = data["g"].to_numpy(dtype=object)
    y_arr = data["y"].to_numpy(dtype=float)
    ref = str(reference)
    results = []
    for lv in levels:
        is_c, is_r = g_arr == lv, g_arr == ref
        sel = is_c | is_r
        cell = s_codes[sel] * 4 + np.where(is_c[sel], 0, 2) + np.where(y_arr[sel] == 1, 0, 1)
        tables = np.bincount(cell, minlength=4 * K).reshape(K, 2, 2).astype(float)
        res = cmh_from_tables(
            tables,
            correction=correction,
            alpha=alpha,
            strata_names=stratum_names,
            groups=(ref, lv),
        )
        if base_warnings:
            res = TestResult(**{**res.__dict__, "warnings": tuple(base_warnings) + res.warnings})
        results.append(res)
    return package_results(results, compared)
