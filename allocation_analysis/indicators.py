"""Legal allocation indicators of the Convention Intercommunale d'Attribution (CIA).

The semi-annual analysis reports the territory's legal allocation obligations
(CCH L441-1 as amended by the loi Égalité et Citoyenneté, 2017, art. 70, and
the loi ELAN, 2018). Each indicator is a count of signed leases over a count of
signed leases, computed from the prepared allocations frame of
``docs/data-model.md`` §2 (one row per signed lease). This module never
recomputes first-quartile or QPV status: ``q1`` and ``logement_en_qpv`` are
decided upstream by :func:`allocation_analysis.derive.prepare_allocations`.

Indicators (``id``)
-------------------
``q1_hors_qpv``
    Leases of dwellings outside QPV to first-quartile households **or** to
    households rehoused by urban renewal (``relogement_anru``), over leases of
    dwellings outside QPV. Target 25 % (fixed by law).
``non_q1_en_qpv``
    Leases of dwellings in QPV to households not in the first quartile, over
    leases of dwellings in QPV. Target 50 % by default (the CIA may set another:
    ``AnalysisConfig.target_non_q1_en_qpv``).
``prioritaires_action_logement``, ``prioritaires_collectivite``, ``prioritaires_bailleur``
    Leases charged to that reservataire to DALO or priority households
    (``prioritaire_ou_dalo``), over leases charged to it. Target 25 %. Leases
    charged to ``etat`` or ``autre`` enter no ``prioritaires_*`` indicator.

Windows (``window``)
--------------------
``semester``
    The period, by ``date_bail``, both ends inclusive (30 June is S1, 1 July S2).
``rolling_12m``
    From the first day of the previous semester to ``period.end``, both
    inclusive (2025-S2: 2025-01-01 → 2025-12-31; 2025-S1: 2024-07-01 →
    2025-06-30).

Scopes (``scope`` / ``scope_value``)
------------------------------------
``territory`` (``scope_value`` missing), ``commune`` (INSEE code of the
dwelling, ``commune_logement``), ``bailleur`` (``bailleur_siren``),
``reservataire`` (the five contract values, always all listed, so that a
reservataire with no lease shows a row with denominator 0) and ``mutation``
(``premiere_attribution`` / ``mutation``: an extension of the results contract, whose
scopes list stops at ``reservataire``). Communes and landlords are those with at
least one lease in the union of the requested windows; every indicator and
window gets the same list, so a commune with no lease outside QPV shows a row
with denominator 0. The ``reservataire`` scope is not produced for the
``prioritaires_*`` indicators (their denominator is already one reservataire:
the breakdown would repeat the territory row and add empty rows).

Status codes (``status``)
-------------------------
``atteint``
    share ≥ target.
``non_atteint_significatif``
    share < target and the exact two-sided binomial test against the target
    gives p < alpha.
``non_atteint_non_significatif``
    share < target, p ≥ alpha: the gap may be chance.
``sans_objet``
    denominator 0 (no lease: « aucune attribution »).
``non_diffuse``
    set by :func:`allocation_analysis.privacy.protect_indicators` when the share
    is suppressed by disclosure control.
``non_atteint`` (and ``atteint``) on a row whose share is suppressed
    set by :func:`allocation_analysis.privacy.release_masked_statuses` when the
    denominator is published and saying whether the share reaches the target
    lets no count be recovered (no significance: the p-value is not published).
``non_atteint_nettement``, ``non_atteint_en_dessous``, ``non_atteint_legerement``
    the same with how far below the target (:data:`SHORTFALL_BANDS`), on the
    territory rows of the analysed semester, when that too is safe.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.errors import AnalysisError, UsageError
from allocation_analysis.labels import RESERVATAIRE_IN_FR as _RESERVATAIRE_FR
from allocation_analysis.labels import STATUS_LABELS_FR
from allocation_analysis.stats.rates import wilson_interval
from allocation_analysis.text import SECRET_FR, fmt_date, fmt_int, fmt_pct

__all__ = [
    "INDICATOR_IDS",
    "INDICATOR_COLUMNS",
    "RESERVATAIRES",
    "SCOPES",
    "STATUS_LABELS_FR",
    "WINDOWS",
    "compute_indicators",
    "exact_funnel_limit",
    "funnel_data",
    "sentence_fr",
    "sentences_fr",
    "trend_table",
    "trend_tests",
    "trend_tests_display",
]

logger = logging.getLogger(__name__)

INDICATOR_IDS: tuple[str, ...] = (
    "q1_hors_qpv",
    "non_q1_en_qpv",
    "prioritaires_action_logement",
    "prioritaires_collectivite",
    "prioritaires_bailleur",
)
"""Indicator ids, in report order."""

WINDOWS: tuple[str, ...] = ("semester", "rolling_12m")
SCOPES: tuple[str, ...] = ("territory", "commune", "bailleur", "reservataire", "mutation")
RESERVATAIRES: tuple[str, ...] = ("etat", "action_logement", "collectivite", "bailleur", "autre")
"""Contract values of ``reservataire`` (all listed in the ``reservataire`` scope)."""

MUTATION_VALUES: tuple[str, ...] = ("premiere_attribution", "mutation")

INDICATOR_COLUMNS: tuple[str, ...] = (
    "id",
    "scope",
    "scope_value",
    "window",
    "period",
    "window_start",
    "window_end",
    "numerator",
    "denominator",
    "share",
    "ci_low",
    "ci_high",
    "target",
    "p_value_vs_target",
    "status",
    "suppressed",
)
"""Columns of the indicators frame, one row per ``indicators`` entry of results.json."""

_PRIORITAIRES = {f"prioritaires_{r}": r for r in ("action_logement", "collectivite", "bailleur")}

_REQUIRED = (
    "date_bail",
    "commune_logement",
    "bailleur_siren",
    "reservataire",
    "logement_en_qpv",
    "q1",
    "prioritaire_ou_dalo",
    "mutation",
)


# --------------------------------------------------------------------------- statistics


@lru_cache(maxsize=65536)
def _binom_p(k: int, n: int, p: float) -> float:
    return float(stats.binomtest(k, n, p, alternative="two-sided").pvalue)


def _status(k: int, n: int, share: float, target: float, p_value: float, alpha: float) -> str:
    if n == 0:
        return "sans_objet"
    if share >= target:
        return "atteint"
    return "non_atteint_significatif" if p_value < alpha else "non_atteint_non_significatif"


SHORTFALL_BANDS: tuple[tuple[float, str], ...] = (
    (0.10, "non_atteint_nettement"),
    (0.05, "non_atteint_en_dessous"),
    (0.0, "non_atteint_legerement"),
)
"""How far a share is below its target, in words: (bound, status code), largest first.

