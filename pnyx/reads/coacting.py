"""The ``pnyx clusters`` read: the clusters of co-acting identities ranking applies now
(``pnyx.rank.clusters.find_clusters`` over the reposts and reactions of the last
``pnyx.reads.feed.CLUSTER_WINDOW_S``). Keys in ``Clusters`` are lower-case hex; the view hands
out bytes and ``pnyx1...`` text. Failure modes: ``StoreError`` if the store fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from pnyx.clock import wall_clock_ms
from pnyx.crypto.keytext import encode_public_key
from pnyx.rank.clusters import Clusters, find_clusters
from pnyx.reads.feed import CLUSTER_WINDOW_S, MS_PER_S, engagement_of
from pnyx.reads.trust import load_trust, names_of
from pnyx.store import Store
from pnyx.trust.state import TrustState


@dataclass(frozen=True)
class ClustersView:
    """The clusters ranking applies now: found over ``actions`` reposts and reactions of the
    last ``window_s`` seconds."""

    clusters: Clusters
    window_s: int
    actions: int
    names: Mapping[bytes, str | None]

    def groups(self) -> list[tuple[bytes, tuple[bytes, ...]]]:
        """(cluster id, members) in cluster id order; keys as bytes."""
        return [
            (bytes.fromhex(cid), tuple(bytes.fromhex(m) for m in members))
            for cid, members in sorted(self.clusters.members.items())
        ]

    def to_json(self) -> dict[str, object]:
        def text(hex_key: str) -> str:
            return encode_public_key(bytes.fromhex(hex_key))

        return {
            "window_s": self.window_s,
            "actions": self.actions,
            "clusters": [
                {"cluster": encode_public_key(cid), "members": [encode_public_key(m) for m in ms]}
                for cid, ms in self.groups()
            ],
            "pairs": [[text(a), text(b), v] for a, b, v in self.clusters.pairs],
        }


def clusters(store: Store, me: bytes, *, now_ms: int | None = None) -> ClustersView:
    """The clusters of co-acting identities over the last ``CLUSTER_WINDOW_S`` (``me`` is kept
    for the web app's per-user view; the clusters do not depend on the user)."""
    del me
    now = wall_clock_ms() if now_ms is None else now_ms
    since_ms = now - CLUSTER_WINDOW_S * MS_PER_S
    acts = [a for a in store.actions([], since_ms=since_ms) if a.kind != "reply"]
    found = find_clusters(engagement_of(a) for a in acts)
    keys = {bytes.fromhex(k) for k in found.cluster_of}
    return ClustersView(found, CLUSTER_WINDOW_S, len(acts), names_of(store, keys))


@dataclass(frozen=True)
class Voices:
    """Who counts for the user in a tally (polls, notes): the trusted set and the co-acting
    clusters (each member's cluster key), keys as 32-byte ``bytes``."""

    trusted: frozenset[bytes]
    cluster_of: Mapping[bytes, bytes]

    @classmethod
    def of(cls, store: Store, me: bytes, now_ms: int, trust: TrustState | None) -> Voices:
        """From the trust state given (the node's kept one) or built from the store, and the
        clusters of the last ``CLUSTER_WINDOW_S``."""
        state = trust if trust is not None else load_trust(store, me)
        found = clusters(store, me, now_ms=now_ms).clusters
        cluster_of = {bytes.fromhex(k): bytes.fromhex(v) for k, v in found.cluster_of.items()}
        return cls(state.trusted_keys(), cluster_of)
