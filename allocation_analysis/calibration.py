"""Size, power and coverage of the report's statistical tests.

Design
------
One realistic synthetic population is generated once
(:func:`allocation_analysis.synth.generate`, ``mel`` scale: about 60 000
demands active in the semester, 6 000 leases), turned into the report's
analysis frames in memory (:func:`analysis_frames`) and wrapped in a
:class:`Population`. A replicate is a random subsample of it — ``m_access``
rows of the access frame (access and waiting-time tests) and ``m_placement``
leases of the semester (placement tests) drawn without replacement with a
:class:`numpy.random.Generator` seeded by ``SeedSequence([seed, r])`` — on
which the calls of :func:`allocation_analysis.analysis.disparity_tests` are
run (:func:`report_specs`: same outcomes, controls ``ACCESS_CONTROLS`` and
``PLACEMENT_CONTROLS``, cluster ``commune_choix1``, strata of
``analysis._access_strata``). Subsamples keep the generator's realistic
covariate structure: nationality and QPV residence correlated with income,
household size, requested typology, housing situation.

Two exact nulls, chosen per test
--------------------------------
*Exchangeable null* (``null="exchangeable"``), for the raw tests (score test
of ``compare_rates``, ``cmh`` over typology × priority strata, ``logrank``,
``dissimilarity`` of allocations across communes) and for ``cox``: within
each replicate the pair (``nationalite``, ``residence_qpv``) is permuted
jointly across the rows of the access subsample, and independently across the
rows of the placement subsample. Group membership is then independent of the
outcome and of every covariate, group sizes are unchanged, and every one of
these tests' null hypotheses holds exactly.

*Parametric (model-based) null* (``null="parametric"``), for the adjusted
logits of access (controls ``ACCESS_MODEL_CONTROLS``, cluster-robust SE by
``commune_choix1``) and placement (``PLACEMENT_CONTROLS``), for ``fairlie``
and for ``ipw_disparity``: the logistic model of the outcome on the controls
*without* any group term is fitted once on the whole population
(:func:`null_probabilities`, statsmodels); in each replicate the outcome of
the subsampled rows is redrawn as Bernoulli(p̂). The conditional odds ratio
of every group given the controls is then exactly 1 and the IPW estimand (ATT
difference of rates) exactly 0, while groups keep their realistic, correlated
composition: precisely the null under which the adjusted tests must have
their nominal size. This checks calibration under a *correctly specified*
model; it says nothing about the tests' behaviour under misspecification.

Without a null (``null="none"``), replicates are plain subsamples: with the
planted effects of ``effects_default.yaml`` the rejection rates are powers, and
the coverage of the planted odds ratios (exact parameters of the generator's
access and placement models, ``truth["exact"]``) by the logit intervals is
measured. Coverage is then of the finite population's parameter as seen from
one population; it is close to the planted value when the sampling fraction is
small.

Results do not depend on the number of worker processes: every replicate has
its own seed and the records are sorted before aggregation.
"""

from __future__ import annotations

import logging
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.stats.rates import wilson_interval

__all__ = [
    "COVERAGE_TRUTH",
    "PROCESS_OUTCOMES",
    "process_stage_records",
    "NULLS",
    "TEST_IDS",
    "Population",
    "analysis_frames",
    "build_population",
    "draw_replicate",
    "loaded_inputs",
    "null_probabilities",
    "rejection_rates",
    "replicate_records",
    "report_specs",
    "summarise",
]

log = logging.getLogger(__name__)

_CALIBRATION_KEY = b"calibration-synthetic-data-only"
"""Pseudonymisation key of the in-memory path (synthetic identifiers, nothing secret)."""

COVERAGE_TRUTH: dict[str, str] = {
    "access_origin_logit": "access.nationalite",
    "access_residence_logit": "access.residence_qpv",
    "placement_origin_logit": "placement_qpv.nationalite",
    "placement_residence_logit": "placement_qpv.residence_qpv",
}
"""Tests whose estimate is an exact parameter of the generator (``truth["exact"]``)."""

NULLS: tuple[str, ...] = ("exchangeable", "parametric", "none")
"""Ways of drawing a replicate (see the module docstring)."""

_GROUP_COLUMNS = ("nationalite", "residence_qpv")


