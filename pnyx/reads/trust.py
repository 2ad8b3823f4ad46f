"""Trust reads: ``trust_report`` (``pnyx trust KEY``) and ``suggest`` (``pnyx suggest``).

Both build the user's ``TrustState`` (``pnyx.trust``: personalised PageRank, hop distances and
paths) from every current follow edge the store holds (``Store.follow_edges``), then read it. The
graph's keys are the public keys in hex, so its index order is the order of the key bytes and two
nodes holding the same follows give the same paths and ranks. The full compute runs on every call
(about 1 to 3 s at 2,000,000 follows, milliseconds on a node's usual few thousand); a long-running
caller keeps the state and feeds it follows instead (``docs/ranking.md``, "Wiring it in").

Signals count followers, muters and blockers among those the user trusts, and the user's own
follow, mute (public or private) and block (``signal_index``: every current mute and block the
store holds, ``docs/moderation.md``).

Names are the authors' own profile names as held (text from others: callers sanitise them).
Failure modes: ``StoreError`` if the store fails; ``UserError`` for a limit outside
1..``MAX_SUGGESTIONS``. An identity the store has never seen is not an error (``known: false``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import UserError
from pnyx.store import Store
from pnyx.trust.graph import TrustGraph
from pnyx.trust.signals import SignalIndex, Signals
from pnyx.trust.state import TrustReport, TrustState

#: Most suggestions one call returns, a count.
MAX_SUGGESTIONS = 100
#: Names a suggestion's reason spells out before "and N more", a count.
REASON_NAMES = 2


def load_trust(store: Store, me: bytes) -> TrustState:
    """The user's trust state over every current follow the store holds (full compute)."""
    edges = store.follow_edges()
    keys = [key.hex() for key in edges.keys]
    graph = TrustGraph.from_arrays(
        keys, np.asarray(edges.follower, dtype=np.int64), np.asarray(edges.followee, dtype=np.int64)
    )
    graph.ensure(me.hex())
    return TrustState(graph, me.hex())


def signal_index(store: Store, me: bytes) -> SignalIndex:
    """Every current public mute and block the store holds, plus the user's private mutes (they
    count only as "you mute": the user is never among "N you trust"). Cost: O(pairs)."""
    mutes = [(a.hex(), t.hex()) for a, t in store.moderation_pairs("mute")]
    mutes += [(me.hex(), t.hex()) for t in store.private_mutes()]
    blocks = [(a.hex(), t.hex()) for a, t in store.moderation_pairs("block")]
    return SignalIndex(mutes, blocks)


def names_of(store: Store, keys: set[bytes]) -> dict[bytes, str | None]:
    """The profile name held for each of ``keys`` (None: no profile or no name)."""
    names: dict[bytes, str | None] = {}
    for key in sorted(keys):
        profile = store.profile(key)
        names[key] = profile.name if profile is not None and profile.name else None
    return names


def _signals_json(signals: Signals) -> dict[str, object]:
    found = signals.to_json()
    del found["key"]
    return found


@dataclass(frozen=True)
class TrustView:
    """What ``pnyx trust KEY`` shows: the report, the signals, and the names along the paths."""

    key: bytes
    report: TrustReport
    paths: tuple[tuple[bytes, ...], ...]
    signals: Signals
    names: Mapping[bytes, str | None]

    def to_json(self) -> dict[str, object]:
        """``TrustReport.to_json`` with keys as ``pnyx1...`` text, plus ``name``, ``names`` (of
        everyone on the paths), ``signals`` and ``summary``."""
        found = self.report.to_json()
        found["key"] = encode_public_key(self.key)
        found["name"] = self.names.get(self.key)
        found["paths"] = [[encode_public_key(k) for k in path] for path in self.paths]
        found["names"] = {encode_public_key(k): n for k, n in self.names.items()}
        found["signals"] = _signals_json(self.signals)
        found["summary"] = self.signals.summary()
        return found


