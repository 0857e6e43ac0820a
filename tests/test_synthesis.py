"""The synthesis page: legal obligations at a glance, changes, main findings."""

import html
import math
import re

import pandas as pd
import pipeline_fixtures
import pytest
from scipy import stats as sps

from allocation_analysis import calibration, change, session, synth, synthesis
from allocation_analysis.config import AnalysisConfig, Period


def _prepared(scale: str):
    """Prepared allocations of a generated territory, its config, and the generator's
    own territory counts (truth.json) indexed by indicator, period and window."""
    ds = synth.generate(scale=scale, seed=1)
    inputs = calibration.loaded_inputs(ds)
    config = AnalysisConfig(period=Period.parse("2025-S2"), siren_epci=inputs.siren_epci)
    alloc = session.prepare(inputs, config)["allocations"]
    truth = pd.DataFrame(ds.truth["indicateurs"])
    truth = truth[truth["perimetre"] == "territoire"].set_index(
        ["indicateur", "periode", "fenetre"]
    )
    return alloc, config, truth


@pytest.fixture(scope="module")
def demo():
    return _prepared("small")


def _truth_share(truth, ind, period, window):
    r = truth.loc[(ind, period, window)]
    return r["numerateur"], r["denominateur"]


def test_obligations_follow_the_generators_counts_and_targets(demo):
    alloc, config, truth = demo
    table = synthesis.obligations_table(alloc, config=config).set_index(["id", "window"])
    published = 0
    for (ind, window), row in table.iterrows():
        fen = "semestre" if window == "semester" else "12_mois"
        k, n = _truth_share(truth, ind, "2025-S2", fen)
        if n == 0:
            assert row["status"] == "sans_objet"
            continue
        if n < config.secret_threshold:
            assert row["status"] == "non_diffuse"
            continue
        # the status rests on the true share even when the numerator is masked (or is
        # withheld there, when saying it would let a count be recovered)
        true_status = "atteint" if k / n >= row["target"] else "non_atteint"
        if math.isnan(row["share"]):
            assert row["status"] in (true_status, "non_diffuse")
        else:
            assert row["status"] == true_status
        if not math.isnan(row["share"]):
            assert row["share"] == pytest.approx(k / n)
            published += 1
        if window == "semester":
            k0, n0 = _truth_share(truth, ind, "2025-S1", fen)
            if not math.isnan(row["previous_change"]):
                assert row["previous_change"] == pytest.approx(k / n - k0 / n0)
                # score test of equal proportions, computed here from the 2x2 table
                chi2, p, _, _ = sps.chi2_contingency([[k, n - k], [k0, n0 - k0]], correction=False)
                assert row["previous_change_p_value"] == pytest.approx(p, rel=1e-9)
        k1, n1 = _truth_share(truth, ind, "2024-S2", fen)
        if not math.isnan(row["year_before_change"]):
            assert row["year_before_change"] == pytest.approx(k / n - k1 / n1)
    assert published >= 3


def test_synthesis_never_publishes_a_share_the_indicator_table_masks(demo):
    # The synthesis once protected the territory rows on their own: it published the
    # 12-month share of leases in QPV (56 of 78) that the report's indicator table
    # masks to protect communes' counts, and gave back what the table hid.
    alloc, config, _ = demo
    tables = change.publish_indicator_tables(alloc, config=config)
    ind = tables["indicators_published"]
    masked = ind[(ind["scope"] == "territory") & ind["share"].isna()]
    assert len(masked), "the fixture must mask some territory share"
    synth_table = synthesis.obligations_table(alloc, config=config).set_index(["id", "window"])
    for r in masked.itertuples():
        assert math.isnan(synth_table.loc[(r.id, r.window), "share"]), (r.id, r.window)
        assert pd.isna(r.denominator) == pd.isna(synth_table.loc[(r.id, r.window), "denominator"])


def _allocations(n_in_qpv_out: int, n_q1: int) -> pd.DataFrame:
    """``n_in_qpv_out`` leases outside QPV in 2025-S2, ``n_q1`` of them to Q1 households."""
    rows = []
    for i in range(n_in_qpv_out):
        rows.append(
            {
                "date_bail": pd.Timestamp("2025-09-01"),
                "commune_logement": "99001",
                "bailleur_siren": "399000011",
                "reservataire": "action_logement",
                "logement_en_qpv": False,
                "q1": i < n_q1,
                "prioritaire_ou_dalo": False,
                "mutation": False,
                "relogement_anru": False,
            }
        )
    return pd.DataFrame(rows)


