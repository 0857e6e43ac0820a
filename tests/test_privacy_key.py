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


# --------------------------------------------------------------------------- broken key files


@pytest.mark.parametrize(
    ("content", "rule"),
    [
        ("", "vide"),
        ("abcd", "32 octets"),  # a 2-byte key
        ("ab" * 31, "32 octets"),
        ("not hexadecimal at all, not a key" * 2, "hexadécimal"),
    ],
)
def test_an_empty_short_or_corrupt_key_file_is_refused_with_its_path(no_env_key, content, rule):
    path = no_env_key / "k.key"
    path.write_text(content, encoding="ascii")
    path.chmod(0o600)
    with pytest.raises(UsageError, match=rule) as err:
        load_or_create_key(path)
    assert str(path) in str(err.value)
    assert content[:8] not in str(err.value) or content == ""  # the key is never echoed


def test_a_key_of_32_bytes_or_more_is_read_back(no_env_key):
    path = no_env_key / "k.key"
    path.write_text("5a" * 32 + "\n", encoding="ascii")
    path.chmod(0o600)
    assert load_or_create_key(path) == bytes.fromhex("5a" * 32)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_a_key_file_readable_by_others_is_refused_with_the_chmod_to_run(no_env_key, mode):
    path = no_env_key / "k.key"
    path.write_text("5a" * 32, encoding="ascii")
    path.chmod(mode)
    with pytest.raises(UsageError) as err:
        load_or_create_key(path)
    assert f"chmod 600 {path}" in str(err.value)


def test_a_directory_as_key_path_is_a_clear_error(no_env_key):
    path = no_env_key / "dossier.key"
    path.mkdir()
    with pytest.raises(UsageError, match="n'est pas un fichier") as err:
        load_or_create_key(path)
    assert str(path) in str(err.value)


def test_a_key_file_symlink_is_refused(no_env_key):
    target = no_env_key / "vraie.key"
    target.write_text("5a" * 32, encoding="ascii")
    target.chmod(0o600)
    link = no_env_key / "lien.key"
    link.symlink_to(target)
    with pytest.raises(UsageError, match="lien symbolique"):
        load_or_create_key(link)


def test_two_processes_creating_the_key_at_once_agree_on_one_key(no_env_key, monkeypatch):
    """The other process wins the race between our check and our creation: we must
    read its key back instead of failing (FileExistsError) or overwriting it."""
    path = no_env_key / "cfg" / "pseudonym.key"
    theirs = bytes(range(100, 132))
    real = privacy.secrets.token_bytes

    def other_process_creates_it_first(n):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(theirs.hex(), encoding="ascii")
        path.chmod(0o600)
        return real(n)

    monkeypatch.setattr(privacy.secrets, "token_bytes", other_process_creates_it_first)
    assert load_or_create_key(path) == theirs
    assert path.read_text("ascii").strip() == theirs.hex()
    assert [p.name for p in path.parent.iterdir()] == ["pseudonym.key"]  # no temporary left


def test_environment_key_shorter_than_32_bytes_is_refused(no_env_key, monkeypatch):
    monkeypatch.setenv("ALLOCATION_ANALYSIS_KEY", "ab" * 20)
    with pytest.raises(UsageError, match="32 octets"):
        load_or_create_key()
