"""Commands of the open square: ``trust``, ``suggest`` and ``search`` (no network).

Each parses its arguments, calls one read of ``pnyx.reads`` on the local store with the user's
public key, and prints the view: as text, every name and bio from others escaped and labelled
with its fingerprint (``pnyx.core.display.Names``, look-alikes marked), or with ``--json`` one
JSON object per line. Errors are the reads' ``UserError``/``StoreError``, mapped by
``pnyx.cli.main.exit_status``.
"""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING

from pnyx.cli import render
from pnyx.cli.context import Context
from pnyx.cli.names import known_names
from pnyx.core import display

if TYPE_CHECKING:
    from pnyx.reads import SearchHit

#: Default number of suggestions and of search results (of each sort), a count.
DEFAULT_RESULTS = 10
#: Largest number a user may ask for, a count (the reads' own limit).
MAX_RESULTS = 100


def _count(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if not 1 <= value <= MAX_RESULTS:
        raise argparse.ArgumentTypeError(f"must be a whole number, 1..{MAX_RESULTS}")
    return value


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "trust", help="how much you trust a key: score, hops, follow paths, who follows it"
    )
    p.add_argument("key", metavar="KEY", help="public key: pnyx1... or 64 hex characters")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_trust)
    p = sub.add_parser("suggest", help="whom to follow, most trusted first, each with its reason")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument(
        "--limit", metavar="N", type=_count, default=DEFAULT_RESULTS, help="how many to show"
    )
    p.set_defaults(handler=cmd_suggest)
    p = sub.add_parser(
        "search", help="posts and people whose words match, by relevance and the author's trust"
    )
    p.add_argument("query", metavar="WORD", nargs="+", help="words that must all match (pre* ok)")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.add_argument("--author", metavar="KEY", help="only this author's posts and profile")
    p.add_argument(
        "--limit",
        metavar="N",
        type=_count,
        default=DEFAULT_RESULTS,
        help="most posts (and people) to show",
    )
    p.set_defaults(handler=cmd_search)


def cmd_trust(ctx: Context) -> int:
    from pnyx.crypto.keytext import parse_public_key
    from pnyx.reads import trust_report

    key = parse_public_key(ctx.args.key)
    me = ctx.public_key()
    view = trust_report(ctx.store(write=False), me, key)
    if ctx.args.json:
        ctx.print(json.dumps(view.to_json(), ensure_ascii=False))
        return 0
    names = known_names(ctx)
    report = view.report

    def label(k: bytes) -> str:
        return "you" if k == me else names.label(k, view.names.get(k))

    ctx.print(label(key))
    if key == me:
        ctx.print("  this is you: the others' trust scores are shares of the trust you give")
        return 0
    if not report.known:
        ctx.print("  not in your web of trust: no follow this node holds reaches it")
        return 0
    rank = f" (rank {report.rank})" if report.rank is not None else ""
    hops = f"{report.hops} hops away" if report.hops is not None else "no follow path from you"
    ctx.print(f"  trust {report.score:.4g}{rank}, {hops}")
    ctx.print(f"  {view.signals.summary()}")
    for path in view.paths:
        ctx.print("  " + " → ".join(label(k) for k in path))
    return 0


def cmd_suggest(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key
    from pnyx.reads import suggest

    found = suggest(ctx.store(write=False), ctx.public_key(), ctx.args.limit)
    if not found and not ctx.args.json:
        ctx.warn("no suggestions yet: follow someone, and the people they follow show up here")
        return 0
    names = known_names(ctx)
    for item in found:
        if ctx.args.json:
            ctx.print(json.dumps(item.to_json(), ensure_ascii=False))
            continue
        ctx.print(f"{names.label(item.key, item.name)}  {encode_public_key(item.key)}")
        ctx.print(f"  {item.reason(names.label)} · trust {item.score:.4g}")
    return 0


def cmd_search(ctx: Context) -> int:
    from pnyx.crypto.keytext import parse_public_key
    from pnyx.reads import search

    author = parse_public_key(ctx.args.author) if ctx.args.author else None
    store = ctx.store(write=False)
    results = search(store, ctx.public_key(), " ".join(ctx.args.query), author, ctx.args.limit)
    if ctx.args.json:
        for hit in [*results.people, *results.posts]:
            ctx.print(json.dumps(_hit_json(ctx, hit), ensure_ascii=False))
        return 0
    if not results.people and not results.posts:
        ctx.warn("nothing here matches all of these words")
        return 0
    names = known_names(ctx)
    for hit in results.people:
        assert hit.profile is not None
        bio = f" · {display.line(hit.profile.bio)}" if hit.profile.bio else ""
        ctx.print(f"{names.label(hit.author, hit.profile.name)}{bio}")
    forked = store.forked_among(hit.author for hit in results.posts)
    for index, hit in enumerate(results.posts):
        assert hit.item is not None
        if index or results.people:
            ctx.print()
        message = hit.item.message
        profile = store.profile(message.author)
        text = render.message_text(message, profile, names=names, forked=message.author in forked)
        ctx.print(text)
    return 0


def _hit_json(ctx: Context, hit: SearchHit) -> dict[str, object]:
    from pnyx.crypto.keytext import encode_public_key
    from pnyx.views import MessageView

    found = hit.parts_json()
    if hit.item is not None:
        store = ctx.store(write=False)
        message = hit.item.message
        view = MessageView.of(message, store.profile(message.author))
        found.update(view.to_json())
    elif hit.profile is not None:
        found.update(key=encode_public_key(hit.author), name=hit.profile.name, bio=hit.profile.bio)
    return found
