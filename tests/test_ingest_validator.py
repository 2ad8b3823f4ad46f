"""ParallelValidator: exactly the results of sequential ``envelope.validate``, in input order."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pnyx.core import envelope
from pnyx.core.envelope import Message
from pnyx.core.reasons import Reason
from pnyx.ingest import ParallelValidator, Validated, default_workers, validate_slice
from tests.ingest_kit import (
    MAKERS,
    NOW,
    bad_signature,
    check_order,
    flatten,
    mixed,
    sequential,
    valid,
)


@pytest.mark.parametrize("workers", [1, 2, 3, 4])
@pytest.mark.parametrize("min_slice", [1, 7, 1000])
def test_same_results_as_sequential_validation(workers: int, min_slice: int) -> None:
    kinds = [list(MAKERS)[(n * 3) % len(MAKERS)] for n in range(150)]
    raws = mixed(kinds)
    with ParallelValidator(workers, min_slice=min_slice) as validator:
        result = validator.validate(raws, NOW)
    check_order(result)
    assert flatten(result, len(raws)) == sequential(raws)
    reasons = {reason for _, reason, _ in result.rejected}
    assert {Reason.BAD_SIGNATURE, Reason.FUTURE_TIMESTAMP, Reason.OVERSIZED} <= reasons
    assert {Reason.MALFORMED, Reason.TRAILING_BYTES, Reason.NON_CANONICAL} <= reasons
    assert len(result.messages) == kinds.count("valid")


@settings(max_examples=30)
@given(st.lists(st.sampled_from(sorted(MAKERS)), max_size=60), st.integers(1, 4))
def test_any_mix_any_workers(kinds: list[str], workers: int) -> None:
    raws = mixed(kinds)
    with ParallelValidator(workers, min_slice=1) as validator:
        result = validator.validate(raws, NOW)
    check_order(result)
    assert flatten(result, len(raws)) == sequential(raws)


def test_empty_batch() -> None:
    with ParallelValidator(2) as validator:
        assert validator.validate([], NOW) == Validated()


def test_the_pool_validates_while_the_caller_does_something_else() -> None:
    raws = [valid(n) for n in range(64)]
    seen: set[str] = set()
    calls = [0]
    all_done = threading.Event()
    real = envelope.validate

    def spy(raw: bytes, now_ms: int) -> Message:
        seen.add(threading.current_thread().name)
        calls[0] += 1  # slices run one after another here: no lost update matters below
        if calls[0] == len(raws):
            all_done.set()
        return real(raw, now_ms)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pnyx.ingest.validator.validate", spy)
        with ParallelValidator(2, min_slice=8) as validator:  # a pool of one thread
            pending = validator.submit(raws, NOW)
            assert all_done.wait(10)
            assert len(pending.result().messages) == 64
    assert len(seen) == 1
    assert next(iter(seen)).startswith("pnyx-verify")


def test_a_waiting_caller_validates_the_slices_no_worker_started() -> None:
    release = threading.Event()
    busy = threading.Event()
    real = envelope.validate
    seen: list[str] = []

    def spy(raw: bytes, now_ms: int) -> Message:
        name = threading.current_thread().name
        if name.startswith("pnyx-verify") and not release.is_set():
            busy.set()
            assert release.wait(10)  # hold the pool's only thread
        elif not release.is_set():
            seen.append(name)
        return real(raw, now_ms)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pnyx.ingest.validator.validate", spy)
        with ParallelValidator(2, min_slice=4) as validator:
            first = validator.submit([valid(n) for n in range(8)], NOW)
            assert busy.wait(10)
            second = validator.validate([valid(n) for n in range(8, 16)], NOW)
            release.set()
            assert len(second.messages) == 8
            assert len(first.result().messages) == 8
    assert seen and set(seen) == {threading.current_thread().name}


def test_a_core_bug_propagates() -> None:
    def broken(raw: bytes, now_ms: int) -> Message:
        raise ZeroDivisionError("bug")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("pnyx.ingest.validator.validate", broken)
        with ParallelValidator(2, min_slice=1) as validator, pytest.raises(ZeroDivisionError):
            validator.validate([valid(n) for n in range(8)], NOW)


def test_submit_overlaps_and_closed_validator_refuses() -> None:
    validator = ParallelValidator(3, min_slice=1)
    first = validator.submit([valid(n) for n in range(10)], NOW)
    second = validator.submit([bad_signature(0)], NOW)
    assert len(first.result().messages) == 10
    assert second.result().rejected == [(0, Reason.BAD_SIGNATURE, "signature does not verify")]
    validator.close()
    validator.close()
    with pytest.raises(RuntimeError):
        validator.submit([], NOW)


def test_validate_slice_indexes_are_batch_positions() -> None:
    raws = [valid(0), bad_signature(1), valid(2), bad_signature(3)]
    part = validate_slice(raws, 1, 4, NOW)
    assert part.positions == [2]
    assert [i for i, _, _ in part.rejected] == [1, 3]


def test_worker_count_is_checked() -> None:
    assert default_workers() >= 1
    with pytest.raises(ValueError):
        ParallelValidator(0)
    with pytest.raises(ValueError):
        ParallelValidator(2, min_slice=0)
