"""Static figures: produced at 300 dpi, French tick labels, refusals."""

from __future__ import annotations

import re

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.text import Text
from PIL import Image
from shapely.geometry import box

from allocation_analysis import figures, labels
from allocation_analysis.errors import UsageError


def _plain(text: str) -> str:
    """Narrow no-break spaces (French thousands and ``%``) read as plain spaces."""
    return text.replace("\u202f", " ")


def test_percent_formatter_writes_french_percentages():
    fmt = figures.percent_formatter(1)
    assert fmt(0.248) == "24,8\u202f%"
    assert _plain(fmt(0.0)) == "0,0 %"
    assert _plain(figures.percent_formatter(0)(0.5)) == "50 %"


def test_decimal_formatter_uses_a_comma_and_a_true_minus():
    assert figures.decimal_formatter(2)(0.75) == "0,75"
    assert figures.decimal_formatter(1)(-2) == "−2,0"
    assert figures.decimal_formatter(0)(1234) == "1\u202f234"


def _dpi(path) -> tuple[float, float]:
    with Image.open(path) as im:
        return im.info["dpi"]


def _tick_texts(fig, axis: str) -> list[str]:
    fig.canvas.draw()
    ax = fig.axes[0]
    ticks = ax.get_xticklabels() if axis == "x" else ax.get_yticklabels()
    return [_plain(t.get_text()) for t in ticks if t.get_text()]


def test_funnel_plot_has_french_percent_ticks_and_300_dpi(tmp_path):
    d = np.arange(10, 301)
    se = np.sqrt(0.25 * 0.75 / d)
    limits = pd.DataFrame(
        {
            "denominator": d,
            "lower_95": 0.25 - 1.96 * se,
            "upper_95": 0.25 + 1.96 * se,
            "lower_998": 0.25 - 3.09 * se,
            "upper_998": 0.25 + 3.09 * se,
        }
    )
    points = pd.DataFrame(
        {
            "scope_value": ["59001", "59002", "59003"],
            "denominator": [50, 120, 250],
            "share": [0.248, 0.1, 0.3],
        }
    )
    fig = figures.funnel_plot(points, limits, target=0.25, title="Entonnoir")
    labels = _tick_texts(fig, "y")
    assert labels and all(t.endswith(" %") for t in labels)
    assert "20 %" in labels
    # Only 59002 (10 % at n = 120: lower 99,8 % limit = 25 − 3,09 × 3,95 = 12,8 %) is annotated.
    annotated = [t.get_text() for t in fig.axes[0].texts]
    assert annotated == ["59002"]
    path = figures.save_figure(fig, tmp_path / "entonnoir.png")
    assert _dpi(path) == pytest.approx((300, 300), abs=0.01)


def test_forest_plot_log_scale_reference_line_and_labels(tmp_path):
    results = pd.DataFrame(
        {
            "label": ["Hors UE / française", "UE / française"],
            "estimate": [0.72, 0.95],
            "ci_low": [0.60, 0.80],
            "ci_high": [0.86, 1.13],
            "p_adjusted": [0.001, 0.5],
        }
    )
    fig = figures.forest_plot(results, title="Accès au logement")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log"
    assert any(line.get_xdata()[0] == 1.0 for line in ax.get_lines() if len(line.get_xdata()) == 2)
    assert "1,00" in _tick_texts(fig, "x")
    assert "0,72 [0,60 ; 0,86]" in [t.get_text() for t in ax.texts]
    path = figures.save_figure(fig, tmp_path / "forest.png")
    assert _dpi(path) == pytest.approx((300, 300), abs=0.01)


def test_forest_plot_refuses_non_positive_ratios():
    bad = pd.DataFrame(
        {
            "label": ["x"],
            "estimate": [-0.1],
            "ci_low": [-0.2],
            "ci_high": [0.1],
            "p_adjusted": [0.5],
        }
    )
    with pytest.raises(UsageError):
        figures.forest_plot(bad, title="x")


