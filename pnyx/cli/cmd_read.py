"""Commands that read the local store: timeline, feed, thread, following. No network."""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from pnyx.cli import cmd_rank, render
from pnyx.cli.context import Context
from pnyx.cli.names import known_names
from pnyx.core import display
from pnyx.core.display import plural
from pnyx.rank.builtins import DEFAULT

if TYPE_CHECKING:
    from pnyx.reads.timeline import Original, TimelinePage
    from pnyx.store import Cursor, Page, Profile, Store, StoredMessage
    from pnyx.trust.policy import Policy

#: Default page size of timeline and feed, in messages.
DEFAULT_PAGE = 20
#: Largest page a user may ask for, in messages (page on with --before for more).
MAX_PAGE = 1000
#: Deepest indentation of a reply in ``thread`` output, in levels (deeper replies stay there).
MAX_INDENT_DEPTH = 8


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("timeline", help="your posts and those of everyone you follow, newest first")
    _paging(p)
    cmd_rank.add_feed_option(p)
    p.set_defaults(handler=cmd_timeline)
    p = sub.add_parser("feed", help="one author's messages, newest first")
    p.add_argument("key", metavar="KEY", help="public key: pnyx1... or 64 hex characters")
    _paging(p)
    p.set_defaults(handler=cmd_feed)
    p = sub.add_parser("thread", help="a post with all its replies, oldest first")
    p.add_argument("id", metavar="ID", help="id (or unique prefix) of any post in the thread")
    _json(p)
    p.set_defaults(handler=cmd_thread)
    p = sub.add_parser("following", help="the keys you follow, one per line")
    _json(p)
    p.set_defaults(handler=cmd_following)


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json",
        action="store_true",
        help='one JSON object per line; when more follow, a last line {"next_cursor": CURSOR}',
    )


