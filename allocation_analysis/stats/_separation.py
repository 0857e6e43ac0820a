"""Detection of separation that does not depend on the units of the covariates.

A logit (or Cox) fit is *separated* when its maximum likelihood estimate does
not exist: a combination of the covariates predicts the outcome perfectly and
the likelihood keeps increasing as some coefficients go to infinity
(Albert and Anderson 1984; for Cox, the monotone partial likelihood of Bryson
and Johnson 1981). Newton iterations then drive some linear predictors
``x_i'b`` towards infinity.

A bound on the raw coefficients (the former ``|b| > 15``) is not a test of
that: measuring a control as a share in [0, 0.05] instead of in percent
multiplies its coefficient by 100 and leaves the model unchanged. The checks
here only use quantities that are invariant to rescaling (and, with an
intercept, shifting) a column of the design ``X``:

* the linear predictor ``x_i'b`` of every row — with an intercept, a fitted
  probability within :data:`FITTED_PROBABILITY_EPS` of 0 or 1, i.e.
  ``|x_i'b| > MAX_LINEAR_PREDICTOR``; without one (Cox, defined up to a
  constant), its range ``max - min`` above ``2 * MAX_LINEAR_PREDICTOR``;
* the standardised coefficients ``|b_j| * sd(x_j)`` (the change of the linear
  predictor per standard deviation of the column), above
  :data:`MAX_STANDARDIZED_COEF`.

For a 0/1 indicator present in half the rows (SD 1/2) the second bound is the
former ``|b| > 15``; for rarer indicators (smaller SD) it is looser, and a
separating rare level is caught by the first rule, since its rows' linear
predictors diverge.

References
----------
.. [1] Albert, A. and Anderson, J. A. (1984). On the existence of maximum
   likelihood estimates in logistic regression models. *Biometrika* 71, 1–10.
.. [2] Bryson, M. C. and Johnson, M. E. (1981). The incidence of monotone
   likelihood in the Cox model. *Technometrics* 23, 381–383.
.. [3] Heinze, G. and Schemper, M. (2002). A solution to the problem of
   separation in logistic regression. *Statistics in Medicine* 21, 2409–2419.
.. [4] Venables, W. N. and Ripley, B. D. (2002). *Modern Applied Statistics
   with S*, 4th ed., Springer, section 7.2 (fitted probabilities numerically
   0 or 1).
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np

from allocation_analysis.errors import ArgumentError

__all__ = [
    "FITTED_PROBABILITY_EPS",
    "MAX_LINEAR_PREDICTOR",
    "MAX_STANDARDIZED_COEF",
    "column_scales",
    "is_separated",
    "standardized_coefficients",
]

#: A fitted probability closer than this to 0 or 1 marks a separated logit fit.
FITTED_PROBABILITY_EPS = 1e-8
#: ``|x'b|`` at which the fitted probability is ``FITTED_PROBABILITY_EPS`` from 0 or 1 (≈ 18.4).
MAX_LINEAR_PREDICTOR = math.log((1.0 - FITTED_PROBABILITY_EPS) / FITTED_PROBABILITY_EPS)
#: Bound on ``|b_j| * sd(x_j)``: the former ``|b| > 15`` for a balanced 0/1 indicator.
MAX_STANDARDIZED_COEF = 7.5


def column_scales(X: np.ndarray) -> np.ndarray:
    """Standard deviation (``ddof=0``) of each column of ``X``; 0 for a constant column.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design matrix.

    Returns
    -------
    ndarray of shape (p,)
    """
    X = np.asarray(X, dtype="float64")
    if X.shape[0] == 0:
        return np.zeros(X.shape[1])
    return X.std(axis=0)


def standardized_coefficients(
    X: np.ndarray, beta: np.ndarray, scales: np.ndarray | None = None
) -> np.ndarray:
    """``|b_j| * sd(x_j)``: the change of the linear predictor per SD of each column.

    Invariant to rescaling a column (``x_j -> c x_j`` gives ``b_j -> b_j / c``).
    The intercept (a constant column) gets 0.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design matrix.
    beta : ndarray of shape (p,)
        Coefficients.
    scales : ndarray of shape (p,), optional
        Precomputed :func:`column_scales` of ``X``.

    Returns
    -------
    ndarray of shape (p,)
    """
    s = column_scales(X) if scales is None else np.asarray(scales, dtype="float64")
    return np.abs(np.asarray(beta, dtype="float64")) * s


def is_separated(
    X: np.ndarray,
    beta: np.ndarray,
    *,
    model: Literal["logit", "cox"] = "logit",
    scales: np.ndarray | None = None,
) -> bool:
    """Whether a fit shows (quasi-)complete separation, by scale-invariant rules.

    Parameters
    ----------
    X : ndarray of shape (n, p)
        Design matrix of the fit (with its intercept column for a logit).
    beta : ndarray of shape (p,)
        Estimated (or current Newton) coefficients.
    model : {"logit", "cox"}, default "logit"
        ``"logit"``: the linear predictor includes an intercept and a row is
        separated when its fitted probability is within
        :data:`FITTED_PROBABILITY_EPS` of 0 or 1 (``|x_i'b| >``
        :data:`MAX_LINEAR_PREDICTOR`). ``"cox"``: the linear predictor is
        defined up to a constant, so its range over the rows must not exceed
        ``2 * MAX_LINEAR_PREDICTOR`` (a relative hazard of about 1e16).
    scales : ndarray of shape (p,), optional
        Precomputed :func:`column_scales` of ``X``.

    Returns
    -------
    bool
        True when a coefficient is not finite, a standardised coefficient
        ``|b_j| * sd(x_j)`` exceeds :data:`MAX_STANDARDIZED_COEF`, or the
        linear predictor rule above fails.

    Notes
    -----
    Every rule is unchanged when a column of ``X`` is multiplied by a nonzero
    constant and its coefficient divided by it (and, for Cox or with an
    intercept, when a constant is added to a column), so the verdict does not
    depend on the units of the covariates.
    """
    beta = np.asarray(beta, dtype="float64")
    if not np.all(np.isfinite(beta)):
        return True
    X = np.asarray(X, dtype="float64")
    if X.shape[0] == 0:
        return False
    if np.any(standardized_coefficients(X, beta, scales) > MAX_STANDARDIZED_COEF):
        return True
    eta = X @ beta
    if not np.all(np.isfinite(eta)):
        return True
    if model == "logit":
        return bool(np.max(np.abs(eta)) > MAX_LINEAR_PREDICTOR)
    if model == "cox":
        return bool(np.ptp(eta) > 2.0 * MAX_LINEAR_PREDICTOR)
    raise ArgumentError(f"L'argument `model` doit valoir 'logit' ou 'cox', reçu {model!r}.")
