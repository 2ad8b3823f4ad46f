"""A real node process keeps answering its user while idle clients sit on its control socket.

Before, the node served at most 16 control connections and gave each 30 s to go idle: 16 silent
clients (a stuck script, a terminal left open) made ``pnyx status`` wait 30 s.
"""

from __future__ import annotations

import socket
import time
from pathlib import Path

import pytest

from pnyx.control.client import request
from pnyx.control.server import MAX_CLIENTS
from pnyx.home import Home
from tests.netharness import Cluster

#: Longest a status request may take with the idle clients connected, in seconds (it takes
#: milliseconds; the cap is generous for a loaded machine, far below the 30 s idle timeout).
PROMPT_S = 5.0


@pytest.mark.network
def test_idle_control_clients_do_not_block_status(tmp_path: Path) -> None:
    with Cluster(tmp_path) as cluster:
        node = cluster.start("a")
        home = Home(node.home)
        idle: list[socket.socket] = []
        try:
            for _ in range(MAX_CLIENTS):
                client = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                idle.append(client)
                client.connect(str(home.control_socket_path))
            started = time.monotonic()
            status = request(home, "status", timeout=PROMPT_S)
            elapsed = time.monotonic() - started
            print(f"status with {MAX_CLIENTS} idle control clients: {elapsed * 1000:.0f} ms")
            assert status["peer_id"] == node.peer_id
            assert elapsed < PROMPT_S
        finally:
            for client in idle:
                client.close()
        assert node.stop() == 0
