"""One catalogue of the French labels of every code a reader can meet.

The analysis works with short codes (``hors_ue``, ``q1_hors_qpv``,
``rolling_12m``, ``non_atteint_significatif``…); the report, the maps, the
figures, the workbook and the messages show French labels instead. All the
labels are defined here, next to each other, and read through :func:`label`,
so that a wording is changed in one place and no code reaches a reader.

Each family of codes is a *kind*:

- ``group`` / ``group_short``: groups of ``nationalite`` and ``residence_qpv``,
  long form for sentences (« ménages de nationalité hors UE ») and short form
  for legends, axes and layer names (« hors UE »);
- ``group_var``: grouping variables (``nationalite``, ``residence_qpv``…);
- ``indicator`` / ``indicator_short``: legal indicators of the CIA
  (``q1_hors_qpv``…), title and short form;
- ``window``: time windows (``semester``, ``rolling_12m``);
- ``scope``: scopes of an indicator (``territory``, ``commune``…);
- ``reservataire``: reservation contingents (``etat``, ``action_logement``…);
- ``status``: status of an indicator against its target (``atteint``…);
- ``outcome``, ``method``, ``estimate``, ``family``: outcomes, methods,
  estimate names and multiple-testing families of the disparity tests;
- ``stage``: stages of the allocation process (``designated``…);
- ``table``: input tables (``demandes``, ``seuils_q1``…).

Examples
--------
>>> label("hors_ue", "group_short")
'hors UE'
>>> label("rolling_12m")
'12 mois glissants'
>>> label("francaise|qpv", "group_short")
'française × en QPV'
"""

from __future__ import annotations

import logging
import textwrap
from collections.abc import Mapping
from types import MappingProxyType

from allocation_analysis.text import SECRET_FR

__all__ = [
    "ALL_CODES",
    "CATALOGUE",
    "FUNNEL_ROW_FR",
    "STAGE_WHERE_FR",
    "COLUMN_FR",
    "ESTIMATE_LABELS_FR",
    "FAMILY_FR",
    "GLOSSARY_FR",
    "GROUP_FR",
    "GROUP_SHORT_FR",
    "GROUP_VAR_FR",
    "INDICATOR_COUNTS_FR",
    "INDICATOR_LABELS_FR",
    "INDICATOR_SHORT_FR",
    "KINDS",
    "METHOD_FR",
    "OUTCOME_FR",
    "RESERVATAIRE_FR",
    "RESERVATAIRE_IN_FR",
    "SCOPE_FR",
    "SHEET_FR",
    "STAGE_FR",
    "STATUS_LABELS_FR",
    "TABLE_DESCRIPTION_FR",
    "TABLE_FR",
    "TERRITORY_FR",
    "UnknownCodeError",
    "VARIABLE_FR",
    "WINDOW_FR",
    "comparison_label",
    "group_label",
    "label",
    "territory_label",
    "test_label",
    "wrap_label",
]

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- groups
GROUP_FR: dict[str, str] = {
    "francaise": "ménages de nationalité française",
    "ue": "ménages ressortissants de l'UE",
    "hors_ue": "ménages de nationalité hors UE",
    "qpv": "ménages résidant en QPV",
    "hors_qpv": "ménages résidant hors QPV",
}
"""Groups of the comparisons, long form (sentences, tooltips)."""

_HOUSEHOLDS = "ménages "
"""Common start of the long group labels, said once in a crossed group."""

GROUP_SHORT_FR: dict[str, str] = {
    "francaise": "française",
    "ue": "UE",
    "hors_ue": "hors UE",
    "qpv": "en QPV",
    "hors_qpv": "hors QPV",
}
"""Groups of the comparisons, short form (legends, axes, layer names)."""

GROUP_VAR_FR: dict[str, str] = {
    "nationalite": "nationalité",
    "residence_qpv": "résidence en QPV",
    "nationalite_x_residence": "nationalité et résidence en QPV",
}
"""Grouping variables of the comparisons."""

