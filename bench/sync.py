"""Benchmark 2, sync: an empty home catches up a backlog from a node in another process (loopback).

Setup: a source home holding ``messages`` messages from ``authors`` authors (the cached dataset
store of bench/datasets.py, copied), served by ``pnyx run``; a new follower home that follows all
``authors`` (follow messages appended with ``Store.append_own``). Measured: ``pnyx --home DST sync
SOURCE_ADDRESS`` as a whole process, start to exit (interpreter start, libp2p import, dial,
session, exit), the messages it stored, and the peak RSS of that process (psutil, every
``RSS_POLL_S``). Done at two backlog sizes (``small_fraction`` of the messages, then all of them,
same number of authors) to show whether peak memory grows with the backlog.

Reference (same process, same run): raw Ed25519 verifications per second on one core over the same
messages (``bench/ingest.py``'s ``reference_rate``). Targets: end-to-end catch-up >= 0.5 x the
reference; peak RSS of the catching-up process <= 200 MB at full backlog, and not growing with it
(full / small <= ``RSS_GROWTH_LIMIT``).

Usage: ``python bench/sync.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--wait_idle SECONDS]``
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
import psutil
from common import ROOT, Result, log
from datasets import Spec, author_keypair, dataset, load_envelopes, timeline_home
from ingest import reference_rate

from pnyx.core.envelope import decode
from tests.netharness import NodeProcess, cli, node_env

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"messages": 2_000, "authors": 20, "wait_idle": 0},
    "quick": {"messages": 10_000, "authors": 100, "wait_idle": 0},
    "full": {"messages": 100_000, "authors": 1_000, "wait_idle": 60},
}
#: The smaller backlog, as a fraction of ``messages`` (same authors), to show RSS does not grow.
SMALL_FRACTION = 0.25
#: How often the catching-up process's RSS is sampled, in seconds.
RSS_POLL_S = 0.05
#: Longest a whole ``pnyx sync`` may take before the benchmark gives up, in seconds.
SYNC_TIMEOUT_S = 900.0
#: End-to-end catch-up target, as a fraction of raw one-core verifications per second.
TARGET_VS_VERIFY = 0.5
#: Peak RSS target of the catching-up process, in MB (10^6 bytes).
TARGET_PEAK_RSS_MB = 200.0
#: Largest accepted ratio of peak RSS at the full backlog to peak RSS at the small one.
RSS_GROWTH_LIMIT = 1.15
#: Source-node flags: no LAN or DHT discovery (nothing else to find on loopback).
SOURCE_FLAGS = ("--no-dht",)


def source_home(spec: Spec, cache: Path, workdir: Path) -> Path:
    """A copy of the cached dataset home (identity of author 0 + the whole dataset)."""
    home, _ = timeline_home(spec, cache)
    copy = workdir / "source"
    shutil.copytree(home, copy)
    copy.chmod(0o700)
    return copy


def follower_home(workdir: Path, authors: int, seed: int) -> Path:
    """A new home (unencrypted identity) that follows generated authors 0..authors-1."""
    from pnyx.crypto.keyfile import load_identity
    from pnyx.store import Store

    home = workdir / "follower"
    code, _, err = cli(home, "init")
    if code != 0:
        raise RuntimeError(f"pnyx init failed: {err}")
    key = load_identity(home / "identity.key", None)
    now = int(time.time() * 1000)
    with Store.open(home / "pnyx.db") as store:
        for index in range(authors):
            public, _ = author_keypair(seed, index)
            store.append_own(key, "follow", {"key": public}, now + index)
    return home


def timed_sync(home: Path, address: str) -> tuple[float, float, dict[str, Any]]:
    """Run ``pnyx sync --json ADDRESS`` on ``home``: (wall seconds, peak RSS in bytes, its JSON)."""
    argv = [sys.executable, "-m", "pnyx", "--home", str(home), "sync", "--json", address]
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=node_env(), cwd=ROOT
    )
    watched = psutil.Process(proc.pid)
    peak = 0
    deadline = time.monotonic() + SYNC_TIMEOUT_S
    while proc.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.NoSuchProcess:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError(f"pnyx sync took over {SYNC_TIMEOUT_S:g} s")
        time.sleep(RSS_POLL_S)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"pnyx sync exited {proc.returncode}: {err.decode(errors='replace')}")
    summary: dict[str, Any] = json.loads(out.decode().strip().splitlines()[-1])
    return elapsed, peak, summary


def stored_messages(home: Path) -> int:
    from pnyx.store import Store

    with Store.open(home / "pnyx.db", readonly=True) as store:
        return int(store.counts()["messages"])


def catch_up(spec: Spec, cache: Path) -> dict[str, float]:
    """One catch-up of ``spec``'s backlog into a new follower home; its figures."""
    with tempfile.TemporaryDirectory(prefix="pnyx-bench-sync-") as tmp:
        workdir = Path(tmp)
        source = source_home(spec, cache, workdir)
        follower = follower_home(workdir, spec.authors, spec.seed)
        own = stored_messages(follower)
        node = NodeProcess.spawn("source", source, workdir / "logs", *SOURCE_FLAGS)
        try:
            node.wait_ready()
            address = node.address
            log(f"  syncing {spec.messages:,} messages from {spec.authors:,} authors")
            elapsed, peak, summary = timed_sync(follower, address)
        finally:
            node.stop()
        fetched = stored_messages(follower) - own
    if fetched != spec.messages:
        raise RuntimeError(f"stored {fetched:,} of {spec.messages:,} messages: {summary}")
    log(
        f"  {fetched:,} in {elapsed:.2f} s ({fetched / elapsed:,.0f}/s), "
        f"peak RSS {peak / 1e6:.0f} MB"
    )
    return {
        "elapsed_s": elapsed,
        "session_s": float(summary.get("elapsed_s", 0.0)),
        "peak_rss_mb": peak / 1e6,
        "stored": float(fetched),
    }