A shortfall (target − share) above 0.10 is « nettement en dessous », from 0.05
to 0.10 « en dessous », below 0.05 « légèrement en dessous ». The synthesis
page says it of every obligation not met; where the share is masked, the code
is released only when the interval it gives lets no count be recovered
(:func:`allocation_analysis.privacy.release_masked_statuses`)."""

NOT_MET_STATUSES: frozenset[str] = frozenset(
    {
        "non_atteint",
        "non_atteint_significatif",
        "non_atteint_non_significatif",
        *(code for _, code in SHORTFALL_BANDS),
    }
)
"""Every status code meaning that the share is below its target."""


def shortfall_band(share: float, target: float) -> str | None:
    """Status code of :data:`SHORTFALL_BANDS` for a share below its target (None if met)."""
    gap = target - share
    if gap <= 0:
        return None
    for bound, code in SHORTFALL_BANDS:
        if gap > bound:
            return code
    return SHORTFALL_BANDS[-1][1]  # pragma: no cover - gap > 0 meets the last bound


# --------------------------------------------------------------------------- helpers


def _check_choice(name: str, values: Iterable[str], allowed: Sequence[str]) -> tuple[str, ...]:
    if isinstance(values, str):
        values = (values,)
    values = tuple(values)
    bad = [v for v in values if v not in allowed]
    if bad or not values:
        raise UsageError(
            f"Valeur(s) invalide(s) pour {name} : {', '.join(map(repr, bad)) or '(vide)'}. "
            f"Valeurs permises : {', '.join(allowed)}."
        )
    return values


def _as_bool(series: pd.Series, name: str, *, na_value: bool | None) -> pd.Series:
    s = series.astype("boolean")
    if s.isna().any():
        if na_value is None:
            raise AnalysisError(
                f"Indicateurs : la colonne « {name} » contient {int(s.isna().sum())} valeur(s) "
                "manquante(s) ; elle doit être entièrement renseignée par la préparation des données."
            )
        s = s.fillna(na_value)
    return s.astype(bool)


def _window_bounds(period: Period, window: str) -> tuple[dt.date, dt.date]:
    if window == "semester":
        return period.start, period.end
    return period.rolling_start, period.end


def _targets(config: AnalysisConfig, targets: Mapping[str, float] | None) -> dict[str, float]:
    out = {
        "q1_hors_qpv": config.target_q1_hors_qpv,
        "non_q1_en_qpv": config.target_non_q1_en_qpv,
    }
    for ind in _PRIORITAIRES:
        out[ind] = config.target_prioritaires
    for key, value in (targets or {}).items():
        if key not in out:
            raise UsageError(
                f"Indicateur inconnu dans targets : {key!r}. Valeurs permises : {', '.join(out)}."
            )
        if not 0 < float(value) < 1:
            raise UsageError(f"La cible de {key} doit être comprise entre 0 et 1 (reçu {value}).")
        out[key] = float(value)
    return out


def _prepare(allocations: pd.DataFrame) -> pd.DataFrame:
    missing = [c for c in _REQUIRED if c not in allocations.columns]
    if missing:
        raise AnalysisError(
            "Indicateurs : colonne(s) absente(s) du tableau des attributions préparé : "
            + ", ".join(missing)
        )
    df = pd.DataFrame(index=allocations.index)
    df["date"] = pd.to_datetime(allocations["date_bail"]).dt.normalize()
    if df["date"].isna().any():
        raise AnalysisError(
            f"Indicateurs : {int(df['date'].isna().sum())} bail(aux) sans date_bail."
        )
    df["commune"] = allocations["commune_logement"].astype("string")
    df["bailleur"] = allocations["bailleur_siren"].astype("string")
    df["reservataire"] = allocations["reservataire"].astype("string")
    df["en_qpv"] = _as_bool(allocations["logement_en_qpv"], "logement_en_qpv", na_value=None)
    df["q1"] = _as_bool(allocations["q1"], "q1", na_value=None)
    df["prio"] = _as_bool(allocations["prioritaire_ou_dalo"], "prioritaire_ou_dalo", na_value=None)
    if "relogement_anru" in allocations.columns:
        df["anru"] = _as_bool(allocations["relogement_anru"], "relogement_anru", na_value=False)
    else:
        df["anru"] = False
    mut = allocations["mutation"].astype("boolean")
    if mut.isna().any():
        logger.warning(
            "%d bail(aux) sans statut de mutation : absents de la ventilation par mutation.",
            int(mut.isna().sum()),
        )
    df["mutation"] = pd.Series(
        np.where(mut.isna(), None, np.where(mut.fillna(False), "mutation", "premiere_attribution")),
        index=df.index,
        dtype="string",
    )
    return df


def _indicator_masks(df: pd.DataFrame, ind: str) -> tuple[pd.Series, pd.Series]:
    """(denominator mask, numerator mask) of one indicator over prepared rows."""
    if ind == "q1_hors_qpv":
        base = ~df["en_qpv"]
        return base, base & (df["q1"] | df["anru"])
    if ind == "non_q1_en_qpv":
        base = df["en_qpv"]
        return base, base & ~df["q1"]
    base = df["reservataire"].eq(_PRIORITAIRES[ind]).fillna(False).astype(bool)
    return base, base & df["prio"]


# --------------------------------------------------------------------------- main API


def compute_indicators(
    allocations: pd.DataFrame,
    *,
    period: Period | str,
    config: AnalysisConfig | None = None,
    targets: Mapping[str, float] | None = None,
    windows: Sequence[str] = WINDOWS,
    scopes: Sequence[str] = SCOPES,
    indicator_ids: Sequence[str] = INDICATOR_IDS,
) -> pd.DataFrame:
    """Legal CIA indicators of one semester, for every window and scope.

    Parameters
    ----------
    allocations : DataFrame
        Prepared allocations (``docs/data-model.md`` §2): one row per signed
        lease with ``date_bail``, ``commune_logement``, ``bailleur_siren``,
        ``reservataire``, ``logement_en_qpv``, ``q1``, ``prioritaire_ou_dalo``,
        ``mutation`` and (optional, missing = no) ``relogement_anru``.
    period : Period or str
        The semester (``"2025-S2"``).
    config : AnalysisConfig, optional
        Targets and ``alpha``; defaults of :class:`AnalysisConfig` when omitted.
    targets : mapping, optional
        Target per indicator id, overriding ``config``.
    windows : sequence of str
        Among ``"semester"``, ``"rolling_12m"``.
    scopes : sequence of str
        Among ``"territory"``, ``"commune"``, ``"bailleur"``, ``"reservataire"``,
        ``"mutation"``.
    indicator_ids : sequence of str
        Indicators to compute (all by default).

    Returns
    -------
    DataFrame
        Columns :data:`INDICATOR_COLUMNS`, one row per indicator × window ×
        scope value: ``numerator``/``denominator`` (``Int64``), ``share``,
        Wilson 95 % ``ci_low``/``ci_high``, ``target``, exact two-sided
        binomial ``p_value_vs_target``, ``status`` (see the module docstring),
        ``suppressed`` (all ``False``; see
        :func:`allocation_analysis.privacy.protect_indicators`). Rows with a
        denominator of 0 have NaN share, bounds and p-value and status
        ``sans_objet``.

    References
    ----------
    .. [1] Code de la construction et de l'habitation, art. L441-1 (loi
       n° 2017-86 Égalité et Citoyenneté, art. 70 ; loi n° 2018-1021 ELAN).
    .. [2] Wilson, E. B. (1927). Probable inference, the law of succession, and
       statistical inference. *JASA* 22(158), 209–212.
    .. [3] Clopper, C. J. and Pearson, E. S. (1934) for the exact binomial test as
       implemented by R ``binom.test`` and :func:`scipy.stats.binomtest`.
    """
    period = Period.parse(period)
    config = config or AnalysisConfig(period=period)
    windows = _check_choice("windows", windows, WINDOWS)
    scopes = _check_choice("scopes", scopes, SCOPES)
    indicator_ids = _check_choice("indicator_ids", indicator_ids, INDICATOR_IDS)
    target_of = _targets(config, targets)
    df = _prepare(allocations)

    bounds = {w: _window_bounds(period, w) for w in windows}
    in_window = {
        w: df["date"].between(pd.Timestamp(a), pd.Timestamp(b), inclusive="both")
        for w, (a, b) in bounds.items()
    }
    any_window = np.logical_or.reduce([m.to_numpy() for m in in_window.values()])
    used = df[any_window]
    values_of: dict[str, list[Any]] = {
        "territory": [pd.NA],
        "commune": sorted(used["commune"].dropna().unique().tolist()),
        "bailleur": sorted(used["bailleur"].dropna().unique().tolist()),
        "reservataire": list(RESERVATAIRES)
        + sorted(set(used["reservataire"].dropna()) - set(RESERVATAIRES)),
        "mutation": list(MUTATION_VALUES),
    }
    key_col = {s: s for s in ("commune", "bailleur", "reservataire", "mutation")}

    records: list[dict[str, Any]] = []
    for ind in indicator_ids:
        base, success = _indicator_masks(df, ind)
        for w in windows:
            sub_base = base & in_window[w]
            sub_success = success & in_window[w]
            for scope in scopes:
                if scope == "reservataire" and ind in _PRIORITAIRES:
                    continue
                if scope == "territory":
                    counts = [(pd.NA, int(sub_base.sum()), int(sub_success.sum()))]
                else:
                    col = df[key_col[scope]]
                    dens = col[sub_base].value_counts(dropna=True).to_dict()
                    nums = col[sub_success].value_counts(dropna=True).to_dict()
                    counts = [
                        (v, int(dens.get(v, 0)), int(nums.get(v, 0))) for v in values_of[scope]
                    ]
                for value, n, k in counts:
                    records.append(
                        {
                            "id": ind,
                            "scope": scope,
                            "scope_value": value,
                            "window": w,
                            "period": period.label,
                            "window_start": pd.Timestamp(bounds[w][0]),
                            "window_end": pd.Timestamp(bounds[w][1]),
                            "numerator": k,
                            "denominator": n,
                            "target": target_of[ind],
                        }
                    )
    return _finish(records, alpha=config.alpha)


def _finish(records: list[dict[str, Any]], *, alpha: float) -> pd.DataFrame:
    out = pd.DataFrame.from_records(records, columns=[c for c in INDICATOR_COLUMNS])
    if out.empty:
        return _typed(out)
    k = out["numerator"].to_numpy(dtype=float)
    n = out["denominator"].to_numpy(dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out["share"] = np.where(n > 0, k / n, np.nan)
    bounds = [wilson_interval(ki, ni) for ki, ni in zip(k, n, strict=True)]
    out["ci_low"] = [lo for lo, _ in bounds]
    out["ci_high"] = [hi for _, hi in bounds]
    pvals, status = [], []
    for ki, ni, si, ti in zip(
        out["numerator"], out["denominator"], out["share"], out["target"], strict=True
    ):
        p = _binom_p(int(ki), int(ni), float(ti)) if ni > 0 else math.nan
        pvals.append(p)
        status.append(_status(int(ki), int(ni), si, float(ti), p, alpha))
    out["p_value_vs_target"] = pvals
    out["status"] = status
    out["suppressed"] = False
    return _typed(out)


def _typed(out: pd.DataFrame) -> pd.DataFrame:
    out = out.copy()
    for c in ("id", "scope", "scope_value", "window", "period", "status"):
        out[c] = out[c].astype("string")
    for c in ("window_start", "window_end"):
        out[c] = pd.to_datetime(out[c]).astype("datetime64[ns]")
    for c in ("numerator", "denominator"):
        out[c] = out[c].astype("Int64")
    for c in ("share", "ci_low", "ci_high", "target", "p_value_vs_target"):
        out[c] = out[c].astype("float64")
    out["suppressed"] = out["suppressed"].astype(bool)
    return out[list(INDICATOR_COLUMNS)].reset_index(drop=True)


def trend_table(
    allocations: pd.DataFrame,
    *,
    periods: Sequence[Period | str] | None = None,
    config: AnalysisConfig | None = None,
    targets: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """Territory indicators for a series of semesters, oldest first.

    Parameters
    ----------
    allocations : DataFrame
        Prepared allocations (see :func:`compute_indicators`).
    periods : sequence of Period or str, optional
        Semesters to report. By default every semester holding at least one
        lease; the ``rolling_12m`` row of a semester is then given only when the
        previous semester also holds a lease (otherwise the 12 months would be
        half empty and the figure misleading).
    config : AnalysisConfig, optional
        Targets and ``alpha``.
    targets : mapping, optional
        Target per indicator id, overriding ``config``.

    Returns
    -------
    DataFrame
        Columns :data:`INDICATOR_COLUMNS`, scope ``territory`` only, sorted by
        period, then indicator (report order), then window.
    """
    dates = pd.to_datetime(allocations["date_bail"]).dropna()
    halves = pd.DataFrame({"y": dates.dt.year, "h": np.where(dates.dt.month <= 6, 1, 2)})
    present = sorted(Period(int(y), int(h)) for y, h in halves.drop_duplicates().itertuples(False))
    if periods is None:
        chosen = present
        explicit = False
    else:
        chosen = sorted(Period.parse(p) for p in periods)
        explicit = True
    frames = []
    for p in chosen:
        wins: tuple[str, ...] = WINDOWS if explicit or p.previous() in present else ("semester",)
        cfg = config.with_(period=p) if config is not None else AnalysisConfig(period=p)
        frames.append(
            compute_indicators(
                allocations,
                period=p,
                config=cfg,
                targets=targets,
                windows=wins,
                scopes=("territory",),
            )
        )
    if not frames:
        return _typed(pd.DataFrame(columns=list(INDICATOR_COLUMNS)))
    out = pd.concat(frames, ignore_index=True)
    order_id = {k: i for i, k in enumerate(INDICATOR_IDS)}
    order_w = {k: i for i, k in enumerate(WINDOWS)}
    out = out.assign(
        _p=out["period"], _i=out["id"].map(order_id), _w=out["window"].map(order_w)
    ).sort_values(["_p", "_i", "_w"], kind="stable")
    return out.drop(columns=["_p", "_i", "_w"]).reset_index(drop=True)


# --------------------------------------------------------------------------- funnel plot


def exact_funnel_limit(n: Any, target: float, prob: float) -> np.ndarray:
    """Exact binomial control limit of a funnel plot, with Spiegelhalter's interpolation.

    Parameters
    ----------
    n : array-like of int
        Denominators (≥ 1).
    target : float
        Target proportion :math:`\\theta` around which the funnel is drawn.
    prob : float
        Lower-tail probability of the limit: 0.025 / 0.975 for the 95 % limits,
        0.001 / 0.999 for the 99.8 % limits.

    Returns
    -------
    ndarray of float
        The limit as a proportion, clipped to [0, 1].

    Notes
    -----
    Let :math:`r_p` be the smallest integer with :math:`F(r_p) \\ge p`, where
    :math:`F` is the Binomial(:math:`n`, :math:`\\theta`) distribution function
    (``scipy.stats.binom.ppf``). The discrete quantile is smoothed by
    :math:`\\alpha = \\frac{F(r_p) - p}{F(r_p) - F(r_p - 1)}` and the limit is
    :math:`(r_p - \\alpha)/n` (Spiegelhalter 2005, appendix A.1.1). For very
    small :math:`n` the lower limit can fall below 0 (and the upper above 1):
    it is clipped.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
       performance. *Statistics in Medicine* 24(8), 1185–1202.
    """
    n_arr = np.asarray(n, dtype=float)
    r = stats.binom.ppf(prob, n_arr, target)
    f_r = stats.binom.cdf(r, n_arr, target)
    f_rm1 = stats.binom.cdf(r - 1, n_arr, target)
    with np.errstate(divide="ignore", invalid="ignore"):
        alpha = np.where(f_r > f_rm1, (f_r - prob) / (f_r - f_rm1), 0.0)
        limit = (r - alpha) / n_arr
    return np.clip(limit, 0.0, 1.0)


def funnel_data(
    indicators: pd.DataFrame,
    *,
    indicator_id: str,
    scope: str = "commune",
    window: str = "semester",
    period: Period | str | None = None,
    target: float | None = None,
    n_grid: int = 200,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Points and control limits of a funnel plot (share vs denominator).

    Parameters
    ----------
    indicators : DataFrame
        Output of :func:`compute_indicators` (optionally after
        :func:`allocation_analysis.privacy.protect_indicators`).
    indicator_id : str
        Indicator to plot.
    scope : str
        Units plotted (``"commune"`` or ``"bailleur"`` usually).
    window : str
        ``"semester"`` or ``"rolling_12m"``.
    period : Period or str, optional
        Needed only when ``indicators`` holds several periods.
    target : float, optional
        Centre of the funnel; the indicator's target by default.
    n_grid : int
        Number of denominators in the grid of limits (integers from 1 to
        1.1 × the largest denominator, evenly spread, always including every
        integer up to 50).

    Returns
    -------
    points : DataFrame
        ``scope_value, denominator, numerator, share, outside_95, outside_998``
        for the units with a published share (units with denominator 0 or a
        suppressed share are left out). ``outside_95`` is True when the share
        lies strictly outside the 95 % limits at its own denominator.
    limits : DataFrame
        ``denominator, target, lower_95, upper_95, lower_998, upper_998``.

    Notes
    -----
    The limits are exact binomial limits around the target with the
    interpolation of Spiegelhalter (2005), see :func:`exact_funnel_limit`.

    References
    ----------
    .. [1] Spiegelhalter, D. J. (2005). Funnel plots for comparing institutional
       performance. *Statistics in Medicine* 24(8), 1185–1202.
    """
    sel = indicators[
        indicators["id"].eq(indicator_id)
        & indicators["scope"].eq(scope)
        & indicators["window"].eq(window)
    ]
    if period is not None:
        sel = sel[sel["period"].eq(Period.parse(period).label)]
    elif sel["period"].nunique() > 1:
        raise UsageError("funnel_data : le tableau contient plusieurs périodes ; précisez period=.")
    if target is None:
        targets = sel["target"].dropna().unique()
        if len(targets) != 1:
            raise UsageError(
                f"funnel_data : aucune cible unique pour {indicator_id!r} ; précisez target=."
            )
        target = float(targets[0])
    pts = sel[(sel["denominator"].fillna(0) > 0) & sel["share"].notna()]
    n_pts = pts["denominator"].astype(float).to_numpy()
    share = pts["share"].to_numpy(dtype=float)
    lim = {
        name: exact_funnel_limit(n_pts, target, prob)
        for name, prob in (("l95", 0.025), ("u95", 0.975), ("l998", 0.001), ("u998", 0.999))
    }
    points = pd.DataFrame(
        {
            "scope_value": pts["scope_value"].astype("string").to_numpy(),
            "denominator": pts["denominator"].astype("Int64").to_numpy(),
            "numerator": pts["numerator"].astype("Int64").to_numpy(),
            "share": share,
            "outside_95": (share < lim["l95"]) | (share > lim["u95"]),
            "outside_998": (share < lim["l998"]) | (share > lim["u998"]),
        }
    )
    n_max = int(max(50, math.ceil(1.1 * (n_pts.max() if len(n_pts) else 50))))
    grid = np.unique(
        np.concatenate(
            [np.arange(1, min(50, n_max) + 1), np.round(np.linspace(1, n_max, n_grid))]
        ).astype(int)
    )
    limits = pd.DataFrame(
        {
            "denominator": grid,
            "target": target,
            "lower_95": exact_funnel_limit(grid, target, 0.025),
            "upper_95": exact_funnel_limit(grid, target, 0.975),
            "lower_998": exact_funnel_limit(grid, target, 0.001),
            "upper_998": exact_funnel_limit(grid, target, 0.999),
        }
    )
    return points, limits


