"""Whole-column operations on text keys through Arrow compute kernels.

pandas' ``isin`` and ``map`` on Arrow-backed strings go through Python objects
(one per value of the candidate set), which costs minutes at national scale
(millions of identifiers). These helpers hand the columns to
:mod:`pyarrow.compute` instead: membership (``is_in``) and key lookup
(``index_in`` + ``take``) are hash-table kernels in C++, and no Python string
is created per row.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["TEXT_DTYPE", "as_arrow", "isin", "lookup", "release_memory", "to_text"]

TEXT_DTYPE = pd.StringDtype("pyarrow")


def as_arrow(values: Any) -> Any:
    """One contiguous Arrow string array from a Series, Index or array of text.

    Missing values (``None``, ``NaN``, ``<NA>``) become Arrow nulls.
    """
    import pyarrow as pa

    arr = values.array if isinstance(values, pd.Series | pd.Index) else values
    if isinstance(getattr(arr, "dtype", None), pd.StringDtype):
        out = pa.array(arr)
    else:
        out = pa.array(np.asarray(arr, dtype=object), type=pa.string(), from_pandas=True)
    if isinstance(out, pa.ChunkedArray):
        out = out.combine_chunks()
    if not pa.types.is_string(out.type) and not pa.types.is_large_string(out.type):
        out = out.cast(pa.string())
    return out


def _same_type(value_set: Any, like: Any) -> Any:
    return value_set if value_set.type == like.type else value_set.cast(like.type)


def isin(values: Any, candidates: Any) -> np.ndarray:
    """``values[i]`` is one of ``candidates``; ``False`` for missing values.

    Parameters
    ----------
    values : Series, Index or array of str
        Keys to test.
    candidates : Series, Index or array of str
        Set of keys (duplicates and missing values are ignored).

    Returns
    -------
    ndarray of bool
        Positional, same length as ``values``.
    """
    import pyarrow.compute as pc

    a = as_arrow(values)
    v = _same_type(pc.unique(as_arrow(candidates).drop_null()), a)
    return pc.is_in(a, value_set=v, skip_nulls=True).to_numpy(zero_copy_only=False)


def lookup(keys: Any, index: Any, values: pd.Series | np.ndarray) -> Any:
    """Value of each key in a table given as (``index``, ``values``), like ``Series.map``.

    Parameters
    ----------
    keys : Series, Index or array of str
        Keys to look up.
    index : Series, Index or array of str
        Keys of the table (the first occurrence of a duplicated key is used).
    values : Series or ndarray
        Values of the table, positional with ``index``.

    Returns
    -------
    ExtensionArray or ndarray
        One value per key (same dtype as ``values``), missing (``NaT``,
        ``NaN``, ``<NA>``) where the key is missing or not in ``index``.
    """
    import pyarrow.compute as pc

    k = as_arrow(keys)
    ix = _same_type(as_arrow(index), k)
    pos = pc.index_in(k, value_set=ix, skip_nulls=True)
    pos = pos.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
    src = values.array if isinstance(values, pd.Series) else values
    return pd.api.extensions.take(src, pos, allow_fill=True)


def to_text(values: Any) -> pd.Series:
    """A Series as Arrow-backed ``string`` (no copy when it already is one)."""
    s = values if isinstance(values, pd.Series) else pd.Series(values)
    if s.dtype == TEXT_DTYPE:
        return s
    return s.astype(TEXT_DTYPE)


def release_memory() -> None:
    """Hand the memory freed by a large step back to the operating system.

    Arrow's allocator and the C library's keep freed pages for reuse; after
    loading a national file that is gigabytes of resident memory holding
    nothing. Called between large steps (each table loaded, each frame
    derived), it keeps the resident size close to the live data. Costs a few
    milliseconds; does nothing where the calls are not available.
    """
    import ctypes
    import ctypes.util
    import sys

    import pyarrow as pa

    with contextlib.suppress(Exception):
        pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
            libc.malloc_trim(0)
