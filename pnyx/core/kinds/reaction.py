"""``reaction``: a short reaction (``+`` is a like) to a post (``id``, ``author``)."""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds import repost
from pnyx.core.kinds.fields import text_field
from pnyx.core.kinds.registry import Body, KindSpec, Style
from pnyx.core.limits import MAX_REACTION_BYTES

REACTION: Final = "reaction"
#: The reaction that means "like".
LIKE: Final = "+"


def check(body: Body) -> None:
    repost.check(body)
    text_field(body, "reaction", MAX_REACTION_BYTES)


def describe(body: Body, style: Style) -> str:
    if body["reaction"] == LIKE:
        return f"likes {style.key(body['author'])}'s post {style.ref(body['id'])}"
    return f"reacts {style.inline(body['reaction'])} to {style.ref(body['id'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {**repost.json_fields(body), "reaction": body["reaction"]}


SPECS: Final = (KindSpec(REACTION, check, describe, json_fields, target="id"),)
