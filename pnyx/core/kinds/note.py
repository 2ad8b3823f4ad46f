"""``note``: a community note on a post: context that readers rate (``pnyx.notes.score``).

Body: ``post`` (the post's 32-byte id), ``text`` (1..``MAX_NOTE_TEXT_BYTES``) and optionally
``misleading`` (bool, default true: the note says the post misleads; false: it says the post is
fine as it is). Stored with ``target`` = ``post`` (the messages-by-target index finds a post's
notes). Derived table ``notes`` (its own DDL): (note id, post id, author aid, seq), every note
held, for the scorer. Ratings are the ``note-rating`` kind (``pnyx.core.kinds.note_rating``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field, text_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import ID_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

NOTE: Final = "note"
#: Longest note, in UTF-8 bytes (Community Notes allows 280 characters, up to about 1,100 bytes).
MAX_NOTE_TEXT_BYTES: Final = 1024


def check(body: Body) -> None:
    """``post`` (32 bytes), then ``text`` (1..1024 bytes), then ``misleading`` (bool)."""
    bytes_field(body, "post", ID_BYTES)
    text_field(body, "text", MAX_NOTE_TEXT_BYTES)
    if type(body.get("misleading", True)) is not bool:
        raise InvalidMessage(Reason.WRONG_BODY, "field 'misleading' must be true or false")


NOTES_DDL: Final = """
CREATE TABLE IF NOT EXISTS notes (
    id   BLOB    NOT NULL PRIMARY KEY,
    post BLOB    NOT NULL,
    aid  INTEGER NOT NULL,
    seq  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS notes_by_post ON notes (post);
"""

INSERT_NOTE: Final = "INSERT OR IGNORE INTO notes (id, post, aid, seq) VALUES (?, ?, ?, ?)"


def note_row(message: Message, aid: int) -> tuple[object, ...]:
    return (message.id, message.body["post"], aid, message.seq)


NOTES: Final = Derived("notes", INSERT_NOTE, note_row, create=NOTES_DDL)


def describe(body: Body, style: Style) -> str:
    says = "misleading" if body.get("misleading", True) else "not misleading"
    return f"notes post {style.ref(body['post'])} ({says}): {style.inline(body['text'])}"


def json_fields(body: Body) -> dict[str, object]:
    return {
        "post": body["post"].hex(),
        "note_text": body["text"],
        "misleading": bool(body.get("misleading", True)),
    }


SPECS: Final = (KindSpec(NOTE, check, describe, json_fields, target="post", derived=(NOTES,)),)
