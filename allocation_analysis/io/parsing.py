"""Vectorised conversion of text columns to the types of the data model.

Every parser takes a Series of Python strings (as returned by
:func:`allocation_analysis.io.readers.read_table`; ``""`` = missing) and
returns ``(values, bad)``: the typed Series (missing where the text is empty
or invalid) and a boolean mask of the cells whose non-empty text could not be
parsed. The loader turns ``bad`` cells into rejects; nothing is guessed.

INSEE codes
-----------
A commune code must be exactly five characters: five digits, or ``2A``/``2B``
followed by three digits (Corsica). ``59009.0`` — what a spreadsheet produces
when it turned the code into a number — is **rejected**, not repaired: the same
conversion turns ``01053`` into ``1053.0`` and the lost leading zero cannot be
recovered with certainty, so repairing only the cases that look harmless
would hide the damage done to the others. The reject message tells the user to
export the column as text.
"""

from __future__ import annotations

import re
import unicodedata

import numpy as np
import pandas as pd

__all__ = [
    "BOOL_FALSE",
    "BOOL_TRUE",
    "normalise_token",
    "parse_bool",
    "parse_code",
    "parse_date",
    "parse_enum",
    "parse_float",
    "parse_float_plain",
    "parse_int",
    "parse_text",
]

BOOL_TRUE = frozenset({"true", "1", "oui", "o", "vrai", "yes", "y"})
BOOL_FALSE = frozenset({"false", "0", "non", "n", "faux", "no"})

INSEE_PATTERN = r"(?:\d{5}|2[AB]\d{3})"
SIREN_PATTERN = r"\d{9}"
QPV_PATTERN = r"Q[PN][0-9A-Z]{5,8}"

_ISO_DATE = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T]00:00(?::00(?:\.0+)?)?)?$")
_FR_DATE = re.compile(r"^\d{1,2}/\d{1,2}/\d{4}$")


TEXT_DTYPE = pd.StringDtype("pyarrow")


def _strip(s: pd.Series) -> pd.Series:
    """Strip spaces (also non-breaking ones) from a text column; ``None`` → ``""``."""
    out = s.astype(TEXT_DTYPE).fillna("")
    return out.str.replace("\u00a0", " ", regex=False).str.strip()


def normalise_token(s: pd.Series) -> pd.Series:
    """Normalise enumeration text: lower case, no accents, ``-``/space/``_`` → ``_``.

    Examples
    --------
    >>> normalise_token(pd.Series(["Hors UE", " HORS_UE ", "hors-ue", "Française"])).tolist()
    ['hors_ue', 'hors_ue', 'hors_ue', 'francaise']
    """
    t = _strip(s).str.lower()
    # Accents are removed on the distinct values only (cheap).
    uniq = pd.unique(t.to_numpy(dtype=object))
    mapping = {u: _normalise_one(u) for u in uniq}
    return t.map(mapping).astype(TEXT_DTYPE)


