import json
import math
import time

import numpy as np
import pandas as pd
import pytest
from _ref_b import REFERENCE_DIR, RTOL, ref_b, ref_data
from scipy import stats as sps

from allocation_analysis.stats import ResultSet
from allocation_analysis.stats.survival import cox, cumulative_incidence, kaplan_meier, logrank


@pytest.fixture(scope="module")
def lung():
    return ref_data("lung")


@pytest.fixture(scope="module")
def lung_ecog(lung):
    d = lung.dropna(subset=["ecog"]).copy()
    d["ecog"] = d["ecog"].astype(int)
    return d


# ----------------------------------------------------------------- log-rank
def _check_logrank(res, r, prefix):
    assert res.statistic == pytest.approx(r["chisq"], rel=RTOL)
    assert res.df == r["df"]
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    for key, obs in r["observed"].items():
        level = key.split("=")[1]
        assert res.details["observed"][level] == pytest.approx(obs, rel=RTOL)
        assert res.details["expected"][level] == pytest.approx(r["expected"][key], rel=RTOL)


def test_logrank_two_groups_matches_survdiff(lung):
    res = logrank(lung, duration="time", event="event", group="sexe")
    _check_logrank(res, ref_b()["logrank"]["sex"], "sexe")
    assert res.estimate_name == "" and math.isnan(res.estimate)


def test_logrank_four_groups_matches_survdiff(lung_ecog):
    res = logrank(lung_ecog, duration="time", event="event", group="ecog")
    _check_logrank(res, ref_b()["logrank"]["ecog"], "ecog")


def test_stratified_logrank_matches_survdiff_with_strata(lung_ecog):
    res = logrank(lung_ecog, duration="time", event="event", group="sexe", strata="ecog")
    _check_logrank(res, ref_b()["logrank"]["sex_strata_ecog"], "sexe")
    # the ecog = 3 stratum has a single row
    assert any("strate(s) ne contiennent qu'une observation" in w for w in res.warnings)


def test_logrank_by_hand_on_a_tiny_sample():
    # Group a: times 1, 3 (events); group b: times 2 (event), 4 (censored).
    # t=1: n=4 (a 2, b 2), d=1 -> E_a = 1/2, V = 1*3/3 * (2/4)(2/4) = 0.25
    # t=2: n=3 (a 1, b 2), d=1 -> E_a = 1/3, V = 1*2/2 * (1/3)(2/3) = 2/9
    # t=3: n=2 (a 1, b 1), d=1 -> E_a = 1/2, V = 1*1/1 * (1/2)(1/2) = 0.25
    # O_a = 2, E_a = 4/3, V = 0.25 + 2/9 + 0.25 = 13/18; chi2 = (2/3)^2 / (13/18) = 8/13
    d = pd.DataFrame({"t": [1, 3, 2, 4], "e": [1, 1, 1, 0], "g": ["a", "a", "b", "b"]})
    res = logrank(d, duration="t", event="e", group="g")
    assert res.details["expected"]["a"] == pytest.approx(4 / 3)
    assert res.statistic == pytest.approx(8 / 13)


def test_logrank_without_events_warns_and_gives_nan():
    d = pd.DataFrame({"t": [1, 2, 3, 4], "e": [0, 0, 0, 2], "g": ["a", "a", "b", "b"]})
    res = logrank(d, duration="t", event="e", group="g")
    assert math.isnan(res.statistic) and math.isnan(res.p_value)
    assert any("Aucun événement" in w for w in res.warnings)


def test_logrank_with_one_group_warns_and_gives_nan():
    d = pd.DataFrame({"t": [1, 2, 3], "e": [1, 1, 0], "g": pd.Categorical(["a"] * 3, ["a", "b"])})
    res = logrank(d, duration="t", event="e", group="g")
    assert math.isnan(res.p_value)
    assert any("sans observation" in w for w in res.warnings)


