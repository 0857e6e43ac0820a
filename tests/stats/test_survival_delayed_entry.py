"""Waiting-time estimators with delayed entry (left truncation), against R.

Reference values: ``tests/reference/make_reference_delayed_entry.R`` (survival
``coxph(ties = "exact")`` score test, ``survfit`` with ``Surv(entry, time,
event)``, multi-state ``survfit`` for the cumulative incidence) on a
left-truncated frame generated in that script and on R's ``mgus2`` on the age
scale.
"""

import json
import math
from functools import cache

import numpy as np
import pandas as pd
import pytest
from _ref_b import REFERENCE_DIR, RTOL, ref_data

from allocation_analysis.stats.survival import cox, cumulative_incidence, kaplan_meier, logrank

SE_RTOL = 0.05  # Greenwood-type vs infinitesimal-jackknife standard errors


@cache
def ref() -> dict:
    with open(REFERENCE_DIR / "r_reference_delayed_entry.json", encoding="utf-8") as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def lt():
    d = ref_data("left_truncated")
    d["e1"] = (d["status"] == 1).astype(int)
    return d


@pytest.fixture(scope="module")
def mgus():
    d = ref_data("mgus_age")
    d["pcm"] = (d["event"] == 1).astype(int)
    d["death"] = (d["event"] == 2).astype(int)
    return d


# ----------------------------------------------------------------- log-rank
@pytest.mark.parametrize(
    ("key", "kwargs", "rows"),
    [
        ("logrank_lt", {}, None),
        ("logrank_lt_strata", {"strata": "s"}, None),
        ("logrank_lt_ab", {}, ("a", "b")),
    ],
)
def test_logrank_with_entry_is_the_exact_cox_score_test_of_r(lt, key, kwargs, rows):
    d = lt if rows is None else lt[lt["g"].isin(rows)]
    res = logrank(d, duration="time", event="e1", group="g", entry="entry", **kwargs)
    r = ref()[key]
    assert res.statistic == pytest.approx(r["chisq"], rel=RTOL)
    assert res.df == r["df"]
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)
    assert "entrée retardée" in res.method


def test_logrank_with_entry_on_real_left_truncated_data_matches_r(mgus):
    res = logrank(mgus, duration="time", event="pcm", group="sexe", entry="entry")
    r = ref()["logrank_mgus"]
    assert res.statistic == pytest.approx(r["chisq"], rel=RTOL)
    assert res.p_value == pytest.approx(r["p_value"], rel=RTOL)


def test_logrank_with_entry_before_every_time_equals_the_classical_log_rank(lt):
    d = lt.assign(entry=-1)
    r = ref()["logrank_no_entry"]
    # in R, survdiff and the exact-likelihood score test agree without truncation
    assert r["survdiff_chisq"] == pytest.approx(r["exact_score"], rel=1e-10)
    with_entry = logrank(d, duration="time", event="e1", group="g", entry="entry")
    plain = logrank(d, duration="time", event="e1", group="g")
    assert with_entry.statistic == pytest.approx(r["survdiff_chisq"], rel=RTOL)
    assert plain.statistic == pytest.approx(with_entry.statistic, rel=1e-12)
    for g, obs in r["observed"].items():
        assert with_entry.details["observed"][g] == pytest.approx(obs)
        assert with_entry.details["expected"][g] == pytest.approx(r["expected"][g], rel=RTOL)


def test_ignoring_the_entry_of_a_left_truncated_frame_changes_the_log_rank(lt):
    # the defect the entry fixes: the same rows without their entry
    ignored = logrank(lt, duration="time", event="e1", group="g")
    assert ignored.statistic == pytest.approx(ref()["logrank_lt_ignoring_entry"]["chisq"], RTOL)
    fixed = logrank(lt, duration="time", event="e1", group="g", entry="entry")
    assert ignored.statistic > 3 * fixed.statistic


