"""Who may use the web UI and API: API tokens and one-time login codes.

* ``TokenBook``: bearer tokens for ``/api/v1/`` with scopes (``SCOPES``). A token is
  ``TOKEN_BYTES`` random bytes (URL-safe base64), shown once when created; the book keeps only its
  SHA-256 (enough for random tokens: there is nothing to brute-force), its id, name, scopes and
  creation time, in ``web-tokens.json`` in the home, mode 0600, opened without following links
  (``pnyx.home.open_private``) and replaced atomically. The CLI writes it (``pnyx token``); the
  node re-reads it on every API request, so a revoked token is refused at once.
* ``LoginCodes``: codes the running node hands ``pnyx ui`` over the control socket; each opens one
  browser session, once, within ``LOGIN_CODE_TTL_S``. Kept in memory only (hashed).
* Browser sessions are ``pnyx.web.sessions.Sessions`` (kept hashed in the home, across
  restarts).

Failure modes: ``TokenBook`` raises ``UserError`` for a bad scope, name or unknown id,
``UnsafeHomeError`` for a linked or foreign token file, and ``PnyxError`` for an unreadable or
damaged one; the in-memory parts never raise.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from pnyx.errors import NotFoundError, PnyxError, UserError
from pnyx.home import open_private

#: The scopes a token may carry: read pages of the store, write (sign) messages, moderate (labels
#: and lists, a later slice of issue 16).
SCOPES = ("read", "write", "moderate")
#: Random bytes in an API token.
TOKEN_BYTES = 32
#: Random bytes in a token id (shown by ``pnyx token list``, used by ``revoke``).
TOKEN_ID_BYTES = 6
#: Most tokens the book holds, a count.
MAX_TOKENS = 256
#: Longest token name, in characters.
MAX_TOKEN_NAME_CHARS = 64
#: Largest token file read, in bytes.
MAX_TOKEN_FILE_BYTES = 256 * 1024
#: The token file's name in the home.
TOKEN_FILE = "web-tokens.json"
#: Random bytes in a login code.
LOGIN_CODE_BYTES = 24
#: How long a login code stays valid, in seconds.
LOGIN_CODE_TTL_S = 120.0
#: Login codes outstanding at once, a count (the oldest is dropped).
MAX_LOGIN_CODES = 16


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class TokenRecord:
    """One token as stored: never the token itself."""

    id: str
    name: str
    scopes: tuple[str, ...]
    created_ms: int
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "scopes": list(self.scopes),
            "created_ms": self.created_ms,
            "sha256": self.sha256,
        }


def parse_scopes(text: Iterable[str]) -> tuple[str, ...]:
    """Scope names, checked against ``SCOPES``, in ``SCOPES`` order. ``UserError`` if unknown."""
    wanted = {part.strip() for item in text for part in item.split(",") if part.strip()}
    unknown = wanted - set(SCOPES)
    if unknown or not wanted:
        raise UserError(
            f"scopes are {', '.join(SCOPES)} (comma-separated); got {', '.join(sorted(unknown))}"
            if unknown
            else "a token needs at least one scope"
        )
    return tuple(s for s in SCOPES if s in wanted)


class TokenBook:
    """The API tokens of one home (module docstring)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def records(self) -> list[TokenRecord]:
        """Every token record; [] if the file does not exist."""
        try:
            fd = open_private(self.path, os.O_RDONLY)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise PnyxError(f"cannot read {self.path}: {exc.strerror}") from None
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(MAX_TOKEN_FILE_BYTES + 1)
        try:
            if len(data) > MAX_TOKEN_FILE_BYTES:
                raise ValueError("too large")
            rows = json.loads(data)["tokens"]
            return [
                TokenRecord(r["id"], r["name"], tuple(r["scopes"]), r["created_ms"], r["sha256"])
                for r in rows
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise PnyxError(f"the token file {self.path} is damaged ({exc})") from None

    def _write(self, records: list[TokenRecord]) -> None:
        temporary = self.path.with_name(self.path.name + ".new")
        temporary.unlink(missing_ok=True)
        fd = open_private(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"tokens": [r.to_json() for r in records]}, handle, indent=1)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, self.path)

    def create(self, scopes: tuple[str, ...], name: str, now_ms: int) -> tuple[TokenRecord, str]:
        """A new token with ``scopes``; returns its record and the token text (shown once)."""
        if len(name) > MAX_TOKEN_NAME_CHARS or not name.isprintable():
            raise UserError(f"a token name is at most {MAX_TOKEN_NAME_CHARS} printable characters")
        records = self.records()
        if len(records) >= MAX_TOKENS:
            raise UserError(f"there are {MAX_TOKENS} tokens already; revoke some first")
        token = secrets.token_urlsafe(TOKEN_BYTES)
        record = TokenRecord(
            secrets.token_hex(TOKEN_ID_BYTES), name, parse_scopes(scopes), now_ms, _digest(token)
        )
        self._write([*records, record])
        return record, token

    def revoke(self, token_id: str) -> TokenRecord:
        """Remove the token ``token_id``; ``NotFoundError`` if there is none."""
        records = self.records()
        kept = [r for r in records if r.id != token_id]
        if len(kept) == len(records):
            raise NotFoundError(f"no token {token_id!r} (see `pnyx token list`)")
        self._write(kept)
        return next(r for r in records if r.id == token_id)

    def check(self, token: str) -> TokenRecord | None:
        """The record of ``token`` if it is a current token, else None."""
        digest = _digest(token)
        for record in self.records():
            if hmac.compare_digest(record.sha256, digest):
                return record
        return None


class LoginCodes:
    """One-time login codes, in memory (module docstring)."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, ttl_s: float = LOGIN_CODE_TTL_S
    ) -> None:
        self._clock = clock
        self._ttl_s = ttl_s
        self._codes: OrderedDict[str, float] = OrderedDict()

    def issue(self) -> str:
        code = secrets.token_urlsafe(LOGIN_CODE_BYTES)
        self._codes[_digest(code)] = self._clock() + self._ttl_s
        while len(self._codes) > MAX_LOGIN_CODES:
            self._codes.popitem(last=False)
        return code

    def consume(self, code: str) -> bool:
        """True once for a code issued within ``ttl_s`` (default ``LOGIN_CODE_TTL_S``); it is
        gone afterwards."""
        expiry = self._codes.pop(_digest(code), None)
        return expiry is not None and self._clock() < expiry
