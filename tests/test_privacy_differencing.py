"""Statistical secret against differencing (issue 15): an attacker with every
published number of a small-group run.

The run is built in memory through the functions that produce the published
tables and ``results.json`` entries (population table, tests entries, input
check, indicators and trend table). The attacker collects every published
count and tries: differences of two published counts, ``n`` minus a group's
count, estimate × ``n`` (a rate difference gives an event count back), rolling
windows minus semesters, totals minus parts, ``read - accepted``, and a linear
solve over all the margins (:func:`allocation_analysis.privacy.recoverable_cells`).
No masked count in ``[1, T - 1]`` may come back.
"""

from __future__ import annotations

import dataclasses
import math
import re

import numpy as np
import pandas as pd
import pytest

from allocation_analysis import analysis, stats
from allocation_analysis.analysis import GROUPINGS, PRINCIPAL, ROBUSTNESS, TestRecord
from allocation_analysis.indicators import RESERVATAIRES, compute_indicators, trend_table
from allocation_analysis.privacy import (
    N_WITHHELD_NOTE_FR,
    WITHHELD_NOTE_FR,
    indicator_relations,
    protect_indicators,
    recoverable_cells,
)
from allocation_analysis.stats import TestResult

T = 11
ORIGIN, RESIDENCE = GROUPINGS


# --------------------------------------------------------------------------- the run


def _access(sizes: dict[str, tuple[int, int]], seed: int = 3) -> pd.DataFrame:
    """Demands per nationality: ``{level: (demands, accesses)}``; residence drawn."""
    rng = np.random.default_rng(seed)
    rows = []
    for level, (n, k) in sizes.items():
        for i in range(n):
            rows.append({"nationalite": level, "access": int(i < k)})
    df = pd.DataFrame(rows)
    df["residence_qpv"] = np.where(rng.random(len(df)) < 0.3, "qpv", "hors_qpv")
    return df


def _records(access: pd.DataFrame) -> list[TestRecord]:
    """Rate comparisons (raw estimate) and a model-like result per comparison."""
    out = []
    for g in GROUPINGS:
        for cmp in g.compared:
            sub = access[access[g.column].isin([g.reference, cmp])]
            rates = stats.compare_rates(
                sub, outcome="access", group=g.column, reference=g.reference, compared=cmp
            )
            out.append(
                TestRecord(f"access_{g.key}_rates", "access", g, cmp, rates, family=ROBUSTNESS)
            )
            counts = sub.groupby(g.column)["access"].agg(["size", "sum"])
            model = TestResult(
                name="logit",
                method="régression logistique",
                estimate=1.2,
                estimate_name="odds_ratio",
                ci_low=0.8,
                ci_high=1.8,
                p_value=0.3,
                statistic=1.1,
                n=len(sub),
                groups=(g.reference, cmp),
                warnings=(f"commune_choix1=99001 ({int(counts['size'].min())} obs.)",),
                details={
                    "n_by_group": counts["size"].astype(int).to_dict(),
                    "events_by_group": counts["sum"].astype(int).to_dict(),
                },
            )
            out.append(
                TestRecord(f"access_{g.key}_logit", "access", g, cmp, model, family=PRINCIPAL)
            )
    return out


def _published_tests(access: pd.DataFrame) -> tuple[pd.DataFrame, list[dict]]:
    allocations = access[access["access"] == 1]
    pop = analysis.overview_tables(access, allocations, threshold=T)["population"]
    entries = analysis.test_entries(analysis.results_frame(_records(access), secret_threshold=T))
    return pop, entries


# --------------------------------------------------------------------------- the attacker


