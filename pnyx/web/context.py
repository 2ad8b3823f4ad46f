"""What the web app's routes share: the store and key, auth state, the node's hooks.

``WebContext`` is built by the node's start-up (``pnyx.app.service``) or by a test; routes reach
it as ``request.app.state.web``. Store calls block, so routes run them through ``offload``
(``pnyx.runtime``: a worker thread), never on the trio loop. ``authorize`` decides who a request
is (a bearer token or a browser session) and whether it may do what it asks.

Failure modes: ``authorize`` raises ``starlette.exceptions.HTTPException`` 401 (nobody), 403
(a token without the scope, a session write without its CSRF token); the app turns these into
``{"error": ...}`` answers.
"""

from __future__ import annotations

import contextlib
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse

from pnyx.errors import UserError
from pnyx.runtime import Offload, in_thread
from pnyx.web.auth import LoginCodes, TokenBook
from pnyx.web.guard import SAFE_METHODS, loopback_hosts
from pnyx.web.sessions import SESSION_MAX_AGE_S, Session, Sessions

if TYPE_CHECKING:
    import nacl.signing

    from pnyx.store import Store

#: The session cookie's name.
SESSION_COOKIE = "pnyx_session"
#: The header a session's script sends its CSRF token in (API writes with a session cookie).
CSRF_HEADER = "x-csrf-token"
#: The form field pages send the CSRF token in.
CSRF_FIELD = "csrf"
#: Live-update (SSE) listeners at once, a count.
MAX_LISTENERS = 16
#: Arrival notices buffered per listener, a count (older ones are dropped: a listener only needs
#: to know that something arrived).
LISTENER_BUFFER = 8


class Arrivals:
    """New posts, announced to live-update listeners (each a bounded trio channel): a count of
    new posts, or 0 for something else that may change the unread count (a follow of the user:
    ``notify``). Every page with the header listens (``GET /events``), to keep its count live."""

    def __init__(self) -> None:
        self._listeners: set[trio.MemorySendChannel[int]] = set()

    def publish(self, count: int) -> None:
        """``count`` new posts arrived (call from the trio thread); never blocks."""
        for channel in list(self._listeners):
            with contextlib.suppress(trio.WouldBlock, trio.BrokenResourceError):
                channel.send_nowait(count)

    def notify(self) -> None:
        """Something that may be a notification arrived, but no post: listeners recount."""
        self.publish(0)

    def full(self) -> bool:
        """Whether ``MAX_LISTENERS`` listen now (a new one would be refused)."""
        return len(self._listeners) >= MAX_LISTENERS

    @contextlib.contextmanager
    def listen(self) -> Iterator[trio.MemoryReceiveChannel[int]]:
        """A channel of arrival counts while the block runs; ``UserError`` at ``MAX_LISTENERS``."""
        if self.full():
            raise UserError(f"at most {MAX_LISTENERS} live-update listeners at once")
        send, receive = trio.open_memory_channel[int](LISTENER_BUFFER)
        self._listeners.add(send)
        try:
            yield receive
        finally:
            self._listeners.discard(send)
            send.close()


async def _no_refresh() -> None:
    return None


async def _no_status() -> dict[str, Any]:
    return {}


@dataclass
class WebContext:
    """The web app's shared state (module docstring). ``key`` is None for a read-only UI."""

    store: Store
    me: bytes
    key: nacl.signing.SigningKey | None
    tokens: TokenBook
    offload: Offload = in_thread
    codes: LoginCodes = field(default_factory=LoginCodes)
    sessions: Sessions = field(default_factory=Sessions)
    arrivals: Arrivals = field(default_factory=Arrivals)
    status: Callable[[], Awaitable[dict[str, Any]]] = _no_status
    nudge: Callable[[], None] = lambda: None
    refresh_interest: Callable[[], Awaitable[None]] = _no_refresh
    """Reload the node's interest set (a labeller subscribed to or dropped: its feed is fetched
    at once, as after an own follow); ``Node.refresh_interest``."""
    port: int = 0
    """The bound port (set once the server listens); the Host allowlist follows it."""
    public_host: str | None = None
    """With ``--ui-public``: the non-loopback host also allowed in Host and Origin."""
    recipes_dir: Path | None = None
    """The user's recipe files (``Home.recipes_path``): the feeds beyond the built-ins; None:
    the built-ins only."""
    key_path: Path | None = None
    """The identity file (``Home.key_path``): the welcome page can protect it with a
    passphrase; None: it cannot (a test app)."""
    queued: set[bytes] = field(default_factory=set)
    """Ids of posts written here while the node had no peers (shown "will be sent when
    connected"); emptied once the node has a peer again (it republishes them then)."""

    async def offline(self) -> bool:
        """Whether the node reports no connected peer (False when no status is known: a test
        app, or a node that answers none). Forgets ``queued`` once a peer is connected."""
        status = await self.status()
        if not status:
            return False
        alone = not status.get("peers")
        if not alone:
            self.queued.clear()
        return alone

    def allowed_hosts(self) -> frozenset[str]:
        hosts = loopback_hosts(self.port)
        if self.public_host is not None:
            hosts |= {f"{self.public_host}:{self.port}"}
        return hosts

    def signing_key(self) -> nacl.signing.SigningKey:
        if self.key is None:
            raise HTTPException(403, "this node runs without the identity key: the UI is read-only")
        return self.key

    async def authorize(self, request: Request, scope: str) -> Session | None:
        """Check ``request`` may use ``scope``; returns its browser session (None for a token).

        A bearer token must carry ``scope``; a browser session may read and write, but every
        method other than GET / HEAD must carry the session's CSRF token in ``X-CSRF-Token``.
        """
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            record = await self.offload(self.tokens.check, auth[len("bearer ") :].strip())
            if record is None:
                raise HTTPException(401, "unknown or revoked token")
            if scope not in record.scopes:
                raise HTTPException(403, f"this token lacks the {scope!r} scope")
            return None
        session = self.sessions.get(request.cookies.get(SESSION_COOKIE))
        if session is None:
            raise HTTPException(401, "log in with `pnyx ui`, or send Authorization: Bearer TOKEN")
        if scope == "moderate":
            raise HTTPException(403, "moderation needs a token with the 'moderate' scope")
        if request.method not in SAFE_METHODS and request.headers.get(CSRF_HEADER) != session.csrf:
            raise HTTPException(403, "missing or wrong CSRF token")
        return session


def web_context(request: Request) -> WebContext:
    """The ``WebContext`` of the app serving ``request``."""
    ctx: WebContext = request.app.state.web
    return ctx


def start_session(
    codes: LoginCodes, sessions: Sessions, code: str, target: str, again: str
) -> RedirectResponse:
    """Consume the one-time login ``code`` and start a session: its HttpOnly, SameSite=Strict
    cookie and a 303 to ``target`` (the app's and the first run's login). A code unknown, used
    or expired is 403, saying ``again``."""
    if not codes.consume(code):
        raise HTTPException(403, f"this login code is unknown, used or expired: {again}")
    sid, _ = sessions.create()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        sid,
        max_age=int(SESSION_MAX_AGE_S),
        httponly=True,
        samesite="strict",
        path="/",
    )
    return response
