"""The web UI's settings, `pnyx token` and `pnyx run --ui`, and the live-arrival fan-out, all
without sockets."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from pnyx.app.config import load_config
from pnyx.errors import ConfigError, UserError
from pnyx.home import Home
from pnyx.web.auth import TOKEN_FILE, LoginCodes
from pnyx.web.context import MAX_LISTENERS, Arrivals
from pnyx.web.serve import check_listen, parse_listen, url_of
from pnyx.web.sessions import SESSION_IDLE_S, Sessions
from tests.conftest import Cli


def test_listen_addresses() -> None:
    assert parse_listen("127.0.0.1:4718") == ("127.0.0.1", 4718)
    assert parse_listen("[::1]:0") == ("::1", 0)
    assert url_of("::1", 5) == "http://[::1]:5"
    assert url_of("0.0.0.0", 5) == "http://127.0.0.1:5"
    for bad in ("127.0.0.1", "127.0.0.1:x", ":80", "127.0.0.1:70000"):
        with pytest.raises(ConfigError):
            parse_listen(bad)
    assert check_listen("localhost:1", public=False) == ("localhost", 1)
    with pytest.raises(ConfigError, match="not loopback"):
        check_listen("0.0.0.0:4718", public=False)
    assert check_listen("0.0.0.0:4718", public=True) == ("0.0.0.0", 4718)


def test_the_ui_table_of_config_toml(tmp_path: Path) -> None:
    home = Home(tmp_path)
    tmp_path.joinpath("config.toml").write_text(
        '[ui]\nlisten = "127.0.0.1:9999"\nenabled = false\n'
    )
    config = load_config(home)
    assert (config.ui_listen, config.ui, config.ui_public) == ("127.0.0.1:9999", False, False)
    config = load_config(home, {"ui_listen": "[::1]:1", "ui": None})
    assert config.ui_listen == "[::1]:1"
    tmp_path.joinpath("config.toml").write_text("[ui]\nport = 1\n")
    with pytest.raises(ConfigError, match="unknown setting 'port'"):
        load_config(home)
    tmp_path.joinpath("config.toml").write_text('[ui]\nlisten = "nowhere"\n')
    with pytest.raises(ConfigError, match="HOST:PORT"):
        load_config(home)


def test_run_refuses_a_public_ui_address_without_ui_public(cli: Cli) -> None:
    cli.ok("init")
    result = cli("run", "--listen", "/ip4/127.0.0.1/tcp/0", "--ui", "0.0.0.0:4718")
    assert result.code == 2 and "not loopback" in result.err and "--ui-public" in result.err


def test_token_commands(cli: Cli) -> None:
    cli.ok("init")
    created = json.loads(
        cli.ok("token", "create", "--scope", "read, write", "--name", "bot", "--json").out
    )
    assert created["scopes"] == ["read", "write"] and len(created["token"]) >= 40
    plain = cli.ok("token", "create", "--scope", "read")
    assert "shown once" in plain.err
    rows = [json.loads(line) for line in cli.ok("token", "list", "--json").out.splitlines()]
    assert [r["name"] for r in rows] == ["bot", ""]
    assert all("sha256" not in r and "token" not in r for r in rows)
    assert created["token"] not in cli.home.joinpath(TOKEN_FILE).read_text()
    cli.ok("token", "revoke", created["id"])
    assert [
        r["id"] for r in map(json.loads, cli.ok("token", "list", "--json").out.splitlines())
    ] == [rows[1]["id"]]
    assert cli("token", "revoke", created["id"]).code == 2
    bad = cli("token", "create", "--scope", "admin")
    assert bad.code == 2 and "read, write, moderate" in bad.err


def test_ui_needs_a_running_node(cli: Cli) -> None:
    cli.ok("init")
    result = cli("ui", "--no-browser")
    assert result.code == 2 and "no node is running" in result.err


def test_login_codes_and_sessions_expire() -> None:
    now = [0.0]
    codes = LoginCodes(lambda: now[0])
    late = codes.issue()
    now[0] = 10_000.0
    assert not codes.consume(late)
    sessions = Sessions(wall=lambda: now[0])
    sid, session = sessions.create()
    assert sessions.get(sid) == session and sessions.get("other") is None
    now[0] += SESSION_IDLE_S + 1
    assert sessions.get(sid) is None


async def test_arrivals_reach_every_listener_and_never_block() -> None:
    arrivals = Arrivals()
    with arrivals.listen() as one, arrivals.listen() as two:
        for _ in range(100):  # more than a listener buffers: the rest are dropped, not waited on
            arrivals.publish(1)
        assert await one.receive() == 1 and await two.receive() == 1
    with arrivals.listen():
        pass
    assert not arrivals.full()
    with contextlib.ExitStack() as stack:
        for _ in range(MAX_LISTENERS):
            stack.enter_context(arrivals.listen())
        assert arrivals.full()
        with pytest.raises(UserError), arrivals.listen():
            pass
    assert not arrivals.full()
