"""Community notes from the command line (docs/notes.md): ``pnyx note`` writes one on a post,
``pnyx rate`` rates one, ``pnyx notes POST`` shows a post's notes with their status and why.

Thin over ``pnyx.ops.notes`` and ``pnyx.reads.notes``. Text from others is escaped for the
terminal. Errors are the ops' and reads' (``UserError``, ``NotFoundError``; the same rating
again prints a line and exits 0).
"""

from __future__ import annotations

import argparse
import json

from pnyx.cli.cmd_write import _done, _json
from pnyx.cli.context import Context, Signer
from pnyx.cli.names import known_names
from pnyx.core import display
from pnyx.core.kinds.note_rating import HELPFUL
from pnyx.errors import NothingChangedError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("note", help="add context to someone's post: a community note")
    p.add_argument("post", metavar="POST", help="the post's id or a unique prefix")
    p.add_argument("text", metavar="TEXT")
    p.add_argument(
        "--not-misleading",
        action="store_true",
        help="the note says the post is fine as it is (default: that it misleads)",
    )
    _json(p)
    p.set_defaults(handler=cmd_note)
    p = sub.add_parser("rate", help="rate a community note (rating again replaces it)")
    p.add_argument("note", metavar="NOTE", help="the note's id or a unique prefix")
    p.add_argument("helpful", choices=sorted(HELPFUL), help="was it helpful?")
    _json(p)
    p.set_defaults(handler=cmd_rate)
    p = sub.add_parser("notes", help="a post's community notes, with their status and why")
    p.add_argument("post", metavar="POST", help="the post's id or a unique prefix")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_notes)


def cmd_note(ctx: Context) -> int:
    from pnyx.ops.notes import write_note

    args = ctx.args
    view = write_note(
        ctx.store(), Signer(ctx), args.post, args.text, misleading=not args.not_misleading
    )
    return _done(ctx, view)


def cmd_rate(ctx: Context) -> int:
    from pnyx.ops.notes import rate_note

    try:
        view = rate_note(ctx.store(), Signer(ctx), ctx.args.note, ctx.args.helpful)
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    return _done(ctx, view)


def cmd_notes(ctx: Context) -> int:
    from pnyx.reads.notes import post_notes

    store, me = ctx.store(write=False), ctx.public_key()
    found = post_notes(store, me, store.resolve_id(ctx.args.post))
    if ctx.args.json:
        ctx.print(json.dumps(found.to_json(), ensure_ascii=False))
        return 0
    if not found.notes:
        ctx.warn("no notes on this post: pnyx note POST TEXT adds one")
        return 0
    names = known_names(ctx)
    for i, note in enumerate(found.notes):
        author = note.item.message.author
        who = "you" if author == me else names.label(author, found.names.get(author))
        says = "misleading" if note.misleading else "not misleading"
        if i:
            ctx.print()
        ctx.print(f"note {note.item.message.id.hex()[:12]} by {who} ({says}): {note.score.status}")
        ctx.print(f"  {display.block(note.text, '  ')}")
        ctx.print(f"  why: {note.score.why()}")
        if note.mine is not None:
            ctx.print(f"  you rated it: {note.mine}")
    ctx.print(f"({found.raters} raters you trust in the model; docs/notes.md)")
    return 0