# --------------------------------------------------------------------------- indicators
INDICATOR_LABELS_FR: dict[str, str] = {
    "q1_hors_qpv": "Attributions hors QPV aux ménages du 1er quartile ou relogés (ANRU)",
    "non_q1_en_qpv": "Attributions en QPV aux ménages des autres quartiles",
    "prioritaires_action_logement": "Attributions Action Logement aux ménages prioritaires ou DALO",
    "prioritaires_collectivite": "Attributions des collectivités aux ménages prioritaires ou DALO",
    "prioritaires_bailleur": "Attributions des bailleurs aux ménages prioritaires ou DALO",
}
"""French titles of the legal indicators (maps, figures, tables)."""

INDICATOR_SHORT_FR: dict[str, str] = {
    "q1_hors_qpv": "1er quartile hors QPV",
    "non_q1_en_qpv": "autres quartiles en QPV",
    "prioritaires_action_logement": "prioritaires, contingent Action Logement",
    "prioritaires_collectivite": "prioritaires, contingent des collectivités",
    "prioritaires_bailleur": "prioritaires, contingent des bailleurs",
}
"""Short names of the legal indicators (legends)."""

_PRIORITY = "dont ménages prioritaires ou reconnus DALO"
INDICATOR_COUNTS_FR: dict[str, tuple[str, str]] = {
    "q1_hors_qpv": (
        "Attributions hors QPV",
        "dont ménages du 1er quartile ou relogés (ANRU)",
    ),
    "non_q1_en_qpv": ("Attributions en QPV", "dont ménages des autres quartiles"),
    "prioritaires_action_logement": (
        "Attributions sur le contingent d'Action Logement",
        _PRIORITY,
    ),
    "prioritaires_collectivite": (
        "Attributions sur le contingent des collectivités",
        _PRIORITY,
    ),
    "prioritaires_bailleur": (
        "Attributions sur le contingent propre des bailleurs",
        _PRIORITY,
    ),
}
"""What the denominator and the numerator of each indicator count (tooltips, tables)."""

WINDOW_FR: dict[str, str] = {
    "semester": "semestre",
    "rolling_12m": "12 mois glissants",
}
"""Time windows of the indicators."""

SCOPE_FR: dict[str, str] = {
    "territory": "ensemble du territoire",
    "commune": "par commune",
    "bailleur": "par bailleur",
    "reservataire": "par contingent de réservation",
    "mutation": "mutations et premières attributions",
}
"""Scopes of the indicators."""

RESERVATAIRE_FR: dict[str, str] = {
    "etat": "contingent de l'État",
    "action_logement": "contingent d'Action Logement",
    "collectivite": "contingent des collectivités",
    "bailleur": "contingent propre des bailleurs",
    "autre": "autres contingents",
}
"""Reservation contingents (``reservataire`` column)."""

RESERVATAIRE_IN_FR: dict[str, str] = {
    "etat": "sur le contingent de l'État",
    "action_logement": "sur le contingent d'Action Logement",
    "collectivite": "sur le contingent des collectivités",
    "bailleur": "sur le contingent propre des bailleurs",
    "autre": "sur les autres contingents",
}
"""The same contingents as sentence complements (« …, sur le contingent de l'État »)."""

STATUS_LABELS_FR: dict[str, str] = {
    "atteint": "objectif atteint",
    "non_atteint_significatif": "objectif non atteint, écart significatif",
    "non_atteint_non_significatif": "objectif non atteint, écart non significatif",
    "non_atteint": "objectif non atteint",
    "non_atteint_nettement": "objectif non atteint (nettement en dessous)",
    "non_atteint_en_dessous": "objectif non atteint (en dessous)",
    "non_atteint_legerement": "objectif non atteint (légèrement en dessous)",
    "sans_objet": "sans objet (aucune attribution)",
    "non_diffuse": SECRET_FR,
}
"""Status of an indicator against its target."""

