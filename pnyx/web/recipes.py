"""Published recipes on the web (docs/ranking.md, "Published recipes"; docs/web.md): the JSON API
(``POST /api/v1/recipes/{name}/publish``, ``POST /api/v1/recipes/subscribe`` ``{hash}``, ``GET
/api/v1/recipes``) and the feeds page's forms (``POST /feeds/publish``, ``POST
/feeds/subscribe``).

Every change goes through ``pnyx.ops.recipes`` (the CLI's ``pnyx recipes publish`` and ``pnyx
recipes subscribe``): publishing signs a ``recipe`` message (and nudges the node); subscribing
validates the held message's bytes (``pnyx.rank.recipe.from_canonical``) and installs the recipe
file, running nothing. API writes need the ``write`` scope, the list ``read``. Failure modes: an
unknown feed, a refused (malformed or hostile) published recipe, a name clash or a bad hash is
400 with the operation's words (``RecipeError``, ``UserError``); a hash no held message carries
404 (``NotFoundError``); subscribing to a recipe installed already 409 on the API
(``NothingChangedError``), a note on the page. The page's subscribe form shows its error inline
(400, the feeds page again) and goes to ``/feeds`` on success.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pnyx.errors import NothingChangedError, UserError
from pnyx.ops.recipes import publish_recipe, subscribe_recipe
from pnyx.ops.write import SignerLike
from pnyx.reads import feeds
from pnyx.reads.recipes import load
from pnyx.store import Store
from pnyx.web.context import web_context
from pnyx.web.pages import _form, _me, _session, render


def _publish(
    store: Store, key: SignerLike, recipes_dir: Path | None, name: str
) -> dict[str, object]:
    """Sign feed ``name``'s recipe (blocking): the new message view plus ``recipe_hash``."""
    recipe = load(recipes_dir, name)
    view = publish_recipe(store, key, recipe)
    return {**view.to_json(), "recipe_hash": recipe.hash}


def _subscribe(store: Store, recipes_dir: Path | None, hash_text: str) -> dict[str, object]:
    """Install the published recipe ``hash_text`` (blocking): name, hash, publisher, id, path."""
    if recipes_dir is None:
        raise UserError("this app has no recipes directory; subscribe with pnyx recipes")
    done = subscribe_recipe(store, recipes_dir, hash_text).to_json()
    return {**done, "publisher": done["author"]}


def _list(recipes_dir: Path | None) -> dict[str, object]:
    """``{"items": [feed...]}`` with ``origin``: built in, file or subscribed (blocking)."""
    items = []
    for feed in feeds(recipes_dir):
        origin = "built in" if feed.path is None else "subscribed" if feed.publisher else "file"
        items.append({**feed.to_json(), "origin": origin})
    return {"items": items}


async def publish_api(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "write")
    key = ctx.signing_key()
    name = request.path_params["name"]
    done = await ctx.offload(_publish, ctx.store, key, ctx.recipes_dir, name)
    ctx.nudge()
    return JSONResponse(done, status_code=201)


async def subscribe_api(request: Request) -> Response:
    from pnyx.web.api import _body, _string

    ctx = web_context(request)
    await ctx.authorize(request, "write")
    hash_text = _string(await _body(request), "hash")
    try:
        done = await ctx.offload(_subscribe, ctx.store, ctx.recipes_dir, hash_text)
    except NothingChangedError as exc:
        raise HTTPException(409, str(exc)) from None
    return JSONResponse(done, status_code=201)


async def list_api(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    return JSONResponse(await ctx.offload(_list, ctx.recipes_dir))


#: (method, path, handler, summary) of the API routes (under ``/api/v1``).
ROUTES: list[tuple[str, str, Callable[[Request], Any], str]] = [
    ("GET", "/recipes", list_api, "built-in, file and subscribed recipes: hash, publisher"),
    ("POST", "/recipes/{name}/publish", publish_api, "sign and publish a feed's recipe"),
    ("POST", "/recipes/subscribe", subscribe_api, "install a published recipe: {hash}"),
]


async def feeds_page(
    request: Request,
    *,
    error: str | None = None,
    note: str | None = None,
    typed: str = "",
    status: int = 200,
) -> Response:
    """``/feeds``: every feed, a Publish button beside each file recipe, the subscribe form."""
    session = _session(request)
    ctx = web_context(request)
    found = await ctx.offload(feeds, ctx.recipes_dir)
    query = request.query_params
    if note is None and query.get("published"):
        note = f"Published {query['published']}: others subscribe with its hash."
    elif note is None and query.get("subscribed"):
        note = f"Subscribed to {query['subscribed']}: choose it in the feed switcher."
    html = render(
        "feeds.html",
        session=session,
        me=_me(ctx),
        feeds=found,
        error=error,
        note=note,
        typed=typed,
        can_subscribe=ctx.recipes_dir is not None,
    )
    return HTMLResponse(html, status_code=status)


def _done(what: str, name: object) -> RedirectResponse:
    """303 to ``/feeds?WHAT=NAME`` (post/redirect/get; the page says what was done)."""
    return RedirectResponse(f"/feeds?{what}={quote(str(name))}", status_code=303)


async def publish_form(request: Request) -> Response:
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    key = ctx.signing_key()
    await ctx.offload(_publish, ctx.store, key, ctx.recipes_dir, form.get("name", ""))
    ctx.nudge()
    return _done("published", form.get("name", ""))


async def subscribe_form(request: Request) -> Response:
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    try:
        done = await ctx.offload(_subscribe, ctx.store, ctx.recipes_dir, form.get("hash", ""))
    except NothingChangedError as exc:
        return await feeds_page(request, note=str(exc))
    except UserError as exc:  # refused, unknown (NotFoundError), a bad hash: said inline
        return await feeds_page(request, error=str(exc), typed=form.get("hash", ""), status=400)
    return _done("subscribed", done["name"])


def routes() -> list[Route]:
    return [
        Route("/feeds", feeds_page),
        Route("/feeds/publish", publish_form, methods=["POST"]),
        Route("/feeds/subscribe", subscribe_form, methods=["POST"]),
    ]