def _attack_tests(access: pd.DataFrame, pop: pd.DataFrame, entries: list[dict]) -> list[str]:
    """Masked population counts in [1, T-1] recovered from the published set."""
    cols = {"demandes_actives": "n", "demandes_satisfaites": "events"}
    true: dict[tuple, float] = {}
    shown: dict[tuple, float | None] = {}
    for g in GROUPINGS:
        for level in (g.reference, *g.compared):
            sub = access[access[g.column] == level]
            row = pop[(pop["axe"] == g.label_fr) & (pop["groupe"] == level)].iloc[0]
            for col, what in cols.items():
                key = (g.column, level, what)
                true[key] = float(len(sub) if what == "n" else sub["access"].sum())
                shown[key] = None if pd.isna(row[col]) else float(row[col])
    recovered = {k: v for k, v in shown.items() if v is not None}
    # estimate x n: a rate difference with the groups' sizes gives the events back.
    for _ in range(3):
        for e in entries:
            if e["estimate_name"] != "rate_difference" or e["estimate"] is None:
                continue
            gv, c, r = e["group_var"], e["group"], e["reference"]
            nc, xr, nr = (
                recovered.get((gv, c, "n")),
                recovered.get((gv, r, "events")),
                recovered.get((gv, r, "n")),
            )
            if e["n"] is not None and nc is None and nr is not None:
                nc = e["n"] - nr  # n - reference count
            if None not in (nc, xr, nr):
                recovered.setdefault((gv, c, "n"), nc)
                recovered.setdefault((gv, c, "events"), round(nc * (e["estimate"] + xr / nr)))
    # Linear solve: n = n_ref + n_cmp, axes partition the same demands.
    names = list(true)
    idx = {k: i for i, k in enumerate(names)}
    values = [true[k] for k in names]
    published = [k in recovered for k in names]
    eqs = []
    for e in entries:
        if e["n"] is not None:
            values.append(float(e["n"]))
            published.append(True)
            j = len(values) - 1
            gv = e["group_var"]
            eqs.append(
                [
                    (j, 1.0),
                    (idx[(gv, e["group"], "n")], -1.0),
                    (idx[(gv, e["reference"], "n")], -1.0),
                ]
            )
    for what in ("n", "events"):
        eq = [(idx[(ORIGIN.column, lv, what)], 1.0) for lv in (ORIGIN.reference, *ORIGIN.compared)]
        eq += [
            (idx[(RESIDENCE.column, lv, what)], -1.0)
            for lv in (RESIDENCE.reference, *RESIDENCE.compared)
        ]
        eqs.append(eq)
    hits = [
        names[j] for j in recoverable_cells(values, published, eqs, threshold=T) if j < len(names)
    ]
    direct = [
        k
        for k, v in recovered.items()
        if shown[k] is None and 1 <= true[k] <= T - 1 and math.isclose(v, true[k])
    ]
    # n minus a published count of one of its two groups.
    for e in entries:
        if e["n"] is None:
            continue
        gv = e["group_var"]
        for a, b in ((e["group"], e["reference"]), (e["reference"], e["group"])):
            ka, kb = (gv, a, "n"), (gv, b, "n")
            secret = shown[ka] is None and 1 <= true[ka] <= T - 1
            if secret and shown[kb] is not None and math.isclose(e["n"] - shown[kb], true[ka]):
                direct.append(ka)
    return sorted(set(hits) | set(direct))


# --------------------------------------------------------------------------- tests entries


SMALL_UE = {"francaise": (200, 30), "ue": (6, 1), "hors_ue": (60, 12)}


def test_small_group_run_gives_no_masked_count_back():
    access = _access(SMALL_UE)
    pop, entries = _published_tests(access)
    assert pop["demandes_actives"].isna().any()  # the population table masks ue
    assert _attack_tests(access, pop, entries) == []


