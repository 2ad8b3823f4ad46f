"""``label``: a labeller's signed word on a post or a key ("spam", "nsfw", "!hide", ...).

Body: exactly one subject, ``post`` (id: 32 bytes, a message id) or ``key`` (key: 32 bytes, an
identity; a label on a key applies to every post it signs); ``value``, a short token (text,
1..``MAX_LABEL_VALUE_BYTES`` bytes: lower-case ASCII letters, digits and ``-``, with one optional
leading ``!`` for the values whose meaning the protocol fixes, ``!hide`` and ``!warn``); and
optional ``neg`` (bool; true retracts the labeller's earlier label of the same subject and value).
Fields are checked in that order: the subject (neither or both present, or not 32 bytes of bin:
``wrong-body``), then ``value`` (missing, not text, empty: ``wrong-body``; longer than the limit:
``oversized``; another character: ``wrong-body``), then ``neg`` (not a bool: ``wrong-body``).

Any key can label and its labels are stored like any message: what a label does is the reader's
choice (``pnyx.trust.labels``; ``docs/moderation.md``, "Labels and labellers"). For each
(labeller, subject, value) the highest-seq label decides, as for mute and unmute.

Derived table ``labels`` (its own DDL, filled from the labels held when it is created: a node of
an older version stored them as an unknown kind): (``what`` 'post' or 'key', subject, labeller
aid, value, seq, state 1 applied / 0 retracted), looked up by subject and by labeller.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Final

from pnyx.core.kinds.fields import bytes_field, key_text, text_field
from pnyx.core.kinds.registry import Body, Derived, KindSpec, Style
from pnyx.core.limits import ID_BYTES, KEY_BYTES
from pnyx.core.reasons import InvalidMessage, Reason

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

LABEL: Final = "label"
#: Longest label value, in UTF-8 bytes (all ASCII: characters); as long as a kind name.
MAX_LABEL_VALUE_BYTES: Final = 32
#: The value syntax: an optional leading ``!`` (protocol values), then ``[a-z0-9-]``.
VALUE_RE: Final = re.compile(r"!?[a-z0-9-]+")
#: The label subjects, by body field.
SUBJECTS: Final = ("post", "key")
#: Values with a documented meaning (others are allowed: a labeller may coin its own).
WELL_KNOWN: Final = ("!hide", "!warn", "spam", "misleading", "nsfw", "harassment", "impersonation")

LABELS_DDL: Final = """
CREATE TABLE IF NOT EXISTS labels (
    what     TEXT    NOT NULL,
    subject  BLOB    NOT NULL,
    labeller INTEGER NOT NULL,
    value    TEXT    NOT NULL,
    seq      INTEGER NOT NULL,
    state    INTEGER NOT NULL,
    PRIMARY KEY (subject, labeller, value, what)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_by_labeller ON labels (labeller, state);
"""

UPSERT: Final = """
INSERT INTO labels (what, subject, labeller, value, seq, state) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (subject, labeller, value, what) DO UPDATE SET seq = excluded.seq,
state = excluded.state WHERE excluded.seq > labels.seq
"""


def value_problem(value: object) -> tuple[Reason, str] | None:
    """Why ``value`` is not a label value (the reason and words), or None if it is one."""
    if not isinstance(value, str):
        return Reason.WRONG_BODY, "field 'value' must be text"
    size = len(value.encode())
    if size == 0:
        return Reason.WRONG_BODY, "field 'value' is empty"
    if size > MAX_LABEL_VALUE_BYTES:
        return Reason.OVERSIZED, f"field 'value' is {size} bytes, limit {MAX_LABEL_VALUE_BYTES}"
    if not VALUE_RE.fullmatch(value):
        return Reason.WRONG_BODY, "field 'value' must be a-z, 0-9 and -, with an optional '!'"
    return None


def subject_of(body: Body) -> tuple[str, bytes]:
    """(``post`` or ``key``, the 32 bytes) of a valid label body."""
    return ("post", body["post"]) if "post" in body else ("key", body["key"])


def check(body: Body) -> None:
    """The subject (exactly one of ``post``, ``key``), ``value``, then ``neg`` (module doc)."""
    present = [name for name in SUBJECTS if name in body]
    if len(present) != 1:
        raise InvalidMessage(Reason.WRONG_BODY, "exactly one of 'post' and 'key' is required")
    bytes_field(body, present[0], ID_BYTES if present[0] == "post" else KEY_BYTES)
    text_field(body, "value", MAX_LABEL_VALUE_BYTES)  # missing, type, size: as other text
    problem = value_problem(body["value"])
    if problem is not None:
        raise InvalidMessage(*problem)
    if "neg" in body and not isinstance(body["neg"], bool):
        raise InvalidMessage(Reason.WRONG_BODY, "field 'neg' must be a bool")


def row(message: Message, aid: int) -> tuple[object, ...]:
    what, subject = subject_of(message.body)
    state = 0 if message.body.get("neg") is True else 1
    return (what, subject, aid, message.body["value"], message.seq, state)


DERIVED: Final = Derived("labels", UPSERT, row, create=LABELS_DDL)


def describe(body: Body, style: Style) -> str:
    what, subject = subject_of(body)
    named = f"the post {style.ref(subject)}" if what == "post" else style.key(subject)
    value = style.inline(body["value"])
    if body.get("neg") is True:
        return f"retracts the label {value} on {named}"
    return f"labels {named} {value}"


def json_fields(body: Body) -> dict[str, object]:
    what, subject = subject_of(body)
    text = subject.hex() if what == "post" else key_text(subject)
    return {what: text, "value": body["value"], "neg": body.get("neg") is True}


SPECS: Final = (KindSpec(LABEL, check, describe, json_fields, derived=(DERIVED,)),)
