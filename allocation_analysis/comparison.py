"""Comparison of the territories and periods of a batch (``allocation-analysis batch``).

Beside the folders of its runs, a batch writes ``<output>/comparaison/``: one
table and one figure per legal indicator (the territory's share, semester and
rolling 12 months, across the territories and periods of the batch, with the
legal target) and per primary disparity test (odds or hazard ratio with its
interval, across the same runs), and a French page ``comparaison.html`` that
shows them.

Only what each run published is read (its ``results.json``): a value masked by
the statistical secret of a run stays masked here, and nothing is recomputed
from the data. Comparing territories that contain one another (a metropolis
and one of its parts) would let a reader subtract published counts; the batch
does not check for it, the person who defines the batch must not mix nested
territories.
"""

from __future__ import annotations

import html
import json
import logging
from pathlib import Path
from typing import Any

import pandas as pd

__all__ = ["COMPARISON_DIR", "comparison_tables", "write_comparison"]

log = logging.getLogger(__name__)

COMPARISON_DIR = "comparaison"
"""Folder of the comparison, under the batch's output root."""

_INDICATOR_COLUMNS = [
    "territory",
    "period",
    "id",
    "window",
    "numerator",
    "denominator",
    "share",
    "ci_low",
    "ci_high",
    "target",
    "status",
    "suppressed",
]
_TEST_COLUMNS = [
    "territory",
    "period",
    "id",
    "outcome",
    "group",
    "reference",
    "estimate_name",
    "estimate",
    "ci_low",
    "ci_high",
    "p_adjusted",
    "suppressed",
    "note",
]


