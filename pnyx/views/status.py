"""``NodeStatus``: what the running node reports to ``pnyx status`` (and the HTTP API).

``to_json()`` is exactly the object ``pnyx status --json`` prints; ``from_json()`` reads the
control socket's reply back into the typed model, so the CLI renders from attributes. Open-ended
counters (``counts``, most of ``sync`` and ``discovery``) stay ``Mapping[str, int]``: new counters
pass through both ways without a change here.

``from_json`` raises ``PnyxError`` naming the field if the reply does not have the shape written
here (a node of another version, say); it never raises anything else for any JSON value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from pnyx.errors import PnyxError
from pnyx.views.reach import ReachabilityView

T = TypeVar("T")


def _get(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> T:
    value = obj.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise PnyxError(f"the node's status reply is malformed: {where}{key} is {value!r}")
    return value


def _maybe(obj: Mapping[str, Any], key: str, kind: type[T], where: str) -> T | None:
    return None if obj.get(key) is None else _get(obj, key, kind, where)


def _map(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise PnyxError(f"the node's status reply is malformed: {where} is {value!r}")
    return value


def _strings(obj: Mapping[str, Any], key: str, where: str) -> tuple[str, ...]:
    items = _get(obj, key, list, where)
    if not all(isinstance(item, str) for item in items):
        raise PnyxError(f"the node's status reply is malformed: {where}{key} is {items!r}")
    return tuple(items)


def _counters(value: object, where: str) -> dict[str, int]:
    counters = _map(value, where)
    for name, count in counters.items():
        if not isinstance(count, int) or isinstance(count, bool):
            raise PnyxError(f"the node's status reply is malformed: {where}.{name} is {count!r}")
    return dict(counters)


@dataclass(frozen=True, slots=True)
class PeerRow:
    """A connected peer: ``direction`` ``inbound``/``outbound``; ``address`` if known;
    ``found_by`` how discovery found it (``pnyx.net.contracts.FoundBy``: ``bootstrap``, ``dht``,
    ``mdns``, ``px``, ``peerbook``, ``user``...), absent when the node does not know (it dialled
    us, or discovery is off)."""

    peer_id: str
    direction: str
    address: str | None
    found_by: str | None = None

    @classmethod
    def from_json(cls, obj: object) -> PeerRow:
        row = _map(obj, "peers[]")
        return cls(
            _get(row, "peer_id", str, "peers[]."),
            _get(row, "direction", str, "peers[]."),
            _maybe(row, "address", str, "peers[]."),
            _maybe(row, "found_by", str, "peers[].") if "found_by" in row else None,
        )

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "peer_id": self.peer_id,
            "direction": self.direction,
            "address": self.address,
        }
        if self.found_by is not None:
            record["found_by"] = self.found_by
        return record


@dataclass(frozen=True, slots=True)
class ClockView:
    """The clock watch's estimate (``pnyx.ingest.clockskew.ClockEstimate``)."""

    ahead_ms: int | None
    authors: int
    future_authors: int

    @classmethod
    def from_json(cls, obj: object) -> ClockView:
        clock = _map(obj, "clock")
        return cls(
            _maybe(clock, "ahead_ms", int, "clock."),
            _get(clock, "authors", int, "clock."),
            _get(clock, "future_authors", int, "clock."),
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "ahead_ms": self.ahead_ms,
            "authors": self.authors,
            "future_authors": self.future_authors,
        }


#: The fields of ``sync`` the model names; the others are counters.
_SYNC_NAMED = ("sessions_running", "peers_waiting", "own_republished")


@dataclass(frozen=True, slots=True)
class SyncStatus:
    """Catch-up sync: sessions running now, peers waiting for one, own messages republished, and
    the scheduler's and server's counters (``counters``, in the node's order)."""

    sessions_running: int
    peers_waiting: int
    own_republished: int
    counters: Mapping[str, int]

    @classmethod
    def from_json(cls, obj: object) -> SyncStatus:
        everything = _counters(obj, "sync")
        named = [_get(everything, name, int, "sync.") for name in _SYNC_NAMED]
        rest = {k: v for k, v in everything.items() if k not in _SYNC_NAMED}
        return cls(named[0], named[1], named[2], rest)

    def to_json(self) -> dict[str, Any]:
        return {
            **self.counters,
            "sessions_running": self.sessions_running,
            "peers_waiting": self.peers_waiting,
            "own_republished": self.own_republished,
        }


#: The dialer's fields of ``discovery`` (present when the node has a dialer).
_DIALER_NAMED = ("target_connections", "peerbook", "dialling", "connected_by")
#: The other fields of ``discovery`` the model names; the rest are counters.
_DISCOVERY_NAMED = (*_DIALER_NAMED, "dht", "last_holders", "feeds_announced")


