"""The server-rendered pages: login, timeline (``following`` with live arrivals, or a ranked feed
with scores and "why" links), thread, follow, and the form posts behind their buttons (post,
reply, like, repost, delete, follow). "Why", clusters and feeds are in ``pnyx.web.rank_pages``;
the thread's notes sections and the "Readers added context" box in ``pnyx.web.notes``.

Templates are Jinja2 with autoescape on (text from others is never trusted: it is escaped, and
shown with ``dir="auto"`` in bidi-isolated elements); the one script is ``static/app.js`` (the
byte counter, the "N new posts" bar, the copy buttons), and every page works without it. The
pages over ``pnyx.reads`` (profile, search, notifications, network) are in ``pnyx.web.people``.
A page needs a browser session (``/login?code=`` from ``pnyx ui``); every form post carries the
session's CSRF token and answers with a 303 redirect (post/redirect/get), or the same page with
an inline error (400).

Failure modes: no session is 401, a wrong CSRF token 403, a form that is not urlencoded 415 (all
``HTTPException``); a refused operation (``UserError`` from ``pnyx.ops``) is 400 and an unknown
id 404 (``NotFoundError``), rendered as a small error page by ``pnyx.web.app``.
"""

from __future__ import annotations

import contextvars
import datetime
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, unquote

import jinja2
import trio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import Route

from pnyx import ops
from pnyx.core.display import Names
from pnyx.core.limits import MAX_TEXT_BYTES
from pnyx.errors import UserError
from pnyx.rank.builtins import DEFAULT
from pnyx.views import MessageView
from pnyx.web import read
from pnyx.web.context import CSRF_FIELD, SESSION_COOKIE, WebContext, start_session, web_context
from pnyx.web.kept import kept_state as kept
from pnyx.web.sessions import Session

if TYPE_CHECKING:
    from nacl.signing import SigningKey

    from pnyx.store import Store

#: The values the thread page's "Label" form offers (``pnyx.core.kinds.label.WELL_KNOWN``).
LABEL_VALUES = ("spam", "misleading", "nsfw", "harassment", "impersonation", "!hide", "!warn")