def test_km_plot_one_curve_per_group(tmp_path):
    t = np.arange(0, 700, 30.0)
    curves = {
        g: pd.DataFrame(
            {
                "time": t,
                "survival": np.exp(-t / r),
                "ci_low": np.exp(-t / r) * 0.9,
                "ci_high": np.exp(-t / r),
            }
        )
        for g, r in (("française", 300), ("hors UE", 500))
    }
    fig = figures.km_plot(curves, title="Délai d'attribution")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "française",
        "hors UE",
        "intervalle de confiance à 95 %",
    ]
    assert "100 %" in _tick_texts(fig, "y")
    assert _dpi(figures.save_figure(fig, tmp_path / "km.png")) == pytest.approx(
        (300, 300), abs=0.01
    )


def test_trend_plot_semesters_and_targets(tmp_path):
    frame = pd.DataFrame(
        {
            "period": ["2025-S1", "2024-S2", "2025-S2"],
            "id": "q1_hors_qpv",
            "share": [0.22, 0.2, 0.248],
            "ci_low": [0.2, 0.18, 0.22],
            "ci_high": [0.24, 0.22, 0.27],
            "target": 0.25,
        }
    )
    fig = figures.trend_plot(frame, title="Évolution", labels={"q1_hors_qpv": "Q1 hors QPV"})
    assert _tick_texts(fig, "x") == ["2e sem.\n2024", "1er sem.\n2025", "2e sem.\n2025"]
    legend = [_plain(t.get_text()) for t in fig.legends[0].get_texts()]
    assert "Q1 hors QPV (objectif 25 %)" in legend
    assert _dpi(figures.save_figure(fig, tmp_path / "trend.png")) == pytest.approx(
        (300, 300), abs=0.01
    )


def test_static_choropleths_are_produced(tmp_path):
    x0, y0 = 700_000, 7_060_000
    communes = gpd.GeoDataFrame(
        {"insee_com": ["59001", "59002", "59003"], "nom": ["A", "B", "C"]},
        geometry=[box(x0 + i * 2000, y0, x0 + (i + 1) * 2000, y0 + 2000) for i in range(3)],
        crs=2154,
    )
    indicators = pd.DataFrame(
        {
            "id": "q1_hors_qpv",
            "scope": "commune",
            "scope_value": ["59001", "59002", "59003"],
            "window": "semester",
            "numerator": [31, 60, 3],
            "denominator": [125, 200, 7],
            "share": [0.248, 0.3, 3 / 7],
            "ci_low": 0.1,
            "ci_high": 0.4,
            "target": 0.25,
            "status": "atteint",
            "suppressed": [False, False, True],
        }
    )
    fig = figures.indicator_choropleth(communes, indicators, indicator_id="q1_hors_qpv")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "secret statistique / effectif insuffisant" in legend
    assert _plain(fig.axes[0].get_legend().get_title().get_text()) == "Part (objectif : 25 %)"
    path = figures.save_figure(fig, tmp_path / "carte.png")
    assert _dpi(path) == pytest.approx((300, 300), abs=0.01)


# --------------------------------------------------------------------------- readability
def _renderer(fig):
    """Lay the figure out with the Agg renderer (as :func:`figures.save_figure` does)."""
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    return canvas.get_renderer()


def _all_texts(fig) -> list[str]:
    _renderer(fig)
    return [t.get_text() for t in fig.findobj(Text) if t.get_visible() and t.get_text()]


def _assert_no_code(fig) -> None:
    words = set()
    for table in labels.CATALOGUE.values():
        for text in table.values():
            words |= set(re.findall(r"[\w']+", text))
    codes = {c for c in labels.ALL_CODES if "_" in c or c not in words}
    text = "\n".join(_all_texts(fig))
    found = sorted(c for c in codes if re.search(rf"(?<![\w-]){re.escape(c)}(?![\w-])", text))
    assert not found, found


def _forest_results() -> pd.DataFrame:
    rows = []
    for group, reference in (("ue", "francaise"), ("hors_ue", "francaise"), ("qpv", "hors_qpv")):
        for outcome, method in (
            ("access", "cmh"),
            ("access", "logit"),
            ("waiting_time", "cox"),
            ("placement", "logit"),
        ):
            rows.append(
                {
                    "id": f"{outcome}_x_{method}",
                    "outcome": outcome,
                    "group": group,
                    "reference": reference,
                    "estimate": 0.9,
                    "ci_low": 0.5,
                    "ci_high": 1.6,
                    "p_adjusted": 0.3,
                }
            )
    return pd.DataFrame(rows)


