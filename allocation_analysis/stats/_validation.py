"""Argument validation shared by the statistical tests.

Argument mistakes (unknown column, a ``reference`` that is not a level of
``group``, an option outside its allowed values) raise
:class:`~allocation_analysis.errors.ArgumentError` (a `ValueError`)
with a message that names the argument and lists the allowed values.
Problems in the *data* (an empty group, no events …) are not errors: the
tests report them as warnings on their result.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.errors import ArgumentError

__all__ = [
    "check_alpha",
    "check_binary",
    "check_columns",
    "check_dataframe",
    "check_int",
    "check_option",
    "check_probability",
    "group_levels",
    "resolve_groups",
]


def _show(values: Iterable[Any], limit: int = 20) -> str:
    vals = [repr(str(v)) if not isinstance(v, str) else repr(v) for v in values]
    more = f", … ({len(vals) - limit} de plus)" if len(vals) > limit else ""
    return "[" + ", ".join(vals[:limit]) + more + "]"


def check_dataframe(df: Any, *, name: str = "df") -> pd.DataFrame:
    """Check that ``df`` is a pandas DataFrame.

    Raises
    ------
    ArgumentError
        When ``df`` is not a DataFrame.
    """
    if not isinstance(df, pd.DataFrame):
        raise ArgumentError(
            f"L'argument `{name}` doit être un pandas.DataFrame, reçu {type(df).__name__}."
        )
    return df


def check_columns(df: pd.DataFrame, **columns: str | Sequence[str] | None) -> None:
    """Check that the columns named by keyword arguments exist in ``df``.

    Parameters
    ----------
    df : DataFrame
        The data.
    **columns
        ``argument_name=column`` (or a sequence of columns, or ``None`` to skip),
        e.g. ``check_columns(df, outcome="access", group="nationalite")``.

    Raises
    ------
    ArgumentError
        Naming the argument, the missing column and the available columns.
    """
    check_dataframe(df)
    available = list(df.columns)
    for arg, value in columns.items():
        if value is None:
            continue
        names = [value] if isinstance(value, str) else list(value)
        for col in names:
            if not isinstance(col, str) and col not in df.columns:
                raise ArgumentError(
                    f"L'argument `{arg}` doit être un nom de colonne, reçu {col!r}."
                )
            if col not in df.columns:
                raise ArgumentError(
                    f"L'argument `{arg}` désigne la colonne {col!r}, absente des données. "
                    f"Colonnes disponibles : {_show(available)}."
                )


def group_levels(df: pd.DataFrame, group: str) -> list[str]:
    """Levels of ``group`` as strings.

    For a categorical column the levels are its categories (so a category
    without rows is a level, with an empty group); otherwise the sorted
    distinct non-missing values.
    """
    s = df[group]
    if isinstance(s.dtype, pd.CategoricalDtype):
        return [str(c) for c in s.cat.categories]
    return sorted({str(v) for v in s.dropna().unique()})


def resolve_groups(
    df: pd.DataFrame,
    *,
    group: str,
    reference: Any,
    compared: Any = None,
) -> list[str]:
    """Check ``reference``/``compared`` against the levels of ``group``.

    Parameters
    ----------
    df : DataFrame
    group : str
        Column holding the groups (must exist).
    reference : scalar
        Reference level.
    compared : scalar or None
        Compared level; ``None`` means every level other than ``reference``.

    Returns
    -------
    list of str
        The compared levels (one element when ``compared`` is given).

    Raises
    ------
    ArgumentError
        When ``reference`` or ``compared`` is not a level of ``group``, or when
        they are equal.
    """
    check_columns(df, group=group)
    levels = group_levels(df, group)
    ref = str(reference)
    if reference is None or ref not in levels:
        raise ArgumentError(
            f"L'argument `reference` vaut {reference!r}, qui n'est pas une modalité de la "
            f"colonne {group!r}. Modalités possibles : {_show(levels)}."
        )
    if compared is None:
        return [lv for lv in levels if lv != ref]
    comp = str(compared)
    if comp not in levels:
        raise ArgumentError(
            f"L'argument `compared` vaut {compared!r}, qui n'est pas une modalité de la "
            f"colonne {group!r}. Modalités possibles : {_show(levels)}."
        )
    if comp == ref:
        raise ArgumentError(
            f"Les arguments `compared` et `reference` désignent la même modalité {ref!r}."
        )
    return [comp]


def check_option(name: str, value: Any, allowed: Sequence[Any]) -> Any:
    """Check that option ``name`` takes one of the ``allowed`` values.

    Raises
    ------
    ArgumentError
        Naming the option and its allowed values.
    """
    if value not in allowed:
        raise ArgumentError(
            f"L'argument `{name}` doit valoir l'une des valeurs {_show(allowed)}, reçu {value!r}."
        )
    return value


def check_probability(
    name: str, value: Any, *, closed_low: bool = False, closed_high: bool = False
) -> float:
    """Check that ``value`` is a number in (0, 1) (bounds optionally included)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ArgumentError(f"L'argument `{name}` doit être un nombre, reçu {value!r}.") from None
    ok_low = x >= 0 if closed_low else x > 0
    ok_high = x <= 1 if closed_high else x < 1
    if math.isnan(x) or not (ok_low and ok_high):
        lo = "[" if closed_low else "]"
        hi = "]" if closed_high else "["
        raise ArgumentError(f"L'argument `{name}` doit être dans {lo}0 ; 1{hi}, reçu {value!r}.")
    return x


def check_alpha(alpha: Any) -> float:
    """Check a significance level: a number strictly between 0 and 1."""
    return check_probability("alpha", alpha)


def check_int(name: str, value: Any, *, minimum: int = 0) -> int:
    """Check that ``value`` is an integer ≥ ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ArgumentError(
            f"L'argument `{name}` doit être un entier supérieur ou égal à {minimum}, "
            f"reçu {value!r}."
        )
    return int(value)


_TRUE = {"1", "true", "vrai", "oui", "yes"}
_FALSE = {"0", "false", "faux", "non", "no"}


def check_binary(df: pd.DataFrame, column: str, *, name: str = "outcome") -> pd.Series:
    """A binary column as a float Series of 0/1 with NaN for missing values.

    Accepts booleans (``bool`` or nullable ``boolean``), numbers 0/1 and the
    strings ``"0"/"1"``, ``"true"/"false"``, ``"oui"/"non"``.

    Raises
    ------
    ArgumentError
        When the column holds other values (the first few are shown).
    """
    check_columns(df, **{name: column})
    s = df[column]
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64")
    if pd.api.types.is_numeric_dtype(s.dtype):
        out = pd.to_numeric(s, errors="coerce").astype("float64")
        bad = out.notna() & ~out.isin([0.0, 1.0])
        if bad.any():
            raise ArgumentError(
                f"L'argument `{name}` désigne la colonne {column!r}, qui doit être binaire "
                f"(0/1, vrai/faux) ; valeurs trouvées : {_show(pd.unique(s[bad])[:5])}."
            )
        return out
    txt = s.astype("string").str.strip().str.lower()
    out = pd.Series(np.nan, index=s.index, dtype="float64")
    out[txt.isin(_TRUE).fillna(False).astype(bool)] = 1.0
    out[txt.isin(_FALSE).fillna(False).astype(bool)] = 0.0
    bad = txt.notna() & out.isna()
    if bad.any():
        raise ArgumentError(
            f"L'argument `{name}` désigne la colonne {column!r}, qui doit être binaire "
            f"(0/1, vrai/faux) ; valeurs trouvées : {_show(pd.unique(s[bad])[:5])}."
        )
    return out