# --------------------------------------------------------------------------- tests
OUTCOME_FR: dict[str, str] = {
    "access": "Accès (attribution dans le semestre)",
    "waiting_time": "Délai d'attente",
    "placement": "Attribution d'un logement en QPV",
    "designation": "Désignation des candidats par le réservataire",
    "cal_favourable": "Avis favorable de la CAL",
    "offered": "Proposition d'un logement",
    "refusal": "Refus de la proposition",
    "lease_after_acceptance": "Bail signé après acceptation",
    "access_equal_score": "Accès à cotation égale",
    "designation_equal_score": "Désignation à cotation égale",
    "cal_first_equal_score": "Rang 1 en CAL à cotation égale",
    "score": "Cotation de la demande",
    "delai_anormal": "Délai anormalement long",
    "access_intersection": "Accès (nationalité et résidence croisées)",
    "waiting_time_intersection": "Délai d'attente (nationalité et résidence croisées)",
    "access_equal_pressure": "Accès à tension égale de la commune demandée",
}
"""Outcomes of the disparity tests (questions of the report)."""

_OUTCOME_SHORT_FR: dict[str, str] = {
    "access": "Accès",
    "waiting_time": "Délai d'attente",
    "placement": "Logement en QPV",
}

METHOD_FR: dict[str, str] = {
    "rates": "taux bruts",
    "cmh": "Mantel–Haenszel (stratifié)",
    "logit": "régression logistique ajustée",
    "clogit": "régression logistique conditionnelle",
    "fairlie": "décomposition de Fairlie",
    "logrank": "test du log-rank",
    "cox": "modèle de Cox ajusté",
    "dissimilarity": "indice de dissimilarité",
    "ipw": "pondération par score de propension",
    "profiles": "profils types (gradient boosting)",
    "mean_difference": "différence de moyennes",
}
"""Methods of the disparity tests."""

_METHOD_SHORT_FR: dict[str, str] = {
    "cmh": "Mantel–Haenszel",
    "logit": "logistique ajustée",
    "clogit": "logistique conditionnelle",
    "cox": "Cox ajusté",
    "ipw": "score de propension",
    "profiles": "profils types",
}

ESTIMATE_LABELS_FR: dict[str, str] = {
    "odds_ratio": "rapport de cotes",
    "hazard_ratio": "rapport de risques instantanés",
    "rate_difference": "écart de taux",
    "unexplained_gap": "part inexpliquée de l'écart de taux",
    "mean_profile_probability_difference": "écart moyen de probabilité (profils types)",
    "dissimilarity": "indice de dissimilarité",
    "isolation": "indice d'isolement",
    "theil_h": "indice H de Theil",
    "odds_ratio_per_period": "rapport de cotes par semestre",
    "minimum_detectable_effect": "effet minimal détectable",
    "mean_difference": "écart de cotation moyenne (points)",
}
"""Names of the estimates (``estimate_name``)."""

FAMILY_FR: dict[str, str] = {
    "principal": "test principal",
    "robustesse": "vérification de robustesse",
}
"""Multiple-testing families of the disparity tests."""

STAGE_FR: dict[str, str] = {
    "designated": "désignation par le réservataire",
    "favourable": "avis favorable de la CAL",
    "offered": "proposition d'un logement",
    "accepted": "proposition acceptée",
    "lease": "bail signé",
}
"""Stages of the allocation process (``stage`` of ``results.json`` → ``process``)."""

FUNNEL_ROW_FR: dict[str, str] = {
    "active": "demandes actives du semestre",
    **STAGE_FR,
    "lease_outside_process": "bail du semestre sans proposition enregistrée",
}
"""Rows of the published funnel table (the stages, their base and the leases apart)."""

STAGE_WHERE_FR: dict[str, str] = {
    "designated": "à la désignation des candidats",
    "favourable": "à la décision de la commission d'attribution",
    "offered": "à la proposition du logement",
    "accepted": "à la réponse du demandeur",
    "lease": "à la signature du bail",
}
"""Where a gap arises, for the sentence « l'écart se forme surtout … »."""

