"""The feeds a user can choose: the built-in recipes and the user's recipe files.

A user recipe is ``<home>/recipes/NAME.toml`` (``Home.recipes_path``), validated by
``pnyx.rank.recipe.parse`` and named by its ``name`` field, which must equal ``NAME``. The
built-ins (``following``, ``for-you``) cannot be replaced by a file of the same name. Each
recipe is identified by its hash (``Recipe.hash``, over its canonical form).

Failure modes: ``RecipeError`` (a ``UserError``) for an invalid file, a file whose name differs
from its ``name`` field, a file named like a built-in, or an unknown feed (the message lists the
available names). A missing recipes directory simply means no user recipes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pnyx.rank.builtins import BUILTINS
from pnyx.rank.recipe import MAX_RECIPE_BYTES, NAME_RE, Recipe, RecipeError, parse

#: Most recipe files read from the recipes directory, a count.
MAX_RECIPE_FILES = 100
#: File name suffix of a recipe file.
SUFFIX = ".toml"
#: The file (in the recipes directory) naming who published each subscribed recipe.
SUBSCRIBED = "subscribed.json"
#: Largest ``SUBSCRIBED`` file read, in bytes.
MAX_SUBSCRIBED_BYTES = 256 * 1024


@dataclass(frozen=True)
class Feed:
    """A feed the user can choose: its recipe and where it comes from (``None``: built in)."""

    recipe: Recipe
    path: Path | None
    publisher: str | None = None
    """Who published it (``pnyx1...``), for a recipe installed by ``pnyx recipes subscribe``
    and not edited since (its hash is still the one subscribed to)."""

    def to_json(self) -> dict[str, object]:
        return {
            "name": self.recipe.name,
            "hash": self.recipe.hash,
            "description": self.recipe.description,
            "authors": self.recipe.authors,
            "source": "built in" if self.path is None else str(self.path),
            "publisher": self.publisher,
        }


def subscriptions(recipes_dir: Path) -> dict[str, dict[str, str]]:
    """``SUBSCRIBED``: per recipe name, the ``hash``, ``author`` and message ``id`` subscribed
    to; empty when missing or unreadable (it only labels feeds)."""
    try:
        with (recipes_dir / SUBSCRIBED).open("rb") as handle:
            doc = json.loads(handle.read(MAX_SUBSCRIBED_BYTES + 1))
    except (OSError, ValueError):
        return {}
    if not isinstance(doc, dict):
        return {}
    return {
        k: {f: str(x) for f, x in v.items()}
        for k, v in doc.items()
        if isinstance(k, str) and isinstance(v, dict)
    }


def _read(path: Path) -> Recipe:
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RECIPE_BYTES + 1)
    except OSError as exc:
        raise RecipeError(f"recipe: cannot read {path}: {exc.strerror}") from None
    try:
        recipe = parse(data)
    except RecipeError as exc:
        raise RecipeError(f"{path.name}: {exc}") from None
    if recipe.name != path.name.removesuffix(SUFFIX):
        raise RecipeError(f"{path.name}: recipe: name {recipe.name!r} differs from the file name")
    if recipe.name in BUILTINS:
        raise RecipeError(f"{path.name}: recipe: {recipe.name!r} is a built-in feed's name")
    return recipe


def feeds(recipes_dir: Path | None) -> list[Feed]:
    """The built-ins, then the user's recipe files in name order (at most MAX_RECIPE_FILES)."""
    found = [Feed(recipe, None) for recipe in BUILTINS.values()]
    if recipes_dir is None or not recipes_dir.is_dir():
        return found
    files = sorted(p for p in recipes_dir.iterdir() if p.name.endswith(SUFFIX) and p.is_file())
    subscribed = subscriptions(recipes_dir)
    for path in files[:MAX_RECIPE_FILES]:
        recipe = _read(path)
        record = subscribed.get(recipe.name, {})
        publisher = record.get("author") if record.get("hash") == recipe.hash else None
        found.append(Feed(recipe, path, publisher))
    return found


def load(recipes_dir: Path | None, name: str) -> Recipe:
    """The recipe of feed ``name``: a built-in, or ``<recipes_dir>/NAME.toml``."""
    if name in BUILTINS:
        return BUILTINS[name]
    if recipes_dir is not None and NAME_RE.fullmatch(name):
        path = recipes_dir / f"{name}{SUFFIX}"
        if path.is_file():
            return _read(path)
    names = sorted(f.recipe.name for f in feeds(recipes_dir))
    raise RecipeError(f"no feed {name!r}; the feeds are: {', '.join(names)}")
