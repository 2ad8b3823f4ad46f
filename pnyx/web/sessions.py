"""Browser sessions of the web UI, kept across node restarts.

A session is the value of the HttpOnly cookie (``SESSION_BYTES`` random bytes). ``Sessions``
keeps, per session, only the cookie's SHA-256, a CSRF token, its public id (the first
``SESSION_ID_CHARS`` hex digits of that hash: listed on the sessions page, never enough to act
as the session) and its creation and last-use times (wall clock, milliseconds). A session ends
when it was not used for ``SESSION_IDLE_S``, or ``SESSION_MAX_AGE_S`` after it was created,
whichever comes first; at most ``MAX_SESSIONS`` live at once (the oldest goes).

With a ``path`` (``web-sessions.json`` in the home, as a Bluesky or Nostr web client stays
logged in) the sessions survive a restart: the file (mode 0600, opened without following links,
replaced atomically) holds each session's hash and times, never the cookie value and never the
CSRF token: a session loaded from the file gets a fresh CSRF token, so a form left open across a
restart answers 403 "reload the page" once. Expired sessions are dropped at load. The file is
written when a session is created or ended and when a last-use time moved by more than
``SESSION_TOUCH_S`` (not on every request). Without a path (a test app) they live in memory.

Failure modes: a damaged or unreadable file is ignored (every browser logs in again; logged);
``UnsafeHomeError`` for a linked or foreign file; an ``OSError`` writing it is logged and the
session still works until the node stops.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from pnyx.home import UnsafeHomeError, open_private

log = logging.getLogger(__name__)

#: The session file's name in the home.
SESSION_FILE = "web-sessions.json"
#: Random bytes in a session id (the cookie's value) and in a CSRF token.
SESSION_BYTES = 32
#: A session unused for this long ends, in seconds (30 days).
SESSION_IDLE_S = 30 * 86400.0
#: A session ends this long after it was created, however much it is used, in seconds (90 days);
#: the cookie's ``Max-Age``.
SESSION_MAX_AGE_S = 90 * 86400.0
#: A last-use time is written to the file only when it moved by more than this, in seconds.
SESSION_TOUCH_S = 3600.0
#: Browser sessions at once, a count (the oldest is dropped).
MAX_SESSIONS = 64
#: Hex digits of a session's public id.
SESSION_ID_CHARS = 12
#: Largest session file read, in bytes.
MAX_SESSION_FILE_BYTES = 256 * 1024


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(slots=True)
class Session:
    """A browser session: its CSRF token, its public id, when it was created and last used
    (wall clock, milliseconds), and the last-use time last written to the file."""

    csrf: str
    id: str = ""
    created_ms: int = 0
    last_used_ms: int = 0
    written_ms: int = 0

    def expired(self, now_ms: int) -> bool:
        return (
            now_ms >= self.created_ms + SESSION_MAX_AGE_S * 1000
            or now_ms >= self.last_used_ms + SESSION_IDLE_S * 1000
        )


class Sessions:
    """Browser sessions, in memory and (with ``path``) in the home (module docstring)."""

    def __init__(self, path: Path | None = None, wall: Callable[[], float] = time.time) -> None:
        self.path = path
        self._wall = wall
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        if path is not None:
            self._load(path)

    def _now_ms(self) -> int:
        return int(self._wall() * 1000)

    def _load(self, path: Path) -> None:
        try:
            fd = open_private(path, os.O_RDONLY)
        except FileNotFoundError:
            return
        except UnsafeHomeError:
            raise
        except OSError as exc:
            log.warning("cannot read %s (%s): every browser logs in again", path, exc.strerror)
            return
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_SESSION_FILE_BYTES + 1)
        now = self._now_ms()
        try:
            if len(data) > MAX_SESSION_FILE_BYTES:
                raise ValueError("too large")
            rows = json.loads(data)["sessions"]
            loaded = [
                (
                    str(r["sha256"]),
                    Session(
                        secrets.token_urlsafe(SESSION_BYTES),
                        str(r["sha256"])[:SESSION_ID_CHARS],
                        int(r["created_ms"]),
                        int(r["last_used_ms"]),
                        int(r["last_used_ms"]),
                    ),
                )
                for r in rows
            ]
        except (ValueError, KeyError, TypeError) as exc:
            log.warning(
                "the session file %s is damaged (%s): every browser logs in again", path, exc
            )
            return
        loaded.sort(key=lambda pair: pair[1].created_ms)
        for key, session in loaded[-MAX_SESSIONS:]:
            if not session.expired(now):
                self._sessions[key] = session
        if len(self._sessions) != len(loaded):
            self._save()  # the expired ones leave the file too

    def _save(self) -> None:
        if self.path is None:
            return
        rows = [
            {"sha256": key, "created_ms": s.created_ms, "last_used_ms": s.last_used_ms}
            for key, s in self._sessions.items()
        ]
        temporary = self.path.with_name(self.path.name + ".new")
        try:
            temporary.unlink(missing_ok=True)
            fd = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"sessions": rows}, handle, indent=1)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(temporary, self.path)
        except OSError as exc:
            log.warning("cannot write %s (%s)", self.path, exc.strerror)
            return
        for session in self._sessions.values():
            session.written_ms = session.last_used_ms

    def _drop_expired(self) -> bool:
        now = self._now_ms()
        gone = [k for k, s in self._sessions.items() if s.expired(now)]
        for key in gone:
            del self._sessions[key]
        return bool(gone)

    def create(self) -> tuple[str, Session]:
        """A new session: (cookie value, session)."""
        sid = secrets.token_urlsafe(SESSION_BYTES)
        key = _digest(sid)
        now = self._now_ms()
        session = Session(secrets.token_urlsafe(SESSION_BYTES), key[:SESSION_ID_CHARS], now, now)
        self._drop_expired()
        self._sessions[key] = session
        while len(self._sessions) > MAX_SESSIONS:
            self._sessions.popitem(last=False)
        self._save()
        return sid, session

    def get(self, sid: str | None) -> Session | None:
        """The live session of cookie value ``sid``, else None; marks it used now."""
        if not sid:
            return None
        key = _digest(sid)
        session = self._sessions.get(key)
        if session is None:
            return None
        now = self._now_ms()
        if session.expired(now):
            del self._sessions[key]
            self._save()
            return None
        session.last_used_ms = now
        if now - session.written_ms > SESSION_TOUCH_S * 1000:
            self._save()
        return session

    def active(self) -> list[Session]:
        """The live sessions, newest first (expired ones are dropped)."""
        if self._drop_expired():
            self._save()
        return sorted(self._sessions.values(), key=lambda s: s.created_ms, reverse=True)

    def end(self, session_id: str) -> bool:
        """End the session whose public id is ``session_id``; False if there is none."""
        for key, session in self._sessions.items():
            if session_id and hmac.compare_digest(session.id, session_id):
                del self._sessions[key]
                self._save()
                return True
        return False
