"""Noticing that this machine's clock is wrong, from the timestamps of fresh gossip (sans-I/O).

Every node rejects messages dated more than ``MAX_FUTURE_SKEW_MS`` (10 minutes) after its own
clock (reason ``future-timestamp``, dropped without penalty). Such a rejection is silent: gossipsub
tells the sender nothing. So a node whose clock runs ahead would see its new posts vanish. What the
node CAN see is the messages arriving from others:

* **Our clock ahead.** Gossip carries messages just written (a node publishes only what its user
  writes while it runs), so ``age = our clock at arrival - message ts`` is the propagation delay
  (milliseconds) plus how far our clock runs ahead of the author's. ``ClockWatch`` keeps the
  freshest age of each of the last ``SAMPLE_AUTHORS`` authors heard from; the smallest of them
  estimates how far ahead we are. With at least ``MIN_SAMPLE_AUTHORS`` authors and every one of
  them older than ``AHEAD_WARN_MS``, the node warns its user; once the estimate exceeds
  ``MAX_FUTURE_SKEW_MS`` it says that peers reject the user's new posts, and says so again when the
  user publishes.
* **Our clock behind.** Frames ignored here as ``future-timestamp`` from at least
  ``MIN_SAMPLE_AUTHORS`` distinct authors within ``BEHIND_WINDOW_S`` mean that our clock is
  probably the wrong one: the node warns that it is dropping others' posts.

Only verified messages are sampled, in both directions: ``observe`` gets the messages of frames
that passed every check, ``saw_future`` those of future-dated frames whose signatures (and every
rule but the clock) the node checked first (``Node._check_future``). Forged envelopes dated an
hour ahead are penalised as forgeries and say nothing about the clock. Valid keys are free, so a
peer signing with three fresh keys can still raise a warning: a warning is all it gets (the node
never changes its clock or its checks).

What it cannot see: a single author (its clock wrong, not ours), a quiet network (no samples, no
estimate), or skew smaller than the propagation delay. Messages fetched by catch-up sync are old by
nature and are never sampled. Warnings are repeated at most once per ``WARN_INTERVAL_S``.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pnyx.core.envelope import Message
from pnyx.core.limits import MAX_FUTURE_SKEW_MS

log = logging.getLogger("pnyx.node")

#: Authors whose freshest message age is remembered, a count (the most recent ones).
SAMPLE_AUTHORS = 16
#: Fewest distinct authors before the node draws any conclusion about its clock, a count.
MIN_SAMPLE_AUTHORS = 3
#: Estimated lead of our clock above which the user is warned, in milliseconds (half the skew
#: others accept, so the user hears of it before peers start rejecting posts).
AHEAD_WARN_MS = MAX_FUTURE_SKEW_MS // 2
#: A sample older than this is forgotten (too old to describe the clock now), in seconds.
SAMPLE_MAX_AGE_S = 3600.0
#: Window in which future-dated frames from distinct authors are counted, in seconds.
BEHIND_WINDOW_S = 600.0
#: Shortest time between two warnings of one kind, in seconds.
WARN_INTERVAL_S = 600.0


@dataclass(frozen=True, slots=True)
class ClockEstimate:
    """``ahead_ms``: how far our clock seems to run ahead of others' (None without enough
    samples); ``authors``: samples it rests on; ``future_authors``: distinct authors whose frames
    were dropped as future-dated within ``BEHIND_WINDOW_S``."""

    ahead_ms: int | None
    authors: int
    future_authors: int


class ClockWatch:
    """Watches arriving gossip for signs that this node's clock is wrong (see module docstring).

    ``now`` arguments are monotonic seconds (for windows); ``wall_ms`` is the node's wall clock.
    """

    def __init__(self, me: bytes) -> None:
        self._me = me
        self._ages: OrderedDict[bytes, tuple[int, float]] = OrderedDict()
        self._future: OrderedDict[bytes, float] = OrderedDict()
        self._warned: dict[str, float] = {}

    def observe(self, messages: Sequence[Message], wall_ms: int, now: float) -> None:
        """Sample the messages of a gossip frame that verified (others' messages only)."""
        freshest: dict[bytes, int] = {}
        for message in messages:
            if message.author != self._me:
                age = wall_ms - message.ts
                freshest[message.author] = min(age, freshest.get(message.author, age))
        for author, age in freshest.items():
            self._ages.pop(author, None)
            self._ages[author] = (age, now)
            while len(self._ages) > SAMPLE_AUTHORS:
                self._ages.popitem(last=False)
        if freshest:
            self._check(now)

    def saw_future(self, messages: Sequence[Message], now: float) -> None:
        """A frame was dropped here as future-dated: note the authors of its messages, which the
        caller verified (signatures and everything but the clock: ``validate_frame`` against
        ``MAX_TIMESTAMP_MS``). Unverified envelopes must never get here: anyone can write any
        author key and date into one."""
        for author in {message.author for message in messages} - {self._me}:
            self._future.pop(author, None)
            self._future[author] = now
            while len(self._future) > SAMPLE_AUTHORS:
                self._future.popitem(last=False)
        self._check(now)

    def estimate(self, now: float) -> ClockEstimate:
        ages = [age for age, seen in self._ages.values() if now - seen <= SAMPLE_MAX_AGE_S]
        ahead = min(ages) if len(ages) >= MIN_SAMPLE_AUTHORS else None
        future = sum(1 for seen in self._future.values() if now - seen <= BEHIND_WINDOW_S)
        return ClockEstimate(ahead, len(ages), future)

    def published(self, own: Iterable[Message], now: float) -> None:
        """The user's messages were just published: warn if peers will reject them."""
        estimate = self.estimate(now)
        if any(True for _ in own) and _rejected_ahead(estimate):
            self._warn(
                "post",
                now,
                f"your clock runs about {_minutes(estimate.ahead_ms)} ahead of "
                f"{estimate.authors} other authors': peers reject posts dated more than "
                f"{MAX_FUTURE_SKEW_MS // 60_000} minutes ahead (future-timestamp); "
                "set your clock right and they will accept new ones",
            )

    def _check(self, now: float) -> None:
        estimate = self.estimate(now)
        if estimate.ahead_ms is not None and estimate.ahead_ms > AHEAD_WARN_MS:
            consequence = (
                "peers reject your new posts as future-timestamped"
                if _rejected_ahead(estimate)
                else f"beyond {MAX_FUTURE_SKEW_MS // 60_000} minutes peers will reject your posts"
            )
            self._warn(
                "ahead",
                now,
                f"your clock seems to run about {_minutes(estimate.ahead_ms)} ahead: the latest "
                f"messages of {estimate.authors} authors all look that old; {consequence}",
            )
        if estimate.future_authors >= MIN_SAMPLE_AUTHORS:
            self._warn(
                "behind",
                now,
                f"your clock seems to run behind: messages of {estimate.future_authors} authors "
                f"were dated more than {MAX_FUTURE_SKEW_MS // 60_000} minutes after it and "
                "dropped; set your clock right",
            )

    def _warn(self, kind: str, now: float, text: str) -> None:
        last = self._warned.get(kind)
        if last is not None and now - last < WARN_INTERVAL_S:
            return
        self._warned[kind] = now
        log.warning("warning: %s", text)


def _rejected_ahead(estimate: ClockEstimate) -> bool:
    return estimate.ahead_ms is not None and estimate.ahead_ms > MAX_FUTURE_SKEW_MS


def _minutes(ms: int | None) -> str:
    minutes = (ms or 0) / 60_000
    return f"{minutes:.0f} minutes" if minutes >= 2 else f"{(ms or 0) / 1000:.0f} s"
