"""Pseudonymisation key: secure RNG, 0600 file outside the outputs, never logged,
and every pseudonym depends on it."""

from __future__ import annotations

import logging
import stat

import pandas as pd
import pytest

from allocation_analysis import privacy
from allocation_analysis.errors import UsageError
from allocation_analysis.privacy import default_key_path, load_or_create_key, pseudonymise


@pytest.fixture
def no_env_key(monkeypatch, tmp_path):
    monkeypatch.delenv("ALLOCATION_ANALYSIS_KEY", raising=False)
    monkeypatch.delenv("ALLOCATION_ANALYSIS_KEY_FILE", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return tmp_path


def test_key_is_drawn_from_the_secrets_module_on_first_use(no_env_key, monkeypatch):
    calls = []
    marker = bytes(range(32))

    def fake_token_bytes(n):
        calls.append(n)
        return marker

    monkeypatch.setattr(privacy.secrets, "token_bytes", fake_token_bytes)
    key = load_or_create_key()
    assert key == marker
    assert calls == [32]  # 256 bits from the CSPRNG
    assert default_key_path().read_text("ascii").strip() == marker.hex()
    # Second use reads the file, draws nothing.
    assert load_or_create_key() == marker
    assert calls == [32]


def test_key_file_is_private_and_outside_outputs(no_env_key):
    load_or_create_key()
    path = default_key_path()
    assert path.is_relative_to(no_env_key / "config")
    assert "outputs" not in path.parts
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) & 0o077 == 0


def test_key_file_is_created_0600_even_with_a_permissive_umask(no_env_key):
    import os

    old = os.umask(0)
    try:
        load_or_create_key(no_env_key / "k" / "pseudonym.key")
    finally:
        os.umask(old)
    assert stat.S_IMODE((no_env_key / "k" / "pseudonym.key").stat().st_mode) == 0o600


def test_two_fresh_keys_differ(no_env_key):
    a = load_or_create_key(no_env_key / "a.key")
    b = load_or_create_key(no_env_key / "b.key")
    assert len(a) == 32 and a != b


def test_environment_key_wins_and_writes_no_file(no_env_key, monkeypatch):
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", "ab" * 32)
    assert load_or_create_key() == bytes.fromhex("ab" * 32)
    assert not default_key_path().exists()


def test_short_environment_key_is_refused(no_env_key, monkeypatch):
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", "abcd")
    with pytest.raises(UsageError, match="trop courte"):
        load_or_create_key()


def test_changing_the_key_changes_every_pseudonym():
    ids = pd.Series([f"0590{i:011d}" for i in range(2000)])
    a = pseudonymise(ids, b"\x01" * 32)
    b = pseudonymise(ids, b"\x02" * 32)
    assert a.nunique() == len(ids)
    assert (a != b).all()
    # Same key, same pseudonyms (links demandes and attributions).
    assert (pseudonymise(ids, b"\x01" * 32) == a).all()


def test_pseudonym_is_the_keyed_hmac_sha256(monkeypatch):
    # Independent computation: RFC 2104 HMAC written out with hashlib.
    import hashlib

    key = b"k" * 32
    msg = b"059000000000123"
    ipad = bytes(x ^ 0x36 for x in key.ljust(64, b"\0"))
    opad = bytes(x ^ 0x5C for x in key.ljust(64, b"\0"))
    inner = hashlib.sha256(ipad + msg).digest()
    expected = hashlib.sha256(opad + inner).hexdigest()[:16]
    assert pseudonymise(pd.Series([" 059000000000123 "]), key).iloc[0] == expected


@pytest.mark.parametrize("source", ["file", "environment"])
def test_key_never_appears_in_logs(no_env_key, caplog, tmp_path, monkeypatch, source):
    from allocation_analysis import synth
    from allocation_analysis.io import load_table

    if source == "environment":
        monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", "c4" * 32)
    caplog.set_level(logging.DEBUG)
    key = load_or_create_key()
    ds = synth.generate(scale="tiny", seed=3)
    synth.write_dataset(ds, tmp_path / "d")
    load_table(tmp_path / "d" / "demandes.csv", "demandes")
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert caplog.records  # the loader logs; the key is not in it
    for form in (key.hex(), key.hex().upper(), repr(key)):
        assert form not in text