def _normalise_one(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[\s_\-]+", "_", bare).strip("_")


def parse_text(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Free text: stripped, empty → ``<NA>``; never bad."""
    t = _strip(s)
    out = t.mask(t == "").astype(TEXT_DTYPE)
    return out, pd.Series(False, index=s.index)


def by_unique(parser, s: pd.Series, *args, **kwargs) -> tuple[pd.Series, pd.Series]:  # type: ignore[no-untyped-def]
    """Apply ``parser`` to the distinct values of ``s`` only, then broadcast.

    Most columns repeat few distinct values (dates, codes, enumerations), so
    this makes parsing cost proportional to the number of distinct values.
    """
    text = s.astype(TEXT_DTYPE).fillna("")
    codes, uniques = pd.factorize(text)
    vals, bad = parser(pd.Series(uniques), *args, **kwargs)
    out = vals.take(codes)
    out.index = s.index
    bad_out = pd.Series(bad.to_numpy(dtype=bool)[codes], index=s.index)
    return out, bad_out


def parse_code(
    s: pd.Series, pattern: str, *, multiple: bool = False
) -> tuple[pd.Series, pd.Series]:
    """Codes matching ``pattern`` (upper-cased, spaces stripped); ``multiple`` allows ``a|b|c``.

    Parameters
    ----------
    s : Series
        Text.
    pattern : str
        Regular expression of one code (without anchors).
    multiple : bool
        Accept several codes separated by ``|`` (spaces around ``|`` removed).
    """
    t = _strip(s).str.upper()
    if multiple:
        t = t.str.replace(r"\s*\|\s*", "|", regex=True)
        full = rf"^{pattern}(?:\|{pattern})*$"
    else:
        full = rf"^{pattern}$"
    empty = t == ""
    ok = t.str.match(full)
    bad = ~empty & ~ok
    out = t.mask(empty | bad).astype(TEXT_DTYPE)
    return out, bad.astype(bool)


def parse_bool(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Booleans from ``true/false``, ``1/0``, ``oui/non``, ``o/n``, ``vrai/faux``, ``yes/no``."""
    t = _strip(s).str.lower()
    is_true = t.isin(BOOL_TRUE)
    is_false = t.isin(BOOL_FALSE)
    empty = t == ""
    bad = ~(is_true | is_false | empty)
    out = pd.Series(pd.NA, index=s.index, dtype="boolean")
    out[is_true.to_numpy()] = True
    out[is_false.to_numpy()] = False
    return out, bad.astype(bool)


def parse_float(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Decimal numbers with a comma or a point; spaces as thousands separators.

    ``1 234,56``, ``1234.56``, ``1.234,56`` and ``1234,56`` all give 1234.56.
    Infinite values are bad.
    """
    t = _strip(s).str.replace(r"[\s\x{202f}]", "", regex=True)
    empty = t == ""
    # "1.234,56": dots are thousands separators when a decimal comma follows them.
    t = t.mask(t.str.match(r"^[+-]?\d{1,3}(?:\.\d{3})+,\d*$"), t.str.replace(".", "", regex=False))
    t = t.str.replace(",", ".", regex=False)
    num = pd.Series(
        pd.to_numeric(t.mask(empty).to_numpy(dtype=object, na_value=np.nan), errors="coerce"),
        index=s.index,
        dtype="float64",
    )
    bad = ~empty & (num.isna() | ~np.isfinite(num.fillna(0.0)))
    num = num.mask(bad)
    return num, bad.astype(bool)


_PLAIN_DECIMAL = r"^(?:-?[0-9]+(?:[.,][0-9]+)?)?$"


def parse_float_plain(s: pd.Series) -> tuple[pd.Series, pd.Series] | None:
    """:func:`parse_float` of a column whose cells are all plain decimals, else ``None``.

    When every cell is empty or matches ``-?digits[(.|,)digits]`` (no spaces,
    no sign ``+``, no exponent, no thousands separator), the whole column is
    converted by one Arrow cast, without a Python object per cell: the same
    values as :func:`parse_float` (a correctly rounded decimal conversion) in a
    fraction of the time on columns of millions of distinct values
    (coordinates, rents). Any other cell returns ``None`` and the caller uses
    :func:`parse_float`.
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    arr = pa.array(s.astype(TEXT_DTYPE).array)
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.combine_chunks()
    arr = arr.fill_null("")
    if not pc.all(pc.match_substring_regex(arr, _PLAIN_DECIMAL)).as_py():
        return None
    empty = pc.equal(arr, "")
    text = pc.replace_substring(pc.if_else(empty, pa.scalar(None, arr.type), arr), ",", ".")
    values = pc.cast(text, pa.float64()).to_numpy(zero_copy_only=False)
    num = pd.Series(values, index=s.index, dtype="float64")
    empty_np = empty.to_numpy(zero_copy_only=False)
    bad = pd.Series(~empty_np & ~np.isfinite(values), index=s.index)  # e.g. 400 digits
    return num.mask(bad), bad.astype(bool)


def parse_int(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Integers; ``3,0`` or ``3.0`` (spreadsheet) are accepted as 3, ``2.5`` is bad."""
    num, bad = parse_float(s)
    frac = num.notna() & (num != np.round(num))
    bad = bad | frac
    num = num.mask(frac)
    return num.round().astype("Int64"), bad.astype(bool)


def parse_date(s: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Dates ``YYYY-MM-DD`` (optionally ``00:00:00``) or ``DD/MM/YYYY``; impossible dates are bad."""
    t = _strip(s)
    empty = t == ""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[ns]")
    iso = t.str.extract(_ISO_DATE, expand=False)
    iso_mask = iso.notna()
    if iso_mask.any():
        out[iso_mask.to_numpy()] = pd.to_datetime(iso[iso_mask], format="%Y-%m-%d", errors="coerce")
    fr_mask = t.str.match(_FR_DATE) & ~iso_mask
    if fr_mask.any():
        out[fr_mask.to_numpy()] = pd.to_datetime(t[fr_mask], format="%d/%m/%Y", errors="coerce")
    bad = ~empty & out.isna()
    return out.astype("datetime64[ns]"), bad.astype(bool)


def parse_enum(
    s: pd.Series, allowed: tuple[str, ...], *, aliases: dict[str, str] | None = None
) -> tuple[pd.Series, pd.Series]:
    """Enumeration normalised to the contract's values.

    Parameters
    ----------
    s : Series
        Text.
    allowed : tuple of str
        The contract's values, in the contract's spelling (``"hors_ue"``, ``"T5+"``).
    aliases : dict, optional
        Extra spellings (already normalised with :func:`normalise_token`) → value.
    """
    lookup = {_normalise_one(a): a for a in allowed}
    lookup.update(aliases or {})
    t = normalise_token(s)
    out = t.map(lookup).astype(TEXT_DTYPE)
    empty = t == ""
    bad = ~empty & out.isna()
    return out, bad.astype(bool)