def _overlaps(boxes) -> list[tuple[int, int]]:
    return [
        (i, j)
        for i in range(len(boxes))
        for j in range(i + 1, len(boxes))
        if boxes[i].overlaps(boxes[j])
    ]


def test_forest_plot_tick_labels_do_not_overlap_and_are_french():
    fig = figures.forest_plot(_forest_results(), title="Écarts ajustés")
    renderer = _renderer(fig)
    ticks = [t for t in fig.axes[0].get_yticklabels() if t.get_text()]
    assert len(ticks) == 12
    boxes = [t.get_window_extent(renderer) for t in ticks]
    assert not _overlaps(boxes)
    texts = [t.get_text().replace("\n", " ") for t in ticks]
    assert "Accès — hors UE / française (Mantel–Haenszel)" in texts
    assert "Délai d'attente — en QPV / hors QPV (Cox ajusté)" in texts
    # the labels stay inside the figure and clear of the legend
    fig_box = fig.bbox
    assert all(b.x0 >= fig_box.x0 and b.y1 <= fig_box.y1 for b in boxes)
    legend_box = fig.legends[0].get_window_extent(renderer)
    assert not any(b.overlaps(legend_box) for b in boxes)
    _assert_no_code(fig)


@pytest.mark.parametrize("n_rows", [3, 12, 30])
def test_forest_plot_grows_with_its_rows(n_rows):
    long = "Accès au logement social des ménages de nationalité hors UE comparés aux français"
    results = pd.DataFrame(
        {
            "label": [f"{long} {i}" for i in range(n_rows)],
            "estimate": 0.8,
            "ci_low": 0.6,
            "ci_high": 1.1,
            "p_adjusted": 0.04,
        }
    )
    fig = figures.forest_plot(results, title="Écarts")
    renderer = _renderer(fig)
    boxes = [t.get_window_extent(renderer) for t in fig.axes[0].get_yticklabels()]
    assert not _overlaps(boxes)
    assert all("\n" in t.get_text() for t in fig.axes[0].get_yticklabels())  # wrapped


def _trend_frame() -> pd.DataFrame:
    ids = {
        "q1_hors_qpv": 0.25,
        "non_q1_en_qpv": 0.5,
        "prioritaires_action_logement": 0.25,
        "prioritaires_collectivite": 0.25,
        "prioritaires_bailleur": 0.25,
    }
    rows = []
    for k, (ind, target) in enumerate(ids.items()):
        for p, period in enumerate(["2024-S2", "2025-S1", "2025-S2"]):
            share = 0.2 + 0.05 * k + 0.01 * p
            rows.append(
                {
                    "period": period,
                    "id": ind,
                    "share": share if ind != "prioritaires_bailleur" else np.nan,
                    "ci_low": share - 0.03,
                    "ci_high": share + 0.03,
                    "target": target,
                }
            )
    return pd.DataFrame(rows)


def test_trend_plot_draws_each_distinct_target_once_in_french():
    fig = figures.trend_plot(_trend_frame(), title="Indicateurs légaux par semestre")
    ax = fig.axes[0]
    target_lines = [line for line in ax.get_lines() if line.get_gid() == "target"]
    assert sorted(line.get_ydata()[0] for line in target_lines) == [0.25, 0.5]
    texts = [_plain(t) for t in _all_texts(fig)]
    assert "objectif 25 %" in texts and "objectif 50 %" in texts
    legend = [_plain(t.get_text()) for t in fig.legends[0].get_texts()]
    assert "1er quartile hors QPV (objectif 25 %)" in legend
    # an indicator with no published value is not drawn: the legend names it in a note
    notes = [t for t in legend if t.startswith("non diffusés")]
    assert len(notes) == 1 and "contingent des bailleurs" in notes[0].replace("\n", " ")
    assert not any("contingent des bailleurs" in t for t in legend if t not in notes)
    _assert_no_code(fig)


