"""Tests of typical-household profiles and IPW disparity (stats/profiles.py).

Expected values come from the simulators' own models (planted effects known by
construction), from hand computations written out below, or from the planted
truth of ``allocation_analysis.synth``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit

from allocation_analysis.errors import ArgumentError, InputError
from allocation_analysis.stats import ResultSet, TestResult
from allocation_analysis.stats.profiles import (
    ACCESS_CONTROLS,
    ipw_disparity,
    load_profiles,
    log_income_from_monthly,
    profile_probabilities,
    stratified_bootstrap_indices,
)
from allocation_analysis.synth import generate

GROUPS = ("francaise", "ue", "hors_ue")
TYPO = ("T1", "T2", "T3", "T4", "T5+")
SITU = ("heberge", "locataire_prive", "locataire_social", "sans_logement")
SITU_COEF = np.array([0.0, 0.2, -0.3, 0.5])
FEATURES = [c for c in ACCESS_CONTROLS if c != "commune_choix1"]


def _eta(inc, anc, prio, nb, situ_code):
    """Linear predictor of the simulator without the group effect."""
    return (
        -1.6 + 0.25 * anc + 0.9 * prio - 0.3 * (inc - 9.2) + 0.15 * (nb - 2) + SITU_COEF[situ_code]
    )


def simulate(n: int, *, gamma=(0.0, 0.0, 0.0), seed: int = 0, p_group=(0.7, 0.1, 0.2)):
    """Access frame with a logistic access model and confounding by group.

    Covariates depend on the group (lower income, larger households, longer
    seniority, more priority households in ``hors_ue``), and the log-odds of
    access are ``eta(x) + gamma[group]``. Returns the frame, ``eta`` and the
    group codes.
    """
    rng = np.random.default_rng(seed)
    g = rng.choice(3, size=n, p=list(p_group))
    nb = 1 + rng.poisson(0.9 + 0.6 * (g == 2))
    inc = rng.normal(9.3 - 0.4 * (g == 2) - 0.15 * (g == 1), 0.5)
    anc = rng.exponential(2.0 + 0.8 * (g == 2))
    prio = rng.random(n) < 0.15 + 0.10 * (g == 2)
    typo = np.minimum(np.maximum(nb - 1, 0) + (rng.random(n) < 0.3), 4)
    situ = rng.choice(4, size=n, p=[0.3, 0.4, 0.2, 0.1])
    eta = _eta(inc, anc, prio, nb, situ)
    p = expit(eta + np.asarray(gamma)[g])
    df = pd.DataFrame(
        {
            "nationalite": pd.array(np.array(GROUPS)[g], dtype="string"),
            "nb_personnes": pd.array(nb, dtype="Int64"),
            "log_revenu_uc": inc,
            "anciennete_annees": anc,
            "prioritaire": prio,
            "dalo": rng.random(n) < 0.03,
            "typologie_demandee": pd.array(np.array(TYPO)[typo], dtype="string"),
            "situation_logement": pd.array(np.array(SITU)[situ], dtype="string"),
            "access": rng.random(n) < p,
        }
    )
    return df, eta, g


PROFILES = [
    {
        "nom": "Couple, 2 enfants, T3, 800 €/UC/mois, non prioritaire",
        "nb_personnes": 4,
        "typologie_demandee": "T3",
        "revenu_mensuel_uc": 800,
        "situation_logement": "locataire_prive",
        "prioritaire": False,
        "dalo": False,
        "anciennete_annees": 2,
    },
    {
        "nom": "Personne seule, T1, 1 000 €/UC/mois, hébergée, prioritaire",
        "nb_personnes": 1,
        "typologie_demandee": "T1",
        "revenu_mensuel_uc": 1000,
        "situation_logement": "heberge",
        "prioritaire": True,
        "dalo": False,
        "anciennete_annees": 1,
    },
]


# --------------------------------------------------------------------------- bootstrap
def test_stratified_bootstrap_keeps_every_group_at_its_size_even_a_group_of_three():
    strata = np.array(["francaise"] * 1500 + ["ue"] * 3 + ["hors_ue"] * 497)
    rng = np.random.default_rng(0)
    for _ in range(500):
        idx = stratified_bootstrap_indices(strata, rng)
        counts = pd.Series(strata[idx]).value_counts()
        assert counts.to_dict() == {"francaise": 1500, "hors_ue": 497, "ue": 3}
    # an unstratified resample of the same size drops the 3-row group with
    # probability (1 - 3/2000)^2000 ≈ e^-3 ≈ 0.05: not a property by chance
    assert (1 - 3 / 2000) ** 2000 > 0.04


def test_profile_bootstrap_with_a_three_row_group_gives_intervals_for_every_group():
    df, _, _ = simulate(1500, seed=1, p_group=(0.8, 0.0, 0.2))
    tiny = df.iloc[:3].copy()
    tiny["nationalite"] = "ue"
    df = pd.concat([df.iloc[3:], tiny], ignore_index=True)
    res = profile_probabilities(
        df,
        outcome="access",
        features=FEATURES,
        profiles=PROFILES,
        group="nationalite",
        reference="francaise",
        n_boot=15,
        random_state=3,
        cv_folds=2,
    )
    # every replicate predicted every group: no NaN draw
    assert res.draws["probability"].notna().all()
    assert set(res.draws["group"]) == {"francaise", "ue", "hors_ue"}
    ue = res.table[res.table["group"] == "ue"]
    assert np.isfinite(ue[["ci_low", "ci_high"]].to_numpy()).all()
    assert any("« ue »" in w and "effectif faible" in w for w in res.warnings)


# --------------------------------------------------------------------------- profiles
@pytest.fixture(scope="module")
def planted_profiles():
    df, _, _ = simulate(8000, gamma=(0.0, -0.3, -0.9), seed=11)
    res = profile_probabilities(
        df,
        outcome="access",
        features=FEATURES,
        profiles=PROFILES,
        group="nationalite",
        reference="francaise",
        n_boot=25,
        random_state=5,
    )
    return df, res


def test_profile_gap_recovers_the_planted_direction_and_size(planted_profiles):
    _, res = planted_profiles
    gaps = res.gaps.set_index(["profile", "group"])
    for prof in PROFILES:
        x = dict(
            inc=math.log1p(12 * prof["revenu_mensuel_uc"]),
            anc=prof["anciennete_annees"],
            prio=float(prof["prioritaire"]),
            nb=prof["nb_personnes"],
            situ_code=SITU.index(prof["situation_logement"]),
        )
        eta = _eta(**x)
        true_gap = expit(eta - 0.9) - expit(eta)  # hors_ue − francaise, from the simulator
        row = gaps.loc[(prof["nom"], "hors_ue")]
        assert row["gap"] < 0 and row["ci_high"] < 0
        assert abs(row["gap"] - true_gap) < 0.08, (prof["nom"], row["gap"], true_gap)
    summary = res.to_test_results()
    assert isinstance(summary, ResultSet) and len(summary) == 2
    hu = summary.by_group("hors_ue")
    assert hu.groups == ("francaise", "hors_ue")
    assert hu.ci_high < 0 and hu.estimate < 0
    # every one of the 25 replicates is negative: the bootstrap p-value is its
    # smallest attainable value 2 (0 + 1) / (25 + 1)
    assert hu.p_value == pytest.approx(2 / 26)
    assert len(hu.details["profiles"]) == len(PROFILES)


def test_profile_model_quality_is_reported_and_better_than_the_constant(planted_profiles):
    _, res = planted_profiles
    q = res.model_quality
    assert q["n_folds"] == 5
    # the simulator's access model has real signal: AUC > 0.5, Brier < baseline
    assert 0.6 < q["roc_auc"] < 0.9
    assert q["brier"] < q["brier_baseline"]


def test_profile_summary_estimate_is_the_unweighted_mean_of_profile_gaps(planted_profiles):
    _, res = planted_profiles
    ue = res.to_test_results(reference="francaise").by_group("ue")
    per = res.gaps[res.gaps["group"] == "ue"]["gap"].to_numpy()
    assert ue.estimate == pytest.approx((per[0] + per[1]) / 2)
    assert ue.estimate_name == "mean_profile_probability_difference"
    # another reference re-expresses the gaps against it
    other = res.to_test_results(reference="hors_ue")
    assert {r.compared for r in other} == {"francaise", "ue"}
    assert other.by_group("francaise").estimate == pytest.approx(
        -res.to_test_results().by_group("hors_ue").estimate
    )


def test_profile_income_is_converted_from_monthly_per_uc_and_unset_features_filled(
    planted_profiles,
):
    df, res = planted_profiles
    resolved = res.profiles.set_index("profile")
    couple = resolved.loc[PROFILES[0]["nom"]]
    # 800 €/UC/month → annual 9 600 €/UC → log(1 + 9600)
    assert couple["log_revenu_uc"] == pytest.approx(math.log(9601.0))
    assert log_income_from_monthly(0.0) == 0.0
    prof = [{"nom": "Sans précision", "typologie_demandee": "T2"}]
    out = profile_probabilities(
        df.iloc[:1500],
        outcome="access",
        features=FEATURES,
        profiles=prof,
        group="nationalite",
        n_boot=0,
        random_state=0,
        cv_folds=2,
    )
    row = out.profiles.iloc[0]
    sub = df.iloc[:1500]
    assert row["situation_logement"] == sub["situation_logement"].mode().iloc[0]
    assert row["anciennete_annees"] == pytest.approx(sub["anciennete_annees"].median())
    assert out.reference == "francaise"  # most frequent level
    assert any("non précisées" in w for w in out.warnings)


def test_profile_results_are_deterministic_for_a_seed_and_independent_of_n_jobs():
    df, _, _ = simulate(1200, gamma=(0.0, -0.3, -0.9), seed=2)
    kw = dict(
        outcome="access",
        features=FEATURES,
        profiles=PROFILES,
        group="nationalite",
        n_boot=4,
        cv_folds=2,
    )
    a = profile_probabilities(df, random_state=42, **kw)
    b = profile_probabilities(df, random_state=42, n_jobs=2, **kw)
    c = profile_probabilities(df, random_state=43, **kw)
    pd.testing.assert_frame_equal(a.table, b.table)
    pd.testing.assert_frame_equal(a.gaps, b.gaps)
    assert a.model_quality == b.model_quality
    assert not np.allclose(a.table["ci_low"], c.table["ci_low"])


def test_default_profiles_load_from_the_package_with_french_labels():
    profiles = load_profiles()
    assert len(profiles) >= 3
    names = [p["nom"] for p in profiles]
    assert "Couple, 2 enfants, T3, 800 €/UC/mois, non prioritaire" in names
    assert all(set(p) - {"nom", "revenu_mensuel_uc"} <= set(ACCESS_CONTROLS) for p in profiles)


def test_default_profiles_run_on_the_access_controls():
    df, _, _ = simulate(1500, seed=4)
    out = profile_probabilities(
        df,
        outcome="access",
        features=FEATURES,
        profiles=load_profiles(),
        group="nationalite",
        n_boot=3,
        random_state=0,
        cv_folds=2,
    )
    assert len(out.table) == 3 * len(load_profiles())
    frame = out.to_frame()
    assert {"gap", "gap_ci_low", "gap_ci_high", "reference"} <= set(frame.columns)


def test_load_profiles_from_a_file_and_bad_files(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text("profils:\n  - nom: Seul\n    nb_personnes: 1\n", encoding="utf-8")
    assert load_profiles(p) == [{"nom": "Seul", "nb_personnes": 1}]
    p.write_text("profils:\n  - nb_personnes: 1\n", encoding="utf-8")
    with pytest.raises(InputError, match="nom"):
        load_profiles(p)
    with pytest.raises(InputError, match="introuvable"):
        load_profiles(tmp_path / "absent.yaml")


def test_profile_with_an_unobserved_category_or_unknown_feature_is_rejected():
    df, _, _ = simulate(500, seed=4)
    kw = dict(outcome="access", features=FEATURES, group="nationalite", n_boot=0)
    with pytest.raises(ArgumentError, match="T9"):
        profile_probabilities(df, profiles=[{"nom": "x", "typologie_demandee": "T9"}], **kw)
    with pytest.raises(ArgumentError, match="age"):
        profile_probabilities(df, profiles=[{"nom": "x", "age": 30}], **kw)


# --------------------------------------------------------------------------- IPW
def test_ipw_with_a_saturated_propensity_equals_the_hand_standardised_difference():
    # Two strata. Compared: A 10 rows (4 accesses), B 30 rows (9 accesses).
    # Reference:          A 30 rows (15 accesses), B 10 rows (5 accesses).
    # A saturated logistic model gives e(A) = 10/40 = 0.25, e(B) = 30/40 = 0.75.
    # ATT = Σ_x (n1x / n1) (ȳ1x − ȳ0x) = 0.25 (0.4 − 0.5) + 0.75 (0.3 − 0.5) = −0.175.
    # Reference weights e/(1−e): A 1/3 (30 rows), B 3 (10 rows):
    # ESS = (10 + 30)² / (30/9 + 90) = 1600 / 93.333… = 17.142857.
    # SMD of the stratum-A dummy before weighting: means 0.25 vs 0.75, both
    # variances 0.25·0.75·40/39 = 0.1923077 → SMD = −0.5 / 0.4385290 = −1.140175;
    # after weighting the reference mean becomes 10/40 = 0.25 → SMD 0.
    def block(group, stratum, n, k):
        return pd.DataFrame(
            {"g": [group] * n, "s": [stratum] * n, "y": [True] * k + [False] * (n - k)}
        )

    df = pd.concat(
        [
            block("c", "A", 10, 4),
            block("c", "B", 30, 9),
            block("r", "A", 30, 15),
            block("r", "B", 10, 5),
        ],
        ignore_index=True,
    )
    res = ipw_disparity(
        df, outcome="y", group="g", reference="r", compared="c", controls=["s"], random_state=0
    )
    assert isinstance(res, TestResult)
    assert res.estimate_name == "rate_difference"
    assert res.estimate == pytest.approx(-0.175, abs=1e-4)
    assert res.details["ess"]["r"] == pytest.approx(17.142857, abs=1e-3)
    assert res.details["ess"]["c"] == 40
    assert res.details["rate_compared"] == pytest.approx(13 / 40)
    assert res.details["rate_reference"] == pytest.approx(20 / 40)
    bal = res.details["balance"].set_index("covariate")
    assert bal.loc["s=A", "smd_before"] == pytest.approx(-1.140175, abs=1e-5)
    assert bal.loc["s=A", "smd_after"] == pytest.approx(0.0, abs=1e-3)
    assert res.details["n_trimmed"] == {"c": 0, "r": 0}
    assert res.groups == ("r", "c") and res.n == 80
    assert res.ci_low < res.estimate < res.ci_high


@pytest.fixture(scope="module")
def planted_ipw():
    df, eta, g = simulate(20000, gamma=(0.0, -0.3, -0.8), seed=7)
    m = g == 2
    true_att = float(np.mean(expit(eta[m] - 0.8) - expit(eta[m])))
    res = ipw_disparity(
        df,
        outcome="access",
        group="nationalite",
        reference="francaise",
        compared="hors_ue",
        controls=FEATURES,
        random_state=0,
    )
    return df, res, true_att


def test_ipw_interval_covers_the_planted_att(planted_ipw):
    df, res, true_att = planted_ipw
    assert res.ci_low <= true_att <= res.ci_high, (res.ci_low, true_att, res.ci_high)
    # the crude difference is further from the truth than the weighted one
    crude = res.details["rate_compared"] - res.details["rate_reference"]
    assert abs(crude - true_att) > abs(res.estimate - true_att)
    assert res.p_value < 1e-6 and res.statistic < 0


def test_ipw_balances_the_confounders(planted_ipw):
    _, res, _ = planted_ipw
    bal = res.details["balance"].set_index("covariate")
    # simulator: income mean shift −0.4 with sd 0.5 in both groups → SMD ≈ −0.8
    assert bal.loc["log_revenu_uc", "smd_before"] == pytest.approx(-0.8, abs=0.06)
    assert (bal["smd_after"].abs() < 0.1).all()
    assert not any("Équilibre imparfait" in w for w in res.warnings)
    q = res.details["propensity_quality"]
    assert q["n_folds"] == 5 and 0.6 < q["roc_auc"] < 0.95


def test_ipw_warns_on_residual_imbalance_when_a_confounder_is_left_out(planted_ipw):
    df, _, _ = planted_ipw
    res = ipw_disparity(
        df.iloc[:6000],
        outcome="access",
        group="nationalite",
        reference="francaise",
        compared="hors_ue",
        controls=["prioritaire", "dalo"],
        random_state=0,
        cv_folds=2,
    )
    # the balance table only holds the controls: income is not in it, and the
    # listed controls are balanced
    assert set(res.details["balance"]["covariate"]) == {"prioritaire", "dalo"}
    res2 = ipw_disparity(
        df.iloc[:6000],
        outcome="access",
        group="nationalite",
        reference="francaise",
        compared="hors_ue",
        controls=["log_revenu_uc"],
        trim=(0.2, 0.8),
        random_state=0,
        cv_folds=2,
    )
    n_trim = res2.details["n_trimmed"]
    assert n_trim["hors_ue"] + n_trim["francaise"] > 0
    assert any("score de propension extrême" in w for w in res2.warnings)
    assert res2.n == 6000 - n_trim["hors_ue"] - n_trim["francaise"] - int(
        (~df.iloc[:6000]["nationalite"].isin(["hors_ue", "francaise"])).sum()
    )


def test_ipw_gbm_propensity_removes_most_confounding_with_a_bootstrap_interval(planted_ipw):
    # Regularised trees under-fit the propensity on 6 000 rows, so the gbm
    # estimate keeps some confounding bias (towards the crude difference):
    # only require that it removes most of it, and that the run is repeatable.
    df, _, _ = planted_ipw
    sub = df.iloc[:6000]
    _, eta, g = simulate(20000, gamma=(0.0, -0.3, -0.8), seed=7)
    m = g[:6000] == 2
    true_att = float(np.mean(expit(eta[:6000][m] - 0.8) - expit(eta[:6000][m])))
    kw = dict(
        outcome="access",
        group="nationalite",
        reference="francaise",
        compared="hors_ue",
        controls=FEATURES,
        propensity="gbm",
        n_boot=10,
        cv_folds=2,
    )
    a = ipw_disparity(sub, random_state=1, **kw)
    b = ipw_disparity(sub, random_state=1, **kw)
    crude = a.details["rate_compared"] - a.details["rate_reference"]
    assert abs(a.estimate - true_att) < 0.5 * abs(crude - true_att)
    assert a.ci_low < a.estimate < a.ci_high < 0
    assert "bootstrap" in a.details["ci_method"]
    assert (a.estimate, a.ci_low, a.ci_high) == (b.estimate, b.ci_low, b.ci_high)


def test_ipw_is_deterministic_for_a_seed():
    df, _, _ = simulate(3000, gamma=(0.0, -0.3, -0.8), seed=8)
    kw = dict(
        outcome="access",
        group="nationalite",
        reference="francaise",
        compared="ue",
        controls=FEATURES,
    )
    a = ipw_disparity(df, random_state=4, **kw)
    b = ipw_disparity(df, random_state=4, **kw)
    assert a.to_dict() == b.to_dict()
    assert a.details["propensity_quality"] == b.details["propensity_quality"]


def test_ipw_rejects_bad_arguments():
    df, _, _ = simulate(300, seed=9)
    kw = dict(outcome="access", group="nationalite", reference="francaise", controls=FEATURES)
    with pytest.raises(ArgumentError, match="propensity"):
        ipw_disparity(df, compared="ue", propensity="forest", **kw)
    with pytest.raises(ArgumentError, match="compared"):
        ipw_disparity(df, compared="autre", **kw)
    with pytest.raises(ArgumentError, match="trim"):
        ipw_disparity(df, compared="ue", trim=(0.9, 0.1), **kw)
    with pytest.raises(ArgumentError, match="absentes"):
        ipw_disparity(
            df,
            compared="ue",
            outcome="acces",
            group="nationalite",
            reference="francaise",
            controls=FEATURES,
        )


@pytest.mark.slow
def test_ipw_interval_covers_zero_at_the_nominal_rate_under_the_null():
    # 600 confounded replicates without a group effect: rejection rate at
    # α = 0.05 must lie in [0.03, 0.07] (methods.md §2, validity).
    reps = 600
    rejected = 0
    for r in range(reps):
        df, _, _ = simulate(3000, gamma=(0.0, 0.0, 0.0), seed=10_000 + r)
        res = ipw_disparity(
            df,
            outcome="access",
            group="nationalite",
            reference="francaise",
            compared="hors_ue",
            controls=FEATURES,
            random_state=r,
            cv_folds=0,
        )
        rejected += not (res.ci_low <= 0.0 <= res.ci_high)
    rate = rejected / reps
    print(f"IPW null rejection rate: {rate:.3f} over {reps} replicates")
    assert 0.03 <= rate <= 0.07, rate


# --------------------------------------------------------------------------- synth
def _stacked_access_frame(ds) -> pd.DataFrame:
    """(demand, semester) frame of the generator, with its own covariates."""
    d = ds.demandes
    a = ds.attributions
    bail = d["num_unique"].map(dict(zip(a["num_unique"], a["date_bail"], strict=True)))
    bail = pd.to_datetime(bail)
    depot = pd.to_datetime(d["date_depot"])
    rad = pd.to_datetime(d["date_radiation"])
    uc = 1 + 0.5 * d["nb_adultes_sup"].astype(int) + 0.3 * d["nb_enfants_moins_14"].astype(int)
    qpv = d["qpv_residence"].fillna("").astype(str) != ""
    base = pd.DataFrame(
        {
            "nationalite": d["nationalite"].astype("string"),
            "residence_qpv": pd.array(np.where(qpv, "qpv", "hors_qpv"), dtype="string"),
            "typologie_demandee": d["typologie_demandee"].astype("string"),
            "prioritaire": d["prioritaire"].astype(bool),
            "dalo": d["dalo"].astype(bool),
            "log_revenu_uc": np.log(d["revenus_mensuels"].astype(float) * 12 / uc),
            "nb_personnes": d["nb_personnes"].astype(int),
            "situation_logement": d["situation_logement"].astype("string"),
        }
    )
    parts = []
    for year in range(2022, 2026):
        for start, end in ((f"{year}-01-01", f"{year}-06-30"), (f"{year}-07-01", f"{year}-12-31")):
            s, e = pd.Timestamp(start), pd.Timestamp(end)
            active = (depot <= e) & (rad.isna() | (rad >= s))
            f = base[active].copy()
            f["anciennete_annees"] = ((s - depot[active]).dt.days.clip(lower=0)) / 365.25
            f["access"] = ((bail[active] >= s) & (bail[active] <= e)).to_numpy()
            parts.append(f)
    return pd.concat(parts, ignore_index=True)


def _planted_att(frame: pd.DataFrame, truth: dict, compared: str) -> float:
    """Mean over compared rows of p(x, compared) − p(x, francaise), from truth.json."""
    c = truth["access_model"]["coefficients"]
    eff = truth["effects"]["access"]
    lp = (
        c["intercept"]
        + c["log_revenu_uc"] * frame["log_revenu_uc"]
        + c["anciennete_annees"] * frame["anciennete_annees"]
        + c["nb_personnes"] * frame["nb_personnes"]
        + c["prioritaire"] * frame["prioritaire"]
        + c["dalo"] * frame["dalo"]
        + frame["typologie_demandee"].map(c["typologie_demandee"]).astype(float)
        + frame["situation_logement"].map(c["situation_logement"]).astype(float)
        + math.log(eff["residence_qpv"]) * (frame["residence_qpv"] == "qpv")
    ).to_numpy(dtype=float)
    m = (frame["nationalite"] == compared).to_numpy()
    log_or = math.log(eff["nationalite"][compared])
    return float(np.mean(expit(lp[m] + log_or) - expit(lp[m])))


@pytest.fixture(scope="module")
def synth_frame():
    ds = generate(scale="small", seed=21, effects="default")
    return _stacked_access_frame(ds), ds.truth


SYNTH_CONTROLS = [*FEATURES, "residence_qpv"]


def test_synth_ipw_interval_covers_the_planted_marginal_effect(synth_frame):
    frame, truth = synth_frame
    truth_att = _planted_att(frame, truth, "hors_ue")
    assert truth_att < 0  # OR 0.70 planted
    res = ipw_disparity(
        frame,
        outcome="access",
        group="nationalite",
        reference="francaise",
        compared="hors_ue",
        controls=SYNTH_CONTROLS,
        random_state=0,
    )
    assert res.ci_low <= truth_att <= res.ci_high, (res.ci_low, truth_att, res.ci_high)


def test_synth_profile_gap_has_the_planted_direction(synth_frame):
    frame, _ = synth_frame
    res = profile_probabilities(
        frame,
        outcome="access",
        features=SYNTH_CONTROLS,
        profiles=load_profiles(),
        group="nationalite",
        reference="francaise",
        n_boot=12,
        random_state=0,
        cv_folds=2,
    )
    hu = res.to_test_results().by_group("hors_ue")
    assert hu.estimate < 0
    assert hu.ci_low < 0
