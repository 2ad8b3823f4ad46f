"""The identity key file: round-trips, atomic owner-only writes, and every failure by class."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
from nacl.pwhash import argon2id

from pnyx.crypto.keyfile import (
    PassphraseRequiredError,
    generate_key,
    is_encrypted,
    load_identity,
    read_public_key,
    save_identity,
)
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import (
    IdentityExistsError,
    KeyFileError,
    NoIdentityError,
    UserError,
    WrongPassphraseError,
)

#: Cheapest Argon2id cost, so tests run fast; the default cost is tested once.
FAST = {"opslimit": argon2id.OPSLIMIT_MIN, "memlimit": argon2id.MEMLIMIT_MIN}
SEED = bytes(range(32))
posix_only = pytest.mark.skipif(os.name != "posix", reason="needs POSIX permissions")


@pytest.fixture
def key() -> nacl.signing.SigningKey:
    return nacl.signing.SigningKey(SEED)


def _read(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _rewrite(path: Path, document: dict[str, Any]) -> None:
    path.write_text(json.dumps(document))
    path.chmod(0o600)


def test_plain_round_trip(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key, None)
    assert not is_encrypted(path)
    assert bytes(load_identity(path, None)) == SEED
    assert bytes(load_identity(path, b"ignored for a plain file")) == SEED
    assert read_public_key(path) == bytes(key.verify_key)
    document = _read(path)
    assert document == {
        "format": "pnyx-identity",
        "version": 1,
        "public": encode_public_key(bytes(key.verify_key)),
        "encryption": "none",
        "secret": SEED.hex(),
    }


def test_encrypted_round_trip(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key, b"correct horse", **FAST)
    assert is_encrypted(path)
    assert bytes(load_identity(path, b"correct horse")) == SEED
    assert read_public_key(path) == bytes(key.verify_key)
    document = _read(path)
    assert document["encryption"] == "argon2id+xsalsa20poly1305"
    assert document["kdf"]["opslimit"] == argon2id.OPSLIMIT_MIN
    assert document["kdf"]["memlimit"] == argon2id.MEMLIMIT_MIN
    assert len(bytes.fromhex(document["kdf"]["salt"])) == 16
    assert len(bytes.fromhex(document["secret"])) == 72
    assert SEED.hex() not in path.read_text()


def test_default_kdf_cost_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    key = generate_key()
    save_identity(path, key, b"pw")
    kdf = _read(path)["kdf"]
    assert (kdf["opslimit"], kdf["memlimit"]) == (2, 64 * 1024 * 1024)
    assert bytes(load_identity(path, b"pw")) == bytes(key)


def test_generate_key_is_random() -> None:
    assert bytes(generate_key()) != bytes(generate_key())


@posix_only
def test_modes_after_save(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "new" / "home" / "identity.key"
    save_identity(path, key, None)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert os.listdir(path.parent) == ["identity.key"]  # no temporary file left behind


def test_refuses_overwrite(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key, None)
    before = path.read_bytes()
    with pytest.raises(IdentityExistsError, match="already exists"):
        save_identity(path, generate_key(), None)
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["identity.key"]


def test_empty_passphrase_refused(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "identity.key"
    with pytest.raises(UserError, match="empty passphrase"):
        save_identity(path, key, b"")
    assert not path.exists()


@posix_only
def test_unwritable_directory(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    if os.geteuid() == 0:
        pytest.skip("root ignores directory permissions")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(KeyFileError, match="cannot write identity file"):
        save_identity(locked / "identity.key", key, None)


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    with pytest.raises(NoIdentityError) as info:
        load_identity(path, None)
    assert str(info.value) == f"no identity at {path}: run `pnyx init` to create one"
    with pytest.raises(NoIdentityError):
        is_encrypted(path)
    with pytest.raises(NoIdentityError):
        read_public_key(path)


@posix_only
@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660, 0o602])
def test_group_or_other_access_refused(
    tmp_path: Path, key: nacl.signing.SigningKey, mode: int
) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key, None)
    path.chmod(mode)
    with pytest.raises(KeyFileError) as info:
        load_identity(path, None)
    message = str(info.value)
    assert str(path) in message
    assert f"chmod 600 {path}" in message
    assert f"{mode:04o}" in message
    with pytest.raises(KeyFileError):
        read_public_key(path)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    path = tmp_path / "identity.key"
    path.mkdir(mode=0o700)
    with pytest.raises(KeyFileError, match="not a regular file"):
        load_identity(path, None)


def test_passphrase_required(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key, b"secret", **FAST)
    with pytest.raises(PassphraseRequiredError) as info:
        load_identity(path, None)
    assert isinstance(info.value, UserError)
    assert str(info.value) == (
        "the identity is encrypted: give --passphrase-file FILE or set PNYX_PASSPHRASE"
    )


def test_wrong_passphrase(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = tmp_path / "identity.key"
    save_identity(path, key, b"secret", **FAST)
    with pytest.raises(WrongPassphraseError) as info:
        load_identity(path, b"Secret")
    assert str(info.value) == f"the passphrase does not open {path}"


def _saved(tmp_path: Path, key: nacl.signing.SigningKey, encrypted: bool) -> Path:
    path = tmp_path / "identity.key"
    save_identity(path, key, b"pw" if encrypted else None, **FAST)
    return path


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is damaged: not JSON"),
        (b'{"format": "pnyx-identity", "vers', "is damaged: not JSON"),
        (b"\xff\xfe{}", "is damaged: not JSON"),
        (b"[1, 2]", "is not a pnyx identity file"),
        (b'{"format": "other"}', "is not a pnyx identity file"),
        (b'{"format": "pnyx-identity", "version": 2}', "has version 2; this pnyx reads version 1"),
        (b'{"format": "pnyx-identity", "version": true}', "has version True"),
        (b'{"format": "pnyx-identity", "version": "1"}', "has version '1'"),
        (b"{" + b" " * 5000 + b"}", "larger than 4096 B"),
    ],
)
def test_garbled_file(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "identity.key"
    path.write_bytes(content)
    path.chmod(0o600)
    with pytest.raises(KeyFileError) as info:
        load_identity(path, None)
    assert message in str(info.value)
    assert str(path) in str(info.value)


def test_truncated_file(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = _saved(tmp_path, key, encrypted=False)
    data = path.read_bytes()
    for cut in (1, len(data) // 2, len(data) - 3):
        path.write_bytes(data[:cut])
        with pytest.raises(KeyFileError, match="damaged"):
            load_identity(path, None)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("public", None, "no public key"),
        ("public", "pnyx1qqqq", "public key: "),
        ("encryption", "rot13", "unknown encryption 'rot13'"),
        ("secret", "zz", "'secret' is not hex"),
        ("secret", 7, "'secret' is not hex"),
        ("secret", "00" * 31, "'secret' is 31 bytes, expected 32"),
    ],
)
def test_damaged_plain_fields(
    tmp_path: Path, key: nacl.signing.SigningKey, field: str, value: object, message: str
) -> None:
    path = _saved(tmp_path, key, encrypted=False)
    document = _read(path)
    document[field] = value
    _rewrite(path, document)
    with pytest.raises(KeyFileError) as info:
        load_identity(path, None)
    assert message in str(info.value)
    assert "damaged" in str(info.value)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"kdf": None}, "no 'kdf' parameters"),
        ({"kdf": {"opslimit": 0, "memlimit": 8192, "salt": "00" * 16}}, "opslimit 0 out of range"),
        ({"kdf": {"opslimit": 99, "memlimit": 8192, "salt": "00" * 16}}, "opslimit 99"),
        ({"kdf": {"opslimit": 1, "memlimit": 2**40, "salt": "00" * 16}}, "memlimit"),
        ({"kdf": {"opslimit": 1, "memlimit": 1.5, "salt": "00" * 16}}, "memlimit 1.5"),
        ({"kdf": {"opslimit": 1, "memlimit": 8192, "salt": "00"}}, "'salt' is 1 bytes"),
        ({"secret": "00" * 40}, "'secret' is 40 bytes, expected 72"),
    ],
)
def test_damaged_encrypted_fields(
    tmp_path: Path, key: nacl.signing.SigningKey, change: dict[str, Any], message: str
) -> None:
    path = _saved(tmp_path, key, encrypted=True)
    document = _read(path)
    document.update(change)
    _rewrite(path, document)
    with pytest.raises(KeyFileError) as info:
        load_identity(path, b"pw")
    assert message in str(info.value)


def test_wrong_public_key_in_plain_file(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = _saved(tmp_path, key, encrypted=False)
    document = _read(path)
    document["public"] = encode_public_key(bytes(generate_key().verify_key))
    _rewrite(path, document)
    with pytest.raises(KeyFileError) as info:
        load_identity(path, None)
    assert str(info.value) == (
        f"identity file {path} is damaged: the secret key does not match the public key"
    )


def test_wrong_public_key_in_encrypted_file(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = _saved(tmp_path, key, encrypted=True)
    document = _read(path)
    other = bytes(generate_key().verify_key)
    document["public"] = other.hex()  # the hex form parses too
    _rewrite(path, document)
    assert read_public_key(path) == other  # read without the passphrase: not checked
    with pytest.raises(KeyFileError, match="does not match the public key"):
        load_identity(path, b"pw")


def test_tampered_ciphertext_does_not_open(tmp_path: Path, key: nacl.signing.SigningKey) -> None:
    path = _saved(tmp_path, key, encrypted=True)
    document = _read(path)
    sealed = bytearray.fromhex(document["secret"])
    sealed[-1] ^= 1
    document["secret"] = sealed.hex()
    _rewrite(path, document)
    with pytest.raises(WrongPassphraseError):
        load_identity(path, b"pw")


def test_write_failure_leaves_no_file(
    tmp_path: Path, key: nacl.signing.SigningKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    def fail(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    path = tmp_path / "identity.key"
    with pytest.raises(KeyFileError, match="No space left on device"):
        save_identity(path, key, None)
    assert os.listdir(tmp_path) == []
