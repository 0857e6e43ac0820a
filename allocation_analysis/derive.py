"""Derived quantities: one definition of each, in one place.

Consumption units, income per consumption unit, the first-quartile threshold in
force on a date, semester windows, QPV flags, and the three analysis frames of
``docs/data-model.md`` §2 (:func:`prepare_demandes`,
:func:`prepare_allocations`, :func:`access_frame`).

Conventions decided here
------------------------
- **Composition split.** The split of a household into "other persons aged
  14+" and "children under 14" is *known* when both counts are given, are
  non-negative and add up with the applicant to the household size
  (``1 + nb_adultes_sup + nb_enfants_moins_14 == nb_personnes``). Otherwise
  (one count missing, or an inconsistent split) the fallback
  ``1 + 0.5 × (nb_personnes − 1)`` of the scale is used and flagged.
- **QPV of residence.** ``qpv_residence`` is derived from the demand's
  ``lon``/``lat`` only when the column is absent or entirely empty (an empty
  cell in a filled column means "not in a QPV", as the contract says).
  ``residence_qpv`` is ``"qpv"`` when one of the codes is in force on the
  demand's reference date: the earliest of its lease date and closing date when
  that falls on or before the end of the analysed semester, otherwise the end
  of the semester. At allocation, the reference date is the lease date.
- **Dwelling location.** For an allocation with an ``rpls_id`` found in
  ``logements``, commune, QPV and typology come from the dwelling; otherwise
  from the allocation's own columns. The dwelling's QPV is derived from its
  ``lon``/``lat`` when the ``qpv`` column of ``logements`` is entirely empty
  and QPV geometry is given; likewise its commune.
- **Coordinates** of households are used only to derive the QPV code and are
  dropped from every frame returned here.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig, Period, UCScale
from allocation_analysis.errors import InputError
from allocation_analysis.io import _arrow
from allocation_analysis.io._arrow import TEXT_DTYPE

__all__ = [
    "LIST_2024_START",
    "access_frame",
    "annual_income_per_uc",
    "consumption_units",
    "first_quartile",
    "in_window",
    "period_window",
    "prepare_allocations",
    "prepare_demandes",
    "prepare_propositions",
    "qpv_in_force",
    "semester_of",
    "threshold_in_force",
]

logger = logging.getLogger(__name__)

#: First day on which the 2024 QPV list (codes ``QN…``) is in force; the 2015
#: list (codes ``QP…``) applies up to the day before.
LIST_2024_START = pd.Timestamp("2024-01-01")

_COORDINATES = ("lon", "lat")


# --------------------------------------------------------------------------- #
# consumption units and income
# --------------------------------------------------------------------------- #
def _int_series(values: Any, index: pd.Index | None = None) -> pd.Series:
    if values is None:
        return pd.Series(pd.NA, index=index, dtype="Int64")
    s = values if isinstance(values, pd.Series) else pd.Series(values, index=index)
    return pd.to_numeric(s, errors="coerce").astype("Int64")


def consumption_units(
    nb_personnes: pd.Series,
    nb_adultes_sup: pd.Series | None = None,
    nb_enfants_moins_14: pd.Series | None = None,
    *,
    scale: UCScale = UCScale(),  # noqa: B008 - immutable dataclass
) -> tuple[pd.Series, pd.Series]:
    """Consumption units (UC) of households, and whether they were estimated.

    Parameters
    ----------
    nb_personnes : pandas.Series
        Household size (≥ 1, no missing value).
    nb_adultes_sup : pandas.Series, optional
        Other persons aged 14 or more besides the applicant.
    nb_enfants_moins_14 : pandas.Series, optional
        Children under 14.
    scale : UCScale, keyword-only
        Weights; the default is the INSEE modified OECD scale (1, 0.5, 0.3).

    Returns
    -------
    uc : pandas.Series of float64
        ``first_adult + other_14_plus × nb_adultes_sup + child_under_14 ×
        nb_enfants_moins_14`` when the split is known, else the fallback
        ``first_adult + other_14_plus × (nb_personnes − 1)``.
    estimated : pandas.Series of bool
        ``True`` where the fallback was used: a count missing, negative, or
        ``1 + nb_adultes_sup + nb_enfants_moins_14 != nb_personnes``.

    Raises
    ------
    InputError
        When ``nb_personnes`` is missing or below 1.

    References
    ----------
    .. [1] INSEE, « Unité de consommation », définition,
       https://www.insee.fr/fr/metadonnees/definition/c1802 (échelle de l'OCDE
       modifiée : 1 UC pour le premier adulte, 0,5 pour les autres personnes de
       14 ans ou plus, 0,3 pour les enfants de moins de 14 ans).
    """
    n = _int_series(nb_personnes)
    bad = n.isna() | (n < 1).fillna(False)
    if bad.any():
        raise InputError(
            f"Taille du ménage manquante ou inférieure à 1 pour {int(bad.sum())} ménage(s).",
            column="nb_personnes",
            rule="nb_personnes_invalide",
        )
    adults = _int_series(nb_adultes_sup, n.index)
    kids = _int_series(nb_enfants_moins_14, n.index)
    known = (
        adults.notna()
        & kids.notna()
        & (adults >= 0).fillna(False)
        & (kids >= 0).fillna(False)
        & (1 + adults + kids == n).fillna(False)
    ).astype(bool)
    n_f = n.astype("float64")
    fallback = scale.first_adult + scale.other_14_plus * (n_f - 1)
    split = (
        scale.first_adult
        + scale.other_14_plus * adults.astype("float64")
        + scale.child_under_14 * kids.astype("float64")
    )
    uc = fallback.where(~known, split).astype("float64")
    uc.name = "uc"
    estimated = (~known).rename("uc_estimee")
    return uc, estimated


def annual_income_per_uc(revenus_mensuels: pd.Series, uc: pd.Series) -> pd.Series:
    """Annual income per consumption unit: ``revenus_mensuels × 12 / uc``.

    Parameters
    ----------
    revenus_mensuels : pandas.Series
        Total monthly household resources (€).
    uc : pandas.Series
        Consumption units (> 0).

    Returns
    -------
    pandas.Series of float64
        Euros per UC per year.
    """
    rev = pd.to_numeric(revenus_mensuels, errors="coerce").astype("float64")
    u = pd.to_numeric(uc, errors="coerce").astype("float64")
    if (u <= 0).any():
        raise ValueError("consumption units must be positive")
    return (rev * 12.0 / u).rename("revenu_annuel_uc")


# --------------------------------------------------------------------------- #
# first quartile
# --------------------------------------------------------------------------- #
def threshold_in_force(
    seuils: pd.DataFrame, dates: pd.Series, *, siren_epci: str | None
) -> pd.Series:
    """First-quartile threshold in force on each date for an EPCI.

    The threshold of calendar year *Y* (``annee``) applies to dates from 1
    January to 31 December of *Y*.

    Parameters
    ----------
    seuils : pandas.DataFrame
        Columns ``annee``, ``siren_epci``, ``seuil_uc_annuel``.
    dates : pandas.Series of datetime64
        Lease dates (``NaT`` gives ``NaN``).
    siren_epci : str or None, keyword-only
        SIREN of the EPCI. ``None`` is accepted only when ``seuils`` holds a
        single EPCI.

    Returns
    -------
    pandas.Series of float64
        Threshold (€ per UC per year), aligned on ``dates``.

    Raises
    ------
    InputError
        When a year needed is missing for the EPCI, when the EPCI is absent, or
        when a year has two different thresholds.
    """
    table = seuils.copy()
    epcis = table["siren_epci"].astype("string").str.strip()
    if siren_epci is None:
        distinct = epcis.dropna().unique()
        if len(distinct) != 1:
            raise InputError(
                "Le SIREN de l'EPCI doit être indiqué (--siren-epci) : le fichier des seuils "
                f"en contient {len(distinct)}.",
                column="siren_epci",
                rule="epci_non_indique",
            )
        siren_epci = str(distinct[0])
    siren = str(siren_epci).strip()
    table = table.loc[(epcis == siren).fillna(False).to_numpy()]
    if table.empty:
        raise InputError(
            f"Aucun seuil du premier quartile pour l'EPCI {siren}.",
            column="siren_epci",
            rule="seuil_manquant",
        )
    years = pd.to_numeric(table["annee"], errors="coerce").astype("Int64")
    values = pd.to_numeric(table["seuil_uc_annuel"], errors="coerce").astype("float64")
    by_year = pd.DataFrame({"annee": years.to_numpy(), "seuil": values.to_numpy()}).dropna()
    conflicts = by_year.groupby("annee")["seuil"].nunique()
    conflicts = conflicts[conflicts > 1]
    if len(conflicts):
        raise InputError(
            f"Plusieurs seuils différents pour l'EPCI {siren} et l'année "
            f"{int(conflicts.index[0])}.",
            column="seuil_uc_annuel",
            rule="seuil_ambigu",
        )
    mapping = by_year.drop_duplicates("annee").set_index("annee")["seuil"]
    d = pd.to_datetime(dates)
    needed = d.dt.year.dropna().astype(int).unique()
    missing = sorted(set(needed) - {int(y) for y in mapping.index})
    if missing:
        raise InputError(
            f"Seuil du premier quartile manquant pour l'année {missing[0]} et l'EPCI {siren}"
            + (
                f" (années manquantes : {', '.join(map(str, missing))})."
                if len(missing) > 1
                else "."
            ),
            column="annee",
            rule="seuil_manquant",
        )
    mapping.index = mapping.index.astype(int)
    out = d.dt.year.map(mapping).astype("float64")
    return out.rename("seuil_q1")


def first_quartile(revenu_annuel_uc: pd.Series, seuil: pd.Series) -> pd.Series:
    """First-quartile status: ``revenu_annuel_uc <= seuil`` (equality counts as Q1).

    The threshold published by arrêté is the highest annual income per UC
    inside the first quartile, hence the inclusive comparison.

    Raises
    ------
    ValueError
        When an income or a threshold is missing (no silent ``False``).
    """
    rev = pd.to_numeric(revenu_annuel_uc, errors="coerce").astype("float64")
    thr = pd.to_numeric(seuil, errors="coerce").astype("float64")
    if rev.isna().any() or thr.isna().any():
        raise ValueError("first_quartile: missing income or threshold")
    return (rev <= thr).astype(bool).rename("q1")


# --------------------------------------------------------------------------- #
# QPV lists and periods
# --------------------------------------------------------------------------- #
def qpv_in_force(codes: pd.Series, dates: pd.Series) -> pd.Series:
    """Whether one of the QPV codes is in force on the date.

    Parameters
    ----------
    codes : pandas.Series of str
        QPV codes, several separated by ``|``; missing or empty = none.
    dates : pandas.Series of datetime64
        Reference dates, aligned on ``codes``.

    Returns
    -------
    pandas.Series of bool
        ``True`` when a ``QP…`` code (2015 list) is given and the date is on or
        before 2023-12-31, or a ``QN…`` code (2024 list) is given and the date
        is on or after 2024-01-01. ``False`` for a missing date.
    """
    c = _arrow.to_text(pd.Series(codes)).str.upper().fillna("")
    d = pd.to_datetime(pd.Series(dates, index=c.index))
    has_qp = c.str.contains(r"(?:^|\|)\s*QP", regex=True).astype(bool)
    has_qn = c.str.contains(r"(?:^|\|)\s*QN", regex=True).astype(bool)
    before = (d < LIST_2024_START).fillna(False).astype(bool)
    after = (d >= LIST_2024_START).fillna(False).astype(bool)
    return ((has_qp & before) | (has_qn & after)).astype(bool)


def semester_of(dates: pd.Series) -> pd.Series:
    """Semester label ``YYYY-S1`` (January–June) or ``YYYY-S2`` (July–December).

    Returns a pandas ``string`` Series, ``<NA>`` for ``NaT``.
    """
    d = pd.to_datetime(pd.Series(dates))
    known = d.notna().to_numpy()
    # one label per distinct semester, broadcast (no string built per row)
    code = np.zeros(len(d), dtype=np.int64)
    code[known] = d.dt.year.to_numpy()[known].astype(np.int64) * 2 + (
        d.dt.month.to_numpy()[known] > 6
    )
    uniq, inverse = np.unique(code, return_inverse=True)
    labels = np.array([f"{u // 2}-S{u % 2 + 1}" for u in uniq], dtype=object)
    values = labels[inverse.reshape(-1)] if len(d) else np.array([], dtype=object)
    values[~known] = None
    return pd.Series(values, index=d.index, dtype=TEXT_DTYPE, name="semestre")


def _ts(value: dt.date | pd.Timestamp | str) -> pd.Timestamp:
    return pd.Timestamp(value)


def in_window(
    dates: pd.Series,
    start: dt.date | pd.Timestamp | str,
    end: dt.date | pd.Timestamp | str,
) -> pd.Series:
    """Whether each date lies in ``[start, end]`` (both inclusive); ``False`` for ``NaT``."""
    d = pd.to_datetime(pd.Series(dates))
    return ((d >= _ts(start)) & (d <= _ts(end))).fillna(False).astype(bool)


def period_window(
    period: Period | str, *, rolling: bool = False
) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last day (inclusive) of a semester, or of the rolling 12 months ending with it."""
    p = Period.parse(period)
    start = p.start
    if rolling:
        # the semester before p starts six months earlier (computed here rather
        # than through Period.previous so the window is defined in one place)
        start = dt.date(p.year - 1, 7, 1) if p.half == 1 else dt.date(p.year, 1, 1)
    return pd.Timestamp(start), pd.Timestamp(p.end)


