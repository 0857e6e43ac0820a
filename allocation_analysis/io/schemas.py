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
    "TABLES",
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
}


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
}


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
    return pa.DataFrameSchema(columns, checks=frame_checks, name=spec.name, strict=False)


# Column shown in the rejects table for each multi-column rule.
FRAME_RULE_COLUMN = {
    "motif_radiation_manquant": "motif_radiation",
    "motif_sans_date_radiation": "motif_radiation",
    "radiation_avant_depot": "date_radiation",
    "composition_menage": "nb_personnes",
    "coordonnees_incompletes": "lon",
    "commune_logement_manquante": "commune_logement",
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
