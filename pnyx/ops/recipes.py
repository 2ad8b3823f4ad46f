"""Publishing and subscribing to feed recipes (``docs/ranking.md``, kind ``recipe`` in
``docs/protocol.md``).

``publish_recipe`` signs a ``recipe`` message carrying a recipe's canonical bytes and name.
``subscribe_recipe`` finds a held ``recipe`` message by recipe hash, validates its bytes
(``pnyx.rank.recipe.from_canonical``: size, JSON, known terms and modifiers, weights within
``MAX_WEIGHT``, canonical form), and installs it as ``<recipes>/NAME.toml``, recording its
author in ``<recipes>/subscribed.json`` so ``pnyx recipes`` shows whose it is. Nothing is run on
subscribing: the feed runs locally when asked for (``pnyx timeline --feed NAME``).

Failure modes: ``RecipeError`` (a ``UserError``) for an invalid recipe, a name that clashes with a
built-in or with a different recipe file; ``NotFoundError`` for a hash no held message carries;
``NothingChangedError`` when that very recipe is installed already; ``UserError`` for a bad hash.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from pnyx.core import kinds
from pnyx.core.kinds.recipe import MAX_RECIPE_BODY_BYTES
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.ops.write import SignerLike, _append
from pnyx.rank.builtins import BUILTINS
from pnyx.rank.recipe import Recipe, RecipeError, from_canonical
from pnyx.reads.recipes import SUBSCRIBED, SUFFIX, load, subscriptions

if TYPE_CHECKING:
    from pnyx.store import Store
    from pnyx.views import MessageView


def publish_recipe(
    store: Store, key: SignerLike, recipe: Recipe, *, now_ms: int | None = None
) -> MessageView:
    """Sign and store a ``recipe`` message for ``recipe`` (a built-in or a file's)."""
    body = recipe.canonical()
    if len(body) > MAX_RECIPE_BODY_BYTES:
        raise RecipeError(f"recipe: {len(body)} bytes, a message holds {MAX_RECIPE_BODY_BYTES}")
    return _append(store, key, kinds.RECIPE, {"recipe": body, "name": recipe.name}, now_ms)


@dataclass(frozen=True)
class Subscribed:
    """A recipe installed from a published message."""

    recipe: Recipe
    author: bytes
    message_id: bytes
    path: Path

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.recipe.name,
            "hash": self.recipe.hash,
            "author": encode_public_key(self.author),
            "id": self.message_id.hex(),
            "path": str(self.path),
        }


def subscribe_recipe(store: Store, recipes_dir: Path, hash_text: str) -> Subscribed:
    """Install the published recipe whose hash is ``hash_text`` (64 hex digits)."""
    text = hash_text.strip().lower()
    try:
        digest = bytes.fromhex(text)
    except ValueError:
        digest = b""
    if len(digest) != 32:
        raise UserError(f"{hash_text!r} is not a recipe hash (64 hex digits: pnyx recipes)")
    found = store.published_recipes(digest)
    if not found:
        raise NotFoundError(f"no published recipe {text} is held here; sync with its author first")
    message = found[0].message
    try:
        recipe = from_canonical(message.body["recipe"], MAX_RECIPE_BODY_BYTES)
    except RecipeError as exc:
        raise RecipeError(f"published recipe {text[:12]} is refused: {exc}") from None
    if recipe.name != message.body["name"]:
        raise RecipeError(
            f"published recipe {text[:12]} is refused: its name differs from the message's"
        )
    if recipe.name in BUILTINS:
        raise RecipeError(f"recipe: {recipe.name!r} is a built-in feed's name; not installed")
    path = recipes_dir / f"{recipe.name}{SUFFIX}"
    if path.exists():
        try:
            same = load(recipes_dir, recipe.name).hash == recipe.hash
        except RecipeError:
            same = False
        if same:
            raise NothingChangedError(
                f"the recipe {recipe.name} ({text[:12]}) is installed already"
            )
        raise RecipeError(
            f"recipe: a different feed {recipe.name!r} exists ({path}); remove it to subscribe"
        )
    recipes_dir.mkdir(parents=True, exist_ok=True)
    header = f"# subscribed: published by {encode_public_key(message.author)}, hash {text}\n"
    _write(path, header + recipe.to_toml())
    record = subscriptions(recipes_dir)
    record[recipe.name] = {
        "hash": recipe.hash,
        "author": encode_public_key(message.author),
        "id": message.id.hex(),
    }
    _write(recipes_dir / SUBSCRIBED, json.dumps(record, indent=1, sort_keys=True) + "\n")
    return Subscribed(recipe, message.author, message.id, path)


def _write(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (a temporary file, then a rename)."""
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
