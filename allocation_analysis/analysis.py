"""The disparity analyses of the semi-annual report, as one list of named tests.

This module decides *which* tests the report runs (ids of ``results.json``,
outcomes, groups, controls); the tests themselves live in
:mod:`allocation_analysis.stats`. Test ids follow
``<outcome>_<origin|residence>_<method>`` (outputs.md).

Choices made here (documented for reviewers):

- Origin: ``nationalite``, each of ``ue`` and ``hors_ue`` against ``francaise``.
  Residence: ``residence_qpv``, ``qpv`` against ``hors_qpv``.
- Access (demands active at some time in the semester, closed by a lease within
  it): raw rates, Cochran–Mantel–Haenszel stratified by requested typology ×
  priority (DALO or prioritaire), logistic regression adjusted for requested
  typology, priority, DALO, log income per UC, seniority, household size and
  housing situation with standard errors clustered by first-choice commune, and
  the Fairlie decomposition with the same controls.
- Waiting time: log-rank test and Cox model (same controls, same clusters) on
  the days from filing to allocation, other closings censored, with delayed entry
  at the start of the semester (demands filed earlier enter the risk set then).
- Placement (allocations of the semester): is the dwelling in a QPV? Logistic
  regression adjusted for typology, first-quartile status, priority and
  reservataire; dissimilarity of allocations across communes between origin
  groups.
- Benjamini–Hochberg adjustment across every p-value of the run.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from allocation_analysis.config import AnalysisConfig
from allocation_analysis.stats import ResultSet, TestResult

__all__ = [
    "ACCESS_CONTROLS",
    "PLACEMENT_CONTROLS",
    "GROUPINGS",
    "Grouping",
    "disparity_tests",
    "results_frame",
]

log = logging.getLogger(__name__)

ACCESS_CONTROLS: tuple[str, ...] = (
    "typologie_demandee",
    "prioritaire",
    "dalo",
    "log_revenu_uc",
    "anciennete_annees",
    "nb_personnes",
    "situation_logement",
)
"""Controls of the adjusted access and waiting-time models."""

PLACEMENT_CONTROLS: tuple[str, ...] = ("typologie", "q1", "prioritaire_ou_dalo", "reservataire")
"""Controls of the adjusted placement model."""

CLUSTER = "commune_choix1"


@dataclass(frozen=True)
class Grouping:
    """A comparison axis of the report."""

    key: str  # "origin" or "residence"
    column: str
    reference: str
    compared: tuple[str, ...]
    label_fr: str


GROUPINGS: tuple[Grouping, ...] = (
    Grouping("origin", "nationalite", "francaise", ("ue", "hors_ue"), "nationalité"),
    Grouping("residence", "residence_qpv", "hors_qpv", ("qpv",), "résidence en QPV"),
)


@dataclass(frozen=True)
class TestRecord:
    """One line of ``results.json`` → ``tests`` before multiple-testing adjustment."""

    id: str
    outcome: str
    grouping: Grouping
    compared: str
    result: TestResult


def _one(res: TestResult | ResultSet, compared: str) -> TestResult:  # noqa: D103
    return res.by_group(compared) if isinstance(res, ResultSet) else res


def _failed(
    test_id: str, grouping: Grouping, compared: str, exc: BaseException | None
) -> TestResult:
    return TestResult(
        name=test_id,
        method="échec",
        groups=(grouping.reference, compared),
        warnings=(f"Le test n'a pas pu être calculé : {type(exc).__name__}: {exc}",),
    )


def _safe(
    test_id: str,
    grouping: Grouping,
    level: str,
    fn: Callable[..., TestResult | ResultSet],
    kwargs: dict,
) -> TestResult:
    """Run one test; an unexpected failure becomes a result with a warning, never a crash."""
    try:
        return _one(fn(**kwargs), level)
    except Exception as exc:  # noqa: BLE001 - reported in the result, not hidden
        log.exception("test %s (%s) failed", test_id, level)
        return _failed(test_id, grouping, level, exc)


def _access_strata(access: pd.DataFrame) -> pd.Series:
    prio = (access["prioritaire"].astype(bool) | access["dalo"].astype(bool)).map(
        {True: "prioritaire", False: "non_prioritaire"}
    )
    return access["typologie_demandee"].astype(str) + "|" + prio


def _profiles_results(
    df: pd.DataFrame, *, grouping: Grouping, n_boot: int, seed: int, n_jobs: int = 1
) -> ResultSet:
    from allocation_analysis.stats import profiles

    pr = profiles.profile_probabilities(
        df,
        outcome="access",
        features=ACCESS_CONTROLS,
        profiles=profiles.load_profiles(),
        group=grouping.column,
        n_boot=n_boot,
        random_state=seed,
        n_jobs=n_jobs,
    )
    return pr.to_test_results(reference=grouping.reference)


def disparity_tests(
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    *,
    config: AnalysisConfig,
    n_boot: int = 50,
    n_permutations: int = 999,
    include_profiles: bool = True,
    n_jobs: int | None = None,
) -> list[TestRecord]:
    """Run every disparity test of the report.

    Parameters
    ----------
    access : DataFrame
        :func:`allocation_analysis.derive.access_frame` of the semester.
    allocations : DataFrame
        :func:`allocation_analysis.derive.prepare_allocations`, restricted to the
        semester's leases by the caller.
    config : AnalysisConfig
        Alpha and seed are taken from it.
    n_boot : int
        Bootstrap replicates of the household-profile probabilities (the only
        bootstrap left in the report: the Fairlie decomposition uses analytic
        standard errors).
    n_permutations : int
        Permutations of the segregation test.
    include_profiles : bool
        Also run the gradient-boosting profiles and the IPW robustness checks.
    n_jobs : int, optional
        Processes for the bootstrap of the profiles: this one and
        ``n_jobs - 1`` reusable workers (default: two processes, or one on a
        single-core machine). Results do not depend on it: every replicate has
        its own seed.

    Returns
    -------
    list of TestRecord
        In a fixed order (deterministic output).

    Notes
    -----
    Cost. Apart from the profiles, every test is one fit (the Fairlie
    decomposition's standard errors come from influence values, calibrated on
    the synthetic generator, see ``docs/calibration.md``), and the BLAS is
    limited to one thread: a multi-threaded BLAS only adds synchronisation on
    models of a few dozen columns, up to a hundredfold slowdown on a busy
    2-core machine. The profiles refit a gradient-boosting model for every
    bootstrap replicate (about 0.3 s each at the scale of the MEL), hence
    ``n_boot = 50``: for a normal bootstrap distribution the Monte Carlo
    standard error of a 2.5 % or 97.5 % percentile bound is
    sqrt(0.025 * 0.975 / 50) / phi(1.96), about 0.38 bootstrap SE, about 10 %
    of the interval width — enough for the illustrative profiles table of a
    semi-annual report, not for fine tail statements; a researcher can
    raise it. ``n_permutations = 999`` gives p-values down to 0.001 and costs
    milliseconds (multivariate hypergeometric draws).
    """
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        from allocation_analysis import stats

        acc = access.copy()
        acc["strate"] = _access_strata(acc)
        acc["_allocation"] = (acc["evenement"] == 1).astype(int)
        alloc = allocations.copy()
        alloc["logement_en_qpv"] = alloc["logement_en_qpv"].astype(bool)
        seed = config.seed
        jobs = n_jobs if n_jobs is not None else min(2, os.cpu_count() or 1)
        if include_profiles:
            from allocation_analysis.stats.profiles import warm_up_workers

            warm_up_workers(jobs)  # ready by the time the profiles run, after the other tests
        records: list[TestRecord] = []

        for g in GROUPINGS:
            col, ref, k = g.column, g.reference, g.key
            for cmp in g.compared:
                sub = acc[acc[col].isin([ref, cmp])]
                asub = alloc[alloc[col].isin([ref, cmp])]
                common = {"group": col, "reference": ref, "compared": cmp}
                surv = {"duration": "duree_jours", "event": "_allocation", "group": col}
                specs: list[tuple[str, str, Callable[..., TestResult | ResultSet], dict]] = [
                    (
                        f"access_{k}_rates",
                        "access",
                        stats.compare_rates,
                        dict(df=sub, outcome="access", alpha=config.alpha, **common),
                    ),
                    (
                        f"access_{k}_cmh",
                        "access",
                        stats.cmh,
                        dict(df=sub, outcome="access", strata="strate", **common),
                    ),
                    (
                        f"access_{k}_logit",
                        "access",
                        stats.logit_disparity,
                        dict(
                            df=sub,
                            outcome="access",
                            controls=ACCESS_CONTROLS,
                            cluster=CLUSTER,
                            **common,
                        ),
                    ),
                    (
                        f"access_{k}_fairlie",
                        "access",
                        stats.fairlie,
                        dict(
                            df=sub,
                            outcome="access",
                            controls=ACCESS_CONTROLS,
                            random_state=seed,
                            **common,
                        ),
                    ),
                    (
                        f"waiting_time_{k}_logrank",
                        "waiting_time",
                        stats.logrank,
                        dict(df=sub, **surv),
                    ),
                    (
                        f"waiting_time_{k}_cox",
                        "waiting_time",
                        stats.cox,
                        dict(
                            df=sub,
                            reference=ref,
                            compared=cmp,
                            controls=ACCESS_CONTROLS,
                            cluster=CLUSTER,
                            entry="entree_jours",
                            **surv,
                        ),
                    ),
                    (
                        f"placement_{k}_logit",
                        "placement",
                        stats.logit_disparity,
                        dict(
                            df=asub,
                            outcome="logement_en_qpv",
                            controls=PLACEMENT_CONTROLS,
                            **common,
                        ),
                    ),
                ]
                if k == "origin":
                    specs.append(
                        (
                            "placement_origin_dissimilarity",
                            "placement",
                            stats.dissimilarity,
                            dict(
                                df=asub,
                                group=col,
                                unit="commune_logement",
                                reference=ref,
                                compared=cmp,
                                n_permutations=n_permutations,
                                random_state=seed,
                            ),
                        )
                    )
                if include_profiles:
                    specs.append(
                        (
                            f"access_{k}_ipw",
                            "access",
                            stats.ipw_disparity,
                            dict(
                                df=sub,
                                outcome="access",
                                controls=ACCESS_CONTROLS,
                                random_state=seed,
                                **common,
                            ),
                        )
                    )
                for test_id, outcome, fn, kwargs in specs:
                    records.append(
                        TestRecord(test_id, outcome, g, cmp, _safe(test_id, g, cmp, fn, kwargs))
                    )
            if include_profiles and k == "origin":
                sub = acc[acc[col].isin([ref, *g.compared])]
                try:
                    prof = _profiles_results(sub, grouping=g, n_boot=n_boot, seed=seed, n_jobs=jobs)
                    failure = None
                except Exception as exc:  # noqa: BLE001 - reported in each result below
                    log.exception("profiles failed")
                    prof, failure = None, exc
                for cmp in g.compared:
                    try:
                        res = (
                            _one(prof, cmp)
                            if prof is not None
                            else _failed("access_origin_profiles", g, cmp, failure)
                        )
                    except KeyError as exc:
                        res = _failed("access_origin_profiles", g, cmp, exc)
                    records.append(TestRecord("access_origin_profiles", "access", g, cmp, res))
        return records


def _num(x: float | int | None) -> float | None:
    if x is None:
        return None
    try:
        xf = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(xf) or math.isinf(xf) else xf


def results_frame(records: list[TestRecord], *, secret_threshold: int = 11) -> pd.DataFrame:
    """Tidy table of the tests (one row per ``results.json`` test entry).

    Benjamini–Hochberg adjusted p-values are computed across the whole run
    (NaN p-values stay NaN). Results resting on fewer than ``secret_threshold``
    observations are suppressed (statistical secret).
    """
    from allocation_analysis.stats import adjust_pvalues

    rows = []
    for r in records:
        res = r.result
        rows.append(
            {
                "id": r.id,
                "outcome": r.outcome,
                "group_var": r.grouping.column,
                "group": r.compared,
                "reference": r.grouping.reference,
                "method": res.method,
                "estimate_name": res.estimate_name,
                "estimate": _num(res.estimate),
                "ci_low": _num(res.ci_low),
                "ci_high": _num(res.ci_high),
                "statistic": _num(res.statistic),
                "df": _num(res.df),
                "p_value": _num(res.p_value),
                "n": int(res.n),
                "warnings": list(res.warnings),
            }
        )
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    p = frame["p_value"].astype(float)
    frame["p_adjusted"] = np.asarray(adjust_pvalues(p.to_numpy(), method="fdr_bh"), dtype=float)
    small = (frame["n"] > 0) & (frame["n"] < secret_threshold)
    value_cols = ["estimate", "ci_low", "ci_high", "statistic", "p_value", "p_adjusted"]
    frame.loc[small, value_cols] = np.nan
    frame["n"] = frame["n"].astype("Int64").mask(small)
    frame["suppressed"] = small
    return frame


# ---------------------------------------------------------------------------
# tables for the data notebook and the maps
# ---------------------------------------------------------------------------
def _suppress_small(frame: pd.DataFrame, count_cols: list[str], threshold: int) -> pd.DataFrame:
    """Blank counts in [1, threshold-1] (primary suppression of descriptive tables).

    Descriptive tables here are one-dimensional breakdowns with a published
    total; when exactly one cell of a column is suppressed the next smallest is
    suppressed too, so the total cannot reveal it.
    """
    out = frame.copy()
    for col in count_cols:
        vals = pd.to_numeric(out[col], errors="coerce")
        small = (vals >= 1) & (vals < threshold)
        if small.sum() == 1 and len(vals) > 1:
            rest = vals[~small & (vals > 0)]
            if len(rest):
                small[rest.idxmin()] = True
        out[col] = vals.astype("Float64").mask(small)
    return out


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
            _suppress_small(
                sub,
                ["demandes_actives", "demandes_satisfaites", "attributions_semestre"],
                threshold,
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
        small = min(n_ref, n_cmp) < config.secret_threshold
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
    small = g["n"] < config.secret_threshold
    small_num = (g["en_qpv"] > 0) & (g["en_qpv"] < config.secret_threshold)
    small_cmp = ((g["n"] - g["en_qpv"]) > 0) & ((g["n"] - g["en_qpv"]) < config.secret_threshold)
    g["suppressed"] = small | small_num | small_cmp
    g.loc[g["suppressed"], ["share_qpv"]] = np.nan
    g["n"] = g["n"].astype("Float64").mask(g["suppressed"])
    return g.drop(columns=["en_qpv"])


def test_entries(frame: pd.DataFrame) -> list[dict]:
    """``results.json`` → ``tests`` entries from :func:`results_frame`."""
    keys = [
        "id",
        "outcome",
        "group_var",
        "group",
        "reference",
        "method",
        "estimate_name",
        "estimate",
        "ci_low",
        "ci_high",
        "statistic",
        "p_value",
        "p_adjusted",
        "n",
        "warnings",
        "suppressed",
    ]
    out = []
    for rec in frame[keys].to_dict(orient="records"):
        rec = {
            k: (None if (isinstance(v, float) and math.isnan(v)) or v is pd.NA else v)
            for k, v in rec.items()
        }
        out.append(rec)
    return out


# ---------------------------------------------------------------------------
# data notebook: validation and overview
# ---------------------------------------------------------------------------
_TABLE_FR = {
    "demandes": "demandes",
    "attributions": "attributions",
    "logements": "logements",
    "seuils": "seuils du 1er quartile",
    "seuils_q1": "seuils du 1er quartile",
}


def validation_tables(validation: dict, *, threshold: int) -> dict[str, pd.DataFrame]:
    """Published tables of the input check: row counts per file and reject reasons.

    Counts in [1, threshold-1] are suppressed like every published count.
    """
    counts = pd.DataFrame(validation.get("counts", []))
    if not counts.empty:
        keep = [c for c in ("table", "read", "accepted", "rejected") if c in counts.columns]
        counts = counts[keep].rename(
            columns={"read": "lues", "accepted": "acceptees", "rejected": "rejetees"}
        )
        for col in ("lues", "acceptees", "rejetees"):
            if col in counts:
                v = pd.to_numeric(counts[col], errors="coerce")
                counts[col] = v.astype("Float64").mask((v >= 1) & (v < threshold))
    reasons = [
        {"table": t, "regle": rule, "lignes": n}
        for t, rules in sorted(validation.get("reasons", {}).items())
        for rule, n in sorted(rules.items())
    ]
    reasons_frame = pd.DataFrame(reasons, columns=["table", "regle", "lignes"])
    if not reasons_frame.empty:
        v = pd.to_numeric(reasons_frame["lignes"])
        reasons_frame["lignes"] = v.astype("Float64").mask((v >= 1) & (v < threshold))
    return {"controle_lignes": counts, "motifs_rejet": reasons_frame}


def validation_text_fr(validation: dict, *, threshold: int) -> str:
    """One French paragraph on the input check."""
    from allocation_analysis.text import fmt_int

    parts = []
    for rec in validation.get("counts", []):
        read, rej = int(rec.get("read", 0)), int(rec.get("rejected", 0))
        name = _TABLE_FR.get(rec.get("table"), rec.get("table"))
        rej_txt = (
            "aucune rejetée"
            if rej == 0
            else (
                f"moins de {threshold} rejetées" if rej < threshold else f"{fmt_int(rej)} rejetées"
            )
        )
        parts.append(f"{name} : {fmt_int(read)} lignes lues, {rej_txt}")
    if not parts:
        return "Aucun fichier contrôlé."
    return "Contrôle des fichiers — " + " ; ".join(parts) + "."


def overview_text_fr(population: pd.DataFrame, period) -> str:  # noqa: ANN001
    """One French sentence on the size of the semester's population."""
    from allocation_analysis.text import fmt_int

    nat = population[population["axe"] == "nationalité"]
    total_active = nat["demandes_actives"].sum(skipna=True)
    total_alloc = nat["attributions_semestre"].sum(skipna=True)
    return (
        f"Au {period.label_fr}, {fmt_int(total_active)} demandes étaient actives à un moment du "
        f"semestre et {fmt_int(total_alloc)} baux ont été signés (totaux hors cellules masquées)."
    )