def _page_size(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_PAGE:
        raise argparse.ArgumentTypeError(
            f"must be a whole number of messages, 1..{MAX_PAGE} (page on with --before)"
        )
    return value


def _paging(parser: argparse.ArgumentParser) -> None:
    _json(parser)
    parser.add_argument("--limit", type=_page_size, default=DEFAULT_PAGE, help="messages per page")
    parser.add_argument("--before", metavar="CURSOR", help="continue from a previous page's cursor")


def cursor(ctx: Context) -> Cursor | None:
    """The ``--before`` cursor, if given (``UserError`` for text that is not one)."""
    from pnyx.store import Cursor

    return Cursor.from_text(ctx.args.before) if ctx.args.before else None


def show(
    ctx: Context,
    items: Iterable[StoredMessage],
    scores: Mapping[bytes, float] | None = None,
    originals: Mapping[bytes, Original] | None = None,
) -> None:
    """Print ``items`` as message blocks, or with ``--json`` one object per line (with ``score``
    from ``scores`` when given: a ranked feed's page). Warns once per forked author.
    ``originals``: by repost id, the post each repost re-shares (the timeline): a repost is shown
    as "↻ B reposted" then that post, and in JSON gains ``reposted`` (the post's object, or null
    when not shown) and ``reposted_state`` (``held``, ``deleted`` or ``not-held``)."""
    store = ctx.store(write=False)
    names = known_names(ctx)
    items = list(items)
    originals = originals or {}
    shown_posts = [o.post for o in originals.values() if o.post is not None]
    forked = store.forked_among(item.message.author for item in [*items, *shown_posts])
    for author in sorted(forked):  # robustness: the user sees who signed two histories
        _warn_forked(ctx, store, author)
    policy = _policy(ctx, store)
    profiles: dict[bytes, Profile | None] = {}

    def profile_of(author: bytes) -> Profile | None:
        if author not in profiles:
            profiles[author] = store.profile(author)
        return profiles[author]

    first = True
    for item in items:
        message = item.message
        profile = profile_of(message.author)
        is_forked = message.author in forked
        original = originals.get(message.id)
        shown = original.post.message if original is not None and original.post else None
        warned = tuple((w.value, w.labeller) for w in policy.warnings(message)) if policy else ()
        if ctx.args.json:
            line = render.message_json(message, profile, names, forked=is_forked, warnings=warned)
            record = json.loads(line)
            if scores is not None and message.id in scores:
                record["score"] = scores[message.id]
            if original is not None:
                record["reposted"] = (
                    None
                    if shown is None
                    else json.loads(
                        render.message_json(
                            shown, profile_of(shown.author), names, forked=shown.author in forked
                        )
                    )
                )
                record["reposted_state"] = original.state
            ctx.print(json.dumps(record, ensure_ascii=False))
            continue
        if not first:
            ctx.print()
        first = False
        if original is not None:
            ctx.print(
                render.repost_text(
                    message,
                    profile,
                    shown,
                    profile_of(shown.author) if shown is not None else None,
                    original.state,
                    names=names,
                    forked=is_forked,
                    original_forked=shown is not None and shown.author in forked,
                )
            )
            continue
        marks = tuple(f"{v} by {render.who(k, profile_of(k), names)}" for v, k in warned)
        ctx.print(
            render.message_text(message, profile, names=names, forked=is_forked, warnings=marks)
        )


def _policy(ctx: Context, store: Store) -> Policy | None:
    """The user's policy, for the warnings of the items shown (None without an identity)."""
    from pnyx.errors import NoIdentityError
    from pnyx.reads.policy import load_policy

    try:
        me = ctx.public_key()
    except NoIdentityError:
        return None
    return load_policy(store, me)


def _warn_forked(ctx: Context, store: Store, author: bytes) -> None:
    """One line on standard error: ``author`` is forked, with the evidence this store holds."""
    from pnyx.crypto.keytext import encode_public_key

    forks = store.forks(author)
    dropped = store.forks_dropped(author)
    first = f" (first at seq {min(f.seq for f in forks)})" if forks else ""
    more = f", {dropped} more seen and not kept" if dropped else ""
    ctx.warn(
        f"warning: {encode_public_key(author)} is FORKED: {len(forks)} conflicting message(s) "
        f"kept as evidence{first}{more}; the key may be compromised or used on two devices. "
        "pnyx keeps the first version it saw."
    )


def _show_page(ctx: Context, page: Page | TimelinePage, empty: str) -> int:
    if not page.items and not ctx.args.json:
        ctx.warn(empty)
        return 0
    show(ctx, page.items, originals=getattr(page, "originals", None))
    if page.next is not None:
        if ctx.args.json:  # the last line: how a script asks for the next page (--before)
            ctx.print(json.dumps({"next_cursor": page.next.to_text()}))
        else:
            ctx.print(f"\n(more: --before {page.next.to_text()})")
    return 0


def cmd_timeline(ctx: Context) -> int:
    if ctx.args.feed != DEFAULT:  # a ranked feed; `following` stays the time-ordered timeline
        return cmd_rank.show_feed(ctx)
    from pnyx.reads.timeline import timeline

    page = timeline(
        ctx.store(write=False), ctx.public_key(), limit=ctx.args.limit, before=cursor(ctx)
    )
    return _show_page(ctx, page, empty_timeline_hint(ctx))


def empty_timeline_hint(ctx: Context, what: str = "the timeline") -> str:
    """What to do about an empty timeline (or feed ``what``): "follow someone" only to a user
    who follows nobody."""
    followed = len(ctx.store(write=False).following(ctx.public_key()))
    if not followed:
        return f"{what} is empty: post something, or follow someone"
    return (
        f"{what} is empty: you follow {followed} {plural(followed, 'author')} and hold "
        "no posts of theirs yet; they arrive while `pnyx run` runs, or with "
        "`pnyx sync ADDRESS` from someone who has them"
    )


def cmd_feed(ctx: Context) -> int:
    from pnyx.crypto.keytext import parse_public_key

    author = parse_public_key(ctx.args.key)
    store = ctx.store(write=False)
    page = store.feed(author, limit=ctx.args.limit, before=cursor(ctx))
    if store.is_forked(author) and not page.items:  # otherwise show warns
        _warn_forked(ctx, store, author)
    return _show_page(ctx, page, "no messages from this author here yet")


#: Exit status of ``thread`` on a post it cannot show (deleted by its author, or not held here).
EXIT_NOT_SHOWN = 1


def cmd_thread(ctx: Context) -> int:
    from pnyx.errors import NotFoundError

    store = ctx.store(write=False)
    try:
        post_id = store.resolve_id(ctx.args.id)
    except NotFoundError as exc:
        if "ambiguous" in str(exc):
            raise
        ctx.warn(
            f"post {ctx.args.id.strip().lower()} is not held here: its author's messages arrive "
            "when you sync with someone who has them (pnyx sync ADDRESS), or by gossip while "
            "`pnyx run` runs if you follow its author"
        )
        return EXIT_NOT_SHOWN
    from pnyx.reads.thread import thread

    me = ctx.public_key() if ctx.home.key_path.exists() else None  # no identity: nobody's policy
    view = thread(store, me, post_id)
    status = 0
    if view.deleted:  # a post (thread refuses other kinds) that was deleted
        status = EXIT_NOT_SHOWN
        more = "; the rest of its thread held here follows" if view.rows else ""
        ctx.warn(f"post {post_id.hex()[:12]} was deleted by its author{more}")
    if ctx.args.json:
        show(ctx, view.shown())
        return status
    authors = {row.item.message.id: row.item.message.author for row in view.rows}
    for author in sorted(view.forked):  # robustness: the user sees who signed two histories
        _warn_forked(ctx, store, author)
    profiles: dict[bytes, Profile | None] = {}

    def profile(author: bytes) -> Profile | None:
        if author not in profiles:
            profiles[author] = store.profile(author)
        return profiles[author]

    names = known_names(ctx)
    for index, row in enumerate(view.rows):
        message = row.item.message
        parent = authors.get(message.body.get("parent", b""))
        parent_who = render.who(parent, profile(parent)) if parent is not None else None
        indent = "  " * min(row.depth, MAX_INDENT_DEPTH)
        if index:
            ctx.print()
        if row.hidden is not None:  # collapsed: the conversation keeps its shape
            who = render.who(row.hidden.key, profile(row.hidden.key))
            ctx.print(f"{indent}hidden: {row.hidden.reason(who)}")
            continue
        ctx.print(
            render.message_text(
                message,
                profile(message.author),
                indent=indent,
                parent_who=parent_who,
                names=names,
                forked=message.author in view.forked,
            )
        )
    return status


def cmd_following(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key

    store = ctx.store(write=False)
    names = known_names(ctx)
    for key in store.following(ctx.public_key()):
        profile = store.profile(key)
        name = profile.name if profile and profile.name else None
        if ctx.args.json:
            record: dict[str, object] = {"key": encode_public_key(key), "name": name}
            other = names.lookalike(key, name)
            if other is not None:
                record["lookalike"] = {"key": encode_public_key(other.key), "name": other.name}
            ctx.print(json.dumps(record))
        else:
            shown = f"  {display.line(name)}{names.mark(key, name)}" if name else ""
            ctx.print(encode_public_key(key) + shown)
    return 0
