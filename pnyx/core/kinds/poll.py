"""``poll``: a question with 2..``MAX_POLL_OPTIONS`` options, open until ``closes``.

Body: ``question`` (text, 1..``MAX_POLL_QUESTION_BYTES``), ``options`` (an array of
2..``MAX_POLL_OPTIONS`` texts, each 1..``MAX_POLL_OPTION_BYTES``, no two equal), ``closes`` (int,
ms since the epoch, ``MIN_TIMESTAMP_MS``..``MAX_TIMESTAMP_MS``) and optionally ``multiple`` (bool,
default false: one choice per voter). Only the shape is checked here; when a poll is open is a
reading rule (``pnyx.polls.tally``): from its ``ts`` to ``min(closes, ts + MAX_POLL_OPEN_MS)``, so
a poll whose ``closes`` is not after its ``ts`` is closed from the start and counts no vote.

Derived table ``polls`` (its own DDL): (id, author aid, seq, ts, effective close), newest first
by ``ts`` for ``pnyx polls``. Votes are the ``vote`` kind (``pnyx.core.kinds.vote``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import text_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import MAX_TIMESTAMP_MS, MIN_TIMESTAMP_MS
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

POLL: Final = "poll"
#: Longest question, in UTF-8 bytes (a post's text may be 4,096; a question is a line or two).
MAX_POLL_QUESTION_BYTES: Final = 1024
#: Most options in a poll, a count (Nostr NIP-88 sets none; 12 fits a phone screen).
MAX_POLL_OPTIONS: Final = 12
#: Fewest options in a poll, a count.
MIN_POLL_OPTIONS: Final = 2
#: Longest option, in UTF-8 bytes.
MAX_POLL_OPTION_BYTES: Final = 200
#: Longest a poll stays open after its ``ts``, in milliseconds (30 days): a later ``closes`` is
#: read as this.
MAX_POLL_OPEN_MS: Final = 30 * 24 * 3600 * 1000

POLLS_DDL: Final = """
CREATE TABLE IF NOT EXISTS polls (
    id     BLOB    NOT NULL PRIMARY KEY,
    aid    INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    ts     INTEGER NOT NULL,
    closes INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS polls_by_time ON polls (ts DESC, id DESC);
"""

INSERT_POLL: Final = """
INSERT OR IGNORE INTO polls (id, aid, seq, ts, closes) VALUES (?, ?, ?, ?, ?)
"""


def check(body: Body) -> None:
    """In order: ``question``, ``options`` (array, count, each text, distinct), ``closes``,
    ``multiple`` (each failure names its field: WRONG_BODY, or OVERSIZED for a long text)."""
    text_field(body, "question", MAX_POLL_QUESTION_BYTES)
    options = body.get("options")
    if not isinstance(options, list):
        raise InvalidMessage(Reason.WRONG_BODY, "field 'options' must be an array")
    if not MIN_POLL_OPTIONS <= len(options) <= MAX_POLL_OPTIONS:
        raise InvalidMessage(
            Reason.WRONG_BODY,
            f"field 'options' holds {len(options)}, not {MIN_POLL_OPTIONS}..{MAX_POLL_OPTIONS}",
        )
    for i, option in enumerate(options):
        text_field({"option": option}, "option", MAX_POLL_OPTION_BYTES)  # names it below
        if not isinstance(option, str) or not option:  # pragma: no cover - text_field raised
            raise InvalidMessage(Reason.WRONG_BODY, f"option {i} must be non-empty text")
    if len(set(options)) != len(options):
        raise InvalidMessage(Reason.WRONG_BODY, "field 'options' holds the same option twice")
    closes = body.get("closes")
    if type(closes) is not int or not MIN_TIMESTAMP_MS <= closes <= MAX_TIMESTAMP_MS:
        raise InvalidMessage(
            Reason.WRONG_BODY, f"field 'closes' must be an int in {MIN_TIMESTAMP_MS}..2^53"
        )
    if type(body.get("multiple", False)) is not bool:
        raise InvalidMessage(Reason.WRONG_BODY, "field 'multiple' must be true or false")


def closes_at(message: Message) -> int:
    """When the poll stops counting votes, in ms: ``min(closes, ts + MAX_POLL_OPEN_MS)``."""
    return min(int(message.body["closes"]), message.ts + MAX_POLL_OPEN_MS)


def poll_row(message: Message, aid: int) -> tuple[object, ...]:
    return (message.id, aid, message.seq, message.ts, closes_at(message))


POLLS: Final = Derived("polls", INSERT_POLL, poll_row, create=POLLS_DDL)


def describe(body: Body, style: Style) -> str:
    options = " / ".join(style.inline(o) for o in body["options"])
    how = "choose any" if body.get("multiple", False) else "choose one"
    return f"asks {style.inline(body['question'])} ({how}: {options})"


def json_fields(body: Body) -> dict[str, object]:
    return {
        "question": body["question"],
        "options": list(body["options"]),
        "closes_ms": body["closes"],
        "multiple": bool(body.get("multiple", False)),
    }


SPECS: Final = (KindSpec(POLL, check, describe, json_fields, derived=(POLLS,)),)
