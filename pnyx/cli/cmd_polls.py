"""Polls from the command line (docs/polls.md): ``pnyx poll`` asks, ``pnyx vote`` answers,
``pnyx polls`` lists the polls held (or shows one) with the tally counted for the user.

Thin over ``pnyx.ops.polls`` (the rules) and ``pnyx.reads.polls`` (the tally); options are
numbered from 1 here, from 0 in messages and JSON. Every text from others (question, options,
names) is escaped for the terminal. Errors are the ops' and reads' (``UserError``,
``NotFoundError``; ``NothingChangedError`` for the same vote again prints a line and exits 0).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import TYPE_CHECKING

from pnyx.cli.cmd_write import _done, _json
from pnyx.cli.context import Context, Signer
from pnyx.cli.names import known_names
from pnyx.core import display
from pnyx.core.kinds.poll import MAX_POLL_OPTIONS
from pnyx.errors import NothingChangedError, UserError
from pnyx.polls.tally import choices_of

if TYPE_CHECKING:
    from pnyx.reads.polls import PollView

#: Width of a tally bar, in characters.
BAR_WIDTH = 20


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("poll", help="ask a question with 2 to 12 options; prints its id")
    p.add_argument("question", metavar="QUESTION")
    p.add_argument("options", metavar="OPTION", nargs="+", help=f"2 to {MAX_POLL_OPTIONS} answers")
    p.add_argument("--multiple", action="store_true", help="voters may choose several options")
    p.add_argument(
        "--for",
        dest="open_for",
        default="1d",
        metavar="TIME",
        help="open for 30m, 12h, 3d... (at most 30d; default 1d)",
    )
    _json(p)
    p.set_defaults(handler=cmd_poll)
    p = sub.add_parser("vote", help="vote on a poll (voting again replaces your vote)")
    p.add_argument("id", metavar="ID", help="the poll's id or a unique prefix")
    p.add_argument("choices", metavar="N", nargs="+", type=int, help="option numbers, from 1")
    _json(p)
    p.set_defaults(handler=cmd_vote)
    p = sub.add_parser("polls", help="the polls held, newest first, or one poll, with the tally")
    p.add_argument("id", metavar="ID", nargs="?", help="show only this poll (id or prefix)")
    p.add_argument("--limit", type=int, default=10, help="how many polls (default 10)")
    p.add_argument("--json", action="store_true", help="one JSON object per poll")
    p.set_defaults(handler=cmd_polls)


def cmd_poll(ctx: Context) -> int:
    from pnyx.ops.polls import create_poll, parse_duration

    args = ctx.args
    open_ms = parse_duration(args.open_for)
    signer = Signer(ctx)
    view = create_poll(
        ctx.store(), signer, args.question, args.options, multiple=args.multiple, open_ms=open_ms
    )
    return _done(ctx, view)


def cmd_vote(ctx: Context) -> int:
    from pnyx.ops.polls import vote

    if any(n < 1 for n in ctx.args.choices):
        raise UserError("options are numbered from 1")
    try:
        view = vote(ctx.store(), Signer(ctx), ctx.args.id, [n - 1 for n in ctx.args.choices])
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    return _done(ctx, view)


def cmd_polls(ctx: Context) -> int:
    from pnyx.reads.polls import poll_list, poll_view

    store, me = ctx.store(write=False), ctx.public_key()
    if ctx.args.id is not None:
        shown = [poll_view(store, me, store.resolve_id(ctx.args.id))]
    else:
        shown = poll_list(store, me, limit=ctx.args.limit).polls
    if ctx.args.json:
        for view in shown:
            ctx.print(json.dumps(view.to_json(), ensure_ascii=False))
        return 0
    if not shown:
        ctx.warn('no polls held: pnyx poll "QUESTION" OPTION OPTION asks one')
        return 0
    names = known_names(ctx)
    for i, view in enumerate(shown):
        if i:
            ctx.print()
        author = view.item.message.author
        who = "you" if author == me else names.label(author, view.names.get(author))
        ctx.print("\n".join(poll_lines(view, who)))
    return 0


def poll_lines(view: PollView, who: str) -> list[str]:
    """A poll as text: header, question, one bar per option (share of the voices counted for
    the user, then everyone's count), the user's vote and the tally's reasons."""
    t = view.tally
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(view.closes_ms / 1000))
    state = f"open until {when}" if view.open else f"closed {when}"
    how = "choose any" if view.multiple else "choose one"
    lines = [
        f"poll {view.item.message.id.hex()[:12]} by {who}, {state} ({how})",
        f"  {display.line(view.question)}",
    ]
    for i, option in enumerate(view.options):
        share = t.share(i)
        filled = round(share * BAR_WIDTH)
        bar = "█" * filled + "░" * (BAR_WIDTH - filled)
        lines.append(
            f"  {i + 1}. {bar} {share:4.0%}  {display.line(option)}  "
            f"({t.for_you[i]:g} for you, {t.everyone[i]} everyone)"
        )
    if t.mine is not None:
        lines.append(f"  you voted: {', '.join(str(c + 1) for c in choices_of(t.mine))}")
    lines += [f"  why: {reason}" for reason in t.why()]
    return lines
