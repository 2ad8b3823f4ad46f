"""Benchmark 1, ingest: validate and store messages from many authors into a cold store, in batches.

Reference (same process, same run): raw Ed25519 verifications per second on one core,
``nacl.bindings.crypto_sign_open(signature + SIGNATURE_DOMAIN + payload, author)`` over the same
messages. Targets: one-core ingest >= 0.85 x the reference; two-core ingest (verification on
threads, storing overlapped) >= 1.6 x the one-core reference.

Also measured, to explain the figures: the cost per message of each stage alone (decode, verify,
store), and two ways of spreading validation over threads (contiguous slices vs one task per
message). Each round measures everything once, the reference between the one-core and two-core
runs; every figure and ratio is the median over the rounds of each round's own values (ratios
pair each run with the reference of its round). Each run ingests into a new, empty store.

Usage: ``python bench/ingest.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--batch N] [--group N] [--workers N] [--rounds N]
[--wait_idle SECONDS]`` (at full size each round first waits for an idle machine).
"""

from __future__ import annotations

import gc
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import common
import nacl.bindings
from common import Result, log
from datasets import Spec, dataset, load_envelopes

from pnyx.clock import wall_clock_ms
from pnyx.core.envelope import decode, validate
from pnyx.core.limits import SIGNATURE_BYTES, SIGNATURE_DOMAIN
from pnyx.ingest import (
    GROUP_MESSAGES,
    ParallelValidator,
    ProcessValidator,
    ingest_batches,
)

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "messages": 1_000,
        "authors": 20,
        "batch": 250,
        "group": 500,
        "workers": 2,
        "rounds": 1,
        "wait_idle": 0,
    },
    "quick": {
        "messages": 20_000,
        "authors": 200,
        "batch": 1_000,
        "group": GROUP_MESSAGES,
        "workers": 2,
        "rounds": 1,
        "wait_idle": 0,
    },
    "full": {
        "messages": 200_000,
        "authors": 2_000,
        "batch": 1_000,
        "group": GROUP_MESSAGES,
        "workers": 2,
        "rounds": 3,
        "wait_idle": 60,
    },
}
#: Messages used to compare ways of threading validation (no store involved), at most.
VARIANT_SAMPLE = 20_000
#: One-core ingest target, as a fraction of raw verifications per second on one core.
TARGET_ONE_CORE = 0.85
#: Two-core ingest target, as a multiple of raw verifications per second on one core.
TARGET_TWO_CORE = 1.6


def reference_rate(raws: Sequence[bytes], authors: Sequence[bytes]) -> float:
    """Raw Ed25519 verifications per second, one core (what envelope.verify calls)."""
    parts = [(raw[:SIGNATURE_BYTES], raw[SIGNATURE_BYTES:]) for raw in raws]
    open_ = nacl.bindings.crypto_sign_open
    domain = SIGNATURE_DOMAIN
    gc.collect()
    start = time.perf_counter()
    for (signature, payload), author in zip(parts, authors, strict=True):
        open_(signature + domain + payload, author)
    return len(raws) / (time.perf_counter() - start)