# --------------------------------------------------------------------------- #
# analysis frames
# --------------------------------------------------------------------------- #
def _col(
    df: pd.DataFrame | None, name: str, dtype: str, index: pd.Index | None = None
) -> pd.Series:
    """A column of ``df`` with the given dtype, or an all-missing one when absent."""
    if dtype == "string":
        dtype = TEXT_DTYPE  # Arrow-backed: vectorised string kernels, no Python objects
    if df is not None and name in df.columns:
        return df[name].astype(dtype)
    idx = index if index is not None else (df.index if df is not None else None)
    return pd.Series(pd.NA if dtype != "datetime64[ns]" else pd.NaT, index=idx, dtype=dtype)


def _empty_codes(s: pd.Series) -> pd.Series:
    t = _arrow.to_text(s).str.strip()
    return t.mask((t == "").fillna(False))


def _labels(flag: Any, yes: str, no: str, index: pd.Index) -> pd.Series:
    """``yes`` where ``flag`` else ``no``, as an Arrow-backed ``string`` Series."""
    import pyarrow as pa
    import pyarrow.compute as pc

    out = pc.if_else(pa.array(np.asarray(flag, dtype=bool)), yes, no)
    return pd.Series(pd.arrays.ArrowStringArray(out), index=index)


def _all_empty(df: pd.DataFrame | None, name: str) -> bool:
    return df is None or name not in df.columns or _empty_codes(df[name]).isna().all()


