"""The node's typed events: one path for "messages were stored", peer changes and interest changes.

A ``Topic[T]`` is a list of subscribers (plain synchronous callables) and ``publish(value)`` calls
each in the order they subscribed. Subscribers must not block: one that needs to do I/O sets an
event or queues work for a task of its own. A subscriber that raises an ``Exception`` is logged
with its traceback and counted (``Topic.failures``); the other subscribers still run and
``publish`` returns normally, so no subscriber can take the node down. ``BaseException``s that
are not ``Exception`` (``trio.Cancelled``, ``KeyboardInterrupt``) are never caught.

``NodeEvents`` holds the node's three topics:

* ``stored``: a ``Stored`` after every batch of messages received from others was committed,
  from gossip and from catch-up sync alike (the node's ``after_stored``); the user's own
  messages written by ``pnyx post`` are not received and do not go through it;
* ``peers``: each ``PeerEvent`` of the network (a peer connected or disconnected);
* ``interest``: ``InterestChanged`` whenever the set of replicated authors was (re)loaded.

Plain code: no trio, no I/O.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

if TYPE_CHECKING:
    from pnyx.core.envelope import Message
    from pnyx.net.contracts import PeerEvent

log = logging.getLogger(__name__)

T = TypeVar("T")


class Source(enum.Enum):
    """How stored messages reached the node."""

    GOSSIP = "gossip"
    SYNC = "sync"


@dataclass(frozen=True, slots=True)
class Stored:
    """Messages newly committed to the store (duplicates and refused ones excluded)."""

    messages: Sequence[Message]
    source: Source
    peer: str | None = None
    """The peer a sync session fetched them from; None for gossip (relayed by anyone)."""


@dataclass(frozen=True, slots=True)
class InterestChanged:
    """The authors this node replicates, after a (re)load."""

    wanted: frozenset[bytes]


@dataclass
class Topic(Generic[T]):
    """Subscribers of one kind of event; see the module docstring."""

    name: str
    subscribers: list[Callable[[T], None]] = field(default_factory=list)
    failures: int = 0
    """Exceptions raised by subscribers since start, a count."""

    def subscribe(self, subscriber: Callable[[T], None]) -> None:
        self.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Callable[[T], None]) -> None:
        """Remove ``subscriber`` if it is subscribed (no error otherwise)."""
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def publish(self, value: T) -> None:
        """Call every subscriber with ``value``; never raises an ``Exception``."""
        for subscriber in list(self.subscribers):
            try:
                subscriber(value)
            except Exception:
                self.failures += 1
                log.exception("a subscriber of %s events failed: %r", self.name, subscriber)


@dataclass(frozen=True, slots=True)
class StoreHealth:
    """The store's writes failed (``working`` False: a full disk, an I/O error) or work again
    after failing (True). Published on the change only."""

    working: bool


@dataclass
class NodeEvents:
    """The node's topics (see the module docstring)."""

    stored: Topic[Stored] = field(default_factory=lambda: Topic[Stored]("stored"))
    peers: Topic[PeerEvent] = field(default_factory=lambda: Topic["PeerEvent"]("peers"))
    interest: Topic[InterestChanged] = field(
        default_factory=lambda: Topic[InterestChanged]("interest")
    )
    store: Topic[StoreHealth] = field(default_factory=lambda: Topic[StoreHealth]("store"))
    store_works: bool = True
    """Whether the last store write (gossip or sync) worked."""

    def failures(self) -> int:
        """Subscriber failures on every topic since start, a count."""
        return (
            self.stored.failures
            + self.peers.failures
            + self.interest.failures
            + self.store.failures
        )

    def store_write(self, working: bool) -> None:
        """A store write worked or failed: publish a ``StoreHealth`` when that changes."""
        if working != self.store_works:
            self.store_works = working
            self.store.publish(StoreHealth(working))
