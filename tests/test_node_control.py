"""The control socket, the CLI commands that use it, the node lock, config and node key.

The node runs in-process on the in-memory network; the CLI talks to it over the real Unix socket
from a worker thread, exactly as from another terminal.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import nacl.signing
import pytest
import trio

from pnyx.app.config import EXAMPLE_CONFIG, NodeConfig, load_config, write_example_config
from pnyx.app.lock import node_lock
from pnyx.app.nodekey import load_or_create_node_seed
from pnyx.app.service import open_node
from pnyx.control.client import notify_new_messages, request
from pnyx.errors import ConfigError, KeyFileError, NodeNotRunningError, UserError
from pnyx.home import Home
from pnyx.net.errors import ConnectError
from pnyx.net.memnet import MemoryHub, open_memory_network
from pnyx.node.node import Node
from pnyx.ops import subscribe_labeller
from pnyx.store import Store
from tests.conftest import Cli

#: Real-time cap of each test here, in seconds.
CAP_S = 20


@asynccontextmanager
async def home_node(home: Home, hub: MemoryHub, name: str) -> AsyncIterator[Node]:
    """A node on the in-memory network serving the control socket of ``home``."""
    home.ensure()
    key = nacl.signing.SigningKey(name.encode().ljust(32, b"."))
    with Store.open(home.db_path) as store:
        async with open_node(
            NodeConfig(),
            store=store,
            me=bytes(key.verify_key),
            network_factory=lambda v: open_memory_network(hub, name, v),
            control_path=home.control_socket_path,
        ) as node:
            yield node


async def test_status_peers_connect_notify(tmp_path: Path) -> None:
    hub = MemoryHub()
    home = Home(tmp_path / "a")
    with trio.fail_after(CAP_S):
        async with home_node(home, hub, "a") as node, home_node(Home(tmp_path / "b"), hub, "b"):
            mode = stat.S_IMODE(os.stat(home.control_socket_path).st_mode)
            assert mode == 0o600
            status = await trio.to_thread.run_sync(request, home, "status")
            assert status["peer_id"] == "a"
            assert status["public_key"].startswith("pnyx1")
            assert status["listen_addrs"] == ["/memory/p2p/a"]
            assert status["counts"]["peers"] == 0 and status["counts"]["messages"] == 0
            result = await trio.to_thread.run_sync(
                lambda: request(home, "connect", addr="/memory/p2p/b")
            )
            assert result == {"peer_id": "b"}
            peers = await trio.to_thread.run_sync(request, home, "peers")
            assert peers == [{"peer_id": "b", "direction": "outbound", "address": "/memory/p2p/b"}]
            with pytest.raises(ConnectError, match="no node nobody"):
                await trio.to_thread.run_sync(
                    lambda: request(home, "connect", addr="/memory/p2p/nobody")
                )
            with pytest.raises(UserError, match="not a memory address"):
                await trio.to_thread.run_sync(lambda: request(home, "connect", addr="junk"))
            with pytest.raises(UserError, match="unknown control operation"):
                await trio.to_thread.run_sync(request, home, "reboot")
            assert await trio.to_thread.run_sync(request, home, "notify") is None
            assert node.network.peers()[0].peer_id == "b"
            # a labeller subscribed to while the node runs: fetched at once after the notify
            labeller = nacl.signing.SigningKey(b"l" * 32).verify_key.encode()
            subscribe_labeller(node.store, node.me, labeller.hex())
            assert labeller not in node.wanted_authors()
            await trio.to_thread.run_sync(lambda: notify_new_messages(home, interest=True))
            assert labeller in node.wanted_authors()
    assert not home.control_socket_path.exists()  # removed on stop


async def test_cli_commands_against_a_running_node(tmp_path: Path, cli: Cli) -> None:
    home = Home(cli.home)
    with trio.fail_after(CAP_S):
        async with home_node(home, MemoryHub(), "a"):
            result = await trio.to_thread.run_sync(cli, "status", "--json")
            assert result.code == 0, result.err
            assert json.loads(result.out)["peer_id"] == "a"
            result = await trio.to_thread.run_sync(cli, "status")
            assert result.code == 0 and "peer id:   a" in result.out
            result = await trio.to_thread.run_sync(cli, "peers")
            assert result.out.strip() == "no peers connected"
            result = await trio.to_thread.run_sync(cli, "connect", "/memory/p2p/ghost")
            assert result.code == 1 and result.err.startswith("pnyx: no node ghost")


@pytest.mark.parametrize("command", ["status", "peers", "connect"])
def test_commands_without_a_node_say_so_in_one_line(cli: Cli, command: str) -> None:
    args = [command, "/ip4/127.0.0.1/tcp/1/p2p/x"] if command == "connect" else [command]
    result = cli(*args)
    assert result.code == 2
    assert result.out == ""
    assert result.err.count("\n") == 1 and "no node is running in" in result.err


def test_stale_socket_means_not_running_and_notify_is_quiet(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    home.ensure()
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as dead:
        dead.bind(str(home.control_socket_path))  # bound, never listening: a crashed node's
    with pytest.raises(NodeNotRunningError):
        request(home, "status")
    started = time.monotonic()
    notify_new_messages(home)
    assert time.monotonic() - started < 0.5


async def test_a_stale_socket_file_is_replaced(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    home.ensure()
    home.control_socket_path.write_text("left over")
    with trio.fail_after(CAP_S):
        async with home_node(home, MemoryHub(), "a"):
            status = await trio.to_thread.run_sync(request, home, "status")
            assert status["peer_id"] == "a"


async def test_long_home_paths_still_get_a_socket(tmp_path: Path) -> None:
    home = Home(tmp_path / ("d" * 60) / ("e" * 60))
    with trio.fail_after(CAP_S):
        async with home_node(home, MemoryHub(), "a"):
            assert len(str(home.control_socket_path)) > 108
            status = await trio.to_thread.run_sync(request, home, "status")
            assert status["peer_id"] == "a"


def test_one_node_per_home(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    with node_lock(home), pytest.raises(UserError, match="already running"), node_lock(home):
        pass
    with node_lock(home):  # released on exit
        assert home.lock_path.read_text().strip() == str(os.getpid())


def test_config_file_then_flags(tmp_path: Path) -> None:
    home = Home(tmp_path / "h")
    home.ensure()
    assert load_config(home) == NodeConfig()
    assert write_example_config(home) is True
    assert write_example_config(home) is False
    assert home.config_path.read_text() == EXAMPLE_CONFIG
    assert load_config(home) == NodeConfig()  # the example is all comments
    home.config_path.write_text(
        '[node]\nlisten = ["/ip4/127.0.0.1/tcp/5000"]\npublish_batch_ms = 50\n'
        'node_key = "separate"\n[other]\nx = 1\n'
    )
    config = load_config(home, {"listen": ["/ip4/127.0.0.1/tcp/0"], "log_level": None})
    assert config.listen == ("/ip4/127.0.0.1/tcp/0",)
    assert config.publish_batch_ms == 50 and config.node_key == "separate"
    assert config.log_level == "info"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[node]\nlisten = 5\n", "must be a list"),
        ('[node]\nlisten = ["tcp:4001"]\n', "not a multiaddr"),
        ('[node]\nnode_key = "mine"\n', "must be one of identity, separate"),
        ("[node]\npublish_batch_ms = 5000\n", "0..1000"),
        ("[node]\nlistne = []\n", "unknown setting 'listne'"),
        ("[node\n", "not valid TOML"),
        ("node = 3\n", "must be a table"),
    ],
)
def test_bad_config_is_named(tmp_path: Path, text: str, message: str) -> None:
    home = Home(tmp_path / "h")
    home.ensure()
    home.config_path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_config(home)


def test_separate_node_key(tmp_path: Path) -> None:
    path = tmp_path / "node.key"
    seed = load_or_create_node_seed(path)
    assert len(seed) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_node_seed(path) == seed
    path.chmod(0o644)
    with pytest.raises(KeyFileError, match="readable by others"):
        load_or_create_node_seed(path)
    path.chmod(0o600)
    path.write_text("not hex\n")
    with pytest.raises(KeyFileError, match="damaged"):
        load_or_create_node_seed(path)
