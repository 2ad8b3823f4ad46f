"""Polls on the web: the pages (``/polls``, ``/polls/{id}``), their forms (ask a poll, vote) and
the JSON API (``/api/v1/polls``, ``/api/v1/polls/{id}``, ``/api/v1/polls/{id}/vote``). See
``docs/polls.md`` (how a tally is counted) and ``docs/web.md``.

Reads are ``pnyx.reads.polls.poll_list`` / ``poll_view`` with the node's kept trust
(``pnyx.web.kept``); writes are ``pnyx.ops.polls.create_poll`` / ``vote`` (the CLI's rules) and
nudge the node. A page shows each poll's question, author (look-alikes marked), open or closed with
its close time, one ``<meter>`` per option (its "for you" share: no style attribute, the CSP
forbids inline styles), "N for you · M everyone", the user's counted vote, and a vote form while
the poll is open (radio buttons, or checkboxes for a poll taking several choices).

Failure modes: a refused form (a rule of ``pnyx.ops``: too few options, a closed poll, a choice
the poll lacks, the same vote again) is said inline on the page it came from (400), never a
traceback; an unknown or deleted poll is 404 (``NotFoundError``). The API answers ``{"error"}``
with 400 (a bad body or rule), 404, 409 (the same vote again: ``NothingChangedError``), and the
guard's 401/403/415. Reads need the ``read`` scope, writes ``write``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pnyx.errors import UserError
from pnyx.ops.polls import create_poll, parse_duration, vote
from pnyx.polls.tally import choices_of
from pnyx.reads.polls import PollView, poll_list, poll_view
from pnyx.views import MessageView
from pnyx.web.context import WebContext, web_context
from pnyx.web.kept import kept_state
from pnyx.web.pages import _form, _me, _session, known_names, render
from pnyx.web.sessions import Session

#: The "open for" choices of the ask form, in the order shown.
OPEN_FOR = ("1h", "1d", "3d", "7d")
#: How many option fields the ask form has (empty ones are ignored; a poll takes 2..12).
OPTION_FIELDS = 6
#: How many polls the list shows.
LIST_LIMIT = 20


def _count(value: float) -> str:
    """A "for you" count: whole numbers as such, a cluster's share with up to two decimals."""
    if value == int(value):
        return str(int(value))
    return f"{value:.2f}".rstrip("0").rstrip(".")


def card(view: PollView) -> dict[str, Any]:
    """What a template needs of one poll: its JSON, author name, and each option's row
    ``(index, text, share, for_you text, everyone, mine)``."""
    record = view.to_json()
    mine = set(choices_of(view.tally.mine)) if view.tally.mine is not None else set()
    rows = [
        (
            i,
            text,
            view.tally.share(i),
            _count(view.tally.for_you[i]),
            view.tally.everyone[i],
            i in mine,
        )
        for i, text in enumerate(view.options)
    ]
    return {
        "json": record,
        "name": view.names.get(view.item.message.author),
        "rows": rows,
        "open": view.open,
        "multiple": view.multiple,
        "voted": bool(mine),
    }


def _poll_id(ctx: WebContext, text: str) -> bytes:
    return ctx.store.resolve_id(text)


async def _list(ctx: WebContext) -> list[dict[str, Any]]:
    read = functools.partial(poll_list, trust=kept_state(ctx))
    found = await ctx.offload(read, ctx.store, ctx.me, LIST_LIMIT)
    return [card(view) for view in found.polls]


async def _one(ctx: WebContext, text: str) -> PollView:
    poll_id = await ctx.offload(_poll_id, ctx, text)
    read = functools.partial(poll_view, trust=kept_state(ctx))
    view: PollView = await ctx.offload(read, ctx.store, ctx.me, poll_id)
    return view


def _multi(body: bytes) -> dict[str, list[str]]:
    try:
        return parse_qs(body.decode(), strict_parsing=False)
    except UnicodeDecodeError:  # pragma: no cover - ``_form`` refused it first
        raise HTTPException(400, "the form is not UTF-8") from None


def _choices(values: list[str]) -> list[int]:
    """Form choices (0-based option indices as text) as ints; ``UserError`` if one is not."""
    if not values:
        raise UserError("choose an option first")
    if not all(v.isdigit() and len(v) <= 3 for v in values):
        raise UserError("a choice is the number of an option")
    return [int(v) for v in values]


