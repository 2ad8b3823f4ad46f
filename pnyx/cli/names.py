"""The names the user knows, for labels and look-alike marks (``pnyx.core.display.Names``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnyx.core.display import Names
from pnyx.errors import UserError

if TYPE_CHECKING:
    from pnyx.cli.context import Context


def known_names(ctx: Context) -> Names:
    """Names of the user and of everyone the user follows, from the local store.

    A home without an identity (reading someone else's store copy) knows only the names of no
    one: labels still carry fingerprints, nothing is marked. Raises ``StoreError`` if the store
    fails.
    """
    try:
        me = ctx.public_key()
    except UserError:
        return Names({})
    store = ctx.store(write=False)
    known: dict[bytes, str | None] = {}
    for key in [me, *store.following(me)]:
        profile = store.profile(key)
        known[key] = profile.name if profile is not None else None
    return Names(known)
