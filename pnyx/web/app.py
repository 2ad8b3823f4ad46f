"""``build_app``: the Starlette app of the local web UI and API, behind the request guard.

Errors become answers in one place: ``HTTPException`` keeps its status; ``NotFoundError`` is 404;
any other ``UserError`` (a rule of ``pnyx.ops``, a bad cursor or id) is 400; ``StoreError`` and
other ``PnyxError`` are 500 with their one-line message. API paths answer ``{"error": ...}``,
pages a small HTML page. Anything else is a bug: Starlette logs it and answers 500.
"""

from __future__ import annotations

from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from pnyx.errors import NotFoundError, PnyxError, UserError
from pnyx.web import api, labels, moderation, notes, pages, people, polls, rank_pages, recipes
from pnyx.web import less as less_pages
from pnyx.web.account import routes as account_routes
from pnyx.web.context import WebContext
from pnyx.web.engagement import EngagementMiddleware
from pnyx.web.guard import Guard
from pnyx.web.seen import routes as seen_routes

STATIC_DIR = Path(__file__).resolve().parent / "static"


def _status_of(exc: Exception) -> tuple[int, str]:
    if isinstance(exc, HTTPException):
        return exc.status_code, str(exc.detail)
    if isinstance(exc, NotFoundError):
        return 404, str(exc)
    if isinstance(exc, UserError):
        return 400, str(exc)
    return 500, str(exc)


async def _error(request: Request, exc: Exception) -> Response:
    status, text = _status_of(exc)
    if request.url.path.startswith(api.PREFIX + "/"):
        return JSONResponse({"error": text}, status_code=status)
    return HTMLResponse(pages.render_error(status, text), status_code=status)


def build_app(ctx: WebContext) -> Starlette:
    """The app for ``ctx``; serve it with ``pnyx.web.serve.serve_web`` (or a test client)."""
    app = Starlette(
        routes=[
            *api.routes(),
            *pages.routes(),
            *people.routes(),
            *rank_pages.routes(),
            *recipes.routes(),
            *moderation.routes(),
            *polls.routes(),
            *notes.routes(),
            *labels.routes(),
            *less_pages.routes(),
            *account_routes(),
            *seen_routes(),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
        ],
        middleware=[
            Middleware(Guard, allowed_hosts=ctx.allowed_hosts),
            Middleware(EngagementMiddleware),
        ],
        exception_handlers={HTTPException: _error, PnyxError: _error},
    )
    app.state.web = ctx
    return app
