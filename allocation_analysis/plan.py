"""The report plan: the disparity tests of the semi-annual report, as one list of named tests.

This module decides *which* tests the report runs (ids of ``results.json``,
outcomes, groups, controls); the tests themselves live in
:mod:`allocation_analysis.stats`. Test ids follow
``<outcome>_<origin|residence>_<method>`` (``docs/data-model.md`` §3).

Choices made here (documented for reviewers):

- Origin: ``nationalite``, each of ``ue`` and ``hors_ue`` against ``francaise``.
  Residence: ``residence_qpv``, ``qpv`` against ``hors_qpv``.
- Access (demands active at some time in the semester, closed by a lease within
  it): raw rates, Cochran–Mantel–Haenszel stratified by requested typology ×
  priority (DALO or prioritaire), logistic regression adjusted for requested
  typology, priority, DALO, log income per UC, seniority, household size,
  housing situation and first-choice commune (:data:`ACCESS_MODEL_CONTROLS`)
  with standard errors clustered by first-choice commune, and the Fairlie
  decomposition and IPW difference with the same controls.
- Why the first-choice commune. Groups differ in the communes they ask for,
  and access differs by commune (tension): without it an adjusted model reads
  as a group gap what is the tightness of the communes asked. Under a null
  world where the allocation does not depend on the group but the groups
  differ in filing dates, incomes, typologies and commune preferences and
  outcomes are correlated within communes (``effects_null_confounded.yaml``
  of the generator), the access logit without it rejects about 9.5 % of the
  time at 5 % (median odds ratio 0.85) and with it 6 %
  (``docs/calibration.md``). It enters as fixed effects (one indicator per
  commune) in the logits and as strata (one baseline hazard per commune) in
  the Cox model.
- Waiting time: log-rank test and Cox model (same controls, strata by
  first-choice commune, same clusters) on the days from filing to allocation,
  other closings censored, with delayed entry at the start of the semester
  (demands filed earlier enter the risk set then: ``entree_risque_jours``, risk
  set ``entry < t <= duration``).
- Placement (allocations of the semester): is the dwelling in a QPV? Logistic
  regression adjusted for typology, first-quartile status, priority and
  reservataire, standard errors clustered by the dwelling's commune (leases in
  one commune share its stock); dissimilarity of allocations across communes
  between origin groups.
- The plan. The list of tests is written once, :data:`TEST_PLAN`: one
  :class:`PlannedTest` per ``results.json`` entry (outcome, grouping, compared
  level, method, frame, controls, cluster, strata, delayed entry, options,
  family, sidedness). :func:`plan_calls` turns it into function calls, passing
  the run's ``alpha`` and ``seed`` to every test function that takes them;
  :func:`disparity_tests` (the report, ``results.json``, through
  :func:`results_frame` and :func:`test_entries`) and
  :mod:`allocation_analysis.calibration` both read it, the calibration
  overriding only cost options (:data:`COST_OPTIONS`).
- Multiplicity, with a stated family. One pre-declared **primary** test per
  question and comparison (three questions × three comparisons: ``ue`` and
  ``hors_ue`` against ``francaise``, ``qpv`` against ``hors_qpv``):

  * access → the adjusted logit (``access_*_logit``): it answers the
    question the report asks, a gap *at comparable situation* (typology,
    priority, DALO, resources, seniority, household size, housing
    situation), with standard errors robust to the clustering of demands by
    first-choice commune; the raw rates describe the gap without adjustment,
    CMH adjusts for two variables only, Fairlie and IPW estimate the same
    adjusted gap under other assumptions;
  * waiting time → the adjusted Cox model with delayed entry
    (``waiting_time_*_cox``): the same adjustment and clusters, and the only
    waiting-time test giving an effect size (hazard ratio) with its
    interval; the log-rank test is its unadjusted counterpart;
  * placement → the adjusted logit (``placement_*_logit``): the dissimilarity
    index measures the spread of allocations across communes, a different
    question, and exists for origin only.

  The primary tests are adjusted together by Benjamini–Hochberg and shown
  first; every other test is a **robustness** check, adjusted by
  Benjamini–Hochberg within the robustness family only, so that adding or
  removing a robustness check never changes a primary adjusted p-value
  (``family``: ``principal`` / ``robustesse``). Every p-value is two-sided
  (``sided``: ``bilatéral``) except the permutation tests of segregation,
  one-sided (segregation higher than chance, ``unilatéral``).
- Adjusted intervals of the primary family. An adjusted p-value beside an
  unadjusted 95 % interval can contradict it (significant after adjustment
  while the interval is narrower than the adjusted test, or the reverse).
  The primary tests therefore also get the false coverage-rate adjusted
  intervals of Benjamini and Yekutieli (2005), at level
  ``1 - max(R, 1) * alpha / m`` (``m`` primary tests, ``R`` significant
  after Benjamini–Hochberg at ``alpha``). They are chosen over Bonferroni
  intervals (level ``1 - alpha / m``) because they match the adjustment
  used: the primary tests are Wald tests of a log odds or hazard ratio, so an
  adjusted interval excludes 1 exactly when the Benjamini–Hochberg adjusted
  p-value is below ``alpha``, and the expected share of non-covering
  intervals among the significant results is at most ``alpha`` (independent
  or positively dependent statistics), whereas a Bonferroni interval could
  still contain 1 for a result declared significant. With no significant
  result (``R = 0``) they are the Bonferroni intervals.

References
----------
.. [1] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false discovery
   rate: a practical and powerful approach to multiple testing. *JRSS B*
   57(1), 289–300.
.. [2] Benjamini, Y. and Yekutieli, D. (2005). False discovery rate-adjusted
   multiple confidence intervals for selected parameters. *JASA* 100(469),
   71–81.
.. [3] Cox, D. R. (1972). Regression models and life-tables. *JRSS B* 34(2),
   187–220.
"""

