"""Table builders of the report: the published tables, curves and figure inputs.

Each builder takes the prepared frames (or the results table) and returns what
a notebook shows or the pipeline writes, with the statistical secret applied
through :mod:`allocation_analysis.privacy` (:func:`~allocation_analysis.privacy.small_counts`,
:func:`~allocation_analysis.privacy.protect_breakdown`,
:func:`~allocation_analysis.privacy.protect_row_sums`): descriptive counts of the
semester (:func:`overview_tables`), the input check (:func:`validation_tables`),
access gaps and placement by commune for the maps (:func:`commune_gaps`,
:func:`placement_by_commune`), Kaplan–Meier curves (:func:`km_curves`), the
forest plot's ratios (:func:`forest_frame`) and the ``indicators`` entries of
``results.json`` (:func:`indicator_entries`).

References
----------
.. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*. Wiley.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig
from allocation_analysis.plan import GROUPINGS, INTERSECTION, Grouping
from allocation_analysis.privacy import (
    protect_breakdown,
    protect_row_sums,
    secondary_suppression,
    small_counts,
)

__all__ = [
    "commune_gaps",
    "forest_frame",
    "indicator_entries",
    "km_curves",
    "overview_tables",
    "placement_by_commune",
    "validation_tables",
]


def overview_tables(
    access: pd.DataFrame, semester_allocations: pd.DataFrame, *, threshold: int
) -> dict[str, pd.DataFrame]:
    """Descriptive counts of the semester by origin and residence (secret applied).

    Returns frames ``population`` (group axis, value, active demands, allocations,
    access rate) ready to publish.
    """
    rows = []
    for g in GROUPINGS:
        act = access.groupby(g.column, observed=True).size()
        acc = access.groupby(g.column, observed=True)["access"].sum()
        allo = semester_allocations.groupby(g.column, observed=True).size()
        for level in [g.reference, *g.compared]:
            rows.append(
                {
                    "axe": g.label_fr,
                    "groupe": level,
                    "demandes_actives": int(act.get(level, 0)),
                    "demandes_satisfaites": int(acc.get(level, 0)),
                    "attributions_semestre": int(allo.get(level, 0)),
                }
            )
    pop = pd.DataFrame(rows)
    parts = []
    for _, sub in pop.groupby("axe", sort=False):
        parts.append(
            protect_breakdown(
                sub,
                ["demandes_actives", "demandes_satisfaites", "attributions_semestre"],
                threshold=threshold,
            )
        )
    pop = pd.concat(parts)
    pop["taux_acces"] = (pop["demandes_satisfaites"] / pop["demandes_actives"]).astype("Float64")
    return {"population": pop.reset_index(drop=True)}


def commune_gaps(
    access: pd.DataFrame,
    *,
    grouping: Grouping,
    compared: str,
    unit: str = "commune_choix1",
    config: AnalysisConfig,
) -> pd.DataFrame:
    """Per commune, the access-rate gap ``compared − reference`` with BH-adjusted p-values.

    Communes where either group has fewer demands than the secret threshold are
    kept with ``suppressed=True`` and no estimate.
    """
    from allocation_analysis import stats

    rows = []
    sub = access[access[grouping.column].isin([grouping.reference, compared])]
    for code, d in sub.groupby(unit, observed=True, sort=True):
        counts = d[grouping.column].value_counts()
        n_ref, n_cmp = int(counts.get(grouping.reference, 0)), int(counts.get(compared, 0))
        small = bool(
            small_counts([n_ref, n_cmp], threshold=config.secret_threshold, zero=True).any()
        )
        row = {
            "insee_com": str(code),
            "n": len(d),
            "suppressed": small,
            "estimate": np.nan,
            "ci_low": np.nan,
            "ci_high": np.nan,
            "p_value": np.nan,
        }
        if not small:
            r = stats.compare_rates(
                d,
                outcome="access",
                group=grouping.column,
                reference=grouping.reference,
                compared=compared,
                alpha=config.alpha,
            )
            row.update(estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, p_value=r.p_value)
        rows.append(row)
    frame = pd.DataFrame(
        rows, columns=["insee_com", "n", "suppressed", "estimate", "ci_low", "ci_high", "p_value"]
    )
    if frame.empty:
        frame["p_adjusted"] = []
        return frame
    frame["p_adjusted"] = np.asarray(
        stats.adjust_pvalues(frame["p_value"].astype(float).to_numpy(), method="fdr_bh"),
        dtype=float,
    )
    frame.loc[frame["suppressed"], "n"] = np.nan
    return frame


def placement_by_commune(
    semester_allocations: pd.DataFrame, *, config: AnalysisConfig
) -> pd.DataFrame:
    """Share of the semester's leases inside a QPV, by commune of the dwelling and origin group.

    Aggregated counts only (never one point per household); cells resting on
    fewer leases than the secret threshold are suppressed.
    """
    a = semester_allocations
    g = (
        a.groupby(["commune_logement", "nationalite"], observed=True)["logement_en_qpv"]
        .agg(n="size", en_qpv="sum")
        .reset_index()
        .rename(columns={"commune_logement": "insee_com", "nationalite": "group"})
    )
    g["share_qpv"] = g["en_qpv"] / g["n"]
    thr = config.secret_threshold
    g["suppressed"] = (
        small_counts(g["n"], threshold=thr, zero=True)  # the base of the share
        | small_counts(g["en_qpv"], threshold=thr)
        | small_counts(g["n"] - g["en_qpv"], threshold=thr)  # its complement
    )
    g.loc[g["suppressed"], ["share_qpv"]] = np.nan
    g["n"] = g["n"].astype("Float64").mask(g["suppressed"])
    return g.drop(columns=["en_qpv"])


def validation_tables(validation: dict, *, threshold: int) -> dict[str, pd.DataFrame]:
    """Published tables of the input check: row counts per file and reject reasons.

    The cells of a file's row are tied by ``read = accepted + rejected`` and the
    reject reasons of a file add up to (at least) its rejected rows, so masking
    a small cell alone would not hide it (``rejected = read - accepted``).
    Applied here (Hundepool et al. 2012, §4.3: secondary suppression):

    1. primary suppression: every count in ``[1, threshold - 1]``;
    2. within a file's row, when one cell is masked, the smallest other
       positive cell is masked too (``accepted`` when ``rejected`` is small),
       so that no difference of the two published ones gives it back;
    3. within a file's reject reasons, when one reason is masked, the next
       smallest positive reason is masked too; when there is none, the file's
       ``rejected`` (then rule 2 in the row) is masked.

    Masking is chosen over rounding: a rounded ``read`` minus an exact
    ``accepted`` would still bound ``rejected`` to a few values.
    """
    reasons = [
        {"table": t, "regle": rule, "lignes": n}
        for t, rules in sorted(validation.get("reasons", {}).items())
        for rule, n in sorted(rules.items())
    ]
    reasons_frame = pd.DataFrame(reasons, columns=["table", "regle", "lignes"])
    forced: set[Any] = set()
    if not reasons_frame.empty:
        v = pd.to_numeric(reasons_frame["lignes"])
        hide = small_counts(v, threshold=threshold)
        for t, rows in reasons_frame.groupby("table", sort=False).indices.items():
            h = hide[rows]
            if not secondary_suppression(v.to_numpy(dtype=float)[rows], h):
                forced.add(t)  # a file's only small reason: its rejected rows are hidden
            hide[rows] = h
        reasons_frame["lignes"] = v.astype("Float64").mask(hide)
    counts = pd.DataFrame(validation.get("counts", []))
    if not counts.empty:
        keep = [c for c in ("table", "read", "accepted", "rejected") if c in counts.columns]
        counts = counts[keep].rename(
            columns={"read": "lues", "accepted": "acceptees", "rejected": "rejetees"}
        )
        cols = [c for c in ("lues", "acceptees", "rejetees") if c in counts]
        force = (
            counts["table"].isin(forced).to_numpy()
            if "table" in counts
            else np.zeros(len(counts), bool)
        )
        if set(cols) == {"lues", "acceptees", "rejetees"}:  # lues = acceptees + rejetees
            counts = protect_row_sums(
                counts,
                total="lues",
                parts=["acceptees", "rejetees"],
                threshold=threshold,
                force=dict.fromkeys(np.flatnonzero(force), "rejetees"),
            )
        for col in cols:
            v = pd.to_numeric(counts[col], errors="coerce")
            counts[col] = v.astype("Float64").mask(small_counts(v, threshold=threshold))
    return {"controle_lignes": counts, "motifs_rejet": reasons_frame}


def forest_frame(frame: pd.DataFrame, *, crossed: bool = False) -> pd.DataFrame:
    """Odds/hazard ratios of the run, for a forest plot.

    The codes (``outcome``, ``group``, ``reference``, ``id``) are passed on:
    :func:`allocation_analysis.figures.forest_plot` labels them in French from
    :mod:`allocation_analysis.labels`.

    Parameters
    ----------
    frame : DataFrame
        :func:`results_frame`.
    crossed : bool, keyword-only
        The origin × residence comparisons (:data:`INTERSECTION`) only, or
        (default) every other comparison.
    """
    on_crossing = frame["group_var"] == INTERSECTION.column
    ratios = frame[
        frame["estimate_name"].isin(["odds_ratio", "hazard_ratio"])
        & frame["estimate"].notna()
        & (on_crossing if crossed else ~on_crossing)
    ]
    cols = ["id", "outcome", "group", "reference", "estimate", "ci_low", "ci_high", "p_adjusted"]
    return ratios[cols].reset_index(drop=True)


def km_curves(
    access: pd.DataFrame, *, group: str, secret_threshold: int = 11
) -> dict[str, pd.DataFrame]:
    """Kaplan–Meier curves of the waiting time (allocation as event) per group.

    The access frame is left-truncated (a demand filed before the semester is
    observed from its first day), so the curves use the delayed entry
    ``entree_risque_jours`` (:func:`allocation_analysis.derive.access_frame`),
    as the log-rank and Cox tests of the report do: ignoring it would put
    long-waiting demands in the risk sets of their first years, when they were
    not observed, and overstate the waiting time.

    Curves are step functions of the survival estimate only; the number at risk
    is not published. For the statistical secret a group with fewer than
    ``secret_threshold`` demands or allocations gets no curve, and each curve
    stops at the last time at which at least ``secret_threshold`` demands are
    at risk (further steps would each be one or a few households).
    """
    from allocation_analysis import stats

    df = access.assign(_allocation=(access["evenement"] == 1).astype(int))
    res = stats.kaplan_meier(
        df,
        duration="duree_jours",
        event="_allocation",
        group=group,
        entry="entree_risque_jours",
    )
    curves = res.details.get("curves", {})
    out = {}
    for g, c in curves.items():
        c = pd.DataFrame(c)
        sizes = [c["n_event"].sum(), len(df.loc[df[group] == g])]
        if small_counts(sizes, threshold=secret_threshold, zero=True).any():
            continue
        c = c[
            ~small_counts(c["n_risk"].to_numpy(dtype=float), threshold=secret_threshold, zero=True)
        ]
        c = c.rename(columns={"surv": "survival", "lower": "ci_low", "upper": "ci_high"})
        out[str(g)] = c[["time", "survival", "ci_low", "ci_high"]].reset_index(drop=True)
    return out


_INDICATOR_KEYS = (
    "id",
    "scope",
    "scope_value",
    "window",
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


def indicator_entries(frame: pd.DataFrame) -> list[dict]:
    """``results.json`` → ``indicators`` entries (one per row of the protected frame)."""
    out = []
    for rec in frame[list(_INDICATOR_KEYS)].to_dict(orient="records"):
        clean = {}
        for k, v in rec.items():
            if v is pd.NA or v is None or (isinstance(v, float) and math.isnan(v)):
                clean[k] = None
            elif isinstance(v, np.generic):
                clean[k] = v.item()
            else:
                clean[k] = v
        for k in ("numerator", "denominator"):
            if clean[k] is not None:
                clean[k] = int(clean[k])
        clean["suppressed"] = bool(clean["suppressed"])
        out.append(clean)
    return out
