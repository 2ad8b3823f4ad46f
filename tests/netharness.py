"""Real pnyx nodes as OS processes, for network tests on 127.0.0.1.

::

    with Cluster(tmp_path) as cluster:
        a = cluster.start("a")                       # pnyx init + pnyx run --listen .../tcp/0
        b = cluster.start("b", "--bootstrap", a.address)
        wait_until(lambda: b.status()["counts"]["peers"] == 1, what="b connects", timeout=10)
        cluster.cli("a", "post", "hello")            # in-process CLI on a's home
        a.stop()                                     # SIGTERM; returns the exit status

Every wait is bounded. Nodes still running when the cluster closes are terminated (then killed);
their stdout and stderr are printed, so pytest shows them when a test fails.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from pnyx.cli.main import main
from pnyx.control.client import request
from pnyx.home import Home
from tests.waiting import wait_until

#: Listen address of test nodes: loopback, a port the kernel picks.
LOCAL_LISTEN = "/ip4/127.0.0.1/tcp/0"
#: Longest a node may take from exec to answering on its control socket, in seconds.
START_TIMEOUT_S = 20.0
#: Longest a node may take to exit after SIGTERM / SIGINT before it is killed, in seconds.
STOP_TIMEOUT_S = 10.0
#: Polling interval of ``wait_until``, in seconds.
POLL_S = 0.02

T = TypeVar("T")


def node_env() -> dict[str, str]:
    """The environment of a node process: no inherited pnyx home or passphrase, unbuffered."""
    env = {k: v for k, v in os.environ.items() if k not in ("PNYX_HOME", "PNYX_PASSPHRASE")}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cli(home: Path, *argv: str) -> tuple[int, str, str]:
    """Run one pnyx command in this process: (exit status, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["--home", str(home), *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


class NodeProcess:
    """One ``pnyx run`` process and its home."""

    def __init__(self, name: str, home: Path, proc: subprocess.Popen[bytes], logs: Path) -> None:
        self.name = name
        self.home = home
        self.proc = proc
        self._out = logs / f"{name}.out"
        self._err = logs / f"{name}.err"

    @classmethod
    def spawn(cls, name: str, home: Path, logs: Path, *extra: str) -> NodeProcess:
        """Start ``pnyx run`` (listening on ``LOCAL_LISTEN``, the web UI on a free loopback port,
        unless ``extra`` says otherwise)."""
        listen = [] if "--listen" in extra else ["--listen", LOCAL_LISTEN]
        if "--mdns" not in extra:  # discovery: tests never bind UDP 5353 unless asked to
            listen.append("--no-mdns")
        if "--ui" not in extra and "--no-ui" not in extra:  # web UI: never the fixed port 4718
            listen += ["--ui", "127.0.0.1:0"]
        argv = [sys.executable, "-m", "pnyx", "--home", str(home), "run", *listen, *extra]
        logs.mkdir(parents=True, exist_ok=True)
        with open(logs / f"{name}.out", "wb") as out, open(logs / f"{name}.err", "wb") as err:
            proc = subprocess.Popen(argv, stdout=out, stderr=err, env=node_env())
        return cls(name, home, proc, logs)

    def wait_ready(self, timeout: float = START_TIMEOUT_S) -> dict[str, Any]:
        """Wait until the control socket answers; returns the first status."""

        def answered() -> dict[str, Any] | None:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"node {self.name} exited ({self.proc.returncode}):\n{self.logs()}"
                )
            try:
                status: dict[str, Any] = request(Home(self.home), "status", timeout=2.0)
            except Exception:  # noqa: BLE001 - not up yet: the socket is missing or refuses
                return None
            return status

        return wait_until(answered, timeout=timeout, what=f"node {self.name} answers")

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = request(Home(self.home), "status", timeout=5.0)
        return result

    def connect(self, other: NodeProcess) -> str:
        result = request(Home(self.home), "connect", timeout=15.0, addr=other.address)
        return str(result["peer_id"])

    @property
    def address(self) -> str:
        return str(self.status()["listen_addrs"][0])

    @property
    def peer_id(self) -> str:
        return str(self.status()["peer_id"])

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = STOP_TIMEOUT_S) -> int:
        """Send ``sig`` and wait for the exit status (kill after ``timeout`` and fail)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(
                    f"node {self.name} ignored {sig.name} for {timeout:g} s"
                ) from None
        return self.proc.returncode

    def stdout(self) -> str:
        return self._out.read_text(errors="replace")

    def stderr(self) -> str:
        return self._err.read_text(errors="replace")

    def logs(self) -> str:
        name = self.name
        return f"--- {name} stdout ---\n{self.stdout()}--- {name} stderr ---\n{self.stderr()}"


class Cluster:
    """Homes and node processes under one directory; closing stops every node."""

    def __init__(self, base: Path) -> None:
        self.base = base
        self.nodes: list[NodeProcess] = []

    def home(self, name: str) -> Path:
        """The home of ``name``, with an identity (created on first use)."""
        home = self.base / name
        if not (home / "identity.key").exists():
            code, _, err = cli(home, "init")
            assert code == 0, err
        return home

    def key(self, name: str) -> str:
        code, out, err = cli(self.home(name), "id")
        assert code == 0, err
        return out.strip()

    def cli(self, name: str, *argv: str) -> str:
        """Run a pnyx command on ``name``'s home in-process; asserts success, returns stdout."""
        code, out, err = cli(self.home(name), *argv)
        assert code == 0, f"pnyx {' '.join(argv)} -> {code}: {err}"
        return out

    def spawn(self, name: str, *extra: str) -> NodeProcess:
        node = NodeProcess.spawn(name, self.home(name), self.base / "logs", *extra)
        self.nodes.append(node)
        return node

    def start(self, name: str, *extra: str) -> NodeProcess:
        node = self.spawn(name, *extra)
        node.wait_ready()
        return node

    def start_many(self, *names: str) -> list[NodeProcess]:
        """Start several nodes at once (they load in parallel), then wait for each."""
        nodes = [self.spawn(name) for name in names]
        for node in nodes:
            node.wait_ready()
        return nodes

    def close(self) -> None:
        for node in self.nodes:
            if node.proc.poll() is None:
                node.proc.terminate()
                try:
                    node.proc.wait(STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    node.proc.kill()
                    node.proc.wait()
            print(node.logs())

    def __enter__(self) -> Cluster:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