from __future__ import annotations

import inspect
import logging
import math
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig
from allocation_analysis.stats import ResultSet, TestResult

__all__ = [
    "ACCESS_CONTROLS",
    "ACCESS_MODEL_CONTROLS",
    "CLUSTER",
    "COST_OPTIONS",
    "GROUPINGS",
    "INTERSECTION",
    "ONE_SIDED",
    "PLACEMENT_CLUSTER",
    "PLACEMENT_CONTROLS",
    "PRINCIPAL",
    "ROBUSTNESS",
    "TEST_PLAN",
    "TWO_SIDED",
    "Grouping",
    "PlannedTest",
    "TestRecord",
    "crossed_groups",
    "disparity_tests",
    "plan_calls",
    "results_frame",
    "test_entries",
]

log = logging.getLogger(__name__)

ACCESS_CONTROLS: tuple[str, ...] = (
    "typologie_demandee",
    "prioritaire",
    "dalo",
    "log_revenu_uc",
    "anciennete_annees",
    "nb_personnes",
    "situation_logement",
)
"""Household controls of the adjusted access and waiting-time models (and the profiles)."""

CLUSTER = "commune_choix1"
"""Cluster of the access and waiting-time models: the first-choice commune."""

ACCESS_MODEL_CONTROLS: tuple[str, ...] = (*ACCESS_CONTROLS, CLUSTER)
"""Controls of the adjusted access models (logit, Fairlie, IPW): the household
controls and the first-choice commune (fixed effects)."""

PLACEMENT_CLUSTER = "commune_logement"
"""Cluster of the placement model: the dwelling's commune."""

PLACEMENT_CONTROLS: tuple[str, ...] = ("typologie", "q1", "prioritaire_ou_dalo", "reservataire")
"""Controls of the adjusted placement model."""


@dataclass(frozen=True)
class Grouping:
    """A comparison axis of the report."""

    key: str  # "origin" or "residence"
    column: str
    reference: str
    compared: tuple[str, ...]
    label_fr: str


GROUPINGS: tuple[Grouping, ...] = (
    Grouping("origin", "nationalite", "francaise", ("ue", "hors_ue"), "nationalité"),
    Grouping("residence", "residence_qpv", "hors_qpv", ("qpv",), "résidence en QPV"),
)


INTERSECTION = Grouping(
    "intersection",
    "nationalite_x_residence",
    "francaise|hors_qpv",
    ("hors_ue|qpv", "hors_ue|hors_qpv", "francaise|qpv"),
    "nationalité et résidence en QPV",
)
"""Origin × residence: the two axes meet in the same households.

Each crossed group is compared with French households living outside a QPV,
for access (adjusted logit) and waiting time (adjusted Cox), as robustness
checks. Households of the UE are left out of the crossing: a few hundred
demands per semester on the MEL, a few dozen in a QPV, too few for an
adjusted model per cell. The sizes of the crossed groups are never published
(:func:`allocation_analysis.privacy.protect_test_results`).
"""

