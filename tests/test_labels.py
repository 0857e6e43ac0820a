"""The catalogue of French labels: every code known, none shown as is."""

from __future__ import annotations

import pytest

from allocation_analysis import labels
from allocation_analysis.io import schemas

# Codes a reader can meet in the report, the maps and the figures (issue 16).
READER_CODES = {
    "group": ["hors_ue", "francaise", "ue", "hors_qpv", "qpv"],
    "group_short": ["hors_ue", "francaise", "ue", "hors_qpv", "qpv"],
    "group_var": ["nationalite", "residence_qpv"],
    "indicator": [
        "q1_hors_qpv",
        "non_q1_en_qpv",
        "prioritaires_collectivite",
        "prioritaires_action_logement",
        "prioritaires_bailleur",
    ],
    "window": ["semester", "rolling_12m"],
    "scope": ["territory", "commune", "bailleur", "reservataire"],
    "reservataire": list(schemas.RESERVATAIRES),
    "status": [
        "atteint",
        "non_atteint_significatif",
        "non_atteint_non_significatif",
        "sans_objet",
        "non_diffuse",
    ],
    "outcome": ["access", "waiting_time", "placement"],
    "method": ["rates", "cmh", "logit", "logrank", "cox", "fairlie", "dissimilarity"],
    "table": ["demandes", "attributions", "logements", "seuils_q1"],
    "family": ["principal", "robustesse"],
}


@pytest.mark.parametrize("kind", sorted(READER_CODES))
def test_every_reader_code_has_a_french_label(kind):
    for code in READER_CODES[kind]:
        text = labels.label(code, kind)
        assert text and text != code, (kind, code)
        assert "_" not in text, (kind, code, text)


def test_nationality_groups_of_the_input_contract_are_all_labelled():
    for code in schemas.NATIONALITES:
        assert labels.label(code, "group") != code


def test_no_label_equals_its_code_and_all_codes_are_listed():
    for kind, table in labels.CATALOGUE.items():
        for code, text in table.items():
            assert text.strip(), (kind, code)
            assert text != code, (kind, code)
            assert code in labels.ALL_CODES
    assert set(labels.KINDS) == set(labels.CATALOGUE)


def test_unknown_codes_are_never_returned_silently():
    with pytest.raises(labels.UnknownCodeError, match="inconnu_xyz"):
        labels.label("inconnu_xyz", "group")
    with pytest.raises(labels.UnknownCodeError):
        labels.label("inconnu_xyz")
    with pytest.raises(ValueError, match="kind"):
        labels.label("hors_ue", "pas_un_type")


def test_contingents_have_a_sentence_form():
    assert set(labels.RESERVATAIRE_IN_FR) == set(labels.RESERVATAIRE_FR)
    assert labels.RESERVATAIRE_IN_FR["etat"] == "sur le contingent de l'État"


def test_label_without_kind_and_intersections():
    assert labels.label("rolling_12m") == "12 mois glissants"
    assert labels.label("q1_hors_qpv") == labels.INDICATOR_LABELS_FR["q1_hors_qpv"]
    assert labels.label("hors_ue|qpv", "group_short") == "hors UE × en QPV"
    assert labels.comparison_label("hors_ue", "francaise") == "hors UE / française"


def test_test_label_is_french():
    text = labels.test_label("waiting_time", "qpv", "hors_qpv", "cox")
    assert text == "Délai d'attente — en QPV / hors QPV (Cox ajusté)"
    assert not any(code in text for code in ("qpv", "hors_qpv", "cox"))


def test_wrap_label_breaks_on_spaces():
    text = labels.wrap_label("Attributions hors QPV aux ménages du 1er quartile", width=20)
    assert all(len(line) <= 20 for line in text.splitlines())
    assert text.replace("\n", " ") == "Attributions hors QPV aux ménages du 1er quartile"


def test_names_of_the_older_dictionaries_stay_importable():
    # analysis.INDICATOR_LABELS_FR, indicators.STATUS_LABELS_FR and narrative.GROUP_FR /
    # OUTCOME_FR / METHOD_FR can become ``from allocation_analysis.labels import …``.
    for name in (
        "INDICATOR_LABELS_FR",
        "STATUS_LABELS_FR",
        "GROUP_FR",
        "OUTCOME_FR",
        "METHOD_FR",
    ):
        assert isinstance(getattr(labels, name), dict)


def test_source_line_of_the_demo_says_the_data_are_fictional():
    from allocation_analysis import labels, maps

    demo = labels.source_line_fr("demo")
    assert "fictives" in demo and "SNE" not in demo
    assert labels.source_line_fr("mel") == maps.DEFAULT_SOURCE


def test_a_crossed_group_reads_as_one_household_description_in_sentences():
    assert labels.label("hors_ue|qpv", "group") == "ménages de nationalité hors UE résidant en QPV"
    assert (
        labels.label("francaise|hors_qpv", "group")
        == "ménages de nationalité française résidant hors QPV"
    )
    assert labels.label("hors_ue|qpv") == labels.label("hors_ue|qpv", "group")
