"""The JSON API's reads over ``pnyx.reads``: profiles, trust, search, suggestions,
notifications, peers (all need the ``read`` scope; docs/web.md lists them).

Each parses its path and query, runs one read in a worker thread (``WebContext.offload``: SQLite
never blocks the trio loop) and answers the read's ``to_json``. Failure modes: a bad key text,
limit or cursor, an empty query: 400 (``UserError``); 401 / 403 as every API route. Trust,
search and suggest use the node's kept trust state (``pnyx.web.kept``) when there is one.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pnyx import reads
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.reads.notify import DEFAULT_NOTIFICATIONS
from pnyx.reads.profile import DEFAULT_PROFILE_PAGE
from pnyx.reads.search import SearchHit
from pnyx.store import Store
from pnyx.views import MessageView, NodeStatus
from pnyx.web import seen
from pnyx.web.context import WebContext, web_context
from pnyx.web.kept import kept_state
from pnyx.web.lookalike import marked

if TYPE_CHECKING:
    from pnyx.trust.state import TrustState

#: The API's path prefix.
PREFIX = "/api/v1"
#: Results of each sort a search or suggestion list answers by default, a count.
DEFAULT_RESULTS = 20


def limit_of(request: Request, default: int) -> int:
    """The ``limit`` query parameter (digits only, else 400); ranges are the reads' business."""
    text = request.query_params.get("limit", str(default))
    if not text.isdigit():
        raise HTTPException(400, "limit must be a positive whole number")
    return int(text)


async def _reader(request: Request) -> WebContext:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    return ctx


def hit_json(store: Store, hit: SearchHit) -> dict[str, object]:
    """A search hit as ``pnyx search --json`` prints it: score parts plus the message or person."""
    found = hit.parts_json()
    if hit.item is not None:
        message = hit.item.message
        found.update(MessageView.of(message, store.profile(message.author)).to_json())
    elif hit.profile is not None:
        found.update(key=encode_public_key(hit.author), name=hit.profile.name, bio=hit.profile.bio)
    return found


def search_json(
    store: Store,
    me: bytes,
    query: str,
    author: bytes | None,
    limit: int,
    trust: TrustState | None = None,
) -> dict[str, Any]:
    """``{"people": [...], "posts": [...]}`` of ``reads.search`` (blocking; ``trust``: the node's
    kept state, ``pnyx.web.kept``)."""
    results = reads.search(store, me, query, author, limit, trust=trust)
    return {
        "people": [hit_json(store, hit) for hit in results.people],
        "posts": [hit_json(store, hit) for hit in results.posts],
    }


async def get_profile(request: Request) -> Response:
    ctx = await _reader(request)
    key = parse_public_key(request.path_params["key"])
    limit = limit_of(request, DEFAULT_PROFILE_PAGE)
    view = await ctx.offload(
        reads.profile, ctx.store, ctx.me, key, limit, request.query_params.get("before")
    )
    return JSONResponse(await marked(ctx, view.to_json()))


async def get_trust(request: Request) -> Response:
    ctx = await _reader(request)
    key = parse_public_key(request.path_params["key"])
    view = await ctx.offload(
        functools.partial(reads.trust_report, trust=kept_state(ctx)), ctx.store, ctx.me, key
    )
    return JSONResponse(view.to_json())


async def get_search(request: Request) -> Response:
    ctx = await _reader(request)
    author_text = request.query_params.get("author")
    author = parse_public_key(author_text) if author_text else None
    query = request.query_params.get("q", "")
    limit = limit_of(request, DEFAULT_RESULTS)
    state = kept_state(ctx)
    found = await ctx.offload(search_json, ctx.store, ctx.me, query, author, limit, state)
    return JSONResponse(await marked(ctx, found))


async def get_suggest(request: Request) -> Response:
    ctx = await _reader(request)
    limit = limit_of(request, DEFAULT_RESULTS)
    suggest = functools.partial(reads.suggest, trust=kept_state(ctx))
    found = await ctx.offload(suggest, ctx.store, ctx.me, limit)
    return JSONResponse({"items": [item.to_json() for item in found]})


async def get_notifications(request: Request) -> Response:
    ctx = await _reader(request)
    limit = limit_of(request, DEFAULT_NOTIFICATIONS)
    found = await ctx.offload(reads.notifications, ctx.store, ctx.me, limit)
    unread = await ctx.offload(seen.unread_ids, ctx.store, found)
    items = [{**n.to_json(), "unread": n.message.id.hex() in unread} for n in found]
    return JSONResponse(await marked(ctx, {"items": items}))


async def get_peers(request: Request) -> Response:
    """The connected peers and sync progress (``peers`` empty when the node reports no status)."""
    ctx = await _reader(request)
    status = await ctx.status()
    progress = await ctx.offload(reads.sync_progress, ctx.store, ctx.me)
    peers = [peer.to_json() for peer in NodeStatus.from_json(status).peers] if status else []
    return JSONResponse({"peers": peers, "sync": progress.to_json()})


#: (method, path, handler, summary) of the read routes; ``pnyx.web.api.ROUTES`` includes them.
ROUTES: list[tuple[str, str, Callable[[Request], Any], str]] = [
    ("GET", "/profiles/{key}", get_profile, "a profile: name, bio, key, fingerprint, posts"),
    ("GET", "/trust/{key}", get_trust, "the trust report of a key: score, hops, paths, signals"),
    ("GET", "/search", get_search, "search posts and people: q, author?, limit?"),
    ("GET", "/suggest", get_suggest, "people you may know, with the reasons: limit?"),
    ("GET", "/notifications", get_notifications, "replies, mentions, new followers: limit?"),
    ("GET", "/peers", get_peers, "connected peers and sync progress"),
]