def test_a_masked_numerator_still_says_the_objective_is_not_met():
    # 2 of 57 leases outside QPV to first-quartile households: 3.5 %, far below 25 %
    alloc = _allocations(57, 2)
    config = AnalysisConfig(period=Period.parse("2025-S2"))
    table = synthesis.obligations_table(alloc, config=config).set_index(["id", "window"])
    row = table.loc[("q1_hors_qpv", "semester")]
    assert math.isnan(row["share"])  # the share would give the count back
    assert row["status"] == "non_atteint"
    assert row["distance"] == "nettement en dessous de l'objectif"
    shown = synthesis.obligations_display(table.reset_index(), config=config)
    text = " ".join(shown.astype(str).to_numpy().ravel())
    assert "Objectif non atteint (nettement en dessous)" in text
    assert " 2 " not in f" {text} " and "3,5" not in text


def test_a_band_that_would_give_the_masked_count_is_not_said():
    # 4 of 20 leases outside QPV to first-quartile households: 20 %, 5 points below
    # 25 %. « Légèrement en dessous » (20 % to 25 %) on 20 leases would say 4 exactly;
    # on 40 leases, 9 (22,5 %) lies in [8, 9]: two values, the band can be said.
    config = AnalysisConfig(period=Period.parse("2025-S2"))
    table = synthesis.obligations_table(_allocations(20, 4), config=config)
    row = table.set_index(["id", "window"]).loc[("q1_hors_qpv", "semester")]
    assert math.isnan(row["share"]) and row["status"] == "non_atteint"
    assert row["distance"] == ""
    shown = synthesis.obligations_display(table, config=config)
    text = " ".join(shown.astype(str).to_numpy().ravel())
    assert "Objectif non atteint" in text and "légèrement" not in text
    table = synthesis.obligations_table(_allocations(40, 9), config=config)
    row = table.set_index(["id", "window"]).loc[("q1_hors_qpv", "semester")]
    assert math.isnan(row["share"])
    assert row["distance"] == "légèrement en dessous de l'objectif"


def test_synthesis_table_cells_are_short_enough_for_one_printed_page(demo):
    # printed, the cells « Semestre précédent : 11,3 % → écart −5,5 pt (au-delà du
    # hasard) » wrapped over seven lines and the table ran over two A4 pages
    alloc, config, _ = demo
    table = synthesis.obligations_table(alloc, config=config)
    shown = synthesis.obligations_display(table, config=config)
    assert list(shown.columns) == [
        "Obligation",
        "Période",
        "Attributions",
        "Part",
        "Objectif",
        "Résultat",
        "Sur 6 mois",
        "Sur un an",
    ]
    cells = [str(v) for col in shown.columns[1:] for v in shown[col]]
    assert max(map(len, cells)) <= 46, max(cells, key=len)
    change = [v for v in shown["Sur un an"] if v != "—"]
    assert change and all(
        re.fullmatch(r"[+−]?\d+,\d pt, (au-delà du hasard|dans les limites du hasard)", v)
        or v in ("non diffusable (secret)", "—")
        for v in change
    ), change
    # the 12-month windows of consecutive semesters overlap: no 6-month change for them
    assert (shown.loc[shown["Période"] == "12 mois glissants", "Sur 6 mois"] == "—").all()


def test_findings_are_plain_sentences_of_the_significant_primary_tests():
    tests = pd.DataFrame(
        [
            dict(family="principal", outcome="access", group="hors_ue", reference="francaise",
                 estimate_name="odds_ratio", estimate=0.7, p_adjusted=0.01,
                 ci_low_adjusted=0.55, ci_high_adjusted=0.9),
            dict(family="principal", outcome="waiting_time", group="qpv", reference="hors_qpv",
                 estimate_name="hazard_ratio", estimate=0.8, p_adjusted=0.03,
                 ci_low_adjusted=0.66, ci_high_adjusted=0.97),
            dict(family="principal", outcome="placement", group="ue", reference="francaise",
                 estimate_name="odds_ratio", estimate=1.1, p_adjusted=0.6,
                 ci_low_adjusted=0.8, ci_high_adjusted=1.5),
            dict(family="robustesse", outcome="access", group="hors_ue", reference="francaise",
                 estimate_name="odds_ratio", estimate=0.2, p_adjusted=0.0001,
                 ci_low_adjusted=None, ci_high_adjusted=None),
        ]
    )  # fmt: skip
    out = synthesis.findings_fr(tests, alpha=0.05)
    assert len(out) == 3  # two findings (primary, significant) and what they mean
    assert out[0].startswith("À situation comparable, les ménages de nationalité hors UE ont")
    assert "environ 30 % de chances en moins d'obtenir un logement" in out[0]
    assert "rythme environ 20 % plus lent" in out[1]
    assert "pas une preuve de discrimination" in out[2]
    for code in ("hors_ue", "francaise", "hors_qpv"):
        assert code not in " ".join(out)
    none = synthesis.findings_fr(tests.assign(p_adjusted=0.5), alpha=0.05)
    assert len(none) == 1 and "Aucun des 3 tests principaux" in none[0]


