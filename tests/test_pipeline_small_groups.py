"""A nationality group with 0, 1, 5 or 12 demands never stops the run.

Every analysis of a small group degrades to « non calculable » with its reason
(too few members, no event, separation), and the report is published. To stay
within the time budget, each pipeline run on the tiny territory tests two sizes
at once: one for the ``ue`` group and one for the ``hors_ue`` group.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from allocation_analysis import figures, pipeline, synth

pytestmark = pytest.mark.slow

KEY_HEX = "7a" * 32
SEED = 3
# one run per pair: (size of the « ue » group, size of the « hors_ue » group); the
# group of 12 keeps demands that never got a dwelling (no event: a ratio of 0)
RUNS = {"a": {"ue": 5, "hors_ue": 0}, "b": {"ue": 1, "hors_ue": 12}}
NO_EVENT = {("b", "hors_ue")}
CASES = [(run, group, k) for run, sizes in RUNS.items() for group, k in sizes.items()]
_CACHE: dict[str, tuple[Path | None, BaseException | None, dict[str, int]]] = {}


def _shrink(folder: Path, run: str) -> dict[str, int]:
    """Keep only ``k`` demands of each group (and their allocations)."""
    dem = pd.read_csv(folder / "demandes.csv", dtype=str, keep_default_na=False)
    att = pd.read_csv(folder / "attributions.csv", dtype=str, keep_default_na=False)
    drop: set[str] = set()
    for group, k in RUNS[run].items():
        members = dem["nationalite"] == group
        if (run, group) in NO_EVENT:
            members &= ~dem["num_unique"].isin(att["num_unique"]) & (dem["date_radiation"] == "")
        drop |= set(dem.loc[(dem["nationalite"] == group) & ~members, "num_unique"])
        ids = dem.loc[members, "num_unique"]
        assert len(ids) > k, f"the tiny territory has fewer than {k} demands « {group} »"
        drop |= set(ids.iloc[k:])
    dem = dem[~dem["num_unique"].isin(drop)]
    att = att[~att["num_unique"].isin(drop)]
    dem.to_csv(folder / "demandes.csv", index=False)
    att.to_csv(folder / "attributions.csv", index=False)
    return dem["nationalite"].value_counts().to_dict()


@pytest.fixture(scope="module")
def environment(tmp_path_factory):
    home = tmp_path_factory.mktemp("config_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ALLOCATION_ANALYSIS_KEY", KEY_HEX)
        mp.setenv("XDG_CONFIG_HOME", str(home))
        mp.delenv("ALLOCATION_ANALYSIS_KEY_FILE", raising=False)
        yield


@pytest.fixture(scope="module")
def small_group_run(tmp_path_factory, environment):
    def get(run: str):
        if run not in _CACHE:
            base = tmp_path_factory.mktemp(f"small_groups_{run}")
            ds = synth.generate(scale="tiny", seed=SEED)
            folder = synth.write_dataset(ds, base / "data")
            counts = _shrink(folder, run)
            opts = ds.run_options(folder)
            opts.update(territory="petits", output=str(base / "out"))
            final, error = None, None
            try:
                final = pipeline.run_analysis(*pipeline.config_from_options(opts))
            except Exception as exc:  # noqa: BLE001 - the tests report it
                error = exc
            _CACHE[run] = (final, error, counts)
        return _CACHE[run]

    return get


@pytest.mark.parametrize(("run", "group", "k"), CASES, ids=[f"{g}={k}" for _, g, k in CASES])
def test_run_completes_and_small_group_is_non_calculable_with_a_reason(
    small_group_run, run, group, k
):
    final, error, counts = small_group_run(run)
    assert counts.get(group, 0) == k
    assert error is None, f"the run failed: {error}"
    assert (final / "report.html").is_file()
    assert (final / "figures" / "forest_plot.png").is_file()
    tests = json.loads((final / "results.json").read_text("utf-8"))["tests"]
    mine = [t for t in tests if t.get("group") == group]
    if k == 0:
        return  # a group absent from the data has no test at all
    assert mine, f"no test for the group « {group} »"
    for t in mine:
        non_calculable = t["estimate"] is None and t["p_value"] is None
        if non_calculable and not t.get("suppressed"):
            assert t["warnings"] or t.get("note"), f"{t['id']}: non calculable without a reason"


def test_forest_plot_marks_a_zero_ratio_non_calculable_instead_of_failing():
    rows = pd.DataFrame(
        {
            "label": ["aucun événement dans le groupe", "séparation", "ordinaire"],
            "estimate": [0.0, 1.8, 0.7],
            "ci_low": [np.nan, 0.0, 0.5],
            "ci_high": [np.nan, np.inf, 0.9],
            "p_adjusted": [0.8, 0.4, 0.01],
        }
    )
    fig = figures.forest_plot(rows, title="Écarts")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert "non calculable" in texts
    assert "1,80 [intervalle non calculable]" in texts
    assert "0,70 [0,50 ; 0,90]" in texts
    lo, hi = fig.axes[0].get_xlim()
    assert 0 < lo < 0.5 and np.isfinite(hi)


def test_forest_plot_still_refuses_negative_values():
    from allocation_analysis.errors import UsageError

    rows = pd.DataFrame(
        {"label": ["x"], "estimate": [-0.1], "ci_low": [-0.2], "ci_high": [0.1], "p_adjusted": [1]}
    )
    with pytest.raises(UsageError):
        figures.forest_plot(rows, title="x")