# --------------------------------------------------------------------------- sentences

_WHAT_FR = {
    "q1_hors_qpv": (
        "des attributions hors QPV",
        "sont allées à des ménages du 1er quartile ou relogés dans le cadre du "
        "renouvellement urbain",
        "l'objectif légal",
    ),
    "non_q1_en_qpv": (
        "des attributions en QPV",
        "sont allées à des ménages hors du 1er quartile",
        "l'objectif fixé par la CIA",
    ),
    "prioritaires_action_logement": (
        "des attributions sur le contingent d'Action Logement",
        "sont allées à des ménages prioritaires ou reconnus DALO",
        "l'objectif légal",
    ),
    "prioritaires_collectivite": (
        "des attributions sur le contingent des collectivités",
        "sont allées à des ménages prioritaires ou reconnus DALO",
        "l'objectif légal",
    ),
    "prioritaires_bailleur": (
        "des attributions sur le contingent propre des bailleurs",
        "sont allées à des ménages prioritaires ou reconnus DALO",
        "l'objectif légal",
    ),
}


def _date_fr(d: Any) -> str:
    return fmt_date(d)


def _window_fr(row: Mapping[str, Any]) -> str:
    if row["window"] == "semester":
        return "Au " + Period.parse(str(row["period"])).label_fr
    return f"Sur les 12 mois du {_date_fr(row['window_start'])} au {_date_fr(row['window_end'])}"