# ----------------------------------------------------------------- Kaplan–Meier
def test_kaplan_meier_curves_and_medians_match_survfit_loglog(lung):
    r = ref_b()["kaplan_meier"]
    res = kaplan_meier(lung, duration="time", event="event", group="sexe", times=r["times"])
    med = res.details["medians"].set_index("group")
    for g in ("femme", "homme"):
        at = res.details["at_times"][g]
        np.testing.assert_allclose(at["surv"], r[g]["surv"], rtol=RTOL)
        np.testing.assert_allclose(at["lower"], r[g]["lower"], rtol=RTOL)
        np.testing.assert_allclose(at["upper"], r[g]["upper"], rtol=RTOL)
        np.testing.assert_allclose(at["n_risk"], r[g]["n_risk"])
        assert med.loc[g, "median"] == r[g]["median"]
        assert med.loc[g, "median_low"] == r[g]["median_low"]
        assert med.loc[g, "median_high"] == r[g]["median_high"]


def test_kaplan_meier_median_on_a_flat_half_is_the_midpoint():
    # t=2: n=4, d=2 -> S=0.5 until the next drop at t=5 (S=0): R's rule gives (2 + 5) / 2.
    d = pd.DataFrame({"t": [2, 2, 5, 5], "e": [1, 1, 1, 1], "g": ["a"] * 4})
    res = kaplan_meier(d, duration="t", event="e", group="g")
    assert res.details["medians"]["median"].iloc[0] == pytest.approx(3.5)


