"""The identities a post's text names: the ``mentions`` derived table of the ``post`` kind.

A post mentions a key when its text holds the key's text (``pnyx1`` and 58 more characters of
the bech32 alphabet) or its fingerprint (``pnyx1`` + 4 characters + ``…`` + 4 characters, the
short form the UI and CLI show: ``pnyx.core.display.fingerprint``), wherever it starts (as a
substring search would find it). Each form found is one row (needle text, author aid, seq), at
most ``MAX_MENTIONS_PER_POST`` per post, looked up by needle: notifications read the posts naming
the user from the index instead of scanning every post's text (docs/store.md).
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.registry import Derived

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

#: Most mentions recorded for one post, a count (a post naming more notifies only the first).
MAX_MENTIONS_PER_POST: Final = 64
#: The bech32 alphabet of key texts.
_ALPHABET: Final = frozenset("qpzry9x8gf2tvdw0s3jn54khce6mua7l")
#: Length of a key text, and of the parts of a fingerprint, in characters.
KEY_TEXT_CHARS: Final = 63
_PREFIX: Final = "pnyx1"
_ELLIPSIS: Final = "…"

MENTIONS_DDL: Final = """
CREATE TABLE IF NOT EXISTS mentions (
    needle TEXT    NOT NULL,
    aid    INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    PRIMARY KEY (needle, aid, seq)
) WITHOUT ROWID;
"""

#: One row per needle of a post (``json_each`` over the row's list; none for a post naming none).
INSERT_MENTIONS: Final = """
INSERT OR IGNORE INTO mentions (needle, aid, seq) SELECT value, ?, ? FROM json_each(?)
"""


def _chars(text: str) -> bool:
    return all(c in _ALPHABET for c in text)


def needles(text: str) -> list[str]:
    """The key texts and fingerprints in ``text``, in order of their start, each once."""
    found: dict[str, None] = {}
    start = text.find(_PREFIX)
    while start >= 0 and len(found) < MAX_MENTIONS_PER_POST:
        key = text[start : start + KEY_TEXT_CHARS]
        if len(key) == KEY_TEXT_CHARS and _chars(key[len(_PREFIX) :]):
            found[key] = None
        short = text[start : start + 14]  # pnyx1 + 4 + … + 4
        if len(short) == 14 and short[9] == _ELLIPSIS and _chars(short[5:9] + short[10:]):
            found[short] = None
        start = text.find(_PREFIX, start + 1)
    return list(found)[:MAX_MENTIONS_PER_POST]


def mentions_row(message: Message, aid: int) -> tuple[object, ...]:
    text = message.body.get("text")
    named = needles(text) if isinstance(text, str) and _PREFIX in text else []
    return (aid, message.seq, json.dumps(named))


MENTIONS: Final = Derived("mentions", INSERT_MENTIONS, mentions_row, create=MENTIONS_DDL)