CROSSING_SEPARATOR = "|"
"""Separator of the two levels in a crossed group (``hors_ue|qpv``)."""

PRINCIPAL = "principal"
"""Family of the pre-declared primary tests (one per question and comparison)."""

ROBUSTNESS = "robustesse"
"""Family of the robustness checks (the other methods)."""

TWO_SIDED = "bilatéral"
ONE_SIDED = "unilatéral"

COST_OPTIONS: frozenset[str] = frozenset(
    {"n_boot", "n_jobs", "n_orderings", "n_permutations", "cv_folds"}
)
"""Options that change a test's cost, never what it estimates or tests.

The number of bootstrap replicates of the profiles and of permutations of the
segregation test (Monte Carlo precision), the processes of the bootstrap, the
orderings of the Fairlie decomposition (they only split the explained part
among controls; the unexplained part, its analytic SE and its p-value do not
use them) and the cross-validation folds of the IPW diagnostics. The
calibration may override these, and only these (:func:`plan_calls`).
"""

WAITING_TIME_ENTRY = "entree_risque_jours"
"""Delayed-entry column of the waiting-time tests (risk set ``entry < t <= duration``)."""

_METHODS: dict[str, tuple[str, str]] = {
    "rates": ("compare_rates", "outcome"),
    "cmh": ("cmh", "outcome"),
    "logit": ("logit_disparity", "outcome"),
    "fairlie": ("fairlie", "outcome"),
    "ipw": ("ipw_disparity", "outcome"),
    "profiles": ("_profiles", "outcome"),
    "logrank": ("logrank", "duration"),
    "cox": ("cox", "duration"),
    "dissimilarity": ("dissimilarity", "unit"),
}
"""Method key → (function of :mod:`allocation_analysis.stats`, argument taking ``variable``)."""

_JOINT = frozenset({"profiles"})
"""Methods fitted once on every level of the grouping, read per compared level."""


@dataclass(frozen=True)
class PlannedTest:
    """One test of the report: one entry of ``results.json`` → ``tests``.

    Attributes
    ----------
    outcome : str
        ``access``, ``waiting_time`` or ``placement``.
    grouping : Grouping
        Comparison axis (its column and reference level).
    compared : str
        Level compared with ``grouping.reference``.
    method : str
        Method key (last part of the id): ``rates``, ``cmh``, ``logit``,
        ``fairlie``, ``ipw``, ``profiles``, ``logrank``, ``cox``,
        ``dissimilarity``.
    frame : {"access", "allocations"}
        Frame the test runs on (demands active in the semester, or the
        semester's leases), restricted to the two levels compared (to every
        level of the grouping for ``profiles``).
    variable : str
        Outcome column (binary outcomes), duration column (waiting time) or
        unit column (segregation).
    event : str, optional
        Event column of the waiting-time tests.
    controls : tuple of str
        Adjustment variables.
    cluster, strata, entry : str, optional
        Cluster of the robust standard errors, stratification column,
        delayed-entry column.
    options : tuple of (str, value)
        Other keyword arguments of the test function.
    family : {"principal", "robustesse"}
        Multiple-testing family: p-values are adjusted within it.
    sided : {"bilatéral", "unilatéral"}
        Sidedness of the p-value.
    """

    __test__ = False  # not a pytest test class

    outcome: str
    grouping: Grouping
    compared: str
    method: str
    frame: str
    variable: str
    event: str | None = None
    controls: tuple[str, ...] = ()
    cluster: str | None = None
    strata: str | None = None
    entry: str | None = None
    options: tuple[tuple[str, Any], ...] = ()
    family: str = ROBUSTNESS
    sided: str = TWO_SIDED

    @property
    def id(self) -> str:
        """Id in ``results.json``: ``<outcome>_<origin|residence>_<method>``."""
        return f"{self.outcome}_{self.grouping.key}_{self.method}"