def _has_coordinates(df: pd.DataFrame | None) -> bool:
    return df is not None and all(c in df.columns for c in _COORDINATES)


def _assign(df: pd.DataFrame, layer: Any, code_column: str) -> pd.Series:
    from allocation_analysis.io.geo import assign_points

    return assign_points(df["lon"], df["lat"], layer, code_column=code_column)


def _first_choice(communes_souhaitees: pd.Series, commune_residence: pd.Series) -> pd.Series:
    # the text before the first "|" (Arrow regex kernel, no per-row Python split)
    first = _arrow.to_text(communes_souhaitees).str.replace(r"(?s)\|.*", "", regex=True)
    first = first.str.strip()
    first = first.mask((first == "").fillna(False))
    return first.fillna(_arrow.to_text(commune_residence)).astype(TEXT_DTYPE)


def _reference_dates(demandes: pd.DataFrame, period_end: pd.Timestamp) -> pd.Series:
    closing = pd.concat(
        [
            pd.to_datetime(demandes["date_radiation"]),
            pd.to_datetime(demandes["date_bail"]),
        ],
        axis=1,
    ).min(axis=1)
    use_closing = (closing <= period_end).fillna(False)
    return closing.where(use_closing, period_end)


def prepare_demandes(inputs: Any, *, config: AnalysisConfig) -> pd.DataFrame:
    """One row per demand with the derived quantities of the analyses.

    Parameters
    ----------
    inputs : object
        Loaded tables (attributes ``demandes``, ``attributions``, ``logements``,
        ``seuils``, ``communes``, ``qpv``), as ``allocation_analysis.io.Inputs``.
    config : AnalysisConfig, keyword-only
        Uses ``period`` (reference date of ``residence_qpv``) and ``uc_scale``.

    Returns
    -------
    pandas.DataFrame
        The columns of ``demandes`` without ``lon``/``lat``, with
        ``qpv_residence`` filled from the coordinates when it was absent or
        entirely empty, plus ``uc`` (float64), ``uc_estimee`` (bool),
        ``revenu_annuel_uc`` (float64), ``mutation`` (bool), ``residence_qpv``
        (``"qpv"``/``"hors_qpv"``), ``commune_choix1`` (string) and
        ``date_bail`` (lease of the allocation that closed the demand, ``NaT``
        otherwise; the earliest when several).
    """
    d = _demandes_core(inputs, config=config)
    d["commune_choix1"] = _first_choice(
        _col(d, "communes_souhaitees", "string"), d["commune_residence"]
    )

    d["date_bail"] = pd.Series(pd.NaT, index=d.index, dtype="datetime64[ns]")
    a = inputs.attributions
    if a is not None and len(a):
        first_lease = a.groupby("demande_id", sort=False)["date_bail"].min()
        n_multi = int((a["demande_id"].value_counts() > 1).sum())
        if n_multi:
            logger.warning(
                "%d demande(s) avec plusieurs attributions : le premier bail est retenu.",
                n_multi,
            )
        d["date_bail"] = pd.Series(
            _arrow.lookup(d["demande_id"], first_lease.index, first_lease), index=d.index
        ).astype("datetime64[ns]")

    period = Period.parse(config.period)
    ref = _reference_dates(d, pd.Timestamp(period.end))
    in_force = qpv_in_force(d["qpv_residence"], ref)
    d["residence_qpv"] = _labels(in_force, "qpv", "hors_qpv", d.index)
    stale = d["qpv_residence"].notna() & ~in_force
    if stale.any():
        logger.warning(
            "%d demande(s) ont un code QPV de résidence qui n'est pas de la liste en vigueur "
            "à la date de référence (liste 2015 jusqu'au 31/12/2023, liste 2024 ensuite) : "
            "classées hors QPV.",
            int(stale.sum()),
        )
    _arrow.release_memory()
    return d