TABLE_FR: dict[str, str] = {
    "demandes": "table des demandes",
    "attributions": "table des attributions",
    "logements": "table des logements",
    "seuils": "seuils du 1er quartile",
    "seuils_q1": "seuils du 1er quartile",
    "propositions": "propositions de logement",
    "bailleurs": "noms des bailleurs",
    "communes": "contours des communes",
    "qpv": "périmètres des QPV",
}
"""Input tables (validation messages, data notebook)."""

# --------------------------------------------------------------------------- catalogue
CATALOGUE: Mapping[str, Mapping[str, str]] = MappingProxyType(
    {
        "group": GROUP_FR,
        "group_short": GROUP_SHORT_FR,
        "group_var": GROUP_VAR_FR,
        "indicator": INDICATOR_LABELS_FR,
        "indicator_short": INDICATOR_SHORT_FR,
        "window": WINDOW_FR,
        "scope": SCOPE_FR,
        "reservataire": RESERVATAIRE_FR,
        "status": STATUS_LABELS_FR,
        "outcome": OUTCOME_FR,
        "method": METHOD_FR,
        "estimate": ESTIMATE_LABELS_FR,
        "family": FAMILY_FR,
        "stage": STAGE_FR,
        "table": TABLE_FR,
    }
)
"""Every kind of code and its French labels."""

KINDS: tuple[str, ...] = tuple(CATALOGUE)
"""Names of the kinds accepted by :func:`label`."""

ALL_CODES: frozenset[str] = frozenset(code for table in CATALOGUE.values() for code in table)
"""Every code that has a label: none of them should be shown to a reader as is."""

#: Kind searched first when :func:`label` is called without one (a code such as
#: ``bailleur`` is both a scope and a reservation contingent).
_DEFAULT_ORDER: tuple[str, ...] = (
    "indicator",
    "group",
    "group_var",
    "window",
    "status",
    "reservataire",
    "scope",
    "outcome",
    "method",
    "estimate",
    "family",
    "stage",
    "table",
)


class UnknownCodeError(KeyError):
    """A code has no label in the catalogue (for the kind asked)."""

    def __str__(self) -> str:  # KeyError quotes its argument; keep the French message
        return str(self.args[0]) if self.args else ""


def label(code: object, kind: str | None = None) -> str:
    """French label of ``code``.

    Parameters
    ----------
    code : str
        The code (``"hors_ue"``, ``"q1_hors_qpv"``, ``"rolling_12m"``…). An
        intersection of groups written ``"hors_ue|qpv"`` is labelled part by part
        and joined with « × ».
    kind : str, optional
        One of :data:`KINDS`. Without it, the kinds are searched in a fixed
        order (indicators, groups, grouping variables, windows, statuses,
        contingents, scopes, outcomes, methods, estimates, stages).

    Returns
    -------
    str
        The label; never the code itself.

    Raises
    ------
    UnknownCodeError
        When ``code`` has no label for ``kind`` (or in any kind when ``kind`` is
        not given): a raw code is never returned silently.
    ValueError
        When ``kind`` is not one of :data:`KINDS`.
    """
    if kind is not None and kind not in CATALOGUE:
        raise ValueError(f"« kind » inconnu : « {kind} » (valeurs permises : {', '.join(KINDS)}).")
    text = str(code)
    if "|" in text and kind == "group_short":
        return " × ".join(label(part, kind) for part in text.split("|"))
    if "|" in text and kind in (None, "group"):
        # one household description: « ménages de nationalité hors UE résidant en QPV »
        first, *others = (label(part, "group") for part in text.split("|"))
        return " ".join([first, *(o.removeprefix(_HOUSEHOLDS) for o in others)])
    kinds = (kind,) if kind is not None else _DEFAULT_ORDER
    for k in kinds:
        table = CATALOGUE[k]
        if text in table:
            return table[text]
    where = f"de type « {kind} »" if kind else "dans le catalogue"
    raise UnknownCodeError(f"Code sans libellé {where} : « {text} ».")


