"""Benchmark 9, square: the for-you feed, `why` and search on a large store (issue 13).

The timeline benchmark's store (``messages`` messages from ``authors`` authors, the reader
following ``followed`` of them; built once, cached: see datasets.py). Measured, ``queries`` times
each: the first page of the for-you feed (``pnyx.reads.feed.ranked_timeline``), `why` of the
page's first post (``pnyx.reads.feed.why``), a full-text search for a common word
(``pnyx.reads.search.search``), and the first page of ``following`` (``Store.timeline``, the
reference: issue 13 asks that it stays as fast as today's timeline, and the ranked reads are
reported as ratios against it). Targets (issue 13): for-you p99 <= 50 ms, why p99 <= 20 ms, search
p99 <= 50 ms, on the 1,000,000-message store (``--size full``).

Usage: ``python bench/square.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--followed N] [--queries N]``
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import common
from common import Result, latency_ms, log, spread
from datasets import Spec, timeline_home

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"messages": 3_000, "authors": 100, "followed": 20, "queries": 10},
    "quick": {"messages": 100_000, "authors": 1_000, "followed": 100, "queries": 30},
    "full": {"messages": 1_000_000, "authors": 10_000, "followed": 1_000, "queries": 30},
}
#: Posts per page.
PAGE = 20
#: A word the generator puts in many posts (datasets.py, _WORDS).
WORD = "assembly"
#: Targets (p99), in milliseconds.
TARGET_FOR_YOU_MS, TARGET_WHY_MS, TARGET_SEARCH_MS = 50.0, 20.0, 50.0


def run(params: dict[str, Any], cache: Any) -> Result:
    from pnyx.reads.feed import ranked_timeline, why
    from pnyx.reads.search import search
    from pnyx.reads.trust import load_trust
    from pnyx.store import Store

    spec = Spec(messages=params["messages"], authors=params["authors"], followed=params["followed"])
    home, meta = timeline_home(spec, cache)
    me = bytes.fromhex(meta["me"])
    runs = params["queries"]
    result = Result(name="square", params=params)
    with Store.open(home / "pnyx.db", readonly=True) as store:
        counts = store.counts()
        log(f"square: store of {counts['messages']:,} messages; {runs} queries each")
        page = ranked_timeline(store, me, "for-you", limit=PAGE)
        if not page.items:
            raise RuntimeError("the for-you page is empty")
        first = page.items[0].item.message.id
        following = latency_ms(lambda: store.timeline(me, limit=PAGE), runs)
        for_you = latency_ms(lambda: ranked_timeline(store, me, "for-you", limit=PAGE), runs)
        explained = latency_ms(lambda: why(store, me, first, "for-you"), runs)
        found = latency_ms(lambda: search(store, me, WORD), runs)
        kept = load_trust(store, me)  # as the node's TrustKeeper hands it to reads
        kept.score_map(), kept.trusted()
        for_you_kept = latency_ms(
            lambda: ranked_timeline(store, me, "for-you", limit=PAGE, trust=kept), runs
        )
        why_kept = latency_ms(lambda: why(store, me, first, "for-you", trust=kept), runs)
        found_kept = latency_ms(lambda: search(store, me, WORD, trust=kept), runs)
    result.figures = {
        "messages": counts["messages"],
        **spread("for_you", for_you),
        **spread("why", explained),
        **spread("search", found),
        **spread("for_you_kept_trust", for_you_kept),
        **spread("why_kept_trust", why_kept),
        **spread("search_kept_trust", found_kept),
    }
    result.reference = spread("following", following)
    ref99 = result.reference["following_p99_ms"]
    result.ratios = {
        "for_you_p99_vs_following": result.figures["for_you_p99_ms"] / ref99,
        "why_p99_vs_following": result.figures["why_p99_ms"] / ref99,
        "search_p99_vs_following": result.figures["search_p99_ms"] / ref99,
    }
    result.target("for_you_p99", result.figures["for_you_p99_ms"], "<=", TARGET_FOR_YOU_MS, "ms")
    result.target("why_p99", result.figures["why_p99_ms"], "<=", TARGET_WHY_MS, "ms")
    result.target("search_p99", result.figures["search_p99_ms"], "<=", TARGET_SEARCH_MS, "ms")
    result.notes.append(
        f"page = {PAGE} posts; search for {WORD!r}; for_you/why/search build trust on every read "
        "(a CLI process); *_kept_trust take the state the node keeps (pnyx.node.trust_keeper); "
        "clusters are still computed on every read"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("square", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
