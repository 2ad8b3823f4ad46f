"""Mute and block on the web: the JSON API (``/api/v1/mutes``, ``/api/v1/blocks``), the forms
behind a profile's Mute / Unmute / Block / Unblock buttons, and the "Muted and blocked" page
(``/mutes``). See ``docs/moderation.md`` and ``docs/web.md``.

Every write goes through ``pnyx.ops`` (``mute``, ``unmute``, ``block``, ``unblock``: the rules of
the CLI) and nudges the node, which reloads its policy (its live output). API writes need a token
with the ``moderate`` scope (a browser session moderates through the forms, with its CSRF token);
``GET /api/v1/mutes`` needs ``read``. Answers are the CLI's ``--json`` views: the signed message
(201), ``{"private": true, "action", "key"}`` for a private mute (201), and the entries of
``pnyx mutes --json``. Asking for the state that holds already is 409 (``NothingChangedError``) on
the API; a form just goes back (the state asked for holds).
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.errors import NothingChangedError
from pnyx.reads.policy import moderation_list
from pnyx.web.context import web_context
from pnyx.web.pages import _back, _form, _me, _session, known_names, render

if TYPE_CHECKING:
    from collections.abc import Callable

    from nacl.signing import SigningKey

    from pnyx.store import Store


def _act(store: Store, key: SigningKey, action: str, target: str, private: bool) -> dict[str, Any]:
    """Run one ``pnyx.ops`` moderation action; its JSON as the CLI's ``--json`` prints it."""
    if action == "mute":
        view = ops.mute(store, key, target, private=private)
    elif action == "unmute":
        view = ops.unmute(store, key, target)
    else:
        view = (ops.block if action == "block" else ops.unblock)(store, key, target)
    if view is None:  # a private mute added or removed: nothing signed
        return {
            "private": True,
            "action": action,
            "key": encode_public_key(parse_public_key(target)),
        }
    return view.to_json()


async def _api_write(request: Request, action: str, target: str | None = None) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "moderate")
    key = ctx.signing_key()
    private = False
    if target is None:
        from pnyx.web.api import _body, _flag, _string

        body = await _body(request)
        target = _string(body, "key")
        private = _flag(body, "private", False)
    try:
        done = await ctx.offload(_act, ctx.store, key, action, target, private)
    except NothingChangedError as exc:
        raise HTTPException(409, str(exc)) from None
    ctx.nudge()
    return JSONResponse(done, status_code=201)


async def post_mutes(request: Request) -> Response:
    return await _api_write(request, "mute")


async def delete_mute(request: Request) -> Response:
    return await _api_write(request, "unmute", request.path_params["key"])


async def post_blocks(request: Request) -> Response:
    return await _api_write(request, "block")


async def delete_block(request: Request) -> Response:
    return await _api_write(request, "unblock", request.path_params["key"])


async def get_mutes(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    entries = await ctx.offload(moderation_list, ctx.store, ctx.me)
    return JSONResponse({"items": [entry.to_json() for entry in entries]})


#: (method, path, handler, summary, scope) of the moderation API routes (under ``/api/v1``).
ROUTES: list[tuple[str, str, Callable[[Request], Any], str, str]] = [
    ("GET", "/mutes", get_mutes, "your blocks, mutes and private mutes (pnyx mutes)", "read"),
    ("POST", "/mutes", post_mutes, "mute a key: {key, private?}", "moderate"),
    ("DELETE", "/mutes/{key}", delete_mute, "unmute a key (public and private)", "moderate"),
    ("POST", "/blocks", post_blocks, "block a key: {key}", "moderate"),
    ("DELETE", "/blocks/{key}", delete_block, "unblock a key", "moderate"),
]


def _form_action(action: str) -> Callable[[Request], Any]:
    async def handler(request: Request) -> Response:
        session = _session(request)
        ctx = web_context(request)
        form = await _form(request, session)
        private = action == "mute" and form.get("private") == "on"
        key, target = ctx.signing_key(), form.get("key", "")
        with contextlib.suppress(NothingChangedError):  # the state asked for holds already
            await ctx.offload(_act, ctx.store, key, action, target, private)
        ctx.nudge()
        return _back(form)

    return handler


async def mutes_page(request: Request) -> Response:
    """``/mutes``: every key the user blocks, mutes or mutes privately, with unmute/unblock."""
    session = _session(request)
    ctx = web_context(request)
    entries = await ctx.offload(moderation_list, ctx.store, ctx.me)
    rows = [(e, encode_public_key(e.key)) for e in entries]
    names = await known_names(ctx)
    html = render("mutes.html", session=session, me=_me(ctx), rows=rows, names=names)
    return HTMLResponse(html)


def routes() -> list[Route]:
    forms = [
        Route(f"/{name}", _form_action(name), methods=["POST"])
        for name in ("mute", "unmute", "block", "unblock")
    ]
    return [Route("/mutes", mutes_page), *forms]