VARIABLE_FR: dict[str, str] = {
    "typologie_demandee": "typologie demandée",
    "prioritaire": "statut prioritaire",
    "dalo": "reconnaissance DALO",
    "log_revenu_uc": "ressources par unité de consommation (logarithme)",
    "anciennete_annees": "ancienneté de la demande",
    "nb_personnes": "taille du ménage",
    "situation_logement": "situation de logement actuelle",
    "commune_choix1": "commune demandée en premier choix",
    "commune_logement": "commune du logement",
    "typologie": "typologie du logement",
    "q1": "appartenance au premier quartile de ressources",
    "prioritaire_ou_dalo": "statut prioritaire ou DALO",
    "reservataire": "réservataire",
    "strate": "typologie demandée × statut prioritaire",
    "entree_risque_jours": "entrée en observation au début du semestre",
}
"""Names of the model variables, for the methods annex (kept out of :data:`ALL_CODES`:
several are ordinary French words, e.g. « typologie »)."""

GLOSSARY_FR: tuple[tuple[str, str], ...] = (
    (
        "ANRU",
        "Agence nationale pour la rénovation urbaine ; un ménage « relogé ANRU » a dû "
        "quitter un logement démoli ou réhabilité dans un projet de renouvellement urbain.",
    ),
    (
        "CIA",
        "Convention intercommunale d'attribution : les engagements des partenaires "
        "(communes, bailleurs, réservataires) sur les attributions de logements sociaux.",
    ),
    (
        "DALO",
        "droit au logement opposable : ménage reconnu prioritaire et urgent par la "
        "commission de médiation.",
    ),
    (
        "Écart au-delà du hasard",
        "écart trop grand pour s'expliquer par les seules "
        "fluctuations d'un semestre ; il reste à en comprendre la cause.",
    ),
    (
        "Fourchette (intervalle de confiance, IC)",
        "valeurs compatibles avec les données ; "
        "un IC à 95 % contient la vraie valeur dans 95 % des cas.",
    ),
    (
        "p ajustée",
        "probabilité d'observer un tel écart par le seul hasard, corrigée parce que "
        "plusieurs tests sont faits en même temps (Benjamini–Hochberg) ; en dessous de 0,05, "
        "l'écart est dit significatif.",
    ),
    (
        "Premier quartile (Q1)",
        "le quart des demandeurs aux ressources par unité de "
        "consommation les plus faibles, selon le seuil publié chaque année.",
    ),
    (
        "QPV",
        "quartier prioritaire de la politique de la ville (liste en vigueur à la date du bail).",
    ),
    (
        "Rapport de cotes",
        "compare les chances d'un groupe à celles du groupe de référence : "
        "1 = pas d'écart, 0,70 = environ 30 % de chances en moins.",
    ),
    (
        "Rapport de risques",
        "compare le rythme auquel les demandes aboutissent : 1 = même "
        "rythme, 0,80 = environ 20 % plus lent.",
    ),
    (
        "Réservataire",
        "organisme qui dispose d'un contingent de logements (État, Action "
        "Logement, collectivités, bailleurs).",
    ),
    (
        "Secret statistique",
        "aucun effectif de 1 à 10 n'est publié, ni aucun chiffre qui permettrait de le retrouver.",
    ),
    (
        "UC",
        "unité de consommation : 1 pour le premier adulte, 0,5 par autre personne de 14 "
        "ans ou plus, 0,3 par enfant de moins de 14 ans.",
    ),
)
"""Terms of the report explained in plain words (the report's glossary)."""

