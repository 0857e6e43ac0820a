import math

import numpy as np
import pandas as pd
import pytest

from allocation_analysis.stats import ResultSet
from allocation_analysis.stats.segregation import dissimilarity, isolation, theil_h


def _from_counts(counts):
    """Individuals from {unit: (a, b)} with a = hors_ue (compared), b = francaise."""
    rows = []
    for unit, (a, b) in counts.items():
        rows += [(unit, "hors_ue")] * a + [(unit, "francaise")] * b
    return pd.DataFrame(rows, columns=["commune", "nationalite"])


# u1: a=4, b=1 ; u2: a=1, b=4 ; u3: a=0, b=5   (A = 5, B = 10, T = 15)
TINY = _from_counts({"u1": (4, 1), "u2": (1, 4), "u3": (0, 5)})
KW = dict(group="nationalite", unit="commune", reference="francaise", compared="hors_ue")


def _binary_entropy(p):
    return -(p * math.log(p) + (1 - p) * math.log(1 - p)) if 0 < p < 1 else 0.0


def test_indices_on_a_tiny_example_match_hand_computation():
    # D = 1/2 (|4/5 - 1/10| + |1/5 - 4/10| + |0 - 5/10|) = 1/2 (0.7 + 0.2 + 0.5) = 0.7
    assert dissimilarity(TINY, **KW, n_permutations=0).estimate == pytest.approx(0.7)
    # xPx = (4/5)(4/5) + (1/5)(1/5) + 0 = 0.68
    assert isolation(TINY, **KW, n_permutations=0).estimate == pytest.approx(0.68)
    # H = sum_i t_i (E - E_i) / (T E), E = H(1/3), E_1 = H(4/5), E_2 = H(1/5), E_3 = 0
    E = _binary_entropy(1 / 3)
    h = (5 * (E - _binary_entropy(0.8)) + 5 * (E - _binary_entropy(0.2)) + 5 * E) / (15 * E)
    assert theil_h(TINY, **KW, n_permutations=0).estimate == pytest.approx(h)


def test_complete_separation_gives_one_and_the_smallest_p_value():
    df = _from_counts({"u1": (30, 0), "u2": (0, 40), "u3": (0, 30)})
    for f in (dissimilarity, theil_h):
        res = f(df, **KW, n_permutations=199, random_state=1)
        assert res.estimate == pytest.approx(1.0)
        assert res.p_value == pytest.approx(1 / 200)
    assert isolation(df, **KW, n_permutations=0).estimate == pytest.approx(1.0)


def test_perfectly_even_spread_gives_zero_and_p_value_one():
    df = _from_counts({"u1": (10, 20), "u2": (5, 10), "u3": (20, 40)})
    res = dissimilarity(df, **KW, n_permutations=99, random_state=0)
    assert res.estimate == pytest.approx(0.0, abs=1e-15)
    assert res.p_value == 1.0
    iso = isolation(df, **KW, n_permutations=0)
    assert iso.estimate == pytest.approx(iso.details["evenness_value"]) == pytest.approx(1 / 3)


def test_permutation_p_value_is_reproducible_with_a_seed():
    rng = np.random.default_rng(5)
    df = pd.DataFrame(
        {
            "nationalite": rng.choice(["francaise", "hors_ue"], 800),
            "commune": rng.choice(list("abcdefgh"), 800),
        }
    )
    r1 = dissimilarity(df, **KW, random_state=42)
    r2 = dissimilarity(df, **KW, random_state=42)
    assert r1.p_value == r2.p_value
    assert r1.p_value in {(m + 1) / 1000 for m in range(1000)}


def test_random_labels_give_uniform_p_values():
    # under the random-label null the permutation p-value is (super-)uniform
    rng = np.random.default_rng(11)
    p = []
    for _ in range(200):
        df = pd.DataFrame(
            {
                "nationalite": rng.choice(["francaise", "hors_ue"], 300, p=[0.7, 0.3]),
                "commune": rng.choice(list("abcdef"), 300),
            }
        )
        p.append(dissimilarity(df, **KW, n_permutations=199, random_state=rng).p_value)
    size = np.mean(np.array(p) <= 0.05)
    print(f"\ndissimilarity permutation test: size at 0.05 over 200 replicates = {size:.3f}")
    assert 0.01 <= size <= 0.10


def test_hypergeometric_and_explicit_label_permutation_give_the_same_null():
    # unit weights take the explicit permutation path; compare null means and sds
    rng = np.random.default_rng(2)
    df = pd.DataFrame(
        {
            "nationalite": rng.choice(["francaise", "hors_ue"], 2000, p=[0.8, 0.2]),
            "commune": rng.choice([f"c{i}" for i in range(20)], 2000),
            "w": 1.0,
        }
    )
    a = theil_h(df, **KW, n_permutations=2000, random_state=0)
    b = theil_h(df, **KW, n_permutations=2000, random_state=1, weights="w")
    assert a.estimate == pytest.approx(b.estimate, rel=1e-12)
    assert b.details["null_mean"] == pytest.approx(a.details["null_mean"], rel=0.05)
    assert b.details["null_sd"] == pytest.approx(a.details["null_sd"], rel=0.1)


