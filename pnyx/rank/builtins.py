"""The built-in recipes: ``following`` (the default: time order) and ``for-you``.

They are TOML text like any user recipe, parsed by ``recipe.parse``, so ``pnyx`` shows them and
their hashes the same way. Changing a default here changes the built-in's hash, which is the
point: a feed's hash says exactly which rules made it.
"""

from __future__ import annotations

from pnyx.rank.recipe import Recipe, RecipeError, parse

FOLLOWING = """\
name = "following"
description = "Posts of the people you follow, newest first."
authors = "following"

[terms.time]
weight = 1.0
"""

FOR_YOU = """\
name = "for-you"
description = "Posts from people you trust, by trust, trusted engagement and recency."
authors = "trusted"

[terms.trust]
weight = 3.0

[terms.engagement]
weight = 1.0
reply = 3.0
repost = 2.0
reaction = 1.0

[terms.recency]
weight = 2.0
half_life_hours = 6.0

[terms.negative]
weight = -2.0
cap = 3.0

[modifiers]
reply = 0.75
out_of_network = 0.75
diversity_floor = 0.25
diversity_decay = 0.5
"""

#: Name of the recipe used when the user chose none.
DEFAULT = "following"
BUILTIN_TEXT: dict[str, str] = {"following": FOLLOWING, "for-you": FOR_YOU}
BUILTINS: dict[str, Recipe] = {name: parse(text) for name, text in BUILTIN_TEXT.items()}


def builtin(name: str) -> Recipe:
    """The built-in recipe ``name``; ``RecipeError`` naming the choices if there is none."""
    try:
        return BUILTINS[name]
    except KeyError:
        raise RecipeError(
            f"recipe: no built-in recipe {name!r} (built in: {', '.join(sorted(BUILTINS))})"
        ) from None
