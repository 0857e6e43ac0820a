"""Conditional logistic regression against R ``survival::clogit(method = "exact")``.

Reference values: ``tests/reference/make_reference_clogit.R``.
"""

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from _ref import REFERENCE_DIR, r_reference

from allocation_analysis.stats import TestResult
from allocation_analysis.stats.conditional import conditional_logit_disparity

RTOL = 1e-7
REF = "r_reference_clogit.json"
KW = dict(outcome="y", group="groupe", reference="francaise", compared="etrangere")
TERMS = {
    "group": "groupeetrangere",
    "composition=famille": "compositionfamille",
    "composition=seul": "compositionseul",
}


@pytest.fixture(scope="module")
def data() -> pd.DataFrame:
    d = pd.read_csv(REFERENCE_DIR / "clogit_data.csv")
    d["anciennete_c"] = d["anciennete"] / 100
    return d


@pytest.fixture(scope="module")
def large() -> pd.DataFrame:
    return pd.DataFrame(r_reference(REF)["large_strata"]["data"])


def _check_against_r(res: TestResult, r: dict, terms: dict[str, str]) -> None:
    assert res.estimate_name == "odds_ratio"
    assert res.groups == ("francaise", "etrangere")
    assert res.n == r["n"]
    assert res.estimate == pytest.approx(r["odds_ratio"], rel=RTOL)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=RTOL)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=RTOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    assert res.statistic == pytest.approx(r["z"] ** 2, rel=RTOL)
    assert res.df == 1
    d = res.details
    assert d["coef"] == pytest.approx(r["coef"], rel=RTOL)
    assert d["se"] == pytest.approx(r["se"], rel=RTOL)
    assert d["z"] == pytest.approx(r["z"], rel=RTOL)
    assert set(d["coefficients"]) == set(terms)
    for ours, theirs in terms.items():
        assert d["coefficients"][ours] == pytest.approx(r["coefficients"][theirs], rel=RTOL)
        assert d["std_errors"][ours] == pytest.approx(r["std_errors"][theirs], rel=RTOL)
    assert d["loglik"] == pytest.approx(r["loglik"], rel=1e-10)
    assert d["loglik_null"] == pytest.approx(r["loglik_null"], rel=1e-10)
    assert d["n_events"] == r["n_events"]
    sg = d["score_test_global"]
    assert sg["statistic"] == pytest.approx(r["score_global"]["statistic"], rel=RTOL)
    assert sg["df"] == r["score_global"]["df"]
    assert sg["p_value"] == pytest.approx(r["score_global"]["p_value"], rel=1e-6)
    assert d["converged"]


def test_matches_r_clogit_exact_with_numeric_and_categorical_controls(data):
    r = r_reference(REF)["controls"]
    res = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    _check_against_r(res, r, {**TERMS, "anciennete": "anciennete"})
    assert res.warnings == ()
    # score (Rao) test of the group adjusted for the controls
    s = res.details["score_test"]
    assert s["statistic"] == pytest.approx(r["score_group"]["statistic"], rel=RTOL)
    assert s["p_value"] == pytest.approx(r["score_group"]["p_value"], rel=1e-6)
    assert s["df"] == 1
    # likelihood ratio test of the group, from R's two log-likelihoods
    lr = 2 * (r["loglik"] - r["score_group"]["loglik_null_model"])
    assert res.details["loglik_controls"] == pytest.approx(
        r["score_group"]["loglik_null_model"], rel=1e-10
    )
    assert res.details["lr_test"]["statistic"] == pytest.approx(lr, rel=1e-6)


def test_strata_counts_match_the_r_script(data):
    counts = r_reference(REF)["data"]
    res = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    d = res.details
    assert d["n_strata"] == counts["n_strata"] == 300
    assert d["n_strata_informative"] == counts["n_strata_informative"]
    assert d["n_strata_outcome_varies"] == counts["n_strata_outcome_varies"]
    assert d["n_strata_uninformative"] == counts["n_strata"] - counts["n_strata_informative"]
    assert d["n_rows_used"] == counts["n_rows_outcome_varies"]
    assert counts["n_strata_size_1"] > 0  # the data set has uninformative strata
    assert counts["n_strata_informative"] < counts["n_strata_outcome_varies"]


