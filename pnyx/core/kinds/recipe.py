"""``recipe``: a feed recipe published as a signed message, so others can run it locally.

Body: ``recipe``, the recipe's canonical bytes (bin, 1..``MAX_RECIPE_BODY_BYTES``; the JSON text
``pnyx.rank.recipe.Recipe.canonical`` gives), and ``name``, the recipe's name (text, 1..
``MAX_RECIPE_NAME_BYTES`` of a-z 0-9 - _). The **recipe hash** (``recipe_hash``: BLAKE2b-256 of
``RECIPE_HASH_DOMAIN`` followed by the ``recipe`` bytes) identifies it; the message does not carry
it. Only the shape is checked here: whether the bytes are a valid recipe is for the reader that
runs it (``pnyx.rank.recipe.from_canonical``), so a node stores and passes on recipes of a newer
format it cannot run.

Derived table ``published_recipes`` (its own DDL): (hash, author aid, seq, message id), looked up
by hash (``Store.published_recipes``, for ``pnyx recipes subscribe HASH``).
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import text_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

RECIPE: Final = "recipe"
#: Largest canonical recipe in a message, in bytes (a recipe of every term and a 280-character
#: description is under 2,000).
MAX_RECIPE_BODY_BYTES: Final = 4096
#: Longest recipe name, in bytes (as ``pnyx.rank.recipe.NAME_RE``).
MAX_RECIPE_NAME_BYTES: Final = 64
#: Domain separation prefix of the recipe hash (the same as ``pnyx.rank.recipe.HASH_DOMAIN``).
RECIPE_HASH_DOMAIN: Final = b"pnyx-recipe-v1\n"

_NAME: Final = re.compile(r"[a-z0-9_-]{1,64}")

PUBLISHED_DDL: Final = """
CREATE TABLE IF NOT EXISTS published_recipes (
    hash BLOB    NOT NULL,
    aid  INTEGER NOT NULL,
    seq  INTEGER NOT NULL,
    id   BLOB    NOT NULL,
    PRIMARY KEY (hash, aid, seq)
) WITHOUT ROWID;
"""

INSERT_PUBLISHED: Final = """
INSERT OR IGNORE INTO published_recipes (hash, aid, seq, id) VALUES (?, ?, ?, ?)
"""


def recipe_hash(canonical: bytes) -> bytes:
    """The 32-byte recipe hash of a recipe's canonical bytes."""
    return hashlib.blake2b(RECIPE_HASH_DOMAIN + canonical, digest_size=32).digest()


def check(body: Body) -> None:
    """``recipe`` (bin, 1..4096 bytes), then ``name`` (text, 1..64 bytes of a-z 0-9 - _)."""
    if "recipe" not in body:
        raise InvalidMessage(Reason.WRONG_BODY, "missing field 'recipe'")
    value = body["recipe"]
    if not isinstance(value, bytes) or not value:
        raise InvalidMessage(Reason.WRONG_BODY, "field 'recipe' must be non-empty bytes")
    if len(value) > MAX_RECIPE_BODY_BYTES:
        raise InvalidMessage(
            Reason.OVERSIZED, f"field 'recipe' is {len(value)} bytes, limit {MAX_RECIPE_BODY_BYTES}"
        )
    text_field(body, "name", MAX_RECIPE_NAME_BYTES)
    if not _NAME.fullmatch(body["name"]):
        raise InvalidMessage(Reason.WRONG_BODY, "field 'name' must be a-z, 0-9, - and _")


def published_row(message: Message, aid: int) -> tuple[object, ...]:
    return (recipe_hash(message.body["recipe"]), aid, message.seq, message.id)


PUBLISHED: Final = Derived(
    "published_recipes", INSERT_PUBLISHED, published_row, create=PUBLISHED_DDL
)


def describe(body: Body, style: Style) -> str:
    digest = recipe_hash(body["recipe"]).hex()
    return f"publishes the feed recipe {style.inline(body['name'])} ({digest[:12]})"


def json_fields(body: Body) -> dict[str, object]:
    return {"recipe_name": body["name"], "recipe_hash": recipe_hash(body["recipe"]).hex()}


SPECS: Final = (KindSpec(RECIPE, check, describe, json_fields, derived=(PUBLISHED,)),)
