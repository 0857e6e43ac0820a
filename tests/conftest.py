"""Shared fixtures: location of the public reference geography (tests only)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED_GEO = ROOT.parent / "shared" / "data" / "geo"


@pytest.fixture(scope="session")
def shared_geo() -> Path:
    """Folder of the real public geography (``../shared/data/geo``); skip when absent."""
    if not SHARED_GEO.is_dir():
        pytest.skip(f"reference geography not available at {SHARED_GEO}")
    return SHARED_GEO