# --------------------------------------------------------------------------- in-memory inputs
def _cast(values: pd.Series, dtype: str) -> pd.Series:
    if dtype == "string":
        from allocation_analysis.io.parsing import TEXT_DTYPE  # the loader's text dtype

        out = values.astype(TEXT_DTYPE).str.strip()
        return out.mask(out == "")
    if dtype == "datetime64[ns]":
        return pd.to_datetime(values).astype("datetime64[ns]")
    if dtype == "bool":
        return values.astype(bool)
    if dtype == "boolean":
        return values.astype("boolean")
    if dtype == "Int64":
        return pd.to_numeric(values).astype("Int64")
    return pd.to_numeric(values).astype("float64")


def _table(raw: pd.DataFrame, table: str, key: bytes) -> pd.DataFrame:
    from allocation_analysis.io.load import _with_cotation
    from allocation_analysis.io.schemas import TABLES, empty_column
    from allocation_analysis.privacy import pseudonymise

    spec = TABLES[table]
    if table == "demandes":  # the cotation columns, as the loader keeps them
        raw, spec = _with_cotation(raw, spec, table)
    raw = raw.reset_index(drop=True)
    cols: dict[str, pd.Series] = {}
    for c in spec.columns:
        if c.name in raw.columns:
            cols[c.name] = _cast(raw[c.name], c.dtype)
        else:
            cols[c.name] = empty_column(c, raw.index)
    data = pd.DataFrame(cols, index=raw.index)
    if "num_unique" in data.columns:
        data.insert(0, "demande_id", pseudonymise(data["num_unique"], key))
        data = data.drop(columns=["num_unique"])
    data.insert(0, "source_row", (raw.index.to_numpy() + 2).astype(np.int64))
    return data


def loaded_inputs(ds: Any, *, key: bytes = _CALIBRATION_KEY) -> Any:
    """The loaded tables of a synthetic data set, without writing files.

    Parameters
    ----------
    ds : SynthDataset
        From :func:`allocation_analysis.synth.generate`.
    key : bytes, keyword-only
        Pseudonymisation key of ``num_unique``.

    Returns
    -------
    allocation_analysis.io.Inputs
        ``demandes`` (with its cotation columns when the data set has them),
        ``attributions``, ``logements``, ``seuils`` and ``propositions`` (when
        generated with ``propositions=True``) with the columns and dtypes of
        ``docs/data-model.md`` §1 (``source_row`` = row index + 2, as for a
        Parquet file); no geography (the synthetic tables
        carry their QPV codes) and no rejects (generated data are
        contract-valid).

    Notes
    -----
    Equivalent to :func:`allocation_analysis.io.load_inputs` on the files of
    :func:`allocation_analysis.synth.write_dataset` (tested), about thirty
    times faster.
    """
    from allocation_analysis.io import Inputs

    seuils = _table(ds.seuils_q1, "seuils_q1", key)
    epcis = seuils["siren_epci"].dropna().unique()
    return Inputs(
        demandes=_table(ds.demandes, "demandes", key),
        attributions=_table(ds.attributions, "attributions", key),
        logements=_table(ds.logements, "logements", key),
        seuils=seuils,
        siren_epci=str(epcis[0]) if len(epcis) == 1 else None,
        propositions=None
        if getattr(ds, "propositions", None) is None
        else _table(ds.propositions, "propositions", key),
    )


def analysis_frames(
    ds: Any, *, period: str | Period | None = None
) -> tuple[pd.DataFrame, pd.DataFrame, AnalysisConfig]:
    """Access frame and the semester's allocations of a synthetic data set.

    Parameters
    ----------
    ds : SynthDataset
    period : str or Period, optional
        Semester analysed; default the generator's demonstration semester.

    Returns
    -------
    access, semester_allocations : DataFrame
        As :func:`allocation_analysis.derive.access_frame` and
        :func:`allocation_analysis.derive.prepare_allocations` restricted to
        the semester's leases.
    config : AnalysisConfig
    """
    from allocation_analysis import session, synth

    per = Period.parse(period if period is not None else synth.DEMO_PERIOD)
    inputs = loaded_inputs(ds)
    config = AnalysisConfig(period=per, siren_epci=inputs.siren_epci)
    frames = session.prepare(inputs, config)
    alloc = frames["allocations"]
    d = alloc["date_bail"]
    in_sem = (d >= pd.Timestamp(per.start)) & (d <= pd.Timestamp(per.end))
    return frames["access"], alloc[in_sem.to_numpy()].reset_index(drop=True), config


