"""Helpers shared by the statistical tests: the committed R reference values."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"


@cache
def r_reference(name: str = "r_reference_a.json") -> dict[str, Any]:
    """The JSON written by ``tests/reference/make_reference_*.R`` (``null`` → NaN)."""
    with open(REFERENCE_DIR / name, encoding="utf-8") as fh:
        return json.load(fh, object_hook=lambda d: {k: _nan(v) for k, v in d.items()})


def _nan(v: Any) -> Any:
    if v is None:
        return float("nan")
    if isinstance(v, list):
        return [_nan(x) for x in v]
    return v


def individuals(
    x_compared: int,
    n_compared: int,
    x_reference: int,
    n_reference: int,
    *,
    compared: str = "hors_ue",
    reference: str = "francaise",
) -> pd.DataFrame:
    """One row per individual from the counts of a 2×2 table."""
    g = [compared] * n_compared + [reference] * n_reference
    y = (
        [True] * x_compared
        + [False] * (n_compared - x_compared)
        + [True] * x_reference
        + [False] * (n_reference - x_reference)
    )
    return pd.DataFrame({"groupe": g, "issue": np.array(y, dtype=bool)})


def individuals_from_tables(
    tables: Any, *, compared: str = "c", reference: str = "r", names: list[str] | None = None
) -> pd.DataFrame:
    """One row per individual from (K, 2, 2) tables [compared, reference] × [yes, no]."""
    t = np.asarray(tables, dtype=int)
    names = names or [f"s{k}" for k in range(t.shape[0])]
    rows = []
    for k, name in enumerate(names):
        for r, grp in enumerate((compared, reference)):
            for c, y in enumerate((True, False)):
                rows += [(name, grp, y)] * int(t[k, r, c])
    return pd.DataFrame(rows, columns=["strate", "groupe", "issue"])
