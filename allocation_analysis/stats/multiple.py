"""Adjustment of p-values for multiple testing (methods.md §2)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import pandas as pd

from allocation_analysis.stats._validation import check_option

__all__ = ["adjust_pvalues"]

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
        raise ValueError("L'argument `p` doit contenir des p-valeurs comprises entre 0 et 1.")
    out = np.full(flat.shape, np.nan)
    out[ok] = _adjust(flat[ok], method)
    if not ok.any() and flat.size:
        logger.warning("adjust_pvalues: toutes les p-valeurs sont manquantes")
    if isinstance(p, pd.Series):
        return pd.Series(out, index=p.index, name=p.name)
    if isinstance(p, np.ndarray):
        return out.reshape(values.shape)
    return [float(v) for v in out]
