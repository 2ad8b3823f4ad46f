"""Poll operations: ``create_poll`` (``pnyx poll``) and ``vote`` (``pnyx vote``), shared by the
CLI and the web app; the rules are checked before the signing key is asked for.

Rules: a question of 1..``MAX_POLL_QUESTION_BYTES`` and 2..``MAX_POLL_OPTIONS`` distinct options
of 1..``MAX_POLL_OPTION_BYTES`` each (surrounding blanks removed), open for
``MIN_POLL_OPEN_MS``..``MAX_POLL_OPEN_MS``; a vote names a poll held and open now, option indices
(0 the first) the poll has, exactly one on a one-choice poll, and differs from the user's counted
vote (voting again replaces it: the tally counts the latest). The poll's author may vote.

Failure modes: ``UserError`` (a rule broken, a bad duration), ``NotFoundError`` (no such poll
held, or deleted), ``NothingChangedError`` (the same vote again), ``StoreError``. Nothing is
stored in any of those cases.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from pnyx.clock import wall_clock_ms
from pnyx.core import kinds
from pnyx.core.kinds.poll import (
    MAX_POLL_OPEN_MS,
    MAX_POLL_OPTION_BYTES,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION_BYTES,
    MIN_POLL_OPTIONS,
    closes_at,
)
from pnyx.core.kinds.vote import mask
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.ops.write import SignerLike, _append, _signer, user_text
from pnyx.polls.tally import choices_of
from pnyx.views import MessageView

if TYPE_CHECKING:
    from pnyx.store import Store

#: Shortest time a poll may be open, in milliseconds (one minute).
MIN_POLL_OPEN_MS = 60 * 1000
#: How long a poll is open when the user does not say, in milliseconds (one day, as Mastodon's).
DEFAULT_POLL_OPEN_MS = 24 * 3600 * 1000

_UNITS_MS = {"m": 60 * 1000, "h": 3600 * 1000, "d": 24 * 3600 * 1000}
_DURATION = re.compile(r"\s*(\d{1,6})\s*([mhd])\s*")


def parse_duration(text: str) -> int:
    """``"30m"``, ``"12h"``, ``"3d"`` in milliseconds; ``UserError`` for anything else."""
    found = _DURATION.fullmatch(text.lower())
    if found is None:
        raise UserError(f"not a duration: {text!r} (write it as 30m, 12h or 3d)")
    return int(found.group(1)) * _UNITS_MS[found.group(2)]


def create_poll(
    store: Store,
    key: SignerLike,
    question: str,
    options: list[str],
    *,
    multiple: bool = False,
    open_ms: int = DEFAULT_POLL_OPEN_MS,
    now_ms: int | None = None,
) -> MessageView:
    """Sign a poll (module docstring, the rules); it closes ``open_ms`` after ``now_ms``."""
    question = user_text(question, "question", MAX_POLL_QUESTION_BYTES).strip()
    cleaned = [user_text(o, "option", MAX_POLL_OPTION_BYTES).strip() for o in options]
    if not MIN_POLL_OPTIONS <= len(cleaned) <= MAX_POLL_OPTIONS:
        raise UserError(
            f"a poll has {MIN_POLL_OPTIONS} to {MAX_POLL_OPTIONS} options, not {len(cleaned)}"
        )
    if len(set(cleaned)) != len(cleaned):
        raise UserError("two options of this poll are the same")
    if not MIN_POLL_OPEN_MS <= open_ms <= MAX_POLL_OPEN_MS:
        raise UserError("a poll is open for 1 minute to 30 days")
    now = wall_clock_ms() if now_ms is None else now_ms
    body: dict[str, Any] = {"question": question, "options": cleaned, "closes": now + open_ms}
    if multiple:
        body["multiple"] = True
    return _append(store, key, kinds.POLL, body, now)


def vote(
    store: Store,
    key: SignerLike,
    poll: str,
    choices: list[int],
    *,
    now_ms: int | None = None,
) -> MessageView:
    """Vote ``choices`` (option indices, 0 the first) on poll ``poll`` (id or unique prefix)."""
    from pnyx.store.polls import ballots, poll_shown

    poll_id = store.resolve_id(poll)
    found = store.get(poll_id)
    if found is None or found.message.kind != kinds.POLL or not poll_shown(store, poll_id):
        raise NotFoundError(f"no poll {poll} in this store")
    message = found.message
    now = wall_clock_ms() if now_ms is None else now_ms
    closes = closes_at(message)
    if not message.ts <= now <= closes:
        raise UserError(f"poll {poll_id.hex()[:12]} is closed; votes are no longer counted")
    options = len(message.body["options"])
    picked = sorted(set(choices))
    if not picked or len(picked) != len(choices):
        raise UserError("name each option once")
    if any(not 0 <= c < options for c in picked):
        raise UserError(f"this poll has options 1 to {options}")
    if len(picked) > 1 and not message.body.get("multiple", False):
        raise UserError("this poll takes one choice")
    me = _signer(key).public_key
    mine = [b for b in ballots(store, poll_id) if b.voter == me and b.ts <= closes]
    if mine and max(mine, key=lambda b: b.seq).choices == mask(picked):
        shown = ", ".join(str(c + 1) for c in choices_of(mask(picked)))
        raise NothingChangedError(f"you already voted {shown} on this poll; nothing changed")
    return _append(store, key, kinds.VOTE, {"poll": poll_id, "choices": picked}, now)