def _scope_fr(row: Mapping[str, Any], names: Mapping[str, str] | None) -> str:
    scope, value = row["scope"], row["scope_value"]
    if scope == "territory":
        return ""
    value = str(value)
    label = (names or {}).get(value)
    if scope == "commune":
        return f", dans la commune {f'de {label} ({value})' if label else value}"
    if scope == "bailleur":
        return f", chez le bailleur {f'{label} (SIREN {value})' if label else f'de SIREN {value}'}"
    if scope == "reservataire":
        return ", " + _RESERVATAIRE_FR.get(value, f"sur le contingent « {value} »")
    if scope == "mutation":
        return (
            ", pour les mutations" if value == "mutation" else ", pour les premières attributions"
        )
    return f", {scope} {value}"


def sentence_fr(row: Mapping[str, Any], *, names: Mapping[str, str] | None = None) -> str:
    """One plain French sentence for one indicator row.

    Parameters
    ----------
    row : mapping
        A row of the indicators frame (e.g. from ``DataFrame.iterrows``).
    names : mapping, optional
        Labels of communes / landlords by code, used in the sentence.

    Returns
    -------
    str
        E.g. « Au 2e semestre 2025, 20,2 % des attributions hors QPV (331 sur
        1 641) sont allées à des ménages du 1er quartile ou relogés dans le cadre
        du renouvellement urbain ; l'objectif légal est de 25 % ; l'écart est
        significatif. » Suppressed values read « non diffusé (secret
        statistique) ».
    """
    what, verb, goal = _WHAT_FR[str(row["id"])]
    head = _window_fr(row) + _scope_fr(row, names)
    den, num, share = row["denominator"], row["numerator"], row["share"]
    goal_txt = f"{goal} est de {fmt_pct(row['target'], digits=0)}"
    if not pd.isna(den) and int(den) == 0:
        return f"{head}, aucune attribution : la part {what} est sans objet."
    if bool(row.get("suppressed", False)) and pd.isna(share):
        den_txt = "" if pd.isna(den) else f" (sur {fmt_int(den)})"
        met = {"atteint": "est atteint", "non_atteint": "n'est pas atteint"}.get(
            str(row.get("status"))
        )
        if met is not None:  # a status released without the count (privacy.release_masked_statuses)
            return (
                f"{head}, la part {what}{den_txt} qui {verb} n'est pas diffusée (secret "
                f"statistique) ; {goal} de {fmt_pct(row['target'], digits=0)} {met}."
            )
        return f"{head}, la part {what}{den_txt} qui {verb} : {SECRET_FR} ; {goal_txt}."
    status = str(row["status"])
    if status == "atteint":
        end = "l'objectif est atteint"
    elif status == "non_atteint_significatif":
        end = "l'écart est significatif"
    else:
        end = "l'écart n'est pas significatif"
    return (
        f"{head}, {fmt_pct(share)} {what} ({fmt_int(num)} sur {fmt_int(den)}) {verb} ; "
        f"{goal_txt} ; {end}."
    )