def _comparison_plan(g: Grouping, cmp: str) -> tuple[PlannedTest, ...]:
    """The tests of one comparison, in the report's order."""
    access = dict(grouping=g, compared=cmp, frame="access", variable="access")
    wait = dict(
        grouping=g,
        compared=cmp,
        frame="access",
        variable="duree_jours",
        event="_allocation",
        entry=WAITING_TIME_ENTRY,
    )
    place = dict(grouping=g, compared=cmp, frame="allocations")
    adjusted = dict(controls=ACCESS_MODEL_CONTROLS, cluster=CLUSTER)
    tests = [
        PlannedTest("access", method="rates", **access),
        PlannedTest("access", method="cmh", strata="strate", **access),
        PlannedTest("access", method="logit", family=PRINCIPAL, **adjusted, **access),
        PlannedTest("access", method="fairlie", controls=ACCESS_MODEL_CONTROLS, **access),
        PlannedTest("waiting_time", method="logrank", **wait),
        PlannedTest(
            "waiting_time",
            method="cox",
            family=PRINCIPAL,
            controls=ACCESS_CONTROLS,
            strata=CLUSTER,
            cluster=CLUSTER,
            **wait,
        ),
        PlannedTest(
            "placement",
            method="logit",
            variable="logement_en_qpv",
            controls=PLACEMENT_CONTROLS,
            cluster=PLACEMENT_CLUSTER,
            family=PRINCIPAL,
            **place,
        ),
    ]
    if g.key == "origin":
        tests.append(
            PlannedTest(
                "placement",
                method="dissimilarity",
                variable="commune_logement",
                options=(("n_permutations", 999),),
                sided=ONE_SIDED,
                **place,
            )
        )
    tests.append(PlannedTest("access", method="ipw", controls=ACCESS_MODEL_CONTROLS, **access))
    return tuple(tests)


def _intersection_plan(cmp: str) -> tuple[PlannedTest, ...]:
    """Adjusted access and waiting-time tests of one crossed group (robustness checks)."""
    g = INTERSECTION
    return (
        PlannedTest(
            "access",
            grouping=g,
            compared=cmp,
            method="logit",
            frame="access",
            variable="access",
            controls=ACCESS_MODEL_CONTROLS,
            cluster=CLUSTER,
        ),
        PlannedTest(
            "waiting_time",
            grouping=g,
            compared=cmp,
            method="cox",
            frame="access",
            variable="duree_jours",
            event="_allocation",
            entry=WAITING_TIME_ENTRY,
            controls=ACCESS_CONTROLS,
            strata=CLUSTER,
            cluster=CLUSTER,
        ),
    )


def _build_plan() -> tuple[PlannedTest, ...]:
    plan: list[PlannedTest] = []
    for g in GROUPINGS:
        for cmp in g.compared:
            plan.extend(_comparison_plan(g, cmp))
        if g.key == "origin":
            plan.extend(
                PlannedTest(
                    "access",
                    grouping=g,
                    compared=cmp,
                    method="profiles",
                    frame="access",
                    variable="access",
                    controls=ACCESS_CONTROLS,
                    options=(("n_boot", 50),),
                )
                for cmp in g.compared
            )
    for cmp in INTERSECTION.compared:
        plan.extend(_intersection_plan(cmp))
    return tuple(plan)


TEST_PLAN: tuple[PlannedTest, ...] = _build_plan()
"""The report's tests, in the order of ``results.json`` before sorting by family.

The one list read by :func:`disparity_tests` (hence the report and
``results.json``) and by :mod:`allocation_analysis.calibration`.
"""


@dataclass(frozen=True)
class TestRecord:
    """One line of ``results.json`` → ``tests`` before multiple-testing adjustment."""

    __test__ = False  # not a pytest test class

    id: str
    outcome: str
    grouping: Grouping
    compared: str
    result: TestResult
    family: str = ROBUSTNESS
    sided: str = TWO_SIDED


def _one(res: TestResult | ResultSet, compared: str) -> TestResult:  # noqa: D103
    return res.by_group(compared) if isinstance(res, ResultSet) else res


def _failed(
    test_id: str, grouping: Grouping, compared: str, exc: BaseException | None, alpha: float
) -> TestResult:
    return TestResult(
        name=test_id,
        method="échec",
        groups=(grouping.reference, compared),
        warnings=(f"Le test n'a pas pu être calculé : {type(exc).__name__}: {exc}",),
        alpha=alpha,
    )


def _access_strata(access: pd.DataFrame) -> pd.Series:
    prio = (access["prioritaire"].astype(bool) | access["dalo"].astype(bool)).map(
        {True: "prioritaire", False: "non_prioritaire"}
    )
    return access["typologie_demandee"].astype(str) + "|" + prio


