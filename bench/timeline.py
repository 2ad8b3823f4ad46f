"""Benchmark 4, timeline: page latency on a large store.

A store of ``messages`` messages from ``authors`` authors, the reader following ``followed`` of
them (built once, cached: see datasets.py). Measured, ``queries`` times each: the first page of
``page`` posts, a page ``depth`` posts deep (its cursor found by paging there), and the thread of
``thread`` posts. Targets: p99 <= 5 ms for both pages, p99 <= 10 ms for the thread.

Reference (same file, same run): the floor of any page, reading the newest ``page`` rows by rowid
with a bare sqlite3 query and unpacking their payloads.

Usage: ``python bench/timeline.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--followed N] [--thread N] [--depth N] [--queries N]``
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any
from urllib.parse import quote

import common
import msgpack
from common import Result, latency_ms, log, spread
from datasets import Spec, timeline_home

from pnyx.core.limits import SIGNATURE_BYTES

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "messages": 3_000,
        "authors": 100,
        "followed": 20,
        "thread": 20,
        "depth": 200,
        "queries": 20,
    },
    "quick": {
        "messages": 100_000,
        "authors": 1_000,
        "followed": 100,
        "thread": 200,
        "depth": 5_000,
        "queries": 200,
    },
    "full": {
        "messages": 1_000_000,
        "authors": 10_000,
        "followed": 1_000,
        "thread": 200,
        "depth": 10_000,
        "queries": 200,
    },
}
#: Posts per page, the page size the targets are stated for.
PAGE = 50
#: Page latency target (p99), in milliseconds.
TARGET_PAGE_MS = 5.0
#: Thread latency target (p99), in milliseconds.
TARGET_THREAD_MS = 10.0


def spec_of(params: dict[str, Any]) -> Spec:
    return Spec(
        messages=params["messages"],
        authors=params["authors"],
        followed=params["followed"],
        thread=params["thread"],
    )


def reference_reader(db: Path) -> Any:
    """A function reading the newest PAGE rows by rowid and unpacking them (the floor)."""
    conn = sqlite3.connect("file:" + quote(str(db)) + "?mode=ro", uri=True)

    def read() -> int:
        rows = conn.execute(
            "SELECT raw FROM messages ORDER BY rowid DESC LIMIT ?", (PAGE,)
        ).fetchall()
        return len([msgpack.unpackb(row[0][SIGNATURE_BYTES:], raw=False) for row in rows])

    return read, conn


def run(params: dict[str, Any], cache: Path) -> Result:
    from pnyx.store import Cursor, Store

    home, meta = timeline_home(spec_of(params), cache)
    me = bytes.fromhex(meta["me"])
    root = bytes.fromhex(meta["thread_root"])
    runs = params["queries"]
    result = Result(name="timeline", params=params)
    with Store.open(home / "pnyx.db", readonly=True) as store:
        counts = store.counts()
        log(f"timeline: store of {counts['messages']:,} messages; {runs} queries each")
        first = latency_ms(lambda: store.timeline(me, limit=PAGE), runs)
        cursor: Cursor | None = None
        seen = 0
        while seen < params["depth"]:
            page = store.timeline(me, limit=min(PAGE, params["depth"] - seen), before=cursor)
            if page.next is None:
                raise RuntimeError(f"the timeline ends after {seen} posts, before the depth")
            seen += len(page.items)
            cursor = page.next
        deep_page = store.timeline(me, limit=PAGE, before=cursor)
        if len(deep_page.items) != PAGE:
            raise RuntimeError("the deep page is not full")
        deep = latency_ms(lambda: store.timeline(me, limit=PAGE, before=cursor), runs)
        posts = store.thread(root)
        if len(posts) != params["thread"]:
            raise RuntimeError(f"the thread holds {len(posts)} posts, not {params['thread']}")
        thread = latency_ms(lambda: store.thread(root), runs)
    read, conn = reference_reader(home / "pnyx.db")
    try:
        floor = latency_ms(read, runs)
    finally:
        conn.close()

    result.figures = {
        "messages": counts["messages"],
        **spread("first_page", first),
        **spread("deep_page", deep),
        **spread("thread", thread),
    }
    result.reference = spread("read_50_rows", floor)
    ref99 = result.reference["read_50_rows_p99_ms"]
    result.ratios = {
        "first_page_p99_vs_read": result.figures["first_page_p99_ms"] / ref99,
        "deep_page_p99_vs_read": result.figures["deep_page_p99_ms"] / ref99,
        "thread_p99_vs_read": result.figures["thread_p99_ms"] / ref99,
    }
    result.target("first_page_p99", result.figures["first_page_p99_ms"], "<=", TARGET_PAGE_MS, "ms")
    result.target("deep_page_p99", result.figures["deep_page_p99_ms"], "<=", TARGET_PAGE_MS, "ms")
    result.target("thread_p99", result.figures["thread_p99_ms"], "<=", TARGET_THREAD_MS, "ms")
    result.notes.append(
        f"page = {PAGE} posts; deep page starts {params['depth']:,} posts down; thread of "
        f"{params['thread']} posts; store opened read-only; the reference reads the newest "
        f"{PAGE} rows by rowid and unpacks them (no filter, no join)"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("timeline", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
