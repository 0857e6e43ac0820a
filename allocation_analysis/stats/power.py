"""Power and minimum detectable effect of a two-group rate comparison.

The formulas are the normal approximation used by R's ``power.prop.test``
(with ``strict = FALSE``), generalised to unequal group sizes.
"""

from __future__ import annotations

import math

from scipy import optimize, special

from allocation_analysis.errors import ArgumentError
from allocation_analysis.stats._result import TestResult
from allocation_analysis.stats._validation import check_alpha, check_probability
from allocation_analysis.text import fmt_float, fmt_pct

__all__ = [
    "MDE_BOUND",
    "minimum_detectable_effect",
    "power_two_proportions",
    "underpowered_warning",
]

#: A comparison is flagged "underpowered" when its minimum detectable
#: difference of rates (two-sided, alpha = 0.05, power = 0.80) exceeds this
#: bound (10 percentage points).
MDE_BOUND = 0.10


def power_two_proportions(
    n_reference: float,
    n_compared: float,
    p_reference: float,
    p_compared: float,
    *,
    alpha: float = 0.05,
) -> float:
    """Power of the two-sided two-proportion test.

    With group sizes :math:`n_1` (reference), :math:`n_2` (compared), rates
    :math:`p_1, p_2`, :math:`q = 1 - p`, pooled rate
    :math:`\\bar p = (n_1 p_1 + n_2 p_2)/(n_1 + n_2)` and
    :math:`z = \\Phi^{-1}(1 - \\alpha/2)`:

    .. math::

        \\text{power} = \\Phi\\left(
        \\frac{|p_2 - p_1| - z\\sqrt{\\bar p \\bar q (1/n_1 + 1/n_2)}}
             {\\sqrt{p_1 q_1 / n_1 + p_2 q_2 / n_2}}\\right)

    For :math:`n_1 = n_2 = n` this is exactly R's
    ``power.prop.test(n, p1, p2, sig.level = alpha)$power`` (whose
    ``strict = FALSE`` default ignores the rejections in the wrong tail).

    Parameters
    ----------
    n_reference, n_compared : float
        Group sizes (> 0).
    p_reference, p_compared : float
        Rates in each group, in [0, 1].
    alpha : float, default 0.05
        Two-sided significance level.

    Returns
    -------
    float
        The power; NaN when both rates are 0 or both are 1 (no variance).

    References
    ----------
    Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for
    Rates and Proportions*, 3rd ed., Wiley, §4.2.

    R Core Team. ``power.prop.test``, package stats.
    """
    alpha = check_alpha(alpha)
    p1 = check_probability("p_reference", p_reference, closed_low=True, closed_high=True)
    p2 = check_probability("p_compared", p_compared, closed_low=True, closed_high=True)
    for name, n in (("n_reference", n_reference), ("n_compared", n_compared)):
        if not (isinstance(n, (int, float)) and n > 0):
            raise ArgumentError(f"L'argument `{name}` doit être un effectif positif, reçu {n!r}.")
    z = float(special.ndtri(1 - alpha / 2))
    return _power(float(n_reference), float(n_compared), p1, p2, z)


def _power(n1: float, n2: float, p1: float, p2: float, z: float) -> float:
    """Power formula of :func:`power_two_proportions` (no argument checks)."""
    pbar = (n1 * p1 + n2 * p2) / (n1 + n2)
    sd_alt = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    if sd_alt == 0:
        return math.nan
    sd_null = math.sqrt(pbar * (1 - pbar) * (1 / n1 + 1 / n2))
    return float(special.ndtr((abs(p2 - p1) - z * sd_null) / sd_alt))


def _mde_one_side(n1: float, n2: float, p1: float, alpha: float, power: float, sign: int) -> float:
    """Smallest |p2 - p1| in direction ``sign`` reaching ``power``; NaN if none."""
    limit = 1.0 if sign > 0 else 0.0
    if abs(limit - p1) < 1e-12:
        return math.nan

    z = float(special.ndtri(1 - alpha / 2))

    def f(p2: float) -> float:
        return _power(n1, n2, p1, p2, z) - power

    end = limit - sign * 1e-12
    if not f(end) > 0:
        return math.nan
    start = p1 + sign * 1e-12
    p2 = optimize.brentq(f, min(start, end), max(start, end), xtol=1e-14, rtol=1e-14)
    return abs(p2 - p1)


