"""Whether others can dial the node, as ``pnyx status`` and the network page show it (NAT reach).

``ReachabilityView`` is the ``reachability`` object of ``pnyx status --json``
(``pnyx.gossip.nat.NatService.view``): ``status`` is "reachable", "behind NAT" or "unknown",
``shown`` the same with the relays in words ("behind NAT (relayed via 12D3…, 12D3…)"), ``why`` the
dial-back answers behind it. Parsing raises ``PnyxError`` for a malformed reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pnyx.errors import PnyxError


@dataclass(frozen=True, slots=True)
class ReachabilityView:
    status: str
    shown: str
    why: str = ""
    relays: tuple[str, ...] = ()
    circuit_addrs: tuple[str, ...] = ()
    relay_service: bool = False
    counters: Mapping[str, Any] = field(default_factory=dict)
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_json(cls, obj: object) -> ReachabilityView:
        if not isinstance(obj, dict):
            raise PnyxError(f"the node's status reply is malformed: reachability is {obj!r}")
        status, shown = obj.get("status"), obj.get("shown", obj.get("status"))
        relays, circuits = obj.get("relays", []), obj.get("circuit_addrs", [])
        if (
            not isinstance(status, str)
            or not isinstance(shown, str)
            or not isinstance(relays, list)
            or not isinstance(circuits, list)
            or not all(isinstance(r, str) for r in [*relays, *circuits])
        ):
            raise PnyxError(f"the node's status reply is malformed: reachability is {obj!r}")
        named = {"status", "shown", "why", "relays", "circuit_addrs", "relay_service"}
        return cls(
            status=status,
            shown=shown,
            why=str(obj.get("why", "")),
            relays=tuple(relays),
            circuit_addrs=tuple(circuits),
            relay_service=bool(obj.get("relay_service", False)),
            counters={k: v for k, v in obj.items() if k not in named},
            raw=dict(obj),
        )

    def to_json(self) -> dict[str, Any]:
        """The object as the node wrote it (what it left out stays out)."""
        return dict(self.raw)