def test_trend_plot_legend_does_not_hide_the_lines():
    fig = figures.trend_plot(_trend_frame(), title="Indicateurs légaux par semestre")
    renderer = _renderer(fig)
    axes_box = fig.axes[0].get_window_extent(renderer)
    assert fig.axes[0].get_legend() is None
    legend_box = fig.legends[0].get_window_extent(renderer)
    assert not legend_box.overlaps(axes_box)


def test_mostly_masked_choropleth_says_not_publishable():
    x0, y0 = 700_000, 7_060_000
    communes = gpd.GeoDataFrame(
        {"insee_com": ["59001", "59002", "59003"], "nom": ["A", "B", "C"]},
        geometry=[box(x0 + i * 2000, y0, x0 + (i + 1) * 2000, y0 + 2000) for i in range(3)],
        crs=2154,
    )
    indicators = pd.DataFrame(
        {
            "id": "q1_hors_qpv",
            "scope": "commune",
            "scope_value": ["59001", "59002", "59003"],
            "window": "semester",
            "period": "2025-S2",
            "numerator": [31, np.nan, np.nan],
            "denominator": [125, np.nan, np.nan],
            "share": [0.248, np.nan, np.nan],
            "ci_low": 0.1,
            "ci_high": 0.4,
            "target": 0.25,
            "status": "atteint",
            "suppressed": [False, True, True],
        }
    )
    fig = figures.indicator_choropleth(
        communes, indicators, indicator_id="q1_hors_qpv", territory_label="MEL"
    )
    texts = " ".join(_all_texts(fig))
    assert "Carte non publiable : trop peu d'attributions par commune sur la période" in texts
    assert "MEL — 2e semestre 2025" in texts
    _assert_no_code(fig)


def test_funnel_plot_says_when_no_commune_is_published():
    d = np.arange(10, 301)
    se = np.sqrt(0.25 * 0.75 / d)
    limits = pd.DataFrame(
        {
            "denominator": d,
            "lower_95": 0.25 - 1.96 * se,
            "upper_95": 0.25 + 1.96 * se,
            "lower_998": 0.25 - 3.09 * se,
            "upper_998": 0.25 + 3.09 * se,
        }
    )
    points = pd.DataFrame(
        {"scope_value": ["59001", "59002"], "denominator": [np.nan] * 2, "share": [np.nan] * 2}
    )
    fig = figures.funnel_plot(points, limits, target=0.25, title="Entonnoir")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "communes" not in legend
    assert any("aucune commune diffusable" in t for t in _all_texts(fig))


def test_km_plot_labels_group_codes_from_the_catalogue():
    t = np.arange(0, 300, 30.0)
    curve = pd.DataFrame({"time": t, "survival": 1 - t / 600, "ci_low": 0.4, "ci_high": 1.0})
    fig = figures.km_plot({"francaise": curve, "hors_ue": curve}, title="Délai")
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert legend[:2] == [labels.GROUP_FR["francaise"], labels.GROUP_FR["hors_ue"]]
    _assert_no_code(fig)


@pytest.mark.parametrize(
    ("low", "high"), [(0.62, 3.12), (0.7, 1.3), (0.05, 25.0), (0.95, 1.05), (1.2, 8.0)]
)
def test_forest_plot_axis_values_never_overprint(low, high):
    # the report's forest plot spans 0,62 to 3,12: its ticks 0,6 0,7 0,8 0,9 1,00
    # were printed on top of one another
    results = _forest_results().iloc[:4].copy()
    results["ci_low"] = low
    results["ci_high"] = high
    results["estimate"] = (low * high) ** 0.5
    fig = figures.forest_plot(results, title="Écarts ajustés")
    renderer = _renderer(fig)
    ticks = [t for t in fig.axes[0].get_xticklabels() if t.get_text()]
    assert len(ticks) >= 3
    boxes = [t.get_window_extent(renderer).expanded(1.1, 1.0) for t in ticks]
    assert not _overlaps(boxes), [t.get_text() for t in ticks]
    assert "1" in [t.get_text().rstrip("0").rstrip(",") for t in ticks]  # no-gap line labelled
