"""Poll reads: ``poll_view`` (``pnyx poll show ID``) and ``poll_list`` (``pnyx polls``).

A poll's tally is ``pnyx.polls.tally.tally`` over the ballots the store holds
(``pnyx.store.polls.ballots``), for the user: trusted voters are those of the trust state the
caller passes (``trust=``, the node keeps it) or one built from the store's follows; co-acting
voters are the clusters ``pnyx clusters`` lists (``pnyx.reads.coacting``: reposts and reactions
of the last 7 days). Every count can say why (``Tally.why``). ``poll_list`` shows the polls held,
newest first, less those the user's policy hides (a muted or blocked author's).

Failure modes: ``NotFoundError`` for an unknown id or a deleted poll, ``UserError`` for a
message that is not a poll, ``StoreError`` if the store fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pnyx.clock import wall_clock_ms
from pnyx.core.kinds import POLL
from pnyx.core.kinds.poll import closes_at
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import NotFoundError, UserError
from pnyx.polls.tally import PollSpec, Tally, choices_of, tally
from pnyx.reads.coacting import Voices
from pnyx.reads.policy import visible
from pnyx.reads.trust import names_of
from pnyx.store import Cursor, Store, StoredMessage
from pnyx.store.polls import ballots, poll_shown, recent_polls
from pnyx.trust.state import TrustState


@dataclass(frozen=True)
class PollView:
    """One poll with its tally for the user: ``open`` at ``now_ms``; ``names`` of its author."""

    item: StoredMessage
    tally: Tally
    now_ms: int
    names: Mapping[bytes, str | None]

    @property
    def question(self) -> str:
        return str(self.item.message.body["question"])

    @property
    def options(self) -> list[str]:
        return [str(o) for o in self.item.message.body["options"]]

    @property
    def multiple(self) -> bool:
        return bool(self.item.message.body.get("multiple", False))

    @property
    def closes_ms(self) -> int:
        return closes_at(self.item.message)

    @property
    def open(self) -> bool:
        return self.item.message.ts <= self.now_ms <= self.closes_ms

    def to_json(self) -> dict[str, object]:
        t = self.tally
        return {
            "id": self.item.message.id.hex(),
            "author": encode_public_key(self.item.message.author),
            "question": self.question,
            "options": [
                {"index": i, "text": text, "everyone": t.everyone[i], "for_you": t.for_you[i]}
                for i, text in enumerate(self.options)
            ],
            "multiple": self.multiple,
            "ts": self.item.message.ts,
            "closes_ms": self.closes_ms,
            "open": self.open,
            "voters": t.voters,
            "voices": t.voices,
            "trusted_voters": t.trusted_voters,
            "outside": t.outside,
            "collapsed": [
                {
                    "cluster": encode_public_key(v.key),
                    "voters": [encode_public_key(k) for k in v.voters],
                }
                for v in t.collapsed
            ],
            "invalid": t.invalid,
            "after_close": t.after_close,
            "before_open": t.before_open,
            "arrived_late": t.arrived_late,
            "mine": None if t.mine is None else choices_of(t.mine),
            "why": t.why(),
        }


def _poll_item(store: Store, poll_id: bytes) -> StoredMessage:
    item = store.get(poll_id)
    if item is None:
        raise NotFoundError(f"no message {poll_id.hex()} in this store")
    if item.kind != POLL:
        raise UserError(f"message {poll_id.hex()[:12]} is a {item.kind}, not a poll")
    if not poll_shown(store, poll_id):
        raise NotFoundError(f"poll {poll_id.hex()[:12]} was deleted by its author")
    return item


def _counted(store: Store, me: bytes, item: StoredMessage, now_ms: int, who: Voices) -> PollView:
    m = item.message
    options, multiple = len(m.body["options"]), bool(m.body.get("multiple", False))
    spec = PollSpec(m.author, m.ts, closes_at(m), options, multiple)
    found = ballots(store, m.id)
    counted = tally(spec, found, me=me, trusted=who.trusted, cluster_of=who.cluster_of)
    return PollView(item, counted, now_ms, names_of(store, {m.author}))


def poll_view(
    store: Store,
    me: bytes,
    poll_id: bytes,
    *,
    now_ms: int | None = None,
    trust: TrustState | None = None,
) -> PollView:
    """Poll ``poll_id`` with its tally for ``me`` (module docstring)."""
    item = _poll_item(store, poll_id)
    now = wall_clock_ms() if now_ms is None else now_ms
    return _counted(store, me, item, now, Voices.of(store, me, now, trust))


@dataclass(frozen=True)
class PollList:
    """A page of polls, newest first; ``next``: the next page's cursor (None: no more)."""

    polls: list[PollView]
    next: Cursor | None

    def to_json(self) -> dict[str, object]:
        after = self.next
        return {
            "polls": [p.to_json() for p in self.polls],
            "next": None if after is None else after.to_text(),
        }


def poll_list(
    store: Store,
    me: bytes,
    limit: int = 20,
    before: Cursor | None = None,
    *,
    now_ms: int | None = None,
    trust: TrustState | None = None,
) -> PollList:
    """The polls held, newest first, less those the user's policy hides, each with its tally."""
    found = recent_polls(store, limit + 1, before)
    after = found[limit - 1].cursor if len(found) > limit else None
    shown = visible(store, me, found[:limit])
    now = wall_clock_ms() if now_ms is None else now_ms
    who = Voices.of(store, me, now, trust)
    return PollList([_counted(store, me, item, now, who) for item in shown], after)
