"""Community note operations: ``write_note`` (``pnyx note``) and ``rate_note`` (``pnyx rate``),
shared by the CLI and the web app; the rules are checked before the signing key is asked for.

Rules: a note names a post held (anyone's but your own: a note is context by others), 1..
``MAX_NOTE_TEXT_BYTES`` of text, one live note per author per post; a rating names a note held,
not your own (the scorer ignores those anyway), ``yes`` / ``somewhat`` / ``no``, and differs
from your current rating of it (rating again replaces it).

Failure modes: ``UserError`` (a rule broken), ``NotFoundError`` (no such post or note held),
``NothingChangedError`` (the same rating again), ``StoreError``. Nothing is stored in any case.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnyx.core import kinds
from pnyx.core.kinds.note import MAX_NOTE_TEXT_BYTES
from pnyx.core.kinds.note_rating import HELPFUL
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.ops.write import SignerLike, _append, _post_of, _signer, user_text
from pnyx.views import MessageView

if TYPE_CHECKING:
    from pnyx.store import Store


def write_note(
    store: Store,
    key: SignerLike,
    post: str,
    text: str,
    *,
    misleading: bool = True,
    now_ms: int | None = None,
) -> MessageView:
    """Sign a note on post ``post`` (id or unique prefix): the module docstring's rules."""
    from pnyx.store.notes import notes_on

    text = user_text(text, "note", MAX_NOTE_TEXT_BYTES).strip()
    target = _post_of(store, post)
    me = _signer(key).public_key
    if target.author == me:
        raise UserError("a note is context others add: not on your own post")
    if any(n.message.author == me for n in notes_on(store, target.id)):
        raise UserError(f"you have a note on post {target.id.hex()[:12]} already; delete it first")
    body = {"post": target.id, "text": text, "misleading": misleading}
    return _append(store, key, kinds.NOTE, body, now_ms)


def rate_note(
    store: Store, key: SignerLike, note: str, helpful: str, *, now_ms: int | None = None
) -> MessageView:
    """Rate note ``note`` (id or unique prefix) ``yes``, ``somewhat`` or ``no``."""
    from pnyx.store.notes import all_ratings

    if helpful not in HELPFUL:
        raise UserError(f"rate a note yes, somewhat or no, not {helpful!r}")
    note_id = store.resolve_id(note)
    found = store.get(note_id)
    if found is None or found.message.kind != kinds.NOTE:
        raise NotFoundError(f"no note {note} in this store")
    me = _signer(key).public_key
    if found.message.author == me:
        raise UserError("you cannot rate your own note")
    current = [r.value for r in all_ratings(store) if r.rater == me and r.note == note_id]
    if current and current[0] == HELPFUL[helpful]:
        raise NothingChangedError(f"you rated this note {helpful} already; nothing changed")
    body = {"note": note_id, "helpful": helpful}
    return _append(store, key, kinds.NOTE_RATING, body, now_ms)
