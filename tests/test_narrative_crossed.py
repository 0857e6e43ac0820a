"""Sentences of the report on crossed groups (origin × residence) name the households in
words: no internal code such as ``hors_ue|qpv`` reaches a reader."""

from __future__ import annotations

from allocation_analysis import narrative


def test_sentence_on_crossed_groups_names_the_households_in_words():
    rec = {
        "id": "access_origin_residence_logit",
        "outcome": "access",
        "group": "hors_ue|qpv",
        "reference": "francaise|hors_qpv",
        "estimate_name": "odds_ratio",
        "estimate": 0.67,
        "ci_low": 0.54,
        "ci_high": 0.84,
        "p_adjusted": 0.001,
        "suppressed": False,
        "warnings": [],
        "statistic": 12.0,
    }
    text = narrative.test_sentence_fr(rec)
    assert "|" not in text and "hors_ue" not in text and "francaise" not in text
    assert (
        "ménages de nationalité hors UE résidant en QPV comparés aux ménages de "
        "nationalité française résidant hors QPV"
    ) in text


def test_tests_table_names_crossed_groups_in_words():
    import pandas as pd

    rows = pd.DataFrame(
        [
            {
                "id": "access_origin_residence_logit",
                "family": "robustesse",
                "outcome": "access",
                "group": "hors_ue|qpv",
                "reference": "francaise|hors_qpv",
                "method": "logit",
                "estimate_name": "odds_ratio",
                "estimate": 0.67,
                "ci_low": 0.54,
                "ci_high": 0.84,
                "p_value": 0.001,
                "p_adjusted": 0.001,
                "sided": "two-sided",
                "n": 1200,
                "suppressed": False,
                "warnings": [],
            }
        ]
    )
    table = narrative.tests_table_fr(rows)
    assert table["Groupe comparé"].tolist() == ["ménages de nationalité hors UE résidant en QPV"]
    assert table["Référence"].tolist() == ["ménages de nationalité française résidant hors QPV"]
