"""The allocation process stage by stage and the audit of the cotation grid.

Report logic of the process notebook (``04_processus.ipynb``, docs/methods.md
§5–6): from the validated ``propositions`` (candidates examined by the
allocation commissions) and the demands active in the semester, the funnel
of the five nested stages by group, the split of the gap in access among the
stages, an adjusted comparison per stage and, when the demands carry their
cotation score, the audit of the grid. The statistics themselves are generic
functions of :mod:`allocation_analysis.stats`; this module chooses the
frames, the outcomes and the controls, and applies the statistical secret.

Multiple testing: these analyses explain where a gap arises; none of them is
a pre-declared primary test. Their tests form one robustness family of their
own (``family = "robustesse"``), with Benjamini–Hochberg adjusted p-values
within the process tests, so that they never change the adjusted p-values of
the primary tests of the disparity notebook (docs/methods.md).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.analysis import (
    CLUSTER,
    GROUPINGS,
    ROBUSTNESS,
    TEST_PLAN,
    Grouping,
    TestRecord,
    _failed,
    results_frame,
)
from allocation_analysis.config import AnalysisConfig, Period

__all__ = [
    "FAVOURABLE_DECISIONS",
    "STAGES",
    "candidacies",
    "contributions_display_fr",
    "equal_score_sentences_fr",
    "funnel_display_fr",
    "funnel_tables",
    "process_frame",
    "process_entries",
    "process_tests",
    "published_refusal_qpv",
    "score_contributions",
    "tests_table",
    "stage_funnels",
]

log = logging.getLogger(__name__)

STAGES: tuple[str, ...] = ("designated", "favourable", "offered", "accepted", "lease")
"""The nested stages of the allocation process (docs/methods.md §5), in order."""

ACTIVE = "active"
"""Row label of the demands active in the semester (the base of the first stage)."""

OUTSIDE = "lease_outside_process"
"""Row label of the leases of the semester without any recorded proposition."""

FAVOURABLE_DECISIONS = frozenset({"attribution", "attribution_sous_condition"})
"""CAL decisions that make a candidate eligible to an offer (CCH R441-3)."""

LEASE_MATCH_DAYS = 90
"""A lease without ``rpls_id`` matches an accepted offer of the same commune signed
within this many days after the commission (data contract, ``propositions``)."""

SCORE = "score_cotation"
CRITERION_PREFIX = "cotation_"

CANDIDATE_CONTROLS: tuple[str, ...] = (
    "prioritaire",
    "dalo",
    "log_revenu_uc",
    "anciennete_annees",
    "nb_personnes",
)
"""Household controls of the models among candidates of one dwelling (conditional
logits, refusal): the numeric household controls of the access model; the
requested typology and the first-choice commune are nearly constant among the
candidates of one dwelling."""

SPLINE_DF = 4
"""Degrees of freedom of the natural cubic spline of the score."""


def _access_logit() -> tuple[tuple[str, ...], str | None]:
    """Controls and cluster of the adjusted access model of the test plan."""
    for t in TEST_PLAN:
        if t.outcome == "access" and t.method == "logit":
            return t.controls, t.cluster
    return (), CLUSTER  # pragma: no cover - the plan always holds it


def _id_column(frame: pd.DataFrame) -> str:
    return "demande_id" if "demande_id" in frame.columns else "num_unique"


def _text(s: pd.Series) -> pd.Series:
    out = s.astype("string").str.strip()
    return out.mask(out == "")


# ---------------------------------------------------------------------------
# frames
# ---------------------------------------------------------------------------
def candidacies(
    propositions: pd.DataFrame,
    access: pd.DataFrame,
    allocations: pd.DataFrame,
    period: Period | str,
) -> pd.DataFrame:
    """One row per candidate examined by a commission of the semester, with its stages.

    Parameters
    ----------
    propositions : DataFrame
        Validated propositions (data contract, ``propositions``), the demand
        identifier pseudonymised as in ``access`` (``demande_id``).
    access : DataFrame
        Demands active in the semester (:func:`allocation_analysis.derive.access_frame`).
    allocations : DataFrame
        Every lease of the data (``demande_id``, ``date_bail``,
        ``commune_logement``, optional ``rpls_id``).
    period : Period or str
        The semester; ``date_cal`` decides it.

    Returns
    -------
    DataFrame
        The propositions of the semester whose demand is active in it, with
        the demand's columns of ``access`` and the row's stages (booleans):
        ``favourable`` (decision ``attribution`` or
        ``attribution_sous_condition``), ``offered`` (favourable and an answer
        recorded), ``accepted`` (offered and accepted; ``sans_reponse`` is
        offered and not accepted), ``refusal`` (offered and not accepted),
        ``lease`` (accepted and a lease of the same demand on the same dwelling:
        same ``rpls_id``, or without it the same commune within
        :data:`LEASE_MATCH_DAYS` days after the commission), ``ranked_first``
        (``rang == 1``) and ``logement_en_qpv`` (the offered dwelling is in a
        QPV). ``attrs["n_not_active"]`` counts the propositions of the semester
        whose demand is not active in it (left out, with a warning).
    """
    p = Period.parse(period)
    pid = _id_column(propositions)
    props = propositions.copy()
    props["date_cal"] = pd.to_datetime(props["date_cal"])
    in_sem = (props["date_cal"] >= pd.Timestamp(p.start)) & (
        props["date_cal"] <= pd.Timestamp(p.end)
    )
    props = props.loc[in_sem.fillna(False).to_numpy()].copy()
    props["demande_id"] = _text(props[pid])
    props["id_offre"] = _text(props["id_offre"])
    decision = _text(props["decision_cal"])
    answer = _text(props.get("reponse_demandeur", pd.Series(pd.NA, index=props.index)))
    fav = decision.isin(sorted(FAVOURABLE_DECISIONS)).fillna(False).to_numpy(bool)
    offered = fav & answer.notna().to_numpy(bool)
    accepted = offered & (answer == "acceptation").fillna(False).to_numpy(bool)
    props["favourable"] = fav
    props["offered"] = offered
    props["accepted"] = accepted
    props["refusal"] = offered & ~accepted
    rang = pd.to_numeric(props.get("rang", pd.Series(np.nan, index=props.index)), errors="coerce")
    props["ranked_first"] = (rang == 1).fillna(False).to_numpy(bool)
    qpv = _text(props.get("qpv_logement", pd.Series(pd.NA, index=props.index)))
    props["logement_en_qpv"] = qpv.notna().to_numpy(bool).astype("float64")
    props["lease"] = _lease_links(props, allocations)
    props = props.drop(
        columns=[c for c in props.columns if c in access.columns and c != "demande_id"]
    )
    act = access.assign(demande_id=_text(access[_id_column(access)]))
    out = props.merge(act, on="demande_id", how="inner", validate="many_to_one")
    n_out = len(props) - len(out)
    if n_out:
        log.warning(
            "%d proposition(s) du semestre concernent une demande non active dans le "
            "semestre : laissée(s) hors de l'analyse du processus.",
            n_out,
        )
    out.attrs["n_not_active"] = int(n_out)
    return out


def _lease_links(props: pd.DataFrame, allocations: pd.DataFrame) -> np.ndarray:
    """Whether each accepted proposition ends with a lease (data contract rule)."""
    linked = np.zeros(len(props), dtype=bool)
    acc = np.flatnonzero(props["accepted"].to_numpy(bool))
    if not len(acc) or allocations is None or allocations.empty:
        return linked
    a = pd.DataFrame(
        {
            "demande_id": _text(allocations[_id_column(allocations)]),
            "_date_bail": pd.to_datetime(allocations["date_bail"]),
            "_commune_bail": _text(allocations["commune_logement"]),
            "_rpls_bail": _text(allocations["rpls_id"])
            if "rpls_id" in allocations
            else pd.Series(pd.NA, index=allocations.index, dtype="string"),
        }
    )
    n = len(props)
    na = pd.Series(pd.NA, index=props.index, dtype="string")
    c = pd.DataFrame(
        {
            "_row": np.arange(n),
            "demande_id": props["demande_id"].to_numpy(),
            "_date_cal": props["date_cal"].to_numpy(),
            "_commune": _text(props["commune_logement"]) if "commune_logement" in props else na,
            "_rpls": _text(props["rpls_id"]) if "rpls_id" in props else na,
        }
    ).iloc[acc]
    m = c.merge(a, on="demande_id", how="inner")
    if m.empty:
        return linked
    same_rpls = (m["_rpls"] == m["_rpls_bail"]).fillna(False)
    days = (m["_date_bail"] - m["_date_cal"]).dt.days
    same_commune = (
        m["_rpls"].isna()
        & (m["_commune"] == m["_commune_bail"]).fillna(False)
        & (days >= 0)
        & (days <= LEASE_MATCH_DAYS)
    )
    hit = m.loc[(same_rpls | same_commune).to_numpy(bool), "_row"].unique()
    linked[hit] = True
    return linked


def process_frame(
    access: pd.DataFrame, cands: pd.DataFrame, propositions: pd.DataFrame
) -> pd.DataFrame:
    """The demands active in the semester with their furthest stage of the process.

    Parameters
    ----------
    access : DataFrame
        Demands active in the semester.
    cands : DataFrame
        :func:`candidacies` of the semester.
    propositions : DataFrame
        Every proposition of the data (any date): a lease of the semester
        whose demand has none is « hors processus enregistré ».

    Returns
    -------
    DataFrame
        ``access`` with one boolean column per stage of :data:`STAGES` (the
        demand reached it in at least one commission of the semester; a demand
        examined several times counts once, at its furthest stage) and
        ``lease_outside_process`` (a lease in the semester and no proposition
        recorded for the demand).
    """
    out = access.copy()
    ids = _text(out[_id_column(out)])
    reached = cands.groupby("demande_id")[["favourable", "offered", "accepted", "lease"]].any()
    out["designated"] = ids.isin(cands["demande_id"]).fillna(False).to_numpy(bool)
    for stage in ("favourable", "offered", "accepted", "lease"):
        s = reached[stage]
        out[stage] = ids.map(s).astype("boolean").fillna(False).to_numpy(bool)
    with_prop = _text(propositions[_id_column(propositions)]).dropna().unique()
    out[OUTSIDE] = out["access"].astype(bool).to_numpy() & ~ids.isin(with_prop).fillna(
        False
    ).to_numpy(bool)
    return out


# ---------------------------------------------------------------------------
# funnel
# ---------------------------------------------------------------------------
def stage_funnels(frame: pd.DataFrame, *, alpha: float = 0.05) -> dict[tuple[str, str], Any]:
    """The funnel decomposition of each comparison (origin, residence).

    Returns
    -------
    dict
        ``(grouping key, compared level)`` →
        :class:`allocation_analysis.stats.funnel.FunnelDecomposition` of the
        :data:`STAGES` of :func:`process_frame`.
    """
    from allocation_analysis.stats import funnel_decomposition

    out = {}
    for g in GROUPINGS:
        for cmp in g.compared:
            levels = set(frame[g.column].astype("string").dropna())
            if g.reference not in levels or cmp not in levels:
                continue
            out[(g.key, cmp)] = funnel_decomposition(
                frame,
                group=g.column,
                reference=g.reference,
                compared=cmp,
                stages=list(STAGES),
                alpha=alpha,
            )
    return out


def log_ratio_interval(
    x_compared: int, n_compared: int, x_reference: int, n_reference: int, *, alpha: float = 0.05
) -> tuple[float, float]:
    """Interval of the log of a ratio of two proportions (Katz et al. 1978).

    ``log(p1 / p0) ± z sqrt(1/x1 - 1/n1 + 1/x0 - 1/n0)``; NaN when a count is
    zero (the log ratio is not finite). The demands are taken as independent:
    this describes the uncertainty of the overall gap, it is not a test of the
    report's plan.

    References
    ----------
    .. [1] Katz, D., Baptista, J., Azen, S. P. and Pike, M. C. (1978). Obtaining
       confidence intervals for the risk ratio in cohort studies. *Biometrics*
       34(3), 469–474.
    """
    from scipy.stats import norm

    if min(x_compared, n_compared, x_reference, n_reference) <= 0:
        return math.nan, math.nan
    est = math.log((x_compared / n_compared) / (x_reference / n_reference))
    se = math.sqrt(1 / x_compared - 1 / n_compared + 1 / x_reference - 1 / n_reference)
    z = float(norm.ppf(1 - alpha / 2))
    return est - z * se, est + z * se


def funnel_tables(
    frame: pd.DataFrame, *, threshold: int, alpha: float = 0.05
) -> dict[str, pd.DataFrame]:
    """Published tables of the funnel, after the statistical secret.

    Parameters
    ----------
    frame : DataFrame
        :func:`process_frame`.
    threshold : int
        Secret threshold.
    alpha : float
        1 - level of the Wilson intervals.

    Returns
    -------
    dict
        ``"etapes"``: one row per group level and stage (``group_var``,
        ``group``, ``stage`` in ``active``, the :data:`STAGES`,
        ``lease_outside_process``; ``n``, ``base`` (previous stage),
        ``rate`` = ``n / base`` with its Wilson interval). The counts of one
        level are tied (``n`` of a stage = ``n`` of the next one + the demands
        that stop there): the secret is applied with these relations
        (:func:`allocation_analysis.privacy.apply_disclosure_control`), so no
        count in ``[1, threshold - 1]``, published or given by a difference of
        published counts, is recoverable. ``"ecart"``: one row per comparison
        and stage, the entries of ``results.json`` → ``process``
        (``group_var``, ``group``, ``reference``, ``stage``, ``rate_group``,
        ``rate_reference``, ``log_rate_ratio``, ``gap_share``; on the overall
        row ``lease_overall`` also ``log_rate_ratio_ci_low`` /
        ``log_rate_ratio_ci_high``, :func:`log_ratio_interval`); the log
        ratios and shares of a comparison are withheld when one of its counts
        is (they would give it back through the identity).
    """
    from allocation_analysis.privacy import apply_disclosure_control, small_counts
    from allocation_analysis.stats.rates import wilson_interval

    rows_all = []
    for g in GROUPINGS:
        for level in (g.reference, *g.compared):
            sub = frame[(frame[g.column].astype("string") == level).fillna(False).to_numpy()]
            counts = [len(sub), *(int(sub[s].sum()) for s in STAGES)]
            labels = [ACTIVE, *STAGES]
            t = pd.DataFrame({"n": counts}, index=labels)
            t.loc[OUTSIDE, "n"] = int(sub[OUTSIDE].sum())
            rels = [(labels[j - 1], [labels[j]]) for j in range(1, len(labels))]
            t = apply_disclosure_control(t, count_columns=["n"], threshold=threshold, groups=rels)
            for j, stage in enumerate([*labels, OUTSIDE]):
                n_pub = t.loc[stage, "n"]
                base_label = (
                    labels[j - 1] if 0 < j < len(labels) else (ACTIVE if stage == OUTSIDE else None)
                )
                base_pub = t.loc[base_label, "n"] if base_label else pd.NA
                true_n = counts[j] if j < len(labels) else int(sub[OUTSIDE].sum())
                true_base = (
                    (counts[j - 1] if 0 < j < len(labels) else len(sub)) if base_label else None
                )
                rate = lo = hi = math.nan
                published = base_label and not (pd.isna(n_pub) or pd.isna(base_pub))
                if published and not small_counts([true_base], threshold=threshold, zero=True)[0]:
                    rate = true_n / true_base
                    lo, hi = wilson_interval(true_n, true_base, alpha=alpha)
                rows_all.append(
                    {
                        "group_var": g.column,
                        "group": level,
                        "stage": stage,
                        "n": n_pub,
                        "base": base_pub,
                        "rate": rate,
                        "rate_ci_low": lo,
                        "rate_ci_high": hi,
                        "suppressed": bool(pd.isna(n_pub) or (base_label and pd.isna(base_pub))),
                    }
                )
    etapes = pd.DataFrame(rows_all)
    for c in ("n", "base"):
        etapes[c] = pd.array(etapes[c], dtype="Int64")
    ecart_rows = []
    for (key, cmp), fd in stage_funnels(frame, alpha=alpha).items():
        g = next(x for x in GROUPINGS if x.key == key)
        mine = etapes[(etapes["group_var"] == g.column) & etapes["group"].isin([g.reference, cmp])]
        hidden = bool(mine[mine["stage"].isin([ACTIVE, *STAGES])]["suppressed"].any())
        for rec in fd.to_frame().to_dict(orient="records"):
            stage = "lease_overall" if rec["stage"] == "ensemble" else rec["stage"]
            lo = hi = math.nan
            if stage == "lease_overall" and not hidden:
                lo, hi = log_ratio_interval(
                    int(rec["n_compared"]),
                    int(rec["base_compared"]),
                    int(rec["n_reference"]),
                    int(rec["base_reference"]),
                    alpha=alpha,
                )
            ecart_rows.append(
                {
                    "group_var": g.column,
                    "group": cmp,
                    "reference": g.reference,
                    "stage": stage,
                    "rate_group": math.nan if hidden else rec["rate_compared"],
                    "rate_reference": math.nan if hidden else rec["rate_reference"],
                    "log_rate_ratio": math.nan if hidden else rec["log_ratio"],
                    "log_rate_ratio_ci_low": lo,
                    "log_rate_ratio_ci_high": hi,
                    "gap_share": math.nan if hidden else rec["share"],
                    "suppressed": hidden,
                }
            )
    ecart = pd.DataFrame(
        ecart_rows,
        columns=[
            "group_var",
            "group",
            "reference",
            "stage",
            "rate_group",
            "rate_reference",
            "log_rate_ratio",
            "log_rate_ratio_ci_low",
            "log_rate_ratio_ci_high",
            "gap_share",
            "suppressed",
        ],
    )
    return {"etapes": etapes, "ecart": ecart}


def process_entries(ecart: pd.DataFrame) -> list[dict]:
    """``results.json`` → ``process`` entries (the five stages, not the overall row)."""
    keys = [
        "group_var",
        "group",
        "reference",
        "stage",
        "rate_group",
        "rate_reference",
        "log_rate_ratio",
        "gap_share",
    ]
    out = []
    for rec in ecart[ecart["stage"].isin(STAGES)][keys].to_dict(orient="records"):
        out.append(
            {
                k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in rec.items()
            }
        )
    return out


# ---------------------------------------------------------------------------
# adjusted comparisons per stage and cotation audit
# ---------------------------------------------------------------------------
def criteria_columns(frame: pd.DataFrame) -> list[str]:
    """The ``cotation_<critere>`` columns of a frame, in their order."""
    return [c for c in frame.columns if str(c).startswith(CRITERION_PREFIX)]


def _spline_columns(frame: pd.DataFrame, score: str = SCORE) -> tuple[pd.DataFrame, list[str]]:
    """``frame`` with the natural cubic spline basis of the score (centred columns)."""
    from patsy import dmatrix

    x = pd.to_numeric(frame[score], errors="coerce").astype("float64")
    ok = x.notna().to_numpy()
    names = [f"_score_ns{k}" for k in range(1, SPLINE_DF + 1)]
    basis = np.full((len(frame), SPLINE_DF), np.nan)
    if ok.sum() > SPLINE_DF:
        m = dmatrix(
            f"cr(x, df={SPLINE_DF}, constraints='center') - 1",
            {"x": x.to_numpy()[ok]},
            return_type="matrix",
        )
        basis[ok, : m.shape[1]] = np.asarray(m)
    return frame.assign(**{n: basis[:, k] for k, n in enumerate(names)}), names


def _present(frame: pd.DataFrame, cols: tuple[str, ...] | list[str]) -> list[str]:
    return [c for c in cols if c in frame.columns]


def _interaction_terms(res: Any, name: str, alpha: float) -> dict[str, float]:
    """OR, interval and Wald p of one coefficient of a logit result's details."""
    from scipy.stats import norm

    coefs = res.details.get("coefficients", {}) if hasattr(res, "details") else {}
    ses = res.details.get("std_errors", {}) if hasattr(res, "details") else {}
    key = next((k for k in coefs if str(k).startswith(name)), None)
    if key is None or not math.isfinite(float(ses.get(key, math.nan))) or ses[key] <= 0:
        return {"estimate": math.nan, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    b, se = float(coefs[key]), float(ses[key])
    q = float(norm.ppf(1 - alpha / 2))
    return {
        "estimate": math.exp(b),
        "ci_low": math.exp(b - q * se),
        "ci_high": math.exp(b + q * se),
        "p_value": float(2 * norm.sf(abs(b / se))),
    }


INTERACTION = "groupe_x_logement_qpv"
"""Interaction column of the refusal model: compared group × offered dwelling in QPV."""


def process_tests(
    frame: pd.DataFrame,
    cands: pd.DataFrame,
    *,
    config: AnalysisConfig,
    candidate_controls: tuple[str, ...] = CANDIDATE_CONTROLS,
    outcomes: Collection[str] | None = None,
) -> tuple[list[TestRecord], pd.DataFrame]:
    """The adjusted comparison of each stage and the cotation audit, per comparison.

    Parameters
    ----------
    frame : DataFrame
        :func:`process_frame` (demands active in the semester).
    cands : DataFrame
        :func:`candidacies` of the semester.
    config : AnalysisConfig
        ``alpha`` and ``seed``.
    candidate_controls : tuple of str
        Household controls of the models among candidates (those present).
    outcomes : collection of str, optional
        Only the tests of these outcomes (``designation``, ``cal_favourable``,
        ``refusal``, ``cal_first_equal_score``…); all by default (the
        calibration runs a few of them on many draws).

    Returns
    -------
    records : list of TestRecord
        Ids ``<outcome>_<origin|residence>_<method>`` (docs/data-model.md §3): designation
        by the adjusted logit of the access model (same controls, same
        cluster); ``cal_favourable`` and ``offered`` by the conditional logit
        stratified by ``id_offre`` among the candidates (the favourable ones,
        for the offer); ``refusal`` by logit among the offers, with the offered
        dwelling's QPV status and its interaction with the group (the group's
        odds ratio is the one for offers outside QPV), clustered by commune of
        the dwelling; ``lease_after_acceptance`` by raw rates; when the demands
        carry ``score_cotation``: ``score`` (difference of means, with each
        criterion's contribution), ``access_equal_score`` and
        ``designation_equal_score`` (logit on a natural cubic spline of the
        score and the requested typology, clustered by first-choice commune),
        ``cal_first_equal_score`` (conditional logit of ranked first on the
        score and the group among the favourable candidates of one dwelling).
    refusal_qpv : DataFrame
        The interaction of the refusal model per comparison (``group_var``,
        ``group``, ``reference``, odds ratio of the interaction with its
        interval and p-value): whether the group refuses offers in a QPV more
        often than the reference does, beyond its refusals elsewhere.
    """
    from allocation_analysis import stats

    alpha = config.alpha
    access_controls, access_cluster = _access_logit()
    has_score = (
        SCORE in frame.columns and pd.to_numeric(frame[SCORE], errors="coerce").notna().any()
    )
    criteria = criteria_columns(frame) if has_score else []
    if has_score:
        frame, spline = _spline_columns(frame)
    else:
        spline = []
    equal_controls = [*spline, *_present(frame, ["typologie_demandee"])]
    cand_ctrl = _present(cands, candidate_controls)
    fav = cands[cands["favourable"]]
    offers = cands[cands["offered"]]
    accepted = cands[cands["accepted"]]
    records: list[TestRecord] = []
    inter_rows = []
    for g in GROUPINGS:
        for cmp in g.compared:
            common = dict(group=g.column, reference=g.reference, compared=cmp)
            calls: list[tuple[str, str, Callable[[], Any]]] = [
                (
                    "designation",
                    "logit",
                    lambda c=common: stats.logit_disparity(
                        frame,
                        outcome="designated",
                        controls=_present(frame, access_controls),
                        cluster=access_cluster,
                        alpha=alpha,
                        **c,
                    ),
                ),
                (
                    "cal_favourable",
                    "clogit",
                    lambda c=common: stats.conditional_logit_disparity(
                        cands,
                        outcome="favourable",
                        strata="id_offre",
                        controls=cand_ctrl,
                        alpha=alpha,
                        **c,
                    ),
                ),
                (
                    "offered",
                    "clogit",
                    lambda c=common: stats.conditional_logit_disparity(
                        fav,
                        outcome="offered",
                        strata="id_offre",
                        controls=cand_ctrl,
                        alpha=alpha,
                        **c,
                    ),
                ),
                (
                    "refusal",
                    "logit",
                    lambda c=common, gg=g, k=cmp: _refusal(offers, gg, k, cand_ctrl, alpha, c),
                ),
                (
                    "lease_after_acceptance",
                    "rates",
                    lambda c=common: stats.compare_rates(
                        accepted, outcome="lease", alpha=alpha, **c
                    ),
                ),
            ]
            if has_score:
                calls += [
                    (
                        "score",
                        "mean_difference",
                        lambda c=common: stats.mean_difference(
                            frame,
                            outcome=SCORE,
                            components=criteria,
                            alpha=alpha,
                            seed=config.seed,
                            **c,
                        ),
                    ),
                    (
                        "access_equal_score",
                        "logit",
                        lambda c=common: stats.logit_disparity(
                            frame,
                            outcome="access",
                            controls=equal_controls,
                            cluster=CLUSTER,
                            alpha=alpha,
                            **c,
                        ),
                    ),
                    (
                        "designation_equal_score",
                        "logit",
                        lambda c=common: stats.logit_disparity(
                            frame,
                            outcome="designated",
                            controls=equal_controls,
                            cluster=CLUSTER,
                            alpha=alpha,
                            **c,
                        ),
                    ),
                    (
                        "cal_first_equal_score",
                        "clogit",
                        lambda c=common: stats.conditional_logit_disparity(
                            fav,
                            outcome="ranked_first",
                            strata="id_offre",
                            controls=[SCORE],
                            alpha=alpha,
                            **c,
                        ),
                    ),
                ]
            for outcome, method, call in calls:
                if outcomes is not None and outcome not in outcomes:
                    continue
                test_id = f"{outcome}_{g.key}_{method}"
                try:
                    res = call()
                    if outcome == "refusal":
                        res, inter = res
                        inter_rows.append(
                            {"group_var": g.column, "group": cmp, "reference": g.reference, **inter}
                        )
                except Exception as exc:  # noqa: BLE001 - reported in the result, not hidden
                    log.exception("test %s (%s) failed", test_id, cmp)
                    res = _failed(test_id, g, cmp, exc, alpha)
                records.append(TestRecord(test_id, outcome, g, cmp, res, family=ROBUSTNESS))
    refusal_qpv = pd.DataFrame(
        inter_rows,
        columns=["group_var", "group", "reference", "estimate", "ci_low", "ci_high", "p_value"],
    )
    return records, refusal_qpv


def _refusal(
    offers: pd.DataFrame,
    g: Grouping,
    cmp: str,
    controls: list[str],
    alpha: float,
    common: Mapping[str, Any],
) -> tuple[Any, dict[str, float]]:
    from allocation_analysis import stats

    d = offers.assign(
        **{
            INTERACTION: (offers[g.column].astype("string") == cmp).fillna(False).astype("float64")
            * offers["logement_en_qpv"]
        }
    )
    res = stats.logit_disparity(
        d,
        outcome="refusal",
        controls=["logement_en_qpv", INTERACTION, *controls],
        cluster="commune_logement" if "commune_logement" in d else None,
        alpha=alpha,
        **common,
    )
    return res, _interaction_terms(res, INTERACTION, alpha)


def tests_table(records: list[TestRecord], *, config: AnalysisConfig) -> pd.DataFrame:
    """The process tests as published: secret, then BH within the process family.

    Same table as the disparity tests
    (:func:`allocation_analysis.analysis.results_frame`): a comparison with a
    group whose size or number of events is below the threshold has its
    values withheld before the adjustment.
    """
    return results_frame(records, secret_threshold=config.secret_threshold, alpha=config.alpha)


def _withheld(tests: pd.DataFrame, outcome: str) -> set[tuple[str, str]]:
    sel = tests[(tests["outcome"] == outcome) & tests["suppressed"].astype(bool)]
    return set(zip(sel["group_var"], sel["group"], strict=True))


def published_refusal_qpv(refusal_qpv: pd.DataFrame, tests: pd.DataFrame) -> pd.DataFrame:
    """The refusal interactions, without those of a comparison withheld by the secret."""
    hidden = _withheld(tests, "refusal")
    keep = [
        (g, v) not in hidden
        for g, v in zip(refusal_qpv["group_var"], refusal_qpv["group"], strict=True)
    ]
    return refusal_qpv.loc[keep].reset_index(drop=True)


def score_contributions(records: list[TestRecord], tests: pd.DataFrame) -> pd.DataFrame:
    """Each criterion's contribution to the difference of mean scores, per comparison.

    Comparisons whose score test is withheld by the secret in ``tests``
    (:func:`tests_table`) are left out. Returns ``group_var``, ``group``,
    ``reference``, ``criterion``, ``mean_reference``, ``mean_group``,
    ``contribution``; the total (``criterion = "score_cotation"``) last.
    """
    hidden = _withheld(tests, "score")
    rows = []
    for r in records:
        if r.outcome != "score" or r.result.method != "mean_difference":
            continue
        if (r.grouping.column, r.compared) in hidden:
            continue
        contrib = r.result.details.get("contributions", {})
        for crit, v in contrib.items():
            rows.append(
                {
                    "group_var": r.grouping.column,
                    "group": r.compared,
                    "reference": r.grouping.reference,
                    "criterion": crit,
                    "contribution": v,
                }
            )
        rows.append(
            {
                "group_var": r.grouping.column,
                "group": r.compared,
                "reference": r.grouping.reference,
                "criterion": SCORE,
                "contribution": r.result.estimate,
            }
        )
    return pd.DataFrame(
        rows, columns=["group_var", "group", "reference", "criterion", "contribution"]
    )


# ---------------------------------------------------------------------------
# French display
# ---------------------------------------------------------------------------
def funnel_display_fr(etapes: pd.DataFrame, *, group_var: str) -> pd.DataFrame:
    """The published funnel table of one axis as the working group reads it."""
    from allocation_analysis.labels import FUNNEL_ROW_FR, group_label
    from allocation_analysis.text import MISSING, SECRET_FR, fmt_int, fmt_pct

    sub = etapes[etapes["group_var"] == group_var]
    rows = []
    for rec in sub.to_dict(orient="records"):
        n = rec["n"]
        rows.append(
            {
                "Groupe": group_label(rec["group"], short=True),
                "Étape": FUNNEL_ROW_FR.get(str(rec["stage"]), str(rec["stage"])),
                "Demandes": SECRET_FR if pd.isna(n) else fmt_int(n),
                "Taux de passage": fmt_pct(rec["rate"])
                if not pd.isna(rec["rate"])
                else (MISSING if rec["stage"] == ACTIVE else SECRET_FR),
                "IC 95 %": MISSING
                if pd.isna(rec["rate"])
                else f"{fmt_pct(rec['rate_ci_low'])} à {fmt_pct(rec['rate_ci_high'])}",
            }
        )
    return pd.DataFrame(rows)


def contributions_display_fr(contrib: pd.DataFrame) -> pd.DataFrame:
    """Each criterion's contribution to the score gap, in French (points)."""
    from allocation_analysis.labels import group_label
    from allocation_analysis.text import fmt_float

    out = []
    for rec in contrib.to_dict(orient="records"):
        crit = str(rec["criterion"])
        name = (
            "cotation totale"
            if crit == SCORE
            else "critère « " + crit.removeprefix(CRITERION_PREFIX).replace("_", " ") + " »"
        )
        out.append(
            {
                "Comparaison": f"{group_label(rec['group'], short=True)} / "
                f"{group_label(rec['reference'], short=True)}",
                "Composante": name,
                "Écart de points moyens": fmt_float(rec["contribution"], digits=2),
            }
        )
    return pd.DataFrame(out)


STAGE_TABLE_CONSTANT_FR = ("Famille", "Référence", "IC ajusté pour tests multiples", "Test")
"""Columns of the results table that say the same thing on every row of the process
chapter (robustness checks, two-sided, the reference named by the group): left
out of its display and said once in its note."""


def tests_display_fr(tests: pd.DataFrame, *, alpha: float) -> pd.DataFrame:
    """The stage tests as the working group reads them, without the constant columns.

    :func:`allocation_analysis.narrative.tests_table_fr` without
    :data:`STAGE_TABLE_CONSTANT_FR` and with the compared group's short name
    (« hors UE », « en QPV »), so that the table fits the printed page.
    """
    from allocation_analysis.labels import label
    from allocation_analysis.narrative import tests_table_fr

    shown = tests_table_fr(tests, alpha=alpha)
    # the reference is said in the note: the compared group by its short name
    shown["Groupe comparé"] = [label(str(g), "group_short") for g in tests["group"]]
    return shown.drop(columns=[c for c in STAGE_TABLE_CONSTANT_FR if c in shown.columns])


def stage_sentences_fr(tests: pd.DataFrame, *, alpha: float) -> list[str]:
    """The sentences of the stage tests that find a gap, then one for all the others.

    The working group reads one sentence per significant comparison
    (:func:`allocation_analysis.narrative.test_sentence_fr`) and a last one
    counting the comparisons without an established gap (not significant
    after correction, not computable or withheld), instead of one sentence
    per row of the table.
    """
    from allocation_analysis.narrative import test_sentence_fr
    from allocation_analysis.text import fmt_int

    records = tests.to_dict(orient="records")
    sig = [
        r
        for r in records
        if not r.get("suppressed")
        and pd.notna(r.get("p_adjusted"))
        and float(r["p_adjusted"]) < alpha
    ]
    out = [test_sentence_fr(r, alpha=alpha) for r in sig]
    rest = len(records) - len(sig)
    if rest:
        n = fmt_int(rest)
        out.append(
            f"Les {n} autres comparaisons du tableau ne montrent pas d'écart établi au-delà "
            "du hasard (non significatives après correction pour tests multiples, non "
            "calculables ou non diffusées)."
            if rest > 1
            else "L'autre comparaison du tableau ne montre pas d'écart établi au-delà du "
            "hasard (non significative après correction pour tests multiples, non calculable "
            "ou non diffusée)."
        )
    return out


def equal_score_sentences_fr(tests: pd.DataFrame, *, alpha: float) -> list[str]:
    """Plain-language reading of the tests at equal score (no claim of intent).

    A gap at equal score means that the process does not follow the grid in
    the same way for every group; the sentences say so, and only so.
    """
    from allocation_analysis.labels import group_label
    from allocation_analysis.text import fmt_float

    what = {
        "designation_equal_score": "d'être désignés par un réservataire",
        "access_equal_score": "d'obtenir un logement dans le semestre",
        "cal_first_equal_score": "d'être classés en premier par la commission",
    }
    out = []
    for rec in tests[tests["outcome"].isin(list(what))].to_dict(orient="records"):
        who = f"les {group_label(rec['group'])}"
        ref = f"les {group_label(rec['reference'])}"
        if rec.get("suppressed"):
            out.append(
                f"{who} : chances {what[rec['outcome']]} à cotation égale non diffusées "
                "(secret statistique)."
            )
            continue
        p_adj, est = rec.get("p_adjusted"), rec.get("estimate")
        if pd.isna(p_adj) or pd.isna(est):
            out.append(f"{who} : chances {what[rec['outcome']]} à cotation égale non calculables.")
            continue
        ratio = f"rapport de cotes {fmt_float(est, digits=2)}"
        if float(p_adj) < alpha:
            direction = "moins" if est < 1 else "plus"
            out.append(
                f"À cotation égale, {who} ont {direction} de chances {what[rec['outcome']]} "
                f"que {ref} ({ratio}) : sur ce point, le processus ne suit pas la grille de "
                "la même façon pour tous les groupes. Ce constat ne dit rien des intentions "
                "des acteurs ; d'autres éléments que la grille (logement demandé, localisation, "
                "composition du ménage) peuvent y contribuer."
            )
        else:
            out.append(
                f"À cotation égale, pas d'écart établi entre {who} et {ref} dans les chances "
                f"{what[rec['outcome']]} ({ratio})."
            )
    return out
