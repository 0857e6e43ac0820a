"""Privacy: pseudonymisation of identifiers and disclosure control of published tables.

SNE extracts are personal data. The numéro unique of a demand is replaced on
load by a keyed hash (HMAC-SHA256) so that records can be linked inside one
run without the identifier ever being kept; the key is generated with a secure
random generator on first use, stored with 0600 permissions outside
``outputs/`` and never logged.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

import pandas as pd

__all__ = [
    "KEY_ENV_VAR",
    "default_key_path",
    "load_or_create_key",
    "pseudonymise",
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


def load_or_create_key(path: str | Path | None = None) -> bytes:
    """Return the pseudonymisation key, creating it on first use.

    Order: the ``ALLOCATION_ANALYSIS_KEY`` environment variable (hex), else the
    key file (``path`` or :func:`default_key_path`), created with 32 random bytes
    from :mod:`secrets` and mode 0600 when missing.

    Parameters
    ----------
    path : str or Path, optional
        Key file to use instead of the default location.

    Returns
    -------
    bytes
        The key (never logged, never written to outputs).
    """
    env = os.environ.get(KEY_ENV_VAR)
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            key = env.strip().encode("utf-8")
        if len(key) < 16:
            from allocation_analysis.errors import UsageError

            raise UsageError(
                f"La clé de pseudonymisation ({KEY_ENV_VAR}) est trop courte : 16 octets au moins."
            )
        return key
    p = Path(path) if path is not None else default_key_path()
    if p.exists():
        text = p.read_text(encoding="ascii").strip()
        return bytes.fromhex(text)
    p.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    # Create the file with 0600 from the start (no window with wider permissions).
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(key.hex())
    return key


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
        Pseudonyms, same index; missing identifiers stay missing.
    """

    def one(v: object) -> object:
        if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
            return pd.NA
        digest = hmac.new(key, str(v).strip().encode("utf-8"), hashlib.sha256).hexdigest()
        return digest[:_PSEUDONYM_HEX_CHARS]

    return values.map(one).astype("string")
