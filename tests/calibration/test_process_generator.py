"""Guard of the per-stage tests on the generator's allocation process (one draw).

The coverage over repeated draws is measured by
``python -m benchmarks.calibration_process_synth`` (docs/calibration.md); this
guard reruns one planted draw of that study (scale ``demo``, seed 2026001,
whose intervals all contained their planted values in the study) so that a
change of the generator or of the stage models that moves an estimate off its
planted value fails in CI.
"""

from __future__ import annotations

import pytest

from allocation_analysis import calibration, synth

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stage_records():
    ds = synth.generate(scale="demo", seed=2026001, effects="processus", propositions=True)
    return {(r["id"], r["group"]): r for r in calibration.process_stage_records(ds)}


@pytest.mark.parametrize(
    ("test_id", "group", "planted"),
    [
        # planted in effects_processus.yaml: designation of hors UE 0.6, favourable
        # decision of QPV residents 0.6; no refusal or ranking effect by group
        ("designation_origin_logit", "hors_ue", 0.6),
        ("cal_favourable_residence_clogit", "qpv", 0.6),
        ("refusal_origin_logit", "ue", 1.0),
        ("refusal_origin_logit", "hors_ue", 1.0),
        ("refusal_residence_logit", "qpv", 1.0),
        ("cal_first_equal_score_origin_clogit", "hors_ue", 1.0),
        ("cal_first_equal_score_residence_clogit", "qpv", 1.0),
    ],
)
def test_stage_interval_contains_the_planted_odds_ratio(stage_records, test_id, group, planted):
    r = stage_records[(test_id, group)]
    assert r["planted"] == planted
    assert r["ci_low"] <= planted <= r["ci_high"], r