def test_control_rescaled_by_one_hundredth_gives_the_same_odds_ratio(data):
    r = r_reference(REF)["rescaled"]
    res = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete_c", "composition"]
    )
    _check_against_r(res, r, {**TERMS, "anciennete_c": "anciennete_c"})
    base = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    assert res.estimate == pytest.approx(base.estimate, rel=1e-9)
    assert (res.ci_low, res.ci_high) == pytest.approx((base.ci_low, base.ci_high), rel=1e-9)
    assert res.p_value == pytest.approx(base.p_value, rel=1e-9)
    assert res.details["coefficients"]["anciennete_c"] == pytest.approx(
        100 * base.details["coefficients"]["anciennete"], rel=1e-9
    )
    assert res.details["iterations"] == base.details["iterations"]
    assert res.warnings == base.warnings == ()


def test_group_only_matches_r_and_its_score_test_is_mantel_haenszel(data):
    r = r_reference(REF)["group_only"]
    res = conditional_logit_disparity(data, **KW, strata="id_offre")
    _check_against_r(res, r, {"group": "groupeetrangere"})
    mh = r["mantel_haenszel"]
    assert res.details["score_test"]["statistic"] == pytest.approx(mh["statistic"], rel=RTOL)
    assert res.details["score_test"]["p_value"] == pytest.approx(mh["p_value"], rel=1e-6)
    assert res.details["score_test_global"]["statistic"] == pytest.approx(mh["statistic"], rel=RTOL)


def test_large_strata_of_20_to_50_rows_match_r(large):
    r = r_reference(REF)["large_strata"]
    assert large.groupby("id_offre").size().max() == 50
    assert large.groupby("id_offre")["y"].sum().max() == 25
    res = conditional_logit_disparity(large, **KW, strata="id_offre", controls="x")
    _check_against_r(res, r, {"group": "groupeetrangere", "x": "x"})
    assert res.details["score_test"]["statistic"] == pytest.approx(
        r["score_group"]["statistic"], rel=RTOL
    )


def _brute_force_loglik(d: pd.DataFrame, beta: dict[str, float]) -> float:
    """Exact conditional log-likelihood by enumerating every subset of every stratum."""
    eta = beta["group"] * (d["groupe"] == "etrangere") + beta["anciennete"] * d["anciennete"]
    for level in ("famille", "seul"):
        eta = eta + beta[f"composition={level}"] * (d["composition"] == level)
    ll = 0.0
    for _, s in d.assign(eta=eta).groupby("id_offre"):
        e, y = s["eta"].to_numpy(), s["y"].to_numpy()
        m = int(y.sum())
        if m in (0, len(y)):
            continue
        denom = [math.exp(e[list(c)].sum()) for c in itertools.combinations(range(len(y)), m)]
        ll += e[y == 1].sum() - math.log(math.fsum(denom))
    return ll


def test_loglik_is_the_enumerated_conditional_likelihood_and_its_maximum(data):
    res = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    beta = res.details["coefficients"]
    assert _brute_force_loglik(data, beta) == pytest.approx(res.details["loglik"], rel=1e-12)
    for name in beta:
        for h in (-1e-3, 1e-3):
            moved = {**beta, name: beta[name] + h}
            assert _brute_force_loglik(data, moved) < res.details["loglik"]


def test_swapping_cases_and_controls_inverts_the_odds_ratio(data, large):
    for d, controls in ((data, ["anciennete", "composition"]), (large, ["x"])):
        res = conditional_logit_disparity(d, **KW, strata="id_offre", controls=controls)
        flipped = conditional_logit_disparity(
            d.assign(y=1 - d["y"]), **KW, strata="id_offre", controls=controls
        )
        assert flipped.estimate == pytest.approx(1 / res.estimate, rel=1e-9)
        assert flipped.details["se"] == pytest.approx(res.details["se"], rel=1e-9)
        assert flipped.p_value == pytest.approx(res.p_value, rel=1e-9)