COLUMN_FR: dict[str, str] = {
    "id": "Indicateur ou test",
    "scope": "Périmètre",
    "scope_value": "Valeur du périmètre",
    "window": "Fenêtre",
    "period": "Semestre",
    "window_start": "Début",
    "window_end": "Fin",
    "numerator": "Numérateur",
    "denominator": "Dénominateur",
    "share": "Part",
    "ci_low": "IC bas",
    "ci_high": "IC haut",
    "target": "Objectif",
    "p_value_vs_target": "p (écart à l'objectif)",
    "status": "Statut",
    "suppressed": "Masqué (secret)",
    "outcome": "Question",
    "group_var": "Axe",
    "group": "Groupe",
    "reference": "Référence",
    "family": "Famille",
    "method": "Méthode",
    "estimate_name": "Type d'estimation",
    "estimate": "Estimation",
    "alpha": "Seuil alpha",
    "statistic": "Statistique",
    "df": "Degrés de liberté",
    "df_reference": "Degrés de liberté (loi de Student)",
    "p_value": "p",
    "p_adjusted": "p ajustée",
    "sided": "Test",
    "n": "Effectif",
    "ci_low_adjusted": "IC ajusté bas",
    "ci_high_adjusted": "IC ajusté haut",
    "ci_level_adjusted": "Niveau de l'IC ajusté",
    "warnings": "Avertissements",
    "insee_com": "Code commune",
    "share_qpv": "Part en QPV",
    "axe": "Axe",
    "groupe": "Groupe",
    "demandes_actives": "Demandes actives",
    "demandes_satisfaites": "Demandes satisfaites",
    "attributions_semestre": "Baux signés",
    "taux_acces": "Taux d'accès",
    "table": "Fichier",
    "regle": "Règle",
    "lignes": "Lignes",
    "premier_semestre": "Premier semestre",
    "dernier_semestre": "Dernier semestre",
    "n_semestres": "Semestres",
    "rapport_cotes_par_semestre": "Rapport de cotes par semestre",
    "p_value_cochran_armitage": "p (Cochran–Armitage)",
    "conclusion": "Conclusion",
    "lues": "Lues",
    "acceptees": "Acceptées",
    "rejetees": "Rejetées",
    "en_attente": "Demandes en attente",
    "delai_depasse": "Dont délai anormalement long",
    "part": "Part",
    "commune": "Commune",
    "nom": "Nom de la commune",
    "typologie": "Typologie",
    "demandes": "Demandes en attente (1er choix)",
    "attributions_12m": "Attributions sur 12 mois",
    "ratio": "Demandes par attribution",
    "ame": "Écart ajusté (effet marginal moyen)",
    "ame_ci_low": "Écart ajusté, IC bas",
    "ame_ci_high": "Écart ajusté, IC haut",
    "note": "Note",
    "bailleur_siren": "SIREN du bailleur",
    "nom_bailleur": "Nom du bailleur",
    # change and trend over the semesters (allocation_analysis.change)
    "axis": "Axe",
    "share_previous": "Part, semestre précédent",
    "change_vs_previous": "Évolution sur un semestre",
    "note_previous": "Évolution sur un semestre, note",
    "share_year_before": "Part, un an plus tôt",
    "change_vs_year_before": "Évolution sur un an",
    "ci_low_year": "Évolution sur un an, IC bas",
    "ci_high_year": "Évolution sur un an, IC haut",
    "p_value_year": "p, évolution sur un an",
    "note_year": "Évolution sur un an, note",
    "trend_slope": "Pente de la tendance (log du rapport de cotes)",
    "trend_odds_ratio": "Tendance : rapport de cotes par semestre",
    "trend_ci_low": "Tendance, IC bas",
    "trend_ci_high": "Tendance, IC haut",
    "trend_p_value": "p, tendance",
    "trend_p_value_adjusted": "p ajustée, tendance",
    "trend_conclusion": "Tendance : conclusion",
    "p_value_adjusted": "p ajustée",
}
"""French headers of the published tables' columns (workbook, CSV for French office
software)."""

