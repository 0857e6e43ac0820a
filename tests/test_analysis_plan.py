"""The plan of the report's tests: one list, every option reaching every test, stated families."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from allocation_analysis import analysis, calibration, narrative, stats, synth

PRIMARY = {
    (f"{outcome}_{key}_{method}", cmp)
    for outcome, method in (("access", "logit"), ("waiting_time", "cox"), ("placement", "logit"))
    for key, levels in (("origin", ("ue", "hors_ue")), ("residence", ("qpv",)))
    for cmp in levels
}


@pytest.fixture(scope="module")
def frames():
    ds = synth.generate(scale="tiny", seed=12, effects="default")
    return calibration.analysis_frames(ds)


@pytest.fixture(scope="module")
def records_010(frames):
    access, alloc, cfg = frames
    cfg = dataclasses.replace(cfg, alpha=0.10)
    return analysis.disparity_tests(access, alloc, config=cfg, n_boot=5, n_permutations=19)


@pytest.fixture(scope="module")
def records_005(frames):
    access, alloc, cfg = frames
    return analysis.disparity_tests(
        access, alloc, config=cfg, n_boot=5, n_permutations=19, include_profiles=False
    )


def _close(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)):
        return (a is None or math.isnan(a)) and (b is None or math.isnan(b))
    return a == pytest.approx(b, rel=1e-9, abs=1e-12)


# --------------------------------------------------------------------------- §3 one plan
def test_plan_lists_every_report_test_once_with_its_family_and_sidedness():
    plan = analysis.TEST_PLAN
    keys = [(t.id, t.compared) for t in plan]
    assert len(keys) == len(set(keys))
    assert {(t.id, t.compared) for t in plan if t.family == analysis.PRINCIPAL} == PRIMARY
    assert {t.family for t in plan} == {analysis.PRINCIPAL, analysis.ROBUSTNESS}
    for t in plan:
        expected = analysis.ONE_SIDED if t.method == "dissimilarity" else analysis.TWO_SIDED
        assert t.sided == expected, t.id
        assert t.id == f"{t.outcome}_{t.grouping.key}_{t.method}"
        assert t.compared in t.grouping.compared


def test_waiting_time_tests_use_delayed_entry_on_the_risk_set_convention():
    wt = [t for t in analysis.TEST_PLAN if t.outcome == "waiting_time"]
    assert {t.method for t in wt} == {"logrank", "cox"}
    assert all(t.entry == "entree_risque_jours" for t in wt)


def test_disparity_tests_follow_the_plan(records_010):
    assert [(r.id, r.compared) for r in records_010] == [
        (t.id, t.compared) for t in analysis.TEST_PLAN
    ]
    for r, t in zip(records_010, analysis.TEST_PLAN, strict=True):
        assert (r.family, r.sided, r.outcome) == (t.family, t.sided, t.outcome)


def test_calibration_reads_the_plan():
    ids = tuple(dict.fromkeys(t.id for t in analysis.TEST_PLAN if t.method != "profiles"))
    assert ids == calibration.TEST_IDS


def test_calibration_calls_are_the_plan_calls_with_cost_options_only(frames):
    access, alloc, cfg = frames
    specs = calibration.report_specs(
        access, alloc, seed=cfg.seed, n_orderings=1, n_permutations=19, cv_folds=1
    )
    plan = {
        (t.id, t.compared): (fn, kw)
        for t, fn, kw in analysis.plan_calls(access, alloc, alpha=0.05, seed=cfg.seed)
    }
    assert {(tid, cmp) for tid, cmp, _, _ in specs} == {
        k for k in plan if k[0] != "access_origin_profiles"
    }
    for tid, cmp, fn, kw in specs:
        pfn, pkw = plan[(tid, cmp)]
        assert fn is pfn
        changed = {k for k in kw if k != "df" and not _same(kw[k], pkw.get(k))}
        assert changed <= set(analysis.COST_OPTIONS), (tid, changed)
        pd.testing.assert_frame_equal(kw["df"], pkw["df"])
    with pytest.raises(ValueError, match="controls"):
        list(analysis.plan_calls(access, alloc, alpha=0.05, seed=1, options={"controls": ()}))


def _same(a, b) -> bool:
    return a is b or a == b


def test_every_interval_is_at_the_configured_level(frames, records_010):
    """alpha = 0.10 in the configuration: every result, interval and table says 90 %."""
    access, alloc, cfg = frames
    assert all(r.result.alpha == pytest.approx(0.10) for r in records_010), [
        (r.id, r.result.alpha) for r in records_010 if r.result.alpha != 0.10
    ]
    frame = analysis.results_frame(records_010)
    assert (frame["alpha"] == 0.10).all()
    assert all(e["alpha"] == 0.10 for e in analysis.test_entries(frame))
    by = {(r.id, r.compared): r.result for r in records_010}
    acc = access.assign(
        strate=analysis._access_strata(access), _allocation=(access["evenement"] == 1).astype(int)
    )
    sub = acc[acc["nationalite"].isin(["francaise", "hors_ue"])]
    common = dict(group="nationalite", reference="francaise", compared="hors_ue", alpha=0.10)
    direct = {
        "access_origin_cmh": stats.cmh(sub, outcome="access", strata="strate", **common),
        "access_origin_logit": stats.logit_disparity(
            sub,
            outcome="access",
            controls=analysis.ACCESS_MODEL_CONTROLS,
            cluster=analysis.CLUSTER,
            **common,
        ),
        "access_origin_fairlie": stats.fairlie(
            sub,
            outcome="access",
            controls=analysis.ACCESS_MODEL_CONTROLS,
            random_state=cfg.seed,
            **common,
        ),
        "waiting_time_origin_cox": stats.cox(
            sub,
            duration="duree_jours",
            event="_allocation",
            entry="entree_risque_jours",
            controls=analysis.ACCESS_CONTROLS,
            strata=analysis.CLUSTER,
            cluster=analysis.CLUSTER,
            **common,
        ),
    }
    for tid, res in direct.items():
        res = res.by_group("hors_ue") if isinstance(res, stats.ResultSet) else res
        got = by[(tid, "hors_ue")]
        for field in ("estimate", "ci_low", "ci_high", "p_value"):
            assert _close(getattr(got, field), getattr(res, field)), (tid, field)
    # a 90 % interval is narrower than the 95 % one of the same test, same centre
    logit95 = stats.logit_disparity(
        sub,
        outcome="access",
        controls=analysis.ACCESS_MODEL_CONTROLS,
        cluster=analysis.CLUSTER,
        **{**common, "alpha": 0.05},
    )
    got = by[("access_origin_logit", "hors_ue")]
    assert logit95.ci_low < got.ci_low < got.estimate < got.ci_high < logit95.ci_high
    ratio = math.log(got.ci_high / got.ci_low) / math.log(logit95.ci_high / logit95.ci_low)
    # cluster-robust: Student quantiles with G - 1 degrees of freedom
    from scipy import stats as sps

    dfr = got.details["df_reference"]
    assert ratio == pytest.approx(sps.t.ppf(0.95, dfr) / sps.t.ppf(0.975, dfr), rel=1e-9)
    # the published table says which level
    table = narrative.tests_table_fr(frame, alpha=0.10)
    assert "IC 90 % (non ajusté)" in table.columns
    assert not any("95" in c for c in table.columns)
    sentences = narrative.tests_sentences_fr(frame, alpha=0.10)
    assert "IC 90 % :" in sentences[0] and not any("IC 95 %" in t for t in sentences)


# --------------------------------------------------------------------------- §4 families
def test_frame_states_family_and_sidedness_and_shows_primary_tests_first(records_005):
    frame = analysis.results_frame(records_005)
    fam = frame["family"].tolist()
    n_primary = fam.count(analysis.PRINCIPAL)
    assert n_primary == len(PRIMARY)
    assert fam == [analysis.PRINCIPAL] * n_primary + [analysis.ROBUSTNESS] * (len(fam) - n_primary)
    assert set(zip(frame["id"][:n_primary], frame["group"][:n_primary], strict=True)) == PRIMARY
    sided = dict(zip(frame["id"], frame["sided"], strict=False))
    assert sided["placement_origin_dissimilarity"] == "unilatéral"
    assert {v for k, v in sided.items() if not k.endswith("_dissimilarity")} == {"bilatéral"}
    entry = analysis.test_entries(frame)[0]
    for key in (
        "id",
        "p_value",
        "p_adjusted",
        "ci_low",
        "ci_high",
        "family",
        "sided",
        "alpha",
        "ci_low_adjusted",
        "ci_high_adjusted",
        "ci_level_adjusted",
    ):
        assert key in entry


def _primary_p_adjusted(records) -> dict:
    frame = analysis.results_frame(records)
    prim = frame[frame["family"] == analysis.PRINCIPAL]
    return {
        (i, g): (p, lo, hi)
        for i, g, p, lo, hi in zip(
            prim["id"],
            prim["group"],
            prim["p_adjusted"],
            prim["ci_low_adjusted"],
            prim["ci_high_adjusted"],
            strict=True,
        )
    }


def test_adding_or_removing_a_robustness_check_never_changes_a_primary_adjusted_p(records_005):
    full = _primary_p_adjusted(records_005)
    fewer = [r for r in records_005 if r.id != "access_origin_cmh"]
    assert len(fewer) < len(records_005)
    extra = fewer + [
        dataclasses.replace(
            records_005[0],
            id="access_origin_extra",
            family=analysis.ROBUSTNESS,
            result=dataclasses.replace(records_005[0].result, p_value=1e-6),
        )
    ]
    for other in (fewer, extra):
        got = _primary_p_adjusted(other)
        assert got.keys() == full.keys()
        for key, values in full.items():
            np.testing.assert_array_equal(got[key], values, err_msg=str(key))
    # while the robustness family is adjusted within itself
    rob = analysis.results_frame(records_005)
    rob = rob[rob["family"] == analysis.ROBUSTNESS]
    expected = stats.adjust_pvalues(rob["p_value"].to_numpy(dtype=float), method="fdr_bh")
    np.testing.assert_allclose(rob["p_adjusted"].to_numpy(dtype=float), expected)


def test_adjusted_intervals_agree_with_the_adjusted_p_values(records_005):
    frame = analysis.results_frame(records_005)
    prim = frame[(frame["family"] == analysis.PRINCIPAL) & frame["p_value"].notna()]
    m = len(prim)
    r = int((prim["p_adjusted"] < 0.05).sum())
    level = 1 - max(r, 1) * 0.05 / m
    assert prim["ci_level_adjusted"].to_numpy() == pytest.approx(level)
    for rec in prim.to_dict(orient="records"):
        lo, hi = rec["ci_low_adjusted"], rec["ci_high_adjusted"]
        assert lo <= rec["ci_low"] <= rec["estimate"] <= rec["ci_high"] <= hi
        excludes_one = lo > 1 or hi < 1
        assert excludes_one == (rec["p_adjusted"] < 0.05), rec["id"]
    rob = frame[frame["family"] == analysis.ROBUSTNESS]
    assert rob["ci_low_adjusted"].isna().all() and rob["ci_level_adjusted"].isna().all()


def test_adjusted_interval_is_the_direct_interval_at_the_adjusted_level(frames, records_005):
    access, _, _ = frames
    frame = analysis.results_frame(records_005)
    row = frame[(frame["id"] == "access_residence_logit")].iloc[0]
    level = float(row["ci_level_adjusted"])
    acc = access[access["residence_qpv"].isin(["hors_qpv", "qpv"])]
    direct = stats.logit_disparity(
        acc,
        outcome="access",
        group="residence_qpv",
        reference="hors_qpv",
        compared="qpv",
        controls=analysis.ACCESS_MODEL_CONTROLS,
        cluster=analysis.CLUSTER,
        alpha=1 - level,
    )
    assert row["ci_low_adjusted"] == pytest.approx(direct.ci_low, rel=1e-9)
    assert row["ci_high_adjusted"] == pytest.approx(direct.ci_high, rel=1e-9)


def test_tests_table_says_which_interval_is_shown(records_005):
    frame = analysis.results_frame(records_005)
    table = narrative.tests_table_fr(frame, alpha=0.05)
    for col in ("Famille", "IC 95 % (non ajusté)", "IC ajusté pour tests multiples", "Test"):
        assert col in table.columns
    n = len(PRIMARY)
    assert (table["Famille"][:n] == "test principal").all()
    assert (table["Famille"][n:] == "vérification de robustesse").all()
    shown = table["IC ajusté pour tests multiples"]
    level = narrative.fmt_level_fr(float(frame["ci_level_adjusted"].iloc[0]))
    assert all(level in v for v in shown[:n] if v != narrative.MISSING)
    assert (shown[n:] == "sans objet").all()
    note = narrative.tests_note_fr(frame)
    assert "Benjamini" in note and level in note and "robustesse" in note
    sentence = narrative.test_sentence_fr(frame.iloc[0].to_dict(), alpha=0.05)
    assert "IC 95 %" in sentence and "ajusté" in sentence


def test_profile_replicates_never_turn_the_fairlie_decomposition_into_a_bootstrap(records_010):
    # ``n_boot`` of disparity_tests is the profiles' bootstrap; the Fairlie
    # decomposition of the plan has analytic standard errors and must not refit
    # its logit n_boot times (at the MEL scale, with commune fixed effects, that
    # was 25-56 s per comparison).
    fairlie = [r for r in records_010 if r.id.endswith("_fairlie")]
    assert fairlie
    for r in fairlie:
        assert r.result.details["inference"] == "analytic"
        assert r.result.details["n_boot"] == 0, r.id
    profiles = [r for r in records_010 if r.id.endswith("_profiles")]
    assert profiles and all(r.result.details.get("n_boot") == 5 for r in profiles)


def test_analysis_module_still_offers_every_name_notebooks_and_tests_use():
    # analysis re-exports plan, tables and narrative: every analysis.X written in the
    # notebooks must resolve (a notebook failing on a moved name fails the run)
    import re
    from pathlib import Path

    root = Path(__file__).parent.parent
    used = set()
    for path in (root / "notebooks").glob("*.ipynb"):
        used |= set(re.findall(r"(?<![\w.])analysis\.([A-Za-z_]\w*)", path.read_text("utf-8")))
    assert {"INDICATOR_LABELS_FR", "forest_frame", "results_frame"} <= used
    assert sorted(n for n in used if not hasattr(analysis, n)) == []