# ----------------------------------------------------------------- Kaplan–Meier
def _check_km(res, r):
    for g, rc in r["curves"].items():
        c = res.details["curves"][g]
        np.testing.assert_allclose(c["time"], rc["time"])
        np.testing.assert_allclose(c["n_risk"], rc["n_risk"])
        np.testing.assert_allclose(c["n_event"], rc["n_event"])
        np.testing.assert_allclose(c["surv"], rc["surv"], rtol=RTOL)
        for col in ("std_err_log", "lower", "upper"):
            r_val = np.asarray(rc[col], dtype=float)
            fin = np.isfinite(r_val)  # R gives NA once the curve has reached 0
            assert fin.mean() > 0.5
            np.testing.assert_allclose(c[col].to_numpy()[fin], r_val[fin], rtol=RTOL)
    med = res.details["medians"].set_index("group")
    for g, rm in r["medians"].items():
        for k in ("median", "median_low", "median_high"):
            expected = math.nan if rm[k] is None else rm[k]
            got = med.loc[g, k]
            assert (math.isnan(got) and math.isnan(expected)) or got == pytest.approx(expected)


def test_kaplan_meier_with_entry_matches_survfit_counting_process(lt):
    res = kaplan_meier(lt, duration="time", event="e1", group="g", entry="entry")
    _check_km(res, ref()["km_lt"])
    assert "entrée retardée" in res.method


def test_kaplan_meier_with_entry_on_real_left_truncated_data_matches_survfit(mgus):
    res = kaplan_meier(mgus, duration="time", event="death", group="sexe", entry="entry")
    _check_km(res, ref()["km_mgus"])
    # few women and men are diagnosed young: the early risk sets are small
    assert any("moins de dix demandes à risque" in w for w in res.warnings)


