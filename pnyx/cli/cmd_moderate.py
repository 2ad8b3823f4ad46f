"""Mute and block: ``pnyx mute KEY [--private]``, ``unmute``, ``block``, ``unblock``, ``mutes``.

The rules live in ``pnyx.ops`` (``docs/moderation.md``); this module parses and prints. A public
mute or block is a signed message, printed like ``follow`` prints (its id, or with ``--json`` the
message); a private mute signs nothing and prints a line saying so. Asking for the state that
already holds ("already muted", "have not blocked") is a warning in words and exit 0, as for
``follow``.
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
    p = sub.add_parser("mute", help="hide a key's posts and reposts (public unless --private)")
    p.add_argument("key", metavar="KEY", help=KEY_HELP)
    p.add_argument(
        "--private", action="store_true", help="keep this mute in this home only: nothing is signed"
    )
    _json(p)
    p.set_defaults(handler=cmd_moderate, action="mute")
    for name, helptext in (
        ("unmute", "stop muting a key (public and private mutes)"),
        ("block", "hide a key everywhere and stop storing its feed (a public message)"),
        ("unblock", "lift a block"),
    ):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("key", metavar="KEY", help=KEY_HELP)
        _json(p)
        p.set_defaults(handler=cmd_moderate, action=name, private=False)

    p = sub.add_parser("mutes", help="list the keys you block, mute and mute privately")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_mutes)


def cmd_moderate(ctx: Context) -> int:
    store, signer, key, action = ctx.store(), Signer(ctx), ctx.args.key, ctx.args.action
    try:
        if action == "mute":
            view = ops.mute(store, signer, key, private=ctx.args.private)
        elif action == "unmute":
            view = ops.unmute(store, signer, key)
        else:
            view = (ops.block if action == "block" else ops.unblock)(store, signer, key)
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    if view is None:  # a private mute added or removed: nothing signed, nothing to publish
        from pnyx.control.client import notify_new_messages

        notify_new_messages(ctx.home)  # a running node reloads its policy (its live output)
        done = "muted privately" if action == "mute" else "private mute removed"
        if ctx.args.json:
            from pnyx.crypto.keytext import encode_public_key, parse_public_key

            text = encode_public_key(parse_public_key(key))
            ctx.print(json.dumps({"private": True, "action": action, "key": text}))
        else:
            ctx.print(f"{done} (kept in this home only; nothing was signed)")
        return 0
    return _done(ctx, view)


def cmd_mutes(ctx: Context) -> int:
    from pnyx.cli.render import who
    from pnyx.crypto.keytext import encode_public_key
    from pnyx.reads.policy import moderation_list
    from pnyx.store import Profile

    entries = moderation_list(ctx.store(write=False), ctx.public_key())
    for entry in entries:
        if ctx.args.json:
            ctx.print(json.dumps(entry.to_json(), ensure_ascii=False))
            continue
        profile = Profile(entry.key, entry.name, None, 0) if entry.name else None
        ctx.print(f"{entry.why:<13} {encode_public_key(entry.key)}  {who(entry.key, profile)}")
    return 0
