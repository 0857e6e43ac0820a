"""Statistical tests of allocation disparities (docs/methods.md §2–3).

Every test returns a :class:`TestResult` when one comparison is asked
(``compared`` given) and a :class:`ResultSet` when several are
(``compared=None``: every level other than the reference), whatever the data
hold; results read in French with ``summary()``, ``sentence_fr()`` and their
JupyterLab display. Invalid arguments raise
:class:`~allocation_analysis.errors.ArgumentError` everywhere. The tests are
validated against R reference implementations (``tests/reference/``) and
calibrated on synthetic data.

Families
--------
rates
    :func:`compare_rates` — Wilson intervals, Newcombe difference, score / Fisher tests;
    :func:`compare_counts`, the same difference and score test from counts.
stratified
    :func:`cmh`, :func:`cmh_from_tables` — Mantel–Haenszel, Breslow–Day–Tarone.
regression
    :func:`logit_disparity` — adjusted odds ratio, clustered SE, marginal effect.
survival
    :func:`logrank`, :func:`kaplan_meier`, :func:`cox`, :func:`cumulative_incidence`.
decomposition
    :func:`fairlie`, :func:`oaxaca_blinder`.
conditional
    :func:`conditional_logit_disparity` — conditional logit among candidates
    competing for the same dwelling (strata), as R ``survival::clogit``.
means
    :func:`mean_difference` — difference of the group means of a score (Welch), its
    median difference and each component's exact contribution.
funnel
    :func:`funnel_decomposition` — conditional rates of nested process stages and the
    exact split of the log ratio of overall rates among the stages.
trend
    :func:`trend_test`, :func:`cochran_armitage` — linear trend of a proportion over
    semesters (logistic slope; Cochran–Armitage score test).
segregation
    :func:`dissimilarity`, :func:`isolation`, :func:`theil_h` with permutation tests.
multiple, power
    :func:`adjust_pvalues`, :func:`minimum_detectable_effect`, :func:`power_two_proportions`.
profiles
    :func:`profile_probabilities`, :func:`ipw_disparity` — gradient-boosting household
    profiles and inverse-probability weighting (robustness checks).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from allocation_analysis.stats._result import ResultSet, TestResult

if TYPE_CHECKING:
    from allocation_analysis.stats.conditional import conditional_logit_disparity
    from allocation_analysis.stats.decomposition import fairlie, oaxaca_blinder
    from allocation_analysis.stats.funnel import funnel_decomposition
    from allocation_analysis.stats.means import mean_difference
    from allocation_analysis.stats.multiple import adjust_pvalues
    from allocation_analysis.stats.power import (
        minimum_detectable_effect,
        power_two_proportions,
    )
    from allocation_analysis.stats.profiles import ipw_disparity, profile_probabilities
    from allocation_analysis.stats.rates import compare_counts, compare_rates
    from allocation_analysis.stats.regression import logit_disparity
    from allocation_analysis.stats.segregation import dissimilarity, isolation, theil_h
    from allocation_analysis.stats.stratified import cmh, cmh_from_tables
    from allocation_analysis.stats.survival import (
        cox,
        cumulative_incidence,
        kaplan_meier,
        logrank,
    )
    from allocation_analysis.stats.trend import cochran_armitage, trend_test

# The test functions are imported on first use (PEP 562): statsmodels and
# scikit-learn cost seconds to import, and the notebooks that only show
# indicators never need them.
_LAZY = {
    "fairlie": "decomposition",
    "oaxaca_blinder": "decomposition",
    "adjust_pvalues": "multiple",
    "minimum_detectable_effect": "power",
    "power_two_proportions": "power",
    "ipw_disparity": "profiles",
    "profile_probabilities": "profiles",
    "compare_counts": "rates",
    "compare_rates": "rates",
    "logit_disparity": "regression",
    "dissimilarity": "segregation",
    "isolation": "segregation",
    "theil_h": "segregation",
    "cmh": "stratified",
    "cmh_from_tables": "stratified",
    "cox": "survival",
    "cumulative_incidence": "survival",
    "kaplan_meier": "survival",
    "logrank": "survival",
    "conditional_logit_disparity": "conditional",
    "funnel_decomposition": "funnel",
    "mean_difference": "means",
    "cochran_armitage": "trend",
    "trend_test": "trend",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ResultSet",
    "cochran_armitage",
    "conditional_logit_disparity",
    "funnel_decomposition",
    "mean_difference",
    "trend_test",
    "compare_counts",
    "TestResult",
    "adjust_pvalues",
    "cmh",
    "cmh_from_tables",
    "compare_rates",
    "cox",
    "cumulative_incidence",
    "dissimilarity",
    "fairlie",
    "ipw_disparity",
    "isolation",
    "kaplan_meier",
    "logit_disparity",
    "logrank",
    "minimum_detectable_effect",
    "oaxaca_blinder",
    "power_two_proportions",
    "profile_probabilities",
    "theil_h",
]
