"""The CLI as a new user found it, with real processes: Ctrl-C during ``pnyx sync`` and
``pnyx connect`` to a dead address of a peer that is already connected."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.netharness import Cluster, cli, node_env

#: A well-formed peer id nobody runs (the stalling listener below never speaks libp2p).
SOMEONE = "12D3KooWG2bdrP8oJqWbChsPNuZHsDAjAMm1t6Yuh1FEfkww5WrP"
#: Longest wait for the sync process to dial the stalling listener, in seconds.
DIAL_WAIT_S = 60.0
#: Longest wait for the interrupted process to exit, in seconds.
EXIT_WAIT_S = 30.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def _dead_port() -> int:
    """A loopback TCP port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.network
@pytest.mark.timeout(120)
def test_ctrl_c_during_sync_prints_one_line_and_exits_130(tmp_path: Path) -> None:
    """A peer that accepts the TCP connection and never answers: the sync is waiting inside
    trio and libp2p when SIGINT arrives."""
    home = tmp_path / "h"
    assert cli(home, "init")[0] == 0
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        listener.settimeout(DIAL_WAIT_S)
        port = listener.getsockname()[1]
        address = f"/ip4/127.0.0.1/tcp/{port}/p2p/{SOMEONE}"
        command = [sys.executable, "-m", "pnyx", "--home", str(home), "sync", address]
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=node_env(), text=True
        )
        try:
            accepted, _ = listener.accept()  # the process is now dialling, inside trio.run
            with accepted:
                proc.send_signal(signal.SIGINT)
                out, err = proc.communicate(timeout=EXIT_WAIT_S)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 130, err
    assert err == "pnyx: interrupted\n"
    assert out == ""


@pytest.mark.network
@pytest.mark.timeout(120)
def test_connect_to_a_dead_address_of_a_connected_peer_says_so(cluster: Cluster) -> None:
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    dead = f"/ip4/127.0.0.1/tcp/{_dead_port()}/p2p/{b.peer_id}"
    code, out, err = cli(a.home, "connect", dead)
    assert code == 0, err
    assert out.startswith(f"already connected to {b.peer_id} (via /ip4/127.0.0.1/tcp/")
    assert out.endswith("; the address given did not answer\n") and out.count("\n") == 1
    code, out, err = cli(a.home, "connect", b.address)  # its real address answers
    assert (code, err) == (0, "")
    assert out.startswith(f"already connected to {b.peer_id}")
    assert out.endswith("; the address given answers too\n")
    nobody = f"/ip4/127.0.0.1/tcp/{_dead_port()}/p2p/{SOMEONE}"
    code, out, err = cli(a.home, "connect", nobody)  # not connected: still a failure
    assert code == 1 and out == "" and err.startswith("pnyx: ") and err.count("\n") == 1
