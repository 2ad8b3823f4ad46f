"""Rate limits per author, per peer and for strangers: token buckets applied before the expensive
work (sans-I/O).

What they protect: an Ed25519 verification costs about 60 us of CPU and a stored message costs
disk, so a peer that floods valid-looking frames (or valid posts from thousands of fresh keys) could
keep a node busy verifying forever. Each peer and each author has a token bucket: ``burst`` tokens
at most, refilled at ``rate`` tokens per second, one token per message. Messages of *strangers*
(authors this node neither stores nor has verified before) also share one global bucket, so a flood
from fresh keys spread over many peer ids is shed however many ids carry it.

Gossip (``RateLimiter.admit_frame`` then ``charge_authors``), for one frame forwarded by a peer:

1. the frame is decoded structurally (``decode_frame``, no signature) and each envelope's author is
   read from its fixed position in the payload (``pnyx.core.envelope.author_of``);
2. a frame whose authors are all *wanted* (the interest set: the user and whom they follow) skips
   the peer and stranger budgets: only its authors' buckets apply, and the peer is charged (into
   debt if need be), so a flood elsewhere never delays the feeds the user reads;
3. any other frame must fit the forwarding peer's bucket, and its strangers' messages must fit the
   global stranger bucket; every author must have tokens for its envelopes;
4. the peer and the stranger bucket pay before any signature is checked; authors pay only after the
   whole frame verified (``charge_authors``): a forger cannot drain an honest author's bucket with
   messages it cannot sign. A verified author is no longer a stranger (it has a bucket);
5. a frame that does not fit is refused (``Verdict.IGNORE``: neither verified, stored nor
   forwarded) and charges nobody. A refusal **never** counts against the peer: the excess may be
   someone else's (an honest relay forwards a flood it could not have checked better than we can).

A bucket may go into debt (a frame larger than the tokens left is admitted if the bucket holds
``min(count, burst)`` tokens), so frames larger than ``burst`` still pass and the long-run rate is
kept. Buckets of the least recently seen keys are forgotten beyond ``MAX_TRACKED_AUTHORS`` /
``MAX_TRACKED_PEERS`` (a forgotten peer starts with a full bucket again, a forgotten author is a
stranger again): memory stays bounded.

Sync (``admit_sync`` / ``charge_sync``): the same buckets with the larger ``sync_*`` limits,
separately kept, applied per envelope of a received batch before the store validates it; refused
envelopes are not stored (the next session asks for them again).

Limits come from ``RateLimits`` (``[node.rate_limits]`` in config.toml, see ``parse_rate_limits``).
Time is passed in (seconds, any monotonic clock), so this module imports neither trio nor I/O.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Container, Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from typing import Any

from pnyx.core.envelope import author_of
from pnyx.core.frame import decode_frame
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import ConfigError, RemoteError

#: Gossip: average messages per second one author may have relayed through this node.
AUTHOR_MESSAGES_PER_S = 5.0
#: Gossip: messages one author may send at once (bucket size), a count. Above one full frame
#: (512), so a user publishing a backlog of a few hundred posts in one go is not cut.
AUTHOR_BURST_MESSAGES = 600
#: Gossip: average messages per second one peer may forward to this node.
PEER_MESSAGES_PER_S = 200.0
#: Gossip: messages one peer may forward at once (bucket size), a count (eight full frames).
PEER_BURST_MESSAGES = 4096
#: Gossip: average messages per second of strangers (authors neither wanted nor verified before)
#: this node verifies, from all peers together.
STRANGER_MESSAGES_PER_S = 100.0
#: Gossip: messages of strangers verified at once (the global bucket's size), a count: four full
#: frames, so a new author's backlog of a few hundred posts passes.
STRANGER_BURST_MESSAGES = 2048
#: Sync: average new messages per second stored for one author.
SYNC_AUTHOR_MESSAGES_PER_S = 200.0
#: Sync: new messages of one author stored at once (bucket size), a count.
SYNC_AUTHOR_BURST_MESSAGES = 20_000
#: Sync: average messages per second one responder may deliver.
SYNC_PEER_MESSAGES_PER_S = 2_000.0
#: Sync: messages one responder may deliver at once (bucket size), a count.
SYNC_PEER_BURST_MESSAGES = 100_000

#: Most author buckets kept at once (per kind of traffic), a count; the least recently used go.
MAX_TRACKED_AUTHORS = 65_536
#: Most peer buckets kept at once (per kind of traffic), a count; the least recently used go.
MAX_TRACKED_PEERS = 4096
#: Reason string of a rate-limit refusal (in output lines and JSON; not a message rejection reason).
RATE_LIMITED = "rate-limited"


@dataclass(frozen=True, slots=True)
class RateLimits:
    """The limits a node applies; each ``*_per_s`` is a rate in messages per second, each
    ``*_burst`` a bucket size in messages."""

    author_per_s: float = AUTHOR_MESSAGES_PER_S
    author_burst: int = AUTHOR_BURST_MESSAGES
    peer_per_s: float = PEER_MESSAGES_PER_S
    peer_burst: int = PEER_BURST_MESSAGES
    stranger_per_s: float = STRANGER_MESSAGES_PER_S
    stranger_burst: int = STRANGER_BURST_MESSAGES
    sync_author_per_s: float = SYNC_AUTHOR_MESSAGES_PER_S
    sync_author_burst: int = SYNC_AUTHOR_BURST_MESSAGES
    sync_peer_per_s: float = SYNC_PEER_MESSAGES_PER_S
    sync_peer_burst: int = SYNC_PEER_BURST_MESSAGES


#: The limits used unless config.toml says otherwise.
DEFAULT_RATE_LIMITS = RateLimits()
#: Largest value accepted for any limit (a rate in messages/s or a burst in messages).
MAX_LIMIT_VALUE = 10**9


def parse_rate_limits(values: object, where: str, base: RateLimits | None = None) -> RateLimits:
    """``base`` (default: the defaults) with the keys of ``values`` (a TOML table) applied.

    Raises ``ConfigError`` naming ``where`` for an unknown key or a value that is not a positive
    number (rates) or a positive integer (bursts) up to ``MAX_LIMIT_VALUE``.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where} must be a table of limits")
    known = {f.name for f in fields(RateLimits)}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if key not in known:
            raise ConfigError(f"{where}: unknown rate limit {key!r} (known: {', '.join(known)})")
        integer = key.endswith("_burst")
        good_type = type(value) is int or (not integer and type(value) is float)
        if not good_type or not 0 < value <= MAX_LIMIT_VALUE:
            wanted = "a positive integer" if integer else "a positive number"
            raise ConfigError(f"{where} {key} must be {wanted}; got {value!r}")
        changes[key] = float(value) if not integer else value
    return replace(base or RateLimits(), **changes)


