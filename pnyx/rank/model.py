"""The data ranking works on: posts, engagements and the reader's context (plain values).

The node fills these from its store; nothing here reads anything. Times are seconds since the
Unix epoch (floats), keys are identity keys in whatever text form the node uses, post ids are
opaque strings.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

#: Kinds of engagement a post can receive.
EngagementKind = Literal["reply", "repost", "reaction"]
KINDS: tuple[EngagementKind, ...] = ("reply", "repost", "reaction")


@dataclass(frozen=True)
class Post:
    """A candidate post: its id, author, creation time, the post it replies to (if any) and its
    thread's first post (``thread``; None: the post starts its own thread)."""

    id: str
    author: str
    created_at: float
    reply_to: str | None = None
    thread: str | None = None


@dataclass(frozen=True)
class Engagement:
    """One reply, repost or reaction by ``actor`` on ``post`` at time ``at``."""

    actor: str
    post: str
    kind: EngagementKind
    at: float


@dataclass(frozen=True)
class Context:
    """What the reader's node knows when ranking.

    * ``trust``: trust score per identity (``TrustState.score``), missing means 0; the ``trust``
      term's unit is the highest value here other than the user's, so include the most trusted
      identity (``TrustState.ranking()[0]``) along with the candidates' authors;
    * ``trusted``: the trusted set (``TrustState.trusted()``): only their engagement counts;
    * ``following``: identities the user follows (in-network);
    * ``cluster_of``: identity -> cluster id (``Clusters.cluster_of``), missing means alone;
    * ``negative``: author -> the user's "show less" marks on that author (decayed, so a float:
      ``pnyx.rank.negative``);
    * ``negative_thread``: thread (its first post's id) -> the marks on that thread, decayed;
    * ``hidden``: post ids the user said "show less" about (never shown again);
    * ``trust_max``: the highest value of ``trust`` other than the user's, when the caller keeps
      it (``TrustState.top_score``); None: ranking finds it by a scan of ``trust``.
    """

    user: str
    now: float
    trust: Mapping[str, float] = field(default_factory=dict)
    trusted: frozenset[str] = frozenset()
    following: frozenset[str] = frozenset()
    cluster_of: Mapping[str, str] = field(default_factory=dict)
    negative: Mapping[str, float] = field(default_factory=dict)
    negative_thread: Mapping[str, float] = field(default_factory=dict)
    hidden: frozenset[str] = frozenset()
    trust_max: float | None = None
