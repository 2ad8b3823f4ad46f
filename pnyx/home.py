"""The home directory: where one user's identity, store, config and control socket live.

Resolution order: ``--home DIR``, then ``$PNYX_HOME``, then the platform's user data directory
(``platformdirs.user_data_dir("pnyx")``, e.g. ``~/.local/share/pnyx`` on Linux). The directory is
created owner-only (0700) on first use. This module does no network I/O and imports no libp2p.

**Who may touch a home** (POSIX; docs/security.md section 8). ``Home.check`` runs before every
command and refuses, with one line (``UnsafeHomeError``, exit 2), a home that another user could
tamper with:

* the home directory and every file of ``HOME_FILES`` present in it must belong to the user (or to
  root, who can do anything anyway) and must not be writable by group or others
  (``UNSAFE_MODE_BITS``): in a 0777 home anyone could plant ``node.lock`` as a link to a file of
  the user's, and ``pnyx run`` would truncate it;
* ``NO_LINK_FILES`` (keys, lock, socket, online mark) must not be symbolic links, and pnyx opens
  them with ``O_NOFOLLOW`` (``open_private``), so a link swapped in later is refused too; the
  other files (databases, config) may be the user's own links to files that pass the same rules.

Reading is not restricted here: a home or store readable by group or others is allowed (the store
holds signed public messages; a user may share read access, e.g. with a backup job). The key files
alone must be owner-only (0600), which their loaders enforce (``pnyx.crypto.keyfile``,
``pnyx.app.nodekey``). The directories above the home are not checked.
"""

from __future__ import annotations

import errno
import getpass
import os
import stat
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
#: Permission bits that must be clear on the home and its files: write by group or others.
UNSAFE_MODE_BITS = 0o022
#: Mode of a home directory pnyx creates (owner only, whatever the umask).
HOME_MODE = 0o700
#: Owner accepted besides the user: root (uid 0), who can replace any file anyway.
ROOT_UID = 0
#: Files never followed as symbolic links (the loaders open them with ``O_NOFOLLOW``).
NO_LINK_FILES = ("identity.key", "node.key", "node.lock", "control.sock", "online.mark")
#: Every file of the home that ``Home.check`` examines when present (``peers.db`` is
#: ``pnyx.discovery.peerbook.PEERBOOK_FILE``, ``online.mark``
#: ``pnyx.node.republish.ONLINE_MARK_FILE``).
HOME_FILES = (
    *NO_LINK_FILES,
    "online.mark.tmp",
    "config.toml",
    *(f"{db}{suffix}" for db in ("pnyx.db", "peers.db") for suffix in ("", "-wal", "-shm")),
    "pnyx.db-journal",
    "peers.db-journal",
)
_POSIX = os.name == "posix"
_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


class UnsafeHomeError(UserError):
    """The home, or a file in it, could be changed by another user (see the module docstring)."""


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
    def recipes_path(self) -> Path:
        """The user's feed recipes, one ``NAME.toml`` each (``docs/ranking.md``, "Recipes")."""
        return self.path / "recipes"

    @property
    def control_socket_path(self) -> Path:
        return self.path / "control.sock"

    @property
    def lock_path(self) -> Path:
        return self.path / "node.lock"

    def ensure(self) -> None:
        """Create the home directory (mode 0700) if missing, then ``check`` it. Raises
        ``UserError`` if impossible, ``UnsafeHomeError`` if the home is unsafe."""
        created = not os.path.lexists(self.path)
        try:
            self.path.mkdir(mode=HOME_MODE, parents=True, exist_ok=True)
            if created:
                os.chmod(self.path, HOME_MODE)  # the umask may have taken owner bits
        except OSError as exc:
            raise UserError(f"cannot create home directory {self.path}: {exc.strerror}") from None
        if not self.path.is_dir():
            raise UserError(f"home {self.path} is not a directory")
        self.check()

    def check(self) -> None:
        """Refuse a home another user could tamper with (module docstring); a missing home is
        fine (``ensure`` creates it 0700). Only reads metadata, so read-only homes pass.

        Raises ``UnsafeHomeError`` naming the first offending path and how to fix it.
        """
        if not _POSIX:
            return
        try:
            info = _checked_link(self.path, "home")
        except FileNotFoundError:
            return
        if info is None:
            return  # a dangling link: ensure() fails on it with its own message
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafeHomeError(f"home {self.path} is not a directory")
        _check_owner_and_mode(self.path, info, "home")
        for name in HOME_FILES:
            path = self.path / name
            try:
                info = _checked_link(path, "file", follow=name not in NO_LINK_FILES)
            except FileNotFoundError:
                continue
            if info is None:
                continue
            regular = stat.S_ISREG(info.st_mode) or (
                name == "control.sock" and stat.S_ISSOCK(info.st_mode)
            )
            if not regular:
                raise UnsafeHomeError(f"refusing {path}: not a regular file")
            _check_owner_and_mode(path, info, "file")


def _checked_link(path: Path, what: str, *, follow: bool = True) -> os.stat_result | None:
    """The status of ``path``, after checking a symbolic link there: refused unless ``follow``,
    else it must be the user's own; its target's status is returned (None if dangling).
    Raises ``FileNotFoundError`` if nothing is at ``path``, ``UnsafeHomeError``."""
    try:
        link = os.lstat(path)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnsafeHomeError(f"cannot examine {path}: {exc.strerror}") from None
    if not stat.S_ISLNK(link.st_mode):
        return link
    if not follow:
        raise UnsafeHomeError(
            f"refusing {path}: it is a symbolic link (pnyx never follows one there); remove it"
        )
    _check_owner_and_mode(path, link, f"link to the {what}", mode=False)
    try:
        return os.stat(path)
    except OSError:
        return None


def _check_owner_and_mode(
    path: Path, info: os.stat_result, what: str, *, mode: bool = True
) -> None:
    uid = os.geteuid()
    if info.st_uid not in (uid, ROOT_UID):
        raise UnsafeHomeError(
            f"refusing {what} {path}: it belongs to uid {info.st_uid}, not to you (uid {uid}); "
            "another user could have planted it"
        )
    if mode and info.st_mode & UNSAFE_MODE_BITS:
        raise UnsafeHomeError(
            f"refusing {what} {path}: other users can write to it (mode "
            f"{stat.S_IMODE(info.st_mode):04o}); run `chmod go-w {path}` if it is really yours"
        )


def open_private(path: Path, flags: int, mode: int = 0o600) -> int:
    """``os.open`` of a file in the home without following a symbolic link (``O_NOFOLLOW``,
    ``O_CLOEXEC``), then checked on the open descriptor: a regular file with one link, the
    user's (or root's), not writable by group or others. Returns the descriptor.

    Raises ``UnsafeHomeError`` (a link, a hard-linked or foreign file; the descriptor is closed)
    and ``OSError`` as ``os.open`` does otherwise (``FileNotFoundError``, ``PermissionError``...).
    """
    try:
        fd = os.open(path, flags | _NO_FOLLOW, mode)
    except OSError as exc:
        if _POSIX and exc.errno == errno.ELOOP:
            raise UnsafeHomeError(
                f"refusing {path}: it is a symbolic link (pnyx never follows one there); remove it"
            ) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafeHomeError(f"refusing {path}: not a regular file")
        if _POSIX:
            _check_owner_and_mode(path, info, "file")
            if info.st_nlink != 1:
                raise UnsafeHomeError(
                    f"refusing {path}: it has {info.st_nlink} hard links (another name could be "
                    "any file of yours); remove it"
                )
    except BaseException:
        os.close(fd)
        raise
    return fd


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
