"""The JSON API's ranked reads (``read`` scope; docs/web.md lists them): a feed's page
(``GET /timeline?feed=NAME``, through ``pnyx.web.api``), ``why``, the clusters and the feeds.

Each runs one read of ``pnyx.reads`` (``ranked_timeline``, ``why``, ``clusters``, ``feeds``) in a
worker thread (``WebContext.offload``) with the node's recipes directory, and answers the read's
``to_json``: the same objects ``pnyx why --json``, ``pnyx clusters --json`` and ``pnyx recipes
--json`` print. Failure modes: an unknown feed or a bad recipe file is 400 with ``"feeds"``, the
names that exist (``RecipeError``); an unknown or deleted post 404 (``NotFoundError``); a message
that is not a post, a post the feed does not admit, a bad id, limit or cursor 400 (``UserError``).

**Kept trust.** A node's web app reads with the trust state the node keeps current
(``node.reach.trust.snapshot()``, registered by the node's start-up with ``keep_trust``); the
answers of ``why`` and of a ranked page carry ``trust_age_ms``, how old that state is (null: no
kept state yet, or an app without a node, so the read computed its own).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pnyx import reads
from pnyx.rank.builtins import DEFAULT
from pnyx.rank.recipe import RecipeError
from pnyx.reads.profile import message_views
from pnyx.store import Store
from pnyx.web import read
from pnyx.web.api_reads import limit_of
from pnyx.web.context import WebContext, web_context
from pnyx.web.kept import TrustSource, keep_trust, kept_trust, trust_age_text
from pnyx.web.lookalike import marked

__all__ = ["ROUTES", "TrustSource", "keep_trust", "kept_trust", "trust_age_text"]

if TYPE_CHECKING:
    from pnyx.trust.state import TrustState


async def _reader(request: Request) -> WebContext:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    return ctx


def feed_of(request: Request) -> str:
    """The ``feed`` query parameter (``following`` when absent)."""
    return request.query_params.get("feed", DEFAULT) or DEFAULT


async def unknown_feed(ctx: WebContext, exc: RecipeError) -> Response:
    """400 ``{"error", "feeds"}``: what was wrong and the names of the feeds that load."""
    choices, _ = await ctx.offload(read.feed_choices, ctx.recipes_dir)
    names = [feed.recipe.name for feed in choices]
    return JSONResponse({"error": str(exc), "feeds": names}, status_code=400)


def _page_json(
    store: Store,
    me: bytes,
    feed: str,
    recipes_dir: Path | None,
    limit: int,
    before: str | None,
    trust: tuple[TrustState | None, int | None] = (None, None),
) -> dict[str, Any]:
    from pnyx.errors import UserError
    from pnyx.reads.feed_cursor import parse_page_cursor

    if not 1 <= limit <= read.MAX_PAGE:
        raise UserError(f"limit must be 1..{read.MAX_PAGE} messages")
    cursor = parse_page_cursor(before) if before else None
    state, age_ms = trust
    page = reads.ranked_timeline(
        store, me, feed, limit, cursor, recipes_dir=recipes_dir, trust=state
    )
    views = message_views(store, [item.item for item in page.items])
    items = []
    for view, item in zip(views, page.items, strict=True):
        record = view.to_json()
        if item.score is not None:
            record["score"] = item.score
        items.append(record)
    return {
        "feed": page.recipe.name,
        "recipe_hash": page.recipe.hash,
        "items": items,
        "next_cursor": page.next.to_text() if page.next else None,
        "trust_age_ms": age_ms,
    }


async def get_ranked_timeline(request: Request, ctx: WebContext, feed: str) -> Response:
    """A page of ``feed`` (not ``following``): ``{"feed", "recipe_hash", "items": [message +
    "score"...], "next_cursor"}`` in the recipe's order (the caller authorized it); pass
    ``next_cursor`` as ``before`` for the next page of the same ranking snapshot."""
    limit = limit_of(request, read.DEFAULT_PAGE)
    before = request.query_params.get("before")
    try:
        found = await ctx.offload(
            _page_json, ctx.store, ctx.me, feed, ctx.recipes_dir, limit, before, kept_trust(ctx)
        )
    except RecipeError as exc:
        return await unknown_feed(ctx, exc)
    return JSONResponse(await marked(ctx, found))


def why_json(
    store: Store,
    me: bytes,
    id_text: str,
    feed: str,
    recipes_dir: Path | None,
    trust: tuple[TrustState | None, int | None] = (None, None),
) -> dict[str, object]:
    """``pnyx why ID --feed FEED --json`` plus ``trust_age_ms`` (blocking)."""
    post_id = store.resolve_id(id_text)
    state, age_ms = trust
    found = reads.why(store, me, post_id, feed, recipes_dir=recipes_dir, trust=state).to_json()
    return {**found, "trust_age_ms": age_ms}


async def get_why(request: Request) -> Response:
    ctx = await _reader(request)
    feed = feed_of(request)
    try:
        found = await ctx.offload(
            why_json,
            ctx.store,
            ctx.me,
            request.path_params["id"],
            feed,
            ctx.recipes_dir,
            kept_trust(ctx),
        )
    except RecipeError as exc:
        return await unknown_feed(ctx, exc)
    return JSONResponse(found)


async def get_clusters(request: Request) -> Response:
    ctx = await _reader(request)
    view = await ctx.offload(reads.clusters, ctx.store, ctx.me)
    return JSONResponse(view.to_json())


def feeds_json(recipes_dir: Path | None) -> dict[str, object]:
    """``{"items": [feed...]}``, each as ``pnyx recipes --json`` prints it (blocking)."""
    return {"items": [feed.to_json() for feed in reads.feeds(recipes_dir)]}


async def get_feeds(request: Request) -> Response:
    ctx = await _reader(request)
    return JSONResponse(await ctx.offload(feeds_json, ctx.recipes_dir))


#: (method, path, handler, summary) of the ranked reads; ``pnyx.web.api.ROUTES`` includes them.
ROUTES: list[tuple[str, str, Callable[[Request], Any], str]] = [
    ("GET", "/why/{id}", get_why, "why a post is where it is on a feed: feed? (pnyx why --json)"),
    ("GET", "/clusters", get_clusters, "identities that repost and react together"),
    ("GET", "/feeds", get_feeds, "the feeds to choose from, with recipe hashes"),
]