# --------------------------------------------------------------------------- the report's tests
def _plan_ids() -> tuple[str, ...]:
    from allocation_analysis.analysis import TEST_PLAN

    return tuple(dict.fromkeys(t.id for t in TEST_PLAN if t.method != "profiles"))


TEST_IDS: tuple[str, ...] = _plan_ids()
"""Test ids of ``results.json`` studied here, read from ``analysis.TEST_PLAN``.

Every planned test but the household profiles (an illustrative bootstrap of a
gradient-boosting model, too costly to replicate).
"""


def report_specs(
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    seed: int,
    alpha: float = 0.05,
    n_orderings: int = 1,
    n_permutations: int = 199,
    cv_folds: int = 1,
    test_ids: Iterable[str] | None = None,
) -> list[tuple[str, str, Callable[..., Any], dict[str, Any]]]:
    """The calls :func:`allocation_analysis.analysis.disparity_tests` makes.

    Read from the report's plan (:data:`allocation_analysis.analysis.TEST_PLAN`
    through :func:`allocation_analysis.analysis.plan_calls`): same frames,
    outcomes, groups, controls, cluster, strata, delayed entry and options as
    the report. Three options only change the cost, not the p-value or the
    interval being studied (:data:`allocation_analysis.analysis.COST_OPTIONS`):
    ``n_orderings`` of :func:`~allocation_analysis.stats.fairlie` (the
    orderings only split the explained part among controls; the unexplained
    part, its analytic SE and its p-value do not use them), ``cv_folds`` of
    :func:`~allocation_analysis.stats.ipw_disparity` (1 skips the
    cross-validated diagnostics of the propensity model) and the number of
    permutations.

    Parameters
    ----------
    access, allocations : DataFrame
        Frames of one replicate.
    seed : int, keyword-only
        ``random_state`` of the tests that take one.
    alpha : float, keyword-only
        Level of the tests' intervals (the report's default).
    n_orderings, n_permutations, cv_folds : int, keyword-only
        Cost options.
    test_ids : iterable of str, optional
        Tests to keep (default :data:`TEST_IDS`).

    Returns
    -------
    list of (test_id, compared, function, kwargs)
    """
    from allocation_analysis import analysis

    wanted = set(TEST_IDS if test_ids is None else test_ids)
    plan = [t for t in analysis.TEST_PLAN if t.id in wanted]
    calls = analysis.plan_calls(
        access,
        allocations,
        alpha=alpha,
        seed=seed,
        plan=plan,
        options={
            "n_orderings": n_orderings,
            "n_permutations": n_permutations,
            "cv_folds": cv_folds,
        },
    )
    return [(t.id, t.compared, fn, kw) for t, fn, kw in calls]


# --------------------------------------------------------------------------- population
def _design(frame: pd.DataFrame, controls: Iterable[str]) -> pd.DataFrame:
    """Numeric design matrix of the controls (text columns as treatment dummies)."""
    parts = []
    for c in controls:
        s = frame[c]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            parts.append(pd.to_numeric(s.astype("float64")).rename(c).to_frame())
        else:
            parts.append(pd.get_dummies(s.astype(str), prefix=c, drop_first=True, dtype=float))
    x = pd.concat(parts, axis=1)
    x.insert(0, "const", 1.0)
    return x


def null_probabilities(frame: pd.DataFrame, *, outcome: str, controls: Iterable[str]) -> np.ndarray:
    """Fitted probabilities of the logistic model of ``outcome`` on ``controls`` only.

    The model has no group term: redrawing the outcome as Bernoulli of these
    probabilities makes the conditional odds ratio of every group exactly 1.

    Parameters
    ----------
    frame : DataFrame
        The whole population.
    outcome : str, keyword-only
        Binary outcome column.
    controls : iterable of str, keyword-only
        Control columns (bool and numeric as is, text as treatment dummies).

    Returns
    -------
    numpy.ndarray
        One probability per row of ``frame``.

    References
    ----------
    .. [1] McCullagh, P. & Nelder, J. A. (1989). *Generalized Linear Models*,
       2nd ed., ch. 4. Chapman & Hall.
    """
    import statsmodels.api as sm

    x = _design(frame, controls)
    y = frame[outcome].astype(float).to_numpy()
    fit = sm.Logit(y, x.to_numpy()).fit(disp=0, maxiter=200)
    return np.asarray(fit.predict(x.to_numpy()), dtype=float)


