"""Reach: what the storage budget and the horizon cost on a store (pnyx/node/reach, pnyx/store).

A store of ``authors`` x ``per`` messages (each author follows 10 others in a ring-like small
world, the rest are 280-character posts) is built in a temporary directory. Measured: the
average envelope and the file's size against the raw envelopes, ``Store.usage`` (one pass over
the store), ``compute_plan`` (trust over the store's follow edges and the horizon, hops = 2),
and ``enforce_budget`` down to half the raw bytes (whole authors dropped, 16 per transaction).
Not part of ``run_all.py`` yet: run it alone.

Usage: ``python bench/reach.py [--authors N] [--per N]`` (defaults 1,000 x 100).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import nacl.signing

from pnyx.node.reach import compute_plan, enforce_budget
from pnyx.store import Store
from pnyx.trust.admission import AdmissionConfig
from tests.store_helpers import NOW_MS, Feed

#: Follows of each synthetic author, a count.
FOLLOWS_EACH = 10
#: Text of each synthetic post, in characters (the size of a typical short post).
POST_CHARS = 280


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--authors", type=int, default=1000)
    parser.add_argument("--per", type=int, default=100)
    args = parser.parse_args()
    authors, per = args.authors, args.per
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "pnyx.db") as store:
        feeds = [Feed(nacl.signing.SigningKey(i.to_bytes(4, "big") * 8)) for i in range(authors)]
        for i, feed in enumerate(feeds):
            for j in range(FOLLOWS_EACH):
                feed.follow(feeds[(i * 7 + j * 13 + 1) % authors].author)
            for j in range(per - FOLLOWS_EACH):
                feed.post(f"{'x' * POST_CHARS} {j}")
        started = time.perf_counter()
        for feed in feeds:
            store.ingest_verified(feed.messages, now_ms=NOW_MS)
        print(f"ingest {authors * per} messages: {time.perf_counter() - started:.1f} s")
        raw = sum(len(m.raw) for feed in feeds for m in feed.messages)
        ratio = store.path.stat().st_size / raw
        print(f"average envelope: {raw / (authors * per):.0f} B; file {ratio:.2f}x the envelopes")
        started = time.perf_counter()
        usage = store.usage()
        print(f"usage(): {(time.perf_counter() - started) * 1000:.0f} ms, {len(usage)} authors")
        me = feeds[0].author
        started = time.perf_counter()
        plan = compute_plan(store, me, AdmissionConfig(hops=2))
        elapsed = (time.perf_counter() - started) * 1000
        print(f"compute_plan: {elapsed:.0f} ms, horizon of {len(plan.horizon)}")
        plan = compute_plan(store, me, AdmissionConfig(hops=2, budget_bytes=raw // 2))
        started = time.perf_counter()
        dropped = enforce_budget(store, plan)
        elapsed = time.perf_counter() - started
        each = elapsed / max(1, len(dropped)) * 1000
        print(
            f"enforce to half: {len(dropped)} authors dropped in {elapsed * 1000:.0f} ms "
            f"({each:.1f} ms per {per}-message author)"
        )


if __name__ == "__main__":
    main()
