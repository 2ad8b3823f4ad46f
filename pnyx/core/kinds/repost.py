"""``repost``: passes on another author's post (``id``, ``author``: the post and its author)."""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds.fields import bytes_field, key_text
from pnyx.core.kinds.registry import Body, KindSpec, Style
from pnyx.core.limits import ID_BYTES, KEY_BYTES

REPOST: Final = "repost"


def check(body: Body) -> None:
    """A reference to a post: ``id`` (32 bytes) and ``author`` (32-byte key). Reactions too."""
    bytes_field(body, "id", ID_BYTES)
    bytes_field(body, "author", KEY_BYTES)


def describe(body: Body, style: Style) -> str:
    return f"↻ reposted {style.key(body['author'])}'s post {style.ref(body['id'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {"target": body["id"].hex(), "target_author": key_text(body["author"])}


SPECS: Final = (KindSpec(REPOST, check, describe, json_fields, target="id"),)