def _results_of(summary: pd.DataFrame) -> list[dict[str, Any]]:
    """``results.json`` of every successful run of the summary, in its order."""
    out = []
    for row in summary.itertuples(index=False):
        if row.status != "ok" or not isinstance(row.output, str) or not row.output:
            continue
        path = Path(row.output) / "results.json"
        try:
            out.append(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            log.warning("Résultats illisibles, exclus de la comparaison : %s (%s)", path, exc)
    return out


def comparison_tables(summary: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """The comparison's tables from the runs of a batch.

    Parameters
    ----------
    summary : DataFrame
        The batch summary (:func:`allocation_analysis.batch.run_batch`): columns
        ``status`` and ``output`` (folder of a successful run).

    Returns
    -------
    dict of DataFrame
        ``indicateurs``: the territory-scope legal indicators of every run
        (columns ``territory, period, id, window, numerator, denominator,
        share, ci_low, ci_high, target, status, suppressed``);
        ``tests``: the primary disparity tests of every run (``territory,
        period, id, outcome, group, reference, estimate_name, estimate,
        ci_low, ci_high, p_adjusted, suppressed, note``). Values are those the
        runs published (masked values stay missing).
    """
    ind_rows, test_rows = [], []
    for res in _results_of(summary):
        where = {"territory": res.get("territory"), "period": res.get("period")}
        for e in res.get("indicators", []):
            if e.get("scope") == "territory":
                ind_rows.append({**where, **{k: e.get(k) for k in _INDICATOR_COLUMNS[2:]}})
        for e in res.get("tests", []):
            if e.get("family") == "principal":
                test_rows.append({**where, **{k: e.get(k) for k in _TEST_COLUMNS[2:]}})
    ind = pd.DataFrame(ind_rows, columns=_INDICATOR_COLUMNS)
    tests = pd.DataFrame(test_rows, columns=_TEST_COLUMNS)
    for frame in (ind, tests):
        frame.sort_values(["id", "territory", "period"], kind="stable", inplace=True)
        frame.reset_index(drop=True, inplace=True)
    return {"indicateurs": ind, "tests": tests}


def _run_label(territory: str, period: str | None = None) -> str:
    """« Métropole Européenne de Lille, 2e semestre 2025 » (territory alone without period)."""
    from allocation_analysis.config import Period
    from allocation_analysis.labels import territory_label

    name = territory_label(territory)
    return name if period is None else f"{name}, {Period.parse(period).label_fr}"


def _indicator_display(frame: pd.DataFrame) -> pd.DataFrame:
    from allocation_analysis.labels import label
    from allocation_analysis.text import fmt_int, fmt_pct

    return pd.DataFrame(
        {
            "Territoire et semestre": [
                _run_label(t, p) for t, p in zip(frame["territory"], frame["period"], strict=True)
            ],
            "Fenêtre": [label(w, "window") for w in frame["window"]],
            "Attributions concernées": [fmt_int(v) for v in frame["numerator"]],
            "Attributions": [fmt_int(v) for v in frame["denominator"]],
            "Part": [fmt_pct(v) for v in frame["share"]],
            "Objectif légal": [fmt_pct(v, digits=0) for v in frame["target"]],
            "Statut": [label(s, "status") if isinstance(s, str) else "—" for s in frame["status"]],
        }
    )


def _test_display(frame: pd.DataFrame) -> pd.DataFrame:
    from allocation_analysis.labels import comparison_label
    from allocation_analysis.text import fmt_float, fmt_p

    def interval(lo: Any, hi: Any) -> str:
        if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
            return "—"
        return f"{fmt_float(lo)} – {fmt_float(hi)}"

    return pd.DataFrame(
        {
            "Territoire et semestre": [
                _run_label(t, p) for t, p in zip(frame["territory"], frame["period"], strict=True)
            ],
            "Comparaison": [
                comparison_label(g, r)
                for g, r in zip(frame["group"], frame["reference"], strict=True)
            ],
            "Rapport": [fmt_float(v) for v in frame["estimate"]],
            "Intervalle de confiance": [
                interval(lo, hi) for lo, hi in zip(frame["ci_low"], frame["ci_high"], strict=True)
            ],
            "p ajustée": [fmt_p(v) for v in frame["p_adjusted"]],
            "Remarque": [n if isinstance(n, str) and n else "" for n in frame["note"]],
        }
    )


def _figure_of_indicator(frame: pd.DataFrame, title: str, source: str) -> Any:
    from allocation_analysis import figures

    data = frame[frame["window"] == "semester"].assign(id=lambda d: d["territory"].astype(str))
    names = {t: _run_label(t) for t in data["id"]}
    return figures.trend_plot(
        data[["period", "id", "share", "ci_low", "ci_high", "target"]].astype(
            {"share": float, "ci_low": float, "ci_high": float, "target": float}
        ),
        title=title,
        labels=names,
        source=source,
    )


def _figure_of_test(frame: pd.DataFrame, title: str, source: str) -> Any:
    from allocation_analysis import figures
    from allocation_analysis.labels import comparison_label

    data = pd.DataFrame(
        {
            "label": [
                f"{_run_label(t, p)}\n{comparison_label(g, r)}"
                for t, p, g, r in zip(
                    frame["territory"],
                    frame["period"],
                    frame["group"],
                    frame["reference"],
                    strict=True,
                )
            ],
            "estimate": frame["estimate"].astype(float),
            "ci_low": frame["ci_low"].astype(float),
            "ci_high": frame["ci_high"].astype(float),
            "p_adjusted": frame["p_adjusted"].astype(float),
        }
    )
    xlabel = (
        "Rapport de risques instantanés (échelle logarithmique)"
        if (frame["estimate_name"] == "hazard_ratio").all()
        else "Rapport de cotes (échelle logarithmique)"
    )
    return figures.forest_plot(data, title=title, xlabel=xlabel, source=source)


def _source(territories: list[str]) -> str:
    from allocation_analysis.labels import source_line_fr

    lines = sorted({source_line_fr(t) for t in territories})
    return " ; ".join(lines)


def write_comparison(summary: pd.DataFrame, output: str | Path) -> Path | None:
    """Write the comparison of a batch's runs under ``<output>/comparaison/``.

    Parameters
    ----------
    summary : DataFrame
        The batch summary (:func:`allocation_analysis.batch.run_batch`).
    output : str or Path
        The batch's output root.

    Returns
    -------
    Path or None
        The page ``comparaison.html``; ``None`` when no run succeeded (nothing
        to compare).
    """
    import matplotlib.pyplot as plt

    from allocation_analysis import figures
    from allocation_analysis.labels import INDICATOR_LABELS_FR, label
    from allocation_analysis.outputs import write_csv

    tables = comparison_tables(summary)
    ind, tests = tables["indicateurs"], tables["tests"]
    if ind.empty and tests.empty:
        return None
    folder = Path(output) / COMPARISON_DIR
    (folder / "figures").mkdir(parents=True, exist_ok=True)
    write_csv(ind, folder / "comparaison_indicateurs.csv")
    write_csv(tests, folder / "comparaison_tests.csv")
    territories = sorted(set(ind["territory"].dropna()) | set(tests["territory"].dropna()))
    source = _source(territories)
    runs = summary[summary["status"] == "ok"]
    parts = [
        "<h1>Comparaison des territoires et des semestres</h1>",
        "<p>Chaque ligne reprend ce que l'analyse du territoire a publié pour le semestre "
        "(fichier <code>results.json</code> de son dossier) : une valeur masquée par le secret "
        "statistique y reste masquée. Les indicateurs sont ceux de l'ensemble du territoire ; "
        "les tests sont les tests principaux, à situation comparable, avec leurs p-valeurs "
        "corrigées pour tests multiples au sein de chaque analyse.</p>",
        f"<p>{len(runs)} analyse(s) comparée(s) ; source : {html.escape(source)}.</p>",
        "<h2>Obligations légales</h2>",
    ]
    for ind_id, sub in ind.groupby("id", sort=False):
        name = INDICATOR_LABELS_FR.get(str(ind_id), label(ind_id, "indicator"))
        parts.append(f"<h3>{html.escape(name)}</h3>")
        if sub["share"].notna().any():
            fig = _figure_of_indicator(sub, name, source)
            png = figures.save_figure(fig, folder / "figures" / f"indicateur_{ind_id}.png", dpi=150)
            plt.close(fig)
            parts.append(
                f'<img src="figures/{png.name}" alt="{html.escape(name)} par territoire et semestre" '
                'style="max-width:100%">'
            )
        parts.append(_indicator_display(sub).to_html(index=False, border=0, escape=True))
    parts.append("<h2>Tests principaux des écarts</h2>")
    for test_id, sub in tests.groupby("id", sort=False):
        outcome = label(sub["outcome"].iloc[0], "outcome")
        method = label(str(test_id).rsplit("_", 1)[-1], "method")
        name = f"{outcome} ({method})"
        parts.append(f"<h3>{html.escape(name)}</h3>")
        if sub["estimate"].notna().any():
            fig = _figure_of_test(sub, name, source)
            png = figures.save_figure(fig, folder / "figures" / f"test_{test_id}.png", dpi=150)
            plt.close(fig)
            parts.append(
                f'<img src="figures/{png.name}" alt="{html.escape(name)}" style="max-width:100%">'
            )
        parts.append(_test_display(sub).to_html(index=False, border=0, escape=True))
    page = (
        '<!DOCTYPE html><html lang="fr"><head><meta charset="utf-8">'
        "<title>Comparaison des territoires</title>"
        "<style>body{font-family:sans-serif;max-width:60em;margin:auto;padding:1em}"
        "table{border-collapse:collapse;margin:0.5em 0 1.5em}"
        "td,th{border-bottom:1px solid #ccc;padding:0.2em 0.6em;text-align:left}</style>"
        "</head><body>" + "\n".join(parts) + "</body></html>"
    )
    path = folder / "comparaison.html"
    path.write_text(page, encoding="utf-8")
    return path