@dataclass(frozen=True, slots=True)
class DiscoveryStatus:
    """Discovery: the dialer's peer book (None without a dialer), whether the DHT is on, the
    holders of the last lookup, feeds announced; ``counters``: the dialer's and the service's
    counters; ``network_counters``: the network's own (DHT routing table size, mDNS finds), which
    the node writes after ``feeds_announced`` (both in the node's order)."""

    target_connections: int | None
    peerbook: int | None
    dialling: int | None
    connected_by: Mapping[str, int] | None
    dht: bool
    last_holders: tuple[str, ...]
    feeds_announced: int
    counters: Mapping[str, int]
    network_counters: Mapping[str, int]

    @property
    def dht_routing_table(self) -> int | None:
        """Peers in the DHT routing table (None if the network has no DHT)."""
        return self.network_counters.get("dht_routing_table")

    @classmethod
    def from_json(cls, obj: object) -> DiscoveryStatus:
        found = _map(obj, "discovery")
        where = "discovery."
        connected_by = found.get("connected_by")
        keys = list(found)
        tail = keys.index("feeds_announced") + 1 if "feeds_announced" in keys else len(keys)
        rest = [k for k in keys[:tail] if k not in _DISCOVERY_NAMED]
        return cls(
            target_connections=_maybe(found, "target_connections", int, where),
            peerbook=_maybe(found, "peerbook", int, where),
            dialling=_maybe(found, "dialling", int, where),
            connected_by=None
            if connected_by is None
            else _counters(connected_by, "discovery.connected_by"),
            dht=_get(found, "dht", bool, where),
            last_holders=_strings(found, "last_holders", where),
            feeds_announced=_get(found, "feeds_announced", int, where),
            counters=_counters({k: found[k] for k in rest}, "discovery"),
            network_counters=_counters({k: found[k] for k in keys[tail:]}, "discovery"),
        )

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {}
        if self.peerbook is not None:  # the dialer's part comes first, as the node writes it
            record.update(
                target_connections=self.target_connections,
                peerbook=self.peerbook,
                dialling=self.dialling,
                connected_by=dict(self.connected_by or {}),
            )
        record.update(self.counters)
        record.update(
            dht=self.dht, last_holders=list(self.last_holders), feeds_announced=self.feeds_announced
        )
        record.update(self.network_counters)
        return record


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """The running node: identity, addresses, peers, bans, counters, clock, sync, discovery.

    ``sync`` and ``discovery`` are None when the node runs without them (they are then absent
    from the JSON). ``uptime_s`` is in seconds, to 0.1 s.
    """

    peer_id: str
    public_key: str
    listen_addrs: tuple[str, ...]
    peers: tuple[PeerRow, ...]
    topic_peers: tuple[str, ...]
    mesh_peers: tuple[str, ...]
    banned: tuple[str, ...]
    penalties: Mapping[str, int]
    counts: Mapping[str, int]
    clock: ClockView
    uptime_s: float
    sync: SyncStatus | None = None
    discovery: DiscoveryStatus | None = None
    reachability: ReachabilityView | None = None  # NAT reach
    #: The node's kept trust (``{"age_ms", "incremental"}``, or None before the first compute);
    #: ``trust_given`` says whether the reply had the key at all (older nodes: no).
    trust: Mapping[str, Any] | None = None
    trust_given: bool = False

    @property
    def inbound(self) -> int:
        """Connected peers that dialled us."""
        return sum(1 for peer in self.peers if peer.direction == "inbound")

    @classmethod
    def from_json(cls, obj: object) -> NodeStatus:
        status = _map(obj, "the status")
        peers = _get(status, "peers", list, "")
        uptime = status.get("uptime_s")
        if not isinstance(uptime, int | float) or isinstance(uptime, bool):
            raise PnyxError(f"the node's status reply is malformed: uptime_s is {uptime!r}")
        sync, discovery = status.get("sync"), status.get("discovery")
        return cls(
            peer_id=_get(status, "peer_id", str, ""),
            public_key=_get(status, "public_key", str, ""),
            listen_addrs=_strings(status, "listen_addrs", ""),
            peers=tuple(PeerRow.from_json(peer) for peer in peers),
            topic_peers=_strings(status, "topic_peers", ""),
            mesh_peers=_strings(status, "mesh_peers", ""),
            banned=_strings(status, "banned", ""),
            penalties=_counters(status.get("penalties"), "penalties"),
            counts=_counters(status.get("counts"), "counts"),
            clock=ClockView.from_json(status.get("clock")),
            uptime_s=uptime,
            sync=None if sync is None else SyncStatus.from_json(sync),
            discovery=None if discovery is None else DiscoveryStatus.from_json(discovery),
            reachability=None
            if status.get("reachability") is None
            else ReachabilityView.from_json(status["reachability"]),
            trust=None if status.get("trust") is None else dict(_map(status["trust"], "trust")),
            trust_given="trust" in status,
        )

    def to_json(self) -> dict[str, Any]:
        record: dict[str, Any] = {
            "peer_id": self.peer_id,
            "public_key": self.public_key,
            "listen_addrs": list(self.listen_addrs),
            **({} if self.reachability is None else {"reachability": self.reachability.to_json()}),
            "peers": [peer.to_json() for peer in self.peers],
            "topic_peers": list(self.topic_peers),
            "mesh_peers": list(self.mesh_peers),
            "banned": list(self.banned),
            "penalties": dict(self.penalties),
            "counts": dict(self.counts),
            "clock": self.clock.to_json(),
            "uptime_s": self.uptime_s,
        }
        if self.trust_given:
            record["trust"] = None if self.trust is None else dict(self.trust)
        if self.sync is not None:
            record["sync"] = self.sync.to_json()
        if self.discovery is not None:
            record["discovery"] = self.discovery.to_json()
        return record
