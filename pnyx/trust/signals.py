"""One-step signals about an identity from the people the user trusts (sans-I/O).

"followed by 12 you trust, muted by 2 you trust": the counts are shown beside the trust score,
never folded into it. Mutes and blocks are a **one-step** signal: they count only when the muter
or blocker is trusted by the user (``TrustState.trusted()``), and they never propagate (a mute
does not lower the trust of whoever the muted identity follows, and a muted identity's own
mutes still count if it is trusted). The user's own follow, mute and block are reported apart:
the user's own block beats any friend's follow.

``SignalIndex`` is built from (actor, target) pairs of mutes and blocks the node knows; it is a
plain index (memory O(pairs)), queries are O(muters of the target).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from pnyx.trust.graph import TrustGraph


@dataclass(frozen=True)
class Signals:
    """Counts among trusted identities (the user excluded) and the user's own relation."""

    key: str
    followed_by_trusted: int
    muted_by_trusted: int
    blocked_by_trusted: int
    you_follow: bool
    you_mute: bool
    you_block: bool

    def summary(self) -> str:
        """The one-line text: ``followed by 12 you trust, muted by 2 you trust``."""
        parts = [f"followed by {self.followed_by_trusted} you trust"]
        if self.muted_by_trusted:
            parts.append(f"muted by {self.muted_by_trusted} you trust")
        if self.blocked_by_trusted:
            parts.append(f"blocked by {self.blocked_by_trusted} you trust")
        own = [
            w
            for w, on in (
                ("you follow", self.you_follow),
                ("you mute", self.you_mute),
                ("you block", self.you_block),
            )
            if on
        ]
        return ", ".join(parts + own)

    def to_json(self) -> dict[str, object]:
        return {
            "key": self.key,
            "followed_by_trusted": self.followed_by_trusted,
            "muted_by_trusted": self.muted_by_trusted,
            "blocked_by_trusted": self.blocked_by_trusted,
            "you_follow": self.you_follow,
            "you_mute": self.you_mute,
            "you_block": self.you_block,
        }


class SignalIndex:
    """Mutes and blocks by target: ``target -> set of actors``."""

    def __init__(
        self, mutes: Iterable[tuple[str, str]] = (), blocks: Iterable[tuple[str, str]] = ()
    ) -> None:
        self.muters: defaultdict[str, set[str]] = defaultdict(set)
        self.blockers: defaultdict[str, set[str]] = defaultdict(set)
        for actor, target in mutes:
            self.mute(actor, target)
        for actor, target in blocks:
            self.block(actor, target)

    def mute(self, actor: str, target: str) -> None:
        self.muters[target].add(actor)

    def unmute(self, actor: str, target: str) -> None:
        self.muters[target].discard(actor)

    def block(self, actor: str, target: str) -> None:
        self.blockers[target].add(actor)

    def unblock(self, actor: str, target: str) -> None:
        self.blockers[target].discard(actor)

    def signals(self, key: str, user: str, trusted: frozenset[str], graph: TrustGraph) -> Signals:
        """The signals about ``key`` seen by ``user`` whose trusted set is ``trusted``."""
        i = graph.index.get(key)
        if i is None:
            followers: set[str] = set()
        else:
            followers = {graph.keys[int(j)] for j in graph.followers(i)}
        muters = self.muters.get(key, set())
        blockers = self.blockers.get(key, set())
        others = trusted - {user, key}
        return Signals(
            key=key,
            followed_by_trusted=len(followers & others),
            muted_by_trusted=len(muters & others),
            blocked_by_trusted=len(blockers & others),
            you_follow=user in followers,
            you_mute=user in muters,
            you_block=user in blockers,
        )
