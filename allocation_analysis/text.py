"""French number formatting for the report, the maps, the figures and the notebooks.

One convention everywhere: decimal comma, and the narrow no-break space
(U+202F, :data:`NNBSP`) both as thousands separator and before ``%``, as French
typography recommends (``1 641``, ``20,2 %``). It never breaks a line in HTML and
is drawn by the default matplotlib font (DejaVu Sans).

Missing values (``None``, ``NaN``, ``pd.NA``) are written with the ``missing``
argument of each helper (an em dash by default).

Examples
--------
>>> fmt_int(1641) == "1\u202f641"
True
>>> fmt_pct(0.2017) == "20,2\u202f%"
True
>>> fmt_float(0.7234)
'0,72'
>>> fmt_p(0.0321), fmt_p(0.00004)
('p = 0,032', 'p < 0,001')
>>> fmt_points(-0.032) == "\u2212" + "3,2 points"
True
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

__all__ = [
    "MISSING",
    "NNBSP",
    "SECRET_FR",
    "fmt_float",
    "fmt_int",
    "fmt_num",
    "fmt_p",
    "fmt_pct",
    "fmt_points",
    "is_missing",
]

NNBSP = "\u202f"
"""Narrow no-break space: thousands separator and space before ``%``."""

MISSING = "\u2014"
"""Default text of a missing value (em dash)."""

SECRET_FR = "non diffusé (secret statistique)"
"""Text shown in place of a value suppressed by disclosure control."""


def is_missing(value: Any) -> bool:
    """True for ``None``, ``NaN``, ``NaT`` and ``pd.NA``."""
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _group_thousands(digits: str) -> str:
    """Insert :data:`NNBSP` every three digits from the right (``digits``: no sign)."""
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return NNBSP.join(parts)


def _fmt_fixed(value: float, digits: int) -> str:
    """Fixed-point with decimal comma and grouped thousands (round half to even)."""
    text = f"{value:.{digits}f}"
    sign = ""
    if text.startswith("-"):
        sign, text = "-", text[1:]
    int_part, _, frac_part = text.partition(".")
    out = _group_thousands(int_part)
    if frac_part:
        out += "," + frac_part
    if sign and any(ch not in "0,\u202f" for ch in out):
        out = "\u2212" + out  # true minus sign; "-0,0" is written "0,0"
    return out


def fmt_int(value: Any, *, missing: str = MISSING) -> str:
    """Format an integer count: ``1641`` → ``"1 641"`` (narrow no-break space).

    Parameters
    ----------
    value : int or float
        The count; a float is rounded to the nearest integer.
    missing : str
        Text returned for a missing value.
    """
    if is_missing(value):
        return missing
    return _fmt_fixed(float(round(float(value))), 0)


def fmt_float(value: Any, *, digits: int = 2, missing: str = MISSING) -> str:
    """Format a number with ``digits`` decimals: ``0.7234`` → ``"0,72"``.

    Parameters
    ----------
    value : float
        The number.
    digits : int
        Number of decimals.
    missing : str
        Text returned for a missing value.
    """
    if is_missing(value):
        return missing
    v = float(value)
    if math.isinf(v):
        return "+\u221e" if v > 0 else "\u2212\u221e"
    return _fmt_fixed(v, digits)


def fmt_num(value: Any, *, significant: int = 6, missing: str = MISSING) -> str:
    """Format a number with at most ``significant`` digits, no trailing zeros.

    The French counterpart of Python's ``:g``: ``0.05`` → ``"0,05"``,
    ``3.14159`` → ``"3,14159"``, ``704512.0`` → ``"704 512"``.

    Parameters
    ----------
    value : float
        The number.
    significant : int
        Most significant digits written.
    missing : str
        Text returned for a missing value.
    """
    if is_missing(value):
        return missing
    v = float(value)
    if math.isinf(v) or v == 0:
        return fmt_float(v, digits=0)
    magnitude = math.floor(math.log10(abs(v)))
    digits = max(0, significant - 1 - magnitude)
    text = fmt_float(v, digits=digits)
    if "," in text:
        text = text.rstrip("0").rstrip(",")
    return text


def fmt_pct(value: Any, *, digits: int = 1, missing: str = MISSING) -> str:
    """Format a proportion as a percentage: ``0.2017`` → ``"20,2 %"``.

    Parameters
    ----------
    value : float
        A proportion (0.25 for 25 %).
    digits : int
        Number of decimals of the percentage.
    missing : str
        Text returned for a missing value.
    """
    if is_missing(value):
        return missing
    return f"{fmt_float(100.0 * float(value), digits=digits)}{NNBSP}%"


def fmt_points(value: Any, *, digits: int = 1, missing: str = MISSING) -> str:
    """Format a difference of two proportions in percentage points, signed.

    ``-0.032`` → ``"−3,2 points"``, ``0.05`` → ``"+5,0 points"``; the sign is
    written only when the rounded value is not zero (``"0,0 points"``).

    Parameters
    ----------
    value : float
        A difference of proportions (0.05 for 5 points).
    digits : int
        Number of decimals of the points.
    missing : str
        Text returned for a missing value.
    """
    if is_missing(value):
        return missing
    text = fmt_float(100.0 * float(value), digits=digits)
    if not text.startswith("\u2212") and any(ch in "123456789" for ch in text):
        text = "+" + text
    return f"{text} points"


def fmt_p(value: Any, *, digits: int = 3, missing: str = MISSING, prefix: bool = True) -> str:
    """Format a p-value: ``"p = 0,032"``, or ``"p < 0,001"`` below ``10**-digits``.

    Parameters
    ----------
    value : float
        The p-value.
    digits : int
        Number of decimals shown.
    missing : str
        Text returned for a missing value.
    prefix : bool, default True
        Write the leading ``p`` (``"p = 0,032"``); without it, ``"0,032"`` or
        ``"< 0,001"``, for a cell whose column is already labelled.
    """
    if is_missing(value):
        return missing
    v = float(value)
    floor = 10.0**-digits
    head = "p " if prefix else ""
    if v < floor:
        return f"{head}< {fmt_float(floor, digits=digits)}"
    return f"{head}= {fmt_float(v, digits=digits)}" if prefix else fmt_float(v, digits=digits)


MONTHS_FR: tuple[str, ...] = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)


def fmt_date(value: Any, *, missing: str = MISSING) -> str:
    """Format a date in words: ``"1er juillet 2025"``, ``"31 décembre 2025"``.

    Parameters
    ----------
    value : date-like
        The date.
    missing : str
        Text returned for a missing value.
    """
    if is_missing(value):
        return missing
    d = pd.Timestamp(value)
    day = "1er" if d.day == 1 else str(d.day)
    return f"{day} {MONTHS_FR[d.month - 1]} {d.year}"
