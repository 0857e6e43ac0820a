"""Segregation of two groups across units, with permutation inference.

Indices for a pair of groups *a* (``compared``) and *b* (``reference``)
spread over units *i* (communes, QPV / non-QPV, IRIS …), with
:math:`a_i, b_i` their counts in unit *i*, :math:`t_i = a_i + b_i`,
:math:`A = \\sum a_i`, :math:`B = \\sum b_i`, :math:`T = A + B`:

- dissimilarity (Duncan & Duncan 1955):
  :math:`D = \\tfrac12 \\sum_i |a_i/A - b_i/B|`;
- isolation of *a* (Bell 1954; Massey & Denton 1988):
  :math:`{}_aP_a = \\sum_i (a_i/A)(a_i/t_i)`;
- Theil's information index H (Theil & Finizza 1971): with the binary
  entropy :math:`E(p) = -p\\ln p - (1-p)\\ln(1-p)`, :math:`E = E(A/T)` and
  :math:`E_i = E(a_i/t_i)`, :math:`H = \\sum_i t_i (E - E_i)/(T E)`.

Inference: the *random label* null hypothesis (as pysal ``segregation``'s
``random_label`` approach): the group labels are permuted across
individuals, keeping every unit's size and both group totals. The p-value
is :math:`(M + 1)/(R + 1)` where *M* is the number of the *R* permuted
indices at least as large as the observed one (one-sided: segregation
higher than chance). Without weights the permuted unit counts
:math:`a_i^*` are drawn all at once from the multivariate hypergeometric
distribution, which is exactly the distribution of the counts under label
permutation; with weights the labels themselves are permuted (numpy,
vectorised by blocks of permutations).

Small units. Every index is biased upward when units hold few individuals:
even a random allocation leaves unequal shares by chance (Cortese, Falk and
Cohen 1976). Each result therefore gives, beside the raw index, its
expected value under random allocation (``details["expected_random"]``:
exact for the dissimilarity, from the hypergeometric distribution of each
unit's count; the mean of the permuted indices for the other two) and the
index corrected for it (``details["corrected"]``, Carrington and Troske
1997): :math:`(I - E)/(1 - E)` when :math:`I \\ge E`, :math:`(I - E)/E`
otherwise — the share of the possible segregation beyond what chance alone
gives, 0 for a random allocation.

References
----------
Cortese, C. F., Falk, R. F. and Cohen, J. K. (1976). Further considerations
on the methodological analysis of segregation indices. *American
Sociological Review*, 41(4), 630–637.

Carrington, W. J. and Troske, K. R. (1997). On measuring segregation in
samples with small units. *Journal of Business & Economic Statistics*,
15(4), 402–409.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import ResultSet, TestResult, package_results
from allocation_analysis.stats._validation import check_columns, check_int, resolve_groups
from allocation_analysis.text import fmt_float

__all__ = ["dissimilarity", "isolation", "theil_h"]

logger = logging.getLogger(__name__)

_BLOCK = 100  # permutations per block in the weighted case


def _dissimilarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    A = a.sum(axis=-1, keepdims=True)
    B = b.sum(axis=-1, keepdims=True)
    return 0.5 * np.abs(a / A - b / B).sum(axis=-1)


def _isolation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    t = a + b
    A = a.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(t > 0, a / np.where(t > 0, t, 1.0), 0.0)
    return (a / A * share).sum(axis=-1)


def _entropy(p: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        e = -(p * np.log(p) + (1 - p) * np.log1p(-p))
    return np.where((p <= 0) | (p >= 1), 0.0, e)


def _theil(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    t = a + b
    T = t.sum(axis=-1, keepdims=True)
    E = _entropy(a.sum(axis=-1, keepdims=True) / T)
    with np.errstate(divide="ignore", invalid="ignore"):
        pi = np.where(t > 0, a / np.where(t > 0, t, 1.0), 0.0)
    return (t * (E - _entropy(pi)) / (T * E)).sum(axis=-1)


_INDICES: dict[str, tuple[Callable[[np.ndarray, np.ndarray], np.ndarray], str]] = {
    "dissimilarity": (_dissimilarity, "Indice de dissimilarité de Duncan"),
    "isolation": (_isolation, "Indice d'isolement (xPx)"),
    "theil_h": (_theil, "Indice d'entropie de Theil (H)"),
}


def expected_dissimilarity(a: np.ndarray, b: np.ndarray) -> float:
    """Exact expected dissimilarity under random allocation of the labels.

    With unit sizes :math:`t_i` and group totals *A*, *B* fixed, the count of
    *a* in unit *i* is hypergeometric (*T* individuals, *A* of group *a*,
    :math:`t_i` drawn), so
    :math:`E[D] = \\tfrac12 \\sum_i \\sum_k P(a_i = k) |k/A - (t_i - k)/B|`.

    Parameters
    ----------
    a, b : ndarray
        Integer counts of the two groups per unit.

    Returns
    -------
    float
    """
    from scipy.stats import hypergeom

    t = np.rint(a + b).astype(np.int64)
    A, B = int(round(a.sum())), int(round(b.sum()))
    T = A + B
    total = 0.0
    for ti in t[t > 0]:
        k = np.arange(max(0, ti - B), min(ti, A) + 1)
        pmf = hypergeom.pmf(k, T, A, ti)
        total += float(np.sum(pmf * np.abs(k / A - (ti - k) / B)))
    return 0.5 * total


def corrected_index(index: float, expected: float) -> float:
    """Carrington–Troske index net of its value under random allocation.

    ``(I - E) / (1 - E)`` when ``I >= E``, ``(I - E) / E`` otherwise (NaN when
    undefined).
    """
    if not (math.isfinite(index) and math.isfinite(expected)):
        return math.nan
    if index >= expected:
        return (index - expected) / (1 - expected) if expected < 1 else math.nan
    return (index - expected) / expected if expected > 0 else math.nan


def _permuted_counts(
    unit_codes: np.ndarray,
    is_a: np.ndarray,
    w: np.ndarray | None,
    n_units: int,
    n_perm: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """(R, U) permuted counts of a and b under random labelling."""
    if w is None:
        t = np.bincount(unit_codes, minlength=n_units).astype(np.int64)
        A = int(is_a.sum())
        a = rng.multivariate_hypergeometric(t, A, size=n_perm, method="marginals").astype(float)
        return a, t[None, :] - a
    t = np.bincount(unit_codes, weights=w, minlength=n_units)
    out = np.empty((n_perm, n_units))
    n = unit_codes.size
    for start in range(0, n_perm, _BLOCK):
        r = min(_BLOCK, n_perm - start)
        labels = rng.permuted(np.broadcast_to(is_a, (r, n)), axis=1)
        idx = unit_codes[None, :] + n_units * np.arange(r)[:, None]
        out[start : start + r] = np.bincount(
            idx.ravel(), weights=(labels * w[None, :]).ravel(), minlength=r * n_units
        ).reshape(r, n_units)
    return out, t[None, :] - out


def _segregation(
    index: str,
    df: pd.DataFrame,
    *,
    group: str,
    unit: str,
    reference: Any,
    compared: Any,
    n_permutations: int,
    random_state: Any,
    weights: str | None,
) -> TestResult | ResultSet:
    check_columns(df, group=group, unit=unit, weights=weights)
    n_permutations = check_int("n_permutations", n_permutations, minimum=0)
    levels = resolve_groups(df, group=group, reference=reference, compared=compared)
    if not levels:
        raise ArgumentError(
            f"La colonne {group!r} n'a pas d'autre modalité que la référence {reference!r} : "
            "rien à comparer."
        )
    rng = np.random.default_rng(random_state)
    func, label = _INDICES[index]
    ref = str(reference)
    g_all = df[group].astype("string")
    results = []
    for lv in levels:
        warnings: list[str] = []
        keep = g_all.isin([lv, ref]).fillna(False).to_numpy(bool) & df[unit].notna().to_numpy()
        if weights is not None:
            wcol = pd.to_numeric(df[weights], errors="coerce").to_numpy(float)
            bad = keep & ~(np.isfinite(wcol) & (wcol >= 0))
            if bad.any():
                raise ArgumentError(
                    f"L'argument `weights` désigne la colonne {weights!r}, qui doit contenir "
                    "des poids positifs ou nuls sans valeur manquante."
                )
        n_missing_unit = int((g_all.isin([lv, ref]).fillna(False) & df[unit].isna()).sum())
        if n_missing_unit:
            warnings.append(
                f"{n_missing_unit} ligne(s) sans unité ignorée(s) "
                f"({n_missing_unit} row(s) without a unit ignored)."
            )
        sub_unit = df.loc[keep, unit]
        codes, uniques = pd.factorize(sub_unit, sort=True)
        is_a = (g_all[keep] == lv).to_numpy(bool)
        w = wcol[keep] if weights is not None else None
        U = len(uniques)
        wa = np.ones(is_a.size) if w is None else w
        a = np.bincount(codes, weights=wa * is_a, minlength=U)
        b = np.bincount(codes, weights=wa * ~is_a, minlength=U)
        A, B = float(a.sum()), float(b.sum())
        units = pd.DataFrame(
            {"unit": uniques.astype(str), "compared": a, "reference": b, "total": a + b}
        )
        details: dict[str, Any] = {"units": units, "n_units": U, "n_permutations": n_permutations}
        est = stat = p = math.nan
        if A == 0 or B == 0:
            empty = lv if A == 0 else ref
            warnings.append(
                f"Le groupe « {empty} » est absent des unités : indice non défini "
                f"(group '{empty}' is empty)."
            )
        else:
            est = float(func(a, b))
            stat = est
            if U < 2:
                warnings.append(
                    "Une seule unité : la ségrégation entre unités n'est pas mesurable "
                    "(a single unit)."
                )
            if n_permutations == 0:
                warnings.append(
                    "Aucune permutation demandée (n_permutations = 0) : p-valeur non calculée "
                    "(no permutation, no p-value)."
                )
            else:
                pa, pb = _permuted_counts(codes, is_a, w, U, n_permutations, rng)
                null = func(pa, pb)
                tol = 1e-12 * max(1.0, abs(est))
                M = int(np.sum(null >= est - tol))
                p = (M + 1) / (n_permutations + 1)
                details.update(
                    null_mean=float(null.mean()),
                    null_sd=float(null.std(ddof=1)) if n_permutations > 1 else math.nan,
                    null_quantiles={q: float(np.quantile(null, q)) for q in (0.025, 0.5, 0.975)},
                )
            if index == "dissimilarity" and w is None:
                expected = expected_dissimilarity(a, b)
            else:
                expected = details.get("null_mean", math.nan)
            details["expected_random"] = expected
            details["corrected"] = corrected_index(est, expected)
            if math.isfinite(expected) and est > 0 and expected > 0.5 * est:
                warnings.append(
                    f"Unités de petite taille : une répartition au hasard donnerait déjà un "
                    f"indice de {fmt_float(expected, digits=3)} (indice observé "
                    f"{fmt_float(est, digits=3)}) ; l'indice corrigé "
                    f"({fmt_float(details['corrected'], digits=3)}) mesure l'écart au hasard."
                )
        if index == "isolation" and A + B > 0:
            details["evenness_value"] = A / (A + B)
        results.append(
            TestResult(
                name=index,
                method=f"{label}, test de permutation des étiquettes de groupe "
                f"({n_permutations} permutations, unilatéral)",
                statistic=stat,
                p_value=p,
                estimate=est,
                estimate_name=index,
                n=int(keep.sum()),
                groups=(ref, lv),
                warnings=tuple(warnings),
                details=details,
            )
        )
    return package_results(results, compared)


_PARAMS_DOC = """
    Parameters
    ----------
    df : DataFrame
        One row per individual (e.g. per allocation).
    group : str
        Column of the groups (e.g. ``nationalite``).
    unit : str
        Column of the units (e.g. ``commune_logement``, ``logement_en_qpv``).
        Rows with a missing unit are ignored (with a warning).
    reference : scalar
        Reference group *b* (e.g. ``"francaise"``).
    compared : scalar or None
        Compared group *a*; ``None``: every other level, returned as a
        :class:`ResultSet` (even when the data hold a single other level). Only rows of the two groups are used.
    n_permutations : int, default 999
        Number *R* of random relabellings (0: no p-value).
    random_state : None, int or numpy Generator
        Seed of the permutations.
    weights : str, optional
        Column of non-negative individual weights (counts become sums of
        weights; the labels are permuted with the individuals' weights kept).

    Returns
    -------
    TestResult or ResultSet
        ``estimate`` (= ``statistic``) is the raw index, ``p_value`` the
        one-sided permutation p-value :math:`(M+1)/(R+1)` (segregation higher
        than under random allocation); ``details`` holds ``units`` (per-unit
        counts), ``null_mean``, ``null_sd``, ``null_quantiles``,
        ``expected_random`` (the index expected under random allocation:
        exact for an unweighted dissimilarity, else the permutation mean, NaN
        without permutations) and ``corrected`` (Carrington–Troske, see the
        module docstring).

    Raises
    ------
    ValueError
        Unknown column, ``reference``/``compared`` not a level of ``group``,
        invalid ``n_permutations`` or weights.
"""


def dissimilarity(
    df: pd.DataFrame,
    *,
    group: str,
    unit: str,
    reference: Any,
    compared: Any = None,
    n_permutations: int = 999,
    random_state: Any = None,
    weights: str | None = None,
) -> TestResult | ResultSet:
    return _segregation(
        "dissimilarity",
        df,
        group=group,
        unit=unit,
        reference=reference,
        compared=compared,
        n_permutations=n_permutations,
        random_state=random_state,
        weights=weights,
    )


def isolation(
    df: pd.DataFrame,
    *,
    group: str,
    unit: str,
    reference: Any,
    compared: Any = None,
    n_permutations: int = 999,
    random_state: Any = None,
    weights: str | None = None,
) -> TestResult | ResultSet:
    return _segregation(
        "isolation",
        df,
        group=group,
        unit=unit,
        reference=reference,
        compared=compared,
        n_permutations=n_permutations,
        random_state=random_state,
        weights=weights,
    )


def theil_h(
    df: pd.DataFrame,
    *,
    group: str,
    unit: str,
    reference: Any,
    compared: Any = None,
    n_permutations: int = 999,
    random_state: Any = None,
    weights: str | None = None,
) -> TestResult | ResultSet:
    return _segregation(
        "theil_h",
        df,
        group=group,
        unit=unit,
        reference=reference,
        compared=compared,
        n_permutations=n_permutations,
        random_state=random_state,
        weights=weights,
    )


dissimilarity.__doc__ = (
    """Duncan's dissimilarity index of two groups across units.

    :math:`D = \\tfrac12 \\sum_i |a_i/A - b_i/B|`: the share of either group
    that would have to change unit for both to be spread alike (0 = even,
    1 = complete separation).
"""
    + _PARAMS_DOC
    + """
    References
    ----------
    Duncan, O. D. and Duncan, B. (1955). A methodological analysis of
    segregation indexes. *American Sociological Review*, 20(2), 210–217.

    Cortes, R. X., Rey, S., Knaap, E. and Wolf, L. J. (2020). An open-source
    framework for non-spatial and spatial segregation measures: the PySAL
    segregation module. *Journal of Computational Social Science*, 3, 135–166.
"""
)
isolation.__doc__ = (
    """Isolation index of the compared group across units.

    :math:`{}_aP_a = \\sum_i (a_i/A)(a_i/t_i)`, with :math:`t_i = a_i + b_i`:
    the average share of group *a* in the unit of a member of *a*. Under even
    spread it equals :math:`A/T` (``details["evenness_value"]``).
"""
    + _PARAMS_DOC
    + """
    References
    ----------
    Bell, W. (1954). A probability model for the measurement of ecological
    segregation. *Social Forces*, 32(4), 357–364.

    Massey, D. S. and Denton, N. A. (1988). The dimensions of residential
    segregation. *Social Forces*, 67(2), 281–315.
"""
)
theil_h.__doc__ = (
    """Theil's entropy (information) index H of two groups across units.

    :math:`H = \\sum_i t_i (E - E_i) / (T E)`, with :math:`E` the binary
    entropy of the overall share of *a* and :math:`E_i` that of unit *i*
    (0 = even, 1 = complete separation).
"""
    + _PARAMS_DOC
    + """
    References
    ----------
    Theil, H. and Finizza, A. J. (1971). A note on the measurement of racial
    integration of schools by means of informational concepts. *Journal of
    Mathematical Sociology*, 1(2), 187–193.

    Massey, D. S. and Denton, N. A. (1988). The dimensions of residential
    segregation. *Social Forces*, 67(2), 281–315.
"""
)