def _demandes_core(inputs: Any, *, config: AnalysisConfig) -> pd.DataFrame:
    """Demands with ``qpv_residence`` completed, without coordinates, with ``uc``,
    ``uc_estimee``, ``revenu_annuel_uc`` and ``mutation`` (shared by
    :func:`prepare_demandes` and :func:`prepare_allocations`)."""
    # shallow copy: the loaded columns are shared, not duplicated (columns are only
    # ever replaced or added here, never written into)
    d = inputs.demandes.copy(deep=False)
    for c in _COORDINATES:
        if c in d.columns:
            del d[c]
    if (
        _all_empty(d, "qpv_residence")
        and _has_coordinates(inputs.demandes)
        and inputs.qpv is not None
    ):
        d["qpv_residence"] = _assign(inputs.demandes, inputs.qpv, "code_qpv")
        logger.info(
            "QPV de résidence déduit des coordonnées pour %d demande(s) sur %d.",
            int(d["qpv_residence"].notna().sum()),
            len(d),
        )
    d["qpv_residence"] = _empty_codes(_col(d, "qpv_residence", "string"))

    uc, est = consumption_units(
        d["nb_personnes"],
        d.get("nb_adultes_sup"),
        d.get("nb_enfants_moins_14"),
        scale=config.uc_scale,
    )
    d["uc"] = uc.to_numpy()
    d["uc_estimee"] = est.to_numpy()
    d["revenu_annuel_uc"] = annual_income_per_uc(d["revenus_mensuels"], d["uc"]).to_numpy()
    d["mutation"] = (
        (_arrow.to_text(d["situation_logement"]) == "locataire_social").fillna(False).astype(bool)
    )
    return d


