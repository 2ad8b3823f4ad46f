"""The home directory: where one user's identity, store, config and control socket live.

Resolution order: ``--home DIR``, then ``$PNYX_HOME``, then the platform's user data directory
(``platformdirs.user_data_dir("pnyx")``, e.g. ``~/.local/share/pnyx`` on Linux). The directory is
created owner-only (0700) on first use. This module does no network I/O and imports no libp2p.
"""

from __future__ import annotations

import getpass
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from pnyx.errors import UserError

#: Environment variable naming the home directory.
HOME_ENV = "PNYX_HOME"
#: Environment variable holding the identity passphrase (for scripts; a file is safer).
PASSPHRASE_ENV = "PNYX_PASSPHRASE"
#: Longest passphrase file read, in bytes.
MAX_PASSPHRASE_FILE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class Home:
    """Paths inside one home directory. Creating a ``Home`` touches nothing on disk."""

    path: Path

    @classmethod
    def resolve(cls, explicit: str | None) -> Home:
        """The home named by ``--home`` (``explicit``), ``$PNYX_HOME`` or the platform default."""
        if explicit:
            return cls(Path(explicit).expanduser().absolute())
        env = os.environ.get(HOME_ENV)
        if env:
            return cls(Path(env).expanduser().absolute())
        import platformdirs

        return cls(Path(platformdirs.user_data_dir("pnyx", appauthor=False)))

    @property
    def key_path(self) -> Path:
        return self.path / "identity.key"

    @property
    def node_key_path(self) -> Path:
        """Optional separate libp2p node key (see docs/architecture.md, "Identity and privacy")."""
        return self.path / "node.key"

    @property
    def db_path(self) -> Path:
        return self.path / "pnyx.db"

    @property
    def config_path(self) -> Path:
        return self.path / "config.toml"

    @property
    def control_socket_path(self) -> Path:
        return self.path / "control.sock"

    @property
    def lock_path(self) -> Path:
        return self.path / "node.lock"

    def ensure(self) -> None:
        """Create the home directory (mode 0700) if missing. Raises ``UserError`` if impossible."""
        try:
            self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"cannot create home directory {self.path}: {exc.strerror}") from None
        if not self.path.is_dir():
            raise UserError(f"home {self.path} is not a directory")


def read_passphrase(passphrase_file: str | None, *, confirm: bool = False) -> bytes | None:
    """The passphrase from ``--passphrase-file``, ``$PNYX_PASSPHRASE`` or a terminal prompt.

    Returns None when none is given and standard input is not a terminal (no prompt possible).
    A file's trailing newline is stripped. Raises ``UserError`` for an unreadable or empty file,
    or (with ``confirm``) when two typed passphrases differ.
    """
    if passphrase_file is not None:
        try:
            with open(passphrase_file, "rb") as handle:
                data = handle.read(MAX_PASSPHRASE_FILE_BYTES + 1)
        except OSError as exc:
            raise UserError(
                f"cannot read passphrase file {passphrase_file}: {exc.strerror}"
            ) from None
        if len(data) > MAX_PASSPHRASE_FILE_BYTES:
            raise UserError(f"passphrase file {passphrase_file} is larger than 4 KiB")
        data = data.rstrip(b"\r\n")
        if not data:
            raise UserError(f"passphrase file {passphrase_file} is empty")
        return data
    env = os.environ.get(PASSPHRASE_ENV)
    if env:
        return env.encode()
    if not sys.stdin.isatty():
        return None
    first = getpass.getpass("Passphrase (empty for none): ")
    if confirm and first and getpass.getpass("Repeat passphrase: ") != first:
        raise UserError("the two passphrases differ; nothing was written")
    return first.encode() or None
