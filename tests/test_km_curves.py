"""The report's Kaplan–Meier curves: delayed entry and the statistical secret."""

import numpy as np
import pandas as pd

from allocation_analysis import analysis
from allocation_analysis.stats import kaplan_meier


def _frame(rng, n, group):
    to_start = rng.integers(0, 900, n)  # days from filing to the semester start
    t = to_start + rng.integers(0, 200, n)
    ev = rng.choice([0, 1, 2], n, p=[0.6, 0.3, 0.1])
    return pd.DataFrame(
        {
            "entree_jours": to_start,
            "entree_risque_jours": to_start - 1,
            "duree_jours": t,
            "evenement": ev,
            "nationalite": group,
        }
    )


def test_report_curves_use_the_delayed_entry_of_the_access_frame():
    rng = np.random.default_rng(7)
    acc = pd.concat([_frame(rng, 400, "francaise"), _frame(rng, 300, "hors_ue")])
    curves = analysis.km_curves(acc, group="nationalite")
    ref = kaplan_meier(
        acc.assign(e=(acc["evenement"] == 1).astype(int)),
        duration="duree_jours",
        event="e",
        group="nationalite",
        entry="entree_risque_jours",
    ).details["curves"]
    for g in ("francaise", "hors_ue"):
        r = ref[g][ref[g]["n_risk"] >= 11]
        np.testing.assert_allclose(curves[g]["survival"], r["surv"])
        # a curve ignoring the entry would start with every demand at risk at
        # day 0 and never drop before the first observed exit
        assert curves[g]["survival"].iloc[-1] < 0.9


def test_report_curves_hide_small_groups_and_thin_tails():
    rng = np.random.default_rng(8)
    small = _frame(rng, 9, "ue").assign(evenement=1)
    acc = pd.concat([_frame(rng, 400, "francaise"), small])
    curves = analysis.km_curves(acc, group="nationalite", secret_threshold=11)
    assert "ue" not in curves  # nine demands: each step would be one household
    full = kaplan_meier(
        acc.assign(e=(acc["evenement"] == 1).astype(int)),
        duration="duree_jours",
        event="e",
        group="nationalite",
        entry="entree_risque_jours",
    ).details["curves"]["francaise"]
    assert len(curves["francaise"]) == int((full["n_risk"] >= 11).sum()) < len(full)
