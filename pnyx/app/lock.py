"""One node per home: an exclusive ``flock`` on ``node.lock`` held while the node runs.

The lock dies with the process (the kernel releases it), so a crashed node never blocks the next
start. The file holds the owner's process id, for people reading it. It is opened without following
a symbolic link and only truncated once it is known to be the user's own regular file with one
link (``pnyx.home.open_private``): a planted ``node.lock`` never makes pnyx overwrite another file.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager

from pnyx.errors import UserError
from pnyx.home import Home, open_private


@contextmanager
def node_lock(home: Home) -> Iterator[None]:
    """Hold the home's node lock. Raises ``UserError`` if another node holds it,
    ``UnsafeHomeError`` if the lock file is a link or not the user's."""
    home.ensure()
    path = home.lock_path
    try:
        fd = open_private(path, os.O_RDWR | os.O_CREAT)
    except OSError as exc:
        raise UserError(f"cannot open {path}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise UserError(f"a node is already running in {home.path}") from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
