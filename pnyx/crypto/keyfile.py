"""The identity key file: one Ed25519 signing key, optionally encrypted under a passphrase.

Format (docs/protocol.md, "Identity key file"): a small UTF-8 JSON object ::

    {"format": "pnyx-identity", "version": 1, "public": "pnyx1...",
     "encryption": "none" | "argon2id+xsalsa20poly1305",
     "kdf": {"opslimit": int, "memlimit": int, "salt": hex of 16 bytes},   # only when encrypted
     "secret": hex}

``secret`` is the 32-byte Ed25519 seed (unencrypted), or ``nonce (24) || XSalsa20-Poly1305
ciphertext (48)`` of the seed under the 32-byte key Argon2id derives from the passphrase and salt
(``nacl.secret.SecretBox`` output, 72 bytes). The seed must yield ``public``; if not, the file is
damaged.

The default KDF cost is libsodium's *interactive* level (2 passes, 64 MiB): the CLI opens the key on
every command that signs, so each must stay well under a second; the key file never leaves the
user's machine and its mode is 0600, so the passphrase guards against a stolen disk or backup, not
against an online attacker. Loading caps the stored cost (``MAX_OPSLIMIT``, ``MAX_MEMLIMIT_BYTES``)
so a crafted file cannot make a command allocate gigabytes.

Failure modes: ``NoIdentityError`` (no file), ``IdentityExistsError`` (would overwrite),
``KeyFileError`` (damaged, unreadable, unwritable, a symbolic link (never followed), or readable by
group/other on POSIX),
``WrongPassphraseError``, ``PassphraseRequiredError``. All are ``UserError``.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import stat
from pathlib import Path
from typing import Any, Final

import nacl.exceptions
import nacl.secret
import nacl.signing
from nacl.pwhash import argon2id

from pnyx.core.limits import KEY_BYTES
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.errors import (
    BadKeyTextError,
    IdentityExistsError,
    KeyFileError,
    NoIdentityError,
    UserError,
    WrongPassphraseError,
)

#: Value of the file's "format" field.
FILE_FORMAT: Final = "pnyx-identity"
#: Version of the key file format this module reads and writes.
FILE_VERSION: Final = 1
#: "encryption" values.
ENCRYPTION_NONE: Final = "none"
ENCRYPTION_ARGON2ID: Final = "argon2id+xsalsa20poly1305"
#: Default Argon2id passes (libsodium OPSLIMIT_INTERACTIVE, a count of passes).
DEFAULT_OPSLIMIT: Final[int] = argon2id.OPSLIMIT_INTERACTIVE
#: Default Argon2id memory (libsodium MEMLIMIT_INTERACTIVE), in bytes (64 MiB).
DEFAULT_MEMLIMIT: Final[int] = argon2id.MEMLIMIT_INTERACTIVE
#: Highest Argon2id passes accepted from a file (libsodium OPSLIMIT_SENSITIVE).
MAX_OPSLIMIT: Final[int] = argon2id.OPSLIMIT_SENSITIVE
#: Highest Argon2id memory accepted from a file, in bytes (libsodium MEMLIMIT_SENSITIVE, 1 GiB).
MAX_MEMLIMIT_BYTES: Final[int] = argon2id.MEMLIMIT_SENSITIVE
#: Largest key file read, in bytes (a real one is about 400).
MAX_KEY_FILE_BYTES: Final = 4096
#: Length of the Argon2id salt, in bytes.
SALT_BYTES: Final[int] = argon2id.SALTBYTES
#: Length of the encrypted secret (nonce 24 + seed 32 + tag 16), in bytes.
SEALED_SECRET_BYTES: Final = nacl.secret.SecretBox.NONCE_SIZE + KEY_BYTES + 16

_POSIX: Final = os.name == "posix"
#: Flags added to every open of a key file: no symbolic link, not inherited by child processes.
_NO_FOLLOW: Final[int] = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class PassphraseRequiredError(UserError):
    """The identity is encrypted and no passphrase was given."""

    def __init__(self) -> None:
        super().__init__(
            "the identity is encrypted: give --passphrase-file FILE or set PNYX_PASSPHRASE"
        )


def generate_key() -> nacl.signing.SigningKey:
    """A new random signing key (from the OS random source)."""
    return nacl.signing.SigningKey.generate()


def create_identity(
    path: Path, passphrase: bytes | None, *, opslimit: int = DEFAULT_OPSLIMIT
) -> nacl.signing.SigningKey:
    """A new identity: a fresh key (``generate_key``) written to ``path`` (``save_identity``:
    encrypted when ``passphrase`` is given, mode 0600, never over an existing file). What ``pnyx
    init`` and the web UI's first run both call. Returns the key, so the caller can use it
    without asking for the passphrase again. Raises as ``save_identity``."""
    key = generate_key()
    save_identity(path, key, passphrase, opslimit=opslimit)
    return key


def save_identity(
    path: Path,
    key: nacl.signing.SigningKey,
    passphrase: bytes | None,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> None:
    """Write ``key`` to a new file at ``path``, encrypted when ``passphrase`` is given.

    Creates the parent directory (mode 0700) if missing. Writes a temporary file (mode 0600) in the
    same directory, fsyncs it, renames it into place and fsyncs the directory, so a crash leaves the
    old state or the complete file. ``opslimit``/``memlimit`` set the Argon2id cost (tests lower
    it).

    Raises ``IdentityExistsError`` if ``path`` exists (checked before the rename: two processes
    racing to create the same identity are not guarded against), ``UserError`` for an empty
    passphrase, ``KeyFileError`` if the file cannot be written.
    """
    if path.exists():
        raise IdentityExistsError(f"an identity already exists at {path}; it was not overwritten")
    if passphrase is not None and not passphrase:
        raise UserError("an empty passphrase protects nothing: give none to store the key plainly")
    text = json.dumps(_document(key, passphrase, opslimit, memlimit), indent=1) + "\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomically(path, text.encode())
    except OSError as exc:
        raise KeyFileError(f"cannot write identity file {path}: {exc.strerror or exc}") from None


def _document(
    key: nacl.signing.SigningKey, passphrase: bytes | None, opslimit: int, memlimit: int
) -> dict[str, Any]:
    seed = bytes(key)
    document: dict[str, Any] = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "public": encode_public_key(bytes(key.verify_key)),
    }
    if passphrase is None:
        document["encryption"] = ENCRYPTION_NONE
        document["secret"] = seed.hex()
        return document
    salt = secrets.token_bytes(SALT_BYTES)
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    document["encryption"] = ENCRYPTION_ARGON2ID
    document["kdf"] = {"opslimit": opslimit, "memlimit": memlimit, "salt": salt.hex()}
    document["secret"] = bytes(box.encrypt(seed)).hex()
    return document


def _derive(passphrase: bytes, salt: bytes, opslimit: int, memlimit: int) -> bytes:
    return argon2id.kdf(
        nacl.secret.SecretBox.KEY_SIZE, passphrase, salt, opslimit=opslimit, memlimit=memlimit
    )


def protect_identity(
    path: Path,
    key: nacl.signing.SigningKey,
    passphrase: bytes,
    *,
    opslimit: int = DEFAULT_OPSLIMIT,
    memlimit: int = DEFAULT_MEMLIMIT,
) -> None:
    """Re-write the unencrypted identity at ``path`` (which must hold ``key``) encrypted under
    ``passphrase``, atomically (a crash leaves the old file or the new one, both holding ``key``).

    Raises ``UserError`` for an empty passphrase or an identity that is encrypted already (change
    a passphrase with the CLI), ``KeyFileError`` if the file holds another key or cannot be
    written, and like ``load_identity`` for a missing or damaged file.
    """
    if not passphrase:
        raise UserError("an empty passphrase protects nothing")
    if is_encrypted(path):
        raise UserError(f"the identity at {path} is protected by a passphrase already")
    if load_identity(path, None).encode() != key.encode():
        raise KeyFileError(f"identity file {path} holds another key than the running node's")
    text = json.dumps(_document(key, passphrase, opslimit, memlimit), indent=1) + "\n"
    try:
        _write_atomically(path, text.encode(), replace=True)
    except OSError as exc:
        raise KeyFileError(f"cannot write identity file {path}: {exc.strerror or exc}") from None


def _write_atomically(path: Path, data: bytes, *, replace: bool = False) -> None:
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NO_FOLLOW, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        if path.exists() and not replace:
            raise IdentityExistsError(f"an identity already exists at {path}; not overwritten")
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    if not _POSIX:
        return  # Windows cannot open a directory for fsync; the rename is durable enough there.
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _read_document(path: Path) -> dict[str, Any]:
    """Read and structurally check the file at ``path``: existence, permissions, JSON, fields."""
    try:  # robustness: never through a symbolic link; checks on the open descriptor
        fd = os.open(path, os.O_RDONLY | _NO_FOLLOW)
    except FileNotFoundError:
        raise NoIdentityError(f"no identity at {path}: run `pnyx init` to create one") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise KeyFileError(
                f"identity file {path} is a symbolic link; pnyx does not follow it"
            ) from None
        raise KeyFileError(f"cannot read identity file {path}: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise KeyFileError(f"identity file {path} is not a regular file")
        if _POSIX and info.st_mode & 0o077:
            raise KeyFileError(
                f"identity file {path} is accessible to other users "
                f"(mode {stat.S_IMODE(info.st_mode):04o}): run `chmod 600 {path}`"
            )
        data = os.read(fd, MAX_KEY_FILE_BYTES + 1)
    except OSError as exc:
        raise KeyFileError(f"cannot read identity file {path}: {exc.strerror}") from None
    finally:
        os.close(fd)
    if len(data) > MAX_KEY_FILE_BYTES:
        raise KeyFileError(f"identity file {path} is damaged: larger than {MAX_KEY_FILE_BYTES} B")
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise KeyFileError(f"identity file {path} is damaged: not JSON") from None
    if not isinstance(document, dict) or document.get("format") != FILE_FORMAT:
        raise KeyFileError(f"{path} is not a pnyx identity file")
    version = document.get("version")
    if version != FILE_VERSION or type(version) is not int:
        raise KeyFileError(
            f"identity file {path} has version {version!r}; this pnyx reads version {FILE_VERSION}"
        )
    return document


def _damaged(path: Path, what: str) -> KeyFileError:
    return KeyFileError(f"identity file {path} is damaged: {what}")


def _hex_field(document: dict[str, Any], name: str, size: int, path: Path) -> bytes:
    value = document.get(name)
    try:
        if not isinstance(value, str):
            raise ValueError
        data = bytes.fromhex(value)
    except ValueError:
        raise _damaged(path, f"{name!r} is not hex") from None
    if len(data) != size:
        raise _damaged(path, f"{name!r} is {len(data)} bytes, expected {size}")
    return data


def _stored_public_key(document: dict[str, Any], path: Path) -> bytes:
    public = document.get("public")
    if not isinstance(public, str):
        raise _damaged(path, "no public key")
    try:
        return parse_public_key(public)
    except BadKeyTextError as exc:
        raise _damaged(path, f"public key: {exc}") from None


def is_encrypted(path: Path) -> bool:
    """Whether the identity at ``path`` needs a passphrase. Raises like ``load_identity``."""
    document = _read_document(path)
    encryption = document.get("encryption")
    if encryption not in (ENCRYPTION_NONE, ENCRYPTION_ARGON2ID):
        raise _damaged(path, f"unknown encryption {encryption!r}")
    return bool(encryption == ENCRYPTION_ARGON2ID)


def read_public_key(path: Path) -> bytes:
    """The public key stored in the identity file, without the passphrase.

    Does not check that the secret matches it (that needs the passphrase); ``load_identity`` does.
    """
    return _stored_public_key(_read_document(path), path)


def load_identity(path: Path, passphrase: bytes | None) -> nacl.signing.SigningKey:
    """Open the identity at ``path``. ``passphrase`` is ignored for an unencrypted file.

    Raises ``NoIdentityError``, ``KeyFileError`` (damaged, wrong version, unsafe permissions,
    secret not matching the stored public key), ``PassphraseRequiredError``,
    ``WrongPassphraseError``.
    """
    document = _read_document(path)
    public = _stored_public_key(document, path)
    encryption = document.get("encryption")
    if encryption == ENCRYPTION_NONE:
        seed = _hex_field(document, "secret", KEY_BYTES, path)
    elif encryption == ENCRYPTION_ARGON2ID:
        if passphrase is None:
            raise PassphraseRequiredError
        seed = _open_sealed(document, passphrase, path)
    else:
        raise _damaged(path, f"unknown encryption {encryption!r}")
    key = nacl.signing.SigningKey(seed)
    if bytes(key.verify_key) != public:
        raise _damaged(path, "the secret key does not match the public key")
    return key


def _open_sealed(document: dict[str, Any], passphrase: bytes, path: Path) -> bytes:
    kdf = document.get("kdf")
    if not isinstance(kdf, dict):
        raise _damaged(path, "no 'kdf' parameters")
    opslimit, memlimit = kdf.get("opslimit"), kdf.get("memlimit")
    if type(opslimit) is not int or not argon2id.OPSLIMIT_MIN <= opslimit <= MAX_OPSLIMIT:
        raise _damaged(path, f"kdf opslimit {opslimit!r} out of range")
    if type(memlimit) is not int or not argon2id.MEMLIMIT_MIN <= memlimit <= MAX_MEMLIMIT_BYTES:
        raise _damaged(path, f"kdf memlimit {memlimit!r} out of range")
    salt = _hex_field(kdf, "salt", SALT_BYTES, path)
    sealed = _hex_field(document, "secret", SEALED_SECRET_BYTES, path)
    box = nacl.secret.SecretBox(_derive(passphrase, salt, opslimit, memlimit))
    try:
        return bytes(box.decrypt(sealed))
    except nacl.exceptions.CryptoError:
        raise WrongPassphraseError(f"the passphrase does not open {path}") from None
