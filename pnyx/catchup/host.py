"""What the sync scheduler (``pnyx.catchup.scheduler``) uses of its node, what it counts, and
what it will ask a peer next: plain declarations, kept apart so the scheduler stays one concern."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from collections.abc import Sequence

    from pnyx.core.envelope import Message
    from pnyx.errors import RemoteError
    from pnyx.events import NodeEvents, Source
    from pnyx.ingest.ratelimit import RateLimiter
    from pnyx.net.contracts import Network
    from pnyx.runtime import Offload
    from pnyx.store import Store


@dataclass
class SyncStats:
    """Counters since the node started (all counts), shown by ``pnyx status --json``."""

    sessions: int = 0
    sessions_failed: int = 0
    sessions_peak: int = 0
    """Most requester sessions that ran at the same time."""
    messages_fetched: int = 0
    messages_duplicate: int = 0
    messages_rejected: int = 0
    triggers_connect: int = 0
    triggers_periodic: int = 0
    triggers_gap: int = 0
    triggers_follow: int = 0
    triggers_request: int = 0


@dataclass
class _Want:
    """What a peer will be asked next: everything the node wants, or these authors."""

    everything: bool = False
    authors: set[bytes] = field(default_factory=set)

    def merge(self, other: _Want) -> None:
        self.everything = self.everything or other.everything
        self.authors |= other.authors


class SyncHost(Protocol):
    """What the scheduler uses of the node it runs beside (``pnyx.node.node.Node`` is one)."""

    me: bytes
    store: Store
    offload: Offload
    limiter: RateLimiter
    events: NodeEvents

    @property
    def network(self) -> Network: ...

    def wanted_authors(self) -> frozenset[bytes]: ...

    def followed_authors(self) -> frozenset[bytes]: ...

    async def connect(self, address: str) -> str: ...

    def penalise(self, peer: str, exc: RemoteError) -> None: ...

    async def after_stored(
        self, messages: Sequence[Message], source: Source, peer: str | None = None
    ) -> None: ...
