"""What every CLI command gets: the home, the parsed arguments, and lazily opened resources.

Opening the store or the key happens only when a command asks, so ``pnyx id`` never opens SQLite and
no offline command imports libp2p.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from pnyx.core import display
from pnyx.home import Home, read_passphrase

if TYPE_CHECKING:
    import nacl.signing

    from pnyx.store import Store

#: A command handler: gets the context, returns the process exit code.
Handler = Callable[["Context"], int]


@dataclass
class Context:
    """Per-invocation state. ``close()`` releases whatever was opened (the store)."""

    args: argparse.Namespace
    home: Home
    out: TextIO
    err: TextIO
    _stack: ExitStack = field(default_factory=ExitStack)
    _store: Store | None = None
    _key: nacl.signing.SigningKey | None = None

    def store(self, *, write: bool = True) -> Store:
        """The store of this home, opened (and created) on first use.

        Reading commands pass ``write=False``: an existing store is then opened read-only, so
        they keep working on a read-only home (a full disk, a read-only mount, a backup copy).
        """
        if self._store is None:
            from pnyx.store import Store

            path = self.home.db_path
            if not write and path.exists():
                self._store = self._stack.enter_context(Store.open(path, readonly=True))
            else:
                self.home.ensure()
                self._store = self._stack.enter_context(Store.open(path))
        return self._store

    def key(self) -> nacl.signing.SigningKey:
        """The user's signing key. Raises NoIdentityError, WrongPassphraseError, KeyFileError..."""
        if self._key is None:
            from pnyx.crypto.keyfile import is_encrypted, load_identity

            passphrase = None
            path = self.home.key_path
            if path.exists() and is_encrypted(path):
                passphrase = read_passphrase(getattr(self.args, "passphrase_file", None))
            self._key = load_identity(path, passphrase)
        return self._key

    def adopt_key(self, key: nacl.signing.SigningKey) -> None:
        """Use ``key`` (just created, in memory) as the user's signing key from now on."""
        self._key = key

    def public_key(self) -> bytes:
        """The user's public key, read from the key file without needing the passphrase."""
        from pnyx.crypto.keyfile import read_public_key

        return read_public_key(self.home.key_path)

    def print(self, text: str = "") -> None:
        """Print one line (or block) to standard output; control, bidi and zero-width characters
        are escaped (``\\u001b``), which also keeps JSON lines valid and exact."""
        print(display.terminal(text), file=self.out)

    def warn(self, text: str) -> None:
        print(f"pnyx: {display.terminal(text)}", file=self.err)

    def close(self) -> None:
        self._stack.close()


class Signer:
    """The user's key for ``pnyx.ops``: the public key from the key file; the signing key (and
    so the passphrase) only once every rule has passed."""

    def __init__(self, ctx: Context) -> None:
        self._ctx = ctx

    @property
    def public_key(self) -> bytes:
        return self._ctx.public_key()

    def signing_key(self) -> nacl.signing.SigningKey:
        return self._ctx.key()


def is_terminal(stream: TextIO) -> bool:
    """Whether ``stream`` is a terminal (False for anything without ``isatty``)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())
