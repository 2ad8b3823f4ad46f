"""The optional separate node key (``node_key = "separate"``): a random Ed25519 seed in
``node.key`` in the home directory, so the node's peer id does not reveal the user's key.

File format: 64 hex characters (the 32-byte seed) and a newline, mode 0600. This module does not
import libp2p; the adapter turns the seed into a libp2p identity.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import nacl.utils

from pnyx.errors import KeyFileError
from pnyx.home import open_private

#: Length of the node key seed, in bytes.
NODE_SEED_BYTES = 32


def load_or_create_node_seed(path: Path) -> bytes:
    """The seed in ``path``, creating a fresh one (mode 0600) if the file does not exist.

    Raises ``KeyFileError`` if the file is damaged or readable by others, ``UnsafeHomeError`` if
    it is a symbolic link or not the user's (never followed: ``O_NOFOLLOW``).
    """
    try:
        fd = open_private(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    except FileExistsError:
        return _read(path)
    except OSError as exc:
        raise KeyFileError(f"cannot create node key {path}: {exc.strerror}") from None
    seed = nacl.utils.random(NODE_SEED_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(seed.hex() + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return seed


def _read(path: Path) -> bytes:
    try:
        fd = open_private(path, os.O_RDONLY)
        with os.fdopen(fd, "r", encoding="ascii") as handle:
            mode = os.fstat(fd).st_mode
            text = handle.read(4 * NODE_SEED_BYTES).strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise KeyFileError(f"cannot read node key {path}: {exc}") from None
    if stat.S_IMODE(mode) & 0o077:
        raise KeyFileError(f"node key {path} is readable by others; run: chmod 600 {path}")
    try:
        seed = bytes.fromhex(text)
    except ValueError:
        seed = b""
    if len(seed) != NODE_SEED_BYTES:
        raise KeyFileError(f"node key {path} is damaged (expected 64 hex characters)")
    return seed
