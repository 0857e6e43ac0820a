"""The four input tables of the data contract, as column specifications and pandera schemas.

One :class:`ColumnSpec` per contract column says how the text is parsed
(``kind``), whether the column is required, and its allowed range or values.
:func:`pandera_schema` turns a table specification into a
:class:`pandera.pandas.DataFrameSchema` run on the *parsed* frame: it checks
presence of required values, ranges, enumerations and the row rules that
involve several columns. Every check has a name (the ``rule`` of the rejects
table) and a French message.

Rules specific to a table (``demandes``)
----------------------------------------
- ``motif_radiation`` is required when ``date_radiation`` is set, and a
  ``motif_radiation`` without ``date_radiation`` is rejected too (the closing
  is then half recorded).
- ``date_radiation >= date_depot``.
- When ``nb_adultes_sup`` and ``nb_enfants_moins_14`` are both given,
  ``1 + nb_adultes_sup + nb_enfants_moins_14`` must equal ``nb_personnes``
  (otherwise the consumption units are ill-defined).
- ``lon`` and ``lat`` are given together or not at all.
- Optional cotation columns (``score_cotation`` and any ``cotation_<critere>``,
  :func:`cotation_columns`): points ≥ 0; when criterion columns are present, a
  row either leaves every cotation cell empty (demand not scored) or fills all
  of them, and its criteria add up to ``score_cotation`` within
  :data:`COTATION_TOLERANCE` (rules ``cotation_incomplete`` and
  ``cotation_somme``, checked by the loader, with both values in the message).

Rules specific to a table (``propositions``)
--------------------------------------------
- ``rang`` only on a favourable decision (``attribution`` or
  ``attribution_sous_condition``): rule ``rang_sans_decision_favorable``.
- ``reponse_demandeur`` only after a favourable decision: rule
  ``reponse_sans_decision_favorable``.
- ``motif_refus`` only with ``reponse_demandeur == "refus"``: rule
  ``motif_sans_refus``.
- ``commune_logement`` is required when ``rpls_id`` is empty (as in
  ``attributions``).
- The key is ``num_unique`` + ``id_offre``: one candidate is examined once for
  one dwelling.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import pandera.pandas as pa

__all__ = [
    "IDENTIFIER_COLUMNS",
    "PERSONAL_COLUMNS",
    "ColumnSpec",
    "TableSpec",
    "COTATION_PREFIX",
    "COTATION_SCORE",
    "COTATION_TOLERANCE",
    "DECISIONS_CAL",
    "DECISIONS_FAVORABLES",
    "MOTIFS_REFUS",
    "REPONSES_DEMANDEUR",
    "TABLES",
    "cotation_columns",
    "is_personal",
    "pandera_schema",
]

# Columns whose values describe a person (or lead to one): identifiers, incomes,
# coordinates of an address, age or birth date, free text. Their values never
# appear in a rejects table or an error message: only the column, the rule and
# the row number do. This is the one list; :func:`is_personal` also covers the
# name patterns below (any ``…_id``/``id_…`` identifier, any ``revenu…``
# income, any comment column), so that a column added later is masked too.
PERSONAL_COLUMNS = frozenset(
    {
        "num_unique",
        "demande_id",
        "rpls_id",
        "lon",
        "lat",
        "x",
        "y",
        "age_demandeur",
        "date_naissance",
        "revenus_mensuels",
        "revenu_annuel_uc",
        "commentaire",
        "commentaires",
        "observations",
        "adresse",
        "prenom",
        "telephone",
        "courriel",
    }
)
_PERSONAL_PREFIXES = ("revenu", "id_", "num_", "commentaire", "observation", "remarque", "adresse")
_PERSONAL_SUFFIXES = ("_id", "_naissance")

IDENTIFIER_COLUMNS = ("num_unique", "rpls_id")
"""Key columns referenced across tables; a number typed into one is read back as digits."""


def is_personal(column: str) -> bool:
    """``column`` holds personal values (masked in rejects and messages).

    Examples
    --------
    >>> is_personal("revenus_mensuels"), is_personal("num_unique"), is_personal("nationalite")
    (True, True, False)
    """
    c = str(column).strip().lower()
    return (
        c in PERSONAL_COLUMNS or c.startswith(_PERSONAL_PREFIXES) or c.endswith(_PERSONAL_SUFFIXES)
    )


MOTIFS_RADIATION = (
    "attribution",
    "renonciation",
    "absence_reponse",
    "irrecevabilite",
    "non_renouvellement",
    "regroupement",
)
NATIONALITES = ("francaise", "ue", "hors_ue")
SITUATIONS_LOGEMENT = (
    "locataire_social",
    "locataire_prive",
    "heberge",
    "structure",
    "sans_logement",
    "proprietaire",
    "autre",
)
TYPOLOGIES = ("T1", "T2", "T3", "T4", "T5+")
SITUATIONS_PRO = (
    "cdi",
    "cdd_interim",
    "independant",
    "chomage",
    "retraite",
    "etudiant",
    "sans_activite",
    "autre",
)
RESERVATAIRES = ("etat", "action_logement", "collectivite", "bailleur", "autre")
FINANCEMENTS = ("PLAI", "PLUS", "PLS", "PLI", "autre")
DECISIONS_CAL = ("attribution", "attribution_sous_condition", "non_attribution", "irrecevabilite")
"""Decisions of the allocation commission (CCH R441-3)."""
DECISIONS_FAVORABLES = ("attribution", "attribution_sous_condition")
"""The decisions after which the dwelling may be offered (and a rank given)."""
REPONSES_DEMANDEUR = ("acceptation", "refus", "sans_reponse")
MOTIFS_REFUS = (
    "localisation",
    "typologie_surface",
    "loyer_charges",
    "etat_logement",
    "environnement",
    "autre",
)
COTATION_SCORE = "score_cotation"
COTATION_PREFIX = "cotation_"
COTATION_TOLERANCE = 0.01
"""Largest gap, in points, between the sum of the criteria and ``score_cotation``.

