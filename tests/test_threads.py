"""The single-thread policy limits the BLAS pools, and OpenMP only on request."""

from __future__ import annotations

import numpy  # noqa: F401  (loads the BLAS)
import pytest
from threadpoolctl import threadpool_info, threadpool_limits

from allocation_analysis.threads import single_thread


def _threads(api: str) -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == api]


@pytest.fixture
def two_threads_everywhere():
    with threadpool_limits(limits=2):
        if not _threads("blas"):
            pytest.skip("no BLAS pool loaded")
        yield


def test_single_thread_limits_blas_and_restores_the_previous_limit(two_threads_everywhere):
    before = _threads("blas")
    with single_thread():
        assert set(_threads("blas")) == {1}
    assert _threads("blas") == before


def test_single_thread_leaves_openmp_alone_unless_asked(two_threads_everywhere):
    import sklearn.ensemble  # noqa: F401  (loads the OpenMP runtime)

    if not _threads("openmp"):
        pytest.skip("no OpenMP pool loaded")
    openmp = _threads("openmp")
    with single_thread():
        assert _threads("openmp") == openmp
    with single_thread(openmp=True):
        assert set(_threads("openmp")) == {1}
