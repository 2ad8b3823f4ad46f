"""``note-rating``: how helpful a rater finds a community note (``pnyx.core.kinds.note``).

Body: ``note`` (the note's 32-byte id) and ``helpful``: ``"yes"``, ``"somewhat"`` or ``"no"``
(1.0, 0.5 and 0.0 in the scorer, as Community Notes). For each (rater, note) the highest ``seq``
decides, so rating again replaces the rating; a ``delete`` of it takes it back.

Derived table ``note_ratings`` (its own DDL): (note id, rater aid, seq, value), looked up by note.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import ID_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

NOTE_RATING: Final = "note-rating"
#: The ratings and their values in the scorer.
HELPFUL: Final[dict[str, float]] = {"yes": 1.0, "somewhat": 0.5, "no": 0.0}

RATINGS_DDL: Final = """
CREATE TABLE IF NOT EXISTS note_ratings (
    note  BLOB    NOT NULL,
    aid   INTEGER NOT NULL,
    seq   INTEGER NOT NULL,
    value REAL    NOT NULL,
    PRIMARY KEY (note, aid, seq)
) WITHOUT ROWID;
"""

INSERT_RATING: Final = """
INSERT OR IGNORE INTO note_ratings (note, aid, seq, value) VALUES (?, ?, ?, ?)
"""


def check(body: Body) -> None:
    """``note`` (32 bytes), then ``helpful`` (one of yes, somewhat, no)."""
    bytes_field(body, "note", ID_BYTES)
    helpful = body.get("helpful")
    # type first: ``in`` on a dict hashes its operand, and a list or map would raise TypeError
    if not isinstance(helpful, str) or helpful not in HELPFUL:
        raise InvalidMessage(Reason.WRONG_BODY, "field 'helpful' must be yes, somewhat or no")


def rating_row(message: Message, aid: int) -> tuple[object, ...]:
    return (message.body["note"], aid, message.seq, HELPFUL[message.body["helpful"]])


RATINGS: Final = Derived("note_ratings", INSERT_RATING, rating_row, create=RATINGS_DDL)


def describe(body: Body, style: Style) -> str:
    return f"rates the note {style.ref(body['note'])} helpful: {body['helpful']}"


def json_fields(body: Body) -> dict[str, object]:
    return {"note": body["note"].hex(), "helpful": body["helpful"]}


SPECS: Final = (
    KindSpec(NOTE_RATING, check, describe, json_fields, target="note", derived=(RATINGS,)),
)
