"""The built-in demo shows what the toolkit is for: at its default scale the primary
tests detect the disparities the generator planted, in the planted direction."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from allocation_analysis import pipeline

pytestmark = pytest.mark.slow

KEY_HEX = "6d" * 32

# primary test id, compared group → path of the planted odds ratio in truth["effects"]
PLANTED = {
    ("access_origin_logit", "hors_ue"): ("access", "nationalite", "hors_ue"),
    ("access_residence_logit", "qpv"): ("access", "residence_qpv", None),
    ("placement_origin_logit", "hors_ue"): ("placement_qpv", "nationalite", "hors_ue"),
    ("placement_residence_logit", "qpv"): ("placement_qpv", "residence_qpv", None),
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLOCATION_ANALYSIS_KEY", KEY_HEX)
        mp.delenv("ALLOCATION_ANALYSIS_KEY_FILE", raising=False)
        assert pipeline.demo_command(output=str(out)) == 0
    (final,) = [p for p in (out / "demo").iterdir() if p.name[:2] == "20"]
    truth = json.loads((out / "demo" / "donnees_synthetiques" / "truth.json").read_text("utf-8"))
    return final, truth


def _planted(truth: dict, path: tuple[str, str, str | None]) -> float:
    model, variable, level = path
    value = truth["effects"][model][variable]
    return float(value[level] if level else value)


def test_default_demo_detects_the_planted_disparities_in_their_direction(demo_run):
    final, truth = demo_run
    tests = pd.read_csv(final / "tables" / "tests.csv").set_index(["id", "group"])
    for key, path in PLANTED.items():
        planted = _planted(truth, path)
        row = tests.loc[key]
        assert row["p_adjusted"] < 0.05, (key, row["estimate"], row["p_adjusted"])
        assert math.copysign(1, math.log(row["estimate"])) == math.copysign(1, math.log(planted))


def test_default_demo_report_states_findings_on_fictional_data(demo_run):
    final, _ = demo_run
    page = (final / "report.html").read_text("utf-8")
    assert "DONNÉES FICTIVES" in page
    assert "Aucun des" not in page.split("Principaux constats", 1)[1][:3000]