def test_a_comparison_with_a_small_group_is_withheld_with_its_reason():
    access = _access(SMALL_UE)
    _, entries = _published_tests(access)
    for e in entries:
        if e["group"] == "ue":
            assert e["n"] is None
            assert e["estimate"] is e["ci_low"] is e["ci_high"] is e["p_value"] is None
            assert e["note"] == WITHHELD_NOTE_FR
            assert e["suppressed"] is True
        if e["group_var"] == "nationalite":
            assert e["n"] is None and e["note"]  # n - francaise would give hors_ue back
        if e["group"] == "hors_ue" and e["estimate_name"] == "rate_difference":
            assert e["estimate"] is None  # with n_hors_ue it gives the events back
        if e["group"] == "hors_ue" and e["estimate_name"] == "odds_ratio":
            assert e["estimate"] is not None  # a model estimate of large groups stays


def test_small_event_count_withholds_n_and_raw_estimate():
    access = _access({"francaise": (200, 30), "ue": (40, 4), "hors_ue": (60, 12)})
    pop, entries = _published_tests(access)
    ue = [e for e in entries if e["group"] == "ue"]
    assert all(e["n"] is None for e in ue)
    for e in ue:  # x_ue = n_ue (d + x_fr / n_fr) with the published sizes
        raw = e["estimate_name"] == "rate_difference"
        assert (e["estimate"] is None) == raw
        assert e["note"] == (WITHHELD_NOTE_FR if raw else N_WITHHELD_NOTE_FR)
    assert _attack_tests(access, pop, entries) == []


def test_large_groups_keep_n_and_estimates():
    access = _access({"francaise": (200, 30), "ue": (40, 15), "hors_ue": (60, 12)})
    _, entries = _published_tests(access)
    assert all(e["n"] is not None and e["estimate"] is not None for e in entries)
    assert all(e["note"] is None for e in entries)


def test_warnings_never_quote_a_small_count():
    access = _access({"francaise": (200, 30), "ue": (40, 15), "hors_ue": (60, 12)})
    records = _records(access)
    records[1] = dataclasses.replace(
        records[1],
        result=dataclasses.replace(
            records[1].result,
            warnings=("Indicatrices retirées : commune_choix1=99001 (3 obs.), G = 64.",),
        ),
    )
    entries = analysis.test_entries(analysis.results_frame(records, secret_threshold=T))
    assert entries[0]["warnings"] == [
        "Indicatrices retirées : commune_choix1=99001 (< 11 obs.), G = 64."
    ]
    for e in entries:
        for w in e["warnings"]:
            for v in re.findall(r"\((\d+) obs\.\)", w):
                assert not 1 <= int(v) <= T - 1


# --------------------------------------------------------------------------- input check


@pytest.mark.parametrize(
    ("read", "accepted", "rejected"), [(500, 495, 5), (500, 3, 497), (7, 7, 0), (300, 280, 20)]
)
def test_input_check_read_minus_accepted_gives_nothing(read, accepted, rejected):
    validation = {
        "counts": [{"table": "demandes", "read": read, "accepted": accepted, "rejected": rejected}],
        "reasons": {"demandes": {"regle_a": rejected}} if rejected else {},
    }
    tab = analysis.validation_tables(validation, threshold=T)["controle_lignes"].iloc[0]
    vals = [read, accepted, rejected]
    shown = [not pd.isna(tab[c]) for c in ("lues", "acceptees", "rejetees")]
    assert recoverable_cells(vals, shown, [[(0, 1.0), (1, -1.0), (2, -1.0)]], threshold=T) == []
    text = analysis.validation_text_fr(validation, threshold=T)
    for v, s in zip(vals, shown, strict=True):
        if not s and v > 0:
            assert f" {v} " not in text


def test_input_check_reason_not_recoverable_from_rejected():
    validation = {
        "counts": [{"table": "demandes", "read": 500, "accepted": 480, "rejected": 20}],
        "reasons": {"demandes": {"regle_a": 17, "regle_b": 3}},
    }
    t = analysis.validation_tables(validation, threshold=T)
    reasons = t["motifs_rejet"]["lignes"]
    rej = t["controle_lignes"]["rejetees"].iloc[0]
    # rejected - published reasons must not give a masked reason.
    if not pd.isna(rej):
        assert reasons.isna().sum() != 1