# ---------------------------------------------------------------------------
# disparity notebook: figure inputs
# ---------------------------------------------------------------------------
def forest_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Odds/hazard ratios of the run, labelled in French, for a forest plot."""
    ratios = frame[
        frame["estimate_name"].isin(["odds_ratio", "hazard_ratio"]) & frame["estimate"].notna()
    ]
    labels = []
    for rec in ratios.to_dict(orient="records"):
        what = {"access": "Accès", "waiting_time": "Délai", "placement": "Placement en QPV"}[
            rec["outcome"]
        ]
        labels.append(f"{what} — {rec['group']} vs {rec['reference']} ({rec['id'].split('_')[-1]})")
    return pd.DataFrame(
        {
            "label": labels,
            "estimate": ratios["estimate"].to_numpy(),
            "ci_low": ratios["ci_low"].to_numpy(),
            "ci_high": ratios["ci_high"].to_numpy(),
            "p_adjusted": ratios["p_adjusted"].to_numpy(),
        }
    )


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
        if c["n_event"].sum() < secret_threshold or len(df.loc[df[group] == g]) < secret_threshold:
            continue
        c = c[c["n_risk"] >= secret_threshold]
        c = c.rename(columns={"surv": "survival", "lower": "ci_low", "upper": "ci_high"})
        out[str(g)] = c[["time", "survival", "ci_low", "ci_high"]].reset_index(drop=True)
    return out


# ---------------------------------------------------------------------------
# indicators notebook
# ---------------------------------------------------------------------------
INDICATOR_LABELS_FR: dict[str, str] = {
    "q1_hors_qpv": "Attributions hors QPV aux ménages du 1er quartile ou relogés (ANRU)",
    "non_q1_en_qpv": "Attributions en QPV aux ménages des autres quartiles",
    "prioritaires_action_logement": "Attributions Action Logement aux ménages prioritaires ou DALO",
    "prioritaires_collectivite": "Attributions des collectivités aux ménages prioritaires ou DALO",
    "prioritaires_bailleur": "Attributions des bailleurs aux ménages prioritaires ou DALO",
}
"""French titles of the legal indicators (maps, figures, tables)."""

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


def indicator_display(frame: pd.DataFrame) -> pd.DataFrame:
    """A French, rounded view of indicator rows for the report."""
    from allocation_analysis.indicators import STATUS_LABELS_FR
    from allocation_analysis.text import fmt_int, fmt_pct

    rows = []
    for rec in frame.to_dict(orient="records"):
        rows.append(
            {
                "Indicateur": INDICATOR_LABELS_FR.get(rec["id"], rec["id"]),
                "Fenêtre": "semestre" if rec["window"] == "semester" else "12 mois glissants",
                "Numérateur": fmt_int(rec["numerator"]),
                "Dénominateur": fmt_int(rec["denominator"]),
                "Part": fmt_pct(rec["share"]),
                "IC 95 %": f"{fmt_pct(rec['ci_low'])} – {fmt_pct(rec['ci_high'])}",
                "Objectif": fmt_pct(rec["target"], digits=0),
                "Statut": STATUS_LABELS_FR.get(rec["status"], rec["status"]),
            }
        )
    return pd.DataFrame(rows)
