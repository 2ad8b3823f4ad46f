"""Commands that sign and store a message: post, delete, follow, unfollow, profile, like, repost,
unlike, unrepost.

Each works with no network: the message is signed, stored durably, and its id printed (with
``--json``: the new message as one JSON line, as ``timeline --json`` prints it). If a node is
running on the same home it is nudged to publish at once (it would also notice within a second).

Every rule lives in ``pnyx.ops`` (shared with the web app); this module parses and prints. Every
user input is checked there before anything is signed, so a mistake (text over its limit, not
UTF-8, a second like or delete of the same post) is a ``UserError`` (exit 2) naming the limit and
its unit, and nothing is stored.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from pnyx import ops
from pnyx.cli.context import Context, Signer
from pnyx.cli.names import known_names
from pnyx.core import display
from pnyx.core.limits import MAX_BIO_BYTES, MAX_NAME_BYTES, MAX_REACTION_BYTES
from pnyx.errors import NothingChangedError, UserError
from pnyx.ops import LIKE

if TYPE_CHECKING:
    from pnyx.views import MessageView


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

    for name, helptext in (
        ("unlike", "take back your like (every reaction) of a post"),
        ("unrepost", "take back your repost of a post"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("id", metavar="ID", help="the post's id or a unique prefix")
        _json(p)
        p.set_defaults(handler=cmd_undo, kind=name)


def _json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print the new message as one JSON object"
    )


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


def _done(ctx: Context, view: MessageView) -> int:
    """Nudge a running node (best effort) and print the new message's id or JSON."""
    from pnyx.control.client import notify_new_messages

    notify_new_messages(ctx.home)
    if ctx.args.json:
        ctx.print(json.dumps(view.to_json(), ensure_ascii=False))
    else:
        ctx.print(view.id.hex())
    return 0


def cmd_post(ctx: Context) -> int:
    text: str = ctx.args.text
    if text == "-":
        text = _read_stdin()
    if not text.strip():
        raise UserError("a post needs some text")
    signer = Signer(ctx)
    return _done(ctx, ops.post(ctx.store(), signer, text, reply_to=ctx.args.reply_to or None))


def cmd_delete(ctx: Context) -> int:
    return _done(ctx, ops.delete(ctx.store(), Signer(ctx), ctx.args.id))


def cmd_edge(ctx: Context) -> int:
    action = ops.follow if ctx.args.kind == "follow" else ops.unfollow
    try:
        view = action(ctx.store(), Signer(ctx), ctx.args.key)
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    return _done(ctx, view)


def cmd_like(ctx: Context) -> int:
    signer = Signer(ctx)
    return _done(ctx, ops.like(ctx.store(), signer, ctx.args.id, reaction=ctx.args.reaction))


def cmd_repost(ctx: Context) -> int:
    return _done(ctx, ops.repost(ctx.store(), Signer(ctx), ctx.args.id))


def cmd_undo(ctx: Context) -> int:
    """Sign a ``delete`` of the user's live reaction(s) or repost of the post (``pnyx.ops.undo``);
    none to take back is a ``NothingChangedError`` (exit 2, nothing signed). Prints the last
    delete signed."""
    action = ops.unlike if ctx.args.kind == "unlike" else ops.unrepost
    return _done(ctx, action(ctx.store(), Signer(ctx), ctx.args.id))


def cmd_profile(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key, parse_public_key

    args = ctx.args
    if args.name is not None or args.bio is not None:
        if args.key is not None:
            raise UserError("you can only set your own profile")
        return _done(ctx, ops.profile(ctx.store(), Signer(ctx), name=args.name, bio=args.bio))
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
