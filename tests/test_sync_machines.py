"""The sans-I/O sync state machines, fed frames by hand (no streams, no trio)."""

from __future__ import annotations

import itertools

import pytest

from pnyx.core.varint import encode_uvarint
from pnyx.sync.errors import SyncProtocolError, SyncReason, SyncStateError
from pnyx.sync.frames import (
    Ack,
    Batch,
    Bye,
    Done,
    ErrorFrame,
    Have,
    Head,
    Hello,
    Want,
    WantEntry,
)
from pnyx.sync.limits import MAX_BATCH_MESSAGES, MAX_FRAME_BYTES, MAX_WANT_RANGES, SYNC_VERSION
from pnyx.sync.requester import (
    BatchReceived,
    HaveReceived,
    RequesterState,
    RoundDone,
    SyncRequester,
    expected_count,
    want_entry,
)
from pnyx.sync.responder import (
    Acked,
    BatchPacker,
    Finished,
    ResponderState,
    RoundRequested,
    SessionStarted,
    SyncResponder,
    batch_body_size,
    plan_reads,
)
from pnyx.sync.wire import encode_frame
from tests.sync_fakes import author, chain_of

A, B = author(1), author(2)


# --- planning helpers ---------------------------------------------------------------------------
def test_want_entry_for_an_unknown_author_asks_for_everything() -> None:
    assert want_entry(A, None, []) == (WantEntry(A, 0), False)


def test_want_entry_lists_gaps_below_highest() -> None:
    entry, cut = want_entry(A, (4, 20), [(5, 6), (9, 9), (15, 19)])
    assert entry == WantEntry(A, 20, ((5, 6), (9, 9), (15, 19)))
    assert not cut


def test_want_entry_cleans_and_truncates_gaps() -> None:
    gaps = [(i * 3, i * 3 + 1) for i in range(1, MAX_WANT_RANGES + 4)] + [(4, 5)]
    entry, cut = want_entry(A, (2, 100), gaps)
    assert cut
    assert len(entry.gaps) == MAX_WANT_RANGES
    assert entry.gaps[:2] == ((3, 4), (5, 5))  # overlap with (4, 5) trimmed
    assert all(a[1] < b[0] for a, b in zip(entry.gaps, entry.gaps[1:], strict=False))


def test_plan_reads_covers_gaps_and_tail_up_to_our_highest() -> None:
    entry = WantEntry(A, 20, ((3, 5), (10, 12)))
    assert plan_reads(entry, (30, 30)) == [(3, 5), (10, 12), (21, 30)]
    assert plan_reads(entry, (11, 11)) == [(3, 5), (10, 11)]
    assert plan_reads(entry, (2, 2)) == []
    assert expected_count(entry, (30, 30)) == 3 + 3 + 10
    assert expected_count(entry, (11, 11)) == 3 + 2


def test_packer_respects_the_message_count() -> None:
    packer = BatchPacker()
    batches = [b for i in range(300) for b in packer.add(bytes([1]) * (100 + i % 7))]
    batches += packer.flush()
    assert [len(b) for b in batches] == [MAX_BATCH_MESSAGES, MAX_BATCH_MESSAGES, 300 - 256]


def test_batch_body_size_is_exact() -> None:
    for count in (1, 15, 16, 128):
        batch = [b"q" * (count * 7 % 300 + 1)] * count
        size = batch_body_size(batch)
        assert len(encode_frame(Batch(tuple(batch)))) == len(encode_uvarint(size)) + size


def test_packer_respects_the_frame_size() -> None:
    packer = BatchPacker()
    sizes = [8256, 300, 255, 256, 65, 8000] * 20
    batches = [b for size in sizes for b in packer.add(b"z" * size)] + packer.flush()
    assert sum(len(b) for b in batches) == len(sizes)
    for batch in batches:
        size = batch_body_size(batch)
        assert size <= MAX_FRAME_BYTES
        assert len(encode_frame(Batch(tuple(batch)))) == len(encode_uvarint(size)) + size
    assert len(batches) > 1
    for full, following in itertools.pairwise(batches):  # each batch was full when cut
        assert batch_body_size([*full, following[0]]) > MAX_FRAME_BYTES


def test_packer_skips_envelopes_no_peer_would_accept() -> None:
    packer = BatchPacker()
    assert packer.add(b"") == []
    assert packer.add(b"x" * 9000) == []
    assert packer.flush() == []
    assert packer.skipped == 2