class RateLimited(RemoteError):
    """A frame or envelope refused by a rate limit: ``reason`` is ``RATE_LIMITED``. It never counts
    against the peer (see the module docstring)."""

    def __init__(self, detail: str) -> None:
        self.reason = RATE_LIMITED
        self.detail = detail
        super().__init__(f"{RATE_LIMITED}: {detail}")


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class Buckets:
    """Token buckets by key (bounded LRU): ``rate`` tokens/s up to ``burst``, one per message."""

    def __init__(self, rate: float, burst: int, capacity: int) -> None:
        self.rate = rate
        self.burst = burst
        self.capacity = capacity
        self._buckets: OrderedDict[bytes | str, _Bucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def _get(self, key: bytes | str, now: float) -> _Bucket:
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(float(self.burst), now)
            while len(self._buckets) > self.capacity:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
            elapsed = max(0.0, now - bucket.stamp)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.rate)
            bucket.stamp = now
        return bucket

    def known(self, key: bytes | str) -> bool:
        """Whether ``key`` has a bucket (was charged and not forgotten since)."""
        return key in self._buckets

    def level(self, key: bytes | str, now: float) -> float:
        """Tokens in ``key``'s bucket now (may be negative while in debt). Looking does not
        create a bucket: an unknown key has a full one, so unverified keys take no memory."""
        if key not in self._buckets:
            return float(self.burst)
        return self._get(key, now).tokens

    def fits(self, key: bytes | str, count: int, now: float) -> bool:
        """Whether ``count`` messages of ``key`` may pass now (nothing is charged)."""
        return self.level(key, now) >= min(count, self.burst)

    def charge(self, key: bytes | str, count: int, now: float) -> None:
        """Take ``count`` tokens (the bucket may go into debt)."""
        self._get(key, now).tokens -= count

    def take(self, key: bytes | str, count: int, now: float) -> bool:
        """``fits`` then ``charge``; returns whether it fitted (nothing is charged if not)."""
        if not self.fits(key, count, now):
            return False
        self.charge(key, count, now)
        return True


@dataclass
class RateCounters:
    """What the limits refused since the node started (all counts)."""

    frames_rate_limited: int = 0
    messages_rate_limited: int = 0
    frames_of_strangers_shed: int = 0
    sync_messages_rate_limited: int = 0


@dataclass(frozen=True, slots=True)
class Admission:
    """A gossip frame may be verified; ``strangers`` of its messages are by strangers."""

    strangers: int


@dataclass(frozen=True, slots=True)
class SyncAdmission:
    """Envelopes of a sync batch that may be stored (in order) and how many were refused."""

    kept: list[bytes]
    refused: int