def test_methods_annex_lists_each_models_own_controls():
    from allocation_analysis import analysis

    text = synthesis.methods_annex_fr()
    # the placement model does not hold the household's resources comparable
    placement = next(line for line in text.splitlines() if "en QPV — régression logistique" in line)
    assert "ressources par unité" not in placement and "réservataire" in placement
    access = next(line for line in text.splitlines() if "Accès" in line and "logistique" in line)
    assert "commune demandée en premier choix" in access
    assert "toutes choses égales par ailleurs" not in text
    assert "Glossaire" in text and "QPV" in text
    for c in analysis.ACCESS_MODEL_CONTROLS:
        if "_" in c:  # codes that are not also French words
            assert c not in text  # names, not codes


# --------------------------------------------------------------------------- in the report

planted_dataset = pipeline_fixtures.planted_dataset
planted_run = pipeline_fixtures.planted_run
test_environment = pipeline_fixtures.test_environment


def _visible_text(page: str) -> str:
    body = re.sub(r"<style.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


@pytest.mark.slow
def test_report_opens_on_the_synthesis_with_cover_banner_obligations_and_findings(planted_run):
    text = _visible_text((planted_run.final / "report.html").read_text("utf-8"))
    order = [
        "Synthèse",
        "DONNÉES FICTIVES",
        "Produit le",
        "Obligations légales du semestre et des 12 derniers mois",
        "Principaux constats",
        "Sommaire",
        "Données d'entrée : contrôle et qualité",
        "Indicateurs légaux de la Convention Intercommunale d'Attribution",
    ]
    positions = [text.find(t) for t in order]
    assert -1 not in positions, [t for t, p in zip(order, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    assert "Objectif atteint" in text or "Objectif non atteint" in text


@pytest.mark.slow
def test_printed_report_has_a4_pages_with_numbers(planted_run):
    page = (planted_run.final / "report.html").read_text("utf-8")
    assert "size: A4" in page
    assert "counter(page)" in page


def test_a_large_odds_ratio_is_not_read_as_a_percentage_of_chances():
    # An odds ratio of 2,37 on an outcome as common as a QPV placement is far from
    # « 137 % de chances en plus »: beyond [0.67, 1.5] only the direction is put into
    # words, the ratio stays in the parentheses.
    rec = {
        "outcome": "placement",
        "group": "hors_ue",
        "reference": "francaise",
        "estimate_name": "odds_ratio",
        "estimate": 2.37,
        "ci_low_adjusted": 1.78,
        "ci_high_adjusted": 3.15,
    }
    text = synthesis.finding_sentence_fr(rec, alpha=0.05)
    assert "137" not in text
    assert "nettement plus de chances de se voir attribuer un logement situé en QPV" in text
    assert "rapport de cotes 2,37" in text
    low = synthesis.finding_sentence_fr({**rec, "estimate": 0.40}, alpha=0.05)
    assert "nettement moins de chances" in low and "60 %" not in low


@pytest.mark.slow
def test_demo_maps_and_figures_never_cite_real_sources(planted_run):
    # the planted run is the demo territory: its maps must not say « SNE, RPLS »
    for f in sorted((planted_run.final / "maps").glob("*.html")):
        assert "SNE, RPLS" not in f.read_text("utf-8"), f.name
        assert "fictives" in f.read_text("utf-8"), f.name


@pytest.mark.slow
def test_report_tables_show_no_internal_code(planted_run):
    """No cell of a table of the report is a code of the catalogue (« hors_ue »,
    « francaise », « seuils_q1 »…): the working group reads French labels."""
    from allocation_analysis import labels

    page = (planted_run.final / "report.html").read_text("utf-8")
    cells = {
        html.unescape(re.sub(r"<[^>]+>", "", c)).strip()
        for c in re.findall(r"<t[dh]\b[^>]*>(.*?)</t[dh]>", page, flags=re.S)
    }
    assert cells
    assert sorted(cells & set(labels.ALL_CODES)) == []


@pytest.fixture(scope="module")
def demo_scale():
    """The default demo territory: per-semester counts large enough to be published."""
    return _prepared("demo")


def test_trend_of_each_obligation_matches_a_logistic_fit_of_the_generators_counts(demo_scale):
    """Trend over the semesters of the data, up to the analysed one: odds ratio per
    semester and p-value of a binomial GLM fitted here with statsmodels on the
    generator's own per-semester counts (truth.json), not on the toolkit's."""
    import numpy as np
    import statsmodels.api as sm

    from allocation_analysis import indicators, privacy

    alloc, config, truth = demo_scale
    trend = indicators.trend_table(alloc, config=config)
    published = privacy.protect_indicators(trend, threshold=config.secret_threshold)
    table = indicators.trend_tests(trend, published, config=config).set_index("id")
    assert set(table.index) == set(indicators.INDICATOR_IDS)
    sem = truth.xs("semestre", level="fenetre").reset_index()
    sem = sem[sem["periode"] <= "2025-S2"]
    checked = 0
    for ind, rows in sem.groupby("indicateur"):
        rows = rows.sort_values("periode")
        rows = rows[rows["denominateur"] > 0]
        row = table.loc[ind]
        if row["conclusion"].startswith("non calculable"):
            continue
        year = rows["periode"].str[:4].astype(int)
        half = rows["periode"].str[-1].astype(int)
        idx = (2 * year + half - 1).to_numpy(float)
        idx -= idx.min()
        y = np.column_stack([rows["numerateur"], rows["denominateur"] - rows["numerateur"]])
        fit = sm.GLM(y, sm.add_constant(idx), family=sm.families.Binomial()).fit()
        assert row["n_semestres"] == len(rows)
        assert row["rapport_cotes_par_semestre"] == pytest.approx(math.exp(fit.params[1]), rel=1e-6)
        assert row["p_value"] == pytest.approx(fit.pvalues[1], rel=1e-5, abs=1e-12)
        checked += 1
    assert checked >= 3


def test_trend_is_not_computed_over_fewer_than_three_semesters(demo):
    from allocation_analysis import indicators, privacy

    alloc, config, _ = demo
    recent = alloc[alloc["date_bail"] >= pd.Timestamp("2025-01-01")]
    trend = indicators.trend_table(recent, config=config)
    published = privacy.protect_indicators(trend, threshold=config.secret_threshold)
    table = indicators.trend_tests(trend, published, config=config)
    assert table["conclusion"].str.startswith("non calculable").all()
    assert table["p_value"].isna().all()


@pytest.mark.slow
def test_results_json_and_tables_carry_the_trend_of_every_obligation(planted_run):
    import json

    from allocation_analysis import indicators

    results = json.loads((planted_run.final / "results.json").read_text("utf-8"))
    territory = [t for t in results["trend"] if t["scope"] == "territory"]
    assert [t["id"] for t in territory] == list(indicators.INDICATOR_IDS)
    fields = {"id", "scope", "change_vs_previous", "ci_low", "ci_high", "p_value"}
    fields |= {"change_vs_year_before", "p_value_year", "trend_slope", "trend_p_value"}
    for t in results["trend"]:
        assert fields <= set(t)
        assert t["conclusion"]
        assert (t["trend_p_value"] is None) == t["conclusion"].startswith("non calculable")
    groups = {t["id"] for t in results["trend"] if t["scope"] in ("origin", "residence")}
    assert groups == {"acces_francaise", "acces_ue", "acces_hors_ue", "acces_hors_qpv", "acces_qpv"}
    assert (planted_run.final / "tables" / "tendance_tests.csv").is_file()
    assert "Tendance sur les semestres des données" in (
        planted_run.final / "report.html"
    ).read_text("utf-8")


def test_trend_sentence_names_established_trends_and_says_when_none_is():
    table = pd.DataFrame(
        {
            "id": ["q1_hors_qpv", "prioritaires_collectivite", "non_q1_en_qpv"],
            "premier_semestre": ["2022-S1"] * 3,
            "dernier_semestre": ["2025-S2"] * 3,
            "n_semestres": [8, 8, 8],
            "conclusion": [
                "pas de tendance établie",
                "baisse au-delà du hasard",
                "non calculable : effectif d'un semestre sous le secret statistique",
            ],
        }
    )
    text = synthesis.trend_sentence_fr(table)
    assert "Depuis le 1er semestre 2022" in text
    assert "DALO" in text  # acronyms keep their capitals
    assert "baisse au-delà du hasard" in text and "collectivités" in text
    none = synthesis.trend_sentence_fr(table.assign(conclusion="pas de tendance établie"))
    assert "aucune tendance" in none.lower()
    assert synthesis.trend_sentence_fr(None) == ""
