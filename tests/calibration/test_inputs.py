"""The calibration harness: in-memory inputs, the report's test calls, Wilson intervals."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from allocation_analysis import analysis, calibration, io, session, synth
from allocation_analysis.config import AnalysisConfig, InputPaths, Period

KEY = b"0123456789abcdef0123456789abcdef"


@pytest.fixture(scope="module")
def dataset():
    return synth.generate(scale="tiny", seed=12, effects="null")


def test_in_memory_inputs_equal_the_file_round_trip(dataset, tmp_path):
    folder = synth.write_dataset(dataset, tmp_path / "d", fmt="csv")
    paths = InputPaths(
        demandes=folder / "demandes.csv",
        attributions=folder / "attributions.csv",
        logements=folder / "logements.csv",
        seuils=folder / "seuils_q1.csv",
    )
    from_files = io.load_inputs(paths, key=KEY, siren_epci=synth.SIREN_EPCI)
    in_memory = calibration.loaded_inputs(dataset, key=KEY)
    assert all(t.rejected == 0 for t in from_files.report.tables.values())
    for name in ("demandes", "attributions", "logements", "seuils"):
        a = getattr(from_files, name).reset_index(drop=True)
        b = getattr(in_memory, name).reset_index(drop=True)
        assert list(a.columns) == list(b.columns), name
        assert dict(a.dtypes.astype(str)) == dict(b.dtypes.astype(str)), name
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, obj=name)
    assert in_memory.siren_epci == synth.SIREN_EPCI

    # and the derived analysis frames agree
    cfg = AnalysisConfig(period=Period.parse(synth.DEMO_PERIOD), siren_epci=synth.SIREN_EPCI)
    fa = session.prepare(from_files, cfg)
    fb = session.prepare(in_memory, cfg)
    for name in ("access", "allocations"):
        pd.testing.assert_frame_equal(fa[name], fb[name], obj=name)


@pytest.mark.slow
def test_report_specs_reproduce_disparity_tests(dataset):
    access, alloc, cfg = calibration.analysis_frames(dataset)
    records = analysis.disparity_tests(
        access, alloc, config=cfg, n_boot=5, n_permutations=19, include_profiles=True
    )
    report = {(r.id, r.compared): r.result for r in records}
    specs = calibration.report_specs(
        access, alloc, seed=cfg.seed, n_orderings=50, n_permutations=19, cv_folds=5
    )
    assert {(t, c) for t, c, _, _ in specs} == {
        k for k in report if k[0] != "access_origin_profiles"
    }
    for tid, cmp, fn, kwargs in specs:
        res = fn(**kwargs)
        res = res.by_group(cmp) if hasattr(res, "by_group") else res
        ref = report[(tid, cmp)]
        for field in ("estimate", "ci_low", "ci_high", "p_value", "n"):
            a, b = getattr(res, field), getattr(ref, field)
            # the report runs its models with one BLAS thread: sums of a
            # design with ~100 columns may differ in their last bits
            same = a == b or (_isnan(a) and _isnan(b)) or math.isclose(a, b, rel_tol=1e-9)
            assert same, (tid, cmp, field, a, b)


def _isnan(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


@pytest.fixture(scope="module")
def small_population(dataset):
    return calibration.build_population(dataset)


def test_rejection_rates_deterministic_and_independent_of_workers(small_population):
    ids = ["access_origin_rates", "placement_origin_dissimilarity"]
    kw = dict(null="exchangeable", n_replicates=3, m_access=300, m_placement=40, seed=3)
    one = calibration.rejection_rates(small_population, ids, n_jobs=1, **kw)
    two = calibration.rejection_rates(small_population, ids, n_jobs=2, **kw)
    cols = ["test_id", "group", "valid", "rejections", "rate", "median_estimate"]
    pd.testing.assert_frame_equal(one[cols], two[cols])
    assert set(one["test_id"]) == set(ids)
    assert (one["replicates"] == 3).all()


def test_exchangeable_replicate_permutes_group_pairs_and_keeps_outcomes(small_population):
    pop = small_population
    acc, alloc = calibration.draw_replicate(
        pop, 0, null="exchangeable", m_access=300, m_placement=40, seed=0
    )
    plain, plain_alloc = calibration.draw_replicate(
        pop, 0, null="none", m_access=300, m_placement=40, seed=0
    )
    # same rows, same outcomes and covariates
    pd.testing.assert_series_equal(acc["demande_id"], plain["demande_id"])
    pd.testing.assert_series_equal(acc["access"], plain["access"])
    # the (nationalite, residence_qpv) pairs are a permutation of the drawn ones
    pairs = acc["nationalite"] + "|" + acc["residence_qpv"]
    plain_pairs = plain["nationalite"] + "|" + plain["residence_qpv"]
    assert pairs.value_counts().to_dict() == plain_pairs.value_counts().to_dict()
    assert not pairs.equals(plain_pairs)
    assert len(alloc) == len(plain_alloc) == 40


def test_parametric_replicate_redraws_outcomes_from_the_null_model(small_population):
    pop = small_population
    # the null model reproduces the population rate (score equation of the intercept)
    assert pop.p_access.mean() == pytest.approx(pop.access["access"].mean(), abs=1e-6)
    assert pop.p_placement.mean() == pytest.approx(
        pop.allocations["logement_en_qpv"].mean(), abs=1e-6
    )
    n = min(len(pop.access), 500)
    draws = [
        calibration.draw_replicate(pop, r, null="parametric", m_access=n, m_placement=40)[0]
        for r in range(40)
    ]
    plain = calibration.draw_replicate(pop, 0, null="none", m_access=n, m_placement=40)[0]
    # outcomes change, groups and covariates do not
    assert not draws[0]["access"].equals(plain["access"])
    pd.testing.assert_series_equal(draws[0]["nationalite"], plain["nationalite"])
    # mean of the redrawn outcome ≈ mean p over the drawn rows: 40 x n Bernoulli draws
    rate = np.mean([d["access"].mean() for d in draws])
    assert rate == pytest.approx(pop.p_access.mean(), abs=4 * math.sqrt(0.1 * 0.9 / (40 * n)))


def test_null_probabilities_match_a_hand_fitted_two_cell_model():
    # one binary control: the MLE of the saturated model is the cell proportion
    # x = 0: 1 success of 4 → 0.25 ; x = 1: 3 successes of 4 → 0.75
    frame = pd.DataFrame({"y": [1, 0, 0, 0, 1, 1, 1, 0], "x": [False] * 4 + [True] * 4})
    p = calibration.null_probabilities(frame, outcome="y", controls=["x"])
    np.testing.assert_allclose(p, [0.25] * 4 + [0.75] * 4, atol=1e-6)


def test_in_memory_inputs_carry_propositions_and_cotation_as_the_files_do(tmp_path):
    ds = synth.generate(scale="tiny", seed=4, propositions=True)
    folder = synth.write_dataset(ds, tmp_path / "d", fmt="csv")
    paths = InputPaths(
        demandes=folder / "demandes.csv",
        attributions=folder / "attributions.csv",
        logements=folder / "logements.csv",
        seuils=folder / "seuils_q1.csv",
        propositions=folder / "propositions.csv",
    )
    from_files = io.load_inputs(paths, key=KEY, siren_epci=synth.SIREN_EPCI)
    in_memory = calibration.loaded_inputs(ds, key=KEY)
    assert all(t.rejected == 0 for t in from_files.report.tables.values())
    assert "score_cotation" in from_files.demandes.columns
    for name in ("demandes", "propositions"):
        a = getattr(from_files, name).reset_index(drop=True)
        b = getattr(in_memory, name).reset_index(drop=True)
        assert list(a.columns) == list(b.columns), name
        assert dict(a.dtypes.astype(str)) == dict(b.dtypes.astype(str)), name
        pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-12, obj=name)
