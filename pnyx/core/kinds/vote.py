"""``vote``: a voter's choices on a poll (``pnyx.core.kinds.poll``).

Body: ``poll`` (the poll's 32-byte message id) and ``choices`` (an array of 1..``MAX_POLL_OPTIONS``
ints, each 0..``MAX_POLL_OPTIONS`` - 1, strictly increasing: option indices, 0 the first). Only
the shape is checked here: whether the poll is held, open at the vote's ``ts``, has those options
and takes several choices is the tally's rule (``pnyx.polls.tally``), since a vote may arrive
before its poll. A later vote by the same voter on the same poll replaces the earlier one (the
highest ``seq`` within the poll's open window counts); a ``delete`` of the vote takes it back.

Derived table ``poll_votes`` (its own DDL): (poll id, voter aid, seq, ts, vote id, choices as a
bit mask: bit i set for option i), looked up by poll.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field
from pnyx.core.kinds.poll import MAX_POLL_OPTIONS
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import ID_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

VOTE: Final = "vote"

VOTES_DDL: Final = """
CREATE TABLE IF NOT EXISTS poll_votes (
    poll    BLOB    NOT NULL,
    aid     INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    ts      INTEGER NOT NULL,
    id      BLOB    NOT NULL,
    choices INTEGER NOT NULL,
    PRIMARY KEY (poll, aid, seq)
) WITHOUT ROWID;
"""

INSERT_VOTE: Final = """
INSERT OR IGNORE INTO poll_votes (poll, aid, seq, ts, id, choices) VALUES (?, ?, ?, ?, ?, ?)
"""


def check(body: Body) -> None:
    """``poll`` (32 bytes), then ``choices`` (array, 1..12 ints in 0..11, strictly increasing)."""
    bytes_field(body, "poll", ID_BYTES)
    choices = body.get("choices")
    if not isinstance(choices, list) or not 1 <= len(choices) <= MAX_POLL_OPTIONS:
        raise InvalidMessage(
            Reason.WRONG_BODY, f"field 'choices' must be an array of 1..{MAX_POLL_OPTIONS} ints"
        )
    last = -1
    for choice in choices:
        if type(choice) is not int or not last < choice < MAX_POLL_OPTIONS:
            raise InvalidMessage(
                Reason.WRONG_BODY,
                f"field 'choices' must be increasing ints in 0..{MAX_POLL_OPTIONS - 1}",
            )
        last = choice


def mask(choices: list[int]) -> int:
    """The choices as a bit mask (bit i: option i)."""
    return sum(1 << c for c in choices)


def vote_row(message: Message, aid: int) -> tuple[object, ...]:
    body = message.body
    return (body["poll"], aid, message.seq, message.ts, message.id, mask(body["choices"]))


VOTES: Final = Derived("poll_votes", INSERT_VOTE, vote_row, create=VOTES_DDL)


def describe(body: Body, style: Style) -> str:
    picked = ", ".join(str(c + 1) for c in body["choices"])
    return f"votes {picked} on the poll {style.ref(body['poll'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {"poll": body["poll"].hex(), "choices": list(body["choices"])}


SPECS: Final = (KindSpec(VOTE, check, describe, json_fields, target="poll", derived=(VOTES,)),)
