"""The JSON API under ``/api/v1/`` (docs/web.md lists every route; so does ``openapi.json``).

Reads need the ``read`` scope, writes ``write`` (mutes and blocks ``moderate``:
``pnyx.web.moderation``). Messages are ``MessageView.to_json`` objects,
exactly what the CLI prints with ``--json``. Every write goes through ``pnyx.ops`` (the same rules
as the CLI), is committed before the answer (201 with the new message), and nudges the node to
publish at once. Errors are ``{"error": "..."}`` with 400 (the user's mistake, a malformed body),
401, 403, 404 (unknown id), 415 (not JSON: ``pnyx.web.guard``).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from pnyx import ops
from pnyx.errors import NothingChangedError
from pnyx.rank.builtins import DEFAULT
from pnyx.views import MessageView, NodeStatus
from pnyx.web import (
    api_rank,
    api_reads,
    labels,
    less,
    moderation,
    notes,
    polls,
    read,
    recipes,
    seen,
)
from pnyx.web.api_reads import PREFIX
from pnyx.web.context import web_context
from pnyx.web.lookalike import marked

__all__ = ["PREFIX", "ROUTES", "openapi", "routes"]


async def _body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body())
    except (ValueError, RecursionError):
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise HTTPException(400, "the body must be a JSON object")
    return body


def _string(body: dict[str, Any], name: str, *, required: bool = True) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str):
        raise HTTPException(400, f'"{name}" must be a string')
    return value


def _flag(body: dict[str, Any], name: str, default: bool) -> bool:
    """``body[name]`` if it is true or false, ``default`` if absent; else 400."""
    value = body.get(name, default)
    if not isinstance(value, bool):
        raise HTTPException(400, f'"{name}" must be true or false')
    return value


async def _write(
    request: Request,
    action: Callable[..., MessageView],
    args: Callable[[], Awaitable[tuple[Any, ...]]],
    *,
    scope: str = "write",
    conflict: bool = False,
) -> Response:
    """Authorize a write first (``scope``), then read its arguments (``args``), run ``action``
    on the store in a worker thread, nudge the node, and answer 201 with the new message.
    ``conflict``: the state asked for holding already (``NothingChangedError``) is 409."""
    ctx = web_context(request)
    await ctx.authorize(request, scope)
    key = ctx.signing_key()
    values = await args()
    try:
        view: MessageView = await ctx.offload(action, ctx.store, key, *values)
    except NothingChangedError as exc:
        if not conflict:
            raise
        raise HTTPException(409, str(exc)) from None
    ctx.nudge()
    record = view.to_json()
    if view.kind == "post" and await ctx.offline():
        ctx.queued.add(view.id)
        record["queued"] = True  # no peer now: it is sent when the node connects
    return JSONResponse(record, status_code=201)


async def get_timeline(request: Request) -> Response:
    """``following`` (no ``feed``, or ``feed=following``): newest first with a cursor; any other
    feed: ``pnyx.web.api_rank.get_ranked_timeline`` (items carry ``score``)."""
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    feed = api_rank.feed_of(request)
    if feed != DEFAULT:
        return await api_rank.get_ranked_timeline(request, ctx, feed)
    limit_text = request.query_params.get("limit", str(read.DEFAULT_PAGE))
    if not limit_text.isdigit():
        raise HTTPException(400, f"limit must be 1..{read.MAX_PAGE} messages")
    records, cursor = await ctx.offload(
        read.timeline, ctx.store, ctx.me, int(limit_text), request.query_params.get("before")
    )
    return JSONResponse(await marked(ctx, {"items": records, "next_cursor": cursor}))


async def get_thread(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    rows, _ = await ctx.offload(read.thread, ctx.store, ctx.me, request.path_params["id"])
    items = [{**v.to_json(), "depth": depth} for v, depth, hidden in rows if hidden is None]
    found = await marked(ctx, {"items": items})
    return JSONResponse(found)  # as `pnyx thread --json`: hidden replies left out


async def get_status(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    status = await ctx.status()
    return JSONResponse(NodeStatus.from_json(status).to_json() if status else {})


def _post(store: Any, key: Any, text: str, reply_to: str | None) -> MessageView:
    return ops.post(store, key, text, reply_to=reply_to)


def _like(store: Any, key: Any, target: str, reaction: str) -> MessageView:
    return ops.like(store, key, target, reaction=reaction)


async def post_posts(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        body = await _body(request)
        return _string(body, "text"), _string(body, "reply_to", required=False)

    return await _write(request, _post, args)


async def post_likes(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        body = await _body(request)
        return _string(body, "id"), _string(body, "reaction", required=False) or ops.LIKE

    return await _write(request, _like, args)


def _field(request: Request, name: str) -> Callable[[], Awaitable[tuple[Any, ...]]]:
    async def args() -> tuple[Any, ...]:
        return (_string(await _body(request), name),)

    return args


async def post_reposts(request: Request) -> Response:
    return await _write(request, ops.repost, _field(request, "id"))


async def post_follows(request: Request) -> Response:
    return await _write(request, ops.follow, _field(request, "key"))


async def delete_follow(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        return (request.path_params["key"],)

    return await _write(request, ops.unfollow, args)


def _profile(store: Any, key: Any, name: str | None, bio: str | None) -> MessageView:
    return ops.profile(store, key, name=name, bio=bio)


async def put_profile(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        body = await _body(request)
        return _string(body, "name", required=False), _string(body, "bio", required=False)

    return await _write(request, _profile, args)


async def delete_post(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        return (request.path_params["id"],)

    return await _write(request, ops.delete, args)


async def delete_like(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        return (request.path_params["id"],)

    return await _write(request, ops.unlike, args)


async def delete_repost(request: Request) -> Response:
    async def args() -> tuple[Any, ...]:
        return (request.path_params["id"],)

    return await _write(request, ops.unrepost, args)


async def get_openapi(request: Request) -> Response:
    return JSONResponse(openapi())


#: (method, path, handler, summary) of every API route.
ROUTES: list[tuple[str, str, Callable[[Request], Any], str]] = [
    ("GET", "/timeline", get_timeline, "a feed: following (newest first) or feed=NAME (scored)"),
    ("GET", "/thread/{id}", get_thread, "a post's thread in reading order, with depths"),
    ("GET", "/status", get_status, "the running node's status (pnyx status --json)"),
    ("POST", "/posts", post_posts, "post: {text, reply_to?}"),
    ("POST", "/likes", post_likes, "like a post: {id, reaction?}"),
    ("POST", "/reposts", post_reposts, "repost a post: {id}"),
    ("POST", "/follows", post_follows, "follow a key: {key}"),
    ("DELETE", "/posts/{id}", delete_post, "delete one of your posts"),
    ("DELETE", "/follows/{key}", delete_follow, "unfollow a key"),
    ("DELETE", "/likes/{id}", delete_like, "unlike a post: delete your reactions to it"),
    ("DELETE", "/reposts/{id}", delete_repost, "undo your repost of a post"),
    ("PUT", "/profile", put_profile, "set your name and/or bio: {name?, bio?}"),
    *api_reads.ROUTES,
    *api_rank.ROUTES,
    *recipes.ROUTES,
    *((method, path, handler, summary) for method, path, handler, summary, _ in moderation.ROUTES),
    ("GET", "/notifications/unread", seen.unread_route, "notifications newer than the seen mark"),
    ("POST", "/notifications/seen", seen.seen_api, "mark every notification as seen"),
    *((method, path, handler, summary) for method, path, handler, summary, _ in less.ROUTES),
    *((method, path, handler, summary) for method, path, handler, summary, _ in polls.ROUTES),
    *((method, path, handler, summary) for method, path, handler, summary, _ in labels.ROUTES),
    *((method, path, handler, summary) for method, path, handler, summary, _ in notes.ROUTES),
    ("GET", "/openapi.json", get_openapi, "this description"),
]
#: The scope of each route not read or write by its method.
_SCOPES = {
    (method, path): scope
    for method, path, _, _, scope in (
        *moderation.ROUTES,
        *polls.ROUTES,
        *labels.ROUTES,
        *notes.ROUTES,
    )
}


def routes() -> list[Route]:
    return [Route(PREFIX + path, handler, methods=[method]) for method, path, handler, _ in ROUTES]


def openapi() -> dict[str, Any]:
    """A hand-written OpenAPI 3.1 description listing every route of ``ROUTES``."""
    paths: dict[str, dict[str, Any]] = {}
    for method, path, _, summary in ROUTES:
        scope = _SCOPES.get((method, path), "read" if method == "GET" else "write")
        operation: dict[str, Any] = {
            "summary": summary,
            "responses": {"200" if method == "GET" else "201": {"description": "ok"}},
        }
        if path != "/openapi.json":
            operation["security"] = [{"bearer": [scope]}]
        paths.setdefault(PREFIX + path, {})[method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "pnyx local API", "version": "1"},
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}}},
        "paths": paths,
    }
