"""Labels and labellers on the web: the "Labels" page (``/labels``: the labellers the user
subscribes to with the action of each value, the add and remove forms), the "Label" form of a
post on the thread page (``POST /label``), and the JSON API (``/api/v1/labellers``,
``/api/v1/labels``). See ``docs/moderation.md`` ("Labels and labellers") and ``docs/web.md``.

Every change goes through ``pnyx.ops`` (``label``, ``subscribe_labeller``,
``unsubscribe_labeller``: the rules of ``pnyx label`` and ``pnyx labellers``) and nudges the node,
which reloads its policy. A subscription is a row of this home's store (never signed or
published); a label is a signed message. API writes need a token with the ``moderate`` scope, as
mutes (a browser session labels through the forms, with its CSRF token); ``GET
/api/v1/labellers`` needs ``read``.

Failure modes: a refused add (a bad key, yourself, a key you block, a bad action value, the
limit) is said inline beside what was typed (400); a refused label (not a post, a bad value) is the
400 error page; asking for what holds already (labelling again, retracting what is not labelled,
removing a labeller not subscribed to) just goes back on a form and is 409 on the API; an unknown
post is 404.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from pnyx import ops
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NothingChangedError, UserError
from pnyx.reads.labels import labeller_list
from pnyx.trust.labels import ACTIONS
from pnyx.web.context import WebContext, web_context
from pnyx.web.pages import _back, _form, _me, _session, known_names, render
from pnyx.web.sessions import Session

_SEPARATORS = re.compile(r"[\s,]+")


def actions_of(fields: dict[str, str]) -> dict[str, str]:
    """The actions typed in the add form: ``hide``, ``warn``, ``ignore`` fields, each a list of
    values separated by blanks or commas (a value in two lists: the later action wins)."""
    chosen: dict[str, str] = {}
    for action in ACTIONS:
        for value in _SEPARATORS.split(fields.get(action, "")):
            if value:
                chosen[value] = action
    return chosen


async def _page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    typed: dict[str, str] | None = None,
    status: int = 200,
) -> Response:
    ctx = web_context(request)
    entries = await ctx.offload(labeller_list, ctx.store)
    rows = [(e, encode_public_key(e.key)) for e in entries]
    html = render(
        "labels.html",
        session=session,
        me=_me(ctx),
        rows=rows,
        error=error,
        typed=typed or {"key": "", "hide": "", "warn": "", "ignore": ""},
        names=await known_names(ctx),
    )
    return HTMLResponse(html, status_code=status)


async def labels_page(request: Request) -> Response:
    """``/labels``: the labellers subscribed to, with the add and remove forms."""
    return await _page(request, _session(request))


async def _subscriptions_changed(ctx: WebContext) -> None:
    """A labeller subscribed to or dropped: the node reloads its policy and its interest set
    (the labeller's feed is fetched at once)."""
    ctx.nudge()
    await ctx.refresh_interest()


async def add_form(request: Request) -> Response:
    """``POST /labellers`` (``key``, ``hide``, ``warn``, ``ignore``): subscribe (or change the
    actions); 303 to ``/labels``, or the page with the refusal inline (400)."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    typed = {name: form.get(name, "") for name in ("key", "hide", "warn", "ignore")}
    try:
        await ctx.offload(
            ops.subscribe_labeller, ctx.store, ctx.me, typed["key"], actions_of(typed)
        )
    except UserError as exc:
        return await _page(request, session, error=str(exc), typed=typed, status=400)
    await _subscriptions_changed(ctx)
    return _back({"next": "/labels"})


async def remove_form(request: Request) -> Response:
    """``POST /labellers/remove`` (``key``): stop applying its labels; 303 to ``/labels``."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    with contextlib.suppress(NothingChangedError):  # not subscribed: the state asked for holds
        await ctx.offload(ops.unsubscribe_labeller, ctx.store, form.get("key", ""))
    await _subscriptions_changed(ctx)
    return _back({"next": "/labels"})


async def label_form(request: Request) -> Response:
    """``POST /label`` (``subject``: a post id or key, ``value``, ``retract=on``): sign the label
    (or its retraction); 303 to ``next``."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    key = ctx.signing_key()
    retract = form.get("retract") == "on"
    with contextlib.suppress(NothingChangedError):  # labelled so already, or not labelled
        await ctx.offload(
            _label, ctx.store, key, form.get("subject", ""), form.get("value", ""), retract
        )
    ctx.nudge()
    return _back(form)


def _label(store: Any, key: Any, subject: str, value: str, neg: bool) -> Any:
    return ops.label(store, key, subject, value, neg=neg)


async def api_labellers(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    entries = await ctx.offload(labeller_list, ctx.store)
    return JSONResponse({"items": [entry.to_json() for entry in entries]})


async def api_subscribe(request: Request) -> Response:
    """``{key, actions?: {value: hide|warn|ignore}}``; 201 with the subscription's entry."""
    from pnyx.web.api import _body, _string

    ctx = web_context(request)
    await ctx.authorize(request, "moderate")
    body = await _body(request)
    target = _string(body, "key")
    actions = body.get("actions", {})
    if not isinstance(actions, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in actions.items()
    ):
        raise HTTPException(400, '"actions" must map label values to hide, warn or ignore')
    sub = await ctx.offload(ops.subscribe_labeller, ctx.store, ctx.me, target, actions)
    await _subscriptions_changed(ctx)
    entries = await ctx.offload(labeller_list, ctx.store)
    entry = next(e for e in entries if e.key == sub.key)
    return JSONResponse(entry.to_json(), status_code=201)


async def api_unsubscribe(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "moderate")
    target = request.path_params["key"]
    try:
        await ctx.offload(ops.unsubscribe_labeller, ctx.store, target)
    except NothingChangedError as exc:
        raise HTTPException(409, str(exc)) from None
    await _subscriptions_changed(ctx)
    return JSONResponse({"removed": True, "key": target}, status_code=201)


async def api_label(request: Request) -> Response:
    """``{subject: post id or key, value, retract?: bool}``; 201 with the signed label."""
    from pnyx.web.api import _body, _flag, _string, _write

    async def args() -> tuple[object, ...]:
        body = await _body(request)
        retract = _flag(body, "retract", False)
        return _string(body, "subject"), _string(body, "value"), retract

    return await _write(request, _label, args, scope="moderate", conflict=True)


#: (method, path, handler, summary, scope) of the label API routes (under ``/api/v1``).
ROUTES: list[tuple[str, str, Callable[[Request], Any], str, str]] = [
    ("GET", "/labellers", api_labellers, "the labellers you subscribe to (pnyx labellers)", "read"),
    (
        "POST",
        "/labellers",
        api_subscribe,
        "subscribe to a labeller: {key, actions?: {value: hide|warn|ignore}}",
        "moderate",
    ),
    (
        "DELETE",
        "/labellers/{key}",
        api_unsubscribe,
        "stop applying a labeller's labels",
        "moderate",
    ),
    (
        "POST",
        "/labels",
        api_label,
        "label a post or key: {subject, value, retract?}",
        "moderate",
    ),
]


def routes() -> list[Route]:
    return [
        Route("/labels", labels_page),
        Route("/labellers", add_form, methods=["POST"]),
        Route("/labellers/remove", remove_form, methods=["POST"]),
        Route("/label", label_form, methods=["POST"]),
    ]
