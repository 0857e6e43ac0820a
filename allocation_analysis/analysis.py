"""The disparity analyses of the semi-annual report: one name for three modules.

Notebooks, the calibration and user code call ``analysis.X``; the definitions
live by concern:

- :mod:`allocation_analysis.plan` — the report plan (:data:`TEST_PLAN`, the
  groupings and controls, :func:`plan_calls`, :func:`disparity_tests`, the
  results table :func:`results_frame` and its ``results.json`` entries);
- :mod:`allocation_analysis.tables` — the table builders (overview, input
  check, gaps and placement by commune, Kaplan–Meier curves, forest plot,
  indicator entries), with the statistical secret of
  :mod:`allocation_analysis.privacy`;
- :mod:`allocation_analysis.narrative` — the French sentences and displays
  (their labels, e.g. :data:`INDICATOR_LABELS_FR`, are those of
  :mod:`allocation_analysis.labels`).
"""

from __future__ import annotations

from allocation_analysis.labels import INDICATOR_LABELS_FR
from allocation_analysis.narrative import (
    indicator_display,
    overview_text_fr,
    validation_text_fr,
)
from allocation_analysis.plan import (
    ACCESS_CONTROLS,
    ACCESS_MODEL_CONTROLS,
    CLUSTER,
    COST_OPTIONS,
    CROSSING_SEPARATOR,
    GROUPINGS,
    INTERSECTION,
    ONE_SIDED,
    PLACEMENT_CLUSTER,
    PLACEMENT_CONTROLS,
    PRINCIPAL,
    ROBUSTNESS,
    TEST_PLAN,
    TWO_SIDED,
    WAITING_TIME_ENTRY,
    Grouping,
    PlannedTest,
    TestRecord,
    _access_strata,
    _failed,
    crossed_groups,
    disparity_tests,
    plan_calls,
    results_frame,
    test_entries,
)
from allocation_analysis.tables import (
    commune_gaps,
    forest_frame,
    indicator_entries,
    km_curves,
    overview_tables,
    placement_by_commune,
    validation_tables,
)

__all__ = [
    "ACCESS_CONTROLS",
    "ACCESS_MODEL_CONTROLS",
    "CLUSTER",
    "COST_OPTIONS",
    "CROSSING_SEPARATOR",
    "GROUPINGS",
    "INDICATOR_LABELS_FR",
    "INTERSECTION",
    "ONE_SIDED",
    "PLACEMENT_CLUSTER",
    "PLACEMENT_CONTROLS",
    "PRINCIPAL",
    "ROBUSTNESS",
    "TEST_PLAN",
    "TWO_SIDED",
    "WAITING_TIME_ENTRY",
    "Grouping",
    "PlannedTest",
    "TestRecord",
    "_access_strata",
    "_failed",
    "commune_gaps",
    "crossed_groups",
    "disparity_tests",
    "forest_frame",
    "indicator_display",
    "indicator_entries",
    "km_curves",
    "overview_tables",
    "overview_text_fr",
    "placement_by_commune",
    "plan_calls",
    "results_frame",
    "test_entries",
    "validation_tables",
    "validation_text_fr",
]
