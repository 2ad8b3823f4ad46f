"""Look-alike marks in the JSON API's messages, as ``--json`` prints them in the CLI.

``marked(ctx, found)`` adds ``"lookalike": {"key", "name"}`` to every message object in the
answer ``found`` (any dict with ``id``, ``author``, ``kind`` and a ``name``, at any depth: a
timeline's items, a repost's original, a thread, a profile's posts, a notification's message, a
search's posts) whose author's name looks like the name of someone the user knows (themselves and
those they follow: ``pnyx.web.read.known_names``, ``pnyx.core.display.Names.lookalike``). The
user's own messages and those of someone they follow are never marked (``Names`` knows them).
"""

from __future__ import annotations

from typing import Any, TypeVar

from pnyx.core.display import Names
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.errors import UserError
from pnyx.web import read
from pnyx.web.context import WebContext

_J = TypeVar("_J")


def mark_json(value: object, names: Names) -> None:
    """Add ``lookalike`` to each message object in ``value`` (in place; see the module)."""
    if isinstance(value, list):
        for item in value:
            mark_json(item, names)
        return
    if not isinstance(value, dict):
        return
    for item in value.values():
        mark_json(item, names)
    name, author = value.get("name"), value.get("author")
    is_message = "id" in value and "kind" in value and "lookalike" not in value
    if not (is_message and isinstance(name, str) and name and isinstance(author, str)):
        return
    try:
        key = parse_public_key(author)
    except UserError:
        return
    other = names.lookalike(key, name)
    if other is not None:
        value["lookalike"] = {"key": encode_public_key(other.key), "name": other.name}


async def marked(ctx: WebContext, found: _J) -> _J:
    """``found`` with look-alike marks on its messages (reads the known names in a worker)."""
    names: Any = await ctx.offload(read.known_names, ctx.store, ctx.me)
    mark_json(found, names)
    return found