def trust_report(
    store: Store, me: bytes, key: bytes, *, trust: TrustState | None = None
) -> TrustView:
    """Score, hops, rank, up to three shortest follow paths and signals of ``key`` for ``me``
    (``trust``: the state the node keeps, ``pnyx.node.trust_keeper``; None builds it)."""
    state = trust if trust is not None else load_trust(store, me)
    report = state.report(key.hex())
    paths = tuple(tuple(bytes.fromhex(k) for k in path) for path in report.paths)
    signals = signal_index(store, me).signals(key.hex(), me.hex(), state.trusted(), state.graph)
    names = names_of(store, {key, *(k for path in paths for k in path)})
    return TrustView(key, report, paths, signals, names)


@dataclass(frozen=True)
class Suggestion:
    """Someone to follow: not the user, not followed yet, reached by trust (score > 0).

    ``via``: those the user follows who follow them, most trusted first (ties by key).
    ``followed_by_trusted``: their followers among everyone the user trusts."""

    key: bytes
    name: str | None
    score: float
    hops: int | None
    via: tuple[bytes, ...]
    followed_by_trusted: int
    names: Mapping[bytes, str | None]

    def reason(self, label: Callable[[bytes, str | None], str] | None = None) -> str:
        """``followed by A, B and 3 more you follow``, or ``3 hops away, followed by 2 you
        trust``. ``label(key, name)`` shows a person (default: the name, else the key text);
        the CLI passes one that sanitises names and adds fingerprints."""
        show = label or _plain_label
        if not self.via:
            away = f"{self.hops} hops away" if self.hops is not None else "not reached"
            if self.followed_by_trusted:
                return f"{away}, followed by {self.followed_by_trusted} you trust"
            return away
        shown = [show(k, self.names.get(k)) for k in self.via[:REASON_NAMES]]
        more = len(self.via) - len(shown)
        if more:
            return f"followed by {', '.join(shown)} and {more} more you follow"
        if len(shown) == 1:
            return f"followed by {shown[0]}, whom you follow"
        return f"followed by {shown[0]} and {shown[1]}, whom you follow"

    def to_json(self) -> dict[str, object]:
        return {
            "key": encode_public_key(self.key),
            "name": self.name,
            "score": self.score,
            "hops": self.hops,
            "via": [encode_public_key(k) for k in self.via],
            "followed_by_trusted": self.followed_by_trusted,
            "reason": self.reason(),
        }


def _plain_label(key: bytes, name: str | None) -> str:
    return name if name else encode_public_key(key)


def suggest(
    store: Store, me: bytes, limit: int = 20, *, trust: TrustState | None = None
) -> list[Suggestion]:
    """Up to ``limit`` identities to follow, most trusted first (ties by key order).

    Cost: the full trust compute (none if ``trust``, the node's kept state, is given), plus one
    pass over the rows of those the user follows."""
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise UserError(f"suggest: limit {limit} outside 1..{MAX_SUGGESTIONS}")
    state = trust if trust is not None else load_trust(store, me)
    graph = state.graph
    followed = {int(i) for i in graph.followees(state.user_index)}
    followed_by: dict[int, list[int]] = {}  # candidate -> those the user follows who follow it
    for u in sorted(followed):
        for v in graph.followees(u):
            followed_by.setdefault(int(v), []).append(u)
    picked: list[tuple[int, list[int]]] = []
    for i in state.ranking():
        index = int(i)
        if index in followed:
            continue
        via = sorted(followed_by.get(index, []), key=lambda j: (-state.scores[j], graph.keys[j]))
        picked.append((index, via))
        if len(picked) == limit:
            break
    keys = {bytes.fromhex(graph.keys[k]) for i, via in picked for k in (i, *via[:REASON_NAMES])}
    names = names_of(store, keys)
    trusted, user = state.trusted(), state.user
    out = []
    index_of_signals = signal_index(store, me)
    for index, via in picked:
        key = bytes.fromhex(graph.keys[index])
        signals = index_of_signals.signals(graph.keys[index], user, trusted, graph)
        out.append(
            Suggestion(
                key=key,
                name=names.get(key),
                score=float(state.scores[index]),
                hops=state.hops(graph.keys[index]),
                via=tuple(bytes.fromhex(graph.keys[j]) for j in via),
                followed_by_trusted=signals.followed_by_trusted,
                names=names,
            )
        )
    return out
