"""The allocation process stage by stage (process.py) and stats.mean_difference."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from allocation_analysis import process
from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.stats import mean_difference
from tests.process_fixtures import PERIOD, random_process

# --------------------------------------------------------------------------- hand data
# Furthest stage of each demand: 0 not designated, 1 designated, 2 favourable,
# 3 offered (refused), 4 accepted without a matching lease, 5 lease.
FR = [5, 5, 4, 3, 2, 2, 1, 1, 0, 0]  # 10 française
HU = [5, 3, 2, 2, 0, 0, 0, 0, 0, 0]  # 10 hors UE


def _hand() -> dict[str, pd.DataFrame]:
    groups = ["francaise"] * len(FR) + ["hors_ue"] * len(HU)
    stages = FR + HU
    ids = [f"d{i:02d}" for i in range(len(stages))]
    access = pd.DataFrame(
        {
            "demande_id": ids,
            "nationalite": groups,
            "residence_qpv": ["hors_qpv"] * len(ids),
            "access": [False] * len(ids),
        }
    )
    props, leases = [], []
    for i, (d, s) in enumerate(zip(ids, stages, strict=True)):
        if s == 0:
            continue
        row = {
            "demande_id": d,
            "id_offre": f"O{i}",
            "date_cal": pd.Timestamp("2025-03-01"),
            "commune_logement": "59350",
            "rpls_id": None,
            "qpv_logement": None,
            "decision_cal": "attribution" if s >= 2 else "non_attribution",
            "rang": 1 if s >= 2 else None,
            "reponse_demandeur": {3: "refus", 4: "acceptation", 5: "acceptation"}.get(s),
        }
        props.append(row)
        if s == 4:  # lease in another commune: not this offer
            leases.append((d, pd.Timestamp("2025-04-01"), "59009", None))
        if s == 5:
            leases.append((d, pd.Timestamp("2025-04-15"), "59350", None))
            access.loc[i, "access"] = True
    # d00 was examined twice: a first commission refused it (counts once, furthest stage)
    props.append(
        {
            **props[0],
            "id_offre": "Oextra",
            "decision_cal": "non_attribution",
            "rang": None,
            "reponse_demandeur": None,
        }
    )
    # d08 (française, not designated in the semester) had a proposition a year earlier
    # and a lease now; d09 has a lease with no proposition at all
    props.append(
        {
            **props[0],
            "demande_id": "d08",
            "id_offre": "Oold",
            "date_cal": pd.Timestamp("2024-03-01"),
        }
    )
    access.loc[[8, 9], "access"] = True
    leases += [
        ("d08", pd.Timestamp("2025-05-01"), "59350", None),
        ("d09", pd.Timestamp("2025-05-01"), "59350", None),
    ]
    alloc = pd.DataFrame(leases, columns=["demande_id", "date_bail", "commune_logement", "rpls_id"])
    return {"access": access, "propositions": pd.DataFrame(props), "allocations": alloc}


def _frames(d):
    c = process.candidacies(d["propositions"], d["access"], d["allocations"], PERIOD)
    return c, process.process_frame(d["access"], c, d["propositions"])


def test_furthest_stage_per_demand_and_lease_link_rule():
    _, f = _frames(_hand())
    fr = f[f["nationalite"] == "francaise"]
    assert [int(fr[s].sum()) for s in process.STAGES] == [8, 6, 4, 3, 2]
    hu = f[f["nationalite"] == "hors_ue"]
    assert [int(hu[s].sum()) for s in process.STAGES] == [4, 4, 2, 1, 1]
    # d08 had a proposition (another semester): not « hors processus »; d09 has none
    assert f.loc[f["lease_outside_process"], "demande_id"].tolist() == ["d09"]


def test_funnel_identity_and_stage_shares_on_hand_data():
    _, f = _frames(_hand())
    tabs = process.funnel_tables(f, threshold=1)
    e = tabs["ecart"]
    row = e[(e["group"] == "hors_ue")].set_index("stage")
    # française 8/10, 6/8, 4/6, 3/4, 2/3 (overall 2/10); hors UE 4/10, 4/4, 2/4, 1/2, 1/1 (1/10)
    expected = {
        "designated": math.log(0.4 / 0.8),
        "favourable": math.log(1 / 0.75),
        "offered": math.log(0.5 / (4 / 6)),
        "accepted": math.log(0.5 / 0.75),
        "lease": math.log(1 / (2 / 3)),
    }
    for stage, lr in expected.items():
        assert row.loc[stage, "log_rate_ratio"] == pytest.approx(lr, abs=1e-12)
        assert row.loc[stage, "gap_share"] == pytest.approx(lr / math.log(0.5), abs=1e-12)
    assert sum(expected.values()) == pytest.approx(math.log(0.1 / 0.2), abs=1e-12)
    assert row.loc["lease_overall", "log_rate_ratio"] == pytest.approx(math.log(0.5), abs=1e-12)
    assert row.loc["designated", "rate_group"] == pytest.approx(0.4)
    assert row.loc["designated", "rate_reference"] == pytest.approx(0.8)
    ent = process.process_entries(e)
    assert {x["stage"] for x in ent} == set(process.STAGES)
    et = tabs["etapes"].set_index(["group", "stage"])
    assert int(et.loc[("francaise", "lease_outside_process"), "n"]) == 1


def test_funnel_counts_match_a_pandas_recomputation_on_random_data():
    d = random_process(seed=3)
    _, f = _frames(d)
    props = d["propositions"]
    sem = props[(props["date_cal"] >= "2025-01-01") & (props["date_cal"] <= "2025-06-30")]
    fav = sem[sem["decision_cal"] == "attribution"]
    off = fav[fav["reponse_demandeur"].notna()]
    acc = off[off["reponse_demandeur"] == "acceptation"]
    for nat in ("francaise", "hors_ue"):
        ids = set(d["access"].loc[d["access"]["nationalite"] == nat, "demande_id"])
        sub = f[f["nationalite"] == nat]
        assert int(sub["designated"].sum()) == len(ids & set(sem["demande_id"]))
        assert int(sub["favourable"].sum()) == len(ids & set(fav["demande_id"]))
        assert int(sub["offered"].sum()) == len(ids & set(off["demande_id"]))
        assert int(sub["accepted"].sum()) == len(ids & set(acc["demande_id"]))


def test_funnel_tables_leave_no_small_count_nor_small_stage_exit_recoverable():
    d = random_process(n=400, seed=5, n_offers=60)
    _, f = _frames(d)
    tabs = process.funnel_tables(f, threshold=11)
    et = tabs["etapes"]
    n = pd.to_numeric(et["n"], errors="coerce")
    assert not ((n >= 1) & (n <= 10)).any()
    for (_, _), sub in et.groupby(["group_var", "group"]):
        chain = sub.set_index("stage").loc[[process.ACTIVE, *process.STAGES], "n"]
        vals = pd.to_numeric(chain, errors="coerce").to_numpy(float)
        diffs = vals[:-1] - vals[1:]  # demands that stop at a stage, when both are shown
        assert not ((diffs >= 1) & (diffs <= 10)).any()
    # something was withheld at this size, and then the gap split is withheld too
    assert et["suppressed"].any()
    hidden = tabs["ecart"][tabs["ecart"]["suppressed"]]
    assert hidden["gap_share"].isna().all() and hidden["log_rate_ratio"].isna().all()


def test_planted_designation_and_offer_effects_are_recovered_at_their_stage():
    d = random_process(
        n=2000, seed=11, designation_or_hors_ue=0.4, offer_or_hors_ue=0.3, n_offers=500
    )
    c, f = _frames(d)
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, _ = process.process_tests(f, c, config=cfg)
    by = {(r.id, r.compared): r.result for r in recs}
    des = by[("designation_origin_logit", "hors_ue")]
    assert des.ci_high < 1 and des.method
    off = by[("offered_origin_clogit", "hors_ue")]
    assert off.ci_high < 1
    # the CAL decision has no planted effect: its interval covers 1
    fav = by[("cal_favourable_origin_clogit", "hors_ue")]
    assert fav.ci_low < 1 < fav.ci_high
    table = process.tests_table(recs, config=cfg)
    assert set(table["family"]) == {"robustesse"}
    assert table["p_adjusted"].notna().any()


def test_process_tests_withhold_small_groups():
    d = random_process(n=300, seed=2, n_offers=15)
    c, f = _frames(d)
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, inter = process.process_tests(f, c, config=cfg)
    table = process.tests_table(recs, config=cfg)
    ue = table[(table["group"] == "ue") & (table["outcome"] == "cal_first_equal_score")]
    assert ue["suppressed"].all() and ue["estimate"].isna().all()
    shown = process.published_refusal_qpv(inter, table)
    hidden = table[(table["outcome"] == "refusal") & table["suppressed"]]
    assert not set(hidden["group"]) & set(shown["group"])


def test_mean_difference_welch_and_criteria_contributions_by_hand():
    df = pd.DataFrame(
        {
            "g": ["r"] * 3 + ["c"] * 4,
            "a": [1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 4.0],
            "b": [0.0, 1.0, 2.0, 1.0, 2.0, 3.0, 4.0],
        }
    )
    df["s"] = df["a"] + df["b"]  # r: 1, 2, 3 (mean 2); c: 2, 4, 6, 8 (mean 5)
    res = mean_difference(
        df, outcome="s", group="g", reference="r", compared="c", components=["a", "b"]
    )
    assert res.estimate == pytest.approx(3.0)
    # Welch: var_r = 1, var_c = 20/3; se^2 = 1/3 + 5/3 = 2
    assert res.statistic == pytest.approx(3 / math.sqrt(2))
    assert res.df == pytest.approx(4 / ((1 / 3) ** 2 / 2 + (5 / 3) ** 2 / 3))
    assert res.details["contributions"] == pytest.approx({"a": 1.5, "b": 1.5})
    assert res.details["median_difference"] == pytest.approx(3.0)
    assert res.details["contributions_sum_gap"] == pytest.approx(0.0, abs=1e-12)


def test_score_contributions_add_up_to_the_mean_difference():
    d = random_process(seed=4)
    c, f = _frames(d)
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, _ = process.process_tests(f, c, config=cfg)
    table = process.tests_table(recs, config=cfg)
    contrib = process.score_contributions(recs, table)
    sub = contrib[contrib["group"] == "hors_ue"].set_index("criterion")["contribution"]
    a = d["access"]
    fr, hu = a[a["nationalite"] == "francaise"], a[a["nationalite"] == "hors_ue"]
    for col in ("cotation_anciennete", "cotation_sans_logement", "score_cotation"):
        assert sub[col] == pytest.approx(hu[col].mean() - fr[col].mean(), abs=1e-10)
    assert np.isclose(sub.drop("score_cotation").sum(), sub["score_cotation"])


def test_planted_refusal_of_qpv_offers_is_found_in_the_interaction():
    # hors UE candidates accept an offer in a QPV with probability 0.2 (0.7 otherwise)
    d = random_process(n=2000, seed=13, n_offers=700, accept_qpv_hors_ue=0.2)
    c, f = _frames(d)
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, inter = process.process_tests(f, c, config=cfg)
    row = inter.set_index("group").loc["hors_ue"]
    assert row["ci_low"] > 1  # refuses QPV offers more than française, beyond refusals elsewhere
    refusal = {r.compared: r.result for r in recs if r.outcome == "refusal"}["hors_ue"]
    assert refusal.ci_low < 1 < refusal.ci_high  # outside QPV: no planted difference


def test_planted_designation_gap_shows_at_equal_score():
    # the score does not depend on the group and designation is planted lower for hors UE
    d = random_process(n=2000, seed=17, designation_or_hors_ue=0.4, n_offers=500)
    c, f = _frames(d)
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, _ = process.process_tests(f, c, config=cfg)
    by = {(r.outcome, r.compared): r.result for r in recs}
    assert by[("designation_equal_score", "hors_ue")].ci_high < 1
    table = process.tests_table(recs, config=cfg)
    words = process.equal_score_sentences_fr(table, alpha=0.05)
    hu = [w for w in words if "hors UE" in w and "désignés" in w]
    assert len(hu) == 1 and "moins de chances" in hu[0]
    assert "ne suit pas la grille de la même façon" in hu[0]
    assert "ne dit rien des intentions" in hu[0]


def test_process_tests_restricted_to_some_outcomes_run_only_those():
    c, f = _frames(random_process(seed=4))
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, refusal_qpv = process.process_tests(
        f, c, config=cfg, outcomes={"cal_favourable", "refusal"}
    )
    assert {r.id for r in recs} == {
        "cal_favourable_origin_clogit",
        "cal_favourable_residence_clogit",
        "refusal_origin_logit",
        "refusal_residence_logit",
    }
    assert len(refusal_qpv) == 3  # ue, hors UE, QPV
