"""Commands that sign and store a message: post, delete, follow, unfollow, profile, like, repost.

Each works with no network: the message is signed, stored durably, and its id printed (with
``--json``: the new message as one JSON line, as ``timeline --json`` prints it). If a node is
running on the same home it is nudged to publish at once (it would also notice within a second).

Every user input is checked here before anything is signed, so a mistake (text over its limit, not
UTF-8, a second like or delete of the same post) is a ``UserError`` (exit 2) naming the limit and
its unit, and nothing is stored.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from pnyx.cli import render
from pnyx.cli.context import Context
from pnyx.cli.names import known_names
from pnyx.clock import wall_clock_ms
from pnyx.core import display, kinds
from pnyx.core.limits import MAX_BIO_BYTES, MAX_NAME_BYTES, MAX_REACTION_BYTES, MAX_TEXT_BYTES
from pnyx.errors import NotFoundError, UserError

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

#: The reaction ``pnyx like`` signs (the Nostr convention for "like").
LIKE = "+"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("post", help="sign and store a post; prints its id")
    p.add_argument("text", metavar="TEXT", help="the post's text, or - to read standard input")
    p.add_argument(
        "--reply-to", metavar="ID", help="the id (or unique prefix) of the post replied to"
    )
    _json(p)
    p.set_defaults(handler=cmd_post)

    p = sub.add_parser("delete", help="ask everyone to hide one of your posts")
    p.add_argument("id", metavar="ID", help="the post's id or a unique prefix")
    _json(p)
    p.set_defaults(handler=cmd_delete)

    for name, helptext in (("follow", "follow a key"), ("unfollow", "stop following a key")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("key", metavar="KEY", help="public key: pnyx1... or 64 hex characters")
        _json(p)
        p.set_defaults(handler=cmd_edge, kind=name)

    p = sub.add_parser("profile", help="show a profile, or set yours with --name / --bio")
    p.add_argument("key", metavar="KEY", nargs="?", help="whose profile to show (default: yours)")
    p.add_argument("--name", help=f"set your display name (at most {MAX_NAME_BYTES} bytes)")
    p.add_argument("--bio", help=f"set your bio (at most {MAX_BIO_BYTES} bytes)")
    _json(p)
    p.set_defaults(handler=cmd_profile)

    p = sub.add_parser("like", help="like a post (a reaction; once per post)")
    p.add_argument("id", metavar="ID", help="the post's id or a unique prefix")
    p.add_argument(
        "--reaction",
        default=LIKE,
        metavar="TEXT",
        help=f"react with TEXT instead, e.g. one emoji (at most {MAX_REACTION_BYTES} bytes; "
        f"default {LIKE!r}, a like)",
    )
    _json(p)
    p.set_defaults(handler=cmd_like)

    p = sub.add_parser("repost", help="re-share a post with your followers (once per post)")
    p.add_argument("id", metavar="ID", help="the post's id or a unique prefix")
    _json(p)
    p.set_defaults(handler=cmd_repost)


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the new message as one JSON object"
    )


def user_text(value: str, what: str, limit: int, *, allow_empty: bool = False) -> str:
    """``value`` if it is valid UTF-8 of at most ``limit`` bytes, else ``UserError``."""
    try:
        size = len(value.encode())
    except UnicodeEncodeError:  # undecodable bytes in argv arrive as lone surrogates
        raise UserError(f"the {what} is not valid UTF-8; nothing was stored") from None
    if size > limit:
        raise UserError(f"the {what} is {size} bytes; the limit is {limit} bytes of UTF-8")
    if not allow_empty and not value.strip():
        raise UserError(f"the {what} is empty")
    return value


def _read_stdin() -> str:
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UserError(
            f"standard input is not valid UTF-8 (bad byte at offset {exc.start}); "
            "nothing was posted"
        ) from None
    return text[:-1] if text.endswith("\n") else text


def _append(ctx: Context, kind: str, body: dict[str, Any]) -> int:
    from pnyx.core.reasons import InvalidMessage

    key = ctx.key()
    store = ctx.store()
    try:
        message = store.append_own(key, kind, body, wall_clock_ms())
    except InvalidMessage as exc:  # a limit not checked above: still the user's input, not a peer's
        raise UserError(
            f"this {kind} would be an invalid message ({exc}); nothing was stored"
        ) from None
    _nudge_node(ctx)
    _print_new(ctx, message)
    return 0


def _print_new(ctx: Context, message: Message) -> None:
    if ctx.args.json:
        ctx.print(render.message_json(message, ctx.store().profile(message.author)))
    else:
        ctx.print(message.id.hex())


def _nudge_node(ctx: Context) -> None:
    """Tell a running node (if any) that there is something new to publish. Best effort."""
    from pnyx.control.client import notify_new_messages

    notify_new_messages(ctx.home)


def _post_of(ctx: Context, id_text: str) -> Message:
    store = ctx.store()
    found = store.get(store.resolve_id(id_text))
    if found is None or found.message.kind != kinds.POST:
        raise NotFoundError(f"no post {id_text} in this store")
    return found.message


def cmd_post(ctx: Context) -> int:
    text: str = ctx.args.text
    if text == "-":
        text = _read_stdin()
    if not text.strip():
        raise UserError("a post needs some text")
    user_text(text, "post", MAX_TEXT_BYTES)
    body: dict[str, Any] = {"text": text}
    if ctx.args.reply_to:
        parent = _post_of(ctx, ctx.args.reply_to)
        root = parent.body.get("root", parent.id)
        body.update(root=root, parent=parent.id)
    return _append(ctx, kinds.POST, body)


def cmd_delete(ctx: Context) -> int:
    store = ctx.store()
    target = store.resolve_id(ctx.args.id)
    return _append(ctx, kinds.DELETE, {"id": target})


def cmd_edge(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key, parse_public_key

    target = parse_public_key(ctx.args.key)
    kind: str = ctx.args.kind
    if target == ctx.public_key():
        raise UserError(f"you cannot {kind} yourself")
    following = target in ctx.store().following(ctx.public_key())
    if (kind == kinds.FOLLOW) == following:
        state = "already follow" if following else "do not follow"
        ctx.warn(f"you {state} {encode_public_key(target)}; nothing changed")
        return 0
    return _append(ctx, kind, {"key": target})


def cmd_like(ctx: Context) -> int:
    reaction = user_text(ctx.args.reaction, "reaction", MAX_REACTION_BYTES)
    post = _post_of(ctx, ctx.args.id)
    for earlier in ctx.store().references(ctx.public_key(), kinds.REACTION, post.id):
        if earlier.message.body.get("reaction") == reaction:
            what = "liked" if reaction == LIKE else f"reacted {reaction} to"
            raise UserError(f"you already {what} post {post.id.hex()[:12]}; nothing changed")
    return _append(
        ctx, kinds.REACTION, {"id": post.id, "author": post.author, "reaction": reaction}
    )


def cmd_repost(ctx: Context) -> int:
    post = _post_of(ctx, ctx.args.id)
    if ctx.store().references(ctx.public_key(), kinds.REPOST, post.id):
        raise UserError(f"you already reposted post {post.id.hex()[:12]}; nothing changed")
    return _append(ctx, kinds.REPOST, {"id": post.id, "author": post.author})


def cmd_profile(ctx: Context) -> int:
    import json

    from pnyx.crypto.keytext import encode_public_key, parse_public_key

    args = ctx.args
    if args.name is not None or args.bio is not None:
        if args.key is not None:
            raise UserError("you can only set your own profile")
        body: dict[str, Any] = {}
        if args.name is not None:
            new_name = user_text(args.name, "name", MAX_NAME_BYTES, allow_empty=True)
            problem = display.name_problem(new_name)
            if problem is not None:
                raise UserError(
                    f"a name cannot hold control, bidi or invisible characters ({problem})"
                )
            body["name"] = new_name
        if args.bio is not None:
            body["bio"] = user_text(args.bio, "bio", MAX_BIO_BYTES, allow_empty=True)
        return _append(ctx, kinds.PROFILE, body)
    author = parse_public_key(args.key) if args.key else ctx.public_key()
    profile = ctx.store(write=False).profile(author)
    name = profile.name if profile and profile.name else None
    bio = profile.bio if profile and profile.bio else None
    if args.json:
        record: dict[str, object] = {"key": encode_public_key(author), "name": name, "bio": bio}
        other = known_names(ctx).lookalike(author, name) if name else None
        if other is not None:
            record["lookalike"] = {"key": encode_public_key(other.key), "name": other.name}
        ctx.print(json.dumps(record, ensure_ascii=False))
        return 0
    shown = display.line(name) + known_names(ctx).mark(author, name) if name else "(none)"
    ctx.print(f"key:  {encode_public_key(author)}")
    ctx.print(f"name: {shown}")
    ctx.print(f"bio:  {display.line(bio) if bio else '(none)'}")
    return 0
