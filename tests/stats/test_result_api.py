"""The uniform interface of the statistical tests: return types, exceptions, displays.

Expected numbers are computed by hand from the literal data of each test.
"""

from __future__ import annotations

import re

import matplotlib
import pandas as pd
import pytest

matplotlib.use("Agg")

from allocation_analysis import figures, narrative, stats  # noqa: E402
from allocation_analysis.errors import ArgumentError, UsageError  # noqa: E402
from allocation_analysis.stats import ResultSet, TestResult  # noqa: E402

MINUS = "\u2212"


@pytest.fixture
def two_groups() -> pd.DataFrame:
    """French households: 6 of 10 housed; non-EU households: 3 of 10 housed."""
    return pd.DataFrame(
        {
            "nationalite": ["francaise"] * 10 + ["hors_ue"] * 10,
            "access": [1] * 6 + [0] * 4 + [1] * 3 + [0] * 7,
            "strate": ["T2", "T3"] * 10,
            "commune": ["A", "B", "C", "D"] * 5,
        }
    )


@pytest.fixture
def km_data() -> pd.DataFrame:
    # group a: events at 1, 2, 3 -> S = 2/3, 1/3, 0: median 2 (first time S <= 0.5).
    # group b: events at 2, 4, 7, 8 -> S = 0.75, 0.5 on [4, 7), 0.25, 0:
    # the curve is exactly 0.5 on an interval, median = (4 + 7) / 2 = 5.5.
    return pd.DataFrame(
        {
            "t": [1, 2, 3, 2, 4, 7, 8],
            "e": [1] * 7,
            "g": ["a"] * 3 + ["b"] * 4,
        }
    )


# ----------------------------------------------------------------- return types
def test_cmh_returns_a_result_set_for_every_other_level_even_with_a_single_one(two_groups):
    res = stats.cmh(
        two_groups, outcome="access", group="nationalite", strata="strate", reference="francaise"
    )
    assert isinstance(res, ResultSet)
    assert [r.compared for r in res] == ["hors_ue"]


def test_cmh_returns_one_result_when_one_comparison_is_asked(two_groups):
    res = stats.cmh(
        two_groups,
        outcome="access",
        group="nationalite",
        strata="strate",
        reference="francaise",
        compared="hors_ue",
    )
    assert isinstance(res, TestResult)


@pytest.mark.parametrize(
    "call",
    [
        lambda d: stats.compare_rates(
            d, outcome="access", group="nationalite", reference="francaise"
        ),
        lambda d: stats.dissimilarity(
            d, group="nationalite", unit="commune", reference="francaise", n_permutations=0
        ),
        lambda d: stats.logit_disparity(
            d, outcome="access", group="nationalite", reference="francaise"
        ),
    ],
    ids=["compare_rates", "dissimilarity", "logit_disparity"],
)
def test_every_test_returns_a_result_set_when_compared_is_not_given(two_groups, call):
    assert isinstance(call(two_groups), ResultSet)


# ----------------------------------------------------------------- exceptions
@pytest.mark.parametrize(
    "call",
    [
        lambda d: stats.compare_rates(d, outcome="absente", group="nationalite", reference="x"),
        lambda d: stats.cmh(
            d, outcome="absente", group="nationalite", strata="strate", reference="x"
        ),
        lambda d: stats.profile_probabilities(
            d,
            outcome="absente",
            group="nationalite",
            features=["strate"],
            profiles=[{"nom": "p"}],
            n_boot=0,
        ),
        lambda d: stats.ipw_disparity(
            d,
            outcome="absente",
            group="nationalite",
            reference="francaise",
            compared="hors_ue",
            controls=["strate"],
        ),
    ],
    ids=["compare_rates", "cmh", "profile_probabilities", "ipw_disparity"],
)
def test_a_missing_column_raises_the_same_exception_type_in_every_test(two_groups, call):
    with pytest.raises(ArgumentError, match="absente") as info:
        call(two_groups)
    assert isinstance(info.value, ValueError) and isinstance(info.value, UsageError)


def test_profiles_reject_a_bad_alpha_with_the_same_type_as_the_other_tests(two_groups):
    kw = dict(outcome="access", group="nationalite", reference="francaise")
    with pytest.raises(ArgumentError):
        stats.compare_rates(two_groups, alpha=1.5, **kw)
    with pytest.raises(ArgumentError):
        stats.ipw_disparity(two_groups, compared="hors_ue", controls=["strate"], alpha=1.5, **kw)


# ----------------------------------------------------------------- displays
def _rates(two_groups) -> TestResult:
    return stats.compare_rates(
        two_groups, outcome="access", group="nationalite", reference="francaise", compared="hors_ue"
    )


def test_repr_is_one_short_line_without_the_details_tables(km_data):
    res = stats.kaplan_meier(km_data, duration="t", event="e", group="g")
    text = repr(res)
    assert "\n" not in text and len(text) < 200
    assert "n_risk" not in text  # a column of the curves: no DataFrame is dumped
    assert text.startswith("<TestResult kaplan_meier")