SHEET_FR: dict[str, str] = {
    "controle_lignes": "Contrôle des fichiers",
    "motifs_rejet": "Motifs de rejet",
    "population_semestre": "Population du semestre",
    "indicateurs": "Indicateurs légaux",
    "tendance": "Évolution par semestre",
    "tendance_tests": "Tendance des obligations",
    "tests": "Tests d'écart",
    "ecarts_communes_nationalite_hors_ue": "Écarts communes hors UE",
    "ecarts_communes_nationalite_ue": "Écarts communes UE",
    "ecarts_communes_residence_qpv_qpv": "Écarts communes QPV",
    "placement_qpv_communes": "Placement en QPV communes",
    "processus_etapes": "Processus : étapes",
    "processus_ecart": "Processus : part de l'écart",
    "processus_tests": "Processus : tests par étape",
    "processus_refus_qpv": "Processus : refus en QPV",
    "cotation_contributions": "Cotation : écarts par critère",
    "delai_anormal": "Délai anormalement long",
    "delai_anormal_tests": "Délai anormal, tests",
    "tension": "Tension par commune",
    "acces_tension_egale": "Accès à tension égale",
    "evolution_indicateurs": "Évolution des obligations",
    "evolution_acces": "Évolution des taux d'accès",
    "taux_acces_semestres": "Taux d'accès par semestre",
}
"""Workbook sheet names (at most 31 characters) of the published tables."""

TABLE_DESCRIPTION_FR: dict[str, str] = {
    "controle_lignes": "Lignes lues, acceptées et rejetées dans chaque fichier d'entrée.",
    "motifs_rejet": "Nombre de lignes rejetées par fichier et par règle de contrôle.",
    "population_semestre": "Demandes actives, demandes satisfaites et baux signés du semestre "
    "par origine et par lieu de résidence.",
    "indicateurs": "Indicateurs légaux de la CIA (article L441-1 du CCH) : territoire, communes, "
    "bailleurs, réservataires, mutations ; semestre et 12 mois glissants.",
    "tendance": "Indicateurs légaux du territoire, semestre par semestre.",
    "tendance_tests": "Tendance de chaque obligation légale sur les semestres des données "
    "(régression logistique sur le rang du semestre : rapport de cotes par semestre, test de "
    "Cochran–Armitage).",
    "tests": "Tests d'écart d'accès, de délai et de lieu d'attribution selon l'origine et la "
    "résidence en QPV (tests principaux puis vérifications de robustesse).",
    "processus_etapes": "Demandes du semestre à chaque étape du processus d'attribution "
    "(désignation, avis de la CAL, proposition, acceptation, bail) et taux de passage, par groupe.",
    "processus_ecart": "Part de chaque étape dans l'écart de taux d'accès entre groupes "
    "(logarithme du rapport des taux).",
    "processus_tests": "Comparaison de chaque étape à situation comparable et audit de la "
    "grille de cotation (vérifications, corrigées pour tests multiples entre elles).",
    "processus_refus_qpv": "Refus des logements proposés en QPV : interaction du groupe et de la "
    "localisation du logement (rapport de cotes).",
    "cotation_contributions": "Écart de cotation moyenne entre groupes et part de chaque critère.",
    "ecarts_communes_nationalite_hors_ue": "Écart de taux d'accès entre ménages de nationalité "
    "hors UE et ménages de nationalité française, par commune demandée.",
    "ecarts_communes_nationalite_ue": "Écart de taux d'accès entre ménages ressortissants de l'UE "
    "et ménages de nationalité française, par commune demandée.",
    "ecarts_communes_residence_qpv_qpv": "Écart de taux d'accès entre ménages résidant en QPV et "
    "hors QPV, par commune demandée.",
    "placement_qpv_communes": "Part des attributions situées en QPV, par commune et par "
    "nationalité.",
    "delai_anormal": "Demandes en attente le dernier jour du semestre et, parmi elles, celles "
    "dont l'ancienneté dépasse le délai anormalement long, par origine et par résidence.",
    "delai_anormal_tests": "Écart de la part des demandes en délai anormalement long selon "
    "l'origine et la résidence en QPV : brut (écart de parts) et ajusté (typologie demandée, "
    "taille du ménage).",
    "tension": "Demandes en attente le dernier jour du semestre (commune demandée en premier "
    "choix, typologie demandée) et attributions des 12 derniers mois (commune et typologie du "
    "logement), avec leur rapport, par commune et typologie.",
    "acces_tension_egale": "Écarts d'accès selon l'origine et la résidence en QPV à tension "
    "égale de la commune demandée en premier choix (régression logistique).",
    "evolution_indicateurs": "Évolution de chaque obligation légale depuis le semestre précédent "
    "et depuis le même semestre un an plus tôt (différence, IC de Newcombe, test du khi-deux) et "
    "tendance sur les semestres des données, pour le territoire et par commune, bailleur et "
    "réservataire.",
    "evolution_acces": "Évolution du taux d'accès de chaque groupe (origine, résidence en QPV) "
    "depuis le semestre précédent et un an plus tôt, et tendance sur les semestres des données.",
    "taux_acces_semestres": "Demandes actives et demandes satisfaites de chaque groupe, semestre "
    "par semestre (secret statistique appliqué).",
}
"""What each published table holds (the workbook's « Lisez-moi » sheet)."""

