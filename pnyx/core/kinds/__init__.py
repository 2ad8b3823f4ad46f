"""Message kinds: one module per kind, each declaring a ``KindSpec`` (see ``registry``).

Known kinds are checked field by field; fields a kind does not define are allowed and ignored (a
newer version may add them). A kind this version does not know is valid if its name is well-formed:
it is stored and passed on, never rejected for being unknown.

Adding a kind: a new module here with ``SPECS`` and one entry in ``_MODULES`` below.
"""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds import (
    block,
    delete,
    follow,
    label,
    mute,
    note,
    note_rating,
    poll,
    post,
    profile,
    reaction,
    recipe,
    repost,
    vote,
)
from pnyx.core.kinds.block import BLOCK, UNBLOCK
from pnyx.core.kinds.delete import DELETE
from pnyx.core.kinds.fields import check_kind_name
from pnyx.core.kinds.follow import FOLLOW, UNFOLLOW
from pnyx.core.kinds.label import LABEL
from pnyx.core.kinds.mute import MUTE, UNMUTE
from pnyx.core.kinds.note import NOTE
from pnyx.core.kinds.note_rating import NOTE_RATING
from pnyx.core.kinds.poll import POLL
from pnyx.core.kinds.post import POST
from pnyx.core.kinds.profile import PROFILE
from pnyx.core.kinds.reaction import REACTION
from pnyx.core.kinds.recipe import RECIPE
from pnyx.core.kinds.registry import (
    CHECKS,
    KNOWN,
    SPECS,
    Body,
    Derived,
    KindSpec,
    Style,
    register,
    spec_of,
    unregister,
)
from pnyx.core.kinds.repost import REPOST
from pnyx.core.kinds.vote import VOTE
from pnyx.core.reasons import InvalidMessage, Reason

__all__ = [
    "BLOCK",
    "DELETE",
    "FOLLOW",
    "KNOWN_KINDS",
    "LABEL",
    "MUTE",
    "NOTE",
    "NOTE_RATING",
    "POLL",
    "POST",
    "PROFILE",
    "REACTION",
    "RECIPE",
    "REPOST",
    "SPECS",
    "UNBLOCK",
    "UNFOLLOW",
    "UNMUTE",
    "VOTE",
    "Body",
    "Derived",
    "KindSpec",
    "Style",
    "check_body",
    "check_kind_name",
    "register",
    "spec_of",
    "unregister",
]

_MODULES: Final = (
    post,
    repost,
    reaction,
    follow,
    profile,
    delete,
    mute,
    block,
    recipe,
    label,
    poll,
    vote,
    note,
    note_rating,
)
for _module in _MODULES:
    register(*_module.SPECS)

#: The kinds this version understands (a live view of the registry); any other well-formed kind
#: is "unknown" and passed on.
KNOWN_KINDS: Final = KNOWN

_checks: Final = CHECKS


def check_body(kind: str, body: object) -> Body:
    """Check ``body`` against ``kind``'s schema and return it.

    Raises ``InvalidMessage`` (WRONG_BODY or OVERSIZED). Unknown kinds only need a map body.
    """
    if not isinstance(body, dict):
        raise InvalidMessage(Reason.WRONG_BODY, "body must be a map")
    check = _checks.get(kind)
    if check is not None:
        check(body)
    return body