def reference_rate_threads(raws: Sequence[bytes], authors: Sequence[bytes], threads: int) -> float:
    """Raw Ed25519 verifications per second on ``threads`` threads (libsodium drops the GIL):
    how far this machine's cores scale for the work that dominates ingest."""
    parts = [(raw[:SIGNATURE_BYTES], raw[SIGNATURE_BYTES:]) for raw in raws]
    items = list(zip(parts, authors, strict=True))
    open_ = nacl.bindings.crypto_sign_open
    domain = SIGNATURE_DOMAIN

    def work(chunk: Sequence[tuple[tuple[bytes, bytes], bytes]]) -> None:
        for (signature, payload), author in chunk:
            open_(signature + domain + payload, author)

    step = -(-len(items) // threads)
    chunks = [items[i : i + step] for i in range(0, len(items), step)]
    with ThreadPoolExecutor(threads) as pool:
        gc.collect()
        start = time.perf_counter()
        list(pool.map(work, chunks))
        return len(items) / (time.perf_counter() - start)


def _timed_rate(count: int, fn: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    fn()
    return count / (time.perf_counter() - start)


def _batches(raws: Sequence[bytes], size: int) -> list[Sequence[bytes]]:
    return [raws[i : i + size] for i in range(0, len(raws), size)]


def _fresh_store(workdir: Path) -> Any:
    from pnyx.store import Store

    path = Path(tempfile.mkdtemp(dir=workdir)) / "pnyx.db"
    return Store.open(path)


def ingest_rate(
    raws: Sequence[bytes], params: dict[str, Any], workers: int, workdir: Path, mode: str
) -> tuple[float, float]:
    """Messages per second stored from ``raws`` into a new store, in input batches, by ``mode``,
    and the cores this process used meanwhile (CPU seconds / wall seconds):

    ``grouped``: ParallelValidator + ingest_batches, ``group`` messages per transaction;
    ``processes``: the same with ProcessValidator (worker processes, started before timing);
    ``per_batch``: the same with one transaction per input batch;
    ``store``: the store's own sequential ``Store.ingest``, one call per batch.
    """
    now = wall_clock_ms()
    batches = _batches(raws, params["batch"])
    group = params["group"] if mode == "grouped" else params["batch"]
    store = _fresh_store(workdir)
    accepted = 0
    validator: ParallelValidator | ProcessValidator
    if mode == "processes":
        validator = ProcessValidator(workers)
        validator.validate(raws[: workers * 256], now)  # start the workers outside the timing
    else:
        validator = ParallelValidator(workers)
    try:
        with validator:
            gc.collect()
            start = time.perf_counter()
            cpu = time.process_time()
            if mode == "store":
                for chunk in batches:
                    accepted += len(store.ingest(chunk, now).accepted)
            else:
                stream = ingest_batches(store, validator, batches, lambda: now, group=group)
                for report in stream:
                    accepted += len(report.accepted)
            elapsed = time.perf_counter() - start
            cpu = time.process_time() - cpu
    finally:
        store.close()
    if accepted != len(raws):
        raise RuntimeError(f"{mode}: stored {accepted} of {len(raws)} valid messages")
    return len(raws) / elapsed, cpu / elapsed


def store_only_rate(raws: Sequence[bytes], group: int, workdir: Path) -> float:
    """Messages per second through ``Store.ingest_verified`` alone (decoded before timing)."""
    messages = [decode(raw) for raw in raws]
    gc.freeze()  # in real ingest only a group is alive at once: do not traverse all of them
    store = _fresh_store(workdir)
    try:
        return _timed_rate(
            len(messages),
            lambda: [
                store.ingest_verified(messages[i : i + group])
                for i in range(0, len(messages), group)
            ],
        )
    finally:
        store.close()


def per_message_rate(raws: Sequence[bytes], workers: int) -> float:
    """Validation per second with one pool task per message (the alternative to slices)."""
    now = wall_clock_ms()
    with ThreadPoolExecutor(workers) as pool:
        return _timed_rate(len(raws), lambda: list(pool.map(lambda r: validate(r, now), raws)))


def sliced_rate(raws: Sequence[bytes], workers: int, batch: int) -> float:
    now = wall_clock_ms()
    with ParallelValidator(workers) as validator:
        return _timed_rate(
            len(raws), lambda: [validator.validate(chunk, now) for chunk in _batches(raws, batch)]
        )


def _derive(got: dict[str, float], workers: int) -> dict[str, dict[str, float]]:
    """Figures, reference and ratios of one round (``got``: the rates measured)."""
    ref = got["reference"]
    scaling = got["reference_threads"] / got["sample_reference"]
    stage_sum = 1e6 / got["decode"] + 1e6 / ref + 1e6 / got["store_only"]
    return {
        "figures": {
            "one_core_msgs_per_s": got["one_core"],
            "two_core_msgs_per_s": got["two_core"],
            "two_core_processes_msgs_per_s": got["two_core_processes"],
            "two_core_per_batch_msgs_per_s": got["two_core_per_batch"],
            "store_ingest_msgs_per_s": got["store_ingest"],
            "decode_us_per_msg": 1e6 / got["decode"],
            "verify_us_per_msg": 1e6 / ref,
            "store_us_per_msg": 1e6 / got["store_only"],
            "validate_sliced_msgs_per_s": got["sliced"],
            "validate_per_message_task_msgs_per_s": got["per_message"],
            "one_core_cores_used": got["one_core_cores"],
            "two_core_cores_used": got["two_core_cores"],
            "two_core_processes_parent_cores_used": got["two_core_processes_cores"],
        },
        "reference": {
            "verify_one_core_per_s": ref,
            "verify_one_core_sample_per_s": got["sample_reference"],
            f"verify_{workers}_threads_sample_per_s": got["reference_threads"],
        },
        "ratios": {
            "one_core_vs_verify": got["one_core"] / ref,
            "two_core_vs_verify": got["two_core"] / ref,
            "two_core_processes_vs_verify": got["two_core_processes"] / ref,
            "verify_threads_scaling": scaling,
            "two_core_vs_verify_threads": got["two_core"] / ref / scaling,
            "two_core_per_batch_vs_verify": got["two_core_per_batch"] / ref,
            "store_ingest_vs_verify": got["store_ingest"] / ref,
            "one_core_bound_vs_verify": (1e6 / ref) / stage_sum,
            "validate_sliced_vs_verify": got["sliced"] / got["sample_reference"],
            "validate_per_message_task_vs_verify": got["per_message"] / got["sample_reference"],
        },
    }


def run(params: dict[str, Any], cache: Path) -> Result:
    spec = Spec(messages=params["messages"], authors=params["authors"])
    path, _ = dataset(spec, cache)
    raws = load_envelopes(path)
    authors = [decode(raw).author for raw in raws]
    # Nothing of the benchmark's own (the dataset) should be traversed by pnyx's garbage
    # collections: a heap of 200,000 decoded messages made every full collection a GIL-held
    # pause of the two-core runs.
    gc.collect()
    gc.freeze()
    sample = raws[: min(len(raws), VARIANT_SAMPLE)]
    batch, workers = params["batch"], params["workers"]
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory(prefix="pnyx-bench-ingest-") as tmp:
        workdir = Path(tmp)
        for number in range(params["rounds"]):
            idle = common.wait_for_idle(params["wait_idle"]) if params["wait_idle"] else None
            log(
                f"ingest round {number + 1}/{params['rounds']}: {len(raws):,} messages"
                + (f" (machine {idle:.0%} idle)" if idle is not None else "")
            )
            got: dict[str, float] = {}

            def keep(
                name: str, value: float | tuple[float, float], got: dict[str, float] = got
            ) -> None:
                rate, used = value if isinstance(value, tuple) else (value, None)
                got[name] = rate
                if used is not None:
                    got[f"{name}_cores"] = used
                log(f"  {name}: {rate:,.0f}/s" + (f" ({used:.2f} cores)" if used else ""))

            # The reference sits between the two targeted runs: the least time apart.
            keep("one_core", ingest_rate(raws, params, 1, workdir, "grouped"))
            keep("reference", reference_rate(raws, authors))
            keep("two_core", ingest_rate(raws, params, workers, workdir, "grouped"))
            keep("two_core_processes", ingest_rate(raws, params, workers, workdir, "processes"))
            keep("two_core_per_batch", ingest_rate(raws, params, workers, workdir, "per_batch"))
            keep("store_ingest", ingest_rate(raws, params, 1, workdir, "store"))
            keep("decode", _timed_rate(len(raws), lambda: [decode(raw) for raw in raws]))
            keep("store_only", store_only_rate(raws, params["group"], workdir))
            keep("sample_reference", reference_rate(sample, authors[: len(sample)]))
            keep(
                "reference_threads",
                reference_rate_threads(sample, authors[: len(sample)], workers),
            )
            keep("sliced", sliced_rate(sample, workers, batch))
            keep("per_message", per_message_rate(sample, workers))
            rounds.append(got)

    result = Result(name="ingest", params=params)
    derived = [_derive(got, workers) for got in rounds]
    for section in ("figures", "reference", "ratios"):
        keys = derived[0][section]
        setattr(
            result,
            section,
            {key: statistics.median(d[section][key] for d in derived) for key in keys},
        )
    result.target(
        "one_core", result.ratios["one_core_vs_verify"], ">=", TARGET_ONE_CORE, "x verify/s"
    )
    result.target(
        "two_core", result.ratios["two_core_vs_verify"], ">=", TARGET_TWO_CORE, "x verify/s"
    )
    result.target(
        "two_core_processes",
        result.ratios["two_core_processes_vs_verify"],
        ">=",
        TARGET_TWO_CORE,
        "x verify/s",
    )
    result.notes.append(
        f"input batches of {params['batch']}; one_core = ParallelValidator(1) + ingest_batches "
        f"({params['group']} messages per transaction); two_core = ParallelValidator({workers}), "
        "the next batches verified while a group is stored; two_core_processes = the same with "
        f"ProcessValidator({workers}) (worker processes; parent_cores_used counts the parent "
        "only); per_batch = one transaction per "
        f"input batch; store_ingest = Store.ingest per batch; every figure and ratio is the median "
        f"over {params['rounds']} rounds of that round's own figures (ratios use the reference "
        "measured in the same round, between the one-core and two-core runs); "
        "one_core_bound = verify / (decode + verify + store), what a perfect one-core pipeline "
        "would reach"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("ingest", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
