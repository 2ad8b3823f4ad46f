"""The reads the web app shows, as ``MessageView`` lists (blocking: run them through ``offload``).

These are thin: ``ranked`` and ``feed_choices`` wrap ``pnyx.reads`` (feeds, recipes); the
``following`` timeline keeps ``timeline`` (the same store query). ``UserError`` for a
bad cursor or page size, ``NotFoundError`` for an unknown id, ``StoreError`` if SQLite fails.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from pnyx.reads.profile import message_views
from pnyx.views import MessageView

if TYPE_CHECKING:
    from pathlib import Path

    from pnyx.core.display import Names
    from pnyx.rank.recipe import Recipe
    from pnyx.reads.recipes import Feed
    from pnyx.store import Store, StoredMessage
    from pnyx.trust.state import TrustState

#: Default page of the timeline, in messages.
DEFAULT_PAGE = 20
#: Largest page the API serves, in messages.
MAX_PAGE = 200
#: Deepest indentation of a reply on the thread page, in levels (deeper replies stay there).
MAX_INDENT_DEPTH = 8


def _views(
    store: Store, items: Sequence[StoredMessage], me: bytes | None = None
) -> list[MessageView]:
    """The views of ``items``; with ``me``, each carries the ``warn`` labels of the user's policy
    that apply to it (``MessageView.warnings``: the page shows it behind a "Warning" line)."""
    views = message_views(store, items)
    if me is None or not items:
        return views
    from dataclasses import replace

    from pnyx.reads.policy import load_policy

    policy = load_policy(store, me)
    out = []
    for view, item in zip(views, items, strict=True):
        found = tuple((w.value, w.labeller) for w in policy.warnings(item.message))
        out.append(replace(view, warnings=found) if found else view)
    return out


def labeller_names(store: Store, me: bytes, views: Sequence[MessageView]) -> dict[str, str]:
    """The name shown for each labeller of a warning on ``views`` (key text -> "you", the
    profile name held, or the key's first characters)."""
    from pnyx.crypto.keytext import encode_public_key

    out: dict[str, str] = {}
    for view in views:
        for _, labeller in view.warnings:
            text = encode_public_key(labeller)
            if text in out:
                continue
            profile = store.profile(labeller)
            if labeller == me:
                out[text] = "you"
            else:
                out[text] = profile.name if profile and profile.name else text[:13] + "…"
    return out


#: What a repost shows of the post it re-shares: its state here (``held``, ``deleted``,
#: ``not-held``; ``pnyx.reads.timeline``) and, when held, its view.
Reposted = dict[str, tuple[str, MessageView | None]]


def following_page(
    store: Store, me: bytes, limit: int = DEFAULT_PAGE, before: str | None = None
) -> tuple[list[MessageView], Reposted, str | None]:
    """The ``following`` timeline with reposts (``pnyx.reads.timeline``, as ``pnyx timeline``):
    the views newest first, what each repost re-shares (by the repost's id, hex), and the cursor
    of the next page (or None). ``UserError`` for a bad cursor or a limit outside 1..MAX_PAGE."""
    from pnyx.errors import UserError
    from pnyx.reads.timeline import timeline as with_reposts
    from pnyx.store import Cursor

    if not 1 <= limit <= MAX_PAGE:
        raise UserError(f"limit must be 1..{MAX_PAGE} messages")
    page = with_reposts(store, me, limit=limit, before=Cursor.from_text(before) if before else None)
    held = [(rid, o.post) for rid, o in page.originals.items() if o.post is not None]
    # one view pass (one policy load) for the page and every re-shared post held
    views = _views(store, [*page.items, *(post for _, post in held)], me)
    shown = dict(zip((rid for rid, _ in held), views[len(page.items) :], strict=True))
    reposted: Reposted = {
        rid.hex(): (original.state, shown.get(rid)) for rid, original in page.originals.items()
    }
    return views[: len(page.items)], reposted, page.next.to_text() if page.next else None


def timeline(
    store: Store, me: bytes, limit: int = DEFAULT_PAGE, before: str | None = None
) -> tuple[list[dict[str, object]], str | None]:
    """The ``following`` timeline as the JSON API serves it (the objects of ``pnyx timeline
    --json``: a repost gains ``reposted``, the re-shared post's object or null, and
    ``reposted_state``), and the cursor of the next page (or None)."""
    views, reposted, cursor = following_page(store, me, limit, before)
    records = []
    for view in views:
        record = view.to_json()
        if (original := reposted.get(view.id.hex())) is not None:
            state, shown = original
            record["reposted"] = None if shown is None else shown.to_json()
            record["reposted_state"] = state
        records.append(record)
    return records, cursor


def thread(
    store: Store, me: bytes, id_text: str
) -> tuple[list[tuple[MessageView, int, str | None]], bool]:
    """The thread holding ``id_text`` (an id or unique prefix; ``pnyx.reads.thread``, as
    ``pnyx thread`` reads it) in reading order, with depths (capped at ``MAX_INDENT_DEPTH``) and,
    for a reply the user's policy hides, the words of its collapsed placeholder (``you muted
    NAME``; None when shown); and whether the post asked about was deleted by its author."""
    from pnyx.crypto.keytext import encode_public_key
    from pnyx.errors import NotFoundError
    from pnyx.reads.thread import thread as read_thread

    view = read_thread(store, me, store.resolve_id(id_text))
    if not view.rows:
        raise NotFoundError(f"no thread holds {id_text} in this store")
    views = _views(store, [row.item for row in view.rows], me)
    rows: list[tuple[MessageView, int, str | None]] = []
    for shown, row in zip(views, view.rows, strict=True):
        text = None
        if row.hidden is not None:
            profile = store.profile(row.hidden.key)
            name = profile.name if profile and profile.name else None
            text = row.hidden.reason(name or encode_public_key(row.hidden.key))
        rows.append((shown, min(row.depth, MAX_INDENT_DEPTH), text))
    return rows, view.deleted


def known_names(store: Store, me: bytes) -> Names:
    """The names the user knows (their own and those of everyone they follow), for look-alike
    marks, as ``pnyx.cli.names.known_names`` gives the CLI."""
    from pnyx.core.display import Names
    from pnyx.store.names import followed_names

    return Names(followed_names(store, me))


def ranked(
    store: Store,
    me: bytes,
    feed: str,
    recipes_dir: Path | None,
    limit: int = DEFAULT_PAGE,
    before: str | None = None,
    trust: TrustState | None = None,
) -> tuple[Recipe, list[tuple[MessageView, float | None]], str | None]:
    """A page of feed ``feed`` (``pnyx.reads.ranked_timeline``): its recipe, each message with
    its score (None on ``following``, in time order), and the next cursor. ``trust``: the
    node's kept trust state (``pnyx.web.kept``); None builds it.

    ``RecipeError`` (a ``UserError``) for an unknown feed (naming the feeds) or a bad recipe
    file; ``UserError`` for a bad cursor or a limit outside 1..``MAX_PAGE``.
    """
    from pnyx.errors import UserError
    from pnyx.reads import ranked_timeline
    from pnyx.reads.feed_cursor import parse_page_cursor

    if not 1 <= limit <= MAX_PAGE:
        raise UserError(f"limit must be 1..{MAX_PAGE} messages")
    cursor = parse_page_cursor(before) if before else None
    page = ranked_timeline(store, me, feed, limit, cursor, recipes_dir=recipes_dir, trust=trust)
    views = _views(store, [item.item for item in page.items])
    scored = [(view, item.score) for view, item in zip(views, page.items, strict=True)]
    return page.recipe, scored, page.next.to_text() if page.next else None


def feed_choices(recipes_dir: Path | None) -> tuple[list[Feed], str | None]:
    """The feeds to choose from (``pnyx.reads.feeds``) and ``None``; if a recipe file is bad,
    the built-ins and the one-line reason (the switcher must not break the timeline)."""
    from pnyx.rank.recipe import RecipeError
    from pnyx.reads import feeds

    try:
        return feeds(recipes_dir), None
    except RecipeError as exc:
        return feeds(None), str(exc)
