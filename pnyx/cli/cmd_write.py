"""Commands that sign and store a new message: post, delete, follow, unfollow, profile.

Each works with no network: the message is signed, stored durably, and its id printed. If a node is
running on the same home it is nudged to publish at once (it would also notice within a second).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pnyx.cli.context import Context, now_ms
from pnyx.cli.names import known_names
from pnyx.core import display, kinds
from pnyx.core.limits import MAX_TEXT_BYTES
from pnyx.errors import NotFoundError, UserError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("post", help="sign and store a post; prints its id")
    p.add_argument("text", metavar="TEXT", help="the post's text, or - to read standard input")
    p.add_argument(
        "--reply-to", metavar="ID", help="the id (or unique prefix) of the post replied to"
    )
    _passphrase(p)
    p.set_defaults(handler=cmd_post)

    p = sub.add_parser("delete", help="ask everyone to hide one of your posts")
    p.add_argument("id", metavar="ID", help="the post's id or a unique prefix")
    _passphrase(p)
    p.set_defaults(handler=cmd_delete)

    for name, helptext in (("follow", "follow a key"), ("unfollow", "stop following a key")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("key", metavar="KEY", help="public key: pnyx1... or 64 hex characters")
        _passphrase(p)
        p.set_defaults(handler=cmd_edge, kind=name)

    p = sub.add_parser("profile", help="show a profile, or set yours with --name / --bio")
    p.add_argument("key", metavar="KEY", nargs="?", help="whose profile to show (default: yours)")
    p.add_argument("--name", help="set your display name")
    p.add_argument("--bio", help="set your bio")
    _passphrase(p)
    p.set_defaults(handler=cmd_profile)


def _passphrase(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--passphrase-file", metavar="FILE", help="file holding the key passphrase")


def _append(ctx: Context, kind: str, body: dict[str, Any]) -> bytes:
    key = ctx.key()
    message = ctx.store().append_own(key, kind, body, now_ms())
    _nudge_node(ctx)
    return message.id


def _nudge_node(ctx: Context) -> None:
    """Tell a running node (if any) that there is something new to publish. Best effort."""
    from pnyx.node.control_client import notify_new_messages

    notify_new_messages(ctx.home)


def cmd_post(ctx: Context) -> int:
    text: str = ctx.args.text
    if text == "-":
        text = sys.stdin.read()
        if text.endswith("\n"):
            text = text[:-1]
    if not text.strip():
        raise UserError("a post needs some text")
    size = len(text.encode())
    if size > MAX_TEXT_BYTES:
        raise UserError(f"the post is {size} bytes; the limit is {MAX_TEXT_BYTES} bytes of UTF-8")
    body: dict[str, Any] = {"text": text}
    if ctx.args.reply_to:
        store = ctx.store()
        parent = store.get(store.resolve_id(ctx.args.reply_to))
        if parent is None or parent.message.kind != kinds.POST:
            raise NotFoundError(f"no post {ctx.args.reply_to} in this store")
        root = parent.message.body.get("root", parent.message.id)
        body.update(root=root, parent=parent.message.id)
    ctx.print(_append(ctx, kinds.POST, body).hex())
    return 0


def cmd_delete(ctx: Context) -> int:
    store = ctx.store()
    target = store.resolve_id(ctx.args.id)
    ctx.print(_append(ctx, kinds.DELETE, {"id": target}).hex())
    return 0


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
    ctx.print(_append(ctx, kind, {"key": target}).hex())
    return 0


def cmd_profile(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key, parse_public_key

    args = ctx.args
    if args.name is not None or args.bio is not None:
        if args.key is not None:
            raise UserError("you can only set your own profile")
        problem = display.name_problem(args.name) if args.name is not None else None
        if problem is not None:
            raise UserError(f"a name cannot hold control, bidi or invisible characters ({problem})")
        body = {k: v for k, v in (("name", args.name), ("bio", args.bio)) if v is not None}
        ctx.print(_append(ctx, kinds.PROFILE, body).hex())
        return 0
    author = parse_public_key(args.key) if args.key else ctx.public_key()
    profile = ctx.store(write=False).profile(author)
    name = profile.name if profile and profile.name else None
    shown = display.line(name) + known_names(ctx).mark(author, name) if name else "(none)"
    ctx.print(f"key:  {encode_public_key(author)}")
    ctx.print(f"name: {shown}")
    ctx.print(f"bio:  {display.line(profile.bio) if profile and profile.bio else '(none)'}")
    return 0