class RateLimiter:
    """Every bucket of one node (see the module docstring). Not thread-safe: call it from one
    thread (the node calls it from the trio thread)."""

    def __init__(self, limits: RateLimits | None = None) -> None:
        self.limits = limits = limits or RateLimits()
        self.counters = RateCounters()
        self._authors = Buckets(limits.author_per_s, limits.author_burst, MAX_TRACKED_AUTHORS)
        self._peers = Buckets(limits.peer_per_s, limits.peer_burst, MAX_TRACKED_PEERS)
        self._sync_authors = Buckets(
            limits.sync_author_per_s, limits.sync_author_burst, MAX_TRACKED_AUTHORS
        )
        self._sync_peers = Buckets(
            limits.sync_peer_per_s, limits.sync_peer_burst, MAX_TRACKED_PEERS
        )
        self._strangers = Buckets(limits.stranger_per_s, limits.stranger_burst, 1)

    # --- gossip --------------------------------------------------------------------------

    def admit_frame(
        self, frame: bytes, peer: str, now: float, wanted: Container[bytes] = frozenset()
    ) -> RateLimited | None:
        """``admit``, returning None for an admitted frame."""
        admitted = self.admit(frame, peer, now, wanted)
        return admitted if isinstance(admitted, RateLimited) else None

    def admit(
        self, frame: bytes, peer: str, now: float, wanted: Container[bytes] = frozenset()
    ) -> Admission | RateLimited:
        """How many strangers' messages ``frame`` from ``peer`` holds if it may be verified now
        (the peer and the stranger bucket are charged), else why not (nothing is charged).
        ``wanted`` is the interest set.

        A frame that does not even decode structurally is admitted at the cost of one token: the
        validator rejects it at once (and penalises the peer) without verifying anything.
        """
        try:
            envelopes = decode_frame(frame)
        except InvalidMessage:
            self._peers.charge(peer, 1, now)
            return Admission(0)
        count = len(envelopes)
        per_author: dict[bytes, int] = {}
        for raw in envelopes:
            author = author_of(raw)
            if author is not None:
                per_author[author] = per_author.get(author, 0) + 1
        all_wanted = True
        strangers = count - sum(per_author.values())  # unreadable authors: the validator rejects
        for author, wanted_here in per_author.items():
            if author not in wanted:
                all_wanted = False
                if not self._authors.known(author):
                    strangers += wanted_here
            if not self._authors.fits(author, wanted_here, now):
                detail = f"author {author.hex()[:16]} over {self.limits.author_per_s:g} messages/s"
                return self._refused(count, detail)
        all_wanted = all_wanted and strangers == 0
        if not all_wanted and not self._peers.fits(peer, count, now):
            return self._refused(count, f"peer over {self.limits.peer_per_s:g} messages/s")
        if strangers and not self._strangers.take(b"", strangers, now):
            self.counters.frames_of_strangers_shed += 1
            detail = f"strangers over {self.limits.stranger_per_s:g} messages/s"
            return self._refused(count, detail)
        self._peers.charge(peer, count, now)
        return Admission(strangers)

    def _refused(self, count: int, detail: str) -> RateLimited:
        self.counters.frames_rate_limited += 1
        self.counters.messages_rate_limited += count
        return RateLimited(detail)

    def charge_authors(self, authors: Iterable[bytes], now: float) -> None:
        """Charge one token per message to its author (call once the frame has verified)."""
        per_author: dict[bytes, int] = {}
        for author in authors:
            per_author[author] = per_author.get(author, 0) + 1
        for author, count in per_author.items():
            self._authors.charge(author, count, now)

    # --- sync ----------------------------------------------------------------------------

    def admit_sync(self, peer: str, envelopes: Sequence[bytes], now: float) -> SyncAdmission:
        """The envelopes of a sync batch from ``peer`` that fit the sync limits, in order.

        The peer pays for each envelope; authors must have tokens left but pay only through
        ``charge_sync`` for what the store accepted.
        """
        kept: list[bytes] = []
        wanted: dict[bytes, int] = {}
        for raw in envelopes:
            if not self._sync_peers.take(peer, 1, now):
                continue
            author = author_of(raw)
            if author is not None:
                wanted[author] = wanted.get(author, 0) + 1
                if self._sync_authors.level(author, now) < wanted[author]:
                    continue
            kept.append(raw)
        refused = len(envelopes) - len(kept)
        self.counters.sync_messages_rate_limited += refused
        return SyncAdmission(kept, refused)

    def charge_sync(self, authors: Iterable[bytes], now: float) -> None:
        """Charge the sync author buckets for messages the store accepted."""
        for author in authors:
            self._sync_authors.charge(author, 1, now)

    # --- reporting ------------------------------------------------------------------------

    def tracked(self) -> dict[str, int]:
        """How many buckets are held (for memory checks)."""
        return {
            "authors": len(self._authors),
            "peers": len(self._peers),
            "sync_authors": len(self._sync_authors),
            "sync_peers": len(self._sync_peers),
        }

    def stranger_level(self, now: float) -> float:
        """Tokens left in the global stranger bucket (for tests and diagnostics)."""
        return self._strangers.level(b"", now)