async def _page(
    request: Request,
    session: Session,
    *,
    error: str | None = None,
    typed: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    ctx = web_context(request)
    blank = {"question": "", "options": [""] * OPTION_FIELDS, "multiple": False, "open_for": "1d"}
    html = render(
        "polls.html",
        session=session,
        me=_me(ctx),
        polls=await _list(ctx),
        error=error,
        typed=typed or blank,
        open_for=OPEN_FOR,
        names=await known_names(ctx),
    )
    return HTMLResponse(html, status_code=status)


async def polls_page(request: Request) -> Response:
    """``/polls``: the ask form and the polls held, newest first."""
    return await _page(request, _session(request))


def _ask(ctx: WebContext, question: str, options: list[str], multiple: bool, open_for: str) -> str:
    view = create_poll(
        ctx.store,
        ctx.signing_key(),
        question,
        options,
        multiple=multiple,
        open_ms=parse_duration(open_for),
    )
    return view.id.hex()


async def ask_form(request: Request) -> Response:
    """``POST /polls``: ask a poll; 303 to it, or the polls page with the refusal inline (400)
    and what was typed."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    options = [form.get(f"option{i}", "") for i in range(OPTION_FIELDS)]
    open_for = form.get("open_for", "1d")
    typed: dict[str, Any] = {
        "question": form.get("question", ""),
        "options": options,
        "multiple": form.get("multiple") == "on",
        "open_for": open_for,
    }
    filled = [o for o in options if o.strip()]
    try:
        if open_for not in OPEN_FOR:
            raise UserError(f"a poll is open for one of {', '.join(OPEN_FOR)}")
        ctx.signing_key()  # read-only UI: 403 before anything else
        poll = await ctx.offload(
            _ask, ctx, typed["question"].replace("\r\n", "\n"), filled, typed["multiple"], open_for
        )
    except UserError as exc:
        return await _page(request, session, error=str(exc), typed=typed, status=400)
    ctx.nudge()
    return RedirectResponse(f"/polls/{poll}", status_code=303)


async def _poll_page(
    request: Request, session: Session, view: PollView, error: str | None, status: int = 200
) -> Response:
    ctx = web_context(request)
    html = render(
        "poll.html",
        session=session,
        me=_me(ctx),
        poll=card(view),
        why=view.tally.why(),
        error=error,
        names=await known_names(ctx),
    )
    return HTMLResponse(html, status_code=status)


async def poll_page(request: Request) -> Response:
    """``/polls/{id}``: one poll with its "why" lines and a link to its JSON."""
    session = _session(request)
    view = await _one(web_context(request), request.path_params["id"])
    return await _poll_page(request, session, view, None)


async def vote_form(request: Request) -> Response:
    """``POST /polls/{id}/vote`` (``choice``, once per option chosen): 303 to ``next`` (the poll
    or the list), or the poll's page with the refusal inline (400)."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    view = await _one(ctx, request.path_params["id"])
    try:
        choices = _choices(_multi(await request.body()).get("choice", []))
        key = ctx.signing_key()  # a read-only UI: 403 (not caught here)
        await ctx.offload(vote, ctx.store, key, view.item.message.id.hex(), choices)
    except UserError as exc:  # NothingChangedError too: "you already voted ..."
        return await _poll_page(request, session, view, str(exc), status=400)
    ctx.nudge()
    target = form.get("next", "")
    if target != "/polls":
        target = f"/polls/{view.item.message.id.hex()}"
    return RedirectResponse(target, status_code=303)


async def api_list(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    read = functools.partial(poll_list, trust=kept_state(ctx))
    found = await ctx.offload(read, ctx.store, ctx.me, LIST_LIMIT)
    return JSONResponse(found.to_json())


async def api_one(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    return JSONResponse((await _one(ctx, request.path_params["id"])).to_json())


def _ask_signed(
    store: Any, key: Any, question: str, options: list[str], multiple: bool, open_ms: int
) -> MessageView:
    return create_poll(store, key, question, options, multiple=multiple, open_ms=open_ms)


async def api_ask(request: Request) -> Response:
    """``{question, options: [text], multiple?: bool, open_for?: "1d"}`` (any duration
    ``pnyx poll --open`` takes: 30m, 12h, 3d); 201 with the signed poll."""
    from pnyx.web.api import _body, _flag, _string, _write

    async def args() -> tuple[object, ...]:
        body = await _body(request)
        question = _string(body, "question")
        options = body.get("options")
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise HTTPException(400, '"options" must be a list of strings')
        open_for = _string(body, "open_for", required=False) or "1d"
        return question, options, _flag(body, "multiple", False), parse_duration(open_for)

    return await _write(request, _ask_signed, args)


async def api_vote(request: Request) -> Response:
    """``{choices: [0-based option indices]}``; 201 with the signed vote, 409 for the same vote
    again."""
    from pnyx.web.api import _body, _write

    async def args() -> tuple[object, ...]:
        choices = (await _body(request)).get("choices")
        if not isinstance(choices, list) or not all(
            isinstance(c, int) and not isinstance(c, bool) for c in choices
        ):
            raise HTTPException(400, '"choices" must be a list of option indices (0 the first)')
        return request.path_params["id"], choices

    return await _write(request, vote, args, conflict=True)


#: (method, path, handler, summary, scope) of the poll API routes (under ``/api/v1``).
ROUTES: list[tuple[str, str, Callable[[Request], Any], str, str]] = [
    ("GET", "/polls", api_list, "the polls held, newest first, with tallies (pnyx polls)", "read"),
    ("GET", "/polls/{id}", api_one, "one poll with its tally and why (pnyx poll show)", "read"),
    (
        "POST",
        "/polls",
        api_ask,
        'ask a poll: {question, options, multiple?, open_for?: "1d"}',
        "write",
    ),
    ("POST", "/polls/{id}/vote", api_vote, "vote: {choices: [0-based indices]}", "write"),
]


def routes() -> list[Route]:
    return [
        Route("/polls", polls_page),
        Route("/polls", ask_form, methods=["POST"]),
        Route("/polls/{id}", poll_page),
        Route("/polls/{id}/vote", vote_form, methods=["POST"]),
    ]
