"""The first-run web app: create the identity of a new home in the browser (docs/web.md,
"Onboarding").

``pnyx run`` on a home with no identity file (and the UI on) serves this small app on the UI's
address instead of failing (``pnyx.app.firstrun``), behind the same request guard (Host and
Origin allowlist, CSP, no-store) and with the same login code, session cookie and CSRF token as
the node's own app; the session is kept in the home's session file, so the cookie stays valid
once the node's app takes over the port.

* ``GET /login?code=``: a one-time code (printed by ``pnyx run``) opens a session; 303 to
  ``/first-run``. An unknown, used or expired code is 403.
* ``GET /first-run``: "Create your identity": an optional passphrase, typed twice.
* ``POST /first-run``: creates the identity the way ``pnyx init`` does
  (``pnyx.crypto.keyfile.create_identity``: a fresh key, encrypted under the passphrase if one
  was typed, mode 0600, never over an existing file), keeps the key in ``FirstRunContext.key``,
  then answers "starting your node…". A file that appeared meanwhile (``pnyx init`` in another
  terminal) is used as it is.
* ``GET /welcome`` (and ``/``) while the node starts: the "starting your node…" page, 503, and
  ``FirstRunContext.done`` is set once it is sent: the page's script (``static/app.js``, loaded
  by now) asks for ``/welcome`` until the node's app answers it, so this server may stop
  (without script a meta refresh asks); before creation, 303 to ``/first-run``. The caller
  stops waiting for ``done`` after a while (``pnyx.app.firstrun.HANDOFF_LIMIT_S``).

Failure modes: no session 401, a wrong CSRF token 403, a form that is not urlencoded 415
(``HTTPException``, rendered as an error page); two passphrases that differ, or one over
``MAX_PASSPHRASE_BYTES``, are shown inline (400) and nothing is written; a key file that cannot
be written (``KeyFileError``) is shown inline too (400).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import trio
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from pnyx.errors import IdentityExistsError, UserError
from pnyx.runtime import Offload, in_thread
from pnyx.web.auth import LoginCodes
from pnyx.web.context import SESSION_COOKIE, start_session
from pnyx.web.guard import Guard, loopback_hosts
from pnyx.web.sessions import Session, Sessions

if TYPE_CHECKING:
    import nacl.signing

#: Longest passphrase taken, in bytes (as a passphrase file's limit, and the welcome page's).
MAX_PASSPHRASE_BYTES = 4096
#: How long the login code ``pnyx run`` prints on a first run stays valid, in seconds (longer
#: than ``pnyx ui``'s: there is no node yet to ask for another one; restart ``pnyx run``).
FIRST_RUN_CODE_TTL_S = 3600.0
#: Seconds before the "starting your node…" page reloads itself when scripts are off.
STARTING_REFRESH_S = 3

STATIC_DIR = Path(__file__).resolve().parent / "static"


@dataclass
class FirstRunContext:
    """The first-run app's state. ``key_path``: where the identity goes; ``key``: the key
    created here (None until then, and when the file was made elsewhere); ``done``: set once
    the identity exists and the browser was told the node is starting."""

    key_path: Path
    sessions: Sessions
    codes: LoginCodes = field(default_factory=lambda: LoginCodes(ttl_s=FIRST_RUN_CODE_TTL_S))
    offload: Offload = in_thread
    port: int = 0
    """The bound port (set once the server listens); the Host allowlist follows it."""
    public_host: str | None = None
    """With ``--ui-public``: the non-loopback host also allowed in Host and Origin."""
    key: nacl.signing.SigningKey | None = None
    done: trio.Event = field(default_factory=trio.Event)
    """Set once the browser's "starting" page asked for ``/welcome`` (it has its script)."""
    created: bool = False
    """Whether the identity exists now (created here or found): the pages say "starting"."""
    creating: bool = False
    """Whether this app is writing the key file right now (its appearing is not news)."""

    def allowed_hosts(self) -> frozenset[str]:
        hosts = loopback_hosts(self.port)
        if self.public_host is not None:
            hosts |= {f"{self.public_host}:{self.port}"}
        return hosts


