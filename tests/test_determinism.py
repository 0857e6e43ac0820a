"""Determinism: same inputs, parameters and seed give byte-identical tables, results.json
and tables.xlsx; only the manifest's timestamps and timings differ.

The two runs compared are the session's in-process run and the command-line rerun
of the same inputs made by the fault tests (other process, other output folder).
"""

from __future__ import annotations

import json

import pipeline_fixtures
import pytest

# Shared session fixtures (see tests/pipeline_fixtures.py).
killed_then_rerun = pipeline_fixtures.killed_then_rerun
planted_dataset = pipeline_fixtures.planted_dataset
planted_run = pipeline_fixtures.planted_run
test_environment = pipeline_fixtures.test_environment

pytestmark = pytest.mark.slow

_VOLATILE = {"started_utc", "finished_utc", "timings_seconds"}


@pytest.fixture(scope="module")
def two_runs(planted_run, killed_then_rerun):
    assert killed_then_rerun.rerun_rc == 0, killed_then_rerun.rerun_stderr[-2000:]
    return planted_run.final, killed_then_rerun.final


def test_tables_are_byte_identical(two_runs):
    a, b = two_runs
    names_a = sorted(p.name for p in (a / "tables").glob("*.csv"))
    names_b = sorted(p.name for p in (b / "tables").glob("*.csv"))
    assert names_a == names_b and names_a
    differing = [
        n for n in names_a if (a / "tables" / n).read_bytes() != (b / "tables" / n).read_bytes()
    ]
    assert differing == []


def test_results_json_is_byte_identical(two_runs):
    a, b = two_runs
    assert (a / "results.json").read_bytes() == (b / "results.json").read_bytes()


def test_xlsx_is_byte_identical(two_runs):
    a, b = two_runs
    assert (a / "tables.xlsx").read_bytes() == (b / "tables.xlsx").read_bytes()


def test_manifest_differs_only_by_timestamps_and_timings(two_runs):
    a, b = two_runs
    ma = json.loads((a / "manifest.json").read_text("utf-8"))
    mb = json.loads((b / "manifest.json").read_text("utf-8"))
    assert set(ma) == set(mb)
    differing = {k for k in ma if ma[k] != mb[k]}
    assert differing <= _VOLATILE