def test_row_order_labels_and_a_shifted_control_change_nothing(data):
    base = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    other = data.sample(frac=1.0, random_state=7).assign(
        id_offre=lambda d: "offre-" + d["id_offre"], anciennete=lambda d: d["anciennete"] + 1e4
    )
    res = conditional_logit_disparity(
        other, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    assert res.estimate == pytest.approx(base.estimate, rel=1e-8)
    assert res.details["se"] == pytest.approx(base.details["se"], rel=1e-8)


def test_stable_for_large_strata_with_a_wide_linear_predictor():
    # 4 strata of 50 candidates with 25 successes; the control spans about 22 units
    # of log odds within each stratum and is centred near 1000 (about 750 units of
    # log odds): the sums of exp(eta) over subsets of 25 rows, about e^18750, would
    # overflow without the normalised recursion
    rng = np.random.default_rng(5)
    rows = []
    for s in range(4):
        x = np.linspace(1000, 1030, 50)
        g = rng.random(50) < 0.5
        w = x + 0.8 * g + 2 * rng.gumbel(size=50)
        y = np.zeros(50, dtype=int)
        y[np.argsort(-w)[:25]] = 1
        rows.append(
            pd.DataFrame(
                {"id_offre": s, "groupe": np.where(g, "etrangere", "francaise"), "x": x, "y": y}
            )
        )
    d = pd.concat(rows, ignore_index=True)
    res = conditional_logit_disparity(d, **KW, strata="id_offre", controls="x")
    assert res.warnings == () and res.details["converged"]
    assert 0.5 < res.details["coefficients"]["x"] < 1.0
    assert math.isfinite(res.estimate) and math.isfinite(res.details["se"])
    assert math.isfinite(res.details["loglik"])
    for other in (d.assign(x=d["x"] - 1000), d.assign(x=d["x"] / 100)):
        again = conditional_logit_disparity(other, **KW, strata="id_offre", controls="x")
        assert again.estimate == pytest.approx(res.estimate, rel=1e-8)
        assert again.details["se"] == pytest.approx(res.details["se"], rel=1e-8)
        assert again.details["loglik"] == pytest.approx(res.details["loglik"], rel=1e-10)


def test_uninformative_strata_contribute_nothing(data):
    base = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    sizes = data.groupby("id_offre")["y"].transform("size")
    cases = data.groupby("id_offre")["y"].transform("sum")
    varies = (cases > 0) & (cases < sizes)
    res = conditional_logit_disparity(
        data[varies], **KW, strata="id_offre", controls=["anciennete", "composition"]
    )
    assert res.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert res.details["loglik"] == pytest.approx(base.details["loglik"], rel=1e-12)
    assert res.details["n_strata_informative"] == base.details["n_strata_informative"]
    assert res.n < base.n


def test_other_groups_and_missing_values_are_dropped_with_a_warning(data):
    base = conditional_logit_disparity(data, **KW, strata="id_offre", controls="anciennete")
    extra = pd.DataFrame(
        {
            "id_offre": ["o001", "o002"],
            "groupe": ["ue", "francaise"],
            "anciennete": [1.0, np.nan],
            "composition": ["seul", "seul"],
            "y": [1, 1],
        }
    )
    res = conditional_logit_disparity(
        pd.concat([data, extra], ignore_index=True),
        **KW,
        strata="id_offre",
        controls="anciennete",
    )
    assert res.estimate == pytest.approx(base.estimate, rel=1e-12)
    assert res.n == base.n
    assert any("1 ligne(s) écartée(s)" in w and "valeurs manquantes" in w for w in res.warnings)


def test_control_constant_within_strata_is_dropped_with_a_warning(data):
    base = conditional_logit_disparity(data, **KW, strata="id_offre", controls="anciennete")
    offer_level = data.assign(loyer=data["id_offre"].str[1:].astype(float) * 3.5)
    res = conditional_logit_disparity(
        offer_level, **KW, strata="id_offre", controls=["anciennete", "loyer"]
    )
    assert res.estimate == pytest.approx(base.estimate, rel=1e-10)
    assert "loyer" not in res.details["coefficients"]
    assert any("sans variation à l'intérieur des strates" in w for w in res.warnings)


def test_no_informative_stratum_gives_nan_and_a_french_warning():
    d = pd.DataFrame(
        {
            "id_offre": [1, 1, 2, 2, 3, 4, 4],
            "groupe": [
                "etrangere",
                "etrangere",
                "francaise",
                "francaise",
                "francaise",
                "etrangere",
                "francaise",
            ],
            "y": [1, 0, 0, 1, 1, 0, 0],
        }
    )
    res = conditional_logit_disparity(d, **KW, strata="id_offre")
    assert math.isnan(res.estimate) and math.isnan(res.p_value) and math.isnan(res.ci_low)
    assert res.details["n_strata_informative"] == 0
    assert res.details["n_strata"] == 4
    assert any("Aucune strate informative" in w for w in res.warnings)


def test_absent_group_gives_nan_and_a_french_warning():
    d = pd.DataFrame(
        {
            "id_offre": [1, 1, 2, 2],
            "groupe": pd.Categorical(["francaise"] * 4, categories=["etrangere", "francaise"]),
            "y": [1, 0, 0, 1],
        }
    )
    res = conditional_logit_disparity(d, **KW, strata="id_offre")
    assert math.isnan(res.estimate)
    assert any("'etrangere' n'a aucune observation" in w for w in res.warnings)


def test_separation_on_the_group_gives_nan_and_a_french_warning():
    # in every informative offer the compared candidate is the one housed
    d = pd.DataFrame(
        {
            "id_offre": [1, 1, 2, 2, 2, 3, 3, 4],
            "groupe": [
                "etrangere",
                "francaise",
                "etrangere",
                "francaise",
                "francaise",
                "francaise",
                "francaise",
                "etrangere",
            ],
            "y": [1, 0, 1, 0, 0, 1, 0, 0],
        }
    )
    res = conditional_logit_disparity(d, **KW, strata="id_offre")
    assert math.isnan(res.estimate) and math.isnan(res.p_value)
    assert any("Séparation" in w for w in res.warnings)


@pytest.mark.parametrize("scale", [1.0, 0.01, 1000.0])
def test_separation_by_a_control_is_detected_whatever_its_units(scale):
    # the candidate with the largest control wins every offer
    rng = np.random.default_rng(3)
    sizes = rng.integers(2, 5, 120)
    sid = np.repeat(np.arange(120), sizes)
    x = rng.normal(size=sid.size)
    y = np.zeros(sid.size, dtype=int)
    for s in range(120):
        idx = np.flatnonzero(sid == s)
        y[idx[np.argmax(x[idx])]] = 1
    g = np.where(rng.random(sid.size) < 0.4, "etrangere", "francaise")
    d = pd.DataFrame({"id_offre": sid, "groupe": g, "x": x * scale, "y": y})
    res = conditional_logit_disparity(d, **KW, strata="id_offre", controls="x")
    assert math.isnan(res.estimate)
    assert any("Séparation" in w and "le contrôle x " in w for w in res.warnings)


def test_a_strong_but_finite_effect_of_a_small_scale_control_is_not_separation(data):
    # a control in shares: coefficient around 22 per unit, standardised effect small
    res = conditional_logit_disparity(
        data, **KW, strata="id_offre", controls=["anciennete_c", "composition"]
    )
    assert abs(res.details["coefficients"]["anciennete_c"]) > 15
    assert math.isfinite(res.estimate) and not any("Séparation" in w for w in res.warnings)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(strata="offre"), "`strata` désigne la colonne 'offre'"),
        (dict(strata="id_offre", reference="x"), "`reference` vaut 'x'"),
        (dict(strata="id_offre", compared=None), "`compared` est obligatoire"),
        (dict(strata="id_offre", controls=["id_offre"]), "`controls` ne doit contenir"),
        (dict(strata="groupe"), "`strata` doit désigner une autre colonne"),
        (dict(strata="id_offre", alpha=1.5), "`alpha`"),
        (dict(strata="id_offre", outcome="composition"), "doit être binaire"),
    ],
)
def test_argument_errors_raise_value_error_in_french(data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conditional_logit_disparity(data, **{**KW, **kwargs})


def test_not_a_dataframe_raises():
    with pytest.raises(ValueError, match="pandas.DataFrame"):
        conditional_logit_disparity([1, 2], **KW, strata="id_offre")