#: Seconds between keep-alive comments on the live-update stream.
SSE_HEARTBEAT_S = 15.0

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def _when(ts_ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ts_ms / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M UTC")


_ENV.filters["when"] = _when

#: The names the page being rendered marks look-alikes of (``render``'s ``names``).
_NAMES: contextvars.ContextVar[Names | None] = contextvars.ContextVar("names", default=None)


def _mark(key_text: str, name: str | None) -> str:
    """``[look-alike of NAME (fingerprint)]`` when ``name`` (shown for ``key_text``) looks like
    the name of the user or of someone they follow, else ``[mixed scripts: ...]`` when it mixes
    scripts, else "" (``Names.mark``). Templates call it as ``mark(key, name)`` (the ``mark``
    macro); the autoescape escapes it."""
    from pnyx.crypto.keytext import parse_public_key

    if not name:
        return ""
    try:
        key = parse_public_key(key_text)
    except UserError:
        return ""
    names = _NAMES.get()
    return names.mark(key, name).strip() if names is not None else ""


_ENV.globals["lookalike_mark"] = _mark

#: The names of the labellers of the warnings on the page being rendered (``render``'s
#: ``labellers``: key text -> name, ``read.labeller_names``).
_LABELLERS: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("labellers")


def _labeller(key_text: str) -> str:
    """The name of labeller ``key_text`` on this page, else its key's first characters."""
    return _LABELLERS.get({}).get(key_text) or key_text[:13] + "…"


_ENV.globals["labeller_name"] = _labeller


def render(template: str, **values: Any) -> str:
    """``template`` with ``values``; ``queued`` (hex ids of posts waiting for a peer) defaults
    to none; ``names`` (``read.known_names``: whose look-alikes others' names are marked as)
    defaults to nobody's; ``labellers`` (``read.labeller_names``) names the labellers of the
    page's warnings."""
    values.setdefault("queued", frozenset())
    token = _NAMES.set(values.pop("names", None))
    labellers = _LABELLERS.set(values.pop("labellers", None) or {})
    try:
        return _ENV.get_template(template).render(max_text_bytes=MAX_TEXT_BYTES, **values)
    finally:
        _LABELLERS.reset(labellers)
        _NAMES.reset(token)


async def known_names(ctx: WebContext) -> Names:
    """The names others' names are checked against on a page (``read.known_names``)."""
    names: Names = await ctx.offload(read.known_names, ctx.store, ctx.me)
    return names


def render_error(status: int, text: str) -> str:
    return render("error.html", status=status, text=text, session=None)


def _session(request: Request) -> Session:
    session = web_context(request).sessions.get(request.cookies.get(SESSION_COOKIE))
    if session is None:
        raise HTTPException(401, "not logged in: run `pnyx ui` and open the address it prints")
    return session


async def _form(request: Request, session: Session) -> dict[str, str]:
    """The urlencoded form of a POST, after its CSRF token is checked (403 if wrong)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip()
    if content_type != "application/x-www-form-urlencoded":
        raise HTTPException(415, "forms are application/x-www-form-urlencoded")
    try:
        fields = parse_qs((await request.body()).decode(), strict_parsing=False)
    except UnicodeDecodeError:
        raise HTTPException(400, "the form is not UTF-8") from None
    form = {name: values[0] for name, values in fields.items()}
    if form.get(CSRF_FIELD) != session.csrf:
        raise HTTPException(403, "missing or wrong CSRF token: reload the page")
    return form


def _back(form: dict[str, str]) -> RedirectResponse:
    """303 to the form's ``next`` if it is a path on this server, else to the timeline."""
    target = form.get("next", "")
    if not target.startswith("/") or target.startswith("//") or "\\" in target:
        target = "/timeline"
    return RedirectResponse(target, status_code=303)


async def login(request: Request) -> Response:
    ctx = web_context(request)
    code = request.query_params.get("code", "")
    return start_session(ctx.codes, ctx.sessions, code, "/timeline", "run `pnyx ui` again")


async def home(request: Request) -> Response:
    return RedirectResponse("/timeline", status_code=303)


#: The cookie remembering the feed last chosen in this browser (its name, percent-encoded).
FEED_COOKIE = "feed"
#: How long the chosen feed is remembered, in seconds (a year).
FEED_COOKIE_S = 365 * 24 * 3600


async def timeline(request: Request) -> Response:
    """``/timeline[?feed=NAME&before=CURSOR]``: ``following`` newest first with the live arrival
    bar; any other feed in its recipe's order with each post's score and a "why" link
    (``read.ranked``). An unknown feed is 400 naming the feeds (``RecipeError``). Without
    ``feed`` the feed last chosen in this browser (cookie ``feed``) is shown; one that no longer
    exists falls back to ``following`` with a note, and is forgotten."""
    from pnyx.rank.recipe import RecipeError
    from pnyx.web.notes import helpful_on

    session = _session(request)
    ctx = web_context(request)
    explicit = request.query_params.get("feed")
    feed = explicit or unquote(request.cookies.get(FEED_COOKIE, "")) or DEFAULT
    before = request.query_params.get("before")
    forgot = None
    try:
        recipe, scored, cursor = await ctx.offload(
            read.ranked,
            ctx.store,
            ctx.me,
            feed,
            ctx.recipes_dir,
            read.DEFAULT_PAGE,
            before,
            kept(ctx),
        )
    except RecipeError:
        if explicit:
            raise
        forgot, feed = feed, DEFAULT
        recipe, scored, cursor = await ctx.offload(
            read.ranked, ctx.store, ctx.me, feed, ctx.recipes_dir, read.DEFAULT_PAGE, before
        )
    reposted: read.Reposted = {}
    if feed == DEFAULT:  # time order, with reposts as `pnyx timeline` shows them
        views, reposted, cursor = await ctx.offload(
            read.following_page, ctx.store, ctx.me, read.DEFAULT_PAGE, before
        )
        scored = [(view, None) for view in views]
    choices, problem = await ctx.offload(read.feed_choices, ctx.recipes_dir)
    following = await ctx.offload(ctx.store.following, ctx.me)
    queued = frozenset(i.hex() for i in ctx.queued) if await ctx.offline() else frozenset()
    here = "/timeline" if feed == DEFAULT else f"/timeline?feed={quote(feed)}"
    shown = [view for view, _ in scored] + [v for _, v in reposted.values() if v is not None]
    html = render(
        "timeline.html",
        session=session,
        scored=scored,
        reposted=reposted,
        cursor=cursor,
        me=_me(ctx),
        onboarding=not following,
        queued=queued,
        recipe=recipe,
        ranked=feed != DEFAULT,
        feeds=[choice.recipe.name for choice in choices],
        feed_problem=problem,
        here=here,
        names=await known_names(ctx),
        forgot=forgot,
        labellers=await ctx.offload(read.labeller_names, ctx.store, ctx.me, shown),
        helpful=await helpful_on(ctx, shown),  # "Readers added context": one model fit at most
    )
    response = HTMLResponse(html)
    if explicit or forgot:  # remember the choice; forget a feed that is gone
        response.set_cookie(
            FEED_COOKIE,
            quote(feed, safe=""),
            max_age=FEED_COOKIE_S,
            httponly=True,  # only the server reads it
            samesite="strict",
            path="/",
        )
    return response


async def thread(request: Request) -> Response:
    return await thread_page(request, _session(request), request.path_params["id"])


async def thread_page(
    request: Request,
    session: Session,
    id_text: str,
    *,
    extra: dict[str, Any] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The thread holding ``id_text`` with its notes sections (``pnyx.web.notes``); ``extra``
    overrides values (a notes form's refusal), ``status`` is the answer's."""
    from pnyx.web.notes import thread_values

    ctx = web_context(request)
    rows, deleted = await ctx.offload(read.thread, ctx.store, ctx.me, id_text)
    reply_to = request.query_params.get("reply", "")
    if not all(c in "0123456789abcdef" for c in reply_to):
        reply_to = ""
    values = {**await thread_values(ctx, rows, id_text), **(extra or {})}
    html = render(
        "thread.html",
        session=session,
        rows=rows,
        deleted=deleted,
        me=_me(ctx),
        reply_to=reply_to,
        names=await known_names(ctx),
        labellers=await ctx.offload(read.labeller_names, ctx.store, ctx.me, [r[0] for r in rows]),
        label_values=LABEL_VALUES,
        **values,
    )
    return HTMLResponse(html, status_code=status)


async def follow_page(request: Request) -> Response:
    session = _session(request)
    return HTMLResponse(render("follow.html", session=session, error=None, key=""))


def _me(ctx: WebContext) -> str:
    from pnyx.crypto.keytext import encode_public_key

    return encode_public_key(ctx.me)


def _post(store: Store, key: SigningKey, form: dict[str, str]) -> object:
    text = form.get("text", "").replace("\r\n", "\n")  # browsers send CRLF line ends
    return ops.post(store, key, text, reply_to=form.get("reply_to") or None)


#: The forms behind the buttons: each runs one operation (in a worker thread) on its fields.
_FORM_ACTIONS: dict[str, Callable[[Store, SigningKey, dict[str, str]], object]] = {
    "post": _post,
    "like": lambda store, key, form: ops.like(store, key, form.get("id", "")),
    "repost": lambda store, key, form: ops.repost(store, key, form.get("id", "")),
    "delete": lambda store, key, form: ops.delete(store, key, form.get("id", "")),
    "unlike": lambda store, key, form: ops.unlike(store, key, form.get("id", "")),
    "unrepost": lambda store, key, form: ops.unrepost(store, key, form.get("id", "")),
}


def _form_action(name: str) -> Callable[[Request], Awaitable[Response]]:
    action = _FORM_ACTIONS[name]

    async def handler(request: Request) -> Response:
        session = _session(request)
        ctx = web_context(request)
        form = await _form(request, session)
        done = await ctx.offload(action, ctx.store, ctx.signing_key(), form)
        ctx.nudge()
        if name == "post" and isinstance(done, MessageView) and await ctx.offline():
            ctx.queued.add(done.id)  # shown "will be sent when connected"
        return _back(form)

    return handler


async def follow_form(request: Request) -> Response:
    """Follow the pasted key; a refusal (a bad key, yourself, already followed) is shown inline
    beside the key as typed (400)."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    typed = form.get("key", "")
    try:
        await ctx.offload(ops.follow, ctx.store, ctx.signing_key(), typed)
    except UserError as exc:
        html = render("follow.html", session=session, error=str(exc), key=typed)
        return HTMLResponse(html, status_code=400)
    ctx.nudge()
    return _back(form)


async def events(request: Request) -> Response:
    """Server-sent events: ``event: arrived`` with the count of new posts, as they arrive;
    ``event: notify`` when something else may change the unread count (a new follower)."""
    _session(request)
    ctx = web_context(request)
    if ctx.arrivals.full():
        raise HTTPException(429, "too many live-update listeners; close another tab")

    async def stream() -> AsyncIterator[str]:
        with ctx.arrivals.listen() as arrivals:
            yield ": live\n\n"
            while True:
                count = None
                with trio.move_on_after(SSE_HEARTBEAT_S):  # never yield inside a cancel scope
                    count = await arrivals.receive()
                if count is None:
                    yield ": keep-alive\n\n"
                else:
                    yield f"event: {'arrived' if count else 'notify'}\ndata: {count}\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


def routes() -> list[Route]:
    return [
        Route("/", home),
        Route("/login", login),
        Route("/timeline", timeline),
        Route("/thread/{id}", thread),
        Route("/follow", follow_page),
        Route("/events", events),
        Route("/follow", follow_form, methods=["POST"]),
        *(Route(f"/{name}", _form_action(name), methods=["POST"]) for name in _FORM_ACTIONS),
    ]
