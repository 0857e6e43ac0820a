"""The comparison page of a batch: what each run published, side by side."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pandas as pd
import pytest

from allocation_analysis import comparison


def _indicator(id_, window, num, den, share, status, suppressed=False):
    return {
        "id": id_,
        "scope": "territory",
        "scope_value": None,
        "window": window,
        "numerator": num,
        "denominator": den,
        "share": share,
        "ci_low": None if share is None else share - 0.03,
        "ci_high": None if share is None else share + 0.03,
        "target": 0.25,
        "p_value_vs_target": None,
        "status": status,
        "suppressed": suppressed,
    }


def _test(id_, group, estimate, family="principal", note=None):
    return {
        "id": id_,
        "outcome": id_.split("_")[0],
        "group_var": "nationalite",
        "group": group,
        "reference": "francaise",
        "estimate_name": "odds_ratio",
        "estimate": estimate,
        "ci_low": None if estimate is None else estimate * 0.8,
        "ci_high": None if estimate is None else estimate * 1.25,
        "p_adjusted": None if estimate is None else 0.012,
        "suppressed": estimate is None,
        "note": note,
        "family": family,
    }


@pytest.fixture
def runs(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    first = {
        "territory": "mel",
        "period": "2025-S1",
        "indicators": [
            _indicator("q1_hors_qpv", "semester", 175, 884, 175 / 884, "non_atteint_significatif"),
            _indicator(
                "q1_hors_qpv", "rolling_12m", 400, 1700, 400 / 1700, "non_atteint_non_significatif"
            ),
            {
                **_indicator("q1_hors_qpv", "semester", 3, 20, 0.15, "atteint"),
                "scope": "commune",
            },
        ],
        "tests": [
            _test("access_origin_logit", "hors_ue", 0.75),
            _test("access_origin_rates", "hors_ue", -0.05, family="robustesse"),
        ],
    }
    second = {
        "territory": "demo",
        "period": "2025-S2",
        "indicators": [
            _indicator("q1_hors_qpv", "semester", None, 60, None, "non_diffuse", suppressed=True),
        ],
        "tests": [_test("access_origin_logit", "hors_ue", None, note="effectif trop faible")],
    }
    rows = []
    for res in (first, second):
        folder = tmp_path / res["territory"] / res["period"]
        folder.mkdir(parents=True)
        (folder / "results.json").write_text(json.dumps(res), encoding="utf-8")
        rows.append(
            {
                "territory": res["territory"],
                "period": res["period"],
                "status": "ok",
                "output": str(folder),
            }
        )
    rows.append({"territory": "sud", "period": "2025-S2", "status": "échec", "output": None})
    return pd.DataFrame(rows), tmp_path


def test_tables_hold_the_territory_indicators_and_primary_tests_each_run_published(runs):
    summary, _ = runs
    tables = comparison.comparison_tables(summary)
    ind = tables["indicateurs"]
    # commune-scope rows and failed runs are left out; 3 territory rows remain
    assert len(ind) == 3
    mel = ind[(ind["territory"] == "mel") & (ind["window"] == "semester")].iloc[0]
    assert (mel["numerator"], mel["denominator"]) == (175, 884)
    assert mel["share"] == pytest.approx(0.19796380090497737)
    demo = ind[ind["territory"] == "demo"].iloc[0]
    assert pd.isna(demo["numerator"]) and pd.isna(demo["share"])  # masked stays masked
    tests = tables["tests"]
    assert tests["id"].tolist() == ["access_origin_logit", "access_origin_logit"]
    assert tests.set_index("territory").loc["mel", "estimate"] == pytest.approx(0.75)
    assert pd.isna(tests.set_index("territory").loc["demo", "estimate"])


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def test_page_is_french_with_one_figure_per_indicator_and_per_test(runs):
    summary, root = runs
    page = comparison.write_comparison(summary, root)
    assert page == root / "comparaison" / "comparaison.html"
    text_parser = _Text()
    text_parser.feed(page.read_text(encoding="utf-8"))
    text = " ".join(text_parser.parts)
    assert "Métropole Européenne de Lille, 1er semestre 2025" in text
    assert "2e semestre 2025" in text
    assert "19,8\u202f%" in text  # 175 / 884, French decimal comma, narrow no-break space
    assert "0,75" in text
    for code in ("q1_hors_qpv", "hors_ue", "francaise", "rolling_12m", "non_atteint"):
        assert not re.search(rf"\b{code}\b", text), code
    figs = sorted(p.name for p in (root / "comparaison" / "figures").iterdir())
    assert figs == ["indicateur_q1_hors_qpv.png", "test_access_origin_logit.png"]
    assert (root / "comparaison" / "comparaison_indicateurs.csv").is_file()
    assert (root / "comparaison" / "comparaison_tests.csv").is_file()


def test_nothing_is_written_when_no_run_succeeded(tmp_path):
    summary = pd.DataFrame(
        [{"territory": "sud", "period": "2025-S2", "status": "échec", "output": None}]
    )
    assert comparison.write_comparison(summary, tmp_path) is None
    assert not (tmp_path / "comparaison").exists()