The contract allows 0.01 point: exports print points with two decimals, and
the sum of criteria rounded to the hundredth may differ from the rounded total
by up to a few thousandths per criterion; a larger gap is a real inconsistency.
A tiny margin (1e-9) absorbs the binary representation of decimals."""
DPE = ("A", "B", "C", "D", "E", "F", "G")

# Extra spellings (after normalisation: lower case, no accents, "_" separators).
TYPOLOGY_ALIASES = {
    "t5_et_+": "T5+",
    "t5_et_plus": "T5+",
    "t5_ou_plus": "T5+",
    "t5_+": "T5+",
    "t5plus": "T5+",
    "t6": "T5+",
    "t7": "T5+",
    "t8": "T5+",
    "t6+": "T5+",
}
ALIASES: dict[str, dict[str, str]] = {
    "typologie_demandee": TYPOLOGY_ALIASES,
    "typologie": TYPOLOGY_ALIASES,
    "financement": {"pla_i": "PLAI"},
    "nationalite": {"hors_union_europeenne": "hors_ue", "union_europeenne": "ue"},
    "motif_radiation": {"absence_de_reponse": "absence_reponse"},
    "decision_cal": {
        "attribution_sous_conditions": "attribution_sous_condition",
        "attribution_sous_reserve": "attribution_sous_condition",
        "refus": "non_attribution",
        "refus_d'attribution": "non_attribution",
        "non_attribue": "non_attribution",
        "irrecevable": "irrecevabilite",
    },
    "reponse_demandeur": {
        "accepte": "acceptation",
        "acceptee": "acceptation",
        "refuse": "refus",
        "refusee": "refus",
        "pas_de_reponse": "sans_reponse",
        "absence_de_reponse": "sans_reponse",
    },
    "motif_refus": {
        "typologie": "typologie_surface",
        "surface": "typologie_surface",
        "typologie/surface": "typologie_surface",
        "typologie_/_surface": "typologie_surface",
        "loyer": "loyer_charges",
        "loyer/charges": "loyer_charges",
        "loyer_/_charges": "loyer_charges",
        "loyer_et_charges": "loyer_charges",
        "etat_du_logement": "etat_logement",
    },
}


def cotation_columns(columns: list[str] | pd.Index) -> tuple[str | None, list[str]]:
    """The cotation columns of a ``demandes`` header: the score and the criteria.

    Parameters
    ----------
    columns : list of str
        Canonical column names (after the column map).

    Returns
    -------
    score : str or None
        ``"score_cotation"`` when present.
    criteria : list of str
        ``cotation_<critere>`` columns, in file order.

    Examples
    --------
    >>> cotation_columns(["num_unique", "score_cotation", "cotation_anciennete"])
    ('score_cotation', ['cotation_anciennete'])
    """
    names = [str(c) for c in columns]
    score = COTATION_SCORE if COTATION_SCORE in names else None
    criteria = [c for c in names if c.startswith(COTATION_PREFIX) and len(c) > len(COTATION_PREFIX)]
    return score, criteria


@dataclass(frozen=True)
class ColumnSpec:
    """One column of the data contract.

    Attributes
    ----------
    name : str
        Canonical name.
    kind : str
        ``"text"``, ``"insee"``, ``"insee_list"``, ``"siren"``, ``"qpv"``,
        ``"date"``, ``"bool"``, ``"int"``, ``"float"`` or ``"enum"``.
    required : bool
        The column must exist and every accepted row must hold a value.
    values : tuple of str
        Allowed values (``kind == "enum"``).
    min, max : float, optional
        Inclusive range (numbers).

    The value of a personal column (:func:`is_personal`) is masked in rejects.
    """

    name: str
    kind: str
    required: bool = False
    values: tuple[str, ...] = ()
    min: float | None = None
    max: float | None = None

    @property
    def masked(self) -> bool:
        """Mask the value in rejects and messages (:data:`PERSONAL_COLUMNS`)."""
        return is_personal(self.name)

    @property
    def dtype(self) -> str:
        """pandas dtype of the parsed column (``docs/data-model.md``)."""
        if self.kind == "date":
            return "datetime64[ns]"
        if self.kind == "bool":
            return "bool" if self.required else "boolean"
        if self.kind == "int":
            return "Int64"
        if self.kind == "float":
            return "float64"
        return "string"


@dataclass(frozen=True)
class TableSpec:
    """One table: its columns, and the key whose duplicates are rejected."""

    name: str
    columns: tuple[ColumnSpec, ...]
    unique_key: tuple[str, ...] = ()
    label: str = ""
    extra_checks: tuple[str, ...] = field(default_factory=tuple)

    @property
    def required(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> ColumnSpec:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [c.name for c in self.columns]


C = ColumnSpec
TABLES: dict[str, TableSpec] = {
    "demandes": TableSpec(
        name="demandes",
        label="demandes de logement social",
        unique_key=("num_unique",),
        columns=(
            C("num_unique", "text", required=True),
            C("date_depot", "date", required=True),
            C("date_radiation", "date"),
            C("motif_radiation", "enum", values=MOTIFS_RADIATION),
            C("nationalite", "enum", required=True, values=NATIONALITES),
            C("commune_residence", "insee", required=True),
            C("qpv_residence", "qpv"),
            C("lon", "float", min=-180.0, max=180.0),
            C("lat", "float", min=-90.0, max=90.0),
            C("nb_personnes", "int", required=True, min=1, max=30),
            C("nb_adultes_sup", "int", min=0, max=30),
            C("nb_enfants_moins_14", "int", min=0, max=30),
            C("revenus_mensuels", "float", required=True, min=0.0),
            C("situation_logement", "enum", required=True, values=SITUATIONS_LOGEMENT),
            C("prioritaire", "bool", required=True),
            C("dalo", "bool", required=True),
            C("typologie_demandee", "enum", required=True, values=TYPOLOGIES),
            C("communes_souhaitees", "insee_list"),
            C("age_demandeur", "int", min=16, max=120),
            C("situation_professionnelle", "enum", values=SITUATIONS_PRO),
            C("handicap", "bool"),
        ),
        extra_checks=("motif_radiation", "date_radiation", "composition", "coordonnees"),
    ),
    "attributions": TableSpec(
        name="attributions",
        label="attributions",
        unique_key=("num_unique",),
        columns=(
            C("num_unique", "text", required=True),
            C("date_bail", "date", required=True),
            C("rpls_id", "text"),
            C("commune_logement", "insee"),
            C("qpv_logement", "qpv"),
            C("bailleur_siren", "siren", required=True),
            C("reservataire", "enum", required=True, values=RESERVATAIRES),
            C("revenus_mensuels", "float", min=0.0),
            C("nb_personnes", "int", min=1, max=30),
            C("relogement_anru", "bool"),
            C("dalo", "bool"),
            C("prioritaire", "bool"),
            C("typologie", "enum", values=TYPOLOGIES),
            C("loyer", "float", min=0.0),
        ),
        extra_checks=("commune_logement",),
    ),
    "propositions": TableSpec(
        name="propositions",
        label="propositions de logement",
        unique_key=("num_unique", "id_offre"),
        columns=(
            C("num_unique", "text", required=True),
            C("id_offre", "text", required=True),
            C("date_cal", "date", required=True),
            C("rpls_id", "text"),
            C("commune_logement", "insee"),
            C("qpv_logement", "qpv"),
            C("bailleur_siren", "siren", required=True),
            C("reservataire", "enum", required=True, values=RESERVATAIRES),
            C("decision_cal", "enum", required=True, values=DECISIONS_CAL),
            C("rang", "int", min=1, max=100),
            C("reponse_demandeur", "enum", values=REPONSES_DEMANDEUR),
            C("motif_refus", "enum", values=MOTIFS_REFUS),
        ),
        extra_checks=("commune_logement", "propositions"),
    ),
    "logements": TableSpec(
        name="logements",
        label="logements (RPLS)",
        unique_key=("rpls_id",),
        columns=(
            C("rpls_id", "text", required=True),
            C("commune", "insee", required=True),
            C("qpv", "qpv"),
            C("lon", "float", min=-180.0, max=180.0),
            C("lat", "float", min=-90.0, max=90.0),
            C("nb_pieces", "int", min=1, max=20),
            C("typologie", "enum", values=TYPOLOGIES),
            C("financement", "enum", values=FINANCEMENTS),
            C("loyer", "float", min=0.0),
            C("annee_construction", "int", min=1700, max=2100),
            C("dpe", "enum", values=DPE),
            C("bailleur_siren", "siren"),
        ),
        extra_checks=("coordonnees",),
    ),
    "seuils_q1": TableSpec(
        name="seuils_q1",
        label="seuils du premier quartile",
        unique_key=("annee", "siren_epci"),
        columns=(
            C("annee", "int", required=True, min=2000, max=2100),
            C("siren_epci", "siren", required=True),
            C("seuil_uc_annuel", "float", required=True, min=0.0),
        ),
    ),
}
TABLES["bailleurs"] = TableSpec(
    name="bailleurs",
    label="noms des bailleurs",
    unique_key=("bailleur_siren",),
    columns=(
        C("bailleur_siren", "siren", required=True),
        C("nom", "text", required=True),
    ),
)
TABLES["seuils"] = TABLES["seuils_q1"]

# French messages of the rules, by rule name.
RULE_MESSAGES = {
    "obligatoire": "valeur obligatoire manquante",
    "minimum": "valeur inférieure au minimum permis ({min})",
    "maximum": "valeur supérieure au maximum permis ({max})",
    "strictement_positif": "la valeur doit être strictement positive",
    "motif_radiation_manquant": "date de radiation sans motif de radiation",
    "motif_sans_date_radiation": "motif de radiation sans date de radiation",
    "radiation_avant_depot": "date de radiation antérieure à la date de dépôt",
    "composition_menage": (
        "composition incohérente : 1 + nb_adultes_sup + nb_enfants_moins_14 ≠ nb_personnes"
    ),
    "coordonnees_incompletes": "longitude et latitude doivent être données ensemble",
    "commune_logement_manquante": "commune_logement obligatoire quand rpls_id est vide",
    "rang_sans_decision_favorable": (
        "rang donné sans décision favorable de la CAL (attribution ou attribution sous "
        "condition) : seuls les candidats retenus sont classés"
    ),
    "reponse_sans_decision_favorable": (
        "réponse du demandeur enregistrée sans décision favorable de la CAL : le logement "
        "n'a pas pu lui être proposé"
    ),
    "motif_sans_refus": "motif de refus donné alors que la réponse du demandeur n'est pas un refus",
}


def _favourable(d: pd.DataFrame) -> pd.Series:
    """The commission's decision is favourable (the dwelling may be offered)."""
    return d["decision_cal"].isin(list(DECISIONS_FAVORABLES)).fillna(False)


