"""The node's kept trust state for the web app's reads (``keep_trust``, ``kept_trust``).

A node's web app reads with the trust state the node keeps current
(``node.reach.trust.snapshot()``, registered by the node's start-up with ``keep_trust``): the
ranked reads (``pnyx.web.api_rank``, ``rank_pages``, the ranked timeline page), search, trust and
suggest (``pnyx.web.api_reads``, ``pnyx.web.people``). Without a kept state (an app without a
node, or before the first compute) each read builds its own from the store's follows.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING

from pnyx.clock import wall_clock_ms
from pnyx.web.context import WebContext

if TYPE_CHECKING:
    from pnyx.node.trust_keeper import TrustSnapshot
    from pnyx.trust.state import TrustState

#: What gives the node's kept trust state: ``TrustKeeper.snapshot`` (None before the first compute).
TrustSource = Callable[[], "TrustSnapshot | None"]

_SOURCES: dict[int, TrustSource] = {}


def keep_trust(ctx: WebContext, source: TrustSource) -> None:
    """Let the reads of ``ctx``'s app use ``source`` (the node's kept trust) for as long as
    ``ctx`` lives."""
    _SOURCES[id(ctx)] = source
    weakref.finalize(ctx, _SOURCES.pop, id(ctx), None)


def kept_trust(ctx: WebContext) -> tuple[TrustState | None, int | None]:
    """The node's kept trust state and its age in ms, or (None, None): the read builds its own."""
    source = _SOURCES.get(id(ctx))
    snapshot = source() if source is not None else None
    if snapshot is None:
        return None, None
    return snapshot.state, snapshot.age_ms(wall_clock_ms())


def kept_state(ctx: WebContext) -> TrustState | None:
    """The node's kept trust state, or None (the read builds its own)."""
    return kept_trust(ctx)[0]


def trust_age_text(age_ms: int | None) -> str:
    """``trust as of 3 s ago`` (``2 min ago`` from 120 s), or that the read computed it."""
    if age_ms is None:
        return "trust computed for this read"
    seconds = age_ms // 1000
    if seconds < 120:
        return f"trust as of {seconds} s ago"
    return f"trust as of {seconds // 60} min ago"