def minimum_detectable_effect(
    n_reference: float,
    n_compared: float,
    p_reference: float,
    *,
    alpha: float = 0.05,
    power: float = 0.8,
) -> TestResult:
    """Minimum detectable difference of rates for a two-group comparison.

    The smallest absolute difference :math:`|p_2 - p_1|` that the two-sided
    two-proportion test at level ``alpha`` detects with probability ``power``,
    given the group sizes and the reference rate (see
    :func:`power_two_proportions` for the formula). The power is not symmetric
    in the direction of the difference, so both directions are solved; the
    ``estimate`` is the larger one (a difference of that size in either
    direction is detected with at least the requested power).

    Parameters
    ----------
    n_reference, n_compared : float
        Group sizes (> 0).
    p_reference : float
        Rate in the reference group, in [0, 1].
    alpha : float, default 0.05
        Two-sided significance level.
    power : float, default 0.8
        Target power.

    Returns
    -------
    TestResult
        ``estimate`` = minimum detectable difference (``estimate_name``
        ``"minimum_detectable_effect"``); ``details`` holds ``mde_increase``,
        ``mde_decrease`` (NaN when no rate in that direction reaches the
        power), ``alpha``, ``power``. A NaN estimate comes with a warning.

    References
    ----------
    Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for
    Rates and Proportions*, 3rd ed., Wiley, §4.2.

    R Core Team. ``power.prop.test``, package stats (solving for ``p2``).
    """
    alpha = check_alpha(alpha)
    power = check_probability("power", power)
    p1 = check_probability("p_reference", p_reference, closed_low=True, closed_high=True)
    for name, n in (("n_reference", n_reference), ("n_compared", n_compared)):
        if not (isinstance(n, (int, float)) and n >= 0) or (isinstance(n, float) and math.isnan(n)):
            raise ArgumentError(f"L'argument `{name}` doit être un effectif positif, reçu {n!r}.")
    n1, n2 = float(n_reference), float(n_compared)
    warnings: list[str] = []
    up = down = math.nan
    if n1 == 0 or n2 == 0:
        warnings.append("Effet minimal détectable non défini : un des groupes est vide.")
    else:
        up = _mde_one_side(n1, n2, p1, alpha, power, +1)
        down = _mde_one_side(n1, n2, p1, alpha, power, -1)
    candidates = [v for v in (up, down) if not math.isnan(v)]
    mde = max(candidates) if candidates else math.nan
    if math.isnan(mde) and not warnings:
        warnings.append(
            f"Aucune différence de taux n'atteint une puissance de "
            f"{fmt_pct(power, digits=0)} avec ces effectifs."
        )
    elif len(candidates) == 1:
        warnings.append(
            "Effet minimal détectable calculé dans un seul sens : dans l'autre, aucun taux "
            "n'atteint la puissance demandée."
        )
    return TestResult(
        name="minimum_detectable_effect",
        method=(
            f"Effet minimal détectable, test bilatéral de deux proportions, "
            f"alpha = {fmt_float(alpha, digits=3).rstrip('0').rstrip(',')}, "
            f"puissance = {fmt_pct(power, digits=0)} (approximation normale)"
        ),
        estimate=mde,
        estimate_name="minimum_detectable_effect",
        n=int(n1 + n2),
        warnings=tuple(warnings),
        details={"mde_increase": up, "mde_decrease": down, "alpha": alpha, "power": power},
        alpha=alpha,
    )


def underpowered_warning(
    n_reference: float,
    n_compared: float,
    p_reference: float,
    *,
    bound: float = MDE_BOUND,
    alpha: float = 0.05,
    power: float = 0.8,
) -> str | None:
    """Warning text when a comparison cannot detect a difference of ``bound``.

    The comparison is *underpowered* when its minimum detectable effect
    (:func:`minimum_detectable_effect`, two-sided, level ``alpha``, power
    ``power``) exceeds ``bound`` (default 10 percentage points), or is
    undefined.

    Parameters
    ----------
    n_reference, n_compared : float
        Group sizes.
    p_reference : float
        Reference rate (NaN is replaced by 0.5, the least favourable rate).
    bound : float, default :data:`MDE_BOUND`
        Largest acceptable minimum detectable difference.
    alpha, power : float
        Level and power of the design.

    Returns
    -------
    str or None
        The warning (French, with an English gloss), or ``None``.

    References
    ----------
    Fleiss, J. L., Levin, B. and Paik, M. C. (2003). *Statistical Methods for
    Rates and Proportions*, 3rd ed., Wiley, §4.2.
    """
    p = 0.5 if p_reference is None or math.isnan(float(p_reference)) else float(p_reference)
    res = minimum_detectable_effect(n_reference, n_compared, p, alpha=alpha, power=power)
    mde = res.estimate
    if math.isnan(mde) or mde > bound:
        shown = "non défini" if math.isnan(mde) else f"{fmt_float(100 * mde, digits=1)} points"
        return (
            f"Puissance insuffisante : avec ces effectifs, seul un écart d'au moins {shown} "
            f"serait détecté avec une puissance de {fmt_pct(power, digits=0)}."
        )
    return None
