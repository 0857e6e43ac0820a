"""Conditional logistic regression of a binary outcome within strata.

The candidates competing for the same dwelling (one offer, ``id_offre``) form
a stratum; the model compares, within each stratum, who obtained the outcome
(the attribution) and who did not, so that everything shared by the
candidates of an offer (the dwelling, its commune, the date, the reservation
quota …) drops out without being modelled. The likelihood is the exact
conditional likelihood given the number of successes in each stratum, as R
``survival::clogit(method = "exact")``.

The controls are coded as in :func:`allocation_analysis.stats.regression.logit_disparity`
(treatment contrasts; see :func:`allocation_analysis.stats.regression.design_controls`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import TestResult
from allocation_analysis.stats._separation import (
    MAX_STANDARDIZED_COEF,
    is_separated,
    standardized_coefficients,
)
from allocation_analysis.stats._validation import (
    check_alpha,
    check_binary,
    check_columns,
    check_dataframe,
    resolve_groups,
)
from allocation_analysis.stats.regression import design_controls, drop_missing

__all__ = ["conditional_logit_disparity"]

#: Maximum number of Newton–Raphson iterations.
MAX_ITER = 50

#: Number of floats of the second-moment array above which strata are processed in chunks.
_CHUNK_FLOATS = 1 << 22


@dataclass(frozen=True)
class _Block:
    """Strata sharing the same size ``k`` and number of cases ``m`` (after complement).

    ``X`` holds the design of their rows, centred within each stratum and
    multiplied by -1 when the cases and the controls were swapped
    (``m > k / 2``), ``case_sum`` the sum of ``X`` over the (possibly swapped)
    cases of each stratum.
    """

    X: np.ndarray  # (S, k, p)
    case_sum: np.ndarray  # (S, p)
    m: int


def _blocks(X: np.ndarray, y: np.ndarray, codes: np.ndarray) -> list[_Block]:
    """Group the strata by ``(size, cases)`` for the vectorised recursion.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design, already centred within strata.
    y : ndarray of shape (n,)
        0/1 outcome; every stratum has ``0 < cases < size``.
    codes : ndarray of shape (n,)
        Stratum codes ``0 .. S-1``.
    """
    order = np.argsort(codes, kind="stable")
    X, y, codes = X[order], y[order], codes[order]
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    sizes = np.diff(np.r_[starts, len(codes)])
    cases = np.add.reduceat(y, starts).astype(int)
    swap = 2 * cases > sizes
    m_eff = np.where(swap, sizes - cases, cases)
    sign = np.where(np.repeat(swap, sizes), -1.0, 1.0)
    Xs = X * sign[:, None]
    ys = np.where(np.repeat(swap, sizes), 1.0 - y, y)
    out = []
    p = X.shape[1]
    for k, m in sorted(set(zip(sizes.tolist(), m_eff.tolist(), strict=True))):
        sel = np.flatnonzero((sizes == k) & (m_eff == m))
        rows = (starts[sel][:, None] + np.arange(k)[None, :]).ravel()
        Xb = Xs[rows].reshape(len(sel), k, p)
        yb = ys[rows].reshape(len(sel), k)
        out.append(_Block(X=Xb, case_sum=np.einsum("sk,skp->sp", yb, Xb), m=m))
    return out


def _block_terms(
    block: _Block, beta: np.ndarray, need_info: bool
) -> tuple[float, np.ndarray, np.ndarray]:
    """Log-likelihood, score and information of one block of strata.

    The conditional probability of the observed cases of a stratum of size
    ``k`` with ``m`` cases is ``exp(sum_cases eta) / B(m, k)``, with ``B(m, k)``
    the sum of ``exp(sum_S eta)`` over every subset ``S`` of ``m`` rows
    (Gail, Lubin and Rubinstein 1981: ``B(m, j) = B(m, j-1) + exp(eta_j) B(m-1,
    j-1)``). Here ``B`` is carried on the log scale and its first two
    derivatives as the mean ``d`` and second moment ``h`` of ``sum_S x`` under
    the distribution ``P(S) ∝ exp(sum_S eta)``; adding a row is then a convex
    combination with weight ``pi = exp(eta_j) B(m-1, j-1) / B(m, j)`` in
    ``[0, 1]``, which neither overflows nor underflows whatever the size of
    the stratum and the spread of the linear predictor.
    """
    X, m = block.X, block.m
    S, k, p = X.shape
    eta = X @ beta
    logB = np.full((S, m + 1), -np.inf)
    logB[:, 0] = 0.0
    d = np.zeros((S, m + 1, p))
    h = np.zeros((S, m + 1, p, p)) if need_info else None
    for j in range(k):
        K = min(j + 1, m)
        x = X[:, j, :]
        a = eta[:, j, None] + logB[:, :K]
        new_logB = np.logaddexp(logB[:, 1 : K + 1], a)
        pi = np.exp(a - new_logB)[..., None]
        d_prev = d[:, :K]
        new_d = (1.0 - pi) * d[:, 1 : K + 1] + pi * (d_prev + x[:, None, :])
        if h is not None:
            cross = x[:, None, :, None] * d_prev[..., None, :]
            inc = (
                h[:, :K]
                + cross
                + np.swapaxes(cross, -1, -2)
                + (x[:, :, None] * x[:, None, :])[:, None]
            )
            h[:, 1 : K + 1] = (1.0 - pi[..., None]) * h[:, 1 : K + 1] + pi[..., None] * inc
        logB[:, 1 : K + 1] = new_logB
        d[:, 1 : K + 1] = new_d
    mean = d[:, m]
    ll = float(np.sum(block.case_sum @ beta - logB[:, m]))
    score = (block.case_sum - mean).sum(axis=0)
    if h is None:
        return ll, score, np.zeros((p, p))
    info = (h[:, m] - mean[:, :, None] * mean[:, None, :]).sum(axis=0)
    return ll, score, info


def _chunks(block: _Block) -> list[_Block]:
    n_s, _, p = block.X.shape
    per = max(1, _CHUNK_FLOATS // max(1, (block.m + 1) * p * p))
    if n_s <= per:
        return [block]
    return [
        _Block(X=block.X[i : i + per], case_sum=block.case_sum[i : i + per], m=block.m)
        for i in range(0, n_s, per)
    ]


def _loglik(
    blocks: list[_Block], beta: np.ndarray, need_info: bool = True
) -> tuple[float, np.ndarray, np.ndarray]:
    """Conditional log-likelihood, score and observed information at ``beta``."""
    p = beta.size
    ll, score, info = 0.0, np.zeros(p), np.zeros((p, p))
    for block in blocks:
        for part in _chunks(block):
            a, b, c = _block_terms(part, beta, need_info)
            ll += a
            score += b
            info += c
    return ll, score, info


@dataclass(frozen=True)
class _Fit:
    beta: np.ndarray
    loglik: float
    score: np.ndarray
    info: np.ndarray
    converged: bool
    iterations: int


def _newton(blocks: list[_Block], p: int, scales: np.ndarray) -> _Fit:
    """Newton–Raphson with step halving from ``beta = 0``.

    Converged when the log-likelihood no longer changes (relative 1e-12) and
    every step, measured per standard deviation of its column, is below
    1e-8, so that the test does not depend on the units of the covariates.
    """
    beta = np.zeros(p)
    ll, U, info = _loglik(blocks, beta)
    scales = np.where(scales > 0, scales, 1.0)
    for it in range(1, MAX_ITER + 1):
        try:
            step = np.linalg.solve(info, U)
        except np.linalg.LinAlgError:
            return _Fit(beta, ll, U, info, False, it)
        new = beta + step
        ll_new, U_new, info_new = _loglik(blocks, new)
        halvings = 0
        while (not np.isfinite(ll_new) or ll_new < ll - 1e-12 * max(1.0, abs(ll))) and (
            halvings < 30
        ):
            step = step / 2
            new = beta + step
            ll_new, U_new, info_new = _loglik(blocks, new)
            halvings += 1
        if not np.isfinite(ll_new):
            return _Fit(beta, ll, U, info, False, it)
        flat = abs(ll_new - ll) <= 1e-12 * max(1.0, abs(ll))
        small = float(np.max(np.abs(step) * scales)) < 1e-8
        beta, ll, U, info = new, ll_new, U_new, info_new
        if flat and small:
            return _Fit(beta, ll, U, info, True, it)
    return _Fit(beta, ll, U, info, False, MAX_ITER)


def _within_centre(X: np.ndarray, codes: np.ndarray, n_strata: int) -> np.ndarray:
    """``X`` minus its mean within each stratum."""
    counts = np.bincount(codes, minlength=n_strata).astype("float64")
    sums = np.zeros((n_strata, X.shape[1]))
    np.add.at(sums, codes, X)
    return X - (sums / counts[:, None])[codes]


def _independent_columns(Xw: np.ndarray, tol: float = 1e-9) -> list[int]:
    """Columns of ``Xw`` kept in order (the first one always) while linearly independent.

    Gram–Schmidt on the columns scaled to unit norm; a column whose residual
    norm is below ``tol`` is aliased with the columns before it (R's
    ``coxph`` gives it an ``NA`` coefficient).
    """
    kept: list[int] = []
    basis: list[np.ndarray] = []
    for j in range(Xw.shape[1]):
        v = Xw[:, j].astype("float64")
        norm = float(np.linalg.norm(v))
        if norm == 0.0:
            continue
        v = v / norm
        for _ in range(2):  # re-orthogonalise once for stability
            for q in basis:
                v = v - (q @ v) * q
        r = float(np.linalg.norm(v))
        if r > tol:
            kept.append(j)
            basis.append(v / r)
    return kept


def _chi2(statistic: float, df: int) -> dict[str, float]:
    if not math.isfinite(statistic):
        return {"statistic": math.nan, "df": float(df), "p_value": math.nan}
    return {
        "statistic": float(statistic),
        "df": float(df),
        "p_value": float(sps.chi2.sf(max(statistic, 0.0), df)),
    }


def _quadratic(U: np.ndarray, info: np.ndarray) -> float:
    try:
        return float(U @ np.linalg.solve(info, U))
    except np.linalg.LinAlgError:
        return math.nan


def conditional_logit_disparity(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: Any,
    compared: Any,
    strata: str,
    controls: Sequence[str] | str = (),
    alpha: float = 0.05,
) -> TestResult:
    """Conditional odds ratio of a binary outcome within strata, compared vs reference group.

    Fits by maximum conditional likelihood the model
    ``logit P(outcome=1) = a_s + b_g * [group == compared] + controls``
    with one free intercept ``a_s`` per stratum (e.g. per offer ``id_offre``:
    the candidates competing for the same dwelling), on the rows of the
    ``reference`` and ``compared`` levels only. Conditioning on the number of
    successes of each stratum removes the ``a_s``: the likelihood of a
    stratum is the probability that the observed rows, rather than any other
    subset of the same size, are the successes, ``exp(sum_cases eta) / sum_S
    exp(sum_S eta)`` (the exact conditional likelihood, R
    ``survival::clogit(method = "exact")``; with one success per stratum, the
    multinomial choice model of McFadden [2]_). It reports ``exp(b_g)`` with
    its Wald confidence interval and Wald test.

    Parameters
    ----------
    df : DataFrame
        One row per candidate (or per unit of a stratum).
    outcome : str
        Binary column (0/1, booleans, ``"oui"/"non"``).
    group : str
        Column of the groups compared.
    reference : scalar
        Reference level of ``group``.
    compared : scalar
        Compared level of ``group``.
    strata : str
        Column of the strata (matched sets), e.g. ``"id_offre"``.
    controls : sequence of str, optional
        Adjustment columns, coded as in
        :func:`allocation_analysis.stats.regression.logit_disparity` (object,
        string and categorical columns become indicators of every level but
        the first). Only their variation within strata is used: a column
        constant within every stratum (a characteristic of the offer) is
        absorbed by the strata and dropped with a warning.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    TestResult
        ``estimate`` = conditional odds ratio (``estimate_name="odds_ratio"``),
        ``statistic`` = Wald chi-square ``(b_g / se)^2`` with ``df = 1``,
        ``n`` = rows of the two groups without missing values (strata without
        information included, as R's ``clogit`` counts them).
        ``details``:

        * ``coef``, ``se``, ``z``: log odds ratio, its standard error (inverse
          of the observed information) and Wald statistic;
        * ``coefficients``, ``std_errors``: every coefficient (``"group"`` then
          the design columns of the controls, e.g. ``"composition=seul"``);
        * ``score_test``: score (Rao) test of ``b_g = 0`` adjusted for the
          controls, ``U' I^-1 U`` at ``b_g = 0`` and the controls at their
          maximum without the group (``statistic``, ``df``, ``p_value``), the
          log-rank test of the stratified Cox model with exact ties that the
          conditional logit is. Without controls it is the Mantel–Haenszel
          statistic of the strata's 2×2 tables without continuity correction
          (McNemar's for pairs with one success);
        * ``score_test_global``: score test of every coefficient at 0 (R
          ``summary(fit)$sctest``);
        * ``lr_test``: likelihood ratio test of the group (``2 (l_1 - l_0)``);
        * ``loglik``, ``loglik_null`` (every coefficient at 0),
          ``loglik_controls`` (model without the group);
        * ``n_strata``, ``n_strata_informative`` (« strates informatives »:
          outcome and group both vary), ``n_strata_outcome_varies`` (strata that
          enter the likelihood), ``n_strata_uninformative`` (``n_strata -
          n_strata_informative``), ``n_rows_used`` (rows of the strata that
          enter the likelihood), ``n_events``;
        * ``n_by_group``, ``events_by_group``, ``iterations``, ``converged``.

    Notes
    -----
    A stratum whose outcome does not vary (one candidate, nobody or everybody
    housed) has a conditional likelihood of 1 and is left out. A stratum in
    which every row has the same group tells nothing about the group but still
    enters the likelihood when its outcome varies, through the controls, as in
    R; ``n_strata_informative`` counts the strata where both vary. Rows of
    other levels of ``group`` are left out before conditioning: the model is
    then the conditional model of the successes among the two groups' rows of
    each stratum (for one success per stratum, the choice among them, by the
    independence of irrelevant alternatives of the model [2]_). Rows with a
    missing value in a model column are dropped, with a warning.

    The denominator of each stratum's likelihood sums over every subset of
    its rows of the observed number of successes; it is computed by the
    recursion of Gail, Lubin and Rubinstein [3]_ in ``O(k m)`` operations for
    ``k`` rows and ``m`` successes (the cases and the controls are swapped when
    ``m > k / 2``), in a normalised form that is exact and numerically stable
    for strata of tens of rows. The maximum is found by Newton–Raphson with
    step halving, starting from 0.

    Degenerate data give NaN estimates with a French warning, never an
    exception: an empty group, no informative stratum, and (quasi-)complete
    separation, i.e. a maximum at infinity: the cases of every informative
    stratum are, as far as the stratum allows, all of one group; or a
    non-converged fit; or a standardised coefficient ``|b_j| * sd_w(x_j)``
    above 7.5 (``sd_w`` the standard deviation within strata) or a spread of
    the within-stratum linear predictor above about 36.8 (a conditional odds
    ratio of 1e16 between two rows), see
    :func:`allocation_analysis.stats._separation.is_separated`. These rules,
    like the convergence test, do not depend on the units of the controls: a
    control in years or in centuries gives the same fit and the same verdict.

    References
    ----------
    .. [1] Breslow, N. E. and Day, N. E. (1980). *Statistical Methods in
       Cancer Research, vol. 1: The Analysis of Case-Control Studies*, IARC,
       ch. 7.
    .. [2] McFadden, D. (1974). Conditional logit analysis of qualitative
       choice behavior. In P. Zarembka (ed.), *Frontiers in Econometrics*,
       Academic Press, 105–142.
    .. [3] Gail, M. H., Lubin, J. H. and Rubinstein, L. V. (1981). Likelihood
       calculations for matched case-control studies and survival studies
       with tied death times. *Biometrika* 68(3), 703–707.
    .. [4] Therneau, T. M. and Grambsch, P. M. (2000). *Modeling Survival
       Data: Extending the Cox Model*, Springer (``clogit`` as a stratified
       Cox model with exact ties).
    .. [5] Albert, A. and Anderson, J. A. (1984). On the existence of maximum
       likelihood estimates in logistic regression models. *Biometrika* 71, 1–10.
    """
    check_dataframe(df)
    controls = [controls] if isinstance(controls, str) else list(controls)
    check_columns(df, outcome=outcome, group=group, strata=strata, controls=controls)
    alpha = check_alpha(alpha)
    if group in controls or outcome in controls or strata in controls:
        raise ArgumentError(
            "L'argument `controls` ne doit contenir ni `group`, ni `outcome`, ni `strata`."
        )
    if strata in (group, outcome):
        raise ArgumentError(
            "L'argument `strata` doit désigner une autre colonne que `group` et `outcome`."
        )
    if compared is None:
        raise ArgumentError(
            "L'argument `compared` est obligatoire : indiquer la modalité de "
            f"{group!r} comparée à la référence."
        )
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    y_all = check_binary(df, outcome, name="outcome")
    ref, cmp = str(reference), levels[0]
    return _clogit(df, y_all, group, ref, cmp, strata, controls, alpha)


def _clogit(df, y_all, group, ref, cmp, strata, controls, alpha) -> TestResult:
    name = "conditional_logit_disparity"
    method = (
        f"régression logistique conditionnelle stratifiée sur {strata!r} "
        "(vraisemblance conditionnelle exacte), OR de Wald"
    )
    g_txt = df[group].astype("string")
    used = list(dict.fromkeys((group, strata, *controls)))
    sub = df.loc[(g_txt == ref) | (g_txt == cmp), used].copy()
    sub["__y__"] = y_all.loc[sub.index]
    sub, warns = drop_missing(sub, ["__y__", group, strata, *controls])
    n = len(sub)
    groups = (ref, cmp)
    g = (sub[group].astype("string") == cmp).to_numpy(dtype="float64")
    y = sub["__y__"].to_numpy(dtype="float64")
    codes, uniq = pd.factorize(sub[strata], sort=False)
    n_strata = len(uniq)
    size = np.bincount(codes, minlength=n_strata)
    cases = np.bincount(codes, weights=y, minlength=n_strata)
    n_g1 = np.bincount(codes, weights=g, minlength=n_strata)
    y_varies = (cases > 0) & (cases < size)
    g_varies = (n_g1 > 0) & (n_g1 < size)
    n_inf = int((y_varies & g_varies).sum())
    n_cmp, n_ref = int(g.sum()), int(n - g.sum())
    details: dict[str, Any] = {
        "n_strata": n_strata,
        "n_strata_informative": n_inf,
        "n_strata_outcome_varies": int(y_varies.sum()),
        "n_strata_uninformative": n_strata - n_inf,
        "n_rows_used": int(size[y_varies].sum()),
        "n_events": int(y.sum()),
        "n_by_group": {ref: n_ref, cmp: n_cmp},
        "events_by_group": {ref: int(y[g == 0].sum()), cmp: int(y[g == 1].sum())},
    }

    def empty(*extra: str) -> TestResult:
        return TestResult(
            name=name,
            method=method,
            estimate_name="odds_ratio",
            n=n,
            groups=groups,
            warnings=tuple(warns) + extra,
            details=details,
            alpha=alpha,
        )

    if n_cmp == 0 or n_ref == 0:
        missing = cmp if n_cmp == 0 else ref
        return empty(f"Le groupe {missing!r} n'a aucune observation : odds ratio non défini.")
    if n_inf == 0:
        return empty(
            f"Aucune strate informative sur {n_strata} : dans chaque strate, le résultat ou le "
            "groupe est constant (un seul candidat, personne ou tout le monde retenu, ou "
            "candidats tous du même groupe) ; l'odds ratio conditionnel n'est pas défini."
        )
    # the rows of the strata whose outcome varies: the others have likelihood 1
    keep = y_varies[codes]
    Xc, _terms = design_controls(sub, controls)  # levels from all rows, as R's factors
    names = ["group", *Xc.columns]
    X = np.column_stack([g, Xc.to_numpy(dtype="float64")])[keep]
    yk = y[keep]
    ck = (np.cumsum(y_varies) - 1)[codes[keep]]  # strata renumbered in the order of `codes`
    n_used = int(y_varies.sum())
    Xw = _within_centre(X, ck, n_used)
    # a control without variation within strata is absorbed by the strata; one
    # aliased with the group and the controls before it has no coefficient (R: NA)
    spread = np.abs(Xw).max(axis=0)
    level = np.abs(X).max(axis=0)
    constant = [j for j in range(1, X.shape[1]) if spread[j] <= 1e-10 * level[j]]
    if constant:
        warns.append(
            "Colonnes de contrôle sans variation à l'intérieur des strates retirées du modèle "
            f"(leur effet est absorbé par les strates) : {[names[j] for j in constant]}."
        )
    cols = [j for j in range(X.shape[1]) if j not in constant]
    kept = [cols[i] for i in _independent_columns(Xw[:, cols])]
    aliased = [names[j] for j in cols if j not in kept]
    if 0 not in kept:  # pragma: no cover - impossible when a stratum is informative
        return empty("Le groupe ne varie pas à l'intérieur des strates : odds ratio non défini.")
    if aliased:
        warns.append(
            "Colonnes de contrôle colinéaires (à l'intérieur des strates) avec le groupe ou "
            f"d'autres contrôles, retirées du modèle : {aliased}."
        )
    names = [names[j] for j in kept]
    Xw = Xw[:, kept]
    p = Xw.shape[1]
    scales = Xw.std(axis=0)
    # separation on the group itself: in every informative stratum the cases hold
    # as many (or as few) rows of the compared group as the stratum allows
    informative = (y_varies & g_varies)[y_varies]
    m_s = np.bincount(ck, weights=yk, minlength=n_used)
    k_s = np.bincount(ck, minlength=n_used)
    gk = g[keep]
    g1_s = np.bincount(ck, weights=gk, minlength=n_used)
    t_s = np.bincount(ck, weights=yk * gk, minlength=n_used)
    t_max = np.minimum(m_s, g1_s)[informative]
    t_min = np.maximum(0.0, m_s - (k_s - g1_s))[informative]
    t_obs = t_s[informative]
    if np.all(t_obs == t_max) or np.all(t_obs == t_min):
        who = cmp if np.all(t_obs == t_max) else ref
        return empty(
            "Séparation complète détectée (le groupe prédit parfaitement le résultat) : dans "
            f"chaque strate informative, les personnes retenues sont autant que possible du "
            f"groupe {who!r} ; l'odds ratio conditionnel n'est pas estimable par maximum de "
            "vraisemblance (il est infini ou nul)."
        )
    blocks = _blocks(Xw, yk, ck)
    fit = _newton(blocks, p, scales)
    details["iterations"] = fit.iterations
    details["converged"] = fit.converged
    if not fit.converged or is_separated(Xw, fit.beta, model="cox"):
        std = standardized_coefficients(Xw, fit.beta)
        over = [nm for nm, s in zip(names, std, strict=True) if not s <= MAX_STANDARDIZED_COEF]
        ctrl = [nm for nm in over if nm != "group"]
        if ctrl:
            what = ("le contrôle " if len(ctrl) == 1 else "les contrôles ") + ", ".join(ctrl)
            what += " (avec le groupe)" if "group" in over else ""
            hint = " Regrouper les modalités rares des contrôles peut aider."
        elif over:
            what, hint = "le groupe", ""
        else:
            what, hint = "une combinaison du groupe et des contrôles", ""
        return empty(
            f"Séparation complète ou quasi complète détectée : {what} prédit parfaitement le "
            "résultat à l'intérieur des strates (ou l'ajustement ne converge pas) ; l'odds "
            "ratio conditionnel n'est pas estimable par maximum de vraisemblance." + hint
        )
    try:
        cov = np.linalg.inv(fit.info)
    except np.linalg.LinAlgError:
        return empty("Matrice d'information singulière : odds ratio conditionnel non estimable.")
    b, se = float(fit.beta[0]), float(math.sqrt(cov[0, 0]))
    z = b / se
    zc = float(sps.norm.ppf(1 - alpha / 2))
    p_value = float(2 * sps.norm.sf(abs(z)))
    # score tests: of every coefficient at 0, and of the group at the controls' maximum
    ll0, U0, I0 = _loglik(blocks, np.zeros(p))
    if p > 1:
        ctrl_blocks = [
            _Block(X=bl.X[:, :, 1:], case_sum=bl.case_sum[:, 1:], m=bl.m) for bl in blocks
        ]
        fit_c = _newton(ctrl_blocks, p - 1, scales[1:])
        if fit_c.converged and not is_separated(Xw[:, 1:], fit_c.beta, model="cox"):
            at = np.r_[0.0, fit_c.beta]
            _, Uc, Ic = _loglik(blocks, at)
            score_stat, ll_c = _quadratic(Uc, Ic), fit_c.loglik
        else:
            score_stat, ll_c = math.nan, math.nan
            warns.append(
                "Le modèle sans le groupe ne converge pas (séparation sur un contrôle) : "
                "tests du score et du rapport de vraisemblance du groupe non calculés."
            )
    else:
        score_stat, ll_c = _quadratic(U0, I0), ll0
    details.update(
        {
            "coef": b,
            "se": se,
            "z": z,
            "coefficients": dict(zip(names, map(float, fit.beta), strict=True)),
            "std_errors": dict(zip(names, map(float, np.sqrt(np.diag(cov))), strict=True)),
            "score_test": _chi2(score_stat, 1),
            "score_test_global": _chi2(_quadratic(U0, I0), p),
            "lr_test": _chi2(2.0 * (fit.loglik - ll_c), 1),
            "loglik": fit.loglik,
            "loglik_null": ll0,
            "loglik_controls": ll_c,
        }
    )
    return TestResult(
        name=name,
        method=method,
        statistic=z * z,
        df=1.0,
        p_value=p_value,
        estimate=math.exp(b),
        estimate_name="odds_ratio",
        ci_low=math.exp(b - zc * se),
        ci_high=math.exp(b + zc * se),
        n=n,
        groups=groups,
        warnings=tuple(warns),
        details=details,
        alpha=alpha,
    )
