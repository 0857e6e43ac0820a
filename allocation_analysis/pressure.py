"""Pending demands at the end of the semester: « délai anormalement long » and pressure.

Two questions on the demands still waiting on the last day of the semester
(methods, §7):

- **Délai anormalement long**: the share of them whose seniority exceeds the
  waiting time fixed by the département's arrêté (``delai_anormal_mois``, one
  number or one per requested typology), by origin and by residence, raw
  (difference of shares, :func:`allocation_analysis.stats.compare_rates`) and
  adjusted for the typology requested and the household size
  (:func:`allocation_analysis.stats.logit_disparity`, clusters = first-choice
  commune, as the other access models).
- **Pressure** (« tension »): per first-choice commune and requested typology,
  the demands pending on the last day of the semester per lease signed over the
  rolling 12 months in that commune and typology; and the access gaps at equal
  pressure (access logit with the first-choice commune's pressure as a control).

A demand is *pending on the last day of the semester* when it was active in the
semester and neither allocated nor closed in it: ``evenement == 0`` of
:func:`allocation_analysis.derive.access_frame` (the demands censored at the
end of the semester in the waiting-time analyses), one definition for both.

Every count published from here goes through
:func:`allocation_analysis.privacy.apply_disclosure_control` (tables) or
:func:`allocation_analysis.analysis.results_frame` (tests).
"""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import DEFAULT_DELAI_ANORMAL_MOIS, AnalysisConfig, Period

__all__ = [
    "ALL_PENDING_FR",
    "ALL_TYPOLOGIES",
    "DELAI_CONTROLS",
    "abnormal_delay_display",
    "abnormal_delay_frame",
    "abnormal_delay_sentence_fr",
    "abnormal_delay_table",
    "abnormal_delay_tests",
    "abnormal_delay_tests_display",
    "access_equal_pressure_tests",
    "pressure_at_start",
    "delay_anniversary",
    "delay_threshold_months",
    "delay_threshold_text_fr",
    "exceeds_delay",
    "pending_at_end",
    "seniority_months",
    "tension_entries",
    "tension_map_frame",
    "tension_table",
    "tension_display",
    "tension_sentence_fr",
]

log = logging.getLogger(__name__)

ALL_PENDING_FR = "toutes les demandes en attente"
"""``axe`` of the first row of :func:`abnormal_delay_table`."""

ALL_TYPOLOGIES = "ensemble"
"""Value of ``typologie`` on the all-typologies rows of the tension table."""

DELAI_CONTROLS: tuple[str, ...] = ("typologie_demandee", "nb_personnes")
"""Controls of the adjusted « délai anormalement long » comparison."""

PRESSURE_CONTROL = "log_tension_choix1"
"""Column of the first-choice pressure in the access-at-equal-pressure model."""

DEFAULT_WARNING_FR = (
    "Seuil par défaut de {n} mois : le délai anormalement long est fixé par arrêté "
    "préfectoral dans chaque département, éventuellement par typologie ; indiquez celui du "
    "territoire (paramètre « delai_anormal_mois »)."
)
"""Warning of a run without ``delai_anormal_mois``."""


# --------------------------------------------------------------------------- dates
def _month_index(d: pd.Series) -> np.ndarray:
    return (d.dt.year.to_numpy(dtype="int64") * 12 + d.dt.month.to_numpy(dtype="int64") - 1).astype(
        "int64"
    )


def seniority_months(date_depot: pd.Series, reference: Any) -> pd.Series:
    """Whole calendar months elapsed from ``date_depot`` to ``reference``.

    ``m`` months have elapsed when the date ``m`` months after filing (same day
    of the month, or the month's last day when it has no such day: 31 August
    + 6 months = 28 or 29 February) is on or before ``reference``.

    Parameters
    ----------
    date_depot : Series of dates
        Filing dates (on or before ``reference``).
    reference : date
        The reference day (the last day of the semester).

    Returns
    -------
    Series of int64
        Completed months (0 for a demand filed less than a month before).

    Examples
    --------
    >>> import pandas as pd
    >>> seniority_months(pd.Series(pd.to_datetime(["2022-12-31", "2023-01-01"])), "2025-12-31")
    0    36
    1    35
    dtype: int64
    """
    d = pd.to_datetime(pd.Series(date_depot))
    ref = pd.Timestamp(reference)
    base = ref.year * 12 + ref.month - 1 - _month_index(d)
    month_end = ref.day == ref.days_in_month
    short = (d.dt.day.to_numpy() > ref.day) & (not month_end)
    return pd.Series(base - short.astype("int64"), index=d.index, dtype="int64")


