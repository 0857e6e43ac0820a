"""One thread for the native numerical libraries (BLAS, and OpenMP on request).

Every matrix of the analysis is small (at most a few hundred columns) and the
models are refitted hundreds of times (bootstrap, permutations, orderings of a
decomposition). A multi-threaded BLAS then only adds synchronisation: on a busy
2-core machine a 70 x 159 SVD took 0.65 s instead of 2 ms. Parallelism, where
there is any, is across replicates in separate processes
(:mod:`concurrent.futures`), each with one native thread.

:func:`single_thread` is the only place where this policy is written; it is
used as a context manager (``with single_thread(): ...``) or called once for the
rest of a process (a worker, a notebook kernel). :data:`SINGLE_THREAD_ENV` is
the same policy for processes not yet started (the kernels of a batch task).

References
----------
threadpoolctl documentation, https://github.com/joblib/threadpoolctl
"""

from __future__ import annotations

from threadpoolctl import threadpool_limits

__all__ = ["SINGLE_THREAD_ENV", "single_thread"]

SINGLE_THREAD_ENV: dict[str, str] = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
}
"""Environment of the notebook kernels started by a batch task: one thread per
numerical library, the parallelism being across tasks (two tasks on two cores
with two BLAS/OpenMP threads each only adds synchronisation)."""


def single_thread(*, openmp: bool = False) -> threadpool_limits:
    """Limit the native thread pools to one thread.

    Parameters
    ----------
    openmp : bool, default False
        Also limit the OpenMP pools (used by scikit-learn's gradient boosting),
        not only the BLAS ones.

    Returns
    -------
    threadpoolctl.threadpool_limits
        The limiter, already in effect. Used in a ``with`` statement it restores
        the previous limits on exit; otherwise the limits hold until the end of
        the process.

    References
    ----------
    threadpoolctl, ``threadpool_limits``, https://github.com/joblib/threadpoolctl

    Examples
    --------
    >>> import numpy as np
    >>> with single_thread():
    ...     float(np.linalg.norm(np.eye(2)) ** 2)
    2.0
    """
    return threadpool_limits(limits=1, user_api=None if openmp else "blas")