@dataclass(frozen=True)
class Population:
    """A synthetic population from which calibration replicates are subsampled.

    Attributes
    ----------
    access : DataFrame
        Access frame of the semester (:func:`analysis_frames`).
    allocations : DataFrame
        The semester's leases.
    p_access, p_placement : numpy.ndarray
        Null-model probabilities of ``access`` (controls ``ACCESS_MODEL_CONTROLS``)
        and ``logement_en_qpv`` (``PLACEMENT_CONTROLS``), one per row.
    truth : dict
        The generator's truth (planted effects).
    """

    access: pd.DataFrame
    allocations: pd.DataFrame
    p_access: np.ndarray = field(repr=False)
    p_placement: np.ndarray = field(repr=False)
    truth: dict[str, Any] = field(repr=False, default_factory=dict)


def build_population(ds: Any, *, period: str | Period | None = None) -> Population:
    """Analysis frames and null-model probabilities of a synthetic data set.

    Parameters
    ----------
    ds : SynthDataset
        From :func:`allocation_analysis.synth.generate` (``mel`` scale for the
        calibration study).
    period : str or Period, optional
        Semester analysed; default the generator's demonstration semester.

    Returns
    -------
    Population
    """
    from allocation_analysis import analysis

    access, alloc, _ = analysis_frames(ds, period=period)
    p_acc = null_probabilities(access, outcome="access", controls=analysis.ACCESS_MODEL_CONTROLS)
    p_pl = null_probabilities(
        alloc, outcome="logement_en_qpv", controls=analysis.PLACEMENT_CONTROLS
    )
    return Population(access, alloc, p_acc, p_pl, dict(ds.truth))


def _permute_groups(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Permute the pair (``nationalite``, ``residence_qpv``) jointly across the rows."""
    perm = rng.permutation(len(frame))
    out = frame.copy()
    for col in _GROUP_COLUMNS:
        out[col] = pd.array(frame[col].to_numpy()[perm], dtype="string")
    return out


def draw_replicate(
    population: Population,
    replicate: int,
    *,
    null: str,
    m_access: int,
    m_placement: int,
    seed: int = 0,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Subsamples of the population forming replicate ``replicate``.

    Parameters
    ----------
    population : Population
    replicate : int
        Replicate number ``r``; its generator is seeded by
        ``SeedSequence([seed, r])``.
    null : {"exchangeable", "parametric", "none"}, keyword-only
        ``"exchangeable"`` permutes (``nationalite``, ``residence_qpv``) jointly
        across the rows of each subsample; ``"parametric"`` redraws ``access``
        and ``logement_en_qpv`` as Bernoulli of the null-model probabilities;
        ``"none"`` leaves the subsamples as drawn.
    m_access, m_placement : int, keyword-only
        Rows drawn without replacement from the access frame and from the
        semester's leases.
    seed : int, keyword-only
        Master seed.

    Returns
    -------
    access, allocations : DataFrame
    """
    from allocation_analysis.errors import UsageError

    if null not in NULLS:
        raise UsageError(f"Hypothèse nulle inconnue : « {null} » ({', '.join(NULLS)}).")
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), int(replicate)]))
    n_acc, n_pl = len(population.access), len(population.allocations)
    if not (0 < m_access <= n_acc and 0 < m_placement <= n_pl):
        raise UsageError(
            f"Taille de sous-échantillon invalide : {m_access} sur {n_acc} demandes, "
            f"{m_placement} sur {n_pl} attributions."
        )
    ia = np.sort(rng.choice(n_acc, size=m_access, replace=False))
    ip = np.sort(rng.choice(n_pl, size=m_placement, replace=False))
    acc = population.access.iloc[ia].reset_index(drop=True)
    alloc = population.allocations.iloc[ip].reset_index(drop=True)
    if null == "exchangeable":
        acc = _permute_groups(acc, rng)
        alloc = _permute_groups(alloc, rng)
    elif null == "parametric":
        acc["access"] = rng.random(m_access) < population.p_access[ia]
        alloc["logement_en_qpv"] = rng.random(m_placement) < population.p_placement[ip]
    return acc, alloc


