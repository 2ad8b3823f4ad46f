"""Labels: ``pnyx label ID_OR_KEY VALUE [--retract]`` and ``pnyx labellers [add|remove]``.

The rules live in ``pnyx.ops`` (``docs/moderation.md``, "Labels and labellers"); this module
parses and prints. A label is a signed message, printed like ``follow`` prints (its id, or with
``--json`` the message). A subscription signs nothing: it prints a line saying so and nudges a
running node, which reloads its interest set (the labeller's feed is pinned) and its policy.
Asking for the state that already holds is a warning in words and exit 0, as for ``mute``.
"""

from __future__ import annotations

import argparse
import json

from pnyx import ops
from pnyx.cli.cmd_write import _done, _json
from pnyx.cli.context import Context, Signer
from pnyx.errors import NothingChangedError

KEY_HELP = "public key: pnyx1... or 64 hex characters"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("label", help="label a post or a key (spam, nsfw, !hide, ...): public")
    p.add_argument(
        "subject", metavar="ID_OR_KEY", help="a post id (or unique prefix), or a pnyx1... key"
    )
    p.add_argument("value", metavar="VALUE", help="a-z, 0-9 and -, or !hide / !warn")
    p.add_argument("--retract", action="store_true", help="take back this label")
    _json(p)
    p.set_defaults(handler=cmd_label)

    p = sub.add_parser("labellers", help="the labellers whose labels hide or warn for you")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_labellers)
    acts = p.add_subparsers(dest="labellers_action", metavar="ACTION")
    q = acts.add_parser("add", help="apply a key's labels (kept in this home; nothing is signed)")
    q.add_argument("key", metavar="KEY", help=KEY_HELP)
    for action in ("hide", "warn", "ignore"):
        q.add_argument(
            f"--{action}",
            metavar="VALUE",
            nargs="+",
            default=[],
            help=f"{action} the items with these labels",
        )
    q.add_argument("--json", action="store_true", help="one JSON object")
    q.set_defaults(handler=cmd_labeller_add)
    q = acts.add_parser("remove", help="stop applying a key's labels")
    q.add_argument("key", metavar="KEY", help=KEY_HELP)
    q.add_argument("--json", action="store_true", help="one JSON object")
    q.set_defaults(handler=cmd_labeller_remove)


def cmd_label(ctx: Context) -> int:
    args = ctx.args
    try:
        view = ops.label(ctx.store(), Signer(ctx), args.subject, args.value, neg=args.retract)
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    return _done(ctx, view)


def _nudge(ctx: Context) -> None:
    from pnyx.control.client import notify_new_messages

    notify_new_messages(ctx.home, interest=True)  # a running node reloads its interest set


def cmd_labeller_add(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key

    actions = {v: a for a in ("hide", "warn", "ignore") for v in getattr(ctx.args, a)}
    sub = ops.subscribe_labeller(ctx.store(), ctx.public_key(), ctx.args.key, actions)
    _nudge(ctx)
    text = encode_public_key(sub.key)
    if ctx.args.json:
        ctx.print(json.dumps({"key": text, "actions": dict(sub.actions)}, ensure_ascii=False))
    else:
        ctx.print(f"subscribed to {text} (kept in this home only; nothing was signed)")
    return 0


def cmd_labeller_remove(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key, parse_public_key

    try:
        ops.unsubscribe_labeller(ctx.store(), ctx.args.key)
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    _nudge(ctx)
    text = encode_public_key(parse_public_key(ctx.args.key))
    ctx.print(
        json.dumps({"key": text, "removed": True}) if ctx.args.json else f"unsubscribed from {text}"
    )
    return 0


def cmd_labellers(ctx: Context) -> int:
    from pnyx.cli.render import who
    from pnyx.crypto.keytext import encode_public_key
    from pnyx.reads.labels import labeller_list
    from pnyx.store import Profile

    for entry in labeller_list(ctx.store(write=False)):
        if ctx.args.json:
            ctx.print(json.dumps(entry.to_json(), ensure_ascii=False))
            continue
        profile = Profile(entry.key, entry.name, None, 0) if entry.name else None
        ctx.print(f"{encode_public_key(entry.key)}  {who(entry.key, profile)}")
        for action in ("hide", "warn", "ignore"):
            values = [v for v, a in entry.actions.items() if a == action]
            if values:
                ctx.print(f"  {action:<6} {' '.join(values)}")
    return 0
