"""The network page's reads: the user's invite (``invite_text``), and the sync progress: how
much of the followed feeds the store holds.

For the user and everyone they follow, ``Store.heads`` gives (contiguous, highest): the longest
gap-free prefix of the chain held, and the highest seq heard of. ``held`` sums the first, ``known``
the second; ``behind`` counts the feeds with a gap. Progress is ``held / known`` (1.0 with nothing
known). It can only know of messages someone announced: a feed nobody announced looks complete.
Failure modes: ``StoreError`` if the store fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from pnyx.store import Store

if TYPE_CHECKING:
    from pnyx.views import NodeStatus


@dataclass(frozen=True)
class SyncProgress:
    """Messages held gap-free and heard of over the wanted feeds; feeds with a gap."""

    held: int
    known: int
    feeds: int
    behind: int

    @property
    def fraction(self) -> float:
        """``held / known`` in [0, 1]; 1.0 when nothing is known."""
        return 1.0 if self.known <= 0 else min(1.0, self.held / self.known)

    def to_json(self) -> dict[str, object]:
        return {
            "held": self.held,
            "known": self.known,
            "feeds": self.feeds,
            "behind": self.behind,
            "fraction": self.fraction,
        }


def sync_progress(store: Store, me: bytes) -> SyncProgress:
    """The progress over ``me`` and everyone ``me`` follows (module docstring)."""
    heads = store.heads(store.wanted_authors(me))
    held = sum(contiguous for contiguous, _ in heads.values())
    known = sum(max(contiguous, highest) for contiguous, highest in heads.values())
    behind = sum(1 for contiguous, highest in heads.values() if highest > contiguous)
    return SyncProgress(held, known, len(heads), behind)


def invite_text(me: bytes, status: NodeStatus | None) -> str:
    """The user's invite (docs/protocol.md, "Invites"): key ``me`` and the addresses of the
    running node's ``status`` that an invite carries (``invite_addresses``); with no status,
    the key alone. No petname (``pnyx invite --name`` adds one). Never raises for odd addresses:
    ones that do not parse are left out."""
    from pnyx.crypto.invite import Invite, encode_invite, invite_addresses

    chosen = invite_addresses(status.listen_addrs, status.peer_id)[0] if status else []
    return encode_invite(Invite(me, None, tuple(chosen)))