# --------------------------------------------------------------------------- indicators


def _leases(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    day = rng.integers(0, 730, n)
    return pd.DataFrame(
        {
            "date_bail": pd.Timestamp("2024-01-01") + pd.to_timedelta(day, unit="D"),
            "commune_logement": pd.array(
                rng.choice(["59001"] * 6 + ["59002"] * 2 + ["59003"], n), dtype="string"
            ),
            "bailleur_siren": pd.array(
                rng.choice(["111111111"] * 3 + ["222222222"], n), dtype="string"
            ),
            "reservataire": pd.array(rng.choice(list(RESERVATAIRES), n), dtype="string"),
            "logement_en_qpv": rng.random(n) < 0.3,
            "q1": rng.random(n) < 0.25,
            "relogement_anru": rng.random(n) < 0.05,
            "prioritaire_ou_dalo": rng.random(n) < 0.5,
            "mutation": rng.random(n) < 0.3,
        }
    )


def _key(df: pd.DataFrame) -> list[tuple]:
    sv = df["scope_value"].astype("string").fillna("")
    return list(zip(df["id"], df["scope"], sv, df["window"], df["period"].astype(str), strict=True))


def _attack_indicators(pairs: list[tuple[pd.DataFrame, pd.DataFrame]]) -> list[int]:
    """The indicators table and the trend table are one publication: a cell
    published in either is known, and the rolling windows of the trend table
    chain the semesters (12 months - semester = previous semester)."""
    union = pd.concat([o for o, _ in pairs], ignore_index=True)
    keys = _key(union)
    first = {}
    for i, k in enumerate(keys):
        first.setdefault(k, i)
    rows = sorted(first.values())
    u = union.iloc[rows].reset_index(drop=True)
    pos = {k: i for i, k in enumerate(_key(u))}
    shown = {c: np.zeros(len(u), bool) for c in ("numerator", "denominator")}
    for _, pub in pairs:
        for k, (num, den) in zip(
            _key(pub), pub[["numerator", "denominator"]].itertuples(False), strict=True
        ):
            shown["numerator"][pos[k]] |= not pd.isna(num)
            shown["denominator"][pos[k]] |= not pd.isna(den)
    values, published, eqs = [], [], []
    cell = {}
    for c in ("numerator", "denominator"):
        for i in range(len(u)):
            cell[(i, c)] = len(values)
            values.append(float(u[c].iloc[i]))
            published.append(bool(shown[c][i]))
    for i in range(len(u)):  # numerator + complement = denominator
        values.append(float(u["denominator"].iloc[i] - u["numerator"].iloc[i]))
        published.append(False)
        eqs.append(
            [
                (cell[(i, "numerator")], 1.0),
                (len(values) - 1, 1.0),
                (cell[(i, "denominator")], -1.0),
            ]
        )
    for total, parts, cols in indicator_relations(u):  # totals - parts, windows - semesters
        for c in cols:
            rem = float(u[c].iloc[total] - sum(u[c].iloc[p] for p in parts))
            values.append(rem)
            published.append(rem == 0)  # an exhaustive breakdown: known 0
            eqs.append(
                [(cell[(total, c)], 1.0), (len(values) - 1, -1.0)]
                + [(cell[(p, c)], -1.0) for p in parts]
            )
    return recoverable_cells(values, published, eqs, threshold=T)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_each_indicator_table_gives_no_masked_count_back(seed):
    """Totals - parts, complements and 12 months - semester chains of the trend
    table (previous semester as a part), each table with its own relations."""
    leases = _leases(seed, 160)
    for table in (compute_indicators(leases, period="2025-S2"), trend_table(leases)):
        assert _attack_indicators([(table, protect_indicators(table, threshold=T))]) == []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_indicator_tables_protected_together_give_no_masked_count_back(seed):
    """Seed 3 leaks when each table is protected alone (12 months of the
    indicators table minus the semester of the trend table)."""
    leases = _leases(seed, 160)
    ind = compute_indicators(leases, period="2025-S2")
    trend = trend_table(leases)
    pairs = [
        (ind, protect_indicators(ind, threshold=T, linked=[trend])),
        (trend, protect_indicators(trend, threshold=T, linked=[ind])),
    ]
    assert _attack_indicators(pairs) == []
    # a cell held by both tables is masked in both or in neither
    both = {}
    for _, pub in pairs:
        for k, num, den in zip(_key(pub), pub["numerator"], pub["denominator"], strict=True):
            both.setdefault(k, set()).add((pd.isna(num), pd.isna(den)))
    assert all(len(v) == 1 for v in both.values())


def test_indicator_tables_protected_apart_can_leak():
    """Why ``linked`` exists: the same run, each table protected alone."""
    leases = _leases(3, 160)
    ind = compute_indicators(leases, period="2025-S2")
    trend = trend_table(leases)
    pairs = [(t, protect_indicators(t, threshold=T)) for t in (ind, trend)]
    assert _attack_indicators(pairs) != []


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_notebook_02_tables_with_the_series_per_commune_give_no_masked_count_back(seed):
    """The semester's indicators, the territory trend and the semester series
    per commune, landlord and reservataire (source of the changes and trends)
    protected as one publication: nothing comes back; each protected alone,
    the previous semester of the series gives cells back."""
    from allocation_analysis import change
    from allocation_analysis.config import AnalysisConfig

    leases = _leases(seed, 160)
    cfg = AnalysisConfig(period="2025-S2")
    tables = [
        compute_indicators(leases, period="2025-S2", config=cfg),
        trend_table(leases, config=cfg),
        change.scope_indicator_series(leases, config=cfg),
    ]
    together = change.protect_publication(*tables, threshold=T)
    assert _attack_indicators(list(zip(tables, together, strict=True))) == []
    apart = [protect_indicators(t, threshold=T) for t in tables]
    assert _attack_indicators(list(zip(tables, apart, strict=True))) != []


def test_withheld_p_values_do_not_shape_the_published_adjusted_ones():
    """A Benjamini-Hochberg adjusted value m p_(j) / j can be a withheld p-value,
    scaled: withheld comparisons are left out of their family."""
    access = _access(SMALL_UE)
    frame = analysis.results_frame(_records(access), secret_threshold=T)
    for fam in (PRINCIPAL, ROBUSTNESS):
        sub = frame[frame["family"] == fam]
        expected = stats.adjust_pvalues(sub["p_value"].to_numpy(dtype=float), method="fdr_bh")
        np.testing.assert_allclose(sub["p_adjusted"].to_numpy(dtype=float), expected)
    assert frame.loc[frame["suppressed"], "p_adjusted"].isna().all()


# --------------------------------------------------------------------------- crossed axis


def test_crossed_group_sizes_are_never_published_since_the_margins_give_other_cells_back():
    # 6 UE households live in a QPV (a masked cell of no published table). The
    # margins are published (population table: nationality, residence); if the
    # crossed tests published their n (= crossed group + reference), then
    # a + b + c = n(hors_ue) + n(francaise) + 2 n(francaise|hors_qpv), hence every
    # compared cell, hence n(ue|qpv) = n(qpv) - n(francaise|qpv) - n(hors_ue|qpv).
    cells = {
        ("francaise", "qpv"): 120,
        ("francaise", "hors_qpv"): 400,
        ("ue", "qpv"): 6,
        ("ue", "hors_qpv"): 40,
        ("hors_ue", "qpv"): 90,
        ("hors_ue", "hors_qpv"): 70,
    }
    rows = [
        {"nationalite": nat, "residence_qpv": res, "access": int(i % 4 == 0)}
        for (nat, res), n in cells.items()
        for i in range(n)
    ]
    access = pd.DataFrame(rows)
    access[analysis.INTERSECTION.column] = analysis.crossed_groups(access)
    g = analysis.INTERSECTION
    records = []
    for cmp in g.compared:
        sub = access[access[g.column].isin([g.reference, cmp])]
        counts = sub.groupby(g.column)["access"].agg(["size", "sum"])
        res = TestResult(
            name="logit",
            method="régression logistique",
            estimate=0.8,
            estimate_name="odds_ratio",
            ci_low=0.6,
            ci_high=1.1,
            p_value=0.2,
            statistic=1.6,
            n=len(sub),
            groups=(g.reference, cmp),
            details={
                "n_by_group": counts["size"].astype(int).to_dict(),
                "events_by_group": counts["sum"].astype(int).to_dict(),
            },
        )
        records.append(TestRecord("access_intersection_logit", "access", g, cmp, res))
    entries = analysis.test_entries(analysis.results_frame(records, secret_threshold=T))
    assert len(entries) == 3
    for e in entries:
        assert e["group_var"] == "nationalite_x_residence"
        assert e["n"] is None, e["group"]
        assert e["note"] == N_WITHHELD_NOTE_FR
        assert e["estimate"] == pytest.approx(0.8)  # model estimates of large groups stay
    # the attack the rule prevents, on the sizes the tests would have published
    a, b, c = (r.result.n for r in records)
    n_fr, n_hue = 520, 160
    fh = (a + b + c - n_fr - n_hue) / 2
    n_qpv = 120 + 6 + 90
    assert n_qpv - (c - fh) - (a - fh) == 6


def test_a_cox_model_on_a_small_crossed_group_is_withheld_without_a_sibling_test():
    # The crossed waiting-time test has no log-rank sibling to lend its counts:
    # the Cox result itself must say how many demands each group holds.
    rng = np.random.default_rng(5)
    g = analysis.INTERSECTION
    sizes = {g.reference: 300, "francaise|qpv": 7}
    df = pd.DataFrame(
        {
            g.column: np.repeat(list(sizes), list(sizes.values())),
            "duree_jours": rng.integers(30, 900, size=sum(sizes.values())).astype(float),
            "evt": rng.integers(0, 2, size=sum(sizes.values())),
        }
    )
    res = stats.cox(
        df,
        duration="duree_jours",
        event="evt",
        group=g.column,
        reference=g.reference,
        compared="francaise|qpv",
    )
    assert res.details["n_by_group"] == sizes
    record = TestRecord("waiting_time_intersection_cox", "waiting_time", g, "francaise|qpv", res)
    (entry,) = analysis.test_entries(analysis.results_frame([record], secret_threshold=T))
    assert entry["suppressed"] is True and entry["estimate"] is None
    assert entry["note"] == WITHHELD_NOTE_FR


def test_series_left_out_rather_than_a_territory_count_masked():
    """The publication of notebook 02 never masks a territory count that the
    indicators and trend tables publish together, and gives nothing back."""
    from allocation_analysis import change
    from allocation_analysis.config import AnalysisConfig

    leases = _leases(3, 160)
    cfg = AnalysisConfig(period="2025-S2")
    out = change.publish_indicator_tables(leases, config=cfg)
    base = change.protect_publication(out["indicators"], out["trend"], threshold=T)

    def hidden(frame):
        t = frame[frame["scope"] == "territory"]
        return set(map(tuple, t[t["numerator"].isna()][["id", "window", "period"]].to_numpy()))

    assert hidden(out["trend_published"]) == hidden(base[1])
    assert hidden(out["indicators_published"]) == hidden(base[0])
    tables = [out["indicators"], out["trend"], out["series"]]
    published = [out["indicators_published"], out["trend_published"], out["series_published"]]
    assert _attack_indicators(list(zip(tables, published, strict=True))) == []
