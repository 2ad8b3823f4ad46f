"""The pages over ``pnyx.reads``: a profile (``/u/{key}``), search with "people you may know",
notifications, the network; and the forms behind the profile's buttons (unfollow, set your name
and bio). Helpers (sessions, forms, rendering) are those of ``pnyx.web.pages``.

Every read runs in a worker thread (``WebContext.offload``); every write goes through
``pnyx.ops`` and nudges the node. Failure modes: no session 401, a wrong CSRF token 403 (both
``HTTPException``); a bad key text or query, a refused operation 400 (``UserError``), rendered as
a small error page by ``pnyx.web.app``.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from pnyx import ops, reads
from pnyx.crypto.keytext import parse_public_key
from pnyx.reads.policy import load_policy
from pnyx.reads.profile import DEFAULT_PROFILE_PAGE
from pnyx.views import NodeStatus
from pnyx.web import seen
from pnyx.web.api_reads import DEFAULT_RESULTS, search_json
from pnyx.web.context import web_context
from pnyx.web.kept import kept_state
from pnyx.web.pages import _back, _form, _me, _session, known_names, render

if TYPE_CHECKING:
    from nacl.signing import SigningKey

    from pnyx.store import Store
    from pnyx.trust.state import TrustState


def _profile_page(
    store: Store, me: bytes, key: bytes, before: str | None, trust: TrustState | None = None
) -> dict[str, Any]:
    policy = load_policy(store, me)
    return {
        "profile": reads.profile(store, me, key, DEFAULT_PROFILE_PAGE, before),
        "trust": reads.trust_report(store, me, key, trust=trust).to_json(),
        "moderation": {
            "blocked": key in policy.blocked,
            "muted": key in policy.muted,
            "private": key in policy.private,
        },
    }


async def profile(request: Request) -> Response:
    """``/u/{key}``: name, bio, key and fingerprint, follow/unfollow, mute/block (and whether you
    do), trust, posts; on your own profile, the form that sets your name and bio."""
    session = _session(request)
    ctx = web_context(request)
    key = parse_public_key(request.path_params["key"])
    found = await ctx.offload(
        _profile_page, ctx.store, ctx.me, key, request.query_params.get("before"), kept_state(ctx)
    )
    html = render(
        "profile.html",
        session=session,
        me=_me(ctx),
        names=await known_names(ctx),
        **found,
        **await _queued(request),
    )
    return HTMLResponse(html)


async def _queued(request: Request) -> dict[str, Any]:
    """The template values of the offline notice: the ids (hex) of posts waiting for a peer."""
    ctx = web_context(request)
    offline = await ctx.offline()
    return {"queued": frozenset(i.hex() for i in ctx.queued) if offline else frozenset()}


async def search(request: Request) -> Response:
    """``/search?q=&author=``: people then posts matching all the words; with no query, only
    the form and "people you may know"."""
    session = _session(request)
    ctx = web_context(request)
    query = request.query_params.get("q", "").strip()
    author_text = request.query_params.get("author", "").strip()
    found = None
    if query:
        author = parse_public_key(author_text) if author_text else None
        found = await ctx.offload(
            search_json, ctx.store, ctx.me, query, author, DEFAULT_RESULTS, kept_state(ctx)
        )
    suggest = functools.partial(reads.suggest, trust=kept_state(ctx))
    suggestions = await ctx.offload(suggest, ctx.store, ctx.me, DEFAULT_RESULTS)
    html = render(
        "search.html",
        session=session,
        me=_me(ctx),
        query=query,
        author=author_text,
        found=found,
        suggestions=suggestions,
        names=await known_names(ctx),
    )
    return HTMLResponse(html)


async def notifications(request: Request) -> Response:
    session = _session(request)
    ctx = web_context(request)
    found = await ctx.offload(reads.notifications, ctx.store, ctx.me)
    unread = await ctx.offload(seen.unread_ids, ctx.store, found)
    html = render(
        "notifications.html",
        session=session,
        me=_me(ctx),
        items=found,
        unread=unread,
        names=await known_names(ctx),
        **await _queued(request),
    )
    return HTMLResponse(html)


async def network(request: Request) -> Response:
    """Peers (and how each is connected), sync progress, the invite and addresses to give a
    friend."""
    session = _session(request)
    ctx = web_context(request)
    raw = await ctx.status()
    status = NodeStatus.from_json(raw) if raw else None
    progress = await ctx.offload(reads.sync_progress, ctx.store, ctx.me)
    invite = reads.invite_text(ctx.me, status)
    html = render(
        "network.html",
        session=session,
        me=_me(ctx),
        status=status,
        progress=progress,
        invite=invite,
    )
    return HTMLResponse(html)


def _unfollow(store: Store, key: SigningKey, form: dict[str, str]) -> object:
    return ops.unfollow(store, key, form.get("key", ""))


def _set_profile(store: Store, key: SigningKey, form: dict[str, str]) -> object:
    bio = form.get("bio", "").replace("\r\n", "\n")  # browsers send CRLF line ends
    return ops.profile(store, key, name=form.get("name", ""), bio=bio)


async def _run_form(request: Request, action: Any) -> Response:
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    await ctx.offload(action, ctx.store, ctx.signing_key(), form)
    ctx.nudge()
    return _back(form)


async def unfollow_form(request: Request) -> Response:
    return await _run_form(request, _unfollow)


async def profile_form(request: Request) -> Response:
    return await _run_form(request, _set_profile)


def routes() -> list[Route]:
    return [
        Route("/u/{key}", profile),
        Route("/search", search),
        Route("/notifications", notifications),
        Route("/network", network),
        Route("/unfollow", unfollow_form, methods=["POST"]),
        Route("/profile", profile_form, methods=["POST"]),
    ]