def delay_anniversary(date_depot: pd.Series, months: pd.Series | int) -> pd.Series:
    """The date ``months`` calendar months after ``date_depot`` (clipped to the month's end)."""
    d = pd.to_datetime(pd.Series(date_depot))
    m = np.broadcast_to(np.asarray(months, dtype="int64"), (len(d),))
    idx = _month_index(d) + m
    first = pd.to_datetime(
        pd.DataFrame({"year": idx // 12, "month": idx % 12 + 1, "day": 1}), errors="coerce"
    )
    day = np.minimum(d.dt.day.to_numpy(), first.dt.days_in_month.to_numpy())
    return pd.Series(
        first.to_numpy() + pd.to_timedelta(day - 1, unit="D").to_numpy(), index=d.index
    )


def exceeds_delay(date_depot: pd.Series, reference: Any, months: pd.Series | int) -> pd.Series:
    """Whether the waiting time on ``reference`` is longer than ``months`` calendar months.

    True when the date ``months`` months after filing
    (:func:`delay_anniversary`) is strictly before ``reference``: a demand
    filed on 31 December 2022 has waited exactly 36 months on 31 December
    2025, not more.

    Returns
    -------
    Series of bool
    """
    d = pd.to_datetime(pd.Series(date_depot))
    return (delay_anniversary(d, months) < pd.Timestamp(reference)).astype(bool)


# --------------------------------------------------------------------------- threshold
def delay_threshold_months(config: AnalysisConfig, typologies: pd.Series) -> pd.Series:
    """Threshold (months) of each demand, from ``config.delai_anormal`` and its typology.

    Parameters
    ----------
    config : AnalysisConfig
        ``delai_anormal_mois``: one number, or one per typology (every typology
        is covered: :func:`allocation_analysis.config.delai_anormal_parameter`).
    typologies : Series
        Requested typology of each demand.

    Returns
    -------
    Series of int64
    """
    value = config.delai_anormal
    if isinstance(value, dict):
        t = typologies.astype("string")
        out = t.map(value)
        if out.isna().any():  # the schema admits no other typology: a broken frame
            bad = sorted(set(t[out.isna()].dropna().astype(str)))
            raise ValueError(f"typologies without a threshold: {bad}")
        return out.astype("int64")
    return pd.Series(int(value), index=typologies.index, dtype="int64")


def delay_threshold_text_fr(config: AnalysisConfig) -> str:
    """French sentence saying which threshold was used (and the warning of the default)."""
    from allocation_analysis.text import fmt_int

    value = config.delai_anormal
    if config.delai_anormal_default:
        return DEFAULT_WARNING_FR.format(n=fmt_int(DEFAULT_DELAI_ANORMAL_MOIS))
    if isinstance(value, dict):
        parts = ", ".join(f"{t} : {fmt_int(m)} mois" for t, m in value.items())
        return f"Seuil retenu (arrêté du département), selon la typologie demandée : {parts}."
    return f"Seuil retenu (arrêté du département) : {fmt_int(value)} mois."


# --------------------------------------------------------------------------- pending demands
def pending_at_end(access: pd.DataFrame) -> pd.DataFrame:
    """Demands still pending on the last day of the semester (``evenement == 0``)."""
    return access[access["evenement"].to_numpy() == 0]


def abnormal_delay_frame(access: pd.DataFrame, *, config: AnalysisConfig) -> pd.DataFrame:
    """The pending demands with their seniority and whether it is « anormalement long ».

    Parameters
    ----------
    access : DataFrame
        :func:`allocation_analysis.derive.access_frame` of the semester.
    config : AnalysisConfig
        ``period`` (reference day: its last day) and ``delai_anormal_mois``.

    Returns
    -------
    DataFrame
        The pending demands with ``anciennete_mois`` (whole calendar months on
        the last day, :func:`seniority_months`), ``seuil_mois`` (the threshold
        of the demand's typology) and ``delai_anormal`` (int 0/1,
        :func:`exceeds_delay`).
    """
    end = Period.parse(config.period).end
    if config.delai_anormal_default:
        log.warning(DEFAULT_WARNING_FR.format(n=DEFAULT_DELAI_ANORMAL_MOIS))
    out = pending_at_end(access).copy()
    out["anciennete_mois"] = seniority_months(out["date_depot"], end)
    out["seuil_mois"] = delay_threshold_months(config, out["typologie_demandee"])
    out["delai_anormal"] = exceeds_delay(out["date_depot"], end, out["seuil_mois"]).astype(int)
    return out


def _groupings() -> tuple[Any, ...]:
    from allocation_analysis.analysis import GROUPINGS

    return GROUPINGS


def abnormal_delay_table(
    frame: pd.DataFrame, *, threshold: int = 11, alpha: float = 0.05
) -> pd.DataFrame:
    """Counts and shares of « délai anormalement long » by origin and by residence.

    Parameters
    ----------
    frame : DataFrame
        :func:`abnormal_delay_frame`.
    threshold : int
        Statistical secret (counts from 1 to ``threshold - 1`` are hidden, with
        secondary suppression across the rows of an axis and its total).
    alpha : float
        The intervals have level ``1 - alpha``.

    Returns
    -------
    DataFrame
        One row for all pending demands (``axe`` = :data:`ALL_PENDING_FR`,
        ``groupe`` empty), then one per level of each axis: ``axe`` (the axis in
        French, as in the population table), ``groupe`` (the level's code),
        ``en_attente`` (pending demands), ``delai_depasse`` (of them, beyond the
        threshold), ``part`` with its Wilson interval (``ci_low``,
        ``ci_high``) and ``suppressed``, after
        :func:`allocation_analysis.privacy.apply_disclosure_control`.
    """
    from allocation_analysis.privacy import apply_disclosure_control
    from allocation_analysis.stats.rates import wilson_interval

    rows = [(ALL_PENDING_FR, None, len(frame), int(frame["delai_anormal"].sum()))]
    groups = []
    for g in _groupings():
        parts = []
        for level in (g.reference, *g.compared):
            sel = frame[g.column].astype("string") == level
            sub = frame.loc[sel.fillna(False).to_numpy()]
            parts.append(len(rows))
            rows.append((g.label_fr, level, len(sub), int(sub["delai_anormal"].sum())))
        groups.append((0, parts))
    t = pd.DataFrame(rows, columns=["axe", "groupe", "en_attente", "delai_depasse"])
    n = t["en_attente"].to_numpy(float)
    x = t["delai_depasse"].to_numpy(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        t["part"] = np.where(n > 0, x / np.where(n > 0, n, 1), np.nan)
    bounds = [wilson_interval(xi, ni, alpha=alpha) for xi, ni in zip(x, n, strict=True)]
    t["ci_low"] = [b[0] for b in bounds]
    t["ci_high"] = [b[1] for b in bounds]
    return apply_disclosure_control(
        t,
        count_columns=["delai_depasse", "en_attente"],
        share_columns=["part", "ci_low", "ci_high"],
        denominator_column="en_attente",
        threshold=threshold,
        groups=groups,
    )


def _records(
    frame: pd.DataFrame,
    *,
    outcome: str,
    outcome_column: str,
    controls: tuple[str, ...],
    config: AnalysisConfig,
    with_rates: bool,
) -> list[Any]:
    """Raw (rates) and adjusted (logit, clusters = first-choice commune) records per comparison.

    Every record is in the family ``robustesse``: these analyses complement the
    report's pre-declared primary tests (``analysis.TEST_PLAN``) without joining
    their family, and their p-values are adjusted among the records of one call.
    """
    from allocation_analysis.analysis import CLUSTER, ROBUSTNESS, TestRecord, _failed
    from allocation_analysis.stats import compare_rates, logit_disparity

    records = []
    for g in _groupings():
        for cmp in g.compared:
            calls = []
            if with_rates:
                calls.append(("rates", compare_rates, {}))
            calls.append(("logit", logit_disparity, {"controls": controls, "cluster": CLUSTER}))
            for method, fn, extra in calls:
                test_id = f"{outcome}_{g.key}_{method}"
                try:
                    res = fn(
                        frame,
                        outcome=outcome_column,
                        group=g.column,
                        reference=g.reference,
                        compared=cmp,
                        alpha=config.alpha,
                        **extra,
                    )
                except Exception as exc:  # noqa: BLE001 - reported in the table, as the plan does
                    res = _failed(test_id, g, cmp, exc, config.alpha)
                records.append(
                    TestRecord(
                        id=test_id,
                        outcome=outcome,
                        grouping=g,
                        compared=cmp,
                        result=res,
                        family=ROBUSTNESS,
                    )
                )
    return records


def abnormal_delay_tests(frame: pd.DataFrame, *, config: AnalysisConfig) -> pd.DataFrame:
    """Comparisons of the share of « délai anormalement long » by origin and residence.

    For each comparison of :data:`allocation_analysis.analysis.GROUPINGS`:
    ``delai_anormal_<origin|residence>_rates`` (share of the group minus share of
    the reference, Newcombe interval, score or Fisher test) and
    ``delai_anormal_<origin|residence>_logit`` (odds ratio adjusted for
    :data:`DELAI_CONTROLS`, cluster-robust by first-choice commune; the
    adjusted difference of shares is its average marginal effect, in
    ``ame``, ``ame_ci_low``, ``ame_ci_high``).

    Parameters
    ----------
    frame : DataFrame
        :func:`abnormal_delay_frame`.
    config : AnalysisConfig
        ``alpha`` and ``secret_threshold``.

    Returns
    -------
    DataFrame
        :func:`allocation_analysis.analysis.results_frame` of these tests
        (statistical secret applied; family ``robustesse``: Benjamini–Hochberg
        over the six comparisons of this question, apart from the report's
        primary tests), plus the
        average marginal effects of the adjusted models (NaN where the
        comparison is withheld).

    References
    ----------
    .. [1] Newcombe, R. G. (1998). Interval estimation for the difference
       between independent proportions. *Statistics in Medicine* 17, 873–890.
    .. [2] Cameron, A. C. & Miller, D. L. (2015). A practitioner's guide to
       cluster-robust inference. *J. Human Resources* 50(2), 317–372.
    """
    records = _records(
        frame,
        outcome="delai_anormal",
        outcome_column="delai_anormal",
        controls=DELAI_CONTROLS,
        config=config,
        with_rates=True,
    )
    return _with_marginal_effects(records, config=config)


def _with_marginal_effects(records: list[Any], *, config: AnalysisConfig) -> pd.DataFrame:
    from allocation_analysis.analysis import results_frame

    res = results_frame(records, secret_threshold=config.secret_threshold, alpha=config.alpha)
    ame = {}
    for r in records:
        d = r.result.details if hasattr(r.result.details, "get") else {}
        ci = d.get("ame_ci") or (np.nan, np.nan)
        ame[r.id, r.compared] = (d.get("ame", np.nan), ci[0], ci[1])
    vals = [ame.get((i, g), (np.nan,) * 3) for i, g in zip(res["id"], res["group"], strict=True)]
    res["ame"] = [v[0] for v in vals]
    res["ame_ci_low"] = [v[1] for v in vals]
    res["ame_ci_high"] = [v[2] for v in vals]
    withheld = res["suppressed"].astype(bool).to_numpy()
    res.loc[withheld, ["ame", "ame_ci_low", "ame_ci_high"]] = np.nan
    return res


# --------------------------------------------------------------------------- pressure
def _leases_12m(allocations: pd.DataFrame, period: Period) -> pd.DataFrame:
    d = pd.to_datetime(allocations["date_bail"])
    sel = (d >= pd.Timestamp(period.rolling_start)) & (d <= pd.Timestamp(period.end))
    return allocations[sel.fillna(False).to_numpy()]


def _pressure_counts(
    access: pd.DataFrame, allocations: pd.DataFrame, period: Period
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(pending demands, leases over 12 months) by commune × typology, as counts."""
    pending = pending_at_end(access)
    dem = (
        pd.DataFrame(
            {
                "commune": pending["commune_choix1"].astype("string").to_numpy(),
                "typologie": pending["typologie_demandee"].astype("string").to_numpy(),
            }
        )
        .dropna()
        .value_counts()
        .rename("demandes")
    )
    leases = _leases_12m(allocations, period)
    att = pd.DataFrame(
        {
            "commune": leases["commune_logement"].astype("string").to_numpy(),
            "typologie": leases["typologie"].astype("string").to_numpy(),
        }
    )
    att = att[att["commune"].notna().to_numpy()]
    att["typologie"] = att["typologie"].fillna("non_renseignee")
    att = att.value_counts().rename("attributions_12m")
    return dem.to_frame(), att.to_frame()


def tension_table(
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    config: AnalysisConfig,
    communes: Any = None,
) -> pd.DataFrame:
    """Pressure by commune and typology: pending demands per lease of the last 12 months.

    Parameters
    ----------
    access : DataFrame
        :func:`allocation_analysis.derive.access_frame` of the semester.
    allocations : DataFrame
        Every lease (:func:`allocation_analysis.derive.prepare_allocations`).
    config : AnalysisConfig
        ``period`` and ``secret_threshold``.
    communes : GeoDataFrame or DataFrame, optional
        ``insee_com`` and ``nom``: a column ``nom`` (the commune's name, empty
        for a commune outside the contours and for the territory rows) is added
        after ``commune`` for the readers of the table.

    Returns
    -------
    DataFrame
        One row per commune × typology (``commune``, ``typologie``), then per
        commune all typologies together (``typologie`` = :data:`ALL_TYPOLOGIES`)
        and the territory (``commune`` = ``ensemble``): ``demandes`` (demands
        pending on the last day of the semester whose first-choice commune and
        requested typology are these), ``attributions_12m`` (leases signed over
        the rolling 12 months ending with the semester, by the dwelling's
        commune and typology; leases without a typology count in the
        all-typologies rows only), ``ratio`` = ``demandes / attributions_12m``
        (NaN without a lease) and ``suppressed``, after
        :func:`allocation_analysis.privacy.apply_disclosure_control` (a ratio is
        hidden with either of its counts; secondary suppression across the
        typologies of a commune and the communes of a typology).

    Notes
    -----
    The ratio reads « N demandes en attente pour une attribution » : how many
    pending demands there are for each lease signed in a year. It is the
    usual measure of « tension » of the social-housing demand (e.g. the
    ministry's SNE statistics publish the ratio of active demands to
    allocations of the year).

    References
    ----------
    .. [1] Ministère chargé du logement, *Demandes et attributions de logements
       sociaux (SNE)*: indicateur de pression de la demande (demandes en cours /
       attributions de l'année).
    """
    from allocation_analysis.privacy import apply_disclosure_control

    period = Period.parse(config.period)
    dem, att = _pressure_counts(access, allocations, period)
    cells = dem.join(att, how="outer").fillna(0).astype("int64").reset_index()
    known = cells[cells["typologie"] != "non_renseignee"].copy()
    codes = sorted(set(cells["commune"]))
    typos = sorted(set(known["typologie"]))
    by_commune = cells.groupby("commune")[["demandes", "attributions_12m"]].sum()
    by_typo = known.groupby("typologie")[["demandes", "attributions_12m"]].sum()
    rows = [known[["commune", "typologie", "demandes", "attributions_12m"]]]
    rows.append(
        by_commune.reset_index().assign(typologie=ALL_TYPOLOGIES)[
            ["commune", "typologie", "demandes", "attributions_12m"]
        ]
    )
    rows.append(
        by_typo.reset_index().assign(commune="ensemble")[
            ["commune", "typologie", "demandes", "attributions_12m"]
        ]
    )
    total = cells[["demandes", "attributions_12m"]].sum()
    rows.append(
        pd.DataFrame(
            [
                {
                    "commune": "ensemble",
                    "typologie": ALL_TYPOLOGIES,
                    "demandes": int(total["demandes"]),
                    "attributions_12m": int(total["attributions_12m"]),
                }
            ]
        )
    )
    t = pd.concat(rows, ignore_index=True)
    t["demandes"] = t["demandes"].astype("int64")
    t["attributions_12m"] = t["attributions_12m"].astype("int64")
    a = t["attributions_12m"].to_numpy(float)
    t["ratio"] = np.where(a > 0, t["demandes"].to_numpy(float) / np.where(a > 0, a, 1), np.nan)
    pos = {(c, ty): i for i, (c, ty) in enumerate(zip(t["commune"], t["typologie"], strict=True))}
    groups = []
    for c in codes:  # a commune's typologies add up to its total (+ leases of no typology)
        parts = [pos[c, ty] for ty in typos if (c, ty) in pos]
        groups.append((pos[c, ALL_TYPOLOGIES], parts))
    for ty in typos:  # a typology's communes add up to the territory's
        parts = [pos[c, ty] for c in codes if (c, ty) in pos]
        groups.append((pos["ensemble", ty], parts))
    groups.append((pos["ensemble", ALL_TYPOLOGIES], [pos[c, ALL_TYPOLOGIES] for c in codes]))
    out = apply_disclosure_control(
        t,
        count_columns=["demandes", "attributions_12m"],
        share_columns=["ratio"],
        threshold=config.secret_threshold,
        groups=groups,
    )
    if communes is not None:
        names = dict(zip(communes["insee_com"].astype(str), communes["nom"], strict=False))
        out.insert(1, "nom", [names.get(str(c)) for c in out["commune"]])
    return out


def tension_map_frame(tension: pd.DataFrame) -> pd.DataFrame:
    """The all-typologies rows of the communes, for the map (``commune``, counts, ``ratio``)."""
    sel = (tension["typologie"] == ALL_TYPOLOGIES) & (tension["commune"] != "ensemble")
    return tension.loc[sel.to_numpy()].reset_index(drop=True)


def tension_entries(tension: pd.DataFrame) -> list[dict]:
    """``results.json`` → ``tension`` entries (published values, ``None`` when hidden)."""
    out = []
    for rec in tension.to_dict(orient="records"):
        out.append(
            {
                k: (None if v is pd.NA or (isinstance(v, float) and np.isnan(v)) else v)
                for k, v in rec.items()
            }
        )
    return out


def tension_sentence_fr(tension: pd.DataFrame) -> str:
    """One plain French sentence on the territory's pressure (published values only)."""
    from allocation_analysis.text import fmt_float, fmt_int, is_missing

    row = tension[(tension["commune"] == "ensemble") & (tension["typologie"] == ALL_TYPOLOGIES)]
    if row.empty or is_missing(row["ratio"].iloc[0]):
        return (
            "La tension du territoire n'est pas publiable (aucune attribution sur les "
            "12 derniers mois, ou effectifs soumis au secret statistique)."
        )
    r = row.iloc[0]
    return (
        f"Sur le territoire, {fmt_int(r['demandes'])} demandes étaient en attente le dernier "
        f"jour du semestre pour {fmt_int(r['attributions_12m'])} attributions sur les "
        f"12 derniers mois : {fmt_float(r['ratio'], digits=1)} demandes en attente pour "
        "une attribution."
    )


def pressure_at_start(
    access: pd.DataFrame, allocations: pd.DataFrame, period: Period | str
) -> pd.Series:
    """Log pressure of each demand's first choice at the start of the semester.

    ``log((d + 1) / (a + 1))`` for the demand's first-choice commune and
    requested typology, with ``d`` the demands of ``access`` filed before the
    semester (pending on its first day: the access frame holds the demands
    active in the semester) and ``a`` the leases of that commune and typology
    signed over the 12 months before the semester. Neither count uses the
    semester's outcomes. A cell without demand nor lease gives 0.

    Parameters
    ----------
    access : DataFrame
        Demands active in the semester (``commune_choix1``,
        ``typologie_demandee``, ``date_depot``).
    allocations : DataFrame
        Leases (``commune_logement``, ``typologie``, ``date_bail``).
    period : Period or str
        The semester.

    Returns
    -------
    Series
        One value per row of ``access``, same index.
    """
    period = Period.parse(period)
    start = pd.Timestamp(period.start)
    filed = pd.to_datetime(access["date_depot"]) < start
    before = access[filed.fillna(False).to_numpy()]
    dem = (
        pd.DataFrame(
            {
                "commune": before["commune_choix1"].astype("string").to_numpy(),
                "typologie": before["typologie_demandee"].astype("string").to_numpy(),
            }
        )
        .dropna()
        .value_counts()
        .rename("demandes")
    )
    leases = _leases_12m(allocations, period.previous())
    att = (
        pd.DataFrame(
            {
                "commune": leases["commune_logement"].astype("string").to_numpy(),
                "typologie": leases["typologie"].astype("string").to_numpy(),
            }
        )
        .dropna()
        .value_counts()
        .rename("attributions")
    )
    cells = pd.concat([dem, att], axis=1).fillna(0)
    log_ratio = np.log((cells["demandes"] + 1.0) / (cells["attributions"] + 1.0))
    key = pd.MultiIndex.from_arrays(
        [
            access["commune_choix1"].astype("string").to_numpy(),
            access["typologie_demandee"].astype("string").to_numpy(),
        ]
    )
    return pd.Series(log_ratio.reindex(key).fillna(0.0).to_numpy(), index=access.index)


def access_equal_pressure_tests(
    access: pd.DataFrame, allocations: pd.DataFrame, *, config: AnalysisConfig
) -> pd.DataFrame:
    """Access gaps at equal pressure of the first-choice commune.

    Logistic regression of access in the semester on the group, the household
    controls of the access models
    (:data:`allocation_analysis.analysis.ACCESS_CONTROLS`) and the pressure of
    the demand's first-choice commune for its requested typology at the start
    of the semester (:func:`pressure_at_start`, counts before disclosure
    control: the model is not a table); clusters = first-choice commune. The
    published tension (pending demands at the end of the semester) is not the
    control: it counts the demands the semester did not house, so it would be
    built from the outcome it is meant to explain. Unlike the access models of the report, the first-choice
    commune is not a fixed effect (the pressure would be collinear with it):
    the question is whether a gap remains once groups are compared at equal
    pressure, so that a gap is not read where groups simply ask for tighter
    communes.

    Returns
    -------
    DataFrame
        :func:`allocation_analysis.analysis.results_frame` of the tests
        ``access_equal_pressure_<origin|residence>_logit`` (outcome
        ``access_equal_pressure``), with the average marginal effects.
    """
    from allocation_analysis.analysis import ACCESS_CONTROLS

    period = Period.parse(config.period)
    frame = access.copy()
    frame[PRESSURE_CONTROL] = pressure_at_start(access, allocations, period).to_numpy()
    frame["_acces"] = frame["access"].astype(int)
    records = _records(
        frame,
        outcome="access_equal_pressure",
        outcome_column="_acces",
        controls=(*ACCESS_CONTROLS, PRESSURE_CONTROL),
        config=config,
        with_rates=False,
    )
    return _with_marginal_effects(records, config=config)


# --------------------------------------------------------------------------- display (report)
def _points(value: Any) -> str:
    from allocation_analysis.narrative import _fmt_estimate

    return _fmt_estimate("rate_difference", value)


def _with_interval(value: Any, low: Any, high: Any, fmt: Any) -> str:
    from allocation_analysis.text import MISSING, is_missing

    if is_missing(value):
        return MISSING
    if is_missing(low) or is_missing(high):
        return fmt(value)
    return f"{fmt(value)} ({fmt(low)} à {fmt(high)})"


def abnormal_delay_display(table: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """French view of the published :func:`abnormal_delay_table` for the report.

    ``alpha`` names the level of the intervals in the header (« IC 95 % »).
    """
    from allocation_analysis.labels import label
    from allocation_analysis.narrative import ci_label_fr
    from allocation_analysis.text import fmt_int, fmt_pct, is_missing

    rows = []
    for rec in table.to_dict(orient="records"):
        group = "Ensemble" if is_missing(rec["groupe"]) else label(rec["groupe"], "group_short")
        rows.append(
            {
                "Axe": rec["axe"],
                "Groupe": group,
                "Demandes en attente": fmt_int(rec["en_attente"]),
                "Dont délai anormalement long": fmt_int(rec["delai_depasse"]),
                f"Part ({ci_label_fr(alpha)})": _with_interval(
                    rec["part"], rec["ci_low"], rec["ci_high"], fmt_pct
                ),
            }
        )
    return pd.DataFrame(rows)


def abnormal_delay_tests_display(tests: pd.DataFrame, *, alpha: float = 0.05) -> pd.DataFrame:
    """French view of :func:`abnormal_delay_tests`: raw and adjusted gaps side by side.

    One row per comparison: the raw gap (share of the group minus share of the
    reference, points, with its interval), the adjusted gap (average marginal
    effect of the logit, points, with its interval), the adjusted odds ratio
    and its p-value adjusted for multiple testing (Benjamini–Hochberg over the
    raw and adjusted comparisons of this question). ``alpha`` names the level
    of the intervals in the headers.
    """
    from allocation_analysis.labels import label
    from allocation_analysis.narrative import ci_label_fr
    from allocation_analysis.text import MISSING, fmt_float, fmt_p

    ci = ci_label_fr(alpha)
    rows = []
    for g in _groupings():
        for cmp in g.compared:
            sel = tests["group"] == cmp
            raw = tests[sel & tests["id"].str.endswith("_rates")]
            adj = tests[sel & tests["id"].str.endswith("_logit")]
            r = raw.iloc[0] if len(raw) else None
            a = adj.iloc[0] if len(adj) else None
            rows.append(
                {
                    "Groupe comparé": label(cmp, "group_short"),
                    "Référence": label(g.reference, "group_short"),
                    f"Écart brut ({ci})": MISSING
                    if r is None
                    else _with_interval(r["estimate"], r["ci_low"], r["ci_high"], _points),
                    f"Écart ajusté ({ci})": MISSING
                    if a is None
                    else _with_interval(a["ame"], a["ame_ci_low"], a["ame_ci_high"], _points),
                    f"Rapport de cotes ajusté ({ci})": MISSING
                    if a is None
                    else _with_interval(
                        a["estimate"],
                        a["ci_low"],
                        a["ci_high"],
                        lambda v: fmt_float(v, digits=2),
                    ),
                    "p ajustée": MISSING if a is None else fmt_p(a["p_adjusted"]),
                }
            )
    return pd.DataFrame(rows)


def abnormal_delay_sentence_fr(table: pd.DataFrame, *, config: AnalysisConfig) -> str:
    """One plain French sentence on the share of pending demands beyond the threshold."""
    from allocation_analysis.text import fmt_int, fmt_pct, is_missing

    period = Period.parse(config.period)
    value = config.delai_anormal
    beyond = (
        "au-delà du délai fixé pour la typologie demandée"
        if isinstance(value, dict)
        else f"depuis plus de {fmt_int(value)} mois"
    )
    row = table.iloc[0]
    if is_missing(row["en_attente"]) or is_missing(row["part"]):
        return "La part des demandes en délai anormalement long n'est pas publiable ce semestre."
    return (
        f"Le {period.end.day} {_MONTHS_FR[period.end.month]} {period.end.year}, "
        f"{fmt_int(row['en_attente'])} demandes étaient en attente ; "
        f"{fmt_pct(row['part'])} d'entre elles attendaient {beyond} "
        "(délai anormalement long)."
    )


_MONTHS_FR = {6: "juin", 12: "décembre"}


def tension_display(tension: pd.DataFrame, communes: Any = None, *, top: int = 10) -> pd.DataFrame:
    """French view of the published tension: the territory by typology, then the tightest communes.

    Parameters
    ----------
    tension : DataFrame
        Published :func:`tension_table`.
    communes : GeoDataFrame, optional
        ``insee_com`` and ``nom``: commune names instead of codes.
    top : int
        Number of communes shown (highest published ratios, all typologies); the
        full table is in ``tables/tension.csv`` and the workbook.
    """
    from allocation_analysis.text import fmt_float, fmt_int

    names: dict[str, str] = {}
    if communes is not None:
        names = dict(zip(communes["insee_com"].astype(str), communes["nom"], strict=False))
    terr = tension[tension["commune"] == "ensemble"].copy()
    terr["_order"] = (terr["typologie"] == ALL_TYPOLOGIES).astype(int)
    terr = terr.sort_values(["_order", "typologie"], kind="stable")
    comm = tension_map_frame(tension)
    comm = comm[comm["ratio"].notna().to_numpy()].sort_values(
        ["ratio", "commune"], ascending=[False, True], kind="stable"
    )
    rows = []
    for rec in terr.to_dict(orient="records"):
        typ = "toutes typologies" if rec["typologie"] == ALL_TYPOLOGIES else rec["typologie"]
        rows.append(("Territoire", typ, rec))
    for rec in comm.head(top).to_dict(orient="records"):
        rows.append((names.get(str(rec["commune"]), str(rec["commune"])), "toutes typologies", rec))
    return pd.DataFrame(
        [
            {
                "Commune": where,
                "Typologie": typ,
                "Demandes en attente (1er choix)": fmt_int(rec["demandes"]),
                "Attributions sur 12 mois": fmt_int(rec["attributions_12m"]),
                "Demandes par attribution": fmt_float(rec["ratio"], digits=1),
            }
            for where, typ, rec in rows
        ]
    )