# ----------------------------------------------------------------- Cox
@pytest.mark.parametrize(
    "key,kwargs",
    [
        ("plain", {}),
        ("strata", {"strata": "ecog"}),
        ("cluster", {"cluster": "inst"}),
        ("entry", {"entry": "entree"}),
    ],
)
def test_cox_matches_coxph_efron(lung, key, kwargs):
    r = ref_b()["cox"][key]
    res = cox(
        lung,
        duration="time",
        event="event",
        group="sexe",
        reference="homme",
        compared="femme",
        controls=["age"],
        **kwargs,
    )
    if key == "cluster":  # robust variance: Student's t with G - 1 df (cluster_reference)
        df_ref = res.details["n_clusters"] - 1
        assert res.details["df_reference"] == df_ref
        b, q = math.log(r["hazard_ratio"]), sps.t.ppf(0.975, df_ref)
        r = {
            **r,
            "ci_low": math.exp(b - q * r["se"]),
            "ci_high": math.exp(b + q * r["se"]),
            "p_value": 2 * sps.t.sf(abs(b / r["se"]), df_ref),
        }
    assert res.n == r["n"]
    assert res.details["n_events"] == r["nevent"]
    assert res.estimate == pytest.approx(r["hazard_ratio"], rel=RTOL)
    assert res.details["se"] == pytest.approx(r["se"], rel=RTOL)
    assert res.ci_low == pytest.approx(r["ci_low"], rel=RTOL)
    assert res.ci_high == pytest.approx(r["ci_high"], rel=RTOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    assert res.details["coefficients"]["age"] == pytest.approx(r["coefficients"]["age"], rel=RTOL)
    if "zph_chisq" in r:
        ph = res.details["ph_test"]
        assert ph.loc["group", "chisq"] == pytest.approx(r["zph_chisq"]["sexefemme"], rel=RTOL)
        assert ph.loc["age", "chisq"] == pytest.approx(r["zph_chisq"]["age"], rel=RTOL)
        assert ph.loc["GLOBAL", "chisq"] == pytest.approx(r["zph_chisq"]["GLOBAL"], rel=RTOL)
        assert ph.loc["GLOBAL", "p"] == pytest.approx(r["zph_p"]["GLOBAL"], rel=RTOL)


def test_cox_without_events_in_one_group_warns_instead_of_diverging():
    rng = np.random.default_rng(1)
    d = pd.DataFrame({"t": rng.exponential(size=60), "g": ["a"] * 30 + ["b"] * 30})
    d["e"] = np.where(d["g"] == "b", 0, 1)
    res = cox(d, duration="t", event="e", group="g", reference="a", compared="b")
    assert math.isnan(res.estimate)
    assert any("ne converge pas" in w for w in res.warnings)


def test_cox_with_zero_events_or_an_empty_group_warns():
    d = pd.DataFrame({"t": [1.0, 2, 3, 4], "e": [0, 0, 0, 0], "g": ["a", "a", "b", "b"]})
    res = cox(d, duration="t", event="e", group="g", reference="a", compared="b")
    assert math.isnan(res.estimate) and any("Aucun événement" in w for w in res.warnings)
    d["g"] = pd.Categorical(["a"] * 4, ["a", "b"])
    d["e"] = 1
    res = cox(d, duration="t", event="e", group="g", reference="a", compared="b")
    assert math.isnan(res.estimate) and any("aucune observation" in w for w in res.warnings)


def test_cox_several_levels_give_a_result_set(lung_ecog):
    d = lung_ecog.copy()
    d["ecog"] = d["ecog"].astype(str)
    res = cox(d, duration="time", event="event", group="ecog", reference="0")
    assert isinstance(res, ResultSet) and len(res) == 3


def test_cox_argument_mistakes_raise_value_errors(lung):
    with pytest.raises(ValueError, match="strata"):
        cox(lung, duration="time", event="event", group="sexe", reference="homme", strata="nope")
    with pytest.raises(ValueError, match="reference"):
        cox(lung, duration="time", event="event", group="sexe", reference="x")


# ----------------------------------------------------------------- competing risks
def test_cumulative_incidence_matches_cmprsk_cuminc():
    r = ref_b()["cumulative_incidence"]
    d = ref_data("crr_data")
    res = cumulative_incidence(
        d, duration="duree", event="evenement", group="nationalite", times=r["times"]
    )
    at = res.details["at_times"]
    for g in ("francaise", "hors_ue"):
        sel = at[at["group"] == g]
        np.testing.assert_allclose(sel["cif"], r[g]["cif"], rtol=RTOL)
        np.testing.assert_allclose(sel["var"], r[g]["var"], rtol=RTOL)
    comp = cumulative_incidence(
        d,
        duration="duree",
        event="evenement",
        group="nationalite",
        event_of_interest=2,
        competing=(1,),
        times=r["times"],
    )
    at2 = comp.details["at_times"]
    for g in ("francaise", "hors_ue"):
        np.testing.assert_allclose(at2[at2["group"] == g]["cif"], r[g]["cif_competing"], rtol=RTOL)


def test_cumulative_incidence_by_hand():
    # 4 subjects: t=1 cause 1, t=2 cause 2, t=3 censored, t=4 cause 1.
    # S(1-)=1, F1(1)=1/4; S(2-)=3/4, F1 unchanged; S(4-)=3/4*2/3=1/2, F1(4)=1/4+1/2*1/1=3/4
    d = pd.DataFrame({"t": [1, 2, 3, 4], "e": [1, 2, 0, 1], "g": ["a"] * 4})
    res = cumulative_incidence(d, duration="t", event="e", group="g", times=[1, 3, 4])
    np.testing.assert_allclose(res.details["at_times"]["cif"], [0.25, 0.25, 0.75])


def test_cumulative_incidence_rejects_unknown_event_codes():
    d = pd.DataFrame({"t": [1, 2], "e": [1, 3], "g": ["a", "a"]})
    with pytest.raises(ValueError, match="event"):
        cumulative_incidence(d, duration="t", event="e", group="g")


# ----------------------------------------------------------------- calibration, timing
def _null_survival(rng, n):
    t = np.ceil(rng.exponential(300, n))
    c = rng.uniform(50, 600, n)
    return pd.DataFrame(
        {
            "t": np.minimum(t, c),
            "e": (t <= c).astype(int),
            "g": rng.choice(["a", "b"], n, p=[0.6, 0.4]),
            "x": rng.normal(size=n),
            "s": rng.choice(["p", "q"], n),
        }
    )


@pytest.mark.slow
def test_logrank_and_cox_sizes_under_the_null_are_close_to_alpha(capsys):
    rng = np.random.default_rng(20240602)
    reps, n = 500, 150
    rej = {"logrank": 0, "logrank_strata": 0, "cox": 0}
    for _ in range(reps):
        d = _null_survival(rng, n)
        rej["logrank"] += logrank(d, duration="t", event="e", group="g").p_value < 0.05
        rej["logrank_strata"] += (
            logrank(d, duration="t", event="e", group="g", strata="s").p_value < 0.05
        )
        rej["cox"] += (
            cox(
                d, duration="t", event="e", group="g", reference="a", compared="b", controls=["x"]
            ).p_value
            < 0.05
        )
    sizes = {k: v / reps for k, v in rej.items()}
    with capsys.disabled():
        print(f"\nsurvival tests: size at alpha=0.05 over {reps} null replicates = {sizes}")
    for v in sizes.values():
        assert 0.03 <= v <= 0.07


def test_ten_thousand_rows_are_fast():
    rng = np.random.default_rng(3)
    d = _null_survival(rng, 10_000)
    d["cl"] = rng.integers(0, 40, len(d))
    t0 = time.perf_counter()
    logrank(d, duration="t", event="e", group="g", strata="s")
    kaplan_meier(d, duration="t", event="e", group="g")
    cox(
        d,
        duration="t",
        event="e",
        group="g",
        reference="a",
        compared="b",
        controls=["x", "s"],
        cluster="cl",
    )
    assert time.perf_counter() - t0 < 5.0


@pytest.mark.slow
def test_cox_ci_covers_a_planted_hazard_ratio_at_its_nominal_rate(capsys):
    rng = np.random.default_rng(20240604)
    reps, n, log_hr = 300, 200, math.log(1.5)
    covered = rejected = rejected_lr = 0
    for _ in range(reps):
        g = rng.random(n) < 0.4
        x = rng.normal(size=n)
        t = np.ceil(rng.exponential(300 * np.exp(-(log_hr * g + 0.3 * x))))
        c = rng.uniform(50, 600, n)
        d = pd.DataFrame(
            {
                "t": np.minimum(t, c),
                "e": (t <= c).astype(int),
                "g": np.where(g, "b", "a"),
                "x": x,
            }
        )
        res = cox(
            d, duration="t", event="e", group="g", reference="a", compared="b", controls=["x"]
        )
        covered += res.ci_low <= math.exp(log_hr) <= res.ci_high
        rejected += res.p_value < 0.05
        rejected_lr += logrank(d, duration="t", event="e", group="g").p_value < 0.05
    with capsys.disabled():
        print(
            f"\ncox: HR=1.5, n={n}: coverage of the 95 % CI = {covered / reps:.3f}, "
            f"power = {rejected / reps:.3f}; log-rank power = {rejected_lr / reps:.3f} "
            f"({reps} replicates)"
        )
    assert 0.92 <= covered / reps <= 0.98


def test_cox_drops_a_control_level_without_events_and_matches_r_limit_fit():
    # tests/reference/make_reference_cox_eventless.R: no "z" demand is ever
    # housed; R's coxph on all rows drives the z coefficient to about -20 and
    # the fit without the z rows gives the limiting estimates.
    ref = json.loads((REFERENCE_DIR / "r_reference_cox_eventless.json").read_text("utf-8"))
    d = pd.DataFrame(ref["data"])
    res = cox(
        d,
        duration="time",
        event="event",
        group="grp",
        reference="a",
        compared="b",
        controls=["sit", "age"],
    )
    lim = ref["limit_fit"]
    assert res.n == lim["n"]
    assert res.details["coef"] == pytest.approx(lim["coef_grp"], rel=1e-6)
    assert res.details["se"] == pytest.approx(lim["se_grp"], rel=1e-6)
    assert res.details["coefficients"]["age"] == pytest.approx(lim["coef_age"], rel=1e-6)
    # R's fit on all rows stops at a finite but huge z coefficient: same group estimate
    assert res.details["coef"] == pytest.approx(ref["full_fit"]["coef_grp"], rel=1e-4)
    assert any("sans aucun événement" in w and "sit=z" in w for w in res.warnings)


def test_cox_with_a_control_coefficient_running_to_infinity_still_estimates_the_group():
    # a rare control level whose members all leave first (monotone likelihood in
    # that nuisance coefficient) must not hide the group's hazard ratio
    rng = np.random.default_rng(12)
    n = 3000
    g = rng.random(n) < 0.4
    t = np.ceil(rng.exponential(400 * np.exp(-math.log(1.5) * g)))
    rare = np.zeros(n, dtype=bool)
    rare[:8] = True
    t[:8] = 0.5 + np.arange(8) * 1e-3  # before every other time
    d = pd.DataFrame(
        {
            "t": t,
            "e": 1,
            "g": np.where(g, "b", "a"),
            "rare": np.where(rare, "oui", "non"),
        }
    )
    res = cox(d, duration="t", event="e", group="g", reference="a", compared="b", controls=["rare"])
    assert math.isfinite(res.estimate)
    assert 1.3 < res.estimate < 1.7
    assert any("semble infini" in w for w in res.warnings)
