"""Benchmark 3, gossip: post latency over a random topology, and sustained posts per second.

(a) latency: ``nodes`` node processes (each size of ``--nodes``, e.g. 10 and 20) in a seeded
random connected topology (a random spanning tree plus ``nodes // 3`` extra edges, built with
``connect``); every node follows the author (node 0). The author posts ``posts`` times through
the CLI (in this process, which nudges the node), ``spacing_ms`` apart. Latency of a post at a
follower = its ``received_ms`` in that follower's store - the post's ``ts`` (one machine, one
clock). Targets on the first (smallest) size: 100 % delivered, p99 <= 250 ms.

(b) throughput: the author and 5 followers (random connected topology). ``burst`` chained posts
are signed in advance and written into the author's store with ``Store.ingest_verified`` (in
``WRITE_CHUNK`` messages per transaction) while its node runs; the node's publisher finds them
(``changes_since``) and gossips them in batched frames. Rate at a follower = ``burst`` / (time
its store holds all of them, contiguous - time the first write started). Target: the slowest
follower >= 2,000 posts/s, nothing lost.

Reference (same run): bare py-libp2p gossipsub with pnyx's settings (the adapter,
``pnyx.gossip.adapter.open_libp2p_network``, validator accepting everything), one pubsub
message of ``REFERENCE_BYTES`` per post, publishing with the adapter's backpressure, from this
process to 5 subscriber processes connected directly to it; rate = messages / (last arrival at
the slowest subscriber - first publish).

Every node runs with ``--no-dht --target-connections 0`` (the topology stays as built) and raised
rate limits (``RATE_LIMITS``): the defaults allow 5 messages/s per author and 200/s per
forwarding peer by design (security.md section 4), which would cap (b) at 5/s.

CPU: the throughput run also reports the CPU time (user + system, from ``psutil``) each node
process spent from the first write until the last follower held every post, per post, in
microseconds (``throughput_cpu_us_per_post_*``): where the cluster's time goes.

Profiling: with ``PNYX_BENCH_PYSPY=DIR`` set, the throughput run attaches ``py-spy record`` (from
the venv) to every node process for the burst and writes ``DIR/n0.svg`` (the author) ..
``DIR/n5.svg``; ``PNYX_BENCH_PYSPY_FORMAT`` picks another py-spy output format (e.g.
``speedscope``, ``raw``) and ``PNYX_BENCH_PYSPY_ARGS`` adds py-spy options (e.g. ``--gil``: only
the thread holding the GIL, i.e. Python work rather than signature checks). Profiled figures
are not comparable with unprofiled ones.

Usage: ``python bench/gossip.py [--json] [--quick | --size tiny|quick|full] [--nodes N ...]
[--posts N] [--spacing_ms MS] [--burst N] [--reference_messages N] [--seed N]
[--only latency|throughput|reference ...]`` (``--only``: run just these parts; targets of the
parts left out are not reported).
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
from common import ROOT, Result, log, percentile

from tests.netharness import Cluster, NodeProcess, node_env
from tests.waiting import wait_until

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {
        "nodes": [4],
        "posts": 5,
        "spacing_ms": 150,
        "burst": 1_000,
        "reference_messages": 200,
        "seed": 1,
    },
    "quick": {
        "nodes": [5],
        "posts": 15,
        "spacing_ms": 150,
        "burst": 5_000,
        "reference_messages": 500,
        "seed": 1,
    },
    "full": {
        "nodes": [10, 20],
        "posts": 30,
        "spacing_ms": 150,
        "burst": 20_000,
        "reference_messages": 2_000,
        "seed": 1,
    },
}
#: Followers in the throughput run (b), a count.
THROUGHPUT_FOLLOWERS = 5
#: Messages per ``ingest_verified`` transaction when writing the author's burst, a count.
WRITE_CHUNK = 500
#: Time left for gossipsub meshes to form after the topology is built, in seconds (heartbeat 1 s).
MESH_SETTLE_S = 3.0
#: Longest wait for every post to arrive everywhere, in seconds (then the rest counts as lost).
DELIVERY_TIMEOUT_S = 60.0
#: How often follower stores are polled, in seconds.
STORE_POLL_S = 0.02
#: Size of one reference pubsub message, in bytes (about one post envelope).
REFERENCE_BYTES = 250
#: A reference subscriber gives up after this long without a new message, in seconds.
REFERENCE_IDLE_S = 15.0
#: Latency target at the smallest size, 99th percentile, in milliseconds.
TARGET_P99_MS = 250.0
#: Delivery target of the latency run, as a share of (posts x followers).
TARGET_DELIVERED = 1.0
#: Throughput target per follower, in posts per second.
TARGET_POSTS_PER_S = 2_000.0
#: The parts of the benchmark, in the order they run (``--only`` picks some).
PARTS = ("latency", "throughput", "reference")
#: Environment variable: a directory for py-spy profiles of the throughput run's nodes.
PYSPY_ENV = "PNYX_BENCH_PYSPY"
#: Environment variable: py-spy's output format (default ``flamegraph``, an SVG).
PYSPY_FORMAT_ENV = "PNYX_BENCH_PYSPY_FORMAT"
#: Environment variable: more py-spy arguments, split on spaces (e.g. ``--gil``, ``--idle``).
PYSPY_ARGS_ENV = "PNYX_BENCH_PYSPY_ARGS"
#: Sampling rate of py-spy, in samples per second.
PYSPY_RATE_HZ = 200
#: Node flags: the topology stays as built (no DHT, the dialer adds no connections).
NODE_FLAGS = ("--no-dht", "--target-connections", "0")
#: ``[node.rate_limits]`` of every benchmark node: high enough never to bind.
RATE_LIMITS = {
    "author_per_s": 1e6,
    "author_burst": 10**7,
    "peer_per_s": 1e6,
    "peer_burst": 10**7,
}


def configure(home: Path) -> None:
    lines = ["[node.rate_limits]"] + [f"{k} = {v!r}" for k, v in RATE_LIMITS.items()]
    (home / "config.toml").write_text("\n".join(lines) + "\n")


def topology(count: int, rng: random.Random) -> list[tuple[int, int]]:
    """A random connected graph on 0..count-1: a random spanning tree plus count // 3 edges."""
    edges = {(rng.randrange(i), i) for i in range(1, count)}
    wanted = len(edges) + count // 3
    while len(edges) < min(wanted, count * (count - 1) // 2):
        a, b = sorted(rng.sample(range(count), 2))
        edges.add((a, b))
    return sorted(edges)


def start_network(
    cluster: Cluster, count: int, rng: random.Random
) -> tuple[list[NodeProcess], bytes]:
    """Start ``count`` nodes, nodes 1.. following node 0, connected at random; the author key."""
    from pnyx.crypto.keytext import parse_public_key

    names = [f"n{i}" for i in range(count)]
    author_text = cluster.key(names[0])
    for name in names:
        configure(cluster.home(name))
        if name != names[0]:
            cluster.cli(name, "follow", author_text)
    nodes = [cluster.spawn(name, *NODE_FLAGS) for name in names]
    for node in nodes:
        node.wait_ready()
    edges = topology(count, rng)
    for a, b in edges:
        nodes[a].connect(nodes[b])
    log(f"  {count} nodes, {len(edges)} edges: {edges}")
    time.sleep(MESH_SETTLE_S)
    return nodes, parse_public_key(author_text)


def _heads(home: Path, author: bytes) -> int:
    from pnyx.store import Store

    with Store.open(home / "pnyx.db", readonly=True) as store:
        return store.heads([author]).get(author, (0, 0))[0]


def latency_run(count: int, params: dict[str, Any], workdir: Path) -> tuple[list[float], int, int]:
    """(latency samples in ms, delivered, expected) of ``posts`` posts to ``count - 1``
    followers."""
    from pnyx.store import Store

    rng = random.Random(params["seed"] * 1000 + count)
    posts = params["posts"]
    with Cluster(workdir / f"latency-{count}") as cluster:
        nodes, author = start_network(cluster, count, rng)
        followers = nodes[1:]
        for number in range(posts):
            cluster.cli("n0", "post", f"latency probe {number} of {posts}")
            time.sleep(params["spacing_ms"] / 1000)

        def everywhere() -> bool:
            return all(_heads(f.home, author) >= posts for f in followers)

        try:
            wait_until(everywhere, timeout=DELIVERY_TIMEOUT_S, what="every post arrives")
        except AssertionError:
            log("  some posts did not arrive")
        samples: list[float] = []
        for follower in followers:
            with Store.open(follower.home / "pnyx.db", readonly=True) as store:
                items = store.feed(author, limit=posts + 10).items
            samples += [
                float(s.received_ms - s.message.ts) for s in items if s.message.kind == "post"
            ]
        cluster.nodes.clear()  # stopped below, quietly (Cluster.close prints every log)
        for node in nodes:
            node.stop()
    return samples, len(samples), posts * len(followers)


def throughput_run(params: dict[str, Any], workdir: Path) -> dict[str, float]:
    """Posts per second of ``burst`` posts at the slowest and fastest of 5 followers."""
    from pnyx.core.envelope import sign
    from pnyx.crypto.keyfile import load_identity
    from pnyx.store import Store

    burst = params["burst"]
    rng = random.Random(params["seed"] * 1000 + 6)
    with Cluster(workdir / "throughput") as cluster:
        nodes, author = start_network(cluster, THROUGHPUT_FOLLOWERS + 1, rng)
        key = load_identity(nodes[0].home / "identity.key", None)
        now = int(time.time() * 1000)
        messages, prev = [], None
        for seq in range(1, burst + 1):
            text = f"throughput post {seq} of {burst}: " + "lorem ipsum " * 12
            message = sign(key, seq=seq, prev=prev, ts=now, kind="post", body={"text": text})
            messages.append(message)
            prev = message.id
        log(f"  writing {burst:,} posts into the author's store")
        cpu_before = [_cpu_s(node) for node in nodes]
        main_before = [_main_thread_cpu_s(node) for node in nodes]
        profilers = _start_profilers(nodes)
        start = time.time()
        with Store.open(nodes[0].home / "pnyx.db") as store:
            for i in range(0, burst, WRITE_CHUNK):
                store.ingest_verified(messages[i : i + WRITE_CHUNK])
        written = time.time() - start
        done: dict[str, float] = {}
        deadline = time.monotonic() + DELIVERY_TIMEOUT_S
        while len(done) < THROUGHPUT_FOLLOWERS and time.monotonic() < deadline:
            for node in nodes[1:]:
                if node.name not in done and _heads(node.home, author) >= burst:
                    done[node.name] = time.time() - start
            time.sleep(STORE_POLL_S)
        cpu = [_cpu_s(node) - before for node, before in zip(nodes, cpu_before, strict=True)]
        main = [_main_thread_cpu_s(n) - b for n, b in zip(nodes, main_before, strict=True)]
        _stop_profilers(profilers)
        statuses = [node.status() for node in nodes]
        delivered = [_heads(node.home, author) for node in nodes[1:]]
        cluster.nodes.clear()
        for node in nodes:
            node.stop()
    slowest = max(done.values()) if len(done) == THROUGHPUT_FOLLOWERS else float("inf")
    return {
        "write_s": written,
        "slowest_s": slowest,
        "fastest_s": min(done.values()) if done else float("inf"),
        "delivered_min": float(min(delivered)),
        "complete": float(len(done) == THROUGHPUT_FOLLOWERS),
        "cpu_us_per_post_author": cpu[0] / burst * 1e6,
        "cpu_us_per_post_follower_max": max(cpu[1:]) / burst * 1e6,
        "cpu_us_per_post_follower_mean": sum(cpu[1:]) / len(cpu[1:]) / burst * 1e6,
        "cpu_us_per_post_cluster": sum(cpu) / burst * 1e6,
        "cpu_us_per_post_follower_main_thread_mean": sum(main[1:]) / len(main[1:]) / burst * 1e6,
        "frames_published": float(statuses[0]["counts"]["frames_published"]),
        "frames_received_max": float(max(s["counts"]["frames_received"] for s in statuses[1:])),
        "sync_fetched_total": float(sum(s["sync"]["messages_fetched"] for s in statuses[1:])),
        "sync_gap_triggers_total": float(sum(s["sync"]["triggers_gap"] for s in statuses[1:])),
    }


def _cpu_s(node: NodeProcess) -> float:
    """CPU seconds (user + system) the node process has used so far."""
    import psutil

    times = psutil.Process(node.proc.pid).cpu_times()
    return float(times.user + times.system)


def _main_thread_cpu_s(node: NodeProcess) -> float:
    """CPU seconds of the node's main thread (trio: libp2p and node logic; the worker threads
    verify signatures and write the store)."""
    import psutil

    for thread in psutil.Process(node.proc.pid).threads():
        if thread.id == node.proc.pid:
            return float(thread.user_time + thread.system_time)
    return 0.0


def _start_profilers(nodes: Sequence[NodeProcess]) -> list[subprocess.Popen[bytes]]:
    """py-spy on every node when ``PNYX_BENCH_PYSPY`` names a directory (else nothing)."""
    target = os.environ.get(PYSPY_ENV)
    if not target:
        return []
    out = Path(target)
    out.mkdir(parents=True, exist_ok=True)
    fmt = os.environ.get(PYSPY_FORMAT_ENV, "flamegraph")
    suffix = {"flamegraph": "svg", "speedscope": "json", "raw": "txt"}.get(fmt, fmt)
    spy = str(Path(sys.executable).with_name("py-spy"))
    procs = []
    for node in nodes:
        argv = [spy, "record", "--pid", str(node.proc.pid), "--rate", str(PYSPY_RATE_HZ)]
        argv += ["--format", fmt, "-o", str(out / f"{node.name}.{suffix}"), "--threads"]
        argv += os.environ.get(PYSPY_ARGS_ENV, "").split()
        procs.append(subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
    time.sleep(1.0)  # py-spy attaches
    return procs


def _stop_profilers(procs: Sequence[subprocess.Popen[bytes]]) -> None:
    import signal

    for proc in procs:
        proc.send_signal(signal.SIGINT)
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        if proc.returncode:
            log(f"  py-spy: {err.decode(errors='replace')[-300:]}")


# --- reference: bare gossipsub through pnyx's adapter, one message per post -----------------


def _subscriber(expected: int) -> int:
    """Reference subscriber process: print the listen address, count messages, print JSON."""
    import trio

    from pnyx.gossip.adapter import open_libp2p_network
    from pnyx.gossip.identity import quiet_libp2p_logging
    from pnyx.net.contracts import Verdict

    async def accept(data: bytes, peer: str) -> Verdict:
        return Verdict.ACCEPT

    async def serve() -> dict[str, float]:
        quiet_libp2p_logging()
        seed = random.randbytes(32)
        listen = ["/ip4/127.0.0.1/tcp/0"]
        async with open_libp2p_network(seed=seed, listen=listen, validator=accept) as network:
            print(network.listen_addrs()[0], flush=True)
            got, first, last = 0, 0.0, 0.0
            while got < expected:
                with trio.move_on_after(REFERENCE_IDLE_S if got else 120.0):
                    await network.received.receive()
                    got += 1
                    last = time.time()
                    first = first or last
                    continue
                break
            return {"got": got, "first": first, "last": last}

    print(json.dumps(trio.run(serve)), flush=True)
    return 0


def reference_rate(messages: int) -> dict[str, float]:
    """Publish ``messages`` from this process to 5 subscriber processes; delivered per second."""
    import trio

    from pnyx.gossip.adapter import open_libp2p_network
    from pnyx.gossip.identity import quiet_libp2p_logging
    from pnyx.net.contracts import Verdict

    script = str(Path(__file__).resolve())
    procs = [
        subprocess.Popen(
            [sys.executable, script, "--subscriber", str(messages)],
            stdout=subprocess.PIPE,
            env=node_env(),
            cwd=ROOT,
        )
        for _ in range(THROUGHPUT_FOLLOWERS)
    ]
    addresses = [p.stdout.readline().decode().strip() for p in procs if p.stdout]

    async def accept(data: bytes, peer: str) -> Verdict:
        return Verdict.ACCEPT

    async def publish() -> float:
        quiet_libp2p_logging()
        seed = random.randbytes(32)
        listen = ["/ip4/127.0.0.1/tcp/0"]
        async with open_libp2p_network(seed=seed, listen=listen, validator=accept) as network:
            for address in addresses:
                await network.connect(address)
            with trio.fail_after(30):
                while len(network.topic_peers()) < len(addresses):
                    await trio.sleep(0.05)
            await trio.sleep(MESH_SETTLE_S)
            start = time.time()
            for number in range(messages):
                payload = number.to_bytes(8, "big") + b"x" * (REFERENCE_BYTES - 8)
                await network.publish(payload)
            await trio.to_thread.run_sync(lambda: [p.wait() for p in procs])
            return start

    start = trio.run(publish)
    reports = [json.loads(p.communicate()[0].decode().strip().splitlines()[-1]) for p in procs]
    got = min(r["got"] for r in reports)
    last = max(r["last"] for r in reports)
    return {"rate": got / (last - start), "delivered_min": float(got)}


def run(params: dict[str, Any], parts: Sequence[str] = PARTS) -> Result:
    result = Result(name="gossip", params=params)
    with tempfile.TemporaryDirectory(prefix="pnyx-bench-gossip-") as tmp:
        workdir = Path(tmp)
        if "latency" in parts:
            _latency(params, workdir, result)
        if "throughput" in parts:
            log(f"gossip throughput: {params['burst']:,} posts to {THROUGHPUT_FOLLOWERS} followers")
            got = throughput_run(params, workdir)
            rate = params["burst"] / got["slowest_s"]
            log(
                f"  slowest follower {rate:,.0f} posts/s (written in {got['write_s']:.2f} s); "
                f"CPU per post: author {got['cpu_us_per_post_author']:.0f} us, follower max "
                f"{got['cpu_us_per_post_follower_max']:.0f} us, cluster "
                f"{got['cpu_us_per_post_cluster']:.0f} us, follower main thread mean "
                f"{got['cpu_us_per_post_follower_main_thread_mean']:.0f} us; frames published "
                f"{got['frames_published']:.0f}, messages fetched by sync "
                f"{got['sync_fetched_total']:.0f} ({got['sync_gap_triggers_total']:.0f} gap "
                "triggers)"
            )
            result.figures.update(
                {
                    "throughput_posts_per_s": rate,
                    "throughput_fastest_posts_per_s": params["burst"] / got["fastest_s"],
                    "throughput_write_s": got["write_s"],
                    "throughput_delivered_min": int(got["delivered_min"]),
                }
            )
            result.figures.update(
                {
                    f"throughput_{k}": v
                    for k, v in got.items()
                    if k.startswith(("cpu_", "frames_", "sync_"))
                }
            )
            result.target("throughput", rate, ">=", TARGET_POSTS_PER_S, "posts/s")
            lost = params["burst"] - got["delivered_min"]
            result.target("throughput_lost", lost, "<=", 0, "posts not delivered")
    if "reference" in parts:
        log(f"gossip reference: {params['reference_messages']:,} messages, one per post")
        ref = reference_rate(params["reference_messages"])
        log(f"  reference {ref['rate']:,.0f} messages/s")
        result.reference = {
            "gossipsub_one_message_per_post_per_s": ref["rate"],
            "gossipsub_delivered_min": int(ref["delivered_min"]),
        }
        if "throughput_posts_per_s" in result.figures:
            result.ratios = {
                "throughput_vs_gossipsub": result.figures["throughput_posts_per_s"] / ref["rate"]
            }
    result.notes.append(
        "latency = received_ms at the follower - the post's ts (one clock); targets on the "
        f"smallest size; nodes run {' '.join(NODE_FLAGS)} with rate limits raised "
        f"({RATE_LIMITS}); throughput = burst / time until the slowest of "
        f"{THROUGHPUT_FOLLOWERS} followers holds every post; cpu_us_per_post = CPU time of a "
        "node process during the burst / burst (main_thread: its trio thread only); "
        "reference = pnyx's libp2p adapter "
        f"with an accept-all validator, one {REFERENCE_BYTES}-byte message per post, this "
        f"process publishing to {THROUGHPUT_FOLLOWERS} subscriber processes connected directly"
    )
    return result


def _latency(params: dict[str, Any], workdir: Path, result: Result) -> None:
    for index, count in enumerate(params["nodes"]):
        log(f"gossip latency: {count} nodes, {params['posts']} posts")
        samples, delivered, expected = latency_run(count, params, workdir)
        share = delivered / expected
        p50 = percentile(samples, 50) if samples else float("inf")
        p99 = percentile(samples, 99) if samples else float("inf")
        log(f"  delivered {delivered}/{expected}, p50 {p50:.0f} ms, p99 {p99:.0f} ms")
        result.figures.update(
            {
                f"latency_{count}_nodes_p50_ms": p50,
                f"latency_{count}_nodes_p99_ms": p99,
                f"latency_{count}_nodes_max_ms": max(samples, default=float("inf")),
                f"delivered_{count}_nodes": share,
            }
        )
        if index == 0:
            result.target(f"delivered_{count}_nodes", share, ">=", TARGET_DELIVERED, "share")
            result.target(f"p99_{count}_nodes", p99, "<=", TARGET_P99_MS, "ms")


def main(argv: Sequence[str] | None = None) -> int:
    args_in = list(sys.argv[1:] if argv is None else argv)
    if args_in[:1] == ["--subscriber"]:
        return _subscriber(int(args_in[1]))
    p = common.parser("gossip", __doc__.splitlines()[0] if __doc__ else "gossip")
    p.add_argument("--nodes", type=int, nargs="+", default=None)
    for name in ("posts", "spacing_ms", "burst", "reference_messages", "seed"):
        p.add_argument(f"--{name}", type=int, default=None)
    p.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    args = p.parse_args(args_in)
    params = common.preset(args, PRESETS)
    return common.emit(run(params, args.only), args.json)


if __name__ == "__main__":
    sys.exit(main())
