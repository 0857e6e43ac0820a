"""The process notebook, its place in the pipeline and its synthesis sentence."""

from __future__ import annotations

import json
import math
from pathlib import Path

import nbformat
import numpy as np
import pandas as pd
import pytest

from allocation_analysis import pipeline, process, synthesis
from allocation_analysis.config import AnalysisConfig, Period
from allocation_analysis.session import Session
from tests.process_fixtures import PERIOD, random_process

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "04_processus.ipynb"


def _session(tmp_path: Path, *, with_propositions: bool) -> Session:
    d = random_process(n=1500, seed=7, designation_or_hors_ue=0.4)
    return Session(
        config=AnalysisConfig(period=Period.parse(PERIOD), territory="demo"),
        demandes=d["access"],
        allocations=d["allocations"],
        access=d["access"],
        output_dir=tmp_path,
        propositions=d["propositions"] if with_propositions else None,
    )


def _run_cells(session: Session, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Run the stored notebook's code cells on ``session``; return what they displayed."""
    import matplotlib

    matplotlib.use("Agg")
    shown: list[str] = []
    monkeypatch.setattr("allocation_analysis.session.open_session", lambda **_: session)
    monkeypatch.setattr(
        "IPython.display.display", lambda obj: shown.append(getattr(obj, "data", repr(obj)))
    )
    nb = nbformat.read(NOTEBOOK, as_version=4)
    ns: dict = {"output_dir": None, "work_dir": None}
    for cell in nb.cells:
        if cell.cell_type == "code":
            exec(compile(cell.source, str(NOTEBOOK), "exec"), ns)  # noqa: S102
    return [str(x) for x in shown]


def test_notebook_is_stored_without_outputs_and_with_cell_ids():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(c.get("id") for c in nb.cells)
    assert all(
        not c.get("outputs") and c.get("execution_count") is None
        for c in nb.cells
        if c.cell_type == "code"
    )


def test_notebook_publishes_the_process_tables_and_results_with_propositions(tmp_path, monkeypatch):
    shown = _run_cells(_session(tmp_path, with_propositions=True), monkeypatch)
    tables = {p.stem for p in (tmp_path / "tables").glob("*.csv")}
    assert {
        "processus_etapes",
        "processus_ecart",
        "processus_tests",
        "cotation_contributions",
    } <= tables
    process_part = json.loads((tmp_path / "_parts" / "process.json").read_text("utf-8"))
    assert {e["stage"] for e in process_part} == set(process.STAGES)
    tests = json.loads((tmp_path / "_parts" / "process_tests.json").read_text("utf-8"))
    assert "designation_origin_logit" in {t["id"] for t in tests}
    assert (tmp_path / "figures" / "processus_nationalite.png").is_file()
    text = " ".join(shown)
    assert "l'écart se forme surtout à la désignation des candidats" in text
    assert "intention" in text or "À cotation égale, pas d'écart" in text


def test_notebook_says_the_analysis_is_unavailable_without_propositions(tmp_path, monkeypatch):
    shown = _run_cells(_session(tmp_path, with_propositions=False), monkeypatch)
    assert not (tmp_path / "tables").exists()
    assert any("Aucun fichier de propositions" in x for x in shown)


def test_pipeline_runs_the_process_notebook_only_with_propositions():
    class Inputs:
        propositions = None

    without = pipeline.notebooks_to_run(Inputs())
    Inputs.propositions = pd.DataFrame({"id_offre": ["O1"]})
    with_props = pipeline.notebooks_to_run(Inputs())
    assert "04_processus.ipynb" not in without
    assert with_props[-2:] == ("04_processus.ipynb", "00_synthese.ipynb")
    order = [p.name for p in pipeline.report_order([Path(n) for n in with_props])]
    assert order[0] == "00_synthese.ipynb" and order[-1] == "04_processus.ipynb"


def test_synthesis_sentence_names_the_stage_with_the_largest_share():
    gaps = pd.DataFrame(
        {
            "group_var": "nationalite",
            "group": "hors_ue",
            "reference": "francaise",
            "stage": [*process.STAGES, "lease_overall"],
            "log_rate_ratio": [-0.6, 0.05, -0.15, 0.0, 0.0, -0.7],
            "gap_share": [0.6 / 0.7, -0.05 / 0.7, 0.15 / 0.7, 0.0, 0.0, 1.0],
        }
    )
    text = synthesis.process_sentence_fr(gaps)
    assert "moins souvent à un bail" in text
    assert "rapport des taux 0,50" in text  # exp(-0.7) = 0.4966
    assert "surtout à la désignation des candidats (86\u202f% de l'écart)" in text  # 0.6 / 0.7
    assert synthesis.process_sentence_fr(None) == ""
    hidden = gaps.assign(gap_share=float("nan"), log_rate_ratio=float("nan"))
    assert "pas diffusée (secret statistique)" in synthesis.process_sentence_fr(hidden)


def test_synthesis_sentence_with_offsetting_stages_names_the_largest_stage_gap():
    # overall log ratio 0.03: designation -0.2 and offer +0.23 offset each other
    gaps = pd.DataFrame(
        {
            "group": "qpv",
            "reference": "hors_qpv",
            "stage": [*process.STAGES, "lease_overall"],
            "log_rate_ratio": [-0.2, 0.0, 0.23, 0.0, 0.0, 0.03],
            "gap_share": [-0.2 / 0.03, 0.0, 0.23 / 0.03, 0.0, 0.0, 1.0],
        }
    )
    text = synthesis.process_sentence_fr(gaps)
    assert "plus souvent à un bail" in text and "rapport des taux 1,03" in text
    assert "sens contraires" in text and "surtout" not in text
    # exp(0.23) = 1.2586
    assert "le plus marqué se situe à la proposition du logement" in text
    assert "(rapport des taux de passage 1,26)" in text


def test_funnel_figure_draws_published_rates_and_hatches_withheld_ones():
    import matplotlib

    matplotlib.use("Agg")
    from allocation_analysis import figures

    rows = []
    for group, rates in (
        ("francaise", [0.5, 0.8, 0.6, 0.7, 0.9]),
        ("hors_ue", [0.25, 0.8, None, 0.7, 0.9]),
    ):
        for stage, r in zip(process.STAGES, rates, strict=True):
            rows.append(
                {
                    "group_var": "nationalite",
                    "group": group,
                    "stage": stage,
                    "rate": r,
                    "rate_ci_low": None if r is None else r - 0.05,
                    "rate_ci_high": None if r is None else min(r + 0.05, 1.0),
                }
            )
    fig = figures.process_funnel_plot(
        pd.DataFrame(rows), group_var="nationalite", title="t", source=None
    )
    ax = fig.axes[0]
    filled = sorted(round(b.get_height(), 6) for b in ax.patches if not b.get_hatch())
    assert filled == sorted([0.5, 0.8, 0.6, 0.7, 0.9, 0.25, 0.8, 0.7, 0.9])
    hatched = [b for b in ax.patches if b.get_hatch()]
    assert len(hatched) == 1 and hatched[0].get_hatch() == "///"
    assert "n.d." in [t.get_text() for t in ax.texts]
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels[0].replace("\n", " ") == "désignation par le réservataire"


def test_process_tests_table_names_every_method_in_french_and_designation_by_reservataire():
    from allocation_analysis import narrative
    from tests.test_process import _frames

    d = random_process(seed=4)
    c, f = _frames(d)
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, _ = process.process_tests(f, c, config=cfg, outcomes={"score", "designation"})
    shown = narrative.tests_table_fr(process.tests_table(recs, config=cfg), alpha=cfg.alpha)
    methods = set(shown["Méthode"])
    assert methods == {"différence de moyennes", "régression logistique ajustée"}
    questions = set(shown["Question"])
    # the reservataire designates the candidates; the commission decides on them
    assert "Désignation des candidats par le réservataire" in questions
    assert not any("CAL" in q for q in questions if q.startswith("Désignation"))


def _designation_and_refusal_tests():
    from tests.test_process import _frames

    c, f = _frames(random_process(n=2000, seed=17, designation_or_hors_ue=0.4, n_offers=500))
    cfg = AnalysisConfig(period=Period.parse(PERIOD))
    recs, _ = process.process_tests(f, c, config=cfg, outcomes={"designation", "refusal"})
    return process.tests_table(recs, config=cfg)


def test_stage_sentences_word_the_significant_tests_and_count_the_others():
    res = _designation_and_refusal_tests()
    significant = int((res["p_adjusted"] < 0.05).sum())
    assert 0 < significant < len(res)  # the planted designation gap, not the refusals
    out = process.stage_sentences_fr(res, alpha=0.05)
    assert len(out) == significant + 1
    assert out[-1].startswith(f"Les {len(res) - significant} autres comparaisons")
    assert all("Désignation des candidats par le réservataire" in t for t in out[:-1])


def test_stage_tests_display_leaves_out_the_columns_constant_in_the_chapter():
    res = _designation_and_refusal_tests()
    shown = process.tests_display_fr(res, alpha=0.05)
    assert len(shown) == len(res)
    assert list(shown.columns)[:2] == ["Question", "Groupe comparé"]
    for col in ("Famille", "Référence", "Test", "IC ajusté pour tests multiples"):
        assert col not in shown.columns
    assert set(shown["Groupe comparé"]) == {"UE", "hors UE", "en QPV"}


def test_equal_score_designation_sentence_names_the_reservataire():
    row = {
        "outcome": "designation_equal_score",
        "group": "hors_ue",
        "reference": "francaise",
        "p_adjusted": 0.5,
        "estimate": 0.9,
        "suppressed": False,
    }
    (text,) = process.equal_score_sentences_fr(pd.DataFrame([row]), alpha=0.05)
    assert "désignés par un réservataire" in text and "en commission" not in text


def test_synthesis_sentence_does_not_split_a_gap_that_is_not_established():
    # UE households: leases through the commissions 0,86 times as often, but the
    # interval of that ratio contains 1: no stage is said to « form » the gap
    gaps = pd.DataFrame(
        {
            "group_var": "nationalite",
            "group": "ue",
            "reference": "francaise",
            "stage": [*process.STAGES, "lease_overall"],
            "log_rate_ratio": [-0.05, -0.09, 0.0, -0.01, 0.0, -0.15],
            "log_rate_ratio_ci_low": [np.nan] * 5 + [-0.40],
            "log_rate_ratio_ci_high": [np.nan] * 5 + [0.10],
            "gap_share": [0.05 / 0.15, 0.09 / 0.15, 0.0, 0.01 / 0.15, 0.0, 1.0],
        }
    )
    text = synthesis.process_sentence_fr(gaps)
    assert "surtout" not in text
    assert "écart de taux de bail par les commissions n'est pas établi" in text
    assert "0,86" in text and "0,67 à 1,11" in text  # exp(-0.15), exp(-0.40), exp(0.10)


def test_funnel_table_gives_the_interval_of_the_overall_lease_ratio():
    # hand counts: reference 1000 demands, 100 leases; compared 500 demands, 30 leases
    # log ratio = log(0.06 / 0.10); Katz SE = sqrt(1/30 - 1/500 + 1/100 - 1/1000)
    se = math.sqrt(1 / 30 - 1 / 500 + 1 / 100 - 1 / 1000)
    lo, hi = process.log_ratio_interval(30, 500, 100, 1000, alpha=0.05)
    assert lo == pytest.approx(math.log(0.6) - 1.959963984540054 * se, rel=1e-12)
    assert hi == pytest.approx(math.log(0.6) + 1.959963984540054 * se, rel=1e-12)
