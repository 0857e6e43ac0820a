"""Funnel decomposition: hand-computed counts and rates, the exact identity, refusals."""

import math

import numpy as np
import pandas as pd
import pytest

from allocation_analysis.stats.funnel import FunnelDecomposition, funnel_decomposition
from allocation_analysis.stats.rates import wilson_interval

STAGES = ["examinee", "proposee", "attribuee"]
KW = dict(group="nationalite", reference="francaise", compared="etrangere", stages=STAGES)


def _rows(group: str, counts: list[int]) -> pd.DataFrame:
    """``counts[0]`` rows of ``group``, of which ``counts[j]`` reach stage ``j``."""
    n = counts[0]
    out = {"nationalite": [group] * n}
    for j, stage in enumerate(STAGES, start=1):
        out[stage] = [i < counts[j] for i in range(n)]
    return pd.DataFrame(out)


@pytest.fixture()
def funnel() -> pd.DataFrame:
    # francaise: 20 demands, 16 examined, 8 proposed, 4 housed
    # etrangere: 25 demands, 15 examined, 6 proposed, 2 housed
    # ue (ignored): 5 demands, all housed
    return pd.concat(
        [
            _rows("francaise", [20, 16, 8, 4]),
            _rows("etrangere", [25, 15, 6, 2]),
            _rows("ue", [5, 5, 5, 5]),
        ],
        ignore_index=True,
    )


def test_counts_and_conditional_rates_computed_by_hand(funnel):
    res = funnel_decomposition(funnel, **KW)
    assert isinstance(res, FunnelDecomposition)
    assert res.groups == ("francaise", "etrangere")
    assert res.n == 45
    t = res.table
    assert list(t["stage"]) == STAGES
    assert list(t["base_reference"]) == [20, 16, 8]
    assert list(t["n_reference"]) == [16, 8, 4]
    assert list(t["base_compared"]) == [25, 15, 6]
    assert list(t["n_compared"]) == [15, 6, 2]
    assert list(t["rate_reference"]) == pytest.approx([0.8, 0.5, 0.5], abs=1e-15)
    assert list(t["rate_compared"]) == pytest.approx([0.6, 0.4, 1 / 3], abs=1e-15)
    assert list(t["ratio"]) == pytest.approx([0.75, 0.8, 2 / 3], rel=1e-14)
    assert list(t["log_ratio"]) == pytest.approx(
        [math.log(0.75), math.log(0.8), math.log(2 / 3)], rel=1e-14
    )
    o = res.overall
    assert (o["base_reference"], o["n_reference"]) == (20, 4)
    assert (o["base_compared"], o["n_compared"]) == (25, 2)
    assert o["rate_reference"] == pytest.approx(0.2, abs=1e-15)
    assert o["rate_compared"] == pytest.approx(0.08, abs=1e-15)
    assert o["ratio"] == pytest.approx(0.4, rel=1e-14)  # 0.75 * 0.8 * 2/3
    assert res.log_ratio == pytest.approx(math.log(0.4), rel=1e-14)
    assert res.warnings == ()


def test_shares_of_the_overall_log_ratio(funnel):
    res = funnel_decomposition(funnel, **KW)
    expected = [math.log(0.75), math.log(0.8), math.log(2 / 3)]
    shares = [x / math.log(0.4) for x in expected]
    # log 0.75 / log 0.4 = 0.31396..., log 0.8 / log 0.4 = 0.24353..., log(2/3) / log 0.4 = 0.44251...
    assert shares == pytest.approx([0.313963, 0.243529, 0.442507], abs=1e-6)
    assert list(res.table["share"]) == pytest.approx(shares, rel=1e-13)
    assert res.table["share"].sum() == pytest.approx(1.0, abs=1e-14)
    assert list(res.table["share_note"]) == ["", "", ""]


