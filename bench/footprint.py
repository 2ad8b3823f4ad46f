"""Benchmark 6, footprint: memory of a process holding the store, and bytes on disk per message;
the node's start-up time and memory with the web UI and with ``--no-ui``.

Measured in child processes (so this script's own datasets do not count): the resident set (RSS)
of a process holding an empty store open (the stand-in for an idle node, see NODE HOOK below) and
of one holding the timeline benchmark's store (``messages`` messages) open after serving a
timeline page, a deep page and a thread. Target: <= 150 MB each. Disk: the store's files divided by
the messages held, next to the mean size of one envelope (the bytes that must be kept).

The web UI's cost: the same idle node on a new home started alternately with the web UI and
with ``--no-ui`` (``START_RUNS`` each): median start-up (spawn until the control socket exists)
and RSS after ``NODE_SETTLE_S``, and their ratios (``start_ui_vs_no_ui``, ``rss_ui_vs_no_ui``).

Reference (same run): RSS of a bare interpreter started the same way.

Usage: ``python bench/footprint.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--followed N]``
"""

from __future__ import annotations

import shutil
import statistics
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
from datasets import Spec, timeline_home

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"messages": 3_000, "authors": 100, "followed": 20, "thread": 20},
    "quick": {"messages": 100_000, "authors": 1_000, "followed": 100, "thread": 200},
    "full": {"messages": 1_000_000, "authors": 10_000, "followed": 1_000, "thread": 200},
}
#: RSS target of an idle node and of a node holding the full store, in MB (10**6 bytes).
TARGET_RSS_MB = 150.0
#: How long a child may take to get ready, in seconds.
READY_TIMEOUT_S = 120.0
#: Bytes in a megabyte as reported here.
MB = 1_000_000

# ---------------------------------------------------------------------------------------------
#: The argv that starts an idle node on a home ({home} is replaced): ``node_rss_mb`` measures the
#: real node (trio, libp2p, its tasks), on a new home and on a copy of the full store's home.
NODE_COMMAND: list[str] | None = [
    sys.executable, "-m", "pnyx", "--home", "{home}", "run",
    "--listen", "/ip4/127.0.0.1/tcp/0", "--no-mdns", "--no-dht", "--ui", "127.0.0.1:0",
]  # fmt: skip
#: The argv that exits 0 once the node answers on its control socket.
NODE_READY: list[str] | None = [sys.executable, "-m", "pnyx", "--home", "{home}", "status"]
#: Creates the identity of a new home for the idle node ({home} is replaced).
NODE_INIT = [sys.executable, "-m", "pnyx", "--home", "{home}", "init"]
#: How long the node runs idle before it is measured, in seconds.
NODE_SETTLE_S = 5.0
#: The control socket's name in the home (``pnyx.home.Home.control_socket_path``): its
#: appearing marks the end of the node's start-up.
CONTROL_SOCKET = "control.sock"
#: Start-ups timed per mode (with and without the web UI), a count; the median is reported.
START_RUNS = 3
#: How often start-up polls for the control socket, in seconds.
START_POLL_S = 0.01
# ---------------------------------------------------------------------------------------------

_HOLDER = """
import sys
from pathlib import Path
from pnyx.store import Store
db, me, root = Path(sys.argv[1]), sys.argv[2], sys.argv[3]
store = Store.open(db, readonly=db.exists() and me != "-")
if me != "-":
    first = store.timeline(bytes.fromhex(me), limit=50)
    page = first
    for _ in range(20):
        if page.next is None:
            break
        page = store.timeline(bytes.fromhex(me), limit=50, before=page.next)
    if root != "-":
        store.thread(bytes.fromhex(root))
store.counts()
print("ready", flush=True)
sys.stdin.read()
"""
_BARE = "import sys\nprint('ready', flush=True)\nsys.stdin.read()\n"


def child_rss(code: str, *args: str) -> tuple[float, float]:
    """(RSS, USS) in MB of a child running ``code`` once it prints "ready"."""
    child = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        cwd=ROOT,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        if line.strip() != b"ready":
            raise RuntimeError(f"the measured child did not get ready (exit {child.poll()})")
        info = psutil.Process(child.pid).memory_full_info()
        return info.rss / MB, info.uss / MB
    finally:
        child.kill()
        child.wait()


def _node_argv(home: Path, ui: bool) -> list[str]:
    assert NODE_COMMAND is not None
    argv = [part.replace("{home}", str(home)) for part in NODE_COMMAND]
    if not ui:  # the same node without the web server
        at = argv.index("--ui")
        argv[at : at + 2] = ["--no-ui"]
    return argv