# --------------------------------------------------------------------------- one replicate
def _truth_value(truth: Mapping[str, Any], path: str, compared: str) -> float:
    block, name = path.split(".")
    node = truth["effects"][block][name]
    return float(node[compared] if isinstance(node, Mapping) else node)


def _f(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def replicate_records(
    population: Population,
    replicate: int,
    *,
    null: str,
    test_ids: Iterable[str] | None = None,
    m_access: int = 2_000,
    m_placement: int = 1_500,
    seed: int = 0,
    n_permutations: int = 199,
) -> list[dict[str, Any]]:
    """Run the report's tests on one replicate (:func:`draw_replicate`).

    Parameters
    ----------
    population : Population
    replicate : int
    null, m_access, m_placement, seed
        As :func:`draw_replicate`.
    test_ids : iterable of str, optional
        Tests to run (default :data:`TEST_IDS`).
    n_permutations : int, keyword-only
        Permutations of the dissimilarity test.

    Returns
    -------
    list of dict
        One per test and compared group: ``replicate``, ``test_id``,
        ``group``, ``estimate``, ``ci_low``, ``ci_high``, ``p_value``,
        ``truth`` (the planted odds ratio for the logits when ``null="none"``,
        0 for the IPW difference under the parametric null, else NaN), ``n``,
        ``failed`` (an exception was raised), ``seconds``.
    """
    acc, alloc = draw_replicate(
        population, replicate, null=null, m_access=m_access, m_placement=m_placement, seed=seed
    )
    test_seed = int(np.random.SeedSequence([int(seed), int(replicate), 1]).generate_state(1)[0])
    rows = []
    specs = report_specs(
        acc,
        alloc,
        seed=test_seed % (2**31),
        n_permutations=n_permutations,
        test_ids=test_ids,
    )
    for tid, cmp, fn, kwargs in specs:
        t0 = time.perf_counter()
        failed = False
        try:
            res = fn(**kwargs)
            res = res.by_group(cmp) if hasattr(res, "by_group") else res
        except Exception:  # noqa: BLE001 - counted as a failed replicate, as the report does
            log.exception("test %s (%s) failed in replicate %d", tid, cmp, replicate)
            res, failed = None, True
        truth = math.nan
        if null == "none" and tid in COVERAGE_TRUTH and population.truth:
            truth = _truth_value(population.truth, COVERAGE_TRUTH[tid], cmp)
        elif null == "parametric" and tid.endswith("_ipw"):
            truth = 0.0
        rows.append(
            {
                "replicate": int(replicate),
                "test_id": tid,
                "group": cmp,
                "estimate": math.nan if failed else _f(res.estimate),
                "ci_low": math.nan if failed else _f(res.ci_low),
                "ci_high": math.nan if failed else _f(res.ci_high),
                "p_value": math.nan if failed else _f(res.p_value),
                "truth": truth,
                "n": 0 if failed else int(res.n),
                "failed": failed,
                "seconds": time.perf_counter() - t0,
            }
        )
    return rows


# --------------------------------------------------------------------------- aggregation
def summarise(records: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """Rejection and coverage rates per test from :func:`replicate_records` rows.

    See :func:`rejection_rates` for the columns.
    """
    rows = []
    for (tid, grp), d in records.groupby(["test_id", "group"], sort=False):
        p = d["p_value"].to_numpy(dtype=float)
        valid = ~np.isnan(p)
        n = int(valid.sum())
        k = int((p[valid] < alpha).sum())
        lo, hi = wilson_interval(k, n)
        truth = d["truth"].to_numpy(dtype=float)
        has_truth = ~np.isnan(truth)
        cov_rate = cov_lo = cov_hi = math.nan
        if has_truth.any():
            ci_lo = d["ci_low"].to_numpy(dtype=float)[has_truth]
            ci_hi = d["ci_high"].to_numpy(dtype=float)[has_truth]
            t = truth[has_truth]
            ok = ~(np.isnan(ci_lo) | np.isnan(ci_hi))
            n_cov = int(ok.sum())
            covered = int(((ci_lo[ok] <= t[ok]) & (t[ok] <= ci_hi[ok])).sum())
            if n_cov:
                cov_rate = covered / n_cov
                cov_lo, cov_hi = wilson_interval(covered, n_cov)
        est = d["estimate"].to_numpy(dtype=float)
        rows.append(
            {
                "test_id": tid,
                "group": grp,
                "replicates": len(d),
                "valid": n,
                "rejections": k,
                "rate": k / n if n else math.nan,
                "rate_ci_low": lo,
                "rate_ci_high": hi,
                "truth": float(truth[has_truth][0]) if has_truth.any() else math.nan,
                "coverage": cov_rate,
                "coverage_ci_low": cov_lo,
                "coverage_ci_high": cov_hi,
                "median_estimate": float(np.nanmedian(est)) if np.isfinite(est).any() else math.nan,
                "mean_n": float(d["n"].mean()),
                "seconds_per_replicate": float(d["seconds"].mean()),
            }
        )
    return pd.DataFrame(rows)


_WORKER_POPULATION: Population | None = None


def _init_worker(population: Population) -> None:
    global _WORKER_POPULATION
    from allocation_analysis.threads import single_thread

    _WORKER_POPULATION = population
    # parallelism is across replicates: one native thread per worker
    single_thread(openmp=True)


def _chunk(args: tuple[list[int], dict[str, Any]]) -> list[dict[str, Any]]:
    reps, kwargs = args
    assert _WORKER_POPULATION is not None
    out: list[dict[str, Any]] = []
    for r in reps:
        out.extend(replicate_records(_WORKER_POPULATION, r, **kwargs))
    return out


def rejection_rates(
    population: Population,
    test_ids: Iterable[str] | None = None,
    *,
    null: str,
    n_replicates: int,
    m_access: int = 2_000,
    m_placement: int = 1_500,
    seed: int = 0,
    alpha: float = 0.05,
    n_permutations: int = 199,
    n_jobs: int | None = None,
    return_records: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Rejection rate (and coverage) of the report's tests over subsampled replicates.

    Parameters
    ----------
    population : Population
        From :func:`build_population`.
    test_ids : iterable of str, optional
        Test ids of ``results.json`` to run (:data:`TEST_IDS`); default all.
    null : {"exchangeable", "parametric", "none"}, keyword-only
        How replicates are drawn (:func:`draw_replicate`).
    n_replicates : int, keyword-only
    m_access, m_placement : int, keyword-only
        Subsample sizes.
    seed : int, keyword-only
        Master seed. Same seed ⇒ same table, whatever ``n_jobs``.
    alpha : float, keyword-only
        Level of the tests; a replicate rejects when ``p < alpha``.
    n_permutations : int, keyword-only
        Permutations of the dissimilarity test.
    n_jobs : int, optional
        Worker processes (default ``min(2, os.cpu_count())``; 1 runs in
        process). Replicates are sent in chunks of about
        ``n_replicates / (8 n_jobs)``.
    return_records : bool, keyword-only
        Also return the per-replicate rows of :func:`replicate_records`.

    Returns
    -------
    DataFrame
        One row per (``test_id``, ``group``): ``replicates``, ``valid``
        (replicates with a p-value), ``rejections``, ``rate`` =
        rejections / valid with its Wilson 95 % interval (``rate_ci_low``,
        ``rate_ci_high``), ``truth``, ``coverage`` of the truth by the test's
        confidence interval with its Wilson interval (NaN without a truth),
        ``median_estimate``, ``mean_n``, ``seconds_per_replicate``.

    References
    ----------
    .. [1] Morris, T. P., White, I. R. & Crowther, M. J. (2019). Using
       simulation studies to evaluate statistical methods. *Statistics in
       Medicine* 38(11), 2074–2102.
    """
    from allocation_analysis.errors import UsageError

    if int(n_replicates) < 1:
        raise UsageError(f"Nombre de réplications invalide : {n_replicates}.")
    if not 0 < alpha < 1:
        raise UsageError(f"alpha doit être compris entre 0 et 1 (reçu {alpha}).")
    if null not in NULLS:
        raise UsageError(f"Hypothèse nulle inconnue : « {null} » ({', '.join(NULLS)}).")
    ids = tuple(TEST_IDS if test_ids is None else test_ids)
    unknown = sorted(set(ids) - set(TEST_IDS))
    if unknown:
        raise UsageError(f"Tests inconnus : {', '.join(unknown)}.")
    kwargs = dict(
        null=null,
        test_ids=ids,
        m_access=m_access,
        m_placement=m_placement,
        seed=seed,
        n_permutations=n_permutations,
    )
    jobs = n_jobs if n_jobs is not None else min(2, os.cpu_count() or 1)
    reps = list(range(int(n_replicates)))
    if jobs <= 1:
        from allocation_analysis.threads import single_thread

        with single_thread(openmp=True):
            rows = [row for r in reps for row in replicate_records(population, r, **kwargs)]
    else:
        size = max(1, math.ceil(len(reps) / (jobs * 8)))
        chunks = [(reps[i : i + size], kwargs) for i in range(0, len(reps), size)]
        rows = []
        with ProcessPoolExecutor(
            max_workers=jobs, initializer=_init_worker, initargs=(population,)
        ) as pool:
            for part in pool.map(_chunk, chunks):
                rows.extend(part)
    order = {t: i for i, t in enumerate(TEST_IDS)}
    records = pd.DataFrame(rows)
    records["_o"] = records["test_id"].map(order)
    records = records.sort_values(["_o", "group", "replicate"], kind="stable").drop(columns="_o")
    records = records.reset_index(drop=True)
    table = summarise(records, alpha=alpha)
    return (table, records) if return_records else table


# --------------------------------------------------------------------------- process stages
PROCESS_OUTCOMES: tuple[str, ...] = (
    "designation",
    "cal_favourable",
    "refusal",
    "cal_first_equal_score",
)
"""Per-stage tests of the process chapter studied on the generator's process."""

_PROCESS_EFFECT = {
    "designation": "designation",
    "cal_favourable": "decision_cal",
    "refusal": "refus",
}


def process_stage_records(ds: Any, *, period: str | Period | None = None) -> list[dict[str, Any]]:
    """The report's per-stage tests of one synthetic data set with propositions.

    Parameters
    ----------
    ds : SynthDataset
        From :func:`allocation_analysis.synth.generate` with ``propositions=True``.
    period : str or Period, optional
        Semester analysed; default the generator's demonstration semester.

    Returns
    -------
    list of dict
        Per test of :data:`PROCESS_OUTCOMES` and compared group: ``id``,
        ``outcome``, ``group``, ``planted`` (the group's odds ratio in the
        ``processus`` effects: ``designation``, ``decision_cal``, ``refus``;
        1 for the ranked-first test, whose ranking follows the grid equally
        for every group), ``estimate``, ``ci_low``, ``ci_high``, ``p_value``.

    Notes
    -----
    The planted odds ratios are conditional on both nationality and residence
    (``allocation_analysis.synth_process``); a comparison by one of them does
    not adjust for the other, so its estimand is the planted value only when
    the other characteristic has no effect at that stage (docs/calibration.md).
    """
    from allocation_analysis import process, session, synth

    per = Period.parse(period if period is not None else synth.DEMO_PERIOD)
    inputs = loaded_inputs(ds)
    config = AnalysisConfig(period=per, siren_epci=inputs.siren_epci)
    frames = session.prepare(inputs, config)
    cands = process.candidacies(
        frames["propositions"], frames["access"], frames["allocations"], per
    )
    frame = process.process_frame(frames["access"], cands, frames["propositions"])
    records, _ = process.process_tests(frame, cands, config=config, outcomes=PROCESS_OUTCOMES)
    eff = ds.truth["effects"]["processus"]
    out = []
    for r in records:
        planted = 1.0
        if r.outcome in _PROCESS_EFFECT:
            block = eff[_PROCESS_EFFECT[r.outcome]]
            planted = float(
                block["residence_qpv"] if r.compared == "qpv" else block["nationalite"][r.compared]
            )
        out.append(
            {
                "id": r.id,
                "outcome": r.outcome,
                "group": r.compared,
                "planted": planted,
                "estimate": _f(r.result.estimate),
                "ci_low": _f(r.result.ci_low),
                "ci_high": _f(r.result.ci_high),
                "p_value": _f(r.result.p_value),
            }
        )
    return out