# --- requester ----------------------------------------------------------------------------------
def started_requester(*entries: WantEntry, window: int = 2) -> SyncRequester:
    machine = SyncRequester(window=window)
    assert machine.hello() == Hello(SYNC_VERSION, window)
    machine.want(list(entries))
    return machine


def raws(index: int, seqs: range | list[int]) -> tuple[bytes, ...]:
    messages = chain_of(index, max(seqs))
    return tuple(messages[s - 1].raw for s in seqs)


def test_requester_happy_round() -> None:
    machine = started_requester(WantEntry(A, 5, ((2, 3),)), WantEntry(B, 0))
    have = machine.receive(Have((Head(A, 9, 9), Head(B, 4, 4))))
    assert have == HaveReceived({A: (9, 9), B: (4, 4)}, expected=2 + 4 + 4)
    event = machine.receive(Batch(raws(1, [2, 3, 6, 7])))
    assert isinstance(event, BatchReceived)
    assert event.authors == {A}
    assert machine.ack() == Ack(1)
    machine.receive(Batch(raws(1, [8, 9]) + raws(2, range(1, 5))))
    assert machine.ack() == Ack(2)
    assert machine.receive(Done(10)) == RoundDone(10)
    assert machine.bye() == Bye()
    assert machine.state is RequesterState.CLOSED
    assert machine.peer_heads == {A: (9, 9), B: (4, 4)}


@pytest.mark.parametrize(
    ("batch", "detail"),
    [
        (raws(3, [1]), "author not asked"),
        (raws(2, [1]), "author not in have"),
        (raws(1, [4]), "already held"),
        (raws(1, [1]), "already held"),
        (raws(1, [2, 2]), "repeated or out of order"),
        (raws(1, [6, 3]), "repeated or out of order"),
        (raws(1, [10]), "above announced highest"),
    ],
)
def test_requester_drops_unrequested_envelopes(batch: tuple[bytes, ...], detail: str) -> None:
    machine = started_requester(WantEntry(A, 5, ((2, 3),)), WantEntry(B, 0))
    machine.receive(Have((Head(A, 9, 9),)))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(Batch(batch))
    assert caught.value.reason is SyncReason.UNREQUESTED
    assert detail in caught.value.detail
    assert machine.state is RequesterState.FAILED
    assert machine.fail(caught.value) == ErrorFrame("unrequested", caught.value.detail)


def test_requester_rejects_have_for_authors_not_asked() -> None:
    machine = started_requester(WantEntry(A, 0))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(Have((Head(B, 1, 1),)))
    assert caught.value.reason is SyncReason.UNREQUESTED


def test_requester_rejects_batches_beyond_its_window() -> None:
    machine = started_requester(WantEntry(A, 0), window=2)
    machine.receive(Have((Head(A, 9, 9),)))
    machine.receive(Batch(raws(1, [1])))
    machine.receive(Batch(raws(1, [2])))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(Batch(raws(1, [3])))
    assert caught.value.reason is SyncReason.WINDOW_EXCEEDED


def test_requester_window_reopens_after_ack() -> None:
    machine = started_requester(WantEntry(A, 0), window=1)
    machine.receive(Have((Head(A, 9, 9),)))
    machine.receive(Batch(raws(1, [1])))
    machine.ack()
    assert isinstance(machine.receive(Batch(raws(1, [2]))), BatchReceived)


def test_requester_rejects_undecodable_envelopes() -> None:
    machine = started_requester(WantEntry(A, 0))
    machine.receive(Have((Head(A, 9, 9),)))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(Batch((b"\x00" * 100,)))
    assert caught.value.reason is SyncReason.BAD_ENVELOPE


def test_requester_checks_the_done_count() -> None:
    machine = started_requester(WantEntry(A, 0))
    machine.receive(Have((Head(A, 9, 9),)))
    machine.receive(Batch(raws(1, [1, 2])))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(Done(3))
    assert caught.value.reason is SyncReason.COUNT_MISMATCH


@pytest.mark.parametrize("frame", [Batch(raws(1, [1])), Done(0), Ack(1), Hello(1, 1), Bye()])
def test_requester_rejects_frames_out_of_order(frame: Batch | Done | Ack | Hello | Bye) -> None:
    machine = started_requester(WantEntry(A, 0))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(frame)
    assert caught.value.reason is SyncReason.UNEXPECTED_FRAME


