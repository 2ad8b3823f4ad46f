"""Relay: round trip relayed vs direct, and what a relay costs per active circuit (issue 17).

A relay runs as its own ``pnyx run --relay on`` process on 127.0.0.1 (limits raised in its
config so that one machine may hold every reservation and circuit). In this process, ``pairs``
destination hosts reserve a slot on it and as many source hosts each open one circuit to a
destination. Measured:

* round trip of 64 bytes over an echo stream: relayed (source -> relay -> destination) against
  direct (another host connected straight to the same destination), the reference of the same run;
* the relay process's resident memory and CPU time (from /proc) before the circuits, with them all
  open and idle, and after ``rounds`` echoes of 1 KiB over every circuit: per circuit and per MiB.

Loopback has no network latency, so the relayed/direct ratio is the relay's own cost (one more
hop through Python); across a real network add the relay's distance. Not part of ``run_all.py``:
run it alone. Usage: ``python bench/relay.py [--pairs N] [--rounds N] [--json]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import trio

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from libp2p.peer.id import ID  # noqa: E402

from pnyx.control.client import request  # noqa: E402
from pnyx.gossip.adapter import Libp2pNetwork, open_libp2p_network  # noqa: E402
from pnyx.gossip.identity import quiet_libp2p_logging  # noqa: E402
from pnyx.home import Home  # noqa: E402
from pnyx.net.contracts import ByteStream, Verdict  # noqa: E402

ECHO = "/pnyx-bench/echo/1"
PING_BYTES = 64
PINGS = 200
CHUNK = 1024
RELAY_CONFIG = """[node.relay_limits]
max_reservations = 10000
max_reservations_per_ip = 10000
max_circuits = 10000
max_circuits_per_ip = 10000
max_circuits_per_ip_to_peer = 100
"""


async def _ignore(data: bytes, forwarder: str) -> Verdict:
    return Verdict.IGNORE


async def _echo(stream: ByteStream, peer: str) -> None:
    while data := await stream.receive_some(65536):
        await stream.send_all(data)


async def _round_trips(stream: ByteStream, size: int, count: int) -> list[float]:
    payload = b"x" * size
    times = []
    for _ in range(count):
        started = time.perf_counter()
        await stream.send_all(payload)
        got = 0
        while got < size:
            got += len(await stream.receive_some(65536))
        times.append((time.perf_counter() - started) * 1000)
    return times


def _proc(pid: int) -> tuple[float, float]:
    """(resident MiB, CPU seconds) of a process."""
    rss = 0.0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1]) / 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return rss, (int(fields[11]) + int(fields[12])) / ticks


async def _host(stack: AsyncExitStack, n: int) -> Libp2pNetwork:
    return await stack.enter_async_context(
        open_libp2p_network(
            seed=n.to_bytes(4, "big") * 8,
            listen=["/ip4/127.0.0.1/tcp/0"],
            validator=_ignore,
            relay="off",
        )
    )


async def measure(relay_home: Path, pairs: int, rounds: int, pid: int) -> dict[str, Any]:
    status = request(Home(relay_home), "status", timeout=5.0)
    relay_addr, relay_id = status["listen_addrs"][0], status["peer_id"]
    async with AsyncExitStack() as stack:
        dests = [await _host(stack, 1000 + i) for i in range(pairs)]
        circuits = []
        for dest in dests:
            dest.set_stream_handler(ECHO, _echo)
            await dest.connect(relay_addr)
            assert dest._nat is not None and await dest._nat._reserve(ID.from_base58(relay_id))
            # now: on loopback the node finds itself reachable and forgets its reservations
            circuits.append(f"{next(str(a) for a in dest._nat.circuit_addrs())}/p2p/{dest.peer_id}")
        direct = await _host(stack, 5000)
        await direct.connect(dests[0].listen_addrs()[0])
        rss0, cpu0 = _proc(pid)
        streams = []
        for i, (dest, circuit) in enumerate(zip(dests, circuits, strict=True)):
            src = await _host(stack, 2000 + i)
            await src.connect(circuit)
            streams.append(await src.open_stream(dest.peer_id, ECHO))
        await trio.sleep(1.0)
        rss1, cpu1 = _proc(pid)
        relayed = await _round_trips(streams[0], PING_BYTES, PINGS)
        direct_stream = await direct.open_stream(dests[0].peer_id, ECHO)
        straight = await _round_trips(direct_stream, PING_BYTES, PINGS)
        started = time.perf_counter()
        for stream in streams:
            await _round_trips(stream, CHUNK, rounds)
        bulk_s = time.perf_counter() - started
        rss2, cpu2 = _proc(pid)
        relayed_mib = pairs * rounds * CHUNK * 2 / (1 << 20)  # both directions pass the relay
    p50r, p50d = statistics.median(relayed), statistics.median(straight)
    return {
        "pairs": pairs,
        "rtt_relayed_ms_p50": round(p50r, 3),
        "rtt_direct_ms_p50": round(p50d, 3),
        "rtt_relayed_ms_p99": round(sorted(relayed)[int(PINGS * 0.99) - 1], 3),
        "rtt_direct_ms_p99": round(sorted(straight)[int(PINGS * 0.99) - 1], 3),
        "rtt_ratio_relayed_vs_direct": round(p50r / p50d, 2),
        "relay_rss_mib_before": round(rss0, 1),
        "relay_rss_kib_per_idle_circuit": round((rss1 - rss0) * 1024 / pairs, 1),
        "relay_cpu_ms_per_circuit_setup": round((cpu1 - cpu0) * 1000 / pairs, 2),
        "relay_cpu_ms_per_mib_relayed": round((cpu2 - cpu1) * 1000 / relayed_mib, 1),
        "relay_rss_mib_after_traffic": round(rss2, 1),
        "relayed_mib": round(relayed_mib, 1),
        "relayed_mib_per_s": round(relayed_mib / bulk_s, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    quiet_libp2p_logging()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "relay"
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        pnyx = [sys.executable, "-m", "pnyx", "--home", str(home)]
        subprocess.run([*pnyx, "init"], check=True, env=env, capture_output=True)
        (home / "config.toml").write_text(RELAY_CONFIG)
        run = [*pnyx, "run", "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-ui"]
        proc = subprocess.Popen(
            [*run, "--relay", "on", "--no-dht"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    request(Home(home), "status", timeout=2.0)
                    break
                except Exception:  # noqa: BLE001 - not up yet
                    if time.monotonic() > deadline or proc.poll() is not None:
                        raise SystemExit("the relay did not start") from None
                    time.sleep(0.1)
            result = trio.run(measure, home, args.pairs, args.rounds, proc.pid)
        finally:
            proc.terminate()
            proc.wait(10)
    if args.json:
        print(json.dumps({"relay": result}))
    else:
        for key, value in result.items():
            print(f"{key:36} {value}")


if __name__ == "__main__":
    main()