def prepare_allocations(inputs: Any, *, config: AnalysisConfig) -> pd.DataFrame:
    """One row per signed lease with the quantities of the legal indicators.

    Parameters
    ----------
    inputs : object
        Loaded tables, as for :func:`prepare_demandes`.
    config : AnalysisConfig, keyword-only
        Uses ``siren_epci`` (threshold), ``uc_scale`` and ``period``.

    Returns
    -------
    pandas.DataFrame
        Columns ``demande_id``, ``date_bail``, ``semestre``,
        ``commune_logement``, ``qpv_logement``, ``logement_en_qpv`` (a code of
        the list in force on ``date_bail``), ``revenus_attribution`` (monthly,
        the allocation's when given, else the demand's), ``uc_attribution``,
        ``uc_estimee``, ``revenu_annuel_uc``, ``seuil_q1`` (threshold of the
        lease year), ``q1``, ``relogement_anru`` (missing → ``False``),
        ``prioritaire``, ``dalo`` (the allocation's when given, else the
        demand's), ``prioritaire_ou_dalo``, ``reservataire``,
        ``bailleur_siren``, ``mutation``, ``typologie``, ``nationalite``,
        ``residence_qpv`` (demand's residence codes in force on ``date_bail``),
        and ``rpls_id``, ``loyer``, ``source_row`` when present.

    Raises
    ------
    InputError
        When an allocation refers to an unknown demand, or a threshold year is
        missing.

    Notes
    -----
    Consumption units at allocation come from the demand's composition; when
    the allocation gives a household size different from the demand's, the
    fallback rule is applied to the allocation's size (flagged in
    ``uc_estimee``).
    """
    dem = _demandes_core(inputs, config=config)
    a = inputs.attributions.copy(deep=False)  # read only: no copy of the columns
    a.index = pd.RangeIndex(len(a))
    # position of each allocation's demand (the first row of a duplicated id), one
    # Arrow hash lookup; a missing or unknown id has no position
    import pyarrow.compute as pc

    keys = _arrow.as_arrow(a["demande_id"])
    pos_arrow = pc.index_in(
        keys, value_set=_arrow.as_arrow(dem["demande_id"]).cast(keys.type), skip_nulls=True
    )
    unknown = pd.Series(pos_arrow.is_null().to_numpy(zero_copy_only=False), index=a.index)
    if unknown.any():
        rows = a.loc[unknown, "source_row"].tolist() if "source_row" in a.columns else []
        raise InputError(
            f"{int(unknown.sum())} attribution(s) se rapportent à une demande absente du "
            "fichier des demandes.",
            file="attributions",
            column="num_unique",
            rows=rows,
            rule="demande_inconnue",
        )
    pos = pos_arrow.to_numpy(zero_copy_only=False).astype(np.intp)  # all known here

    def from_demand(col: str) -> pd.Series:
        return pd.Series(dem[col].array.take(pos), index=a.index)

    out = pd.DataFrame(index=a.index)
    out["demande_id"] = _arrow.to_text(a["demande_id"])
    out["date_bail"] = pd.to_datetime(a["date_bail"]).astype("datetime64[ns]")
    out["semestre"] = semester_of(out["date_bail"])

    # dwelling: logements (rpls_id) > allocation's columns > coordinates
    commune = _empty_codes(_col(a, "commune_logement", "string"))
    qpv = _empty_codes(_col(a, "qpv_logement", "string"))
    typo = _col(a, "typologie", "string")
    bailleur = _col(a, "bailleur_siren", "string")
    lg = inputs.logements
    rpls = _empty_codes(_col(a, "rpls_id", "string"))
    if lg is not None and len(lg) and rpls.notna().any():
        import pyarrow.compute as pc

        # Row of each allocation's dwelling in logements (first row of a duplicated
        # rpls_id, -1 when absent); only the referenced rows are then read.
        lg_keys = _arrow.as_arrow(_empty_codes(lg["rpls_id"]))
        r_keys = _arrow.as_arrow(rpls)
        lg_pos = pc.index_in(r_keys, value_set=lg_keys.cast(r_keys.type), skip_nulls=True)
        lg_pos = lg_pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp)
        found_np = lg_pos >= 0
        if found_np.any():
            used, local = np.unique(lg_pos[found_np], return_inverse=True)
            sub = lg.iloc[used].reset_index(drop=True)
            if _all_empty(lg, "qpv") and _has_coordinates(lg) and inputs.qpv is not None:
                sub["qpv"] = _assign(sub, inputs.qpv, "code_qpv")
            if _all_empty(lg, "commune") and _has_coordinates(lg) and inputs.communes is not None:
                sub["commune"] = _assign(sub, inputs.communes, "insee_com")
            at = np.full(len(a), -1, dtype=np.intp)
            at[found_np] = local.reshape(-1)

            def from_dwelling(col: pd.Series) -> pd.Series:
                return pd.Series(col.array.take(at, allow_fill=True), index=a.index)

            found = pd.Series(found_np, index=a.index)
            commune = commune.mask(found, from_dwelling(_col(sub, "commune", "string")))
            qpv = qpv.mask(found, from_dwelling(_empty_codes(_col(sub, "qpv", "string"))))
            typo = typo.mask(found, from_dwelling(_col(sub, "typologie", "string")).fillna(typo))
            bailleur = bailleur.fillna(from_dwelling(_col(sub, "bailleur_siren", "string")))
    out["commune_logement"] = commune.astype(TEXT_DTYPE)
    out["qpv_logement"] = qpv.astype(TEXT_DTYPE)
    out["logement_en_qpv"] = qpv_in_force(out["qpv_logement"], out["date_bail"]).to_numpy()

    # income and consumption units at allocation
    rev = pd.to_numeric(_col(a, "revenus_mensuels", "Float64"), errors="coerce")
    out["revenus_attribution"] = rev.astype("float64").fillna(
        from_demand("revenus_mensuels").astype("float64")
    )
    n_dem = from_demand("nb_personnes").astype("Int64")
    n_att = _col(a, "nb_personnes", "Int64")
    differs = (n_att.notna() & (n_att != n_dem)).fillna(False).astype(bool)
    uc_dem = from_demand("uc").astype("float64")
    est_dem = from_demand("uc_estimee").astype(bool)
    if differs.any():
        uc_fb, _ = consumption_units(n_att[differs], scale=config.uc_scale)
        uc_dem = uc_dem.mask(differs, uc_fb)
    out["uc_attribution"] = uc_dem.astype("float64")
    out["uc_estimee"] = (est_dem | differs).astype(bool)
    out["revenu_annuel_uc"] = annual_income_per_uc(
        out["revenus_attribution"], out["uc_attribution"]
    )
    out["seuil_q1"] = threshold_in_force(
        inputs.seuils, out["date_bail"], siren_epci=config.siren_epci
    ).to_numpy()
    out["q1"] = first_quartile(out["revenu_annuel_uc"], out["seuil_q1"])

    # statuses
    out["relogement_anru"] = _col(a, "relogement_anru", "boolean").fillna(False).astype(bool)
    for name in ("prioritaire", "dalo"):
        out[name] = (
            _col(a, name, "boolean").fillna(from_demand(name).astype("boolean")).astype(bool)
        )
    out["prioritaire_ou_dalo"] = out["prioritaire"] | out["dalo"]
    out["reservataire"] = _col(a, "reservataire", "string")
    out["bailleur_siren"] = bailleur.astype(TEXT_DTYPE)
    out["mutation"] = from_demand("mutation").astype(bool)
    out["typologie"] = typo.astype(TEXT_DTYPE)
    out["nationalite"] = from_demand("nationalite").astype(TEXT_DTYPE)
    res_codes = from_demand("qpv_residence").astype(TEXT_DTYPE)
    out["residence_qpv"] = _labels(
        qpv_in_force(res_codes, out["date_bail"]), "qpv", "hors_qpv", out.index
    )
    for extra, dtype in (("rpls_id", TEXT_DTYPE), ("loyer", "float64"), ("source_row", "Int64")):
        if extra in a.columns:
            out[extra] = a[extra].astype(dtype)
    _arrow.release_memory()
    return out