def test_requester_reports_peer_errors_without_answering_them() -> None:
    machine = started_requester(WantEntry(A, 0))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(ErrorFrame("busy", "try later"))
    assert caught.value.reason is SyncReason.PEER_ERROR
    assert caught.value.detail == "busy: try later"
    assert machine.fail(caught.value) is None


def test_requester_local_misuse_raises_state_errors() -> None:
    machine = SyncRequester()
    with pytest.raises(SyncStateError):
        machine.want([WantEntry(A, 0)])
    machine.hello()
    with pytest.raises(SyncStateError):
        machine.ack()
    with pytest.raises(ValueError, match="twice"):
        machine.want([WantEntry(A, 0), WantEntry(A, 1)])
    with pytest.raises(ValueError, match="key"):
        machine.want([WantEntry(b"short", 0)])
    with pytest.raises(ValueError, match="window"):
        SyncRequester(window=0)


# --- responder ----------------------------------------------------------------------------------
def started_responder(window: int = 2) -> SyncResponder:
    machine = SyncResponder()
    assert machine.receive(Hello(SYNC_VERSION, window)) == SessionStarted(window)
    return machine


def test_responder_round_with_flow_control() -> None:
    machine = started_responder(window=2)
    event = machine.receive(Want((WantEntry(A, 0), WantEntry(B, 3))))
    assert event == RoundRequested((WantEntry(A, 0), WantEntry(B, 3)))
    have = machine.have({A: (5, 7), author(3): (1, 1)})
    assert have == Have((Head(A, 5, 7),))
    machine.batch([b"1"])
    machine.batch([b"2", b"3"])
    assert machine.credit == 0
    with pytest.raises(SyncStateError):
        machine.batch([b"4"])
    assert machine.receive(Ack(1)) == Acked(1)
    machine.batch([b"4"])
    assert machine.done() == Done(4)
    assert machine.receive(Ack(3)) == Acked(3)
    assert machine.receive(Bye()) == Finished()
    assert machine.state is ResponderState.CLOSED


@pytest.mark.parametrize(("hello", "reason"), [
    (Hello(2, 2), SyncReason.UNSUPPORTED_VERSION),
    (Hello(SYNC_VERSION, 0), SyncReason.BAD_FRAME),
    (Hello(SYNC_VERSION, 99), SyncReason.BAD_FRAME),
])  # fmt: skip
def test_responder_checks_hello(hello: Hello, reason: SyncReason) -> None:
    with pytest.raises(SyncProtocolError) as caught:
        SyncResponder().receive(hello)
    assert caught.value.reason is reason


@pytest.mark.parametrize("total", [1, 3])
def test_responder_rejects_acks_that_do_not_advance_or_overshoot(total: int) -> None:
    machine = started_responder()
    machine.receive(Want((WantEntry(A, 0),)))
    machine.have({A: (5, 5)})
    machine.batch([b"1"])
    machine.batch([b"2"])
    machine.receive(Ack(1))
    with pytest.raises(SyncProtocolError) as caught:
        machine.receive(Ack(total))
    assert caught.value.reason is SyncReason.BAD_ACK


def test_responder_rejects_a_second_want_during_a_round_and_bye_mid_round() -> None:
    for frame in (Want((WantEntry(B, 0),)), Bye(), Hello(1, 1)):
        machine = started_responder()
        machine.receive(Want((WantEntry(A, 0),)))
        with pytest.raises(SyncProtocolError) as caught:
            machine.receive(frame)
        assert caught.value.reason is SyncReason.UNEXPECTED_FRAME


def test_responder_requires_hello_first() -> None:
    with pytest.raises(SyncProtocolError) as caught:
        SyncResponder().receive(Want((WantEntry(A, 0),)))
    assert caught.value.reason is SyncReason.UNEXPECTED_FRAME


def test_responder_local_misuse_raises_state_errors() -> None:
    machine = started_responder()
    with pytest.raises(SyncStateError):
        machine.have({})
    machine.receive(Want((WantEntry(A, 0),)))
    with pytest.raises(SyncStateError):
        machine.batch([b"x"])
    with pytest.raises(SyncStateError):
        machine.done()


def test_the_largest_possible_want_fits_one_frame() -> None:
    gaps = tuple((2**52 + 2 * i, 2**52 + 2 * i) for i in range(MAX_WANT_RANGES))
    entries = [WantEntry(bytes([i % 256, i // 256]) * 16, 2**53, gaps) for i in range(1000)]
    machine = SyncRequester()
    machine.hello()
    assert len(encode_frame(machine.want(entries))) < MAX_FRAME_BYTES
