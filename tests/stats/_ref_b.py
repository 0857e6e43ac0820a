"""Helpers of the regression / survival / decomposition tests: committed R references."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[1] / "reference"
RTOL = 1e-4


@cache
def ref_b() -> dict[str, Any]:
    """Values written by ``tests/reference/make_reference_b.R``."""
    with open(REFERENCE_DIR / "r_reference_b.json", encoding="utf-8") as fh:
        return json.load(fh)


def ref_data(name: str) -> pd.DataFrame:
    """A data set written next to the reference JSON (``logit_data``, ``lung`` …)."""
    return pd.read_csv(REFERENCE_DIR / f"{name}.csv")