def sentences_fr(
    indicators: pd.DataFrame,
    *,
    scope: str | None = "territory",
    window: str | None = None,
    indicator_ids: Sequence[str] | None = None,
    names: Mapping[str, str] | None = None,
) -> list[str]:
    """Plain French sentences for the rows of an indicators frame.

    Parameters
    ----------
    indicators : DataFrame
        Output of :func:`compute_indicators` (after disclosure control for
        anything published).
    scope : str or None
        Keep only this scope (``None``: all rows).
    window : str or None
        Keep only this window (``None``: both).
    indicator_ids : sequence of str, optional
        Keep only these indicators.
    names : mapping, optional
        Labels of communes / landlords by code.

    Returns
    -------
    list of str
        One sentence per kept row, in the frame's order. See :func:`sentence_fr`.
    """
    sel = indicators
    if scope is not None:
        sel = sel[sel["scope"].eq(scope)]
    if window is not None:
        sel = sel[sel["window"].eq(window)]
    if indicator_ids is not None:
        sel = sel[sel["id"].isin(list(indicator_ids))]
    return [sentence_fr(r, names=names) for _, r in sel.iterrows()]


def trend_tests(
    trend: pd.DataFrame,
    published: pd.DataFrame,
    *,
    config: AnalysisConfig,
) -> pd.DataFrame:
    """Test for a trend of each territory indicator over the semesters of the data.

    For each indicator, the semester rows of ``trend`` up to the analysed
    semester (``config.period``) are tested with
    :func:`allocation_analysis.stats.trend_test`: logistic regression of the
    share on the semester index (odds ratio per semester, Wald interval and
    p-value; the Cochran–Armitage score test beside it). A semester without any
    lease is left out. The trend is « non calculable » with fewer than three
    semesters, and not published when a semester's count is masked by the
    statistical secret in ``published`` (the test would rest on an unpublished
    count).

    Parameters
    ----------
    trend : DataFrame
        :func:`trend_table` (raw counts).
    published : DataFrame
        The same after :func:`allocation_analysis.privacy.protect_indicators`.
    config : AnalysisConfig
        Analysed semester and ``alpha``.

    Returns
    -------
    DataFrame
        One row per indicator: ``id``, ``premier_semestre``, ``dernier_semestre``,
        ``n_semestres``, ``rapport_cotes_par_semestre``, ``ci_low``, ``ci_high``,
        ``p_value``, ``p_value_cochran_armitage``, ``conclusion`` (French,
        from the adjusted p-value), ``p_value_adjusted`` (Benjamini–Hochberg
        over the five obligations, one family).

    References
    ----------
    .. [1] Armitage, P. (1955). Tests for linear trends in proportions and
       frequencies. *Biometrics* 11(3), 375–386.
    """
    from allocation_analysis.change import (
        NOT_COMPUTABLE_SECRET,
        adjust_trend_family,
        semester_trend,
    )

    last = Period.parse(config.period)
    keys = ["id", "period"]
    rows = trend[(trend["scope"] == "territory") & (trend["window"] == "semester")]
    pub = published[(published["scope"] == "territory") & (published["window"] == "semester")]
    masked = pub.set_index(keys)[["numerator", "denominator"]].isna().any(axis=1)
    out = []
    for ind in INDICATOR_IDS:
        r = rows[rows["id"] == ind].copy()
        r["_p"] = [Period.parse(p) for p in r["period"]]
        r = r[[p <= last for p in r["_p"]]]
        r = r[pd.to_numeric(r["denominator"]) > 0].sort_values("period")
        hidden = [p for p in r["period"] if masked.get((ind, p), False)]
        # one computation of the trend (allocation_analysis.change.semester_trend)
        res = semester_trend(
            list(r["_p"]) if not hidden else [],
            pd.to_numeric(r["numerator"]).to_numpy(float) if not hidden else [],
            pd.to_numeric(r["denominator"]).to_numpy(float) if not hidden else [],
            alpha=config.alpha,
        )
        rec: dict[str, Any] = {
            "id": ind,
            "premier_semestre": r["period"].iloc[0] if len(r) else None,
            "dernier_semestre": r["period"].iloc[-1] if len(r) else None,
            "n_semestres": len(r),
            "rapport_cotes_par_semestre": res["trend_odds_ratio"],
            "ci_low": res["trend_ci_low"],
            "ci_high": res["trend_ci_high"],
            "p_value": res["trend_p_value"],
            "p_value_cochran_armitage": res["p_value_cochran_armitage"],
            "conclusion": res["trend_conclusion"],
        }
        if hidden and len(r) >= 3:
            rec["conclusion"] = NOT_COMPUTABLE_SECRET
        out.append(rec)
    table = pd.DataFrame(out)
    # the five obligations are one family (Benjamini-Hochberg), as in change.indicator_changes
    family = table.rename(
        columns={
            "p_value": "trend_p_value",
            "rapport_cotes_par_semestre": "trend_odds_ratio",
            "conclusion": "trend_conclusion",
        }
    ).assign(trend_p_value_adjusted=math.nan)
    adjust_trend_family(family, family.index, config.alpha)
    table["p_value_adjusted"] = family["trend_p_value_adjusted"].to_numpy()
    table["conclusion"] = family["trend_conclusion"].to_numpy()
    return table


