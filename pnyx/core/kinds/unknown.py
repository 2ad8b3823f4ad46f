"""How a kind this version does not know is shown: the body fields pnyx names, where present.

Unknown kinds are stored and passed on; their ``--json`` object carries the well-known body fields
that have the expected type (ids in hex, keys as pnyx1 text, text as is), nothing else.
"""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds.fields import key_text
from pnyx.core.kinds.registry import Body

#: Body fields shown in ``--json`` output, by the JSON key they get: message ids (hex)...
_ID_FIELDS: Final = {"root": "root", "parent": "parent", "id": "target"}
#: ...public keys (pnyx1 text)...
_KEY_FIELDS: Final = {"author": "target_author", "key": "key"}
#: ...and text.
_TEXT_FIELDS: Final = {"name": "profile_name", "bio": "profile_bio", "reaction": "reaction"}


def json_fields(body: Body) -> dict[str, object]:
    record: dict[str, object] = {}
    for field, name in _ID_FIELDS.items():
        value = body.get(field)
        if isinstance(value, bytes):
            record[name] = value.hex()
    for field, name in _KEY_FIELDS.items():
        value = body.get(field)
        if isinstance(value, bytes):
            record[name] = key_text(value)
    for field, name in _TEXT_FIELDS.items():
        value = body.get(field)
        if isinstance(value, str):
            record[name] = value
    return record


def describe(kind: str) -> str:
    return f"({kind}: a kind this version does not show)"