def run(params: dict[str, Any], cache: Path) -> Result:
    messages, authors = params["messages"], params["authors"]
    small_messages = max(authors * 3, int(messages * SMALL_FRACTION))
    full_spec = Spec(messages=messages, authors=authors)
    small_spec = Spec(messages=small_messages, authors=authors)
    path, _ = dataset(full_spec, cache)
    raws = load_envelopes(path)
    keys = [decode(raw).author for raw in raws]

    if params["wait_idle"]:
        common.wait_for_idle(params["wait_idle"])
    log(f"sync: small backlog ({small_messages:,} messages)")
    small = catch_up(small_spec, cache)
    log(f"sync: full backlog ({messages:,} messages)")
    full = catch_up(full_spec, cache)
    reference = reference_rate(raws, keys)
    log(f"  reference: {reference:,.0f} verifications/s")
    del raws, keys

    rate = messages / full["elapsed_s"]
    session_rate = messages / full["session_s"] if full["session_s"] else 0.0
    result = Result(name="sync", params={**params, "small_messages": small_messages})
    result.figures = {
        "catch_up_msgs_per_s": rate,
        "catch_up_s": full["elapsed_s"],
        "session_msgs_per_s": session_rate,
        "stored": int(full["stored"]),
        "peak_rss_mb": full["peak_rss_mb"],
        "small_catch_up_msgs_per_s": small_messages / small["elapsed_s"],
        "small_peak_rss_mb": small["peak_rss_mb"],
    }
    result.reference = {"verify_one_core_per_s": reference}
    growth = full["peak_rss_mb"] / small["peak_rss_mb"]
    result.ratios = {
        "catch_up_vs_verify": rate / reference,
        "session_vs_verify": session_rate / reference,
        "peak_rss_full_vs_small": growth,
    }
    result.target("catch_up", rate / reference, ">=", TARGET_VS_VERIFY, "x verify/s")
    result.target("peak_rss", full["peak_rss_mb"], "<=", TARGET_PEAK_RSS_MB, "MB")
    result.target("rss_growth", growth, "<=", RSS_GROWTH_LIMIT, "x (full / small backlog)")
    result.notes.append(
        "catch_up = messages / wall time of the `pnyx sync` process, start to exit (includes "
        "interpreter start and the libp2p import, ~1 s); session = the sync session alone as "
        "pnyx reports it; peak RSS of that process polled every "
        f"{RSS_POLL_S * 1000:.0f} ms; small backlog = {SMALL_FRACTION:.0%} of the messages, "
        "same authors; the reference is measured after both syncs, in this process"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("sync", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