def trend_tests_display(table: pd.DataFrame) -> pd.DataFrame:
    """A French view of :func:`trend_tests` for the report."""
    from allocation_analysis.labels import label
    from allocation_analysis.text import MISSING, fmt_float, fmt_p

    rows = []
    for rec in table.to_dict(orient="records"):
        ok = not pd.isna(rec["p_value"])
        rows.append(
            {
                "Obligation": label(rec["id"], "indicator"),
                "Semestres": (
                    f"du {Period.parse(rec['premier_semestre']).label_fr} au "
                    f"{Period.parse(rec['dernier_semestre']).label_fr} ({rec['n_semestres']})"
                    if rec["n_semestres"]
                    else MISSING
                ),
                "Rapport de cotes par semestre": (
                    f"{fmt_float(rec['rapport_cotes_par_semestre'], digits=3)} "
                    f"({fmt_float(rec['ci_low'], digits=3)} – {fmt_float(rec['ci_high'], digits=3)})"
                    if ok
                    else MISSING
                ),
                "p": fmt_p(rec["p_value"]) if ok else MISSING,
                "p ajustée (5 obligations)": (
                    fmt_p(rec["p_value_adjusted"])
                    if ok and not pd.isna(rec.get("p_value_adjusted"))
                    else MISSING
                ),
                "Conclusion": rec["conclusion"],
            }
        )
    return pd.DataFrame(rows)
