"""Sync against the real pieces it plugs into: pnyx.store.Store (SQLite) and the node's streams."""

from __future__ import annotations

from pathlib import Path

import trio

from pnyx.net.contracts import ByteStream
from pnyx.net.contracts import ByteStream as NodeByteStream
from pnyx.store import IngestReport, Store
from pnyx.sync.api import IngestOutcome, StoreView
from pnyx.sync.driver import run_requester, run_responder
from tests.sync_fakes import NOW_MS, author, chain_of, stream_pair


def as_sync_interfaces(
    store: Store, stream: NodeByteStream, report: IngestReport
) -> tuple[StoreView, ByteStream, IngestOutcome]:
    """Never called: mypy checks here that the real types satisfy the sync protocols."""
    return store, stream, report


async def test_sync_between_two_sqlite_stores(tmp_path: Path) -> None:
    with Store.open(tmp_path / "theirs.db") as theirs, Store.open(tmp_path / "mine.db") as mine:
        theirs.ingest([m.raw for i in (1, 2) for m in chain_of(i, 300)], NOW_MS)
        mine.ingest([m.raw for m in chain_of(1, 100) if m.seq not in (5, 6, 7)], NOW_MS)

        async def ingest(raws: list[bytes]) -> IngestReport:
            return await trio.to_thread.run_sync(mine.ingest, raws, NOW_MS)

        left, right = stream_pair()
        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(run_responder, right, theirs)
                summary = await run_requester(
                    left, mine, ingest, authors=[author(1), author(2), author(3)]
                )
        assert summary.complete
        assert summary.fetched == 3 + 200 + 300
        assert summary.duplicates == 0
        assert mine.heads() == {author(1): (300, 300), author(2): (300, 300)}
