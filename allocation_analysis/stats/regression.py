"""Logistic regression of a binary outcome on the group and controls (docs/methods.md §2).

The design of the controls is built as R's default treatment contrasts do:
numeric (and boolean) columns enter as they are; object, string and
categorical columns become 0/1 indicators of every level except the first
(the first category for a ``category`` column, otherwise the first in sorted
order), which is the reference level of that control.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats as sps
from statsmodels.tools.sm_exceptions import PerfectSeparationError

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import ResultSet, TestResult
from allocation_analysis.stats._separation import is_separated
from allocation_analysis.stats._validation import (
    check_alpha,
    check_binary,
    check_columns,
    check_dataframe,
    resolve_groups,
)
from allocation_analysis.text import fmt_num

__all__ = ["ClusterReference", "cluster_reference", "logit_disparity"]

logger = logging.getLogger(__name__)

#: VIF above which a collinearity warning is attached to the result.
VIF_THRESHOLD = 10.0

#: Number of clusters below which a "few clusters" warning is attached.
FEW_CLUSTERS = 20


@dataclass(frozen=True)
class ClusterReference:
    """Reference distribution of a Wald test with a cluster-robust variance.

    Student's t with ``G - 1`` degrees of freedom, ``G`` the number of
    clusters; see :func:`cluster_reference`.

    Attributes
    ----------
    n_clusters : int
        Number of clusters ``G`` (at least 2).
    df : int
        Degrees of freedom of the reference t distribution, ``G - 1``.
    """

    n_clusters: int
    df: int

    def critical(self, alpha: float) -> float:
        """Two-sided critical value ``t_{G-1}(1 - alpha/2)``."""
        return float(sps.t.ppf(1 - alpha / 2, self.df))

    def p_value(self, t: float) -> float:
        """Two-sided p-value ``2 P(T_{G-1} > |t|)``."""
        return float(2 * sps.t.sf(abs(t), self.df))

    @property
    def label(self) -> str:
        """French name of the reference, e.g. ``"loi de Student à 11 degrés de liberté"``."""
        ddl = "degré" if self.df == 1 else "degrés"
        return f"loi de Student à {self.df} {ddl} de liberté"

    @property
    def warnings(self) -> list[str]:
        """The French "few clusters" warning when ``G < FEW_CLUSTERS``."""
        if self.n_clusters >= FEW_CLUSTERS:
            return []
        return [
            f"peu de grappes : G = {self.n_clusters} (< {FEW_CLUSTERS}). La p-valeur et "
            f"l'intervalle de confiance utilisent la loi de Student à {self.df} "
            f"{'degré' if self.df == 1 else 'degrés'} de liberté plutôt que la loi normale, "
            "mais peuvent rester trop optimistes, surtout si les grappes sont de tailles très "
            "inégales ou si le groupe comparé est concentré dans quelques grappes ; un "
            "bootstrap sauvage par grappes est plus sûr."
        ]


def cluster_reference(n_clusters: int) -> ClusterReference:
    """Small-sample reference distribution of a cluster-robust Wald test.

    The cluster-robust (sandwich) variance is consistent as the number of
    clusters ``G`` grows, but with few clusters it is biased downwards and
    noisy (it is a sum of ``G`` outer products), so a z-test against the
    normal distribution rejects too often, clearly so below a few dozen
    clusters. Referring ``b / se`` to Student's t with ``G - 1`` degrees of
    freedom, the practice recommended by Cameron & Miller [1]_ (§VI.C, and the
    default of Stata's ``regress, vce(cluster)``), here applied by analogy to
    the logit and Cox models, removes most of this excess while keeping the
    variance unchanged (in ``tests/stats/test_few_clusters.py``, a null with 15
    clusters: 8.7 % rejections at 5 % with the normal, 6.5 % with t(14)); Bell &
    McCaffrey [2]_ and Imbens & Kolesár [3]_ show that the right degrees of
    freedom are data-dependent and can be much smaller than ``G - 1`` when the
    clusters are unbalanced or the regressor of interest is concentrated in a
    few clusters, which is why a warning is added below ``FEW_CLUSTERS`` clusters
    rather than trusting the t reference blindly.

    The t reference is used whatever ``G`` and not only below a threshold: it
    tends to the normal as ``G`` grows (``t_89(0.975) = 1.987`` against
    ``1.960``, an interval 1.4 % wider with 90 communes), so applying it
    everywhere costs almost nothing with many clusters, and avoids a jump in
    the p-values and intervals when a sample crosses an arbitrary threshold.

    Parameters
    ----------
    n_clusters : int
        Number of clusters ``G`` in the fitted sample (at least 2).

    Returns
    -------
    ClusterReference

    References
    ----------
    .. [1] Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to
       cluster-robust inference. *J. Human Resources* 50(2), 317–372.
    .. [2] Bell, R. M. and McCaffrey, D. F. (2002). Bias reduction in standard
       errors for linear regression with multi-stage samples. *Survey
       Methodology* 28(2), 169–181.
    .. [3] Imbens, G. W. and Kolesár, M. (2016). Robust standard errors in
       small samples: some practical advice. *Review of Economics and
       Statistics* 98(4), 701–712.
    """
    g = int(n_clusters)
    if g < 2:
        raise ArgumentError("Au moins deux grappes sont nécessaires.")
    return ClusterReference(n_clusters=g, df=g - 1)


def _as_controls(controls: Sequence[str] | str) -> list[str]:
    if isinstance(controls, str):
        return [controls]
    return list(controls)


def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s.dtype)
        or pd.api.types.is_string_dtype(s.dtype)
    )


def design_controls(df: pd.DataFrame, controls: Sequence[str]) -> tuple[pd.DataFrame, dict]:
    """Numeric design of the control columns (treatment contrasts).

    Parameters
    ----------
    df : DataFrame
        Rows without missing values in ``controls``.
    controls : sequence of str
        Control columns.

    Returns
    -------
    X : DataFrame
        float64 columns: numeric controls under their own name, categorical
        controls as ``"<column>=<level>"`` indicators of every level except the
        reference one.
    terms : dict
        ``control -> list of design columns`` (used to group the indicators of
        one categorical control).
    """
    parts: list[pd.DataFrame] = []
    terms: dict[str, list[str]] = {}
    for col in controls:
        s = df[col]
        if _is_categorical(s):
            # one pass over the rows: codes of the text values, then one indicator
            # column per level but the first (categories in their order, others sorted)
            codes, uniques = pd.factorize(s.astype(str))
            present = set(uniques.tolist())
            if isinstance(s.dtype, pd.CategoricalDtype):
                levels = [str(c) for c in s.cat.categories if str(c) in present]
            else:
                levels = sorted(present)
            position = {lv: j for j, lv in enumerate(levels)}
            to_level = np.array([position[str(u)] for u in uniques], dtype=np.int64)
            level_of_row = to_level[codes] if len(codes) else codes
            names = [f"{col}={lv}" for lv in levels[1:]]
            block = np.zeros((len(s), len(names)), dtype="float64")
            rows = np.flatnonzero(level_of_row > 0)
            block[rows, level_of_row[rows] - 1] = 1.0
            parts.append(pd.DataFrame(block, index=df.index, columns=names))
            terms[col] = names
        else:
            parts.append(pd.DataFrame({col: s.to_numpy(dtype="float64")}, index=df.index))
            terms[col] = [col]
    if not parts:
        return pd.DataFrame(index=df.index), terms
    return pd.concat(parts, axis=1), terms


def drop_missing(df: pd.DataFrame, columns: Sequence[str]) -> tuple[pd.DataFrame, list[str]]:
    """Rows of ``df`` complete in ``columns`` and a warning when some were dropped."""
    cols = list(dict.fromkeys(c for c in columns if c is not None))
    mask = df[cols].notna().all(axis=1)
    n_drop = int((~mask).sum())
    notes = []
    if n_drop:
        msg = (
            f"{n_drop} ligne(s) écartée(s) sur {len(df)} à cause de valeurs manquantes "
            f"dans les colonnes {cols}."
        )
        logger.info(msg)
        notes.append(msg)
    return df.loc[mask], notes


def vif(X: pd.DataFrame) -> dict[str, float]:
    """Variance inflation factors of the non-constant columns of a design.

    ``VIF_j = 1 / (1 - R_j^2)`` where ``R_j^2`` comes from the least-squares
    regression (with intercept) of column *j* on the other columns; computed
    as the diagonal of the inverse correlation matrix.

    References
    ----------
    .. [1] Fox, J. and Monette, G. (1992). Generalized collinearity
       diagnostics. JASA 87(417), 178–183.
    """
    cols = list(X.columns)
    if len(cols) < 2:
        return {c: 1.0 for c in cols}
    A = X.to_numpy(dtype="float64")
    n = len(A)
    mean = A.mean(axis=0)
    # covariance from centred blocks of rows: no copy of the whole design
    C = np.zeros((A.shape[1], A.shape[1]))
    for lo in range(0, n, 1 << 18):
        B = A[lo : lo + (1 << 18)] - mean
        C += B.T @ B
    C /= n
    sd = np.sqrt(np.clip(np.diag(C), 0.0, None))
    sd[sd <= 1e-12 * np.maximum(1.0, np.abs(mean))] = 0.0  # constant up to rounding
    out = {c: math.inf for c, s in zip(cols, sd, strict=True) if s == 0}
    keep = [i for i, s in enumerate(sd) if s > 0]
    if len(keep) >= 2:
        R = C[np.ix_(keep, keep)] / np.outer(sd[keep], sd[keep])
        try:
            diag = np.diag(np.linalg.inv(R))
        except np.linalg.LinAlgError:
            diag = np.full(len(keep), math.inf)
        for i, v in zip(keep, diag, strict=True):
            out[cols[i]] = float(v) if v > 0 else math.inf
    elif keep:
        out[cols[keep[0]]] = 1.0
    return {c: out[c] for c in cols}


def _empty(name: str, method: str, estimate_name: str, groups, n, warns, alpha) -> TestResult:
    return TestResult(
        name=name,
        method=method,
        estimate_name=estimate_name,
        n=int(n),
        groups=groups,
        warnings=tuple(warns),
        alpha=alpha,
    )


def logit_disparity(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: Any,
    compared: Any = None,
    controls: Sequence[str] | str = (),
    cluster: str | None = None,
    alpha: float = 0.05,
) -> TestResult | ResultSet:
    """Adjusted odds ratio of a binary outcome, compared vs reference group.

    Fits by maximum likelihood the logistic model
    ``logit P(outcome=1) = b0 + b_g * [group == compared] + controls``
    on the rows of the ``reference`` and ``compared`` levels only, and reports
    ``exp(b_g)`` with its Wald confidence interval and Wald test.

    Parameters
    ----------
    df : DataFrame
        One row per unit (demand, allocation …).
    outcome : str
        Binary column (0/1, booleans, ``"oui"/"non"``).
    group : str
        Column of the groups compared.
    reference : scalar
        Reference level of ``group``.
    compared : scalar, optional
        Compared level. When ``None``, one result per level other than the
        reference is returned in a :class:`ResultSet` (even when there is only one).
    controls : sequence of str, optional
        Adjustment columns. Object, string and categorical columns become
        indicators of every level but the first (first category, else first in
        sorted order), as R's treatment contrasts.
    cluster : str, optional
        Column of clusters (e.g. first-choice commune). The covariance is then
        the cluster-robust sandwich with the small-sample factor
        ``G/(G-1) * (N-1)/(N-K)``, identical to R
        ``sandwich::vcovCL(fit, cluster=, type="HC1")`` (statsmodels
        ``cov_type="cluster"`` with its default correction), and the p-value
        and the confidence intervals of the odds ratio and of the marginal
        effect refer ``b / se`` to Student's t with ``G - 1`` degrees of
        freedom instead of the normal (:func:`cluster_reference`, after
        Cameron & Miller [2]_), whatever ``G``; a warning is added when
        ``G < 20``.
    alpha : float, default 0.05
        1 - confidence level.

    Returns
    -------
    TestResult or ResultSet
        ``estimate`` = odds ratio (``estimate_name="odds_ratio"``),
        ``statistic`` = Wald chi-square ``(b_g / se)^2`` with ``df = 1``
        (with ``cluster``, the same ``t^2`` is referred to ``F(1, G - 1)``).
        ``details``: ``coef``, ``se``, ``z`` (the t statistic with
        ``cluster``), ``coefficients`` (all the model's
        coefficients), ``ame`` / ``ame_se`` / ``ame_ci`` (average marginal
        effect of the group: mean over the sample of the predicted probability
        with the group set to ``compared`` minus set to ``reference``, with a
        delta-method SE using the same covariance as the OR), ``vif``
        (variance inflation factors of the design), ``n_clusters`` (``G``),
        ``df_reference`` (``G - 1``, ``None`` without ``cluster``),
        ``covariance`` (``"model"`` or ``"cluster"``).

    Notes
    -----
    Rows with a missing value in any model column are dropped, with a warning
    giving their number. Degenerate data give NaN estimates with a warning
    rather than an exception: an empty group, an outcome constant in the
    sample, and complete or quasi-complete separation (a statsmodels
    separation warning, a non-converged fit, a fitted probability within
    1e-8 of 0 or 1, or a standardised coefficient ``|b_j| * sd(x_j)`` above
    7.5, see :func:`allocation_analysis.stats._separation.is_separated`).
    These rules do not depend on the units of the controls: a control in
    shares or in percent gives the same fit and the same verdict. A VIF above
    10 adds a collinearity warning.

    References
    ----------
    .. [1] Agresti, A. (2013). *Categorical Data Analysis*, 3rd ed., Wiley, ch. 5–6.
    .. [2] Cameron, A. C. and Miller, D. L. (2015). A practitioner's guide to
       cluster-robust inference. *J. Human Resources* 50(2), 317–372.
    .. [3] Zeileis, A., Köll, S. and Graham, N. (2020). Various versatile
       variances: an object-oriented implementation of clustered covariances
       in R. *J. Statistical Software* 95(1).
    .. [4] Albert, A. and Anderson, J. A. (1984). On the existence of maximum
       likelihood estimates in logistic regression models. *Biometrika* 71, 1–10.
    """
    check_dataframe(df)
    controls = _as_controls(controls)
    check_columns(df, outcome=outcome, group=group, controls=controls, cluster=cluster)
    alpha = check_alpha(alpha)
    if group in controls or outcome in controls:
        raise ArgumentError("L'argument `controls` ne doit contenir ni `group` ni `outcome`.")
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    y_all = check_binary(df, outcome, name="outcome")
    if compared is None:
        return ResultSet(
            tuple(
                logit_disparity(
                    df,
                    outcome=outcome,
                    group=group,
                    reference=reference,
                    compared=lv,
                    controls=controls,
                    cluster=cluster,
                    alpha=alpha,
                )
                for lv in levels
            )
        )
    ref, cmp = str(reference), levels[0]
    return _logit_one(df, y_all, outcome, group, ref, cmp, controls, cluster, alpha)


def drop_degenerate_levels(
    X: pd.DataFrame, terms: dict[str, list[str]], degenerate: Callable[[np.ndarray], bool]
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, int]]]:
    """Drop categorical control levels whose rows are ``degenerate``, with those rows.

    A level is either one of the ``"<column>=<level>"`` indicators or the
    reference level of a categorical control (rows where all its indicators are
    0). When the reference level goes, the first remaining indicator of that
    control becomes the reference. Repeated until no such level is left; a
    level holding every remaining row is kept.

    Parameters
    ----------
    X : DataFrame
        Design with the indicator columns of ``terms``.
    terms : dict
        Control name -> its design columns (:func:`design_controls`).
    degenerate : callable
        Given the boolean mask of a level's remaining rows, whether the level
        must go (e.g. its outcome is constant, or it has no event).

    Returns
    -------
    X, keep, dropped
        The design without the dropped indicators (all rows still there),
        the boolean mask of kept rows and the dropped ``(level, n_rows)`` pairs.
    """
    keep = np.ones(len(X), dtype=bool)
    dropped: list[tuple[str, int]] = []
    changed = True
    while changed:
        changed = False
        for col, names in terms.items():
            dummies = [c for c in names if c in X.columns and "=" in c]
            if not dummies and not any("=" in c for c in names):
                continue  # numeric control
            block = X[dummies].to_numpy() if dummies else np.zeros((len(X), 0))
            levels = [(c, block[:, j] == 1.0) for j, c in enumerate(dummies)]
            levels.append((f"{col}=<référence>", block.sum(axis=1) == 0.0))
            for label, rows in levels:
                ones = keep & rows
                k = int(ones.sum())
                if k and k < keep.sum() and degenerate(ones):
                    keep &= ~ones
                    if label in X.columns:
                        X = X.drop(columns=[label])
                    elif dummies:
                        X = X.drop(columns=[dummies[0]])  # new reference level
                    dropped.append((label, k))
                    changed = True
                    break
            if changed:
                break
    return X, keep, dropped


def _drop_perfect_predictors(
    X: pd.DataFrame, y: np.ndarray, terms: dict[str, list[str]]
) -> tuple[pd.DataFrame, np.ndarray, list[tuple[str, int]]]:
    """Drop control levels whose rows all share the same outcome (as Stata), with those rows.

    Returns the reduced design (kept rows only), the boolean mask of kept rows
    and the dropped ``(level, n_rows)`` pairs.
    """
    X, keep, dropped = drop_degenerate_levels(X, terms, lambda m: np.unique(y[m]).size == 1)
    return X.loc[keep], keep, dropped


def _gram_full_rank(A: np.ndarray) -> bool:
    """Whether the design ``A`` has full column rank, judged on ``A'A`` (p x p).

    The Gram matrix squares the condition number, so a nearly collinear but
    full-rank design may be judged deficient: callers use this only to skip a
    costlier exact check when the answer is yes.
    """
    return int(np.linalg.matrix_rank(A.T @ A, hermitian=True)) == A.shape[1]


def _logit_one(df, y_all, outcome, group, ref, cmp, controls, cluster, alpha) -> TestResult:
    name = "logit_disparity"
    method = "régression logistique (maximum de vraisemblance), OR de Wald"
    if cluster is not None:
        method += ", variance robuste par grappes (HC1)"
    g_txt = df[group].astype("string")
    used = list(dict.fromkeys(c for c in (group, *controls, cluster) if c is not None))
    sub = df.loc[(g_txt == ref) | (g_txt == cmp), used].copy()  # only the model's columns
    sub["__y__"] = y_all.loc[sub.index]
    sub, warns = drop_missing(sub, ["__y__", group, *controls, cluster])
    groups = (ref, cmp)
    n = len(sub)
    g = (sub[group].astype("string") == cmp).to_numpy(dtype="float64")
    y = sub["__y__"].to_numpy(dtype="float64")
    n_cmp, n_ref = int(g.sum()), int(n - g.sum())
    if n_cmp == 0 or n_ref == 0:
        empty = cmp if n_cmp == 0 else ref
        warns.append(f"Le groupe {empty!r} n'a aucune observation : odds ratio non défini.")
        return _empty(name, method, "odds_ratio", groups, n, warns, alpha)
    if y.min() == y.max():
        warns.append(
            "La variable de résultat est constante dans l'échantillon : odds ratio non défini."
        )
        return _empty(name, method, "odds_ratio", groups, n, warns, alpha)
    Xc, _terms = design_controls(sub, controls)
    X = pd.concat(
        [
            pd.DataFrame({"const": 1.0, "group": g}, index=sub.index),
            Xc,
        ],
        axis=1,
    )
    # constant design columns (a control level absent from this subset) are dropped
    const_cols = [c for c in Xc.columns if Xc[c].nunique() <= 1]
    if const_cols:
        X = X.drop(columns=const_cols)
        warns.append(f"Colonnes de contrôle constantes retirées du modèle : {const_cols}.")
    # A control indicator that predicts the outcome perfectly (e.g. a typology in
    # which nobody was placed in a QPV) carries no information on the group's
    # odds ratio: like Stata's logit, drop the indicator and its observations,
    # and say so, instead of failing on quasi-separation.
    X, keep, dropped = _drop_perfect_predictors(X, y, _terms)
    if dropped:
        sub, g, y = sub.loc[keep], g[keep], y[keep]
        n = len(sub)
        warns.append(
            "Indicatrices de contrôle prédisant parfaitement le résultat retirées avec leurs "
            "observations (comme le fait Stata) : "
            + ", ".join(f"{c} ({k} obs.)" for c, k in dropped)
            + "."
        )
        const_after = [c for c in X.columns if c != "const" and X[c].nunique() <= 1]
        X = X.drop(columns=const_after)
        n_cmp, n_ref = int(g.sum()), int(n - g.sum())
        if n_cmp == 0 or n_ref == 0 or y.min() == y.max():
            warns.append("Après ce retrait, l'odds ratio n'est plus défini.")
            return _empty(name, method, "odds_ratio", groups, n, warns, alpha)
    vifs = vif(X.drop(columns=["const"]))
    high = {k: v for k, v in vifs.items() if v > VIF_THRESHOLD}
    if high:
        warns.append(
            "Colinéarité forte (VIF > 10) : "
            + ", ".join(f"{k} ({fmt_num(v, significant=3)})" for k, v in high.items())
            + ". Les erreurs-types de ces termes sont peu fiables."
        )
    # separation on the group itself: the outcome is constant within a group
    sep_group = any(np.unique(y[g == v]).size == 1 for v in (0.0, 1.0))
    cov_type, cov_kwds, n_clusters, ref_dist = "nonrobust", {}, None, None
    if cluster is not None:
        codes, uniq = pd.factorize(sub[cluster])
        n_clusters = len(uniq)
        if n_clusters < 2:
            warns.append("Moins de deux grappes : variance robuste par grappes non définie.")
            return _empty(name, method, "odds_ratio", groups, n, warns, alpha)
        cov_type, cov_kwds = "cluster", {"groups": codes}
        ref_dist = cluster_reference(n_clusters)
        method = method.replace("(HC1)", f"(HC1, G = {n_clusters})") + ", " + ref_dist.label
    fit = None
    sep_msgs: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            A = X.to_numpy(dtype="float64")
            # statsmodels' own rank check is a QR of the whole design (1.8 s at the
            # MEL scale with commune fixed effects); the Gram matrix tells the same
            # for a full-rank design, and any doubt falls back to statsmodels' check
            model = sm.Logit(y, A, check_rank=not _gram_full_rank(A))
            fit = model.fit(
                disp=0, maxiter=100, method="newton", cov_type=cov_type, cov_kwds=cov_kwds
            )
        # singular Hessian or perfect prediction (older statsmodels raise on separation)
        except (np.linalg.LinAlgError, ValueError, PerfectSeparationError) as exc:
            sep_msgs.append(str(exc))
    for w in caught:
        cls = type(w.message).__name__
        flagged = ("Separation", "ConvergenceWarning", "HessianInversion")
        if any(f in cls for f in flagged) or "separation" in str(w.message).lower():
            sep_msgs.append(cls)
    separated = sep_group or bool(sep_msgs) or fit is None
    if (
        fit is not None
        and not separated
        and (
            not bool(fit.mle_retvals.get("converged", True))
            or is_separated(A, np.asarray(fit.params), model="logit")
        )
    ):
        separated = True
    if separated:
        what = (
            f"le résultat est constant dans le groupe {cmp!r} ou {ref!r}"
            if sep_group
            else "un contrôle ou le groupe prédit parfaitement le résultat"
        )
        warns.append(
            "Séparation complète ou quasi complète détectée ("
            + what
            + ") : l'odds ratio n'est pas estimable par maximum de vraisemblance."
        )
        return _empty(name, method, "odds_ratio", groups, n, warns, alpha)
    params = np.asarray(fit.params)
    cov = np.asarray(fit.cov_params())
    b, se = float(params[1]), float(math.sqrt(cov[1, 1]))
    z = b / se
    if ref_dist is None:
        zc = float(sps.norm.ppf(1 - alpha / 2))
        p = float(2 * sps.norm.sf(abs(z)))
    else:  # cluster-robust variance: Student's t with G - 1 df (cluster_reference)
        zc = ref_dist.critical(alpha)
        p = ref_dist.p_value(z)
        warns.extend(ref_dist.warnings)
    # average marginal effect (average discrete change), delta-method SE
    # average marginal effect of the group: every row predicted as compared (group = 1)
    # and as reference (group = 0), without copying the design
    eta = A @ params
    grp = A[:, 1]
    p1 = 1 / (1 + np.exp(-(eta + (1.0 - grp) * params[1])))
    p0 = 1 / (1 + np.exp(-(eta - grp * params[1])))
    ame = float(np.mean(p1 - p0))
    w1, w0 = p1 * (1 - p1), p0 * (1 - p0)
    grad = A.T @ (w1 - w0) / len(A)
    grad[1] = (
        w1.mean()
    )  # the group column is 1 in every row of the first prediction, 0 in the other
    ame_se = float(math.sqrt(grad @ cov @ grad))
    cols = ["const", "group", *[c for c in X.columns if c not in ("const", "group")]]
    details = {
        "coef": b,
        "se": se,
        "z": z,
        "coefficients": dict(zip(cols, map(float, params), strict=True)),
        "std_errors": dict(zip(cols, map(float, np.sqrt(np.diag(cov))), strict=True)),
        "ame": ame,
        "ame_se": ame_se,
        "ame_ci": (ame - zc * ame_se, ame + zc * ame_se),
        "vif": vifs,
        "covariance": "cluster" if cluster is not None else "model",
        "n_clusters": n_clusters,
        "df_reference": None if ref_dist is None else ref_dist.df,
        "n_by_group": {ref: n_ref, cmp: n_cmp},
        "events_by_group": {ref: int(y[g == 0].sum()), cmp: int(y[g == 1].sum())},
    }
    return TestResult(
        name=name,
        method=method,
        statistic=z * z,
        df=1.0,
        p_value=p,
        estimate=math.exp(b),
        estimate_name="odds_ratio",
        ci_low=math.exp(b - zc * se),
        ci_high=math.exp(b + zc * se),
        n=n,
        groups=(ref, cmp),
        warnings=tuple(warns),
        details=details,
        alpha=alpha,
    )
