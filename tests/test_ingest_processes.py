"""ProcessValidator: the results of sequential ``envelope.validate``, from worker processes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.core import envelope
from pnyx.ingest import ProcessValidator, ingest_batches, trusted_message
from pnyx.store import Store
from tests.ingest_kit import (
    MAKERS,
    NOW,
    check_order,
    flatten,
    mixed,
    mixed_batch,
    same_report,
    sequential,
)

pytestmark = pytest.mark.network  # starts worker processes


@pytest.fixture(scope="module")
def validator() -> Iterator[ProcessValidator]:
    with ProcessValidator(2, min_slice=4) as shared:
        yield shared


def test_same_results_as_sequential_validation(validator: ProcessValidator) -> None:
    kinds = [list(MAKERS)[(n * 3) % len(MAKERS)] for n in range(120)]
    raws = mixed(kinds)
    result = validator.validate(raws, NOW)
    check_order(result)
    assert flatten(result, len(raws)) == sequential(raws)
    assert len(result.messages) == kinds.count("valid")
    assert validator.validate([], NOW).messages == []


def test_pipeline_matches_store_ingest(validator: ProcessValidator, tmp_path: Path) -> None:
    raws = mixed_batch() * 2
    batches = [raws[i : i + 5] for i in range(0, len(raws), 5)]
    with Store.open(tmp_path / "a.db") as parallel, Store.open(tmp_path / "b.db") as sequential:
        reports = list(ingest_batches(parallel, validator, batches, lambda: NOW, group=10))
        for report, batch in zip(reports, batches, strict=True):
            same_report(report, sequential.ingest(batch, NOW))
        assert parallel.heads() == sequential.heads()


def test_trusted_message_is_the_decoded_message() -> None:
    for raw in mixed(["valid"] * 5):
        assert trusted_message(raw) == envelope.decode(raw)


def test_closed_validator_refuses() -> None:
    closed = ProcessValidator(1)
    closed.close()
    closed.close()
    with pytest.raises(RuntimeError):
        closed.submit([], NOW)
    with pytest.raises(ValueError):
        ProcessValidator(0)