def test_stage_log_ratios_sum_to_the_overall_log_ratio(funnel):
    res = funnel_decomposition(funnel, **KW)
    assert math.fsum(res.table["log_ratio"]) == pytest.approx(res.log_ratio, abs=1e-15)
    # on random nested funnels with unequal groups and several stages
    rng = np.random.default_rng(11)
    for _ in range(50):
        n = int(rng.integers(50, 2000))
        g = np.where(rng.random(n) < 0.4, "etrangere", "francaise")
        reached = np.ones(n, dtype=bool)
        cols = {}
        for stage in STAGES:
            reached = reached & (rng.random(n) < rng.uniform(0.3, 0.9))
            cols[stage] = reached
        d = pd.DataFrame({"nationalite": g, **cols})
        r = funnel_decomposition(d, **KW)
        if not math.isfinite(r.log_ratio) or r.log_ratio == 0:
            continue
        assert math.fsum(r.table["log_ratio"]) == pytest.approx(r.log_ratio, abs=1e-12)
        assert math.fsum(r.table["share"]) == pytest.approx(1.0, abs=1e-12)
        assert np.prod(r.table["ratio"]) == pytest.approx(r.overall["ratio"], rel=1e-12)


def test_rates_carry_the_project_wilson_intervals(funnel):
    res = funnel_decomposition(funnel, **KW, alpha=0.1)
    t = res.table
    for key, pairs in (
        ("reference", [(16, 20), (8, 16), (4, 8)]),
        ("compared", [(15, 25), (6, 15), (2, 6)]),
    ):
        for i, (x, n) in enumerate(pairs):
            lo, hi = wilson_interval(x, n, alpha=0.1)
            assert t[f"rate_{key}_ci_low"].iloc[i] == lo
            assert t[f"rate_{key}_ci_high"].iloc[i] == hi
    # Wilson 95 % interval of 4/20 by hand: (p + z²/2n ± z sqrt(p q / n + z²/4n²)) / (1 + z²/n)
    z = 1.959963984540054
    p, n = 0.2, 20
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    centre = p + z * z / (2 * n)
    lo, hi = (centre - half) / (1 + z * z / n), (centre + half) / (1 + z * z / n)
    o = funnel_decomposition(funnel, **KW).overall
    assert (o["rate_reference_ci_low"], o["rate_reference_ci_high"]) == pytest.approx(
        (lo, hi), rel=1e-12
    )
    # R: prop.test(4, 20, correct = FALSE)$conf.int
    assert (lo, hi) == pytest.approx((0.08065766258, 0.41601743225), abs=1e-10)


def test_to_frame_appends_the_overall_row(funnel):
    res = funnel_decomposition(funnel, **KW)
    f = res.to_frame()
    assert list(f["stage"]) == [*STAGES, "ensemble"]
    last = f.iloc[-1]
    assert last["share"] == 1.0
    assert (last["n_reference"], last["base_reference"]) == (4, 20)
    assert last["log_ratio"] == res.log_ratio


def test_non_nested_stages_are_refused(funnel):
    bad = funnel.copy()
    i = bad.index[(bad["nationalite"] == "francaise") & ~bad["proposee"]][0]
    bad.loc[i, "attribuee"] = True
    with pytest.raises(ValueError, match="ne sont pas emboîtées : 1 ligne"):
        funnel_decomposition(bad, **KW)
    # the order of the stages matters
    with pytest.raises(ValueError, match="emboîtées"):
        funnel_decomposition(funnel, **{**KW, "stages": ["attribuee", "examinee"]})
    # rows of other groups are checked too: the input is inconsistent
    other = funnel.copy()
    j = other.index[(other["nationalite"] == "ue")][0]
    other.loc[j, "examinee"] = False
    with pytest.raises(ValueError, match="'proposee' vrai alors que l'étape précédente"):
        funnel_decomposition(other, **KW)


def test_equal_overall_rates_give_nan_shares_with_the_reason():
    d = pd.concat(
        [_rows("francaise", [10, 8, 4, 2]), _rows("etrangere", [20, 10, 8, 4])],
        ignore_index=True,
    )
    res = funnel_decomposition(d, **KW)
    assert res.log_ratio == 0.0
    assert res.table["share"].isna().all()
    assert res.table["share_note"].str.contains("taux globaux égaux").all()
    # the stage log ratios are still there and cancel out
    assert list(res.table["log_ratio"]) == pytest.approx(
        [math.log(0.5 / 0.8), math.log(0.8 / 0.5), 0.0], abs=1e-15
    )
    assert any("Parts des étapes" in w for w in res.warnings)


