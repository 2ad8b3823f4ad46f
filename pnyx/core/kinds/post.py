"""``post``: a short text, optionally a reply (``root``: the thread's first post; ``parent``: the
post answered). Posts are what timelines, feeds and threads show."""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds.fields import bytes_field, text_field
from pnyx.core.kinds.mentions import MENTIONS
from pnyx.core.kinds.registry import Body, KindSpec, Style
from pnyx.core.limits import ID_BYTES, MAX_TEXT_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

POST: Final = "post"


def check(body: Body) -> None:
    text_field(body, "text", MAX_TEXT_BYTES)
    has_root, has_parent = "root" in body, "parent" in body
    if has_root != has_parent:
        raise InvalidMessage(Reason.WRONG_BODY, "a reply carries both 'root' and 'parent'")
    bytes_field(body, "root", ID_BYTES, required=False)
    bytes_field(body, "parent", ID_BYTES, required=False)


def describe(body: Body, style: Style) -> str:
    prefix = ""
    if "parent" in body:
        parent = style.ref(body["parent"])
        who = style.parent_who
        prefix = f"↳ reply to {who} ({parent}): " if who else f"↳ reply to {parent}: "
    return prefix + style.text(body["text"])


def json_fields(body: Body) -> dict[str, object]:
    if "root" not in body:
        return {}
    return {"root": body["root"].hex(), "parent": body["parent"].hex()}


SPECS: Final = (
    KindSpec(
        POST,
        check,
        describe,
        json_fields,
        text="text",
        root="root",
        parent="parent",
        timeline=True,
        derived=(MENTIONS,),  # the keys a post names: notifications (pnyx.core.kinds.mentions)
    ),
)
