"""Community notes on the web: the notes sections of the thread page, the "Readers added
context" box under a post (timeline, ranked feeds, thread), their forms (add a note, rate one)
and the JSON API (``/api/v1/notes/{post}``, ``/api/v1/notes``, ``/api/v1/notes/{id}/rating``).
See ``docs/notes.md`` (how a status is computed) and ``docs/web.md``.

Reads are ``pnyx.reads.notes.page_notes`` (one model fit for the whole page, only when a post of
the page has a note or the page always shows a notes section) and ``post_notes`` (the API), with
the node's kept trust (``pnyx.web.kept``); writes are ``pnyx.ops.notes.write_note`` /
``rate_note`` (the CLI's rules) and nudge the node. The notes of a post are a section of its
thread page (``/thread/{id}#notes-{id}``; ``GET /notes/{id}`` redirects there): shown under the
thread's first post, under the post asked for, and under any post of the thread with notes.

Failure modes: a refused form (a rule of ``pnyx.ops``: your own post, a second note, your own
note, the same rating again, an empty or too long text) is said inline beside the form on the
thread page (400), never a traceback; an unknown post or note is 404 (``NotFoundError``); a
wrong CSRF token 403. The API answers ``{"error"}`` with 400 (a bad body or rule), 404, 409 (the
same rating again: ``NothingChangedError``) and the guard's 401/403/415. Reads need the ``read``
scope, writes ``write``.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pnyx.core import kinds
from pnyx.core.kinds.note import MAX_NOTE_TEXT_BYTES
from pnyx.errors import NotFoundError, UserError
from pnyx.ops.notes import rate_note, write_note
from pnyx.reads.notes import PostNotes, page_notes, post_notes
from pnyx.views import MessageView
from pnyx.web.context import WebContext, web_context
from pnyx.web.kept import kept_state
from pnyx.web.pages import _form, _session

#: The ratings the rate form offers, in the order shown.
RATINGS = ("yes", "somewhat", "no")

#: A thread row as ``pnyx.web.read.thread`` gives it: (view, depth, hidden placeholder or None).
Row = tuple[MessageView, int, str | None]


def _card(found: PostNotes, me: bytes, post_author: bytes | None) -> dict[str, Any]:
    """What a template needs of one post's notes: ``post`` (hex), ``notes`` (each
    ``NoteView.to_json`` with ``name`` and ``own``), ``helpful`` (the first helpful note or
    None), ``raters``, and ``can_add`` (not the user's post, no note of theirs on it yet)."""
    notes = []
    for view in found.notes:
        record = view.to_json()
        record["name"] = found.names.get(view.item.message.author)
        record["own"] = view.item.message.author == me
        notes.append(record)
    return {
        "post": found.post.hex(),
        "notes": notes,
        "helpful": next((n for n in notes if n["status"] == "helpful"), None),
        "raters": found.raters,
        "can_add": post_author != me and not any(n["own"] for n in notes),
        "max_bytes": MAX_NOTE_TEXT_BYTES,
    }


async def cards(
    ctx: WebContext, views: Sequence[MessageView], always: frozenset[bytes] = frozenset()
) -> dict[str, dict[str, Any]]:
    """The notes cards (``_card``) of the posts among ``views`` that have notes, and of those in
    ``always``, by post id (hex): one ``page_notes`` read, so at most one model fit."""
    posts = [v for v in views if v.kind == kinds.POST]
    read = functools.partial(page_notes, always=always, trust=kept_state(ctx))
    found: dict[bytes, PostNotes] = await ctx.offload(
        read, ctx.store, ctx.me, [v.id for v in posts]
    )
    authors = {v.id: v.author for v in posts}
    return {p.hex(): _card(notes, ctx.me, authors.get(p)) for p, notes in found.items()}


async def helpful_on(ctx: WebContext, views: Sequence[MessageView]) -> dict[str, dict[str, Any]]:
    """The "Readers added context" note of each post among ``views`` that has a helpful one, by
    post id (hex): what the timeline passes to ``render`` as ``helpful``."""
    found = await cards(ctx, views)
    return {p: card["helpful"] for p, card in found.items() if card["helpful"] is not None}


async def thread_values(ctx: WebContext, rows: Sequence[Row], id_text: str) -> dict[str, Any]:
    """The thread page's notes values: ``notes`` (the cards of the first post, the post asked
    for (``id_text``, an id or prefix) and every post with notes), ``helpful`` (as
    ``helpful_on``), and no ``note_error`` / ``note_typed``."""
    shown = [view for view, _, hidden in rows if hidden is None]
    asked = id_text.lower()
    always = {v.id for v in shown if v.id.hex().startswith(asked)}
    if rows:
        always.add(rows[0][0].id)
    found = await cards(ctx, shown, frozenset(always))
    helpful = {p: c["helpful"] for p, c in found.items() if c["helpful"] is not None}
    return {"notes": found, "helpful": helpful, "note_error": None, "note_typed": ""}


async def _refused(
    request: Request, post_id: bytes, at: str, text: str, typed: str = ""
) -> Response:
    """The thread page of ``post_id`` with refusal ``text`` beside the form of ``at`` (a post's
    or note's id, hex), 400."""
    from pnyx.web.pages import thread_page

    post = post_id.hex()
    extra = {"note_error": {"at": at, "text": text}, "note_typed": typed}
    return await thread_page(request, _session(request), post, extra=extra, status=400)


def _post_of_note(ctx: WebContext, note: str) -> tuple[bytes, bytes]:
    """(note id, the id of the post it is on); ``NotFoundError`` if ``note`` names no note."""
    note_id = ctx.store.resolve_id(note)
    found = ctx.store.get(note_id)
    if found is None or found.kind != kinds.NOTE:
        raise NotFoundError(f"no note {note} in this store")
    return note_id, bytes(found.message.body["post"])


async def add_form(request: Request) -> Response:
    """``POST /notes`` (``post``, ``text``, ``misleading`` yes or no): add a note; 303 to the
    post's notes, or the thread page with the refusal beside the form and the text typed (400)."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    post_id = await ctx.offload(ctx.store.resolve_id, form.get("post", ""))
    text = form.get("text", "").replace("\r\n", "\n")  # browsers send CRLF line ends
    misleading = form.get("misleading", "yes")
    try:
        if misleading not in ("yes", "no"):
            raise UserError("say whether the post is misleading: yes or no")
        key = ctx.signing_key()  # a read-only UI: 403 (not caught here)
        write = functools.partial(write_note, misleading=misleading == "yes")
        await ctx.offload(write, ctx.store, key, post_id.hex(), text)
    except UserError as exc:
        return await _refused(request, post_id, post_id.hex(), str(exc), typed=text)
    ctx.nudge()
    return RedirectResponse(f"/thread/{post_id.hex()}#notes-{post_id.hex()}", status_code=303)


async def rate_form(request: Request) -> Response:
    """``POST /notes/{id}/rating`` (``helpful``: yes, somewhat or no): rate a note; 303 to its
    post's notes, or the thread page with the refusal beside the note (400)."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    note_id, post_id = await ctx.offload(_post_of_note, ctx, request.path_params["id"])
    try:
        key = ctx.signing_key()
        await ctx.offload(rate_note, ctx.store, key, note_id.hex(), form.get("helpful", ""))
    except UserError as exc:  # NothingChangedError too: "you rated this note yes already"
        return await _refused(request, post_id, note_id.hex(), str(exc))
    ctx.nudge()
    return RedirectResponse(f"/thread/{post_id.hex()}#notes-{post_id.hex()}", status_code=303)


async def notes_page(request: Request) -> Response:
    """``GET /notes/{id}``: 303 to the notes section of post ``id``'s thread page."""
    _session(request)
    ctx = web_context(request)
    post = (await ctx.offload(ctx.store.resolve_id, request.path_params["id"])).hex()
    return RedirectResponse(f"/thread/{post}#notes-{post}", status_code=303)


async def api_notes(request: Request) -> Response:
    """``GET /api/v1/notes/{post}``: ``PostNotes.to_json`` (as ``pnyx notes POST --json``)."""
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    post_id = await ctx.offload(ctx.store.resolve_id, request.path_params["id"])
    read = functools.partial(post_notes, trust=kept_state(ctx))
    found: PostNotes = await ctx.offload(read, ctx.store, ctx.me, post_id)
    return JSONResponse(found.to_json())


def _add(store: Any, key: Any, post: str, text: str, misleading: bool) -> MessageView:
    return write_note(store, key, post, text, misleading=misleading)


async def api_add(request: Request) -> Response:
    """``{post, text, misleading?: true}``; 201 with the signed note."""
    from pnyx.web.api import _body, _flag, _string, _write

    async def args() -> tuple[object, ...]:
        body = await _body(request)
        misleading = _flag(body, "misleading", True)
        return _string(body, "post"), _string(body, "text"), misleading

    return await _write(request, _add, args)


async def api_rate(request: Request) -> Response:
    """``{helpful: "yes" | "somewhat" | "no"}``; 201 with the signed rating, 409 for the same
    rating again."""
    from pnyx.web.api import _body, _string, _write

    async def args() -> tuple[object, ...]:
        return request.path_params["id"], _string(await _body(request), "helpful")

    return await _write(request, rate_note, args, conflict=True)


#: (method, path, handler, summary, scope) of the notes API routes (under ``/api/v1``).
ROUTES: list[tuple[str, str, Callable[[Request], Any], str, str]] = [
    (
        "GET",
        "/notes/{id}",
        api_notes,
        "the notes on a post with their status for you and why (pnyx notes)",
        "read",
    ),
    ("POST", "/notes", api_add, "add a note: {post, text, misleading?: true}", "write"),
    (
        "POST",
        "/notes/{id}/rating",
        api_rate,
        'rate a note: {helpful: "yes" | "somewhat" | "no"}',
        "write",
    ),
]


def routes() -> list[Route]:
    return [
        Route("/notes", add_form, methods=["POST"]),
        Route("/notes/{id}", notes_page),
        Route("/notes/{id}/rating", rate_form, methods=["POST"]),
    ]
