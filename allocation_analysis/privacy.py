"""Privacy: pseudonymisation of identifiers and disclosure control of published tables.

SNE extracts are personal data. The numéro unique of a demand is replaced on
load by a keyed hash (HMAC-SHA256) so that records can be linked inside one
run without the identifier ever being kept; the key is generated with a secure
random generator on first use, stored with 0600 permissions outside
``outputs/`` and never logged.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import secrets
import stat
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from allocation_analysis.config import Period

__all__ = [
    "KEY_ENV_VAR",
    "apply_disclosure_control",
    "check_no_small_counts",
    "default_key_path",
    "indicator_relations",
    "load_or_create_key",
    "protect_breakdown",
    "protect_indicators",
    "group_counts_of",
    "protect_test_results",
    "protect_row_sums",
    "pseudonymise",
    "recoverable_cells",
    "release_masked_statuses",
    "secondary_suppression",
    "small_counts",
]

KEY_ENV_VAR = "ALLOCATION_ANALYSIS_KEY"
"""Environment variable holding the pseudonymisation key (hex), when set."""

KEY_FILE_ENV_VAR = "ALLOCATION_ANALYSIS_KEY_FILE"
"""Environment variable naming the key file, when set."""

_PSEUDONYM_HEX_CHARS = 16


def default_key_path() -> Path:
    """Where the key file lives when nothing else is said.

    ``$ALLOCATION_ANALYSIS_KEY_FILE`` if set, else
    ``$XDG_CONFIG_HOME/allocation_analysis/pseudonym.key`` (``~/.config`` by default):
    outside the project's ``outputs/`` folder by construction.
    """
    explicit = os.environ.get(KEY_FILE_ENV_VAR)
    if explicit:
        return Path(explicit).expanduser()
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "allocation_analysis" / "pseudonym.key"


MIN_KEY_BYTES = 32
"""Shortest pseudonymisation key accepted (256 bits, the HMAC-SHA-256 block strength)."""


def _key_error(message: str) -> Exception:
    from allocation_analysis.errors import UsageError

    return UsageError(message)


def _read_key_file(p: Path) -> bytes:
    """Read and check a key file: a private regular file holding at least 32 bytes in hex.

    Opened without following a symbolic link; the key itself never appears in a message.
    """
    try:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError as exc:
        if os.path.islink(p):
            raise _key_error(
                f"Le fichier de clé de pseudonymisation {p} est un lien symbolique : "
                "indiquez le fichier lui-même."
            ) from None
        raise _key_error(
            f"Le fichier de clé de pseudonymisation {p} ne peut pas être lu "
            f"({exc.strerror or exc})."
        ) from None
    st = os.fstat(fd)
    if not stat.S_ISREG(st.st_mode):
        os.close(fd)
        raise _key_error(f"Le chemin de la clé de pseudonymisation {p} n'est pas un fichier.")
    with os.fdopen(fd, "rb") as fh:
        if st.st_mode & 0o077:
            raise _key_error(
                f"Le fichier de clé de pseudonymisation {p} est lisible par d'autres "
                f"utilisateurs (droits {stat.S_IMODE(st.st_mode):o}) : exécutez "
                f"« chmod 600 {p} » puis relancez."
            )
        raw = fh.read(4096)
    try:
        text = raw.decode("ascii").strip()
    except UnicodeDecodeError:
        text = None
    if text == "":
        raise _key_error(
            f"Le fichier de clé de pseudonymisation {p} est vide : supprimez-le pour qu'une "
            f"nouvelle clé soit créée (les pseudonymes changeront), ou restaurez la clé."
        )
    try:
        key = bytes.fromhex(text) if text is not None else None
    except ValueError:
        key = None
    if key is None:
        raise _key_error(
            f"Le fichier de clé de pseudonymisation {p} ne contient pas une clé en "
            "hexadécimal : restaurez la clé, ou supprimez le fichier pour en créer une "
            "nouvelle (les pseudonymes changeront)."
        )
    if len(key) < MIN_KEY_BYTES:
        raise _key_error(
            f"La clé du fichier {p} est trop courte ({len(key)} octets) : "
            f"{MIN_KEY_BYTES} octets au moins ({2 * MIN_KEY_BYTES} caractères hexadécimaux)."
        )
    return key


def load_or_create_key(path: str | Path | None = None) -> bytes:
    """Return the pseudonymisation key, creating it on first use.

    Order: the ``ALLOCATION_ANALYSIS_KEY`` environment variable (hex), else the
    key file (``path`` or :func:`default_key_path`), created with 32 random bytes
    from :mod:`secrets` and mode 0600 when missing.

    The key file must be a regular file (not a symbolic link, not a folder),
    readable by its owner only, holding at least :data:`MIN_KEY_BYTES` bytes in
    hexadecimal; anything else is refused with a French message naming the
    file and what to do (the ``chmod`` to run), never with the key. Creation is
    atomic: the key is written to a private temporary file of the same folder,
    then linked to its name, which fails if another process created the key
    first; the key is then read back, so that concurrent first runs agree on
    one key.

    Parameters
    ----------
    path : str or Path, optional
        Key file to use instead of the default location.

    Returns
    -------
    bytes
        The key (never logged, never written to outputs).

    Raises
    ------
    UsageError
        Key too short, not hexadecimal, empty, readable by others, a folder or
        a symbolic link, or unreadable.
    """
    env = os.environ.get(KEY_ENV_VAR)
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            key = env.strip().encode("utf-8")
        if len(key) < MIN_KEY_BYTES:
            raise _key_error(
                f"La clé de pseudonymisation ({KEY_ENV_VAR}) est trop courte : "
                f"{MIN_KEY_BYTES} octets au moins."
            )
        return key
    p = Path(path) if path is not None else default_key_path()
    if os.path.lexists(p):
        return _read_key_file(p)
    try:
        p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise _key_error(
            f"Le dossier de la clé de pseudonymisation {p.parent} ne peut pas être créé "
            f"({exc.strerror or exc})."
        ) from None
    key = secrets.token_bytes(32)
    tmp = None
    try:
        # mkstemp: 0600 from the start (no window with wider permissions), and the
        # content is complete before the key file appears under its name.
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(key.hex())
            fh.flush()
            os.fsync(fh.fileno())
        # another process may have created the key first: theirs is then the key
        with contextlib.suppress(FileExistsError):
            os.link(tmp, p)
    except OSError as exc:
        raise _key_error(
            f"La clé de pseudonymisation {p} ne peut pas être créée ({exc.strerror or exc})."
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
    return _read_key_file(p)


def pseudonymise(values: pd.Series, key: bytes) -> pd.Series:
    """Replace identifiers by a keyed hash (HMAC-SHA256, 16 hex characters).

    The same identifier and key always give the same pseudonym, so demands and
    allocations stay linkable; another key gives unrelated pseudonyms.

    Parameters
    ----------
    values : Series
        Identifiers (converted to ``str`` after stripping spaces).
    key : bytes
        Secret key from :func:`load_or_create_key`.

    Returns
    -------
    Series
        Pseudonyms (Arrow-backed ``string``), same index; missing identifiers
        stay missing.

    Notes
    -----
    One HMAC is computed per distinct identifier; text columns are
    dictionary-encoded with Arrow, so no Python object is created per row.

    References
    ----------
    .. [1] H. Krawczyk, M. Bellare, R. Canetti, "HMAC: Keyed-Hashing for Message
       Authentication", RFC 2104, 1997.
    """
    return _pseudonymise(values, key)[0]


def _pseudonymise(
    values: pd.Series, key: bytes, known: tuple[Any, Any] | None = None
) -> tuple[pd.Series, tuple[Any, Any] | None]:
    """:func:`pseudonymise`, reusing the pseudonyms of identifiers already hashed.

    ``known`` is the second element returned by an earlier call with the same
    key: (distinct raw identifiers, their pseudonyms) as Arrow arrays. Used by
    the loader so that allocations do not hash again the identifiers of the
    demand file. The second element returned is ``None`` on the generic path
    (non-text values).
    """
    import pyarrow as pa
    import pyarrow.compute as pc

    digest = _hmac_hex(key)
    if isinstance(values.dtype, pd.StringDtype) or values.dtype == object:
        arr = pa.array(values.array) if isinstance(values.dtype, pd.StringDtype) else None
        if arr is None:
            try:
                arr = pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                arr = None
        if arr is not None:
            if isinstance(arr, pa.ChunkedArray):
                arr = arr.combine_chunks()
            enc = pc.dictionary_encode(arr)
            uniques = enc.dictionary
            if known is not None and len(uniques):
                raw_known, hashed_known = known
                pos = pc.index_in(uniques, value_set=raw_known.cast(uniques.type))
                miss = pc.is_null(pos)
                hashed = pc.take(hashed_known, pos)
                if pc.any(miss).as_py():
                    fresh = _digest_all(digest, pc.filter(uniques, miss))
                    hashed = pc.replace_with_mask(hashed, miss, fresh)
            else:
                hashed = _digest_all(digest, uniques)
            out = pc.take(hashed, enc.indices)
            series = pd.Series(
                pd.arrays.ArrowStringArray(out), index=values.index, name=values.name
            )
            return series, (uniques, hashed)

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return pd.NA
        return digest(str(v).strip())

    # One HMAC per distinct identifier (duplicates are common in allocation files).
    uniques = pd.unique(values)
    mapping = {u: one(u) for u in uniques}
    return values.map(mapping).astype(_STRING), None


def _digest_all(digest: Any, texts: Any) -> Any:
    """Pseudonyms of an Arrow string array (no nulls), by slices of 2**20 values
    so that only one slice at a time exists as Python objects."""
    import pyarrow as pa
    import pyarrow.compute as pc

    step = 1 << 20
    parts = []
    for i in range(0, len(texts), step):
        part = texts.slice(i, step)
        # printable ASCII without spaces: nothing to strip, and the UTF-8 bytes are
        # the Arrow bytes (no str object, no encoding per identifier)
        plain = pc.match_substring_regex(part, r"^[!-~]*$")
        if pc.all(plain).as_py():
            hashed = digest.raw(part.cast(pa.large_binary()).to_pylist())
        else:
            is_plain = plain.to_numpy(zero_copy_only=False)
            fast, slow = np.flatnonzero(is_plain), np.flatnonzero(~is_plain)
            out = np.empty(len(part), dtype=object)
            out[fast] = digest.raw(part.take(fast).cast(pa.large_binary()).to_pylist())
            out[slow] = [digest(u.strip()) for u in part.take(slow).to_pylist()]
            hashed = out.tolist()
        parts.append(pa.array(hashed, type=pa.string()))
    return pa.concat_arrays(parts) if parts else pa.array([], type=pa.string())


_STRING = pd.StringDtype("pyarrow")


def _hmac_hex(key: bytes):  # type: ignore[no-untyped-def]
    """``text -> HMAC-SHA256(key, UTF-8 text)`` as hex, truncated (RFC 2104).

    The inner and outer hash states of the key are computed once and copied for
    each message: the same bytes as :func:`hmac.digest`, about twice as fast on
    short identifiers.
    """
    import hashlib

    block = 64  # SHA-256 block size
    k = hashlib.sha256(key).digest() if len(key) > block else key
    k = k.ljust(block, b"\0")
    inner = hashlib.sha256(bytes(b ^ 0x36 for b in k))
    outer = hashlib.sha256(bytes(b ^ 0x5C for b in k))
    inner_copy, outer_copy = inner.copy, outer.copy
    n = _PSEUDONYM_HEX_CHARS

    def digest(text: str) -> str:
        h = inner_copy()
        h.update(text.encode("utf-8"))
        o = outer_copy()
        o.update(h.digest())
        return o.hexdigest()[:n]

    def raw(messages: list[bytes]) -> list[str]:
        out = []
        append = out.append
        for m in messages:
            h = inner_copy()
            h.update(m)
            o = outer_copy()
            o.update(h.digest())
            append(o.hexdigest()[:n])
        return out

    digest.raw = raw  # type: ignore[attr-defined]
    return digest


# =========================================================================== disclosure control
#
# Statistical secret (docs/methods.md §4): no published count in [1, threshold - 1],
# no share (or interval, or p-value) on a denominator below the threshold, and
# no suppressed count recoverable from what is published.

_SUPPRESSION_LOG = logging.getLogger(__name__)


def small_counts(values: Any, *, threshold: int, zero: bool = False) -> np.ndarray:
    """Which values fall under the statistical secret (the primary rule).

    This is the one definition of a small count used by every table builder:
    a count from 1 to ``threshold - 1`` is never published; with ``zero=True``
    (the base of a rate, a curve or a comparison) 0 is too small as well,
    since no share can be published on fewer than ``threshold`` units.

    Parameters
    ----------
    values : array-like
        Counts (missing values are never small).
    threshold : int
        Secret threshold (11 by default in a run).
    zero : bool, default False
        Also flag 0 (a denominator below the threshold).

    Returns
    -------
    ndarray of bool
        Same shape as ``values``.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, §4.2.
       Wiley.

    Examples
    --------
    >>> small_counts([0, 1, 10, 11, None], threshold=11).tolist()
    [False, True, True, False, False]
    >>> small_counts([0, 10, 11], threshold=11, zero=True).tolist()
    [True, True, False]
    """
    if isinstance(values, np.ndarray) and values.dtype.kind in "biuf":
        v = values.astype(float)
    else:
        v = (
            pd.to_numeric(pd.Series(values, dtype=object), errors="coerce")
            .astype("float64")
            .to_numpy()
        )
    with np.errstate(invalid="ignore"):
        below = v < int(threshold)
        return below if zero else below & (v >= 1)


def secondary_suppression(values: np.ndarray, hide: np.ndarray) -> bool:
    """Secondary suppression in one additive relation (``hide`` is updated in place).

    When exactly one cell of the relation is hidden, the difference of the
    published ones would give it back: the smallest other positive cell is
    hidden too (the first one on ties; a 0 protects nothing).

    Parameters
    ----------
    values : ndarray of float
        The cells of the relation (e.g. the parts of a published total).
    hide : ndarray of bool
        The cells already hidden; updated in place.

    Returns
    -------
    bool
        False when one cell is hidden and no other can be: the caller must then
        hide the relation's total.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, §4.3.
       Wiley.

    Examples
    --------
    >>> hide = np.array([True, False, False])
    >>> secondary_suppression(np.array([3.0, 40.0, 25.0]), hide), hide.tolist()
    (True, [True, False, True])
    """
    if int(hide.sum()) != 1:
        return True
    candidates = np.flatnonzero(~hide & (values > 0))
    if not len(candidates):
        return False
    hide[candidates[np.argmin(values[candidates])]] = True
    return True


def protect_breakdown(
    frame: pd.DataFrame, columns: Sequence[str], *, threshold: int
) -> pd.DataFrame:
    """Secret of a one-dimensional breakdown whose column totals are published.

    Parameters
    ----------
    frame : DataFrame
        One row per category; each of ``columns`` adds up to a published total.
    columns : sequence of str
        Count columns.
    threshold : int
        Secret threshold.

    Returns
    -------
    DataFrame
        A copy with hidden counts as ``<NA>`` (``Float64`` columns): the small
        counts (:func:`small_counts`) and, in a column with exactly one, the
        next smallest positive count, so that the total does not give it back.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, §4.3.
       Wiley.

    Examples
    --------
    >>> t = pd.DataFrame({"n": [3, 40, 25, 0]})
    >>> protect_breakdown(t, ["n"], threshold=11)["n"].tolist()
    [<NA>, 40.0, <NA>, 0.0]
    """
    out = frame.copy()
    for col in columns:
        vals = pd.to_numeric(out[col], errors="coerce")
        arr = vals.astype("float64").to_numpy()
        hide = small_counts(arr, threshold=threshold)
        secondary_suppression(arr, hide)
        out[col] = vals.astype("Float64").mask(hide)
    return out


@dataclass
class _Cells:
    """Counts of a table seen as cells tied by linear equations.

    Published cells are the count columns of the table; implicit cells are
    never published but derivable (complements ``denominator - count``,
    remainders ``total - sum(parts)``). ``equations`` lists, for each linear
    relation, the cells it ties together and their coefficients (sum = 0).
    """

    values: list[float] = field(default_factory=list)
    published: list[bool] = field(default_factory=list)
    where: list[tuple[int, str] | None] = field(default_factory=list)
    remainder: list[bool] = field(default_factory=list)
    equations: list[list[tuple[int, float]]] = field(default_factory=list)

    def add(
        self,
        value: float,
        *,
        published: bool,
        where: tuple[int, str] | None,
        remainder: bool = False,
    ) -> int:
        self.values.append(float(value))
        self.published.append(published)
        self.where.append(where)
        self.remainder.append(remainder)
        return len(self.values) - 1


def _normalise_groups(
    groups: Sequence[Any] | None, count_columns: Sequence[str]
) -> list[tuple[Any, list[Any], list[str]]]:
    out = []
    for g in groups or ():
        if len(g) == 2:
            total, parts = g
            cols = list(count_columns)
        elif len(g) == 3:
            total, parts, cols = g
            cols = [cols] if isinstance(cols, str) else list(cols)
        else:
            raise ValueError("groups: each relation is (total, parts) or (total, parts, columns)")
        unknown = [c for c in cols if c not in count_columns]
        if unknown:
            raise ValueError(f"groups: columns {unknown} are not in count_columns")
        out.append((total, list(parts), cols))
    return out


def _build_cells(
    table: pd.DataFrame,
    count_columns: Sequence[str],
    denominator_column: str | None,
    groups: list[tuple[Any, list[Any], list[str]]],
) -> tuple[_Cells, dict[tuple[int, str], int]]:
    cells = _Cells()
    pos_of = {label: i for i, label in enumerate(table.index)}
    ids: dict[tuple[int, str], int] = {}
    arr = {c: table[c].to_numpy(dtype=float, na_value=np.nan) for c in count_columns}
    for c in count_columns:
        if np.isnan(arr[c]).any():
            raise ValueError(f"apply_disclosure_control: column {c!r} holds missing counts")
        for i in range(len(table)):
            ids[(i, c)] = cells.add(arr[c][i], published=True, where=(i, c))
    # Within a row: count + complement = denominator.
    if denominator_column is not None:
        for c in count_columns:
            if c == denominator_column:
                continue
            for i in range(len(table)):
                comp = cells.add(
                    arr[denominator_column][i] - arr[c][i], published=False, where=None
                )
                cells.equations.append(
                    [(ids[(i, c)], 1.0), (comp, 1.0), (ids[(i, denominator_column)], -1.0)]
                )
    # Across rows: total = sum(parts) + remainder.
    for total, parts, cols in groups:
        if total not in pos_of or any(p not in pos_of for p in parts):
            raise ValueError("groups: a relation names a row label absent from the table")
        t = pos_of[total]
        ps = [pos_of[p] for p in parts]
        for c in cols:
            rem_value = arr[c][t] - sum(arr[c][p] for p in ps)
            rem = cells.add(rem_value, published=False, where=None, remainder=True)
            eq = [(ids[(t, c)], 1.0), (rem, -1.0)] + [(ids[(p, c)], -1.0) for p in ps]
            cells.equations.append(eq)
    return cells, ids


def _first_disclosure_by_differencing(
    cells: _Cells, unknown: np.ndarray, sensitive: np.ndarray, eqs_of: list[list[int]]
) -> tuple[int, int] | None:
    """Unit propagation: an equation with one unknown left gives that unknown.

    Returns ``(cell, equation)`` for the first sensitive cell so recovered, else None.
    """
    known = ~unknown.copy()
    n_unknown = [sum(1 for j, _ in eq if not known[j]) for eq in cells.equations]
    queue = [e for e, k in enumerate(n_unknown) if k == 1]
    while queue:
        e = queue.pop()
        if n_unknown[e] != 1:
            continue
        j = next(j for j, _ in cells.equations[e] if not known[j])
        if sensitive[j]:
            return j, e
        known[j] = True
        for e2 in eqs_of[j]:
            n_unknown[e2] -= 1
            if n_unknown[e2] == 1:
                queue.append(e2)
    return None


def _first_disclosure_linear(
    cells: _Cells, unknown: np.ndarray, sensitive: np.ndarray, eqs_of: list[list[int]]
) -> tuple[int, int] | None:
    """Exact check: a cell is recoverable when it is fixed by the linear system.

    With ``A_U`` the unknown cells' columns of the equations, cell ``j`` is
    determined iff every vector of the null space of ``A_U`` is 0 at ``j``.

    The system is first peeled: a non-sensitive unknown cell that appears in a
    single remaining equation can absorb any value, so that equation says
    nothing about the other cells and is set aside (sensitive cells are never
    peeled: only their own determinacy matters). The null space is computed on
    the remaining core only, per connected component.
    """
    from scipy.linalg import null_space

    from allocation_analysis.threads import single_thread

    unk = [int(j) for j in np.flatnonzero(unknown)]
    if not unk:
        return None
    active = {e for j in unk for e in eqs_of[j]}
    count = {j: len(eqs_of[j]) for j in unk}
    unk_of_eq = {e: [j for j, _ in cells.equations[e] if unknown[j]] for e in active}
    is_peeled: set[int] = set()
    stack = [j for j in unk if count[j] <= 1 and not sensitive[j]]
    while stack:
        j = stack.pop()
        if j in is_peeled or count[j] > 1 or sensitive[j]:
            continue
        is_peeled.add(j)
        live = [e for e in eqs_of[j] if e in active]
        if not live:
            continue
        e = live[0]
        others = [k for k in unk_of_eq[e] if k != j]
        active.discard(e)
        for k in others:
            count[k] -= 1
            if count[k] <= 1:
                stack.append(k)
    core = [j for j in unk if j not in is_peeled]
    determined: dict[int, bool] = {}
    # Connected components of the core through the remaining equations (union-find).
    parent = {j: j for j in core}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for e in active:
        us = unk_of_eq[e]
        for a in us[1:]:
            ra, rb = find(us[0]), find(a)
            if ra != rb:
                parent[ra] = rb
    comps: dict[int, list[int]] = {}
    for j in core:
        comps.setdefault(find(j), []).append(j)
    for members in comps.values():
        col = {j: k for k, j in enumerate(members)}
        rows = sorted({e for j in members for e in eqs_of[j] if e in active})
        A = np.zeros((len(rows), len(members)))
        for r, e in enumerate(rows):
            for j, coef in cells.equations[e]:
                if j in col:
                    A[r, col[j]] += coef
        with single_thread():  # small SVDs: threads only cost
            ns = null_space(A)
        free = np.abs(ns).max(axis=1) > 1e-9 if ns.size else np.zeros(len(members), bool)
        for j in members:
            determined[j] = not bool(free[col[j]])
    for j in core:
        if sensitive[j] and determined[j]:
            return j, min(eqs_of[j], key=lambda q: len(cells.equations[q]))
    return None


def _pick_secondary(
    cells: _Cells, unknown: np.ndarray, start_eq: int, eqs_of: list[list[int]]
) -> int | None:
    """Smallest positive published, not yet suppressed cell near ``start_eq`` (BFS)."""
    seen_eq = {start_eq}
    frontier = [start_eq]
    seen_cells: set[int] = set()
    while frontier:
        cands = []
        nxt = []
        for e in frontier:
            for j, _ in cells.equations[e]:
                if j in seen_cells:
                    continue
                seen_cells.add(j)
                if cells.published[j] and not unknown[j] and cells.values[j] > 0:
                    cands.append(j)
                for e2 in eqs_of[j]:
                    if e2 not in seen_eq:
                        seen_eq.add(e2)
                        nxt.append(e2)
        if cands:
            return min(cands, key=lambda j: (cells.values[j], j))
        frontier = nxt
    return None


def apply_disclosure_control(
    table: pd.DataFrame,
    *,
    count_columns: Sequence[str],
    share_columns: Sequence[str] = (),
    denominator_column: str | None = None,
    threshold: int = 11,
    groups: Sequence[Any] | None = None,
    bounds: bool = True,
) -> pd.DataFrame:
    """Suppress small counts and everything that would let a reader recover them.

    Parameters
    ----------
    table : DataFrame
        The table to publish (unique index labels). Counts must be complete.
    count_columns : sequence of str
        Count columns (e.g. ``["numerator", "denominator"]``).
    share_columns : sequence of str
        Columns computed from the counts of the row (share, interval bounds,
        p-value): suppressed whenever a count of the row is suppressed or the
        denominator is below ``threshold``.
    denominator_column : str, optional
        The row's denominator, one of ``count_columns``. When given, every other
        count column ``c`` has an implicit complement ``denominator - c`` that is
        protected like a published count.
    threshold : int
        Counts from 1 to ``threshold - 1`` are never published (default 11).
    groups : sequence, optional
        Additive relations between rows: ``(total, parts)`` or
        ``(total, parts, columns)`` with ``total`` a row label and ``parts`` a
        list of row labels, meaning ``total = sum(parts) + remainder`` for each
        count column (or for ``columns`` only). The remainder (usually 0) is an
        implicit cell protected like a published count; a part may be missing
        (e.g. the previous semester in ``rolling = semester + previous``).
        A remainder of 0 is taken as known to the reader (a breakdown that
        covers everything), any other remainder as unknown.
    bounds : bool
        Also protect against a reader who uses bounds (Notes, 2); default
        True. False only for a trial solve whose result is not published.

    Returns
    -------
    DataFrame
        A copy with suppressed counts set to missing (``Int64`` columns, ``<NA>``;
        the JSON writer writes ``null``), suppressed share columns set to NaN,
        and a boolean ``suppressed`` column (True when any count of the row is
        suppressed; OR-ed with an existing ``suppressed`` column).

    Notes
    -----
    Cells are the published counts plus the implicit complements and
    remainders; the relations above are linear equations between them.

    1. *Primary suppression*: published counts in ``[1, threshold - 1]``.
    2. *Secondary suppression*: a suppressed or implicit cell whose value is in
       ``[1, threshold - 1]`` must not be recoverable from the published cells.
       Recovery by differencing (an equation with a single unknown left gives
       it, and the cells so recovered are used in turn) is checked first; when
       a sensitive cell is recovered, the smallest positive published count of
       that equation (or, failing one, of the nearest equations) is suppressed,
       and the check starts again. An exact check follows: a cell is recoverable
       by any linear combination of the relations iff it is 0 in every vector of
       the null space of the unknown cells' equation matrix; the same repair is
       applied until no sensitive cell is fixed by the system. Last, bounds: the
       reader knows that a masked count is at least 1 (zeros are published) and
       every cell at least 0, so two masked parts of a difference of 2 are both
       1; these bounds are propagated through the equations and the same repair
       is applied while one sensitive cell is fixed by them. Propagation is
       sound but not complete (the exact integer program of
       :func:`release_masked_statuses` is too slow for every table).
    3. Shares, intervals and p-values are hidden on rows with a suppressed count
       (they would give the count back) or a denominator below the threshold.

    Zero cells are never chosen for secondary suppression (hiding a 0 protects
    nothing), and zero counts are published.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, ch. 4
       (frequency tables: primary and secondary cell suppression). Wiley.
    .. [2] Insee, *Guide du secret statistique* (2018): seuil de 11 et secret
       secondaire.
    """
    threshold = int(threshold)
    count_columns = list(count_columns)
    share_columns = list(share_columns)
    if denominator_column is not None and denominator_column not in count_columns:
        raise ValueError("denominator_column must be one of count_columns")
    if not table.index.is_unique:
        raise ValueError("apply_disclosure_control: the table index must be unique")
    rels = _normalise_groups(groups, count_columns)
    cells, ids = _build_cells(table, count_columns, denominator_column, rels)
    values = np.asarray(cells.values)
    published = np.asarray(cells.published)
    remainder = np.asarray(cells.remainder)
    sensitive = small_counts(values, threshold=threshold)
    # Published counts are known unless suppressed; complements are unknown
    # (derivable only through the row); a remainder is assumed known to the
    # reader when it is 0 (an exhaustive breakdown; an empty previous
    # semester), unknown otherwise.
    unknown = (~published & ~(remainder & (values == 0))) | sensitive
    n_primary = int((published & sensitive).sum())
    eqs_of = _equations_of(cells)

    def repair(j_equation: int) -> None:
        nonlocal n_secondary
        pick = _pick_secondary(cells, unknown, j_equation, eqs_of)
        if pick is None:  # pragma: no cover - a positive total always exists
            from allocation_analysis.errors import AnalysisError

            raise AnalysisError(
                "Secret statistique : impossible de protéger un effectif par secret secondaire."
            )
        unknown[pick] = True
        n_secondary += 1

    n_secondary = 0
    while True:
        hit = _first_disclosure_by_differencing(cells, unknown, sensitive, eqs_of)
        if hit is None:
            hit = _first_disclosure_linear(cells, unknown, sensitive, eqs_of)
            if hit is None:
                break
        repair(hit[1])
    # Bounds: a reader also knows that a masked count is at least 1 (zeros are
    # always published) and that every cell is at least 0: two masked parts of a
    # difference of 2 are then both 1. Checked by propagating these bounds
    # through the equations (fast; the exact integer program of
    # release_masked_statuses is too slow to run on every table). Hiding one more
    # cell only widens what the reader can infer: no linear recovery can appear.
    while bounds:
        j = _first_pinned_by_propagation(cells, unknown, sensitive)
        if j is None:
            break
        repair(min(eqs_of[j], key=lambda q: len(cells.equations[q])))

    out = table.copy()
    row_suppressed = np.zeros(len(table), dtype=bool)
    for c in count_columns:
        hidden = np.array([unknown[ids[(i, c)]] for i in range(len(table))], dtype=bool)
        row_suppressed |= hidden
        col = out[c].astype("Float64").round().astype("Int64")
        col[hidden] = pd.NA
        out[c] = col
    hide_share = row_suppressed.copy()
    if denominator_column is not None:
        den = table[denominator_column].to_numpy(dtype=float)
        hide_share |= small_counts(den, threshold=threshold, zero=True)
    for c in share_columns:
        s = out[c].astype("float64")
        s[hide_share] = np.nan
        out[c] = s
    previous = out["suppressed"].astype(bool).to_numpy() if "suppressed" in out else False
    out["suppressed"] = row_suppressed | previous
    _SUPPRESSION_LOG.info(
        "Secret statistique : %d case(s) en secret primaire, %d en secret secondaire.",
        n_primary,
        n_secondary,
    )
    out.attrs["disclosure"] = {
        "threshold": threshold,
        "primary": n_primary,
        "secondary": n_secondary,
    }
    return out


_INDICATOR_SHARE_COLUMNS = ("share", "ci_low", "ci_high", "p_value_vs_target")


def indicator_relations(indicators: pd.DataFrame) -> list[tuple[Any, list[Any], list[str]]]:
    """Additive relations between the rows of an indicators frame.

    Protected (each as ``total = sum(parts) + remainder``):

    1. breakdown vs territory, within indicator × window × period, for each of
       the scopes ``commune``, ``bailleur``, ``reservataire``, ``mutation``
       (numerator and denominator);
    2. ``rolling_12m`` = ``semester`` + previous semester, within indicator ×
       scope × scope value × period (the previous semester row is a part when
       the frame holds it, e.g. in a trend table; otherwise it is the
       remainder);
    3. denominator of ``prioritaires_<r>`` at territory scope = denominator of
       ``q1_hors_qpv`` + denominator of ``non_q1_en_qpv`` at ``reservataire = r``
       (leases of a reservataire outside plus inside QPV), within window × period.

    The numerator vs denominator relation (complement = denominator −
    numerator) is protected by :func:`apply_disclosure_control` itself.
    """

    df = indicators.reset_index(drop=True)
    sv = df["scope_value"].astype("string").fillna("")
    key = list(zip(df["id"], df["scope"], sv, df["window"], df["period"].astype(str), strict=True))
    label_of = {k: i for i, k in enumerate(key)}
    rels: list[tuple[Any, list[Any], list[str]]] = []
    both = ["numerator", "denominator"]
    # 1. breakdowns vs territory
    for (ind, win, per), sub in df.groupby(["id", "window", "period"], sort=False):
        t = label_of.get((ind, "territory", "", win, str(per)))
        if t is None:
            continue
        for scope, part in sub.groupby("scope", sort=False):
            if scope == "territory":
                continue
            rels.append((t, list(part.index), both))
    # 2. rolling 12 months vs semesters
    for i, (ind, scope, value, win, per) in enumerate(key):
        if win != "rolling_12m":
            continue
        s = label_of.get((ind, scope, value, "semester", per))
        if s is None:
            continue
        parts = [s]
        try:
            prev = Period.parse(per).previous().label
        except Exception:  # noqa: BLE001 - a label that is not a semester: no previous row
            prev = None
        if (
            prev is not None
            and (q := label_of.get((ind, scope, value, "semester", prev))) is not None
        ):
            parts.append(q)
        rels.append((i, parts, both))
    # 3. reservataire denominators across indicators
    for r in ("action_logement", "collectivite", "bailleur"):
        for (ind, scope, _value, win, per), i in label_of.items():
            if ind != f"prioritaires_{r}" or scope != "territory":
                continue
            parts = [
                label_of.get((other, "reservataire", r, win, per))
                for other in ("q1_hors_qpv", "non_q1_en_qpv")
            ]
            if all(p is not None for p in parts):
                rels.append((i, parts, ["denominator"]))
    return rels


def _indicator_keys(df: pd.DataFrame) -> list[tuple[str, str, str, str, str]]:
    sv = df["scope_value"].astype("string").fillna("")
    return list(
        zip(
            df["id"].astype(str),
            df["scope"].astype(str),
            sv.astype(str),
            df["window"].astype(str),
            df["period"].astype(str),
            strict=True,
        )
    )


def protect_indicators(
    indicators: pd.DataFrame,
    *,
    threshold: int = 11,
    linked: Sequence[pd.DataFrame] = (),
    bounds: bool = True,
) -> pd.DataFrame:
    """Disclosure control of an indicators frame (``compute_indicators``, ``trend_table``).

    Parameters
    ----------
    indicators : DataFrame
        Columns of :data:`allocation_analysis.indicators.INDICATOR_COLUMNS`.
    threshold : int
        Counts from 1 to ``threshold - 1`` are never published (default 11).
    linked : sequence of DataFrame, optional
        The other indicator frames of the same publication, unprotected (e.g.
        the trend table when protecting the semester's indicators, and the
        reverse). The suppression is then computed once on the union of the
        frames (rows sorted by key, so every call on the same publication
        solves the same problem) and the rows of ``indicators`` are returned:
        a cell is masked in every table that holds it, and the relations
        between the tables (``rolling_12m`` = semester + previous semester,
        the previous semester being a row of the trend table only; territory
        rows that both tables hold) are protected together. Protecting each
        table alone does not ensure this: the trend table can publish the
        previous semester that the 12 months minus the semester of the
        indicators table would otherwise keep secret, or choose another
        secondary cell in the same chain.

    bounds : bool
        As :func:`apply_disclosure_control` (default True).

    Returns
    -------
    DataFrame
        Same rows and columns: suppressed ``numerator``/``denominator`` are
        ``<NA>``; ``share``, ``ci_low``, ``ci_high`` and ``p_value_vs_target``
        are NaN on rows with a suppressed count or a denominator below the
        threshold, where ``status`` becomes ``non_diffuse``; ``suppressed`` is
        True on rows with a suppressed count.

    Notes
    -----
    Relations protected: those of :func:`indicator_relations` and, within each
    row, numerator + (denominator − numerator) = denominator. See
    :func:`apply_disclosure_control` for the suppression rules.
    """
    if linked:
        return _protect_linked_indicators(indicators, linked, threshold=threshold, bounds=bounds)
    df = indicators.reset_index(drop=True)
    rels = indicator_relations(df)
    out = apply_disclosure_control(
        df,
        count_columns=["numerator", "denominator"],
        share_columns=list(_INDICATOR_SHARE_COLUMNS),
        denominator_column="denominator",
        threshold=threshold,
        groups=rels,
        bounds=bounds,
    )
    den = df["denominator"].to_numpy(dtype=float)
    hidden_share = out["suppressed"].to_numpy(dtype=bool) | small_counts(den, threshold=threshold)
    status = out["status"].astype("string")
    status[hidden_share] = "non_diffuse"
    out["status"] = status
    out["suppressed"] = out["suppressed"].to_numpy(dtype=bool) | hidden_share
    out.index = indicators.index
    return out


MASKED_STATUS_MET = "atteint"
MASKED_STATUS_NOT_MET = "non_atteint"
"""Statuses released on a row whose share is masked (no significance: no p-value is published)."""


def _ceil(x: float) -> int:
    """Smallest integer ≥ ``x``, robust to floating error (0.25 × 20 is 5, not 5.000…1)."""
    return int(math.ceil(round(x, 9)))


def release_masked_statuses(
    raw: pd.DataFrame,
    published: pd.DataFrame,
    *,
    threshold: int = 11,
    eligible: Sequence[bool] | np.ndarray | None = None,
    bands: Sequence[tuple[float, str]] = (),
    banded: Sequence[bool] | np.ndarray | None = None,
) -> pd.Series:
    """Whether the objective is met, on rows whose share the secret masks.

    When a row's numerator is masked but its denominator is published, saying
    whether the share reaches the target tells the reader only that the
    numerator lies below (or at or above) ``target × denominator`` — never the
    count. Such intervals combine, though: with the relations between the rows
    (communes add up to the territory, 12 months = semester + previous
    semester, a numerator and its complement make the denominator) and the
    other rows' intervals, they can pin a masked count to one value. Statuses
    are therefore released only after an audit: the reader's integer program
    (every published count, every relation of :func:`indicator_relations`,
    masked counts ≥ 1 since zeros are always published, implicit cells ≥ 0,
    and the released intervals) must leave every secret cell (true value in
    ``[1, threshold − 1]``) at least two possible values. When it does not,
    the information of the rows tied to the pinned cell is coarsened one step
    at a time — a band of shortfall becomes a plain « not met », a status is
    withheld — and the audit is run again.

    Parameters
    ----------
    raw : DataFrame
        The indicators before disclosure control (true counts), columns of
        :data:`allocation_analysis.indicators.INDICATOR_COLUMNS`.
    published : DataFrame
        The same rows after :func:`protect_indicators` (same order).
    threshold : int
        Secret threshold (default 11).
    eligible : array of bool, optional
        Rows whose status may be released (default all), e.g. the analysed
        semester's rows of a publication that also holds past semesters.
    bands : sequence of (float, str), optional
        How far below the target, for the rows of ``banded``: (bound, code)
        pairs, largest bound first; a share whose shortfall (target − share)
        exceeds ``bound`` (and not the bound before) gets ``code`` instead of
        ``"non_atteint"`` (e.g.
        :data:`allocation_analysis.indicators.SHORTFALL_BANDS`).
    banded : array of bool, optional
        Rows that may carry a band (default none).

    Returns
    -------
    Series
        Index of ``published``: ``"atteint"``, ``"non_atteint"`` or a code of
        ``bands`` on the rows released, ``<NA>`` elsewhere.

    Notes
    -----
    The audit is exact for integer counts: each connected component of the
    unknown cells is solved with HiGHS' mixed-integer solver (maximum and
    minimum of the secret cells, together, then one by one for those not yet
    seen at another value, then an exact feasibility check of each cell left).
    It guarantees that no count is recovered exactly, not a minimum width of
    its interval.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, §4.3
       (feasibility intervals of suppressed cells, audit). Wiley.
    """
    df = raw.reset_index(drop=True)
    pub = published.reset_index(drop=True)
    if len(df) != len(pub):
        raise ValueError("release_masked_statuses: raw and published differ in length")
    out = pd.Series(pd.NA, index=published.index, dtype="string")
    if df.empty:
        return out

    def flags(values: Sequence[bool] | np.ndarray | None, default: bool) -> np.ndarray:
        if values is None:
            return np.full(len(df), default, dtype=bool)
        return np.asarray(values, dtype=bool)

    eligible_arr = flags(eligible, True)
    banded_arr = flags(banded, False)
    bands = sorted(((float(b), str(c)) for b, c in bands), reverse=True)
    cols = ["numerator", "denominator"]
    num_masked = pub["numerator"].isna().to_numpy()
    den_pub = pd.to_numeric(pub["denominator"], errors="coerce").to_numpy(dtype=float)
    target = pd.to_numeric(df["target"], errors="coerce").to_numpy(dtype=float)
    num = df["numerator"].to_numpy(dtype=float)
    candidates = [
        i
        for i in range(len(df))
        if eligible_arr[i]
        and num_masked[i]
        and np.isfinite(den_pub[i])
        and den_pub[i] >= threshold
        and np.isfinite(target[i])
    ]
    if not candidates:
        return out
    # What each row may say, finest first: [(code, lowest count, highest count)].
    levels: dict[int, list[tuple[str, float, float]]] = {}
    for i in candidates:
        den, t = den_pub[i], target[i]
        cut = _ceil(t * den)
        if num[i] >= cut:
            levels[i] = [(MASKED_STATUS_MET, cut, np.inf)]
            continue
        levels[i] = [(MASKED_STATUS_NOT_MET, 0.0, cut - 1.0)]
        if banded_arr[i] and bands:
            upper = None  # the band's share is at least target − upper
            for bound, code in bands:
                if num[i] < _ceil((t - bound) * den):  # shortfall > bound
                    lo = 0.0 if upper is None else float(_ceil((t - upper) * den))
                    levels[i].insert(0, (code, lo, _ceil((t - bound) * den) - 1.0))
                    break
                upper = bound
    level = {i: 0 for i in candidates}  # index into levels[i]; len(levels[i]) = withheld

    rels = _normalise_groups(indicator_relations(df), cols)
    cells, ids = _build_cells(df, cols, "denominator", rels)
    values = np.asarray(cells.values)
    n = len(values)
    masked = np.zeros(n, dtype=bool)
    for i in range(len(df)):
        for c in cols:
            masked[ids[(i, c)]] = bool(pd.isna(pub.at[i, c]))
    is_count = np.asarray(cells.published, dtype=bool)
    remainder = np.asarray(cells.remainder, dtype=bool)
    unknown = (~is_count & ~(remainder & (values == 0))) | masked
    sensitive = unknown & small_counts(values, threshold=threshold)
    lower = np.where(is_count & masked, 1.0, 0.0)

    eqs_of = _equations_of(cells)
    comp_of, members = _unknown_components(cells, unknown)
    status_cell = {i: ids[(i, "numerator")] for i in candidates}
    by_component: dict[int, list[int]] = {}
    for i in candidates:
        by_component.setdefault(comp_of[status_cell[i]], []).append(i)

    for root, rows in by_component.items():
        comp = members[root]
        check: list[int] | None = None  # every secret cell at first
        while True:
            live = [i for i in rows if level[i] < len(levels[i])]
            if not live:
                break
            bounds = {status_cell[i]: levels[i][level[i]][1:] for i in live}
            pinned = _pinned_cells(cells, comp, eqs_of, lower, bounds, sensitive, check)
            if not pinned:
                break
            # Saying less only widens the reader's feasible set: the cells seen at
            # two values stay so, and only the pinned ones need a new look.
            check = pinned
            # Coarsen one row one step, among the rows tied to the pinned cell (else
            # any): a band before a plain status, the pinned cell's own row first,
            # then the largest denominator.
            j = pinned[0]
            near = {k for e in eqs_of[j] for k, _ in cells.equations[e]} | {j}
            tied = [i for i in live if status_cell[i] in near] or live
            step = min(
                tied,
                key=lambda i: (
                    level[i] + 1 == len(levels[i]),  # at its last level: a plain status
                    status_cell[i] != j,
                    -den_pub[i],
                    i,
                ),
            )
            level[step] += 1
    released = [i for i in candidates if level[i] < len(levels[i])]
    _SUPPRESSION_LOG.info(
        "Secret statistique : objectif atteint ou non indiqué pour %d ligne(s) à part masquée "
        "(%d retenue(s) : leur statut aurait permis de retrouver un effectif).",
        len(released),
        len(candidates) - len(released),
    )
    for i in released:
        out.iloc[i] = levels[i][level[i]][0]
    return out


def _ceiling(values: np.ndarray) -> float:
    """A bound above every count (twice the largest cell, plus 10)."""
    return 2.0 * float(np.max(np.abs(values), initial=0.0)) + 10.0


def _equations_of(cells: _Cells) -> list[list[int]]:
    """For each cell, the indices of the equations it appears in."""
    eqs_of: list[list[int]] = [[] for _ in cells.values]
    for e, eq in enumerate(cells.equations):
        for j, _ in eq:
            eqs_of[j].append(e)
    return eqs_of


def _unknown_components(
    cells: _Cells, unknown: np.ndarray
) -> tuple[dict[int, int], dict[int, list[int]]]:
    """Connected components of the unknown cells through the equations.

    Returns the component of each unknown cell and the members of each component.
    """
    parent = {int(j): int(j) for j in np.flatnonzero(unknown)}

    def find(x: int) -> int:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for eq in cells.equations:
        us = [j for j, _ in eq if unknown[j]]
        for a in us[1:]:
            ra, rb = find(us[0]), find(a)
            if ra != rb:
                parent[ra] = rb
    comp_of = {j: find(j) for j in parent}
    members: dict[int, list[int]] = {}
    for j, r in comp_of.items():
        members.setdefault(r, []).append(j)
    return comp_of, members


def _first_pinned_by_propagation(
    cells: _Cells, unknown: np.ndarray, sensitive: np.ndarray, *, rounds: int = 50
) -> int | None:
    """A secret cell that bounds propagated through the equations fix to one value.

    Every unknown cell starts in ``[1, ∞)`` when it is a masked count (zeros are
    published), ``[0, ∞)`` otherwise; each equation ``Σ c·x = 0`` then bounds
    each of its unknown cells by the others' bounds, until nothing changes (or
    ``rounds`` passes). Sound: a cell found fixed is fixed; not complete (the
    integer program of :func:`release_masked_statuses` is).
    """
    values = np.asarray(cells.values, dtype=float)
    is_count = np.asarray(cells.published, dtype=bool)
    lo = np.where(unknown, np.where(is_count, 1.0, 0.0), values)
    hi = np.where(unknown, np.inf, values)
    eqs = [eq for eq in cells.equations if sum(1 for j, _ in eq if unknown[j]) > 1]
    if not eqs:
        return None
    E = np.concatenate([np.full(len(eq), e) for e, eq in enumerate(eqs)])
    J = np.array([j for eq in eqs for j, _ in eq])
    C = np.array([c for eq in eqs for _, c in eq], dtype=float)
    n_eq = len(eqs)
    free = unknown[J]
    with np.errstate(invalid="ignore"):
        for _ in range(rounds):
            # range of -c·x of each entry; per equation, the finite sums and the
            # number of infinite ends, so that "all the others" is a subtraction
            t_min = np.where(C > 0, -C * hi[J], -C * lo[J])
            t_max = np.where(C > 0, -C * lo[J], -C * hi[J])
            min_inf, max_inf = np.isinf(t_min), np.isinf(t_max)
            s_min = np.bincount(E, np.where(min_inf, 0.0, t_min), n_eq)
            s_max = np.bincount(E, np.where(max_inf, 0.0, t_max), n_eq)
            n_min = np.bincount(E, min_inf, n_eq)
            n_max = np.bincount(E, max_inf, n_eq)
            rest_min = np.where(
                n_min[E] - min_inf > 0, -np.inf, s_min[E] - np.where(min_inf, 0.0, t_min)
            )
            rest_max = np.where(
                n_max[E] - max_inf > 0, np.inf, s_max[E] - np.where(max_inf, 0.0, t_max)
            )
            new_lo = np.where(C > 0, rest_min / C, rest_max / C)
            new_hi = np.where(C > 0, rest_max / C, rest_min / C)
            cand_lo = np.where(free & np.isfinite(new_lo), np.ceil(new_lo - 1e-9), -np.inf)
            cand_hi = np.where(free & np.isfinite(new_hi), np.floor(new_hi + 1e-9), np.inf)
            lo2, hi2 = lo.copy(), hi.copy()
            np.maximum.at(lo2, J, cand_lo)
            np.minimum.at(hi2, J, cand_hi)
            if np.array_equal(lo2, lo) and np.array_equal(hi2, hi):
                break
            lo, hi = lo2, hi2
    fixed = np.flatnonzero(unknown & sensitive & (hi - lo < 0.5))
    return int(fixed[0]) if fixed.size else None


def _pinned_cells(
    cells: _Cells,
    comp: list[int],
    eqs_of: list[list[int]],
    lower: np.ndarray,
    status_bounds: Mapping[int, tuple[float, float]],
    sensitive: np.ndarray,
    check: Sequence[int] | None = None,
) -> list[int]:
    """Secret cells of one component that the reader's integer program fixes to one value.

    Only the cells of ``check`` are examined when it is given (default: every
    secret cell of the component).
    """
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    from allocation_analysis.threads import single_thread

    values = np.asarray(cells.values)
    col = {j: k for k, j in enumerate(comp)}
    eqs = [cells.equations[e] for e in sorted({e for j in comp for e in eqs_of[j]})]
    A = np.zeros((len(eqs), len(comp)))
    b = np.zeros(len(eqs))
    for r, eq in enumerate(eqs):
        for j, coef in eq:
            if j in col:
                A[r, col[j]] += coef
            else:
                b[r] -= coef * values[j]
    lb = np.array([lower[j] for j in comp], dtype=float)
    truth = np.array([values[j] for j in comp])
    # A finite ceiling above every count (twice the largest cell): a cell free to
    # grow would make the program unbounded; the ceiling only narrows the reader's
    # set, so the audit errs on the safe side.
    ub = np.full(len(comp), _ceiling(values))
    for j, (lo, hi) in status_bounds.items():
        k = col[j]
        lb[k] = max(lb[k], lo)
        ub[k] = min(ub[k], hi)
    constraints = LinearConstraint(A, b, b) if len(eqs) else ()
    integrality = np.ones(len(comp))

    def solve(c: np.ndarray, low: np.ndarray, high: np.ndarray) -> np.ndarray | None:
        """An integer point of the reader's set (optimal for ``c``, or any), or None.

        The linear relaxation first (dual simplex): on these sums of cells its
        optimal vertex is usually integer, and then it is the answer; else the
        integer program.
        """
        with single_thread():
            lp = linprog(
                c,
                A_eq=A if len(eqs) else None,
                b_eq=b if len(eqs) else None,
                bounds=np.column_stack([low, high]),
                method="highs-ds",
            )
            if lp.status == 2:  # infeasible: so is the integer program
                return None
            if lp.x is not None and np.all(np.abs(lp.x - np.round(lp.x)) < 1e-7):
                return np.round(lp.x)
            res = milp(
                c, constraints=constraints, integrality=integrality, bounds=Bounds(low, high)
            )
        return None if res.x is None else np.asarray(res.x)

    open_ = [col[j] for j in (comp if check is None else check) if sensitive[j]]
    # Together first: maximise / minimise the sum of the open cells, then sums of
    # random signs (a fixed seed: the audit is deterministic); every integer
    # point found shows cells that can take another value (an early stop of the
    # solver only leaves more cells to the exact check below).
    rng = np.random.default_rng(0)
    idle = 0  # rounds in a row that moved no open cell: then one by one
    for rnd in range(4):
        if not open_ or idle == 2:
            break
        c = np.zeros(len(comp))
        c[open_] = (-1.0, 1.0)[rnd] if rnd < 2 else rng.choice([-1.0, 1.0], size=len(open_))
        x = solve(c, lb, ub)
        if x is None:  # pragma: no cover - the true counts are always feasible
            raise RuntimeError("disclosure audit: the true counts are not a feasible point")
        still = [k for k in open_ if abs(x[k] - truth[k]) < 0.5]
        idle = idle + 1 if len(still) == len(open_) else 0
        open_ = still
    # Then each cell left, exactly: is there an integer point with the cell below
    # its value, or above it? (feasibility problems: no optimality gap involved)
    pinned = []
    while open_:
        k = open_[0]
        x = None
        for low_k, high_k in ((lb[k], truth[k] - 1.0), (truth[k] + 1.0, ub[k])):
            if low_k > high_k:
                continue
            low, high = lb.copy(), ub.copy()
            low[k], high[k] = low_k, high_k
            c = np.zeros(len(comp))  # and move the other open cells while at it
            c[open_[1:]] = rng.choice([-1.0, 1.0], size=len(open_) - 1)
            x = solve(c, low, high)
            if x is not None:
                break
        if x is None:
            pinned.append(comp[k])
            open_ = open_[1:]
        else:
            open_ = [q for q in open_[1:] if abs(x[q] - truth[q]) < 0.5]
    return pinned


def _protect_linked_indicators(
    indicators: pd.DataFrame, linked: Sequence[pd.DataFrame], *, threshold: int, bounds: bool
) -> pd.DataFrame:
    """:func:`protect_indicators` on the union of ``indicators`` and ``linked``."""
    frames = [indicators.reset_index(drop=True)] + [f.reset_index(drop=True) for f in linked]
    union = pd.concat(frames, ignore_index=True)
    keys = _indicator_keys(union)
    counts = union[["numerator", "denominator"]].to_numpy(dtype=float, na_value=np.nan)
    first: dict[tuple[str, ...], int] = {}
    for i, k in enumerate(keys):
        j = first.setdefault(k, i)
        if j != i and not np.array_equal(counts[i], counts[j], equal_nan=True):
            raise ValueError(f"protect_indicators: the linked frames disagree on the counts of {k}")
    order = sorted(first, key=lambda k: k)
    canonical = union.iloc[[first[k] for k in order]].reset_index(drop=True)
    protected = protect_indicators(canonical, threshold=threshold, bounds=bounds)
    pos = {k: i for i, k in enumerate(order)}
    rows = [pos[k] for k in _indicator_keys(frames[0])]
    out = protected.iloc[rows].reset_index(drop=True)
    out.index = indicators.index
    out.attrs["disclosure"] = protected.attrs.get("disclosure", {})
    return out


def check_no_small_counts(
    frame: pd.DataFrame, *, threshold: int = 11, columns: Sequence[str] | None = None
) -> None:
    """Last guard before writing: no published count in ``[1, threshold - 1]``.

    Parameters
    ----------
    frame : DataFrame
        The table about to be written.
    threshold : int
        Secret threshold (default 11).
    columns : sequence of str, optional
        Count columns to check; by default every numeric, non-boolean column of
        ``frame`` (pass only counts: a share of 1.0 would be taken for a count).

    Raises
    ------
    AnalysisError
        Naming the columns and the number of offending cells.
    """
    from allocation_analysis.errors import AnalysisError

    if columns is None:
        columns = [
            c
            for c in frame.columns
            if pd.api.types.is_numeric_dtype(frame[c]) and not pd.api.types.is_bool_dtype(frame[c])
        ]
    bad: dict[str, int] = {}
    for c in columns:
        n = int(small_counts(frame[c], threshold=threshold).sum())
        if n:
            bad[str(c)] = n
    if bad:
        detail = ", ".join(f"{c} ({n})" for c, n in bad.items())
        raise AnalysisError(
            f"Secret statistique : des effectifs entre 1 et {threshold - 1} seraient publiés "
            f"dans les colonnes {detail}. Publication interrompue."
        )


def recoverable_cells(
    values: Sequence[float],
    published: Sequence[bool],
    equations: Sequence[Sequence[tuple[int, float]]],
    *,
    threshold: int = 11,
) -> list[int]:
    """Cells in ``[1, threshold - 1]`` that a reader can recover from published ones.

    The attacker's side of :func:`apply_disclosure_control`, for any set of
    cells tied by linear relations (several tables, ``results.json`` and the
    report's sentences seen as one publication).

    Parameters
    ----------
    values : sequence of float
        True value of every cell (published or not).
    published : sequence of bool
        Whether the reader sees the cell.
    equations : sequence of sequences of (int, float)
        Linear relations known to the reader, each as ``(cell, coefficient)``
        pairs meaning ``sum(coefficient * value) = 0`` (e.g. ``total - part_1 -
        part_2 = 0``; a constant is a published cell).
    threshold : int
        Secret threshold (default 11).

    Returns
    -------
    list of int
        Indices of the unpublished cells with a value in ``[1, threshold - 1]``
        that the published cells fix, by differencing (an equation with a single
        unknown, applied in chain) or by any linear combination of the
        relations (null space of the unknown cells' equation matrix).

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, §4.3
       (secondary suppression, feasibility intervals). Wiley.
    """
    cells = _Cells()
    for v, p in zip(values, published, strict=True):
        cells.add(float(v), published=bool(p), where=None)
    for eq in equations:
        cells.equations.append([(int(j), float(c)) for j, c in eq])
    vals = np.asarray(cells.values, dtype=float)
    unknown = ~np.asarray(cells.published, dtype=bool)
    sensitive = unknown & small_counts(vals, threshold=threshold)
    eqs_of = _equations_of(cells)
    found: list[int] = []
    while True:
        hit = _first_disclosure_by_differencing(cells, unknown, sensitive, eqs_of)
        if hit is None:
            hit = _first_disclosure_linear(cells, unknown, sensitive, eqs_of)
            if hit is None:
                return sorted(found)
        j = hit[0]
        found.append(j)
        # The reader now knows it: use it for further recoveries.
        unknown[j] = False
        sensitive[j] = False


# --------------------------------------------------------------------------- tests entries

WITHHELD_NOTE_FR = "effectif trop faible pour être diffusé"
"""Reason given when a test's estimate, interval and p-value are withheld."""

N_WITHHELD_NOTE_FR = (
    "effectif total non diffusé : avec les autres chiffres publiés, il permettrait de "
    "retrouver un effectif masqué (secret statistique)"
)
"""Reason given when only a test's ``n`` is withheld."""

CROSSED_AXIS_MARK = "_x_"
"""Mark of a crossed grouping variable (``nationalite_x_residence``)."""

_RAW_ESTIMATES = frozenset({"rate_difference", "rate_ratio", "rate"})
"""Estimates computed from the two groups' counts alone (``x1/n1 - x2/n2``…): with
the groups' sizes published elsewhere they give the event counts back."""

_TEST_VALUE_COLUMNS = (
    "estimate",
    "ci_low",
    "ci_high",
    "statistic",
    "p_value",
    "p_adjusted",
    "ci_low_adjusted",
    "ci_high_adjusted",
)

_SMALL_INT = r"(?<![\w.,])(\d+)(?![\w]|[.,]\d)"


def group_counts_of(details: Any, groups: Sequence[str] = ()) -> dict[str, dict[str, int]]:
    """Per-group counts behind a test result, from its ``details``.

    Read from ``n_by_group`` and ``events_by_group`` (models, log-rank,
    decompositions), from the per-unit counts ``units`` of a segregation index
    (columns ``reference`` and ``compared``) or from the 2 × 2 ``table`` of a
    rate comparison (rows: compared then reference; columns: events,
    non-events). ``groups`` is ``(reference, compared)``.

    Returns
    -------
    dict
        ``{level: {"n": ..., "events": ...}}`` with the counts that are known.
    """
    out: dict[str, dict[str, int]] = {}
    if not hasattr(details, "get"):
        return out
    for key, name in (("n_by_group", "n"), ("events_by_group", "events")):
        by = details.get(key)
        if hasattr(by, "items"):
            for level, v in by.items():
                try:
                    out.setdefault(str(level), {})[name] = int(v)
                except (TypeError, ValueError):
                    continue
    units = details.get("units")
    if isinstance(units, pd.DataFrame) and len(groups) == 2:
        for level, col in ((str(groups[0]), "reference"), (str(groups[1]), "compared")):
            if col in units:
                total = pd.to_numeric(units[col], errors="coerce").sum()
                out.setdefault(level, {}).setdefault("n", int(round(float(total))))
    table = details.get("table")
    if table is not None and len(groups) == 2:
        t = np.asarray(table, dtype=float)
        if t.shape == (2, 2) and np.isfinite(t).all():
            ref, cmp = str(groups[0]), str(groups[1])
            for level, row in ((cmp, t[0]), (ref, t[1])):
                d = out.setdefault(level, {})
                d.setdefault("events", int(row[0]))
                d.setdefault("n", int(row[0] + row[1]))
    return out


def protect_test_results(
    frame: pd.DataFrame,
    counts: Sequence[Mapping[str, Mapping[str, int]]],
    *,
    threshold: int = 11,
) -> pd.DataFrame:
    """Disclosure control of the tests entries (``results.json`` → ``tests``).

    Parameters
    ----------
    frame : DataFrame
        One row per test with ``outcome``, ``group_var``, ``group``,
        ``reference``, ``estimate_name``, ``n``, ``warnings`` and the value
        columns (estimate, intervals, statistic, p-values).
    counts : sequence of mappings
        Per row, the counts behind it (:func:`group_counts_of`).
    threshold : int
        Secret threshold (default 11).

    Returns
    -------
    DataFrame
        A copy where ``n`` is ``<NA>`` when not publishable, the value columns
        are NaN for withheld comparisons, ``suppressed`` is True where they are,
        ``note`` gives the French reason (``None`` otherwise), and the integers
        of ``warnings`` in ``[1, threshold - 1]`` read ``< threshold`` (a
        withheld result has no warnings: they may quote its estimate).

    Notes
    -----
    A test's ``n`` is the sum of the two groups' sizes, and the population
    table publishes those sizes; a raw estimate (rate difference) times the
    sizes gives the event counts back. The rules, chosen over rounding
    because a rounded ``n`` would still bound a small group to a few values
    around the difference:

    1. A group *level* of an axis (``nationalite``, ``residence_qpv``) is
       *small for an outcome* when a count behind a test of that outcome on it
       (its size, or its number of events: accesses, allocations, leases in a
       QPV) is in ``[1, threshold - 1]``. Counts of sibling rows (same
       outcome, comparison and ``n``) fill the counts a result does not carry.
    2. A comparison with a group whose *size* is small for the outcome (or an
       ``n`` in ``[1, threshold - 1]``): estimate, intervals, statistic and
       p-values are withheld, ``n`` is ``<NA>``, note :data:`WITHHELD_NOTE_FR`
       (the p-values still enter the family's multiple-testing adjustment,
       done before).
    3. Any other comparison of an axis holding a small level (in any
       outcome): ``n`` is ``<NA>`` (``n`` minus the reference size gives the
       compared size; the population table hides a second level by secondary
       suppression, which ``n`` would give back, then the axis total the
       small one), note :data:`N_WITHHELD_NOTE_FR`. A raw estimate
       (:data:`_RAW_ESTIMATES`) of an outcome with a small level is withheld
       as in 2: with the published sizes and reference counts it gives the
       compared group's events back (``x = n_c (d + x_r / n_r)``).
    4. A *crossed* axis (``group_var`` holding :data:`CROSSED_AXIS_MARK`, such
       as ``nationalite_x_residence``): ``n`` is never published, and raw
       estimates are withheld. The margins of the crossing are published by
       the other axes, and the crossed tests' sizes (compared cell plus the
       common reference cell) give every compared cell back, then the cells
       nobody compares (UE households in a QPV) by difference with a margin.

    Model-based estimates (adjusted odds or hazard ratios, decompositions) of
    publishable groups are kept: they are not functions of the counts alone.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*,
       ch. 4-5 (disclosure by differencing of linked tables; output checking
       of model results). Wiley.
    .. [2] Eurostat (2019). *Guidelines for the checking of output based on
       microdata research* (DwB / SDC guidelines): counts behind
       estimates, degrees of freedom and sizes.
    """
    import re

    threshold = int(threshold)
    out = frame.copy().reset_index(drop=True)
    if out.empty:
        out["note"] = pd.Series(dtype=object)
        return out
    if len(counts) != len(out):
        raise ValueError("protect_test_results: one counts mapping per row")
    own = [{str(k): dict(v) for k, v in c.items()} for c in counts]
    # Sibling rows (same outcome, grouping, comparison and n) rest on the same data.
    sib: dict[tuple, dict[str, dict[str, int]]] = {}
    for i, rec in enumerate(out.itertuples(index=False)):
        key = (rec.outcome, rec.group_var, rec.group, rec.n)
        merged = sib.setdefault(key, {})
        for level, d in own[i].items():
            for k, v in d.items():
                merged.setdefault(level, {}).setdefault(k, v)

    def is_small(v: int | None) -> bool:
        return v is not None and 1 <= v <= threshold - 1

    # (axis, outcome) -> levels with a small size; levels with a small size or
    # number of events; axis -> levels small in some outcome.
    small_size: dict[tuple[str, str], set[str]] = {}
    small_any: dict[tuple[str, str], set[str]] = {}
    axis_small: dict[str, set[str]] = {}
    for rec in out.itertuples(index=False):
        merged = sib[(rec.outcome, rec.group_var, rec.group, rec.n)]
        where = (str(rec.group_var), str(rec.outcome))
        for level, d in merged.items():
            if is_small(d.get("n")):
                small_size.setdefault(where, set()).add(level)
            if is_small(d.get("n")) or is_small(d.get("events")):
                small_any.setdefault(where, set()).add(level)
                axis_small.setdefault(str(rec.group_var), set()).add(level)
    n_col = pd.array(pd.to_numeric(out["n"], errors="coerce"), dtype="Float64").round()
    n_col = pd.array(n_col, dtype="Int64")
    withheld = np.zeros(len(out), dtype=bool)
    n_hidden = np.zeros(len(out), dtype=bool)
    notes: list[str | None] = [None] * len(out)
    for i, rec in enumerate(out.itertuples(index=False)):
        where = (str(rec.group_var), str(rec.outcome))
        levels = {str(rec.group), str(rec.reference)}
        n_i = None if n_col[i] is pd.NA else int(n_col[i])
        raw = rec.estimate_name in _RAW_ESTIMATES
        if levels & small_size.get(where, set()) or is_small(n_i):
            withheld[i] = n_hidden[i] = True
        elif CROSSED_AXIS_MARK in str(rec.group_var):
            n_hidden[i] = True
            withheld[i] = raw
        elif axis_small.get(str(rec.group_var)):
            n_hidden[i] = True
            withheld[i] = raw and bool(small_any.get(where))
        else:
            continue
        notes[i] = WITHHELD_NOTE_FR if withheld[i] else N_WITHHELD_NOTE_FR
    cols = [c for c in _TEST_VALUE_COLUMNS if c in out.columns]
    out.loc[withheld, cols] = np.nan
    n_col[n_hidden] = pd.NA
    out["n"] = n_col
    previous = out["suppressed"].astype(bool).to_numpy() if "suppressed" in out else False
    out["suppressed"] = withheld | previous
    out["note"] = notes

    def mask_text(text: str) -> str:
        def one(m: re.Match[str]) -> str:
            v = int(m.group(1))
            return f"< {threshold}" if 1 <= v <= threshold - 1 else m.group(0)

        return re.sub(_SMALL_INT, one, str(text))

    if "warnings" in out:
        # A withheld result loses its warnings too: they may quote its estimate.
        out["warnings"] = [
            []
            if withheld[i]
            else [mask_text(w) for w in ws]
            if isinstance(ws, list | tuple)
            else ws
            for i, ws in enumerate(out["warnings"])
        ]
    return out


def protect_row_sums(
    table: pd.DataFrame,
    *,
    total: str,
    parts: Sequence[str],
    threshold: int = 11,
    force: Mapping[int, str] | None = None,
) -> pd.DataFrame:
    """Mask the cells of rows tied by ``total = sum(parts)`` so none is recoverable.

    Parameters
    ----------
    table : DataFrame
        Counts (e.g. the input check: ``lues = acceptees + rejetees``).
    total, parts : str, sequence of str
        Column of the row total and columns of its parts.
    threshold : int
        Counts from 1 to ``threshold - 1`` are masked (default 11).
    force : mapping, optional
        ``{row position: column}`` cells to mask whatever their value (secret
        required by another table, e.g. a file's rejected rows when one of its
        reject reasons could otherwise be recovered).

    Returns
    -------
    DataFrame
        A copy with masked cells as ``<NA>`` (``Float64`` columns).

    Notes
    -----
    A row is one linear relation: with a single masked cell it is the total
    minus (or the sum of) the others. Whenever exactly one cell of a row is
    masked (primary or forced), the smallest other positive cell is masked as
    well (secondary suppression; a 0 protects nothing). Two unknowns in one
    equation are then not determined.

    References
    ----------
    .. [1] Hundepool, A. et al. (2012). *Statistical Disclosure Control*, §4.3.
       Wiley.
    """
    cols = [total, *parts]
    out = table.copy()
    vals = np.column_stack([pd.to_numeric(out[c], errors="coerce").to_numpy(float) for c in cols])
    hide = small_counts(vals, threshold=threshold)
    for i, c in (force or {}).items():
        hide[int(i), cols.index(c)] = True
    for i in range(len(out)):
        secondary_suppression(vals[i], hide[i])
    for k, c in enumerate(cols):
        out[c] = pd.array(vals[:, k], dtype="Float64")
        out.loc[hide[:, k], c] = pd.NA
    return out
