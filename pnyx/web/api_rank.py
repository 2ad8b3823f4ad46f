"""The JSON API's ranked reads (``read`` scope; docs/web.md lists them): a feed's page
(``GET /timeline?feed=NAME``, through ``pnyx.web.api``), ``why``, the clusters and the feeds.

Each runs one read of ``pnyx.reads`` (``ranked_timeline``, ``why``, ``clusters``, ``feeds``) in a
worker thread (``WebContext.offload``) with the node's recipes directory, and answers the read's
``to_json``: the same objects ``pnyx why --json``, ``pnyx clusters --json`` and ``pnyx recipes
--json`` print. Failure modes: an unknown feed or a bad recipe file is 400 with ``"feeds"``, the
names that exist (``RecipeError``); an unknown or deleted post 404 (``NotFoundError``); a message
that is not a post, a post the feed does not admit, a bad id, limit or cursor 400 (``UserError``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from pnyx import reads
from pnyx.rank.builtins import DEFAULT
from pnyx.rank.recipe import RecipeError
from pnyx.store import Store
from pnyx.web import read
from pnyx.web.api_reads import limit_of
from pnyx.web.context import WebContext, web_context


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
    store: Store, me: bytes, feed: str, recipes_dir: Path | None, limit: int, before: str | None
) -> dict[str, Any]:
    recipe, scored, cursor = read.ranked(store, me, feed, recipes_dir, limit, before)
    items = []
    for view, score in scored:
        record = view.to_json()
        if score is not None:
            record["score"] = score
        items.append(record)
    return {"feed": recipe.name, "recipe_hash": recipe.hash, "items": items, "next_cursor": cursor}


async def get_ranked_timeline(request: Request, ctx: WebContext, feed: str) -> Response:
    """A page of ``feed`` (not ``following``): ``{"feed", "recipe_hash", "items": [message +
    "score"...], "next_cursor": null}`` in the recipe's order (the caller authorized it)."""
    limit = limit_of(request, read.DEFAULT_PAGE)
    before = request.query_params.get("before")
    try:
        found = await ctx.offload(
            _page_json, ctx.store, ctx.me, feed, ctx.recipes_dir, limit, before
        )
    except RecipeError as exc:
        return await unknown_feed(ctx, exc)
    return JSONResponse(found)


def why_json(
    store: Store, me: bytes, id_text: str, feed: str, recipes_dir: Path | None
) -> dict[str, object]:
    """``pnyx why ID --feed FEED --json`` (blocking)."""
    post_id = store.resolve_id(id_text)
    return reads.why(store, me, post_id, feed, recipes_dir=recipes_dir).to_json()


async def get_why(request: Request) -> Response:
    ctx = await _reader(request)
    feed = feed_of(request)
    try:
        found = await ctx.offload(
            why_json, ctx.store, ctx.me, request.path_params["id"], feed, ctx.recipes_dir
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
