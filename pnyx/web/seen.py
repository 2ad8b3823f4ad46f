"""The notifications "seen" mark: the newest notification the user has seen, kept in the home
(``notifications-seen.json`` beside the store: ``{"ts": MS, "id": HEX}``, replaced atomically),
the unread count it gives, and the routes that read and move it.

A notification is unread when it is newer (by ts, then id) than the mark (``unread_ids``: the
notifications page marks those "new", the API gives each item ``unread``); "Mark all as seen"
(``POST /notifications/seen``, CSRF-checked; ``POST /api/v1/notifications/seen``) moves the mark
to the newest notification. The header's count is put into every page by
``pnyx.web.engagement`` (``<!--pnyx-unread-->`` in ``base.html``), and ``app.js`` refreshes it
from ``GET /notifications/unread`` on every page with the header whenever the live channel
(``GET /events``) says posts or a follower arrived.

Cost: each count is a notifications read (``pnyx.reads.notifications``, at most
``MAX_NOTIFICATIONS``; mentions scan the posts held). A missing or unreadable mark counts every
notification as unread. Failure modes: ``StoreError``; ``OSError`` writing the mark.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from pnyx.reads.notify import MAX_NOTIFICATIONS, notifications
from pnyx.web.context import web_context

if TYPE_CHECKING:
    from collections.abc import Iterable

    from pnyx.reads.notify import Notification
    from pnyx.store import Store
    from pnyx.web.context import WebContext

SEEN_FILE = "notifications-seen.json"
MARKER = "<!--pnyx-unread-->"


def _path(store: Store) -> Path:
    return Path(store.path).parent / SEEN_FILE


def _mark(store: Store) -> tuple[int, str]:
    try:
        record = json.loads(_path(store).read_text(encoding="utf-8"))
        return int(record["ts"]), str(record["id"])
    except (OSError, ValueError, KeyError, TypeError):
        return (-1, "")


def unread(store: Store, me: bytes) -> int:
    """How many notifications are newer than the seen mark (at most ``MAX_NOTIFICATIONS``)."""
    mark = _mark(store)
    items = notifications(store, me, MAX_NOTIFICATIONS)
    return sum(1 for n in items if (n.message.ts, n.message.id.hex()) > mark)


def unread_ids(store: Store, items: Iterable[Notification]) -> set[str]:
    """The ids (hex) of those of ``items`` newer than the seen mark: the ones the notifications
    page marks "new" and the API marks ``"unread": true``."""
    mark = _mark(store)
    return {n.message.id.hex() for n in items if (n.message.ts, n.message.id.hex()) > mark}


def mark_seen(store: Store, me: bytes) -> int:
    """Move the mark to the newest notification; returns how many were unread."""
    count = unread(store, me)
    newest = notifications(store, me, 1)
    if newest:
        path = _path(store)
        temporary = path.with_suffix(".tmp")
        record = {"ts": newest[0].message.ts, "id": newest[0].message.id.hex()}
        temporary.write_text(json.dumps(record), encoding="utf-8")
        os.replace(temporary, path)
    return count


async def fill(ctx: WebContext, text: str) -> str:
    """``text`` with the header's marker replaced by the unread count (hidden when none)."""
    if MARKER not in text:
        return text
    count = await ctx.offload(unread, ctx.store, ctx.me)
    shown = f"{count}+" if count >= MAX_NOTIFICATIONS else str(count)
    hidden = "" if count else " hidden"
    badge = (
        f' <span class="unread" id="unread"{hidden}><span class="unread-n">{shown}</span>'
        f'<span class="sr-only"> unread</span></span>'
    )
    return text.replace(MARKER, badge, 1)


async def unread_route(request: Request) -> Response:
    """``GET /notifications/unread`` (a session) and ``/api/v1/notifications/unread``."""
    ctx = web_context(request)
    await ctx.authorize(request, "read")
    return JSONResponse({"unread": await ctx.offload(unread, ctx.store, ctx.me)})


async def seen_api(request: Request) -> Response:
    ctx = web_context(request)
    await ctx.authorize(request, "write")
    return JSONResponse({"was_unread": await ctx.offload(mark_seen, ctx.store, ctx.me)}, 201)


async def seen_form(request: Request) -> Response:
    from pnyx.web.pages import _form, _session

    session = _session(request)
    await _form(request, session)
    ctx = web_context(request)
    await ctx.offload(mark_seen, ctx.store, ctx.me)
    return RedirectResponse("/notifications", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/notifications/unread", unread_route),
        Route("/notifications/seen", seen_form, methods=["POST"]),
    ]
