"""Decompositions of a gap between two groups into explained and unexplained parts.

* :func:`fairlie` — binary outcome (access, QPV placement), Fairlie's
  non-linear decomposition.
* :func:`oaxaca_blinder` — continuous outcome (rent, waiting time), the linear
  Oaxaca–Blinder decomposition.

In both, the gap is ``mean(outcome | compared) - mean(outcome | reference)``;
the *explained* part is due to differences in the controls' distributions,
the *unexplained* part (the headline ``estimate``) is what remains at equal
controls — the part of the disparity that composition does not account for.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps
from scipy.special import expit

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import TestResult
from allocation_analysis.stats._separation import (
    MAX_STANDARDIZED_COEF,
    column_scales,
    is_separated,
    standardized_coefficients,
)
from allocation_analysis.stats._validation import (
    check_alpha,
    check_binary,
    check_columns,
    check_dataframe,
    check_int,
    check_option,
    resolve_groups,
)
from allocation_analysis.stats.regression import (
    _as_controls,
    _drop_perfect_predictors,
    design_controls,
    drop_missing,
)
from allocation_analysis.threads import single_thread

__all__ = ["fairlie", "oaxaca_blinder"]

logger = logging.getLogger(__name__)


def _prepare(df, outcome, group, reference, compared, controls, binary):
    check_dataframe(df)
    controls = _as_controls(controls)
    check_columns(df, outcome=outcome, group=group, controls=controls)
    if not controls:
        raise ArgumentError("L'argument `controls` doit contenir au moins une colonne.")
    if compared is None:
        raise ArgumentError("L'argument `compared` est obligatoire pour une décomposition.")
    cmp = resolve_groups(df, group=group, reference=reference, compared=compared)[0]
    ref = str(reference)
    g_txt = df[group].astype("string")
    sub = df.loc[(g_txt == ref) | (g_txt == cmp)].copy()
    if binary:
        sub["__y__"] = check_binary(df, outcome, name="outcome").loc[sub.index]
    else:
        if not pd.api.types.is_numeric_dtype(df[outcome].dtype):
            raise ArgumentError(
                f"L'argument `outcome` désigne la colonne {outcome!r}, qui doit être numérique."
            )
        sub["__y__"] = sub[outcome].astype("float64")
    sub, warns = drop_missing(sub, ["__y__", group, *controls])
    Xc, terms = design_controls(sub, controls)
    if binary:
        Xc, keep, dropped = _drop_perfect_predictors(Xc, sub["__y__"].to_numpy(), terms)
        if dropped:
            sub = sub.loc[keep]
            warns.append(
                "Indicatrices de contrôle prédisant parfaitement le résultat retirées avec "
                "leurs observations (comme le fait Stata) : "
                + ", ".join(f"{c} ({k} obs.)" for c, k in dropped)
                + "."
            )
            Xc = Xc.drop(columns=[c for c in Xc.columns if Xc[c].nunique() <= 1])
            terms = {t: [c for c in cols if c in Xc.columns] for t, cols in terms.items()}
            terms = {t: cols for t, cols in terms.items() if cols}
    g = (sub[group].astype("string") == cmp).to_numpy()
    y = sub["__y__"].to_numpy(dtype="float64")
    return ref, cmp, controls, Xc, terms, g, y, warns


def _logistic(z: np.ndarray) -> np.ndarray:
    return expit(z)  # 1 / (1 + exp(-z)) in one pass


def _fit_logit(y: np.ndarray, X: np.ndarray, *, max_iter: int = 50) -> np.ndarray | None:
    """ML logit coefficients by Newton–Raphson, or None when the fit fails or is separated.

    A plain numpy Newton iteration (the bootstrap refits the model hundreds of
    times). Separation is judged by
    :func:`allocation_analysis.stats._separation.is_separated`, whose rules
    do not depend on the units of the controls: the iteration stops early once
    a standardised coefficient ``|b_j| * sd(x_j)`` exceeds its bound, and the
    converged fit is rejected when a fitted probability is within 1e-8 of 0
    or 1; no convergence in ``max_iter`` steps also gives None.

    References
    ----------
    .. [1] Albert, A. and Anderson, J. A. (1984). On the existence of maximum
       likelihood estimates in logistic regression models. *Biometrika* 71, 1–10.
    """
    if y.min() == y.max():
        return None
    scales = column_scales(X)
    step_units = np.where(scales > 0, scales, 1.0)  # the intercept's step as it is
    b = np.zeros(X.shape[1])
    ll_old = -np.inf
    for _ in range(max_iter):
        eta = X @ b
        p = _logistic(eta)
        w = p * (1.0 - p)
        grad = X.T @ (y - p)
        hess = X.T @ (X * w[:, None])
        try:
            step = np.linalg.solve(hess, grad)
        except np.linalg.LinAlgError:
            return None
        b = b + step
        if not np.all(np.isfinite(b)) or np.any(
            standardized_coefficients(X, b, scales) > MAX_STANDARDIZED_COEF
        ):
            return None
        eta = X @ b
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        step_sd = np.max(np.abs(step) * step_units)  # per SD of each column
        if step_sd < 1e-10 or abs(ll - ll_old) < 1e-12 * (1.0 + abs(ll)):
            return None if is_separated(X, b, model="logit", scales=scales) else b
        ll_old = ll
    return None


def _fairlie_once(y, Xc, g, term_cols, pooled, n_orderings, rng):
    """Point decomposition on one sample; None if the logit cannot be fitted."""
    n = len(y)
    ones = np.ones((n, 1))
    if pooled:
        full = _fit_logit(y, np.hstack([ones, g[:, None].astype(float), Xc]))
        if full is None:
            return None
        b = np.delete(full, 1)  # prediction at the reference level of the group
    else:
        r = ~g
        full = b = _fit_logit(y[r], np.hstack([ones[r], Xc[r]]))
        if b is None:
            return None
    a, beta = b[0], b[1:]
    xb = a + Xc @ beta
    Xcmp, Xref = Xc[g], Xc[~g]
    explained = _logistic(xb[g]).mean() - _logistic(xb[~g]).mean()
    gap = y[g].mean() - y[~g].mean()
    n_c, n_r = len(Xcmp), len(Xref)
    m = min(n_c, n_r)
    K = len(term_cols)
    contrib = np.zeros(K)
    # per-term contributions to the linear predictor, term-major (K, n), columns
    # pre-sorted by predicted probability so that a subsample taken in index
    # order is ranked
    Ccmp = np.vstack([Xcmp[:, c] @ beta[c] for c in term_cols])
    Cref = np.vstack([Xref[:, c] @ beta[c] for c in term_cols])
    Ccmp = Ccmp[:, np.argsort(xb[g], kind="stable")]
    Cref = Cref[:, np.argsort(xb[~g], kind="stable")]

    R = n_orderings

    def ranked_subsamples(size: int) -> np.ndarray:
        """R subsamples of m row positions each, in increasing (= rank) order."""
        if size == m:
            return np.broadcast_to(np.arange(size), (R, size))
        keys = rng.random((R, size))
        return np.sort(np.argpartition(keys, m - 1, axis=1)[:, :m], axis=1)

    sub_c = ranked_subsamples(n_c)  # (R, m) positions; the (K, R, m) gathers are
    sub_r = ranked_subsamples(n_r)  # taken one term at a time, never materialised
    orders = rng.permuted(np.tile(np.arange(K), (R, 1)), axis=1)  # (R, K)
    lin = a + Ccmp.sum(axis=0)[sub_c]  # (R, m)
    cur = _logistic(lin).mean(axis=1)
    for step in range(K):
        k = orders[:, step]
        lin += Cref[k[:, None], sub_r] - Ccmp[k[:, None], sub_c]
        nxt = _logistic(lin).mean(axis=1)
        np.add.at(contrib, k, cur - nxt)
        cur = nxt
    contrib /= max(n_orderings, 1)
    return {
        "gap": gap,
        "explained": explained,
        "unexplained": gap - explained,
        "contributions": contrib,
        "coefficients": b,
        "full_coefficients": full,
    }


def _fairlie_influence(y, Xc, g, full, pooled):
    """Influence values of the unexplained and explained parts (analytic inference).

    The unexplained part is ``theta = mean_c(u) - mean_r(u)`` with
    ``u = y - F(a + x b)``, a smooth function of group means and of the logit
    estimate ``gamma`` (pooled model with the group indicator, or reference
    group only). Its influence value for observation ``i`` is

    ``phi_i = [c_i](u_i - u_c) / n_c - [r_i](u_i - u_r) / n_r + D' A^-1 psi_i``

    with ``psi_i = z_i (y_i - p_i)`` the logit score, ``A`` the logit
    information and ``D = d theta / d gamma = mean_r(f z0) - mean_c(f z0)``
    (zero for the group indicator, at which predictions are not taken). The
    explained part is the gap minus ``theta``, so its influence values are
    those of the gap minus ``phi``. Returns ``(phi, phi_explained)``.

    The residuals of the rows of the logit fit (``y_i - p_i`` and ``u_i``) are
    divided by ``1 - h_i``, ``h_i`` the leverage of row ``i`` in the weighted
    fit: the influence values are then the one-step approximation of the
    jackknife (leave-one-out) change of ``theta`` (HC3, MacKinnon & White
    1985; Long & Ervin 2000) instead of the plain sandwich, whose fitted
    residuals are too small when the model holds many parameters for its
    sample — first-choice commune fixed effects: the plain version rejected
    8.9 % instead of 5 % for a group of about 290 demands.
    """
    n = len(y)
    ones = np.ones((n, 1))
    Z0 = np.hstack([ones, Xc])
    b = np.delete(full, 1) if pooled else full
    F0 = _logistic(Z0 @ b)
    f0 = F0 * (1.0 - F0)
    D = (f0[~g, None] * Z0[~g]).mean(axis=0) - (f0[g, None] * Z0[g]).mean(axis=0)
    if pooled:
        Z = np.hstack([ones, g[:, None].astype(float), Xc])
        D = np.insert(D, 1, 0.0)
        in_fit = np.ones(n, dtype=bool)
    else:
        Z, in_fit = Z0, ~g
    pz = _logistic(Z @ full)
    w = pz * (1.0 - pz)
    A = (Z[in_fit] * w[in_fit, None]).T @ Z[in_fit]
    lever = np.linalg.solve(A, D)  # A symmetric: D' A^-1 = (A^-1 D)'
    jack = np.where(in_fit, 1.0 / np.maximum(1.0 - _leverages(Z, w, A), _MIN_ONE_MINUS_H), 1.0)
    resid = np.where(in_fit, y - pz, 0.0) * jack
    u = (y - F0) * jack
    n_c, n_r = g.sum(), (~g).sum()
    own = np.where(g, (u - u[g].mean()) / n_c, -(u - u[~g].mean()) / n_r)
    phi = own + (Z @ lever) * resid
    gap_if = np.where(g, (y - y[g].mean()) / n_c, -(y - y[~g].mean()) / n_r)
    return phi, gap_if - phi


_MIN_ONE_MINUS_H = 1e-3
"""Floor of ``1 - h`` in the jackknife scaling (a row fitted exactly by its own
fixed effect has ``h`` close to 1)."""


def _leverages(Z: np.ndarray, w: np.ndarray, A: np.ndarray, *, chunk: int = 65_536) -> np.ndarray:
    """Diagonal of the weighted hat matrix ``W^1/2 Z A^-1 Z' W^1/2`` of a logit fit.

    ``h_i = w_i z_i' A^-1 z_i``, computed by blocks of rows (memory ``chunk x p``).
    """
    A_inv = np.linalg.inv(A)
    h = np.empty(len(Z))
    for start in range(0, len(Z), chunk):
        block = Z[start : start + chunk]
        h[start : start + chunk] = np.einsum("ij,ij->i", block @ A_inv, block)
    return w * h


def _two_sample_se(phi: np.ndarray, g: np.ndarray) -> float:
    """SE of a sum of influence values with both group sizes fixed (within-group variance)."""
    var = 0.0
    for m in (g, ~g):
        k = int(m.sum())
        if k > 1:
            v = phi[m]
            var += k / (k - 1) * float(np.sum((v - v.mean()) ** 2))
    return math.sqrt(var)


def fairlie(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: Any,
    compared: Any,
    controls: Sequence[str] | str,
    inference: str = "analytic",
    n_boot: int = 0,
    n_orderings: int = 50,
    pooled: bool = True,
    alpha: float = 0.05,
    random_state: int | np.random.Generator | None = None,
) -> TestResult:
    """Fairlie non-linear decomposition of a gap in a binary outcome.

    With logit coefficients ``b`` (pooled model, or reference group only),
    the gap ``ȳ_c - ȳ_r`` splits into

    * explained = ``mean_c F(x b) - mean_r F(x b)`` (full samples),
    * unexplained = gap - explained.

    The explained part is shared among the controls by Fairlie's sequential
    replacement: a random subsample of the larger group, of the size of the
    smaller one, is drawn; both samples are ranked by predicted probability and
    matched rank to rank; the controls of the compared observations are then
    replaced one term at a time by those of their matched reference
    observation, in a random order, and each term is credited with the change
    of the mean predicted probability. Contributions are averaged over
    ``n_orderings`` draws (subsample and order), as Stata ``fairlie, ro reps()``.
    They sum exactly to the explained part *on the matched samples*
    (``details["explained_matched"]``), which approximates the full-sample
    explained part.

    Inference on the unexplained and explained parts is analytic by default:
    both are smooth functions of the two group means and of the logit
    estimate, so their standard errors come from influence values (the
    sandwich of the stacked estimating equations: sampling of the outcome and
    controls in each group *and* of the logit coefficients, with both group
    sizes fixed), with the residuals of the logit fit rescaled by their
    leverage (one-step jackknife, HC3), so that a model with many controls —
    commune fixed effects — does not understate them. This is the
    first-order equivalent of the bootstrap resampling within groups, at the
    cost of one fit instead of hundreds;
    ``inference="bootstrap"`` keeps the percentile bootstrap. The per-term
    contributions, which depend on random subsampling and orderings, get
    bootstrap intervals only (``n_boot > 0``).

    Parameters
    ----------
    df : DataFrame
    outcome : str
        Binary outcome.
    group : str
    reference, compared : scalar
        The two levels of ``group`` compared (both required).
    controls : sequence of str
        Covariates; a categorical control is one term (its indicators are
        switched together).
    inference : {"analytic", "bootstrap"}, default "analytic"
        Standard error and interval of the unexplained and explained parts:
        influence values (Wald interval) or percentile bootstrap (``n_boot``
        replicates, at least 2).
    n_boot : int, default 0
        Bootstrap replicates (resampling within each group) for the
        intervals of the contributions, and of the headline parts with
        ``inference="bootstrap"``; 0 for none.
    n_orderings : int, default 50
        Random subsample/ordering draws for the contributions.
    pooled : bool, default True
        Coefficients from the logit on both groups **with a group indicator**
        (predictions at the reference level; Fortin 2008, Jann 2008) — else
        from the reference group alone.
    alpha : float, default 0.05
    random_state : int or Generator, optional
        Seed of the subsampling, orderings and bootstrap.

    Returns
    -------
    TestResult
        ``estimate`` = unexplained part of the gap (``estimate_name =
        "unexplained_gap"``) with its Wald (analytic) or percentile
        (bootstrap) CI; ``statistic`` = ``(unexplained / SE)^2`` (df 1) and
        its normal p-value.
        ``details``: ``gap``, ``explained``, ``explained_matched``,
        ``unexplained``, ``explained_share`` and ``unexplained_share`` (of the
        gap), ``explained_ci``, ``explained_se``, ``unexplained_se``,
        ``contributions`` (DataFrame per term: ``contribution, se, ci_low,
        ci_high``; NaN intervals without bootstrap), ``coefficients``,
        ``n_by_group``, ``inference``, ``n_boot_failed``.

    References
    ----------
    .. [1] Fairlie, R. W. (1999). The absence of the African-American owned
       business. *J. Labor Economics* 17(1), 80–108.
    .. [2] Fairlie, R. W. (2005). An extension of the Blinder–Oaxaca
       decomposition technique to logit and probit models. *J. Economic and
       Social Measurement* 30, 305–316.
    .. [3] Jann, B. (2006). fairlie: Stata module to generate nonlinear
       decomposition of binary outcome differentials.
    .. [4] Fortin, N. M. (2008). The gender wage gap among young adults in the
       United States. *J. Human Resources* 43(4), 884–918.
    .. [5] Newey, W. K. and McFadden, D. (1994). Large sample estimation and
       hypothesis testing. *Handbook of Econometrics* IV, ch. 36, section 6
       (two-step estimators).
    """
    check_option("inference", inference, ["analytic", "bootstrap"])
    n_boot = check_int("n_boot", n_boot, minimum=0)
    if inference == "bootstrap" and n_boot < 2:
        raise ArgumentError(
            "L'argument `n_boot` doit valoir au moins 2 avec inference='bootstrap'."
        )
    n_orderings = check_int("n_orderings", n_orderings, minimum=1)
    check_option("pooled", pooled, [True, False])
    alpha = check_alpha(alpha)
    rng = np.random.default_rng(random_state)
    ref, cmp, controls, Xc_df, terms, g, y, warns = _prepare(
        df, outcome, group, reference, compared, controls, binary=True
    )
    if Xc_df.shape[1] == 0:
        warns.append("Aucun contrôle utilisable : décomposition impossible.")
        return TestResult(
            name="fairlie",
            method="décomposition non linéaire de Fairlie",
            estimate_name="unexplained_gap",
            n=len(y),
            groups=(ref, cmp),
            alpha=alpha,
            warnings=tuple(warns),
        )
    cols = list(Xc_df.columns)
    term_names = list(terms)
    term_cols = [[cols.index(c) for c in terms[t]] for t in term_names]
    Xc = Xc_df.to_numpy(dtype="float64")
    name, method = "fairlie", "décomposition non linéaire de Fairlie (logit"
    method += ", coefficients poolés)" if pooled else ", coefficients du groupe de référence)"
    n_c, n_r = int(g.sum()), int((~g).sum())
    base = dict(
        name=name,
        method=method,
        estimate_name="unexplained_gap",
        n=len(y),
        groups=(ref, cmp),
        alpha=alpha,
    )
    if n_c == 0 or n_r == 0:
        empty = cmp if n_c == 0 else ref
        warns.append(f"Le groupe {empty!r} n'a aucune observation : décomposition impossible.")
        return TestResult(**base, warnings=tuple(warns))
    # Hundreds of small refits: a multi-threaded BLAS only adds synchronisation
    # (up to 100x slower on a busy 2-core machine), so one thread is used.
    with single_thread():
        est = _fairlie_once(y, Xc, g, term_cols, pooled, n_orderings, rng)
        if est is None:
            warns.append(
                "Le modèle logit ne peut pas être estimé (résultat constant ou séparation "
                "complète) : décomposition impossible."
            )
            return TestResult(**base, warnings=tuple(warns))
        boots = []
        idx_c, idx_r = np.nonzero(g)[0], np.nonzero(~g)[0]
        failed = 0
        for _ in range(n_boot):
            ii = np.concatenate([rng.choice(idx_c, n_c), rng.choice(idx_r, n_r)])
            b = _fairlie_once(y[ii], Xc[ii], g[ii], term_cols, pooled, n_orderings, rng)
            if b is None:
                failed += 1
                continue
            boots.append(b)
    if failed:
        warns.append(f"{failed} réplication(s) bootstrap sur {n_boot} n'ont pas pu être estimées.")
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]

    def summ(values):
        if len(values) < 2:
            return math.nan, math.nan, math.nan
        v = np.asarray(values)
        lo, hi = np.percentile(v, q)
        return float(np.std(v, ddof=1)), float(lo), float(hi)

    if inference == "bootstrap":
        se_u, lo_u, hi_u = summ([b["unexplained"] for b in boots])
        se_e, lo_e, hi_e = summ([b["explained"] for b in boots])
    else:
        phi_u, phi_e = _fairlie_influence(y, Xc, g, est["full_coefficients"], pooled)
        zc = float(sps.norm.ppf(1 - alpha / 2))
        se_u, se_e = _two_sample_se(phi_u, g), _two_sample_se(phi_e, g)
        lo_u, hi_u = est["unexplained"] - zc * se_u, est["unexplained"] + zc * se_u
        lo_e, hi_e = est["explained"] - zc * se_e, est["explained"] + zc * se_e
    rows = []
    for k, t in enumerate(term_names):
        s, lo, hi = summ([b["contributions"][k] for b in boots])
        rows.append(
            {
                "term": t,
                "contribution": float(est["contributions"][k]),
                "se": s,
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    gap = float(est["gap"])
    share = (lambda x: x / gap) if gap != 0 else (lambda x: math.nan)
    stat = (est["unexplained"] / se_u) ** 2 if se_u and not math.isnan(se_u) else math.nan
    coef_names = ["const", *cols]
    details = {
        "gap": gap,
        "explained": float(est["explained"]),
        "explained_matched": float(np.sum(est["contributions"])),
        "unexplained": float(est["unexplained"]),
        "explained_share": share(float(est["explained"])),
        "unexplained_share": share(float(est["unexplained"])),
        "explained_se": se_e,
        "explained_ci": (lo_e, hi_e),
        "unexplained_se": se_u,
        "contributions": pd.DataFrame(rows).set_index("term"),
        "coefficients": dict(zip(coef_names, map(float, est["coefficients"]), strict=True)),
        "pooled": pooled,
        "n_by_group": {ref: n_r, cmp: n_c},
        "inference": inference,
        "n_boot": n_boot,
        "n_boot_failed": failed,
        "n_orderings": n_orderings,
    }
    return TestResult(
        **base,
        statistic=float(stat),
        df=1.0,
        p_value=float(sps.chi2.sf(stat, 1)) if not math.isnan(stat) else math.nan,
        estimate=float(est["unexplained"]),
        ci_low=lo_u,
        ci_high=hi_u,
        warnings=tuple(warns),
        details=details,
    )


def _ols(y: np.ndarray, X: np.ndarray) -> tuple[np.ndarray, int]:
    b, _, rank, _ = np.linalg.lstsq(X, y, rcond=None)
    return b, int(rank)


def _oaxaca_once(y, X, g, reference_coefficients):
    """Components of the decomposition on one sample (X includes the constant)."""
    Xc_, Xr_ = X[g], X[~g]
    bc, rk_c = _ols(y[g], Xc_)
    br, rk_r = _ols(y[~g], Xr_)
    mc, mr = Xc_.mean(axis=0), Xr_.mean(axis=0)
    if reference_coefficients == "pooled":
        bp, _ = _ols(y, np.column_stack([X, g.astype(float)]))
        bs = bp[:-1]
    elif reference_coefficients == "reference":
        bs = br
    else:
        bs = bc
    dx = mc - mr
    return {
        "gap": float(y[g].mean() - y[~g].mean()),
        "explained_by": dx * bs,
        "unexplained_by": mc * (bc - bs) + mr * (bs - br),
        "endowments_by": dx * br,
        "coefficients_by": mr * (bc - br),
        "interaction_by": dx * (bc - br),
        "full_rank": rk_c == X.shape[1] and rk_r == X.shape[1],
        "beta": {"reference": br, "compared": bc, "decomposition": bs},
    }


def oaxaca_blinder(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: Any,
    compared: Any,
    controls: Sequence[str] | str,
    reference_coefficients: str = "pooled",
    kind: str = "twofold",
    n_boot: int = 200,
    alpha: float = 0.05,
    random_state: int | np.random.Generator | None = None,
) -> TestResult:
    """Oaxaca–Blinder decomposition of a gap in a continuous outcome.

    With OLS coefficients ``b_c``, ``b_r`` of each group and means ``x̄_c``,
    ``x̄_r`` (constant included), the gap ``ȳ_c - ȳ_r = x̄_c'b_c - x̄_r'b_r``:

    * twofold, with non-discriminatory coefficients ``b*``:
      explained ``(x̄_c - x̄_r)'b*``, unexplained ``x̄_c'(b_c - b*) + x̄_r'(b* - b_r)``;
      ``b*`` = pooled OLS **with a group indicator** (``"pooled"``, Jann's
      ``pooled`` option, Fortin 2008), ``b_r`` (``"reference"``) or ``b_c``
      (``"compared"``);
    * threefold, from the reference group's viewpoint: endowments
      ``(x̄_c - x̄_r)'b_r``, coefficients ``x̄_r'(b_c - b_r)``, interaction
      ``(x̄_c - x̄_r)'(b_c - b_r)``.

    Standard errors are bootstrap (resampling within groups).

    Parameters
    ----------
    df : DataFrame
    outcome : str
        Numeric outcome.
    group : str
    reference, compared : scalar
    controls : sequence of str
        Categorical controls become treatment-contrast indicators; their
        per-term contributions sum the indicators.
    reference_coefficients : {"pooled", "reference", "compared"}
    kind : {"twofold", "threefold"}
    n_boot : int, default 200
    alpha : float, default 0.05
    random_state : int or Generator, optional

    Returns
    -------
    TestResult
        ``estimate`` = unexplained part (twofold) or coefficients effect
        (threefold), with the bootstrap percentile CI; ``statistic`` =
        ``(estimate / SE)^2`` (df 1). ``details``: ``gap`` and each component
        (``explained``/``unexplained`` or ``endowments``/``coefficients``/
        ``interaction``) with ``<component>_se`` and ``<component>_ci``,
        ``by_term`` (DataFrame of per-term components), ``betas`` (OLS
        coefficients of each group and the ones used for the decomposition).

    References
    ----------
    .. [1] Oaxaca, R. (1973). Male-female wage differentials in urban labor
       markets. *International Economic Review* 14, 693–709.
    .. [2] Blinder, A. S. (1973). Wage discrimination: reduced form and
       structural estimates. *J. Human Resources* 8, 436–455.
    .. [3] Jann, B. (2008). The Blinder–Oaxaca decomposition for linear
       regression models. *Stata Journal* 8(4), 453–479.
    """
    check_option(
        "reference_coefficients", reference_coefficients, ["pooled", "reference", "compared"]
    )
    check_option("kind", kind, ["twofold", "threefold"])
    n_boot = check_int("n_boot", n_boot, minimum=0)
    alpha = check_alpha(alpha)
    rng = np.random.default_rng(random_state)
    ref, cmp, controls, Xc_df, terms, g, y, warns = _prepare(
        df, outcome, group, reference, compared, controls, binary=False
    )
    cols = ["const", *Xc_df.columns]
    X = np.column_stack([np.ones(len(y)), Xc_df.to_numpy(dtype="float64")])
    n_c, n_r = int(g.sum()), int((~g).sum())
    comps = (
        ["explained", "unexplained"]
        if kind == "twofold"
        else [
            "endowments",
            "coefficients",
            "interaction",
        ]
    )
    head = "unexplained" if kind == "twofold" else "coefficients"
    method = f"décomposition d'Oaxaca–Blinder ({'double' if kind == 'twofold' else 'triple'}"
    if kind == "twofold":
        method += f", coefficients {reference_coefficients}"
    method += ")"
    base = dict(
        name="oaxaca_blinder",
        method=method,
        estimate_name=f"{head}_gap",
        n=len(y),
        groups=(ref, cmp),
        alpha=alpha,
    )
    if min(n_c, n_r) < X.shape[1]:
        warns.append(
            f"Trop peu d'observations dans un groupe ({ref!r} : {n_r}, {cmp!r} : {n_c}) pour "
            f"estimer {X.shape[1]} coefficients : décomposition impossible."
        )
        return TestResult(**base, warnings=tuple(warns))
    est = _oaxaca_once(y, X, g, reference_coefficients)
    if not est["full_rank"]:
        warns.append(
            "Matrice de plan non inversible dans un groupe (un contrôle constant dans ce "
            "groupe) : coefficients de norme minimale, décomposition fragile."
        )
    idx_c, idx_r = np.nonzero(g)[0], np.nonzero(~g)[0]
    boot = {c: [] for c in comps}
    for _ in range(n_boot):
        ii = np.concatenate([rng.choice(idx_c, n_c), rng.choice(idx_r, n_r)])
        b = _oaxaca_once(y[ii], X[ii], g[ii], reference_coefficients)
        for c in comps:
            boot[c].append(b[f"{c}_by"].sum())
    q = [100 * alpha / 2, 100 * (1 - alpha / 2)]
    details: dict[str, Any] = {"gap": est["gap"]}
    for c in comps:
        details[c] = float(est[f"{c}_by"].sum())
        if n_boot >= 2:
            details[f"{c}_se"] = float(np.std(boot[c], ddof=1))
            details[f"{c}_ci"] = tuple(map(float, np.percentile(boot[c], q)))
        else:
            details[f"{c}_se"], details[f"{c}_ci"] = math.nan, (math.nan, math.nan)
    if n_boot < 2:
        warns.append("Moins de deux réplications bootstrap : pas d'erreur-type.")
    by = {}
    for c in comps:
        v = est[f"{c}_by"]
        row = {"const": float(v[0])}
        for t, tc in terms.items():
            row[t] = float(sum(v[cols.index(x)] for x in tc))
        by[c] = row
    details["by_term"] = pd.DataFrame(by)
    details["betas"] = {
        k: dict(zip(cols, map(float, v), strict=True)) for k, v in est["beta"].items()
    }
    details["reference_coefficients"] = reference_coefficients
    details["kind"] = kind
    details["n_by_group"] = {ref: n_r, cmp: n_c}
    se = details[f"{head}_se"]
    val = details[head]
    stat = (val / se) ** 2 if se and not math.isnan(se) else math.nan
    return TestResult(
        **base,
        statistic=float(stat),
        df=1.0,
        p_value=float(sps.chi2.sf(stat, 1)) if not math.isnan(stat) else math.nan,
        estimate=val,
        ci_low=details[f"{head}_ci"][0],
        ci_high=details[f"{head}_ci"][1],
        warnings=tuple(warns),
        details=details,
    )
