""" "Show less like this" on the web: the JSON API (``POST /api/v1/less`` ``{id}``, ``DELETE
/api/v1/less/{id}``, ``GET /api/v1/less``) and the form behind the why page's "Show less like
this" button (``POST /less``). See ``docs/ranking.md`` ("Show less") and ``docs/web.md``.

Every change goes through ``pnyx.ops.less`` (the CLI's ``pnyx less``): a mark is kept in this home
only, nothing is signed, so the node is not nudged. API writes need the ``write`` scope; the list
``read``. Answers are ``pnyx less --json``'s objects: the mark (201), ``{"post", "marked":
false}`` (200) and ``{"half_life_days", "max_marks", "items"}``. Marking a post marked already or
undoing a mark not given is 409 (``NothingChangedError``) on the API; the form just goes back.
An unknown id is 404, a message that is not a post 400 (``pnyx.web.app``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pnyx.errors import NothingChangedError
from pnyx.ops import less as ops
from pnyx.store import Store
from pnyx.web.context import web_context
from pnyx.web.pages import _back, _form, _session


def _mark(store: Store, id_text: str) -> dict[str, object]:
    return {**ops.less(store, id_text).to_json(), "marked": True}


def _undo(store: Store, id_text: str) -> dict[str, object]:
    return {"post": ops.undo_less(store, id_text).hex(), "marked": False}


async def post_less(request: Request) -> Response:
    from pnyx.web.api import _body, _string

    ctx = web_context(request)
    await ctx.authorize(request, "write")
    id_text = _string(await _body(request), "id")
    try:
        done = await ctx.offload(_mark, ctx.store, id_text)
    except NothingChangedError as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(done, status_code=201)


async def delete_less(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "write")
    try:
        done = await ctx.offload(_undo, ctx.store, request.path_params["id"])
    except NothingChangedError as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(done)


async def get_less(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    view = await ctx.offload(ops.less_list, ctx.store)
    return JSONResponse(view.to_json())


#: (method, path, handler, summary, scope) of the API routes (under ``/api/v1``).
ROUTES: list[tuple[str, str, Callable[[Request], Any], str, str]] = [
    ("GET", "/less", get_less, "your 'show less' marks (pnyx less --list)", "read"),
    ("POST", "/less", post_less, "show less like a post: {id} (kept in this home only)", "write"),
    ("DELETE", "/less/{id}", delete_less, "take back the 'show less' mark on a post", "write"),
]


async def less_form(request: Request) -> Response:
    """The why page's button: mark (or with ``undo=on`` unmark) ``id``, then back to ``next``."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    action = _undo if form.get("undo") == "on" else _mark
    with contextlib.suppress(NothingChangedError):  # the state asked for holds already
        await ctx.offload(action, ctx.store, form.get("id", ""))
    return _back(form)


def marked(store: Store, post_id: bytes) -> bool:
    """Whether the user marked ``post_id`` (blocking)."""
    return any(m.post == post_id for m in ops.less_list(store).items)


def routes() -> list[Route]:
    return [Route("/less", less_form, methods=["POST"])]