PROPOSITION_COLUMNS = (
    "source_row",
    "demande_id",
    "id_offre",
    "date_cal",
    "rpls_id",
    "commune_logement",
    "qpv_logement",
    "bailleur_siren",
    "reservataire",
    "decision_cal",
    "rang",
    "reponse_demandeur",
    "motif_refus",
)


def prepare_propositions(inputs: Any) -> pd.DataFrame | None:
    """The validated propositions, with the dwelling's place completed.

    Parameters
    ----------
    inputs : object
        Loaded tables (attributes ``propositions`` and ``logements``), as
        ``allocation_analysis.io.Inputs``.

    Returns
    -------
    pandas.DataFrame or None
        ``None`` when no propositions file was given. Otherwise one row per
        candidate examined for one dwelling, with the contract's columns
        (``demande_id`` — the pseudonym shared with ``demandes`` and
        ``allocations`` — in place of ``num_unique``; enumerations as the
        contract's codes), the dwelling's ``commune_logement``,
        ``qpv_logement`` and ``bailleur_siren`` taken from ``logements`` when
        its ``rpls_id`` is found there (as for the allocations), plus
        ``semestre`` (semester of ``date_cal``) and ``logement_en_qpv`` (the
        dwelling's QPV code belongs to the list in force on ``date_cal``).

    References
    ----------
    .. [1] Code de la construction et de l'habitation, art. R441-3 (decisions
       of the allocation commission).
    """
    p = getattr(inputs, "propositions", None)
    if p is None:
        return None
    out = pd.DataFrame(
        {c: p[c] for c in PROPOSITION_COLUMNS if c in p.columns}, index=p.index
    ).reset_index(drop=True)
    out["date_cal"] = pd.to_datetime(out["date_cal"]).astype("datetime64[ns]")
    commune = _empty_codes(_col(out, "commune_logement", "string"))
    qpv = _empty_codes(_col(out, "qpv_logement", "string"))
    bailleur = _col(out, "bailleur_siren", "string")
    lg = getattr(inputs, "logements", None)
    rpls = _empty_codes(_col(out, "rpls_id", "string"))
    if lg is not None and len(lg) and rpls.notna().any():
        # Arrow hash kernels (Series.map/isin on Arrow strings build Python objects)
        keys = _empty_codes(lg["rpls_id"])
        found = pd.Series(_arrow.isin(rpls, keys), index=out.index)

        def from_dwelling(col: pd.Series) -> pd.Series:
            return pd.Series(_arrow.lookup(rpls, keys, col), index=out.index)

        commune = commune.mask(found, from_dwelling(_col(lg, "commune", "string")))
        qpv = qpv.mask(found, from_dwelling(_empty_codes(_col(lg, "qpv", "string"))))
        bailleur = bailleur.fillna(from_dwelling(_col(lg, "bailleur_siren", "string")))
    out["commune_logement"] = commune.astype(TEXT_DTYPE)
    out["qpv_logement"] = qpv.astype(TEXT_DTYPE)
    out["bailleur_siren"] = bailleur.astype(TEXT_DTYPE)
    out["semestre"] = semester_of(out["date_cal"])
    out["logement_en_qpv"] = qpv_in_force(out["qpv_logement"], out["date_cal"]).to_numpy()
    return out


