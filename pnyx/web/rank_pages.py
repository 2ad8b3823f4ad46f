"""The pages of ranking: why a post is on a feed (``/why/{id}?feed=NAME``), the clusters
(``/clusters``, what ``pnyx clusters`` shows); the feeds page (``/feeds``) is ``pnyx.web.recipes``.
The ranked timeline itself is ``pnyx.web.pages.timeline``.

Each runs one read of ``pnyx.reads`` (``why``, ``clusters``, ``feeds``) in a worker thread and
renders it; nothing is ranked here. People are shown by name (escaped, bidi-isolated) and
fingerprint, the user as "you". Failure modes: no session 401 (``HTTPException``); an unknown
feed or a bad recipe file 400 naming the feeds (``RecipeError``); an unknown or deleted post 404
(``NotFoundError``); a message that is not a post or a post the feed does not admit 400
(``UserError``): rendered as a small error page by ``pnyx.web.app``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pnyx import reads
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.rank.builtins import DEFAULT
from pnyx.reads.trust import names_of
from pnyx.store import Store
from pnyx.views import MessageView
from pnyx.web.api_rank import kept_trust, trust_age_text
from pnyx.web.context import web_context
from pnyx.web.less import marked
from pnyx.web.pages import _me, _session, known_names, render

if TYPE_CHECKING:
    from pnyx.trust.state import TrustState

#: Seconds per day (the cluster window is shown in days).
S_PER_DAY = 86400


@dataclass(frozen=True)
class Person:
    """Someone as a page shows them: key text (for links), name (escaped by the template),
    fingerprint, and whether it is the user."""

    key: str
    name: str | None
    fingerprint: str
    you: bool


def _people(
    keys: Iterable[bytes], names: Mapping[bytes, str | None], me: bytes
) -> dict[bytes, Person]:
    return {k: Person(encode_public_key(k), names.get(k), fingerprint(k), k == me) for k in keys}


def why_page(
    store: Store,
    me: bytes,
    id_text: str,
    feed: str,
    recipes_dir: Path | None,
    trust: tuple[TrustState | None, int | None] = (None, None),
) -> dict[str, Any]:
    """The template values of ``/why/{id}`` (blocking): the ``WhyView``, the post's message view,
    the people on the source path, the collapsed clusters' members, and how old the trust state
    is (``trust_age``: "trust as of 3 s ago")."""
    post_id = store.resolve_id(id_text)
    state, age_ms = trust
    view = reads.why(store, me, post_id, feed, recipes_dir=recipes_dir, trust=state)
    clusters = [(c, [bytes.fromhex(a) for a in c.actors]) for c in view.explanation.collapsed]
    keys = {view.item.author, *view.source.path, *(a for _, actors in clusters for a in actors)}
    names = {**names_of(store, keys - view.names.keys()), **view.names}
    people = _people(keys, names, me)
    message = MessageView.of(view.item.message, store.profile(view.item.author))
    return {
        "why": view,
        "post": message,
        "author": people[view.item.author],
        "path": [people[k] for k in view.source.path[1:-1]],
        "collapsed": [(c, [people[a] for a in actors]) for c, actors in clusters],
        "trust_age": trust_age_text(age_ms),
        "less_marked": marked(store, post_id),
    }


async def why(request: Request) -> Response:
    session = _session(request)
    ctx = web_context(request)
    feed = request.query_params.get("feed", DEFAULT) or DEFAULT
    found = await ctx.offload(
        why_page,
        ctx.store,
        ctx.me,
        request.path_params["id"],
        feed,
        ctx.recipes_dir,
        kept_trust(ctx),
    )
    names = await known_names(ctx)
    html = render("why.html", session=session, me=_me(ctx), feed=feed, names=names, **found)
    return HTMLResponse(html)


def clusters_page(store: Store, me: bytes) -> dict[str, Any]:
    """The template values of ``/clusters`` (blocking): each cluster's members as people."""
    view = reads.clusters(store, me)
    groups = view.groups()
    keys = {k for _, members in groups for k in members}
    people = _people(keys, view.names, me)
    return {
        "groups": [[people[k] for k in members] for _, members in groups],
        "actions": view.actions,
        "days": view.window_s // S_PER_DAY,
    }


async def clusters(request: Request) -> Response:
    session = _session(request)
    ctx = web_context(request)
    found = await ctx.offload(clusters_page, ctx.store, ctx.me)
    names = await known_names(ctx)
    html = render("clusters.html", session=session, me=_me(ctx), names=names, **found)
    return HTMLResponse(html)


def routes() -> list[Route]:
    return [
        Route("/why/{id}", why),
        Route("/clusters", clusters),
    ]
