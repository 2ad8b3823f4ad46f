"""Commands of ranking anyone can read: ``recipes``, ``why``, ``clusters``, and the ranked pages of
``timeline --feed NAME`` (``show_feed``). No network.

Each parses its arguments, calls one read of ``pnyx.reads`` (``feeds``, ``why``, ``clusters``,
``ranked_timeline``) on the local store with the user's public key and the home's recipes
directory, and prints the view: as text, every name from others escaped and labelled with its
fingerprint (``pnyx.core.display.Names``), the user as "you"; or with ``--json`` one JSON object per
line. Errors are the reads' ``UserError`` (``RecipeError`` for an unknown feed or a bad recipe
file, naming the available feeds) and ``StoreError``, mapped by ``pnyx.cli.main.exit_status``.
"""

from __future__ import annotations

import argparse
import json

from pnyx.cli.context import Context
from pnyx.cli.names import known_names
from pnyx.core import display
from pnyx.rank.builtins import DEFAULT


def add_feed_option(parser: argparse.ArgumentParser) -> None:
    """``--feed NAME``: the recipe that orders the page (``pnyx recipes`` lists them)."""
    parser.add_argument(
        "--feed",
        metavar="NAME",
        default=DEFAULT,
        help=f"the feed recipe: {DEFAULT} (default), for-you, or one of yours (pnyx recipes)",
    )


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("recipes", help="the feeds you can choose, with the hash of each recipe")
    p.add_argument("--json", action="store_true", help="one JSON object per line")
    p.set_defaults(handler=cmd_recipes)
    acts = p.add_subparsers(dest="recipes_action", metavar="ACTION")
    q = acts.add_parser("publish", help="sign and publish a feed recipe, so others can run it")
    q.add_argument("name", metavar="NAME", help="the feed (pnyx recipes lists them)")
    q.add_argument("--json", action="store_true", help="the message as one JSON object")
    q.set_defaults(handler=cmd_recipe_publish)
    q = acts.add_parser("subscribe", help="install a published recipe by its hash")
    q.add_argument("hash", metavar="HASH", help="the recipe hash (64 hex digits)")
    q.add_argument("--json", action="store_true", help="one JSON object")
    q.set_defaults(handler=cmd_recipe_subscribe)
    p = sub.add_parser("why", help="why a post is where it is in a feed: each term, each discount")
    p.add_argument("id", metavar="ID", help="id (or unique prefix) of the post")
    add_feed_option(p)
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_why)
    p = sub.add_parser(
        "clusters", help="identities that repost and react together, counted as one voice"
    )
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_clusters)


def show_feed(ctx: Context) -> int:
    """A ranked page of ``timeline --feed NAME`` (not ``following``): the timeline's message
    lines in the recipe's order; ``--json`` objects gain ``score``."""
    from pnyx.cli import cmd_read  # cmd_read registers --feed from here: import at call time
    from pnyx.reads import ranked_timeline
    from pnyx.reads.feed_cursor import parse_page_cursor

    page = ranked_timeline(
        ctx.store(write=False),
        ctx.public_key(),
        ctx.args.feed,
        ctx.args.limit,
        parse_page_cursor(ctx.args.before) if ctx.args.before else None,
        recipes_dir=ctx.home.recipes_path,
    )
    if not page.items and not ctx.args.json:
        ctx.warn(cmd_read.empty_timeline_hint(ctx, f"the feed {page.recipe.name}"))
        return 0
    scores = {i.item.id: i.score for i in page.items if i.score is not None}
    cmd_read.show(ctx, [i.item for i in page.items], scores)
    if page.next is not None:  # the next page of the same ranking snapshot
        more = page.next.to_text()
        ctx.print(
            json.dumps({"next_cursor": more}) if ctx.args.json else f"\n(more: --before {more})"
        )
    return 0


def cmd_recipes(ctx: Context) -> int:
    from pnyx.reads import feeds

    for feed in feeds(ctx.home.recipes_path):
        if ctx.args.json:
            ctx.print(json.dumps(feed.to_json(), ensure_ascii=False))
            continue
        recipe = feed.recipe
        where = "built in" if feed.path is None else str(feed.path)
        if feed.publisher is not None:
            where += f", subscribed: published by {feed.publisher}"
        ctx.print(f"{recipe.name}  {recipe.hash}  ({where})")
        if recipe.description:
            ctx.print(f"  {display.line(recipe.description)}")
    return 0


def cmd_recipe_publish(ctx: Context) -> int:
    from pnyx.cli.cmd_write import _done
    from pnyx.cli.context import Signer
    from pnyx.ops.recipes import publish_recipe
    from pnyx.reads.recipes import load

    recipe = load(ctx.home.recipes_path, ctx.args.name)
    view = publish_recipe(ctx.store(), Signer(ctx), recipe)
    if not ctx.args.json:
        ctx.print(f"published the recipe {recipe.name} {recipe.hash}")
    return _done(ctx, view)


def cmd_recipe_subscribe(ctx: Context) -> int:
    from pnyx.errors import NothingChangedError
    from pnyx.ops.recipes import subscribe_recipe

    try:
        done = subscribe_recipe(ctx.store(write=False), ctx.home.recipes_path, ctx.args.hash)
    except NothingChangedError as exc:
        ctx.warn(str(exc))
        return 0
    if ctx.args.json:
        ctx.print(json.dumps(done.to_json(), ensure_ascii=False))
    else:
        ctx.print(f"subscribed to {done.recipe.name} {done.recipe.hash}")
        ctx.print(f"  published by {done.to_json()['author']}; it runs here, on your node")
        ctx.print(f"  read it with: pnyx timeline --feed {done.recipe.name}")
    return 0


def cmd_why(ctx: Context) -> int:
    from pnyx.reads import why

    store = ctx.store(write=False)
    me = ctx.public_key()
    post_id = store.resolve_id(ctx.args.id)
    view = why(store, me, post_id, ctx.args.feed, recipes_dir=ctx.home.recipes_path)
    if ctx.args.json:
        ctx.print(json.dumps(view.to_json(), ensure_ascii=False))
        return 0
    names = known_names(ctx)

    def label(key: bytes, name: str | None) -> str:
        return "you" if key == me else names.label(key, name)

    ctx.print(view.text(label))
    return 0


def cmd_clusters(ctx: Context) -> int:
    from pnyx.reads import clusters
    from pnyx.reads.feed import CLUSTER_WINDOW_S

    view = clusters(ctx.store(write=False), ctx.public_key())
    if ctx.args.json:
        ctx.print(json.dumps(view.to_json(), ensure_ascii=False))
        return 0
    days = CLUSTER_WINDOW_S // 86400
    groups = view.groups()
    if not groups:
        ctx.warn(
            f"no clusters: no identities repost and react together "
            f"({view.actions} reposts and reactions in the last {days} days)"
        )
        return 0
    names = known_names(ctx)
    ctx.print(
        f"{len(groups)} cluster(s) over {view.actions} reposts and reactions of the last {days} "
        "days; each counts as one voice per post"
    )
    for index, (_, members) in enumerate(groups, 1):
        shown = ", ".join(names.label(k, view.names.get(k)) for k in members)
        ctx.print(f"  cluster {index}: {shown}")
    return 0