def access_frame(demandes: pd.DataFrame, period: Period | str) -> pd.DataFrame:
    """Demands active at some time in the semester, with access outcome and durations.

    Parameters
    ----------
    demandes : pandas.DataFrame
        Output of :func:`prepare_demandes`.
    period : Period or str
        The semester.

    Returns
    -------
    pandas.DataFrame
        The rows of ``demandes`` filed on or before the end of the semester
        and neither closed nor allocated before its start (closing date
        ``date_radiation`` and ``date_bail`` both ``NaT`` or on/after the first
        day), with the columns of ``demandes`` plus:

        - ``access`` (bool): ``date_bail`` within the semester;
        - ``evenement`` (int): 1 allocation in the semester, 2 other closing in
          the semester (a closing whose motive is not ``attribution``, or an
          ``attribution`` closing without a lease in the allocations file),
          0 censored at the end of the semester; an allocation and another
          closing on the same day count as an allocation;
        - ``duree_jours`` (int): days from ``date_depot`` to the event, or to
          the last day of the semester when censored (0 when filed and closed
          the same day);
        - ``entree_jours`` (int): ``max(0, period.start − date_depot)`` in
          days, the seniority at the start of the semester, always
          ``<= duree_jours``;
        - ``entree_risque_jours`` (int): ``entree_jours − 1``, the delayed-entry
          time of the waiting-time analyses. Dates are whole days, so an event
          on day ``d`` after filing is recorded at ``d``; the survival
          functions put a row in the risk set at ``t`` when
          ``entry < t <= duration`` (R ``Surv(entry, time, event)``). A demand
          is observed from the semester's first day (``entree_jours``)
          included, hence the entry one day earlier: an allocation on the
          first day of the semester, or a demand filed and closed the same
          day during the semester, stays in the analysis. Always
          ``< duree_jours``;
        - ``log_revenu_uc`` = ``log1p(revenu_annuel_uc)``;
        - ``anciennete_annees``: seniority at the start of the semester, in
          years of 365.25 days (0 for demands filed during the semester).
    """
    p = Period.parse(period)
    start, end = period_window(p)
    d = demandes
    depot = pd.to_datetime(d["date_depot"])
    rad = pd.to_datetime(_col(d, "date_radiation", "datetime64[ns]"))
    bail = pd.to_datetime(_col(d, "date_bail", "datetime64[ns]"))
    ended_before = (rad < start).fillna(False) | (bail < start).fillna(False)
    active = (depot <= end).fillna(False) & ~ended_before
    out = d.take(np.flatnonzero(active.to_numpy()))  # one copy of the active rows
    depot, rad, bail = depot[active], rad[active], bail[active]

    motif = _col(out, "motif_radiation", "string")
    alloc_in = in_window(bail, start, end)
    other_date = rad.where(~((motif == "attribution").fillna(False) & bail.notna()))
    other_in = in_window(other_date, start, end)
    no_lease = (motif == "attribution").fillna(False) & bail.isna() & other_in
    if no_lease.any():
        logger.warning(
            "%d demande(s) radiée(s) pour attribution sans bail dans le fichier des "
            "attributions : comptées comme autres sorties.",
            int(no_lease.sum()),
        )
    alloc_first = alloc_in & (~other_in | (bail <= other_date).fillna(False))
    other_first = other_in & ~alloc_first
    t = pd.Series(pd.Timestamp(end), index=out.index, dtype="datetime64[ns]")
    t = t.mask(alloc_first, bail).mask(other_first, other_date)
    out["access"] = alloc_first.astype(bool).to_numpy()
    out["evenement"] = np.select([alloc_first, other_first], [1, 2], default=0).astype("int64")
    out["duree_jours"] = (t - depot).dt.days.astype("int64").to_numpy()
    out["entree_jours"] = np.maximum((pd.Timestamp(start) - depot).dt.days, 0).astype("int64")
    out["entree_risque_jours"] = out["entree_jours"] - 1
    out["log_revenu_uc"] = np.log1p(out["revenu_annuel_uc"].astype("float64"))
    out["anciennete_annees"] = out["entree_jours"] / 365.25
    _arrow.release_memory()
    return out