def checked_passphrase(typed: str, confirm: str, *, optional: bool) -> bytes | None:
    """The passphrase typed twice, as bytes; None when ``optional`` and both are empty.
    ``UserError`` if missing (not ``optional``), if the two differ, or if over
    ``MAX_PASSPHRASE_BYTES``."""
    if not typed and not confirm and optional:
        return None
    if not typed:
        raise UserError("type a passphrase (or skip this step: the key file stays as it is)")
    if typed != confirm:
        raise UserError("the two passphrases differ; nothing was written")
    data = typed.encode()
    if len(data) > MAX_PASSPHRASE_BYTES:
        raise UserError(f"a passphrase is at most {MAX_PASSPHRASE_BYTES} bytes")
    return data


def _ctx(request: Request) -> FirstRunContext:
    ctx: FirstRunContext = request.app.state.first_run
    return ctx


def _session(request: Request) -> Session:
    session = _ctx(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise HTTPException(401, "not logged in: open the address `pnyx run` printed")
    return session


def _render(template: str, status: int = 200, **values: object) -> HTMLResponse:
    from pnyx.web.pages import render

    return HTMLResponse(render(template, session=None, **values), status_code=status)


def _starting() -> HTMLResponse:
    return _render("starting.html", 503, refresh_s=STARTING_REFRESH_S)


async def login(request: Request) -> Response:
    ctx = _ctx(request)
    code = request.query_params.get("code", "")
    return start_session(ctx.codes, ctx.sessions, code, "/first-run", "restart pnyx run")


async def create_page(request: Request) -> Response:
    session = _session(request)
    if _ctx(request).created:
        return _starting()
    return _render("firstrun.html", csrf=session.csrf, error="")


def _create(ctx: FirstRunContext, passphrase: bytes | None) -> None:
    from pnyx.crypto.keyfile import create_identity

    ctx.creating = True
    try:
        try:
            ctx.key = create_identity(ctx.key_path, passphrase)
        except IdentityExistsError:
            ctx.key = None  # made meanwhile (`pnyx init` elsewhere): the node starts with it
        ctx.created = True
    finally:
        ctx.creating = False


async def create(request: Request) -> Response:
    """Create the identity (module docstring); a refusal is shown inline, 400, never echoing
    the passphrase."""
    from pnyx.web.pages import _form

    session = _session(request)
    ctx = _ctx(request)
    form = await _form(request, session)
    if ctx.created:
        return _starting()
    try:
        passphrase = checked_passphrase(
            form.get("passphrase", ""), form.get("confirm", ""), optional=True
        )
        await ctx.offload(_create, ctx, passphrase)
    except UserError as exc:
        return _render("firstrun.html", 400, csrf=session.csrf, error=str(exc))
    response = _starting()
    response.status_code = 200
    return response


async def waiting(request: Request) -> Response:
    """``/welcome`` and ``/`` before the node's app takes over: once the identity exists, the
    "starting" page (503), and ``done`` is set once it is sent (the page that asks has its
    script: this server may stop)."""
    ctx = _ctx(request)
    if not ctx.created:
        return RedirectResponse("/first-run", status_code=303)

    async def finished() -> None:
        ctx.done.set()

    response = _starting()
    response.background = BackgroundTask(finished)
    return response


async def _error(request: Request, exc: Exception) -> Response:
    from pnyx.web.pages import render_error

    status = exc.status_code if isinstance(exc, HTTPException) else 500
    return HTMLResponse(render_error(status, str(getattr(exc, "detail", exc))), status)


def build_first_run_app(ctx: FirstRunContext) -> Starlette:
    """The first-run app for ``ctx`` (serve it with ``pnyx.web.serve.serve_asgi``)."""
    app = Starlette(
        routes=[
            Route("/", waiting),
            Route("/login", login),
            Route("/first-run", create_page),
            Route("/first-run", create, methods=["POST"]),
            Route("/welcome", waiting),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[Middleware(Guard, allowed_hosts=ctx.allowed_hosts)],
        exception_handlers={HTTPException: _error},
    )
    app.state.first_run = ctx
    return app
