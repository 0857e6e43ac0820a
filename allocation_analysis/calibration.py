"""Size, power and coverage of the report's statistical tests on synthetic replicates.

Each replicate is a data set of :func:`allocation_analysis.synth.generate`
(seed ``seed * 1_000_003 + r``, the rule of
:func:`~allocation_analysis.synth.draw_replicates`), turned into the analysis
frames in memory (:func:`loaded_inputs`, then
:func:`allocation_analysis.session.prepare`) and analysed by
:func:`allocation_analysis.analysis.disparity_tests` — the very code path of the
report, with the same outcomes, controls, clusters and strata. For each test
id of ``results.json`` and each compared group, :func:`rejection_rates` counts
the replicates with ``p < alpha`` and, when the generator plants the quantity
the test estimates, the replicates whose confidence interval covers it.

Two null hypotheses
-------------------
The generator's null effects (``effects_null.yaml``) make every *adjusted*
odds ratio equal to 1, but not the *raw* gaps: nationality and QPV residence
are correlated with income, household size and requested typology, which the
access model uses. Under ``effects_null`` the raw-rate tests (score test,
Cochran–Mantel–Haenszel stratified by typology × priority only, log-rank) and
the dissimilarity of allocations across communes therefore test hypotheses
that are false, and their rejection rate measures power against composition
effects, not size. ``shuffle_groups=True`` gives the null every test is
calibrated under: within each replicate the pair (``nationalite``,
``residence_qpv``) is permuted across demands (one permutation, applied to the
demand frame before deriving the access and allocation frames), so that group
membership is independent of everything else while the group sizes and every
other variable keep their synthetic distribution.

Helpers
-------
:func:`loaded_inputs` builds the :class:`~allocation_analysis.io.Inputs` that
:func:`~allocation_analysis.io.load_inputs` would return for the written data
set, without files: the generator's tables are already typed, so each
contract column is only cast to the dtype of its :class:`ColumnSpec`
(``docs/data-model.md`` §1) and ``num_unique`` is pseudonymised with
:func:`~allocation_analysis.privacy.pseudonymise`. The equivalence with the
file round trip is tested (``tests/calibration/test_inputs.py``). It takes
about 0.05 s per ``tiny`` replicate against about 1.5 s for writing and
reading files.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as sps

from allocation_analysis.config import AnalysisConfig, Period

__all__ = [
    "COVERAGE_TRUTH",
    "TEST_IDS",
    "analysis_frames",
    "loaded_inputs",
    "rejection_rates",
    "replicate_records",
    "report_specs",
    "summarise",
    "wilson_interval",
]

log = logging.getLogger(__name__)

_SEED_STRIDE = 1_000_003
"""Seed of replicate ``r``: ``seed * _SEED_STRIDE + r`` (as :func:`synth.draw_replicates`)."""

_CALIBRATION_KEY = b"calibration-synthetic-data-only"
"""Pseudonymisation key of the in-memory path (synthetic identifiers, nothing secret)."""

COVERAGE_TRUTH: dict[str, str] = {
    "access_origin_logit": "access.nationalite",
    "access_residence_logit": "access.residence_qpv",
    "placement_origin_logit": "placement_qpv.nationalite",
    "placement_residence_logit": "placement_qpv.residence_qpv",
}
"""Tests whose estimate is an exact parameter of the generator (``truth["exact"]``)."""


# --------------------------------------------------------------------------- in-memory inputs
def _cast(values: pd.Series, dtype: str) -> pd.Series:
    if dtype == "string":
        out = values.astype("string").str.strip()
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
    from allocation_analysis.io.schemas import TABLES, empty_column
    from allocation_analysis.privacy import pseudonymise

    spec = TABLES[table]
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
        ``demandes``, ``attributions``, ``logements``, ``seuils`` with the
        columns and dtypes of ``docs/data-model.md`` §1 (``source_row`` = row
        index + 2, as for a Parquet file); no geography (the synthetic tables
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
    )


def _shuffle_groups(frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
    """Permute the pair (``nationalite``, ``residence_qpv``) across the rows of a frame."""
    out = frame.copy()
    perm = rng.permutation(len(out))
    for col in ("nationalite", "residence_qpv"):
        out[col] = pd.array(out[col].to_numpy()[perm], dtype="string")
    return out


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
TEST_IDS: tuple[str, ...] = (
    "access_origin_rates",
    "access_origin_cmh",
    "access_origin_logit",
    "access_origin_fairlie",
    "waiting_time_origin_logrank",
    "waiting_time_origin_cox",
    "placement_origin_logit",
    "placement_origin_dissimilarity",
    "access_origin_ipw",
    "access_residence_rates",
    "access_residence_cmh",
    "access_residence_logit",
    "access_residence_fairlie",
    "waiting_time_residence_logrank",
    "waiting_time_residence_cox",
    "placement_residence_logit",
    "access_residence_ipw",
)
"""Test ids of ``results.json`` studied here (``access_origin_profiles`` has no p-value)."""


def report_specs(
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    seed: int,
    n_boot: int = 50,
    n_orderings: int = 1,
    n_permutations: int = 199,
    cv_folds: int = 1,
    test_ids: Iterable[str] | None = None,
) -> list[tuple[str, str, Callable[..., Any], dict[str, Any]]]:
    """The calls :func:`allocation_analysis.analysis.disparity_tests` makes.

    Same frames, outcomes, groups, controls, cluster and strata as the report
    (their equality with ``disparity_tests`` is tested). Three options only
    change the cost, not the p-value or the interval being studied:
    ``n_orderings`` of :func:`~allocation_analysis.stats.fairlie` (the
    orderings only split the explained part among controls; the unexplained
    part, its bootstrap SE and its p-value do not use them), ``cv_folds`` of
    :func:`~allocation_analysis.stats.ipw_disparity` (1 skips the
    cross-validated diagnostics of the propensity model) and the number of
    bootstrap replicates and permutations.

    Returns
    -------
    list of (test_id, compared, function, kwargs)
    """
    from allocation_analysis import analysis, stats

    wanted = set(TEST_IDS if test_ids is None else test_ids)
    acc = access.copy()
    acc["strate"] = analysis._access_strata(acc)
    acc["_allocation"] = (acc["evenement"] == 1).astype(int)
    alloc = allocations.copy()
    alloc["logement_en_qpv"] = alloc["logement_en_qpv"].astype(bool)
    out = []
    for g in analysis.GROUPINGS:
        col, ref, k = g.column, g.reference, g.key
        for cmp in g.compared:
            sub = acc[acc[col].isin([ref, cmp])]
            asub = alloc[alloc[col].isin([ref, cmp])]
            common = {"group": col, "reference": ref, "compared": cmp}
            surv = {"duration": "duree_jours", "event": "_allocation", "group": col}
            ctrl = analysis.ACCESS_CONTROLS
            specs = [
                (
                    f"access_{k}_rates",
                    stats.compare_rates,
                    dict(df=sub, outcome="access", **common),
                ),
                (
                    f"access_{k}_cmh",
                    stats.cmh,
                    dict(df=sub, outcome="access", strata="strate", **common),
                ),
                (
                    f"access_{k}_logit",
                    stats.logit_disparity,
                    dict(
                        df=sub, outcome="access", controls=ctrl, cluster=analysis.CLUSTER, **common
                    ),
                ),
                (
                    f"access_{k}_fairlie",
                    stats.fairlie,
                    dict(
                        df=sub,
                        outcome="access",
                        controls=ctrl,
                        n_boot=n_boot,
                        n_orderings=n_orderings,
                        random_state=seed,
                        **common,
                    ),
                ),
                (f"waiting_time_{k}_logrank", stats.logrank, dict(df=sub, **surv)),
                (
                    f"waiting_time_{k}_cox",
                    stats.cox,
                    dict(
                        df=sub,
                        reference=ref,
                        compared=cmp,
                        controls=ctrl,
                        cluster=analysis.CLUSTER,
                        entry="entree_jours",
                        **surv,
                    ),
                ),
                (
                    f"placement_{k}_logit",
                    stats.logit_disparity,
                    dict(
                        df=asub,
                        outcome="logement_en_qpv",
                        controls=analysis.PLACEMENT_CONTROLS,
                        **common,
                    ),
                ),
            ]
            if k == "origin":
                specs.append(
                    (
                        "placement_origin_dissimilarity",
                        stats.dissimilarity,
                        dict(
                            df=asub,
                            group=col,
                            unit="commune_logement",
                            reference=ref,
                            compared=cmp,
                            n_permutations=n_permutations,
                            random_state=seed,
                        ),
                    )
                )
            specs.append(
                (
                    f"access_{k}_ipw",
                    stats.ipw_disparity,
                    dict(df=sub, outcome="access", controls=ctrl, cv_folds=cv_folds, **common),
                )
            )
            out.extend((tid, cmp, fn, kw) for tid, fn, kw in specs if tid in wanted)
    return out


# --------------------------------------------------------------------------- one replicate
def _truth_value(truth: Mapping[str, Any], path: str, compared: str) -> float:
    block, name = path.split(".")
    node = truth["effects"][block][name]
    return float(node[compared] if isinstance(node, Mapping) else node)


def _is_null(truth: Mapping[str, Any], test_id: str) -> bool:
    """Whether the planted access effects of the test's grouping are all 1."""
    acc = truth["effects"]["access"]
    if "_origin_" in test_id:
        return all(float(v) == 1.0 for v in acc["nationalite"].values())
    return float(acc["residence_qpv"]) == 1.0


