"""Cluster-robust tests with few clusters: Student's t with G - 1 degrees of freedom.

R reference: ``tests/reference/make_reference_few_clusters.R`` (12 clusters).
"""

from __future__ import annotations

import json
import math
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from scipy import stats as sps

from allocation_analysis.stats.regression import (
    FEW_CLUSTERS,
    cluster_reference,
    logit_disparity,
)
from allocation_analysis.stats.survival import cox

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-6


@cache
def ref() -> dict[str, Any]:
    with open(REFERENCE_DIR / "r_reference_few_clusters.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    return pd.read_csv(REFERENCE_DIR / "few_clusters_data.csv")


def test_logit_cluster_t_reference_matches_r_vcovcl_hc1(data):
    r = ref()["logit"]
    res = logit_disparity(
        data, outcome="y", group="g", reference="a", compared="b", controls=["x"], cluster="cl"
    )
    assert res.n == r["n"]
    assert res.details["n_clusters"] == ref()["n_clusters"] == 12
    assert res.details["df_reference"] == ref()["df_reference"] == 11
    assert res.details["coef"] == pytest.approx(r["coef"], rel=RTOL)
    assert res.details["se"] == pytest.approx(r["se"], rel=RTOL)
    assert res.details["z"] == pytest.approx(r["t"], rel=RTOL)
    assert res.statistic == pytest.approx(r["t"] ** 2, rel=RTOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    assert res.estimate == pytest.approx(r["estimate"], rel=RTOL)
    assert res.ci_low == pytest.approx(r["ci_low_exp"], rel=RTOL)
    assert res.ci_high == pytest.approx(r["ci_high_exp"], rel=RTOL)
    # the marginal effect uses the cluster variance, hence the same reference
    assert res.details["ame"] == pytest.approx(r["ame"], rel=RTOL)
    assert res.details["ame_se"] == pytest.approx(r["ame_se"], rel=RTOL)
    assert res.details["ame_ci"][0] == pytest.approx(r["ame_ci_low"], rel=RTOL)
    assert res.details["ame_ci"][1] == pytest.approx(r["ame_ci_high"], rel=RTOL)
    # here the normal reference would call the disparity significant at 5 %, t(11) does not
    assert r["p_value_normal"] < 0.05 < res.p_value
    assert res.method.endswith(
        "variance robuste par grappes (HC1, G = 12), loi de Student à 11 degrés de liberté"
    )
    assert any(w.startswith("peu de grappes : G = 12") for w in res.warnings)


def test_cox_cluster_t_reference_matches_r_coxph_robust(data):
    r = ref()["cox"]
    res = cox(
        data,
        duration="time",
        event="event",
        group="g",
        reference="a",
        compared="b",
        controls=["x"],
        cluster="cl",
    )
    assert res.n == r["n"]
    assert res.details["n_events"] == r["nevent"]
    assert res.details["n_clusters"] == 12
    assert res.details["df_reference"] == 11
    assert res.details["coef"] == pytest.approx(r["coef"], rel=RTOL)
    assert res.details["se"] == pytest.approx(r["se"], rel=RTOL)
    assert res.details["z"] == pytest.approx(r["t"], rel=RTOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    assert res.estimate == pytest.approx(r["estimate"], rel=RTOL)
    assert res.ci_low == pytest.approx(r["ci_low_exp"], rel=RTOL)
    assert res.ci_high == pytest.approx(r["ci_high_exp"], rel=RTOL)
    assert "variance robuste par grappes (G = 12), loi de Student à 11 degrés de liberté" in (
        res.method
    )
    assert any(w.startswith("peu de grappes : G = 12") for w in res.warnings)


def test_cox_cluster_method_keeps_the_delayed_entry_mention(data):
    d = data.assign(entree=0.0)
    d = d[d["time"] > 0]
    res = cox(
        d,
        duration="time",
        event="event",
        group="g",
        reference="a",
        compared="b",
        cluster="cl",
        entry="entree",
    )
    assert res.method.endswith(
        "variance robuste par grappes (G = 12), loi de Student à 11 degrés de liberté, "
        "entrée retardée"
    )


def _many_clusters(rng: np.random.Generator, n_clusters: int) -> pd.DataFrame:
    cl = rng.integers(0, n_clusters, 40 * n_clusters)
    u = rng.normal(0, 0.5, n_clusters)[cl]
    return pd.DataFrame(
        {
            "cl": cl,
            "g": np.where(rng.random(len(cl)) < 0.4, "b", "a"),
            "y": (rng.random(len(cl)) < 1 / (1 + np.exp(-u))).astype(int),
            "t": np.ceil(rng.exponential(100 * np.exp(-u))),
            "e": 1,
        }
    )


@pytest.mark.parametrize("n_clusters", [20, 90])
def test_t_reference_whatever_g_and_no_warning_from_twenty_clusters(n_clusters):
    d = _many_clusters(np.random.default_rng(n_clusters), n_clusters)
    lo = logit_disparity(d, outcome="y", group="g", reference="a", compared="b", cluster="cl")
    cx = cox(d, duration="t", event="e", group="g", reference="a", compared="b", cluster="cl")
    for res in (lo, cx):
        assert res.details["n_clusters"] == n_clusters
        assert res.details["df_reference"] == n_clusters - 1
        assert not any(w.startswith("peu de grappes") for w in res.warnings)
        t, df = res.details["z"], n_clusters - 1
        assert res.p_value == pytest.approx(2 * sps.t.sf(abs(t), df), rel=1e-12)
        q = sps.t.ppf(0.975, df)
        b, se = res.details["coef"], res.details["se"]
        assert res.ci_low == pytest.approx(math.exp(b - q * se), rel=1e-12)
        assert res.ci_high == pytest.approx(math.exp(b + q * se), rel=1e-12)
    assert FEW_CLUSTERS == 20


def test_without_cluster_the_reference_stays_normal():
    d = _many_clusters(np.random.default_rng(3), 12)
    res = logit_disparity(d, outcome="y", group="g", reference="a", compared="b")
    assert res.details["df_reference"] is None
    assert res.p_value == pytest.approx(2 * sps.norm.sf(abs(res.details["z"])), rel=1e-12)
    assert "Student" not in res.method
    assert not any(w.startswith("peu de grappes") for w in res.warnings)
    cx = cox(d, duration="t", event="e", group="g", reference="a", compared="b")
    assert cx.details["df_reference"] is None
    assert cx.p_value == pytest.approx(2 * sps.norm.sf(abs(cx.details["z"])), rel=1e-12)


def test_cluster_reference_labels_and_guard():
    two = cluster_reference(2)
    assert two.df == 1
    assert two.label == "loi de Student à 1 degré de liberté"
    assert two.critical(0.05) == pytest.approx(12.7062047361747, rel=1e-10)
    assert cluster_reference(12).label == "loi de Student à 11 degrés de liberté"
    assert cluster_reference(12).p_value(2.0) == pytest.approx(2 * sps.t.sf(2.0, 11))
    with pytest.raises(ValueError):
        cluster_reference(1)


def test_cox_with_a_single_cluster_is_not_estimable():
    d = _many_clusters(np.random.default_rng(5), 12).assign(cl=0)
    res = cox(d, duration="t", event="e", group="g", reference="a", compared="b", cluster="cl")
    assert math.isnan(res.p_value) and math.isnan(res.estimate)
    assert any("Moins de deux grappes" in w for w in res.warnings)


def test_size_under_a_null_with_fifteen_clusters(capsys):
    """Size of the 5 % test: z reference against t(G - 1), 400 null replicates.

    Cluster random effects on the outcome, the group drawn per person with a
    share that depends on the cluster, no group effect, no cluster-level
    control: the group's coefficient has a between-cluster variance that the
    robust variance estimates from only 15 clusters.
    """
    rng = np.random.default_rng(20261202)
    reps, n_clusters = 400, 15
    rejected_z = rejected_t = 0
    for _ in range(reps):
        sizes = rng.integers(10, 90, n_clusters)
        cl = np.repeat(np.arange(n_clusters), sizes)
        u = rng.normal(0, 1.0, n_clusters)[cl]
        share = rng.uniform(0.05, 0.95, n_clusters)[cl]
        d = pd.DataFrame(
            {
                "cl": cl,
                "g": np.where(rng.random(len(cl)) < share, "b", "a"),
                "y": (rng.random(len(cl)) < 1 / (1 + np.exp(-(u - 0.5)))).astype(int),
            }
        )
        res = logit_disparity(d, outcome="y", group="g", reference="a", compared="b", cluster="cl")
        assert res.details["df_reference"] == n_clusters - 1
        rejected_z += abs(res.details["z"]) > sps.norm.ppf(0.975)
        rejected_t += res.p_value < 0.05
    size_z, size_t = rejected_z / reps, rejected_t / reps
    with capsys.disabled():
        print(
            f"\nfew clusters (G = {n_clusters}, {reps} null replicates): size at 5 % "
            f"with the normal reference = {size_z:.3f}, with t({n_clusters - 1}) = {size_t:.3f}"
        )
    assert size_z > 0.05
    assert size_t <= 0.075
    assert size_t < size_z