def test_summary_is_french_with_decimal_commas(two_groups):
    # rate difference 3/10 - 6/10 = -0.3 -> "−30,0 points"
    text = _rates(two_groups).summary()
    assert "Écart de taux : " + MINUS + "30,0 points" in text
    assert "hors UE comparé à française" in text
    assert "Effectif : 20" in text
    assert re.search(r"^p-valeur : 0,\d{3}$", text, re.M), text
    assert not re.search(r"\d\.\d", text)


def test_html_display_uses_french_labels_and_numbers(two_groups):
    page = _rates(two_groups)._repr_html_()
    assert "rate_difference" not in page and "hors_ue" not in page and " vs " not in page
    assert "écart de taux" in page.lower() and "IC 95" in page
    assert MINUS + "30,0 points" in page
    assert not re.search(r"\d\.\d", re.sub(r"<[^>]+>", "", page))


def test_result_set_html_has_one_french_row_per_comparison(two_groups):
    three = pd.concat([two_groups, two_groups.head(10).assign(nationalite="ue")], ignore_index=True)
    res = stats.compare_rates(three, outcome="access", group="nationalite", reference="francaise")
    page = res._repr_html_()
    assert page.count("<tr>") == 1 + 2  # header + hors UE + UE
    assert "hors UE comparé à française" in page and "UE comparé à française" in page
    assert "ResultSet compare_rates: 2 comparison(s)" in repr(res)


def test_kaplan_meier_displays_its_medians(km_data):
    res = stats.kaplan_meier(km_data, duration="t", event="e", group="g")
    text = res.summary()
    assert "a : 2,0" in text and "b : 5,5" in text
    page = res._repr_html_()
    assert "Médiane" in page and "2,0" in page and "5,5" in page and "NaN" not in page
    assert "b 5,5" in res.sentence_fr()


# ----------------------------------------------------------------- sentences
def test_sentence_fr_of_a_result_reads_the_estimate_interval_and_conclusion():
    res = TestResult(
        name="cmh",
        method="Mantel–Haenszel",
        estimate=0.72,
        estimate_name="odds_ratio",
        ci_low=0.6,
        ci_high=0.86,
        p_value=0.2,
        n=1200,
        groups=("francaise", "hors_ue"),
    )
    assert res.sentence_fr() == (
        "hors UE comparé à française — rapport de cotes 0,72 (IC 95 % : 0,60 à 0,86) ; "
        "p = 0,200 ; l'écart n'est pas significatif au seuil de 5 % "
        "(test pris isolément, sans correction pour tests multiples)."
    )


def test_narrative_test_sentence_fr_accepts_a_test_result(two_groups):
    res = _rates(two_groups)
    assert narrative.test_sentence_fr(res) == res.sentence_fr()


def test_result_set_sentence_has_one_sentence_per_comparison(two_groups):
    res = stats.compare_rates(
        two_groups, outcome="access", group="nationalite", reference="francaise"
    )
    assert res.sentence_fr(outcome="access").count("Accès (attribution dans le semestre)") == 1


# ----------------------------------------------------------------- figures
def test_km_plot_draws_a_kaplan_meier_result_directly(km_data):
    res = stats.kaplan_meier(km_data, duration="t", event="e", group="g")
    fig = figures.km_plot(res)
    assert len(fig.axes[0].lines) == 2  # one step curve per group
    fig2 = figures.km_plot(res.details["curves"], title="Délais")
    assert len(fig2.axes[0].lines) == 2


def test_km_plot_refuses_another_result_with_a_french_message(two_groups):
    with pytest.raises(UsageError, match="kaplan_meier"):
        figures.km_plot(_rates(two_groups))


def test_forest_plot_draws_the_results_of_a_test_directly(two_groups):
    three = pd.concat([two_groups, two_groups.head(10).assign(nationalite="ue")], ignore_index=True)
    res = stats.logit_disparity(three, outcome="access", group="nationalite", reference="francaise")
    fig = figures.forest_plot(res, title="Accès")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Rapport de cotes (échelle logarithmique)"
    ticks = " ".join(t.get_text() for t in ax.get_yticklabels())
    assert "hors UE comparé" in ticks and "UE comparé" in ticks and "hors_ue" not in ticks


def test_forest_plot_names_the_hazard_ratio_of_cox_results(km_data):
    res = stats.cox(km_data, duration="t", event="e", group="g", reference="a", compared="b")
    fig = figures.forest_plot(res, title="Délai")
    assert fig.axes[0].get_xlabel() == "Rapport de risques instantanés (échelle logarithmique)"


def test_forest_plot_refuses_results_that_are_not_ratios(two_groups):
    with pytest.raises(UsageError, match="rapports"):
        figures.forest_plot(_rates(two_groups), title="Accès")