def _f(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return math.nan


def replicate_records(
    replicate: int,
    *,
    effects: str | Path | Mapping[str, Any] | None,
    test_ids: Iterable[str] | None = None,
    scale: str = "tiny",
    seed: int = 0,
    shuffle_groups: bool = False,
    n_boot: int = 50,
    n_permutations: int = 199,
) -> list[dict[str, Any]]:
    """Run the report's tests on one synthetic replicate.

    Parameters
    ----------
    replicate : int
        Replicate number ``r``; the data set's seed is ``seed * 1_000_003 + r``.
    effects, scale, seed
        As :func:`allocation_analysis.synth.draw_replicates`.
    test_ids : iterable of str, optional
        Tests to run (default :data:`TEST_IDS`).
    shuffle_groups : bool, keyword-only
        Permute (``nationalite``, ``residence_qpv``) across the rows of the
        access frame, and independently across the semester's allocations.
    n_boot, n_permutations : int, keyword-only
        Bootstrap replicates (Fairlie) and permutations (dissimilarity).

    Returns
    -------
    list of dict
        One per test and compared group: ``replicate``, ``test_id``,
        ``group``, ``estimate``, ``ci_low``, ``ci_high``, ``p_value``,
        ``truth`` (planted value when the estimate is an exact parameter of the
        generator, 0 for the IPW difference under null access effects, else
        NaN), ``n``, ``failed`` (an exception was raised), ``seconds``.
    """
    import time

    from allocation_analysis import synth

    rseed = int(seed) * _SEED_STRIDE + int(replicate)
    ds = synth.generate(scale=scale, seed=rseed, effects=effects)
    access, alloc, _ = analysis_frames(ds)
    if shuffle_groups:
        rng = np.random.default_rng(np.random.SeedSequence([rseed, 7]))
        access = _shuffle_groups(access, rng)
        alloc = _shuffle_groups(alloc, rng)
    rows = []
    for tid, cmp, fn, kwargs in report_specs(
        access,
        alloc,
        seed=rseed % (2**31),
        n_boot=n_boot,
        n_permutations=n_permutations,
        test_ids=test_ids,
    ):
        t0 = time.perf_counter()
        failed = False
        try:
            res = fn(**kwargs)
            res = res.by_group(cmp) if hasattr(res, "by_group") else res
        except Exception:  # noqa: BLE001 - counted as a failed replicate, as the report does
            log.exception("test %s (%s) failed in replicate %d", tid, cmp, replicate)
            res, failed = None, True
        truth = math.nan
        if tid in COVERAGE_TRUTH and not shuffle_groups:
            truth = _truth_value(ds.truth, COVERAGE_TRUTH[tid], cmp)
        elif tid.endswith("_ipw") and (shuffle_groups or _is_null(ds.truth, tid)):
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
def wilson_interval(k: int, n: int, *, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion ``k / n``.

    References
    ----------
    .. [1] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22(158), 209–212.
    """
    if n <= 0:
        return math.nan, math.nan
    z = float(sps.norm.ppf(1 - alpha / 2))
    p = k / n
    den = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return max(0.0, centre - half), min(1.0, centre + half)


def _chunk(args: tuple[list[int], dict[str, Any]]) -> list[dict[str, Any]]:
    reps, kwargs = args
    out: list[dict[str, Any]] = []
    for r in reps:
        out.extend(replicate_records(r, **kwargs))
    return out


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


def rejection_rates(
    test_ids: Iterable[str] | None = None,
    *,
    n_replicates: int,
    effects: str | Path | Mapping[str, Any] | None,
    scale: str = "tiny",
    seed: int = 0,
    alpha: float = 0.05,
    shuffle_groups: bool = False,
    n_boot: int = 50,
    n_permutations: int = 199,
    n_jobs: int | None = None,
    return_records: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, pd.DataFrame]:
    """Rejection rate (and coverage of the planted truth) of the report's tests.

    Parameters
    ----------
    test_ids : iterable of str, optional
        Test ids of ``results.json`` to run (:data:`TEST_IDS`); default all.
    n_replicates : int, keyword-only
        Synthetic replicates.
    effects : path, mapping, "null", "default" or None, keyword-only
        Planted effects (:func:`allocation_analysis.synth.load_effects`).
    scale : str, keyword-only
        Generator scale (``"tiny"``: about 600 demands active in the semester
        and 60 leases; ``"small"``: three times more).
    seed : int, keyword-only
        Master seed; replicate ``r`` uses ``seed * 1_000_003 + r``. Same seed ⇒
        same table, whatever ``n_jobs``.
    alpha : float, keyword-only
        Level of the tests; a replicate rejects when ``p < alpha``.
    shuffle_groups : bool, keyword-only
        Permute group membership across rows in each replicate (the null of
        the raw tests; see the module docstring).
    n_boot, n_permutations : int, keyword-only
        Fairlie bootstrap replicates and dissimilarity permutations.
    n_jobs : int, optional
        Worker processes (default ``min(2, os.cpu_count())``; 1 runs in process).
    return_records : bool, keyword-only
        Also return the per-replicate rows of :func:`replicate_records`.

    Returns
    -------
    DataFrame
        One row per (``test_id``, ``group``): ``replicates``, ``valid``
        (replicates with a p-value; the others are degenerate fits reported
        with a warning, e.g. separation), ``rejections``, ``rate`` =
        rejections / valid with its Wilson 95 % interval (``rate_ci_low``,
        ``rate_ci_high``), ``truth``, ``coverage`` of the truth by the test's
        confidence interval with its Wilson interval (NaN when the estimate is
        not an exact parameter of the generator), ``median_estimate``,
        ``mean_n``, ``seconds_per_replicate``.

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
    ids = tuple(TEST_IDS if test_ids is None else test_ids)
    unknown = sorted(set(ids) - set(TEST_IDS))
    if unknown:
        raise UsageError(f"Tests inconnus : {', '.join(unknown)}.")
    kwargs = dict(
        effects=effects,
        test_ids=ids,
        scale=scale,
        seed=seed,
        shuffle_groups=shuffle_groups,
        n_boot=n_boot,
        n_permutations=n_permutations,
    )
    jobs = n_jobs if n_jobs is not None else min(2, os.cpu_count() or 1)
    reps = list(range(int(n_replicates)))
    if jobs <= 1:
        rows = _chunk((reps, kwargs))
    else:
        size = max(1, math.ceil(len(reps) / (jobs * 8)))
        chunks = [(reps[i : i + size], kwargs) for i in range(0, len(reps), size)]
        rows = []
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            for part in pool.map(_chunk, chunks):
                rows.extend(part)
    order = {t: i for i, t in enumerate(TEST_IDS)}
    records = pd.DataFrame(rows)
    records["_o"] = records["test_id"].map(order)
    records = records.sort_values(["_o", "group", "replicate"], kind="stable").drop(columns="_o")
    records = records.reset_index(drop=True)
    table = summarise(records, alpha=alpha)
    return (table, records) if return_records else table