def _profiles(
    df: pd.DataFrame,
    *,
    outcome: str,
    group: str,
    reference: str,
    controls: tuple[str, ...],
    n_boot: int = 50,
    alpha: float = 0.05,
    random_state: int | None = None,
    n_jobs: int = 1,
) -> ResultSet:
    """Household-profile probabilities of every level of ``group``, one result per level."""
    from allocation_analysis.stats import profiles

    pr = profiles.profile_probabilities(
        df,
        outcome=outcome,
        features=controls,
        profiles=profiles.load_profiles(),
        group=group,
        n_boot=n_boot,
        alpha=alpha,
        random_state=random_state,
        n_jobs=n_jobs,
    )
    return pr.to_test_results(reference=reference)


def _function(method: str) -> Callable[..., TestResult | ResultSet]:
    from allocation_analysis import stats

    name = _METHODS[method][0]
    return _profiles if name == "_profiles" else getattr(stats, name)


def _accepts(fn: Callable[..., Any], name: str) -> bool:
    return name in inspect.signature(fn).parameters


def crossed_groups(frame: pd.DataFrame) -> pd.Series:
    """Origin × residence group of each row, ``<nationalite>|<residence_qpv>``.

    Missing when either part is missing.
    """
    nat = frame["nationalite"].astype("string")
    res = frame["residence_qpv"].astype("string")
    return (nat + CROSSING_SEPARATOR + res).astype("string")


def _prepared_frames(access: pd.DataFrame, allocations: pd.DataFrame) -> dict[str, pd.DataFrame]:
    acc = access.copy()
    acc["strate"] = _access_strata(acc)
    acc["_allocation"] = (acc["evenement"] == 1).astype(int)
    acc[INTERSECTION.column] = crossed_groups(acc)
    alloc = allocations.copy()
    alloc["logement_en_qpv"] = alloc["logement_en_qpv"].astype(bool)
    return {"access": acc, "allocations": alloc}


def _with_option(test: PlannedTest, name: str, value: Any) -> PlannedTest:
    """``test`` with option ``name`` set to ``value`` (replacing the planned one)."""
    return replace(test, options=(*((k, v) for k, v in test.options if k != name), (name, value)))


def plan_calls(
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    alpha: float,
    seed: int,
    plan: Iterable[PlannedTest] = TEST_PLAN,
    options: Mapping[str, Any] | None = None,
) -> Iterator[tuple[PlannedTest, Callable[..., TestResult | ResultSet], dict[str, Any]]]:
    """The function and keyword arguments of every test of a plan.

    Parameters
    ----------
    access : DataFrame
        :func:`allocation_analysis.derive.access_frame` of the semester.
    allocations : DataFrame
        The semester's leases (:func:`allocation_analysis.derive.prepare_allocations`).
    alpha : float, keyword-only
        Level of every test: intervals at ``1 - alpha``, passed to every test
        function that takes it.
    seed : int, keyword-only
        ``random_state`` of every test function that takes one.
    plan : iterable of PlannedTest, keyword-only
        Default :data:`TEST_PLAN`.
    options : mapping, optional
        Overrides of the cost-only options (:data:`COST_OPTIONS`), applied to
        every test whose function takes them (``n_boot`` reaches the Fairlie
        decomposition too, where it adds bootstrap intervals of the
        per-term contributions; to change the profiles' replicates only, set
        the option on their planned tests).

    Yields
    ------
    (PlannedTest, function, kwargs)
        ``function(**kwargs)`` gives a :class:`TestResult` or a
        :class:`ResultSet` to read with ``by_group(test.compared)``. Frames
        are restricted to the compared levels; consecutive tests on the same
        levels share one restricted frame (do not modify it).

    Raises
    ------
    ValueError
        When ``options`` names an option that is not cost-only.
    """
    extra = dict(options or {})
    bad = sorted(set(extra) - COST_OPTIONS)
    if bad:
        raise ValueError(
            f"Options non modifiables hors du plan des tests : {', '.join(bad)} "
            f"(seules {', '.join(sorted(COST_OPTIONS))} le sont)."
        )
    frames = _prepared_frames(access, allocations)
    subsets: dict[str, tuple[tuple[str, tuple[str, ...]], pd.DataFrame]] = {}
    for test in plan:
        g = test.grouping
        levels = (
            (g.reference, *g.compared) if test.method in _JOINT else (g.reference, test.compared)
        )
        key = (g.column, levels)
        if test.frame not in subsets or subsets[test.frame][0] != key:
            f = frames[test.frame]
            subsets[test.frame] = (key, f[f[g.column].isin(list(levels))])
        fn = _function(test.method)
        kw: dict[str, Any] = {"df": subsets[test.frame][1], "group": g.column}
        kw[_METHODS[test.method][1]] = test.variable
        if _accepts(fn, "reference"):
            kw["reference"] = g.reference
        if _accepts(fn, "compared") and test.method not in _JOINT:
            kw["compared"] = test.compared
        for name in ("event", "cluster", "strata", "entry"):
            if getattr(test, name) is not None:
                kw[name] = getattr(test, name)
        if test.controls:
            kw["controls"] = test.controls
        kw.update(dict(test.options))
        if _accepts(fn, "alpha"):
            kw["alpha"] = alpha
        if _accepts(fn, "random_state"):
            kw["random_state"] = seed
        kw.update({k: v for k, v in extra.items() if _accepts(fn, k)})
        yield test, fn, kw


