""" "Show less like this": ``pnyx less ID``, ``pnyx less --undo ID``, ``pnyx less --list``.

A mark is kept in this home only (``pnyx.ops.less``): nothing is signed or published, and the
ranked feeds (``--feed for-you``) count it, decaying, in their ``negative`` term. Marking a post
marked already, or undoing a mark not given, prints a line and exits 0. Errors (unknown id, not
a post) are the ops' ``UserError``s, mapped by ``pnyx.cli.main.exit_status``.
"""

from __future__ import annotations

import argparse
import json

from pnyx.cli.context import Context
from pnyx.cli.names import known_names


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "less", help="show less like this post in ranked feeds (kept in this home only)"
    )
    p.add_argument("id", metavar="ID", nargs="?", help="id (or unique prefix) of the post")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--undo", action="store_true", help="take back the mark on post ID")
    what.add_argument("--list", action="store_true", help="list your marks, newest first")
    p.add_argument("--json", action="store_true", help="one JSON object (per line with --list)")
    p.set_defaults(handler=cmd_less)


def cmd_less(ctx: Context) -> int:
    from pnyx.errors import NothingChangedError, UserError
    from pnyx.ops import less as ops
    from pnyx.rank.negative import HALF_LIFE_DAYS

    if ctx.args.list:
        return _list(ctx)
    if ctx.args.id is None:
        raise UserError("pnyx less: give the ID of a post (or --list)")
    store = ctx.store()
    try:
        if ctx.args.undo:
            post_id = ops.undo_less(store, ctx.args.id)
            done = {"post": post_id.hex(), "marked": False}
            text = f"mark on {post_id.hex()[:12]} taken back"
        else:
            mark = ops.less(store, ctx.args.id)
            done = {**mark.to_json(), "marked": True}
            text = (
                f"showing less like {mark.post.hex()[:12]}: its author and its thread "
                f"(kept in this home only; a mark counts half after {HALF_LIFE_DAYS:g} days)"
            )
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    ctx.print(json.dumps(done, ensure_ascii=False) if ctx.args.json else text)
    return 0


def _list(ctx: Context) -> int:
    from pnyx.ops.less import less_list

    view = less_list(ctx.store(write=False))
    if ctx.args.json:
        for item in view.items:
            ctx.print(json.dumps(item.to_json(), ensure_ascii=False))
        return 0
    if not view.items:
        ctx.warn("no marks: pnyx less ID shows less like a post in ranked feeds")
        return 0
    names = known_names(ctx)
    me = ctx.public_key()
    for item in view.items:
        who = "you" if item.author == me else names.label(item.author, view.names.get(item.author))
        ctx.print(
            f"{item.post.hex()[:12]}  by {who}  thread {item.thread.hex()[:12]}  "
            f"weight {item.weight:.3g}"
        )
    return 0
