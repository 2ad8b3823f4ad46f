"""``pnyx sync``: its output, its refusals, and a fork seen through it (the last ones as separate
OS processes on 127.0.0.1)."""

from __future__ import annotations

import io
import json
import os
import pty
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from pnyx.app.lock import node_lock
from pnyx.catchup.session import summary_line
from pnyx.cli.cmd_sync import BAR_WIDTH, ProgressLine, render_progress
from pnyx.home import Home
from tests.netharness import Cluster, cli, node_env

#: An address nobody listens on (TCP port 1), naming a valid peer id.
NOBODY = "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWG2bdrP8oJqWbChsPNuZHsDAjAMm1t6Yuh1FEfkww5WrP"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_render_progress_bar_and_count() -> None:
    assert render_progress(50, 200, 2.0) == (
        f"syncing [{'#' * (BAR_WIDTH // 4)}{'.' * (BAR_WIDTH - BAR_WIDTH // 4)}] "
        "50/200 messages  25 msg/s"
    )
    assert render_progress(20_000, 20_000, 4.0).startswith(f"syncing [{'#' * BAR_WIDTH}]")
    assert render_progress(300, None, 0.0) == "syncing: 300 messages"


def test_progress_line_draws_only_on_a_terminal_and_erases_itself() -> None:
    terminal = FakeTerminal()
    line = ProgressLine(terminal, enabled=True)
    line.update(128, 1000)
    line.update(256, 1000)  # within PROGRESS_INTERVAL_S of the first: not drawn
    line.finish()
    text = terminal.getvalue()
    assert text.startswith("\rsyncing [") and "128/1,000 messages" in text
    assert "256/" not in text
    assert text.endswith("\r") and text.count("\r") == 3
    plain = io.StringIO()
    quiet = ProgressLine(plain, enabled=False)
    quiet.update(128, 1000)
    quiet.finish()
    assert plain.getvalue() == ""


def test_summary_line_says_what_was_fetched() -> None:
    result = {"fetched": 12, "authors": 3, "duplicates": 4, "rejected": 1}
    expected = "fetched 12 new messages from 3 authors (4 already known, 1 rejected)"
    assert summary_line(result) == expected


def test_sync_refuses_a_bad_author_key(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert cli(home, "init")[0] == 0
    code, out, err = cli(home, "sync", NOBODY, "--author", "pnyx1notakey")
    assert code == 2 and out == "" and "pnyx:" in err


def test_sync_refuses_when_a_node_holds_the_home_without_a_control_socket(
    tmp_path: Path,
) -> None:
    """Another process holds the node lock but answers nothing (it is starting): refuse cleanly
    rather than open the store and the peer id a second time."""
    home = tmp_path / "h"
    assert cli(home, "init")[0] == 0
    with node_lock(Home(home)):
        code, out, err = cli(home, "sync", NOBODY)
    assert code == 2 and out == ""
    assert "already running" in err and err.count("\n") == 1


@pytest.mark.network
@pytest.mark.timeout(60)
def test_sync_with_an_unreachable_peer_fails_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "h"
    assert cli(home, "init")[0] == 0
    done = run_sync(home, NOBODY)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith(f"pnyx: cannot reach {NOBODY}: nothing accepted the connection")
    assert done.stderr.count("\n") == 1 and "with exceptions" not in done.stderr  # issue 24


# --- with real nodes --------------------------------------------------------------------------


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


def run_sync(home: Path, *argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "pnyx", "--home", str(home), "sync", *argv]
    return subprocess.run(
        command, capture_output=True, text=True, env=node_env(), timeout=timeout, check=False
    )


def run_sync_on_terminal(home: Path, *argv: str, timeout: float = 60) -> tuple[int, str, str]:
    """``pnyx sync`` with its stderr on a pseudo-terminal: (status, stdout, terminal output)."""
    command = [sys.executable, "-m", "pnyx", "--home", str(home), "sync", *argv]
    controller, terminal = pty.openpty()
    try:
        done = subprocess.run(
            command,
            stdout=subprocess.PIPE,
            stderr=terminal,
            env=node_env(),
            timeout=timeout,
            check=False,
        )
        os.close(terminal)
        terminal = -1
        shown = bytearray()
        while True:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the terminal side is closed and drained
                break
            if not chunk:
                break
            shown += chunk
    finally:
        if terminal >= 0:
            os.close(terminal)
        os.close(controller)
    return done.returncode, done.stdout.decode(), shown.decode(errors="replace")


@pytest.mark.network
@pytest.mark.timeout(90)
def test_fork_seen_through_sync_keeps_the_first_and_warns(cluster: Cluster) -> None:
    """One key in two homes (its key file copied): h1 posts once, h2 twice, so their seq-1
    messages differ. t syncs from h1, then from h2: it keeps h1's history, records h2's
    conflicting message as fork evidence, and `pnyx feed KEY` warns that the author is forked."""
    h1 = cluster.home("h1")
    h2 = cluster.base / "h2"
    h2.mkdir(mode=0o700)
    shutil.copy2(h1 / "identity.key", h2 / "identity.key")
    key = cluster.key("h1")
    assert cluster.key("h2") == key
    cluster.cli("h1", "post", "from the first home")
    cluster.cli("h2", "post", "from the second home")
    cluster.cli("h2", "post", "second home again")
    cluster.cli("t", "follow", key)
    n1, n2 = (cluster.start(name, "--node-key", "separate") for name in ("h1", "h2"))

    code, out, shown = run_sync_on_terminal(cluster.home("t"), n1.address)
    assert code == 0, shown
    assert out.strip() == "fetched 1 new messages from 1 authors (0 already known, 0 rejected)"
    assert "\rsyncing [" in shown and "1/1 messages" in shown  # the progress bar, then erased

    done = run_sync(cluster.home("t"), n2.address, "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["fetched"] == 0 and result["rejected"] == 1 and result["failure"] is None

    code, out, err = cli(cluster.home("t"), "feed", key)
    assert code == 0
    assert "FORKED" in err and "first at seq 2" in err
    assert "from the first home" in out and "second home" not in out