def _row_check(rule: str, fn) -> pa.Check:  # type: ignore[no-untyped-def]
    return pa.Check(fn, name=rule, error=rule, ignore_na=False)


def pandera_schema(spec: TableSpec) -> pa.DataFrameSchema:
    """pandera schema of a parsed table (after :mod:`~allocation_analysis.io.parsing`).

    Column dtypes are not coerced here (the parsers already produced them);
    the schema checks nullability of required columns, ranges, allowed values
    and the multi-column row rules. Failure cases carry the row index, so that
    each failure becomes one row of the rejects table.

    Parameters
    ----------
    spec : TableSpec
        The table.

    Returns
    -------
    pandera.pandas.DataFrameSchema
    """
    columns: dict[str, pa.Column] = {}
    for c in spec.columns:
        checks: list[pa.Check] = []
        if c.min is not None:
            checks.append(pa.Check.greater_than_or_equal_to(c.min, name="minimum", error="minimum"))
        if c.max is not None:
            checks.append(pa.Check.less_than_or_equal_to(c.max, name="maximum", error="maximum"))
        if c.kind == "enum":
            checks.append(
                pa.Check.isin(list(c.values), name="valeur_inconnue", error="valeur_inconnue")
            )
        columns[c.name] = pa.Column(
            checks=checks, nullable=not c.required, required=False, coerce=False
        )
    if spec.name == "seuils_q1":
        columns["seuil_uc_annuel"] = pa.Column(
            checks=[
                pa.Check.greater_than(0.0, name="strictement_positif", error="strictement_positif")
            ],
            nullable=False,
        )

    frame_checks: list[pa.Check] = []
    extra = set(spec.extra_checks)
    if "motif_radiation" in extra:
        frame_checks.append(
            _row_check(
                "motif_radiation_manquant",
                lambda d: ~(d["date_radiation"].notna() & d["motif_radiation"].isna()),
            )
        )
        frame_checks.append(
            _row_check(
                "motif_sans_date_radiation",
                lambda d: ~(d["date_radiation"].isna() & d["motif_radiation"].notna()),
            )
        )
    if "date_radiation" in extra:
        frame_checks.append(
            _row_check(
                "radiation_avant_depot",
                lambda d: ~(d["date_radiation"] < d["date_depot"]).fillna(False),
            )
        )
    if "composition" in extra:
        frame_checks.append(
            _row_check(
                "composition_menage",
                lambda d: (
                    1 + d["nb_adultes_sup"] + d["nb_enfants_moins_14"] == d["nb_personnes"]
                ).fillna(True),
            )
        )
    if "coordonnees" in extra:
        frame_checks.append(
            _row_check("coordonnees_incompletes", lambda d: d["lon"].isna() == d["lat"].isna())
        )
    if "commune_logement" in extra:
        frame_checks.append(
            _row_check(
                "commune_logement_manquante",
                lambda d: d["rpls_id"].notna() | d["commune_logement"].notna(),
            )
        )
    if "propositions" in extra:
        favourable = _favourable
        frame_checks.append(
            _row_check(
                "rang_sans_decision_favorable",
                lambda d: (d["rang"].isna() | favourable(d)).astype(bool),
            )
        )
        frame_checks.append(
            _row_check(
                "reponse_sans_decision_favorable",
                lambda d: (d["reponse_demandeur"].isna() | favourable(d)).astype(bool),
            )
        )
        frame_checks.append(
            _row_check(
                "motif_sans_refus",
                lambda d: (
                    (d["motif_refus"].isna() | (d["reponse_demandeur"] == "refus"))
                    .fillna(False)
                    .astype(bool)
                ),
            )
        )
    return pa.DataFrameSchema(columns, checks=frame_checks, name=spec.name, strict=False)


# Column shown in the rejects table for each multi-column rule.
FRAME_RULE_COLUMN = {
    "motif_radiation_manquant": "motif_radiation",
    "motif_sans_date_radiation": "motif_radiation",
    "radiation_avant_depot": "date_radiation",
    "composition_menage": "nb_personnes",
    "coordonnees_incompletes": "lon",
    "commune_logement_manquante": "commune_logement",
    "rang_sans_decision_favorable": "rang",
    "reponse_sans_decision_favorable": "reponse_demandeur",
    "motif_sans_refus": "motif_refus",
}


def fmt_number(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else str(x).replace(".", ",")


def empty_column(spec: ColumnSpec, index: pd.Index) -> pd.Series:
    """An all-missing column of the right dtype (optional column absent from the file)."""
    dtype = spec.dtype if spec.dtype != "bool" else "boolean"
    if dtype == "datetime64[ns]":
        return pd.Series(pd.NaT, index=index, dtype=dtype)
    if dtype == "float64":
        return pd.Series(float("nan"), index=index, dtype=dtype)
    if dtype == "string":
        return pd.Series(pd.NA, index=index, dtype=pd.StringDtype("pyarrow"))
    return pd.Series(pd.NA, index=index, dtype=dtype)