def test_a_zero_rate_gives_nan_shares_with_the_reason():
    d = pd.concat(
        [_rows("francaise", [10, 8, 4, 2]), _rows("etrangere", [10, 6, 0, 0])],
        ignore_index=True,
    )
    res = funnel_decomposition(d, **KW)
    t = res.table
    assert res.log_ratio == -math.inf
    assert res.overall["rate_compared"] == 0.0
    assert t["share"].isna().all()
    assert t["share_note"].str.contains("taux nul").all()
    assert "'etrangere' à l'étape 'proposee'" in t["share_note"].iloc[0]
    assert t["log_ratio"].iloc[0] == pytest.approx(math.log(0.6 / 0.8), rel=1e-14)
    assert t["log_ratio"].iloc[1] == -math.inf
    # no compared row reached "proposee": the last conditional rate is 0/0
    assert math.isnan(t["rate_compared"].iloc[2]) and math.isnan(t["log_ratio"].iloc[2])
    assert t["base_compared"].iloc[2] == 0


def test_empty_group_gives_nan_and_a_warning():
    d = _rows("francaise", [10, 8, 4, 2])
    d["nationalite"] = pd.Categorical(d["nationalite"], categories=["etrangere", "francaise"])
    res = funnel_decomposition(d, **KW)
    assert math.isnan(res.log_ratio)
    assert res.table["rate_compared"].isna().all()
    assert any("'etrangere' n'a aucune observation" in w for w in res.warnings)


def test_missing_stage_after_a_stage_not_reached_counts_as_not_reached(funnel):
    d = funnel.astype({s: "object" for s in STAGES})
    not_examined = ~d["examinee"].astype(bool)
    d.loc[not_examined, ["proposee", "attribuee"]] = None
    res = funnel_decomposition(d, **KW)
    assert list(res.table["n_reference"]) == [16, 8, 4]
    assert res.n == 45 and res.warnings == ()
    # a missing value where the row may have reached the stage: the row is dropped
    i = d.index[(d["nationalite"] == "etrangere") & d["examinee"].astype(bool)][0]
    d.loc[i, "proposee"] = None
    res = funnel_decomposition(d, **KW)
    assert res.n == 44
    assert res.table["base_compared"].iloc[0] == 24
    assert any("1 ligne(s) écartée(s)" in w for w in res.warnings)


def test_stages_given_as_0_1_and_oui_non(funnel):
    base = funnel_decomposition(funnel, **KW)
    d = funnel.copy()
    d["examinee"] = d["examinee"].astype(int)
    d["proposee"] = np.where(d["proposee"], "oui", "non")
    res = funnel_decomposition(d, **KW)
    pd.testing.assert_frame_equal(res.table, base.table)


def test_single_stage(funnel):
    res = funnel_decomposition(funnel, **{**KW, "stages": ["examinee"]})
    assert res.table["share"].tolist() == [1.0]
    assert res.log_ratio == pytest.approx(math.log(0.75), rel=1e-14)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(stages=[]), "au moins une colonne"),
        (dict(stages=["examinee", "examinee"]), "répétées"),
        (dict(stages=["examinee", "signee"]), "`stages` désigne la colonne 'signee'"),
        (dict(stages=["nationalite"]), "ne doit pas contenir la colonne `group`"),
        (dict(reference="belge"), "`reference` vaut 'belge'"),
        (dict(compared=None), "`compared` est obligatoire"),
        (dict(alpha=0), "`alpha`"),
    ],
)
def test_argument_errors_raise_value_error_in_french(funnel, kwargs, match):
    with pytest.raises(ValueError, match=match):
        funnel_decomposition(funnel, **{**KW, **kwargs})


def test_non_binary_stage_is_refused(funnel):
    d = funnel.assign(examinee=np.where(funnel["examinee"], 2, 0))
    with pytest.raises(ValueError, match="doit être binaire"):
        funnel_decomposition(d, **KW)