def disparity_tests(
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    config: AnalysisConfig,
    n_boot: int = 50,
    n_permutations: int = 999,
    include_profiles: bool = True,
    n_jobs: int | None = None,
) -> list[TestRecord]:
    """Run every disparity test of the report (:data:`TEST_PLAN`).

    Parameters
    ----------
    access : DataFrame
        :func:`allocation_analysis.derive.access_frame` of the semester.
    allocations : DataFrame
        :func:`allocation_analysis.derive.prepare_allocations`, restricted to the
        semester's leases by the caller.
    config : AnalysisConfig
        ``alpha`` (level of every interval and test) and ``seed`` reach every
        test that takes them; a test without an interval nor an ``alpha``
        argument (log-rank, dissimilarity) carries the run's ``alpha`` too,
        the level at which its p-value is read.
    n_boot : int
        Bootstrap replicates of the household-profile probabilities (the only
        bootstrap left in the report: the Fairlie decomposition uses analytic
        standard errors).
    n_permutations : int
        Permutations of the segregation test.
    include_profiles : bool
        Also run the gradient-boosting profiles and the IPW robustness checks
        (both in the robustness family: the primary tests and their adjusted
        p-values do not depend on it).
    n_jobs : int, optional
        Processes for the bootstrap of the profiles: this one and
        ``n_jobs - 1`` reusable workers (default: two processes, or one on a
        single-core machine). Results do not depend on it: every replicate has
        its own seed.

    Returns
    -------
    list of TestRecord
        In the order of :data:`TEST_PLAN` (deterministic output).

    Notes
    -----
    Cost. Apart from the profiles, every test is one fit (the Fairlie
    decomposition's standard errors come from influence values, calibrated on
    the synthetic generator, see ``docs/calibration.md``), and the BLAS is
    limited to one thread: a multi-threaded BLAS only adds synchronisation on
    models of a few dozen columns, up to a hundredfold slowdown on a busy
    2-core machine. The profiles refit a gradient-boosting model for every
    bootstrap replicate (about 0.3 s each at the scale of the MEL), hence
    ``n_boot = 50``: for a normal bootstrap distribution the Monte Carlo
    standard error of a 2.5 % or 97.5 % percentile bound is
    sqrt(0.025 * 0.975 / 50) / phi(1.96), about 0.38 bootstrap SE, about 10 %
    of the interval width — enough for the illustrative profiles table of a
    semi-annual report, not for fine tail statements; a researcher can
    raise it. ``n_permutations = 999`` gives p-values down to 0.001 and costs
    milliseconds (multivariate hypergeometric draws).
    """
    from allocation_analysis.threads import single_thread

    alpha = config.alpha
    plan = [
        _with_option(t, "n_boot", n_boot) if t.method == "profiles" else t
        for t in TEST_PLAN
        if include_profiles or t.method not in ("ipw", "profiles")
    ]
    jobs = n_jobs if n_jobs is not None else min(2, os.cpu_count() or 1)
    # n_boot is the profiles' only (set on their planned tests above): passed as a
    # run-wide override it would also reach the Fairlie decomposition, whose
    # analytic inference does not need it, and refit its logit n_boot times.
    options = {"n_permutations": n_permutations, "n_jobs": jobs}
    with single_thread():
        if include_profiles:
            from allocation_analysis.stats.profiles import warm_up_workers

            warm_up_workers(jobs)  # ready by the time the profiles run, after the other tests
        joint: dict[str, TestResult | ResultSet | Exception] = {}
        records: list[TestRecord] = []
        calls = plan_calls(
            access, allocations, alpha=alpha, seed=config.seed, plan=plan, options=options
        )
        for test, fn, kwargs in calls:
            try:
                if test.method in _JOINT:
                    if test.id not in joint:
                        try:
                            joint[test.id] = fn(**kwargs)
                        except Exception as exc:  # noqa: BLE001 - re-raised per level below
                            joint[test.id] = exc
                    out = joint[test.id]
                    if isinstance(out, Exception):
                        raise out
                else:
                    out = fn(**kwargs)
                res = _one(out, test.compared)
            except Exception as exc:  # noqa: BLE001 - reported in the result, not hidden
                log.exception("test %s (%s) failed", test.id, test.compared)
                res = _failed(test.id, test.grouping, test.compared, exc, alpha)
            if "alpha" not in kwargs:
                res = replace(res, alpha=alpha)
            records.append(
                TestRecord(
                    test.id,
                    test.outcome,
                    test.grouping,
                    test.compared,
                    res,
                    family=test.family,
                    sided=test.sided,
                )
            )
        return records


