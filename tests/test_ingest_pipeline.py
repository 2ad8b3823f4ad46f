"""The parallel ingest pipeline stores and reports exactly what ``Store.ingest`` does."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core.reasons import Reason
from pnyx.ingest import ParallelValidator, ingest, ingest_batches
from pnyx.store import Store
from tests.ingest_kit import ALICE, BOB, chain, mixed_batch, same_report

NOW = 1_750_000_000_000


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[Store, Store]]:
    with Store.open(tmp_path / "a.db") as a, Store.open(tmp_path / "b.db") as b:
        yield a, b


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_ingest_reports_like_store_ingest(stores: tuple[Store, Store], workers: int) -> None:
    parallel, sequential = stores
    raws = mixed_batch()
    with ParallelValidator(workers, min_slice=1) as validator:
        report = ingest(parallel, validator, raws, NOW)
    expected = sequential.ingest(raws, NOW)
    same_report(report, expected)
    assert [i for i, _, _ in report.rejected] == [2, 6, 8]
    assert [r for _, r, _ in report.rejected] == [
        Reason.MALFORMED,
        Reason.BAD_SIGNATURE,
        Reason.FORK,
    ]
    assert report.duplicates == 1
    assert parallel.heads() == sequential.heads()
    assert parallel.counts() == sequential.counts()
    # Again: everything valid is now a duplicate, the rest is rejected the same way.
    with ParallelValidator(workers, min_slice=1) as validator:
        same_report(ingest(parallel, validator, raws, NOW), sequential.ingest(raws, NOW))


@pytest.mark.parametrize(("size", "group"), [(4, 1), (4, 8), (3, 7), (5, 1000), (1, 2)])
def test_batches_pipelined_match_batch_by_batch(
    stores: tuple[Store, Store], size: int, group: int
) -> None:
    parallel, sequential = stores
    raws = mixed_batch() + [m.raw for m in chain(ALICE, 12)[6:]] + mixed_batch()
    batches = [raws[i : i + size] for i in range(0, len(raws), size)]
    with ParallelValidator(2, min_slice=1) as validator:
        stream = ingest_batches(parallel, validator, batches, lambda: NOW, group=group)
        reports = list(stream)
    assert len(reports) == len(batches)
    for report, batch in zip(reports, batches, strict=True):
        same_report(report, sequential.ingest(batch, NOW))
    # alice's seq 5 never arrives (seq 6 has a bad signature in the mixed batch): a gap
    assert (
        parallel.heads()
        == sequential.heads()
        == {
            bytes(ALICE.verify_key): (4, 12),
            bytes(BOB.verify_key): (4, 4),
        }
    )


def test_stopping_early_stores_no_group_beyond_the_last_report(tmp_path: Path) -> None:
    alice = chain(ALICE, 6)
    batches = [[alice[0].raw, alice[1].raw], [alice[2].raw, alice[3].raw], [alice[4].raw]]
    with Store.open(tmp_path / "s.db") as store, ParallelValidator(2, min_slice=1) as validator:
        stream = ingest_batches(store, validator, batches, lambda: NOW, group=2)
        first = next(stream)
        stream.close()
        assert len(first.accepted) == 2
        assert store.heads() == {bytes(ALICE.verify_key): (2, 2)}


def test_a_fork_is_reported_in_the_batch_that_holds_it(tmp_path: Path) -> None:
    bob = chain(BOB, 3)
    other = chain(BOB, 3, tag="other ")
    batches = [[bob[0].raw], [bob[1].raw, other[1].raw], [bob[2].raw, other[2].raw]]
    with Store.open(tmp_path / "s.db") as store, ParallelValidator(2, min_slice=1) as validator:
        reports = list(ingest_batches(store, validator, batches, lambda: NOW, group=100))
    assert [len(r.accepted) for r in reports] == [1, 1, 1]
    assert reports[0].forks == reports[2].forks == []
    assert reports[1].forks == [bytes(BOB.verify_key)]
    assert reports[1].rejected == [(1, Reason.FORK, "second message at seq 2")]
    assert [i for i, _, _ in reports[2].rejected] == [1]
    with pytest.raises(ValueError):
        next(ingest_batches(store, validator, batches, lambda: NOW, group=0))


def test_empty_input(tmp_path: Path) -> None:
    with Store.open(tmp_path / "s.db") as store, ParallelValidator(2) as validator:
        assert list(ingest_batches(store, validator, [], lambda: NOW)) == []
        report = ingest(store, validator, [], NOW)
        assert (report.accepted, report.duplicates, report.rejected) == ([], 0, [])