def test_kaplan_meier_at_times_counts_the_rows_at_risk_and_stops_at_the_last_time():
    d = pd.DataFrame(
        {"entry": [-1, 5, 5, 10], "t": [4, 8, 12, 20], "e": [1, 0, 1, 1], "g": ["a"] * 4}
    )
    at = kaplan_meier(d, duration="t", event="e", group="g", entry="entry", times=[3, 6, 11, 25])
    tab = at.details["at_times"]["a"]
    # at risk (entry < s <= t): s=3 -> row 0; s=6 -> rows 1, 2; s=11 -> rows 2, 3
    assert tab["n_risk"].tolist() == [1, 2, 2, 0]
    # S: 1 until 4, then 0 (one at risk, one event); later entrants cannot revive it
    assert tab["surv"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert math.isnan(tab["surv"].iloc[3])


# ----------------------------------------------------------------- cumulative incidence
@pytest.mark.parametrize(
    ("data", "key", "kwargs"),
    [
        ("lt", "cif_lt", dict(duration="time", event="status", group="g")),
        ("mgus", "cif_mgus", dict(duration="time", event="event", group="sexe")),
    ],
)
def test_cumulative_incidence_with_entry_matches_multistate_survfit(request, data, key, kwargs):
    d = request.getfixturevalue(data)
    r = ref()[key]
    res = cumulative_incidence(d, entry="entry", times=r["times"], **kwargs)
    for g, rc in r["curves"].items():
        c = res.details["curves"][g]
        # R lists every exit time; the curve's value at each of them
        idx = np.searchsorted(c["time"].to_numpy(), rc["time"], side="right") - 1
        got = np.where(idx >= 0, c["cif"].to_numpy()[np.clip(idx, 0, None)], 0.0)
        np.testing.assert_allclose(got, rc["cif"], rtol=RTOL, atol=1e-12)
        # the Greenwood-type (multinomial delta) variance with delayed-entry
        # risk sets agrees with R's infinitesimal-jackknife standard error to
        # first order, and exactly at the first event time (binomial
        # F (1 - F) / r for both); compared where the curve rests on at least
        # 10 rows at risk (in the tail of a truncated group the risk set falls
        # to 1 or 2 and any two variance estimators part)
        se_r = np.asarray(rc["std_err"], dtype=float)
        se = np.sqrt(np.where(idx >= 0, c["var"].to_numpy()[np.clip(idx, 0, None)], 0.0))
        rows = d[d[kwargs["group"]] == g]
        times = np.asarray(rc["time"], dtype=float)
        at_risk = (
            (rows["entry"].to_numpy() < times[:, None])
            & (times[:, None] <= rows["time"].to_numpy())
        ).sum(axis=1)
        ok = (se_r > 0) & (np.asarray(rc["cif"]) > 0.02) & (at_risk >= 10)
        assert ok.mean() > 0.5
        np.testing.assert_allclose(se[ok], se_r[ok], rtol=SE_RTOL)
        first = int(np.argmax(se_r > 0))
        ev = rows[kwargs["event"]].to_numpy()
        if not np.any((ev > 1) & (rows["time"].to_numpy() <= times[first])):
            # no competing event yet: both are the binomial F (1 - F) / r
            assert se[first] == pytest.approx(se_r[first], rel=1e-6)
    at = res.details["at_times"]
    for g, ra in r["at_times"].items():
        rows = at[at["group"] == g]
        last = d.loc[d[kwargs["group"]] == g, "time"].max()
        for t, rv, got in zip(ra["time"], ra["cif"], rows["cif"], strict=True):
            if t > last:
                assert math.isnan(got)  # beyond the last observed time: unknown
            else:
                assert got == pytest.approx(rv, rel=RTOL, abs=1e-12)


def test_cumulative_incidence_beyond_the_last_observed_time_is_nan_without_entry():
    # cmprsk::timepoints gives NA after the last follow-up time, not the last value
    d = pd.DataFrame({"t": [1, 2, 3, 4, 5], "e": [1, 2, 1, 0, 0], "g": ["a"] * 5})
    res = cumulative_incidence(d, duration="t", event="e", group="g", times=[3, 5, 6])
    cif = res.details["at_times"]["cif"].tolist()
    assert cif[:2] == pytest.approx([0.4, 0.4])  # R: 0.4 at 3 and at 5
    assert math.isnan(cif[2])


# ----------------------------------------------------------------- user errors
@pytest.mark.parametrize("fn", [logrank, kaplan_meier, cumulative_incidence, "cox"])
def test_rows_never_at_risk_are_refused_with_count_and_examples(fn):
    d = pd.DataFrame(
        {
            "entry": [0, 5, 7, 0, 3, 1],
            "t": [3, 5, 6, 4, 8, 9],
            "e": [1, 0, 1, 1, 0, 1],
            "g": ["a", "a", "b", "b", "a", "b"],
        },
        index=[10, 11, 12, 13, 14, 15],
    )
    kw = dict(df=d, duration="t", event="e", group="g", entry="entry")
    if fn == "cox":
        fn, kw = cox, {**kw, "reference": "a", "compared": "b"}
    with pytest.raises(ValueError, match=r"2 ligne\(s\).*11, 12"):
        fn(**kw)


# ----------------------------------------------------------------- size under left truncation
def _truncated_null(rng, n):
    """Equal allocation hazards; group b filed more recently (as in real extracts)."""
    g = rng.random(n) < 0.4
    filed = np.where(g, -rng.uniform(0, 400, n), -rng.uniform(0, 1500, n)).round()
    # hazard falls with seniority (demands that wait long are harder to house)
    t = np.ceil(rng.weibull(0.7, n) * 900)
    to_start = -filed
    seen = t >= to_start
    end = 181 - filed
    d = pd.DataFrame(
        {
            "entry": to_start - 1,
            "t": np.minimum(t, end),
            "e": (t <= end).astype(int),
            "g": np.where(g, "b", "a"),
        }
    )
    return d[seen]


def test_logrank_with_entry_holds_its_size_when_groups_differ_in_filing_dates(capsys):
    rng = np.random.default_rng(20261202)
    reps = 400
    rej_entry = rej_ignored = 0
    for _ in range(reps):
        d = _truncated_null(rng, 1500)
        rej_entry += logrank(d, duration="t", event="e", group="g", entry="entry").p_value < 0.05
        rej_ignored += logrank(d, duration="t", event="e", group="g").p_value < 0.05
    size, size_ignored = rej_entry / reps, rej_ignored / reps
    with capsys.disabled():
        print(
            f"\nlog-rank under a left-truncated null ({reps} replicates): size with entry "
            f"{size:.3f}, ignoring entry {size_ignored:.3f}"
        )
    # binomial 95 % interval of a true size 0.05 over 400 replicates: [0.030, 0.073]
    assert 0.025 <= size <= 0.075
    assert size_ignored > 0.5