def _num(x: float | int | None) -> float | None:
    if x is None:
        return None
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(xf) or math.isinf(xf) else xf


_RATIOS = frozenset({"odds_ratio", "hazard_ratio"})


def results_frame(
    records: list[TestRecord], *, secret_threshold: int = 11, alpha: float | None = None
) -> pd.DataFrame:
    """Tidy table of the tests (one row per ``results.json`` test entry).

    Rows of the primary family come first, then the robustness checks, each in
    the order of :data:`TEST_PLAN`. Benjamini–Hochberg adjusted p-values
    (``p_adjusted``) are computed within each family (NaN p-values stay NaN),
    so adding or removing a robustness check never changes a primary adjusted
    p-value. ``sided`` states the sidedness of each p-value, ``alpha`` the
    level of its interval (``ci_low``, ``ci_high``: not adjusted for
    multiple testing).

    The primary tests also get intervals consistent with their adjusted
    p-values, ``ci_low_adjusted`` and ``ci_high_adjusted`` at level
    ``ci_level_adjusted`` = ``1 - max(R, 1) * alpha / m`` (``m`` primary
    p-values, ``R`` of them significant after adjustment): the false
    coverage-rate adjusted intervals of Benjamini and Yekutieli (2005), see
    :func:`allocation_analysis.stats.multiple.fcr_adjusted_level`. The primary
    tests are Wald tests of a log odds or hazard ratio, so such an interval
    excludes 1 exactly when the adjusted p-value is below ``alpha``. Intervals
    are recomputed from the Wald interval at ``1 - alpha`` (no refit).

    Parameters
    ----------
    records : list of TestRecord
        From :func:`disparity_tests`.
    secret_threshold : int, keyword-only
        Statistical secret (:func:`allocation_analysis.privacy.protect_test_results`):
        a comparison with a group whose size or number of events is in
        ``[1, secret_threshold - 1]`` has its estimate, intervals and p-values
        withheld (``note`` « effectif trop faible pour être diffusé »); ``n`` is
        published only when no group of the axis is so small (otherwise it
        would give a masked count back, as ``n`` minus the reference group's
        size); small integers of the warnings are masked. The secret is
        applied before the multiple-testing adjustment: a withheld comparison
        is left out of its family (``m`` counts the published p-values only),
        since a Benjamini–Hochberg adjusted value ``m p_(j) / j`` of another
        test can be the withheld p-value itself, scaled.
    alpha : float, optional
        Level of the selection of the primary family; default the level the
        records carry (the run's ``alpha``).

    Returns
    -------
    DataFrame
        One row per test, with ``suppressed`` (values withheld) and ``note``
        (French reason of a withheld value, else ``None``).

    References
    ----------
    .. [1] Benjamini, Y. and Hochberg, Y. (1995). Controlling the false
       discovery rate. *JRSS B* 57(1), 289–300.
    .. [2] Benjamini, Y. and Yekutieli, D. (2005). False discovery
       rate-adjusted multiple confidence intervals for selected parameters.
       *JASA* 100(469), 71–81.
    """
    from allocation_analysis.privacy import group_counts_of, protect_test_results
    from allocation_analysis.stats import adjust_pvalues
    from allocation_analysis.stats.multiple import fcr_adjusted_level, wald_interval_at_level

    rows = []
    for r in records:
        res = r.result
        rows.append(
            {
                "id": r.id,
                "outcome": r.outcome,
                "group_var": r.grouping.column,
                "group": r.compared,
                "reference": r.grouping.reference,
                "family": r.family,
                "method": res.method,
                "estimate_name": res.estimate_name,
                "estimate": _num(res.estimate),
                "ci_low": _num(res.ci_low),
                "ci_high": _num(res.ci_high),
                "alpha": float(res.alpha),
                "statistic": _num(res.statistic),
                "df": _num(res.df),
                "p_value": _num(res.p_value),
                "df_reference": _num(res.details.get("df_reference")),
                "sided": r.sided,
                "n": int(res.n),
                "warnings": list(res.warnings),
                "_counts": group_counts_of(res.details, (r.grouping.reference, r.compared)),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    rank = (frame["family"] != PRINCIPAL).astype(int)
    frame = frame.iloc[np.argsort(rank.to_numpy(), kind="stable")].reset_index(drop=True)
    # Secret first: a withheld p-value must not shape the published adjusted ones.
    counts = frame.pop("_counts").tolist()
    frame = protect_test_results(frame, counts, threshold=secret_threshold)
    p = frame["p_value"].astype(float)
    frame["p_adjusted"] = np.nan
    for fam in pd.unique(frame["family"]):
        sel = (frame["family"] == fam).to_numpy()
        frame.loc[sel, "p_adjusted"] = np.asarray(
            adjust_pvalues(p[sel].to_numpy(), method="fdr_bh"), dtype=float
        )
    frame["ci_low_adjusted"] = np.nan
    frame["ci_high_adjusted"] = np.nan
    frame["ci_level_adjusted"] = np.nan
    prim = (frame["family"] == PRINCIPAL).to_numpy()
    if prim.any():
        level_alpha = float(frame.loc[prim, "alpha"].iloc[0]) if alpha is None else float(alpha)
        level = fcr_adjusted_level(p[prim].to_numpy(), alpha=level_alpha)
        for i in np.flatnonzero(prim):
            rec = frame.iloc[i]
            if math.isnan(level) or _num(rec["p_value"]) is None:
                continue
            lo, hi = wald_interval_at_level(
                rec["estimate"],
                rec["ci_low"],
                rec["ci_high"],
                alpha=float(rec["alpha"]),
                level=level,
                log_scale=rec["estimate_name"] in _RATIOS,
                df=_num(rec["df_reference"]),
            )
            frame.loc[i, ["ci_low_adjusted", "ci_high_adjusted", "ci_level_adjusted"]] = [
                lo,
                hi,
                level,
            ]
    return frame


def test_entries(frame: pd.DataFrame) -> list[dict]:
    """``results.json`` → ``tests`` entries from :func:`results_frame`.

    The fields of a ``results.json`` test entry (``docs/data-model.md`` §3) plus ``family`` (``principal`` or
    ``robustesse``: the multiple-testing family of ``p_adjusted``), ``sided``
    (``bilatéral`` or ``unilatéral``), ``alpha`` (``ci_low``/``ci_high`` are a
    ``1 - alpha`` interval, not adjusted) and, for the primary tests, the
    interval consistent with the adjustment (``ci_low_adjusted``,
    ``ci_high_adjusted`` at level ``ci_level_adjusted``). ``n`` is ``None``
    when it is not publishable and ``note`` then says why, in French
    (:func:`allocation_analysis.privacy.protect_test_results`).
    """
    keys = [
        "id",
        "outcome",
        "group_var",
        "group",
        "reference",
        "method",
        "estimate_name",
        "estimate",
        "ci_low",
        "ci_high",
        "statistic",
        "p_value",
        "p_adjusted",
        "n",
        "warnings",
        "suppressed",
        "note",
        "family",
        "sided",
        "alpha",
        "ci_low_adjusted",
        "ci_high_adjusted",
        "ci_level_adjusted",
    ]
    if "note" not in frame:
        frame = frame.assign(note=None)
    out = []
    for rec in frame[keys].to_dict(orient="records"):
        rec = {
            k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v)
            for k, v in rec.items()
        }
        out.append(rec)
    return out
