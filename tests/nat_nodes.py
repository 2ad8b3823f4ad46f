"""pnyx node processes inside the namespaces of ``tests.netns_kit`` (issue 17's NAT tests).

``NatCluster(topo, base)`` starts ``pnyx run`` in a relay's or a home's namespace, listening on
that namespace's address at ``NODE_PORT``; the control socket is a file in the node's home, so
the test (in the root namespace) talks to every node as ``tests.netharness`` does.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pnyx.control.client import request
from pnyx.home import Home
from tests.netharness import START_TIMEOUT_S, STOP_TIMEOUT_S, cli, node_env
from tests.netns_kit import Topology
from tests.waiting import wait_until

#: TCP port every node listens on in its namespace (each namespace has its own ports).
NODE_PORT = 4001


class NatNode:
    """One ``pnyx run`` in a namespace."""

    def __init__(self, name: str, home: Path, proc: subprocess.Popen[bytes], logs: Path) -> None:
        self.name = name
        self.home = home
        self.proc = proc
        self.logs_dir = logs

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = request(Home(self.home), "status", timeout=5.0)
        return result

    def reach(self) -> dict[str, Any]:
        return dict(self.status().get("reachability") or {})

    def cli(self, *argv: str) -> str:
        code, out, err = cli(self.home, *argv)
        assert code == 0, f"{self.name}: pnyx {' '.join(argv)} -> {code}: {err}"
        return out

    def peer_rows(self) -> list[dict[str, Any]]:
        return list(self.status()["peers"])

    def logs(self) -> str:
        out = (self.logs_dir / f"{self.name}.out").read_text(errors="replace")
        err = (self.logs_dir / f"{self.name}.err").read_text(errors="replace")
        return f"--- {self.name} stdout ---\n{out}--- {self.name} stderr ---\n{err}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class NatCluster:
    """Nodes in the namespaces of one topology; ``close`` stops them and prints their logs."""

    def __init__(self, topo: Topology, base: Path) -> None:
        self.topo = topo
        self.base = base
        self.nodes: list[NatNode] = []

    def start(self, name: str, ns: str, ip: str, *extra: str) -> NatNode:
        home = self.base / name
        code, _, err = cli(home, "init")
        assert code == 0, err
        logs = self.base / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        argv = [
            sys.executable,
            "-m",
            "pnyx",
            "--home",
            str(home),
            "run",
            "--listen",
            f"/ip4/{ip}/tcp/{NODE_PORT}",
            "--no-mdns",
            "--no-ui",
            *extra,
        ]
        with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err_f:
            env = node_env()
            proc = self.topo.popen(ns, argv, stdout=out, stderr=err_f, env=env)
        node = NatNode(name, home, proc, logs)
        self.nodes.append(node)

        def answered() -> bool:
            if proc.poll() is not None:
                raise AssertionError(f"{name} exited ({proc.returncode}):\n{node.logs()}")
            try:
                node.status()
            except Exception:  # noqa: BLE001 - not up yet
                return False
            return True

        wait_until(answered, timeout=START_TIMEOUT_S, what=f"{name} answers")
        return node

    def close(self) -> None:
        for node in self.nodes:
            node.stop()
            print(node.logs())

    def __enter__(self) -> NatCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def address(node: NatNode, ip: str) -> str:
    """The node's direct address on ``ip`` with its peer id."""
    return f"/ip4/{ip}/tcp/{NODE_PORT}/p2p/{node.status()['peer_id']}"


def elapsed(since: float) -> float:
    return round(time.monotonic() - since, 2)