TERRITORY_FR: dict[str, str] = {
    "demo": "Métropole de démonstration (territoire fictif)",
    "mel": "Métropole Européenne de Lille",
}
"""Display names of the territories the toolkit knows; any other name is shown as given."""


def territory_label(name: str) -> str:
    """Display name of a territory (its run name when the catalogue does not know it)."""
    return TERRITORY_FR.get(str(name), str(name))


def group_label(code: object, *, short: bool = False) -> str:
    """French label of a group code, crossed groups (``hors_ue|qpv``) included.

    Groups of the report are in the catalogue; a group the catalogue does not
    know (the levels of a researcher's own DataFrame passed to a test) is
    shown as given.

    Parameters
    ----------
    code : str
        Group code.
    short : bool
        Short form (legends, axes) or long form (sentences).
    """
    try:
        return label(code, "group_short" if short else "group")
    except UnknownCodeError:
        return str(code)


def comparison_label(group: str, reference: str, *, short: bool = True) -> str:
    """« hors UE / française »: a compared group against its reference.

    Parameters
    ----------
    group, reference : str
        Group codes.
    short : bool
        Short forms (legends, axes) or long forms (sentences).
    """
    kind = "group_short" if short else "group"
    return f"{label(group, kind)} / {label(reference, kind)}"


def test_label(outcome: str, group: str, reference: str, method: str | None = None) -> str:
    """Label of one disparity test, for a forest plot or a table row.

    Parameters
    ----------
    outcome : str
        Outcome code (``access``, ``waiting_time``, ``placement``…).
    group, reference : str
        Compared and reference group codes.
    method : str, optional
        Method code, added in parentheses.

    Returns
    -------
    str
        E.g. « Accès — hors UE / française (Mantel–Haenszel) ».

    Examples
    --------
    >>> test_label("access", "hors_ue", "francaise", "logit")
    'Accès — hors UE / française (logistique ajustée)'
    """
    what = _OUTCOME_SHORT_FR.get(str(outcome)) or label(outcome, "outcome")
    text = f"{what} — {comparison_label(group, reference)}"
    if method:
        text += f" ({_METHOD_SHORT_FR.get(str(method)) or label(method, 'method')})"
    return text


# The pytest collector would take ``test_label`` for a test when imported in a test module.
test_label.__test__ = False  # type: ignore[attr-defined]


def wrap_label(text: str, width: int = 38) -> str:
    """Break a long label on spaces into lines of at most ``width`` characters.

    Parameters
    ----------
    text : str
        The label.
    width : int
        Maximum line length (a single longer word is kept whole).
    """
    return "\n".join(textwrap.wrap(str(text), width=width, break_long_words=False)) or str(text)


FICTIONAL_TERRITORIES = frozenset({"demo"})
"""Run names of the built-in synthetic territory: their outputs say the data are fictional."""

REAL_SOURCE_FR = "Source : SNE, RPLS — traitement allocation_analysis"
"""Source line of the maps and figures of a real territory."""


def source_line_fr(territory: str | None) -> str:
    """The source line of the maps and figures of a territory (fictional for the demo)."""
    if territory in FICTIONAL_TERRITORIES:
        return (
            "Source : données fictives (territoire de démonstration) — traitement "
            "allocation_analysis"
        )
    return REAL_SOURCE_FR