def test_weights_enter_the_counts():
    df = TINY.assign(w=np.where(TINY["commune"] == "u3", 2.0, 1.0))
    # u3 now counts b = 10: D = 1/2 (|4/5 - 1/15| + |1/5 - 4/15| + |0 - 10/15|) = 11/15
    res = dissimilarity(df, **KW, n_permutations=0, weights="w")
    assert res.estimate == pytest.approx(11 / 15)


def test_matches_pysal_segregation_definitions():
    seg = pytest.importorskip("segregation.singlegroup")
    rng = np.random.default_rng(8)
    df = pd.DataFrame(
        {
            "nationalite": rng.choice(["francaise", "hors_ue", "ue"], 3000),
            "commune": rng.choice(
                [f"c{i}" for i in range(25)], 3000, p=np.r_[np.full(5, 0.1), np.full(20, 0.025)]
            ),
        }
    )
    counts = (
        df[df["nationalite"] != "ue"]
        .groupby(["commune", "nationalite"])
        .size()
        .unstack(fill_value=0)
    )
    counts["total"] = counts["hors_ue"] + counts["francaise"]
    assert dissimilarity(df, **KW, n_permutations=0).estimate == pytest.approx(
        seg.Dissim(counts, "hors_ue", "total").statistic, rel=1e-10
    )
    assert isolation(df, **KW, n_permutations=0).estimate == pytest.approx(
        seg.Isolation(counts, "hors_ue", "total").statistic, rel=1e-10
    )
    assert theil_h(df, **KW, n_permutations=0).estimate == pytest.approx(
        seg.Entropy(counts, "hors_ue", "total").statistic, rel=1e-10
    )


def test_empty_group_gives_nan_with_a_warning():
    df = TINY.copy()
    df["nationalite"] = pd.Categorical(df["nationalite"], ["francaise", "hors_ue", "ue"])
    res = dissimilarity(
        df,
        group="nationalite",
        unit="commune",
        reference="francaise",
        compared="ue",
        random_state=0,
    )
    assert math.isnan(res.estimate) and math.isnan(res.p_value)
    assert any("absent" in w for w in res.warnings)


def test_zero_permutations_warns_that_no_p_value_was_computed():
    res = isolation(TINY, **KW, n_permutations=0)
    assert math.isnan(res.p_value)
    assert any("Aucune permutation" in w for w in res.warnings)


def test_several_compared_levels_give_a_result_set():
    df = pd.concat([TINY, _from_counts({"u1": (0, 0), "u2": (3, 0)}).replace({"hors_ue": "ue"})])
    res = theil_h(
        df,
        group="nationalite",
        unit="commune",
        reference="francaise",
        n_permutations=9,
        random_state=0,
    )
    assert isinstance(res, ResultSet) and len(res) == 2


def test_argument_mistakes_raise():
    with pytest.raises(ValueError, match="`unit`"):
        dissimilarity(
            TINY, group="nationalite", unit="iris", reference="francaise", compared="hors_ue"
        )
    with pytest.raises(ValueError, match="`n_permutations`"):
        dissimilarity(TINY, **KW, n_permutations=-1)
    with pytest.raises(ValueError, match="`reference`"):
        dissimilarity(TINY, group="nationalite", unit="commune", reference="fr")


def test_expected_dissimilarity_under_random_allocation_by_hand():
    # two units of two, two members of each group: a_1 ~ hypergeometric with
    # P(0) = 1/6, P(1) = 4/6, P(2) = 1/6 and D = 1, 0, 1: E[D] = 1/3
    df = pd.DataFrame({"g": ["a", "a", "b", "b"], "u": [1, 1, 2, 2]})
    res = dissimilarity(df, group="g", unit="u", reference="b", compared="a", n_permutations=0)
    assert res.estimate == pytest.approx(1.0)
    assert res.details["expected_random"] == pytest.approx(1 / 3)
    # Carrington–Troske: (1 - 1/3) / (1 - 1/3) = 1
    assert res.details["corrected"] == pytest.approx(1.0)


def test_random_allocation_into_small_units_has_a_corrected_index_near_zero():
    rng = np.random.default_rng(11)
    n = 600
    df = pd.DataFrame({"g": np.where(rng.random(n) < 0.2, "a", "b"), "u": rng.integers(0, 90, n)})
    res = dissimilarity(
        df, group="g", unit="u", reference="b", compared="a", n_permutations=999, random_state=1
    )
    # a random allocation of ~7 people per unit: the raw index is far from 0
    assert res.estimate > 0.25
    # the exact expectation agrees with the permutation mean
    assert res.details["expected_random"] == pytest.approx(res.details["null_mean"], rel=0.02)
    assert abs(res.details["corrected"]) < 0.1
    assert any("Unités de petite taille" in w for w in res.warnings)