def node_run(home: Path, *, ui: bool = True, settle: bool = True) -> tuple[float, float]:
    """(start-up seconds, RSS in MB) of ``pnyx run`` on ``home``, with or without the web UI.

    Start-up: from spawning the process until its control socket exists (the node serves it
    last, after the network, sync, discovery and the web server are up), polled every
    ``START_POLL_S``; then ``NODE_READY`` confirms it answers. RSS after ``NODE_SETTLE_S`` idle
    seconds (0 when ``settle`` is False: a start-up sample only)."""
    assert NODE_READY is not None
    ready = [part.replace("{home}", str(home)) for part in NODE_READY]
    socket = home / CONTROL_SOCKET
    socket.unlink(missing_ok=True)
    began = time.perf_counter()
    node = subprocess.Popen(
        _node_argv(home, ui), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not socket.exists():
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the node did not start")
            time.sleep(START_POLL_S)
        started = time.perf_counter() - began
        while subprocess.run(ready, capture_output=True, check=False).returncode != 0:
            if node.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the node did not answer")
            time.sleep(0.2)
        if not settle:
            return started, 0.0
        time.sleep(NODE_SETTLE_S)
        rss: float = psutil.Process(node.pid).memory_info().rss / MB
        return started, rss
    finally:
        node.terminate()
        try:
            node.wait(timeout=10)
        except subprocess.TimeoutExpired:
            node.kill()
            node.wait()


def node_rss_mb(home: Path) -> float | None:
    """RSS of ``pnyx run`` on ``home`` after NODE_SETTLE_S idle seconds (None: hook not set)."""
    if NODE_COMMAND is None or NODE_READY is None:
        return None
    return node_run(home)[1]


def with_and_without_ui(home: Path) -> dict[str, float]:
    """The same idle node on ``home`` started with the web UI and with ``--no-ui``, alternately,
    ``START_RUNS`` times each: the median start-up and the RSS of the first settled run."""
    starts: dict[bool, list[float]] = {True: [], False: []}
    rss: dict[bool, float] = {}
    for run in range(START_RUNS):
        for ui in (False, True):
            started, resident = node_run(home, ui=ui, settle=run == 0)
            starts[ui].append(started)
            if run == 0:
                rss[ui] = resident
    return {
        "idle_node_start_s": statistics.median(starts[True]),
        "idle_node_no_ui_start_s": statistics.median(starts[False]),
        "idle_node_rss_mb": rss[True],
        "idle_node_no_ui_rss_mb": rss[False],
    }


def disk_bytes(db: Path) -> int:
    """Bytes of the store on disk: the database and its WAL and shared-memory files."""
    return sum(
        path.stat().st_size
        for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm"))
        if path.exists()
    )


def run(params: dict[str, Any], cache: Path) -> Result:
    spec = Spec(
        messages=params["messages"],
        authors=params["authors"],
        followed=params["followed"],
        thread=params["thread"],
    )
    home, meta = timeline_home(spec, cache)
    db = home / "pnyx.db"
    log(f"footprint: processes holding an empty store and a store of {meta['messages']:,}")
    bare_rss, bare_uss = child_rss(_BARE)
    with tempfile.TemporaryDirectory(prefix="pnyx-bench-footprint-") as tmp:
        empty_rss, empty_uss = child_rss(_HOLDER, str(Path(tmp) / "pnyx.db"), "-", "-")
    full_rss, full_uss = child_rss(_HOLDER, str(db), meta["me"], meta["thread_root"] or "-")
    on_disk = disk_bytes(db)
    result = Result(name="footprint", params=params)
    result.figures = {
        "empty_store_process_rss_mb": empty_rss,
        "empty_store_process_uss_mb": empty_uss,
        "full_store_process_rss_mb": full_rss,
        "full_store_process_uss_mb": full_uss,
        "disk_bytes_per_message": on_disk / meta["messages"],
        "disk_mb": on_disk / MB,
    }
    envelope_mean = meta["envelope_bytes"] / meta["messages"]
    result.reference = {
        "bare_python_rss_mb": bare_rss,
        "bare_python_uss_mb": bare_uss,
        "envelope_bytes_mean": envelope_mean,
    }
    result.ratios = {
        "full_store_rss_vs_bare": full_rss / bare_rss,
        "disk_per_message_vs_envelope": (on_disk / meta["messages"]) / envelope_mean,
    }
    idle, idle_name = empty_rss, "empty_store_process_rss"
    full, full_name = full_rss, "full_store_process_rss"
    node_idle = node_full = None
    if NODE_COMMAND is not None:
        with tempfile.TemporaryDirectory(prefix="pnyx-bench-node-", dir=cache) as tmp:
            fresh, copy = Path(tmp) / "fresh", Path(tmp) / "full"
            init = [part.replace("{home}", str(fresh)) for part in NODE_INIT]
            subprocess.run(init, capture_output=True, check=True)
            ui_split = with_and_without_ui(fresh)  # the idle node, with and without the UI
            node_idle = ui_split["idle_node_rss_mb"]
            shutil.copytree(home, copy)  # the node writes to its home: never to the cache
            node_full = node_rss_mb(copy)
    if node_idle is not None and node_full is not None:
        result.figures.update(ui_split)
        result.ratios["start_ui_vs_no_ui"] = (
            ui_split["idle_node_start_s"] / ui_split["idle_node_no_ui_start_s"]
        )
        result.ratios["rss_ui_vs_no_ui"] = (
            ui_split["idle_node_rss_mb"] / ui_split["idle_node_no_ui_rss_mb"]
        )
        added_s = ui_split["idle_node_start_s"] - ui_split["idle_node_no_ui_start_s"]
        added_mb = ui_split["idle_node_rss_mb"] - ui_split["idle_node_no_ui_rss_mb"]
        log(
            f"footprint: the web UI adds {added_s:+.2f} s start-up "
            f"(ratio {result.ratios['start_ui_vs_no_ui']:.2f}) and {added_mb:+.1f} MB RSS "
            f"(ratio {result.ratios['rss_ui_vs_no_ui']:.2f})"
        )
        result.figures["node_full_rss_mb"] = node_full
        idle, idle_name = node_idle, "idle_node_rss"
        full, full_name = node_full, "node_full_rss"
    else:
        result.notes.append(
            "NODE HOOK not set: the idle-node figure is a process holding an empty store open, "
            "the full-store figure a process holding the store open after serving pages"
        )
    result.target(idle_name, idle, "<=", TARGET_RSS_MB, "MB")
    result.target(full_name, full, "<=", TARGET_RSS_MB, "MB")
    result.notes.append(
        "RSS counts the store's memory-mapped pages read so far; USS is the process's private "
        "memory; MB = 10**6 bytes"
    )
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("footprint", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
