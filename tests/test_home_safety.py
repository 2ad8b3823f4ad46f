"""A home another user could tamper with is refused, and pnyx never follows a link in it.

Every command checks the home first (``pnyx.home.Home.check``): the directory and its files must be
the user's (or root's) and not writable by group or others. The lock, key, socket and mark files
are opened without following symbolic links (``open_private``), so a link planted there never makes
pnyx truncate, read or write another file. CLI failures are one line and exit 2.

These tests run as root and as a normal user; "owned by another user" needs ``chown``, so those
parts run only as root.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
import trio

from pnyx.app.lock import node_lock
from pnyx.app.nodekey import load_or_create_node_seed
from pnyx.control.client import request
from pnyx.control.server import serve_control
from pnyx.discovery.peerbook import PEERBOOK_FILE
from pnyx.errors import KeyFileError
from pnyx.home import HOME_FILES, NO_LINK_FILES, Home, UnsafeHomeError
from pnyx.node.republish import ONLINE_MARK_FILE, OnlineMark
from tests.conftest import Cli

#: A uid that is not the user's (nor root's), for the chown parts (root only).
OTHER_UID = 4242
#: What the victim file holds; it must still hold it after every attack.
VICTIM_TEXT = "precious\n"
#: Commands that must refuse an unsafe home (reading, writing, the node, the control socket).
COMMANDS = [
    ["id"],
    ["timeline"],
    ["post", "hi"],
    ["status"],
    ["run", "--listen", "/ip4/127.0.0.1/tcp/0"],
]

#: On code without the check, ``pnyx run`` in an unsafe home would start a node and never return.
pytestmark = pytest.mark.timeout(60)

as_root = pytest.mark.skipif(os.geteuid() != 0, reason="chown to another uid needs root")


def one_line(text: str) -> str:
    assert text.count("\n") == 1 and "Traceback" not in text, text
    return text


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    path = tmp_path / "victim.txt"
    path.write_text(VICTIM_TEXT)
    return path


@pytest.fixture
def home(cli: Cli) -> Path:
    cli.ok("init")
    cli.ok("post", "before")
    return cli.home


def refused(cli: Cli, argv: list[str], needle: str) -> None:
    result = cli(*argv)
    assert result.code == 2, (argv, result)
    assert needle in one_line(result.err), (argv, result.err)
    assert result.err.startswith("pnyx: refusing"), result.err


@pytest.mark.parametrize("argv", COMMANDS)
def test_a_home_others_can_write_is_refused(cli: Cli, home: Path, argv: list[str]) -> None:
    home.chmod(0o777)
    refused(cli, argv, "other users can write to it (mode 0777)")
    home.chmod(0o700)
    assert cli.ok("timeline").out.count("before") == 1


def test_a_group_writable_file_in_the_home_is_refused(cli: Cli, home: Path) -> None:
    (home / "pnyx.db").chmod(0o664)
    refused(cli, ["timeline"], f"{home / 'pnyx.db'}: other users can write to it (mode 0664)")


@as_root
@pytest.mark.parametrize("name", [None, "pnyx.db", "identity.key", "config.toml"])
def test_a_home_or_file_of_another_user_is_refused(cli: Cli, home: Path, name: str | None) -> None:
    target = home if name is None else home / name
    if not target.exists():
        target.write_text("")
        target.chmod(0o600)
    os.chown(target, OTHER_UID, -1)
    refused(cli, ["timeline"], f"belongs to uid {OTHER_UID}, not to you")


@pytest.mark.parametrize("name", NO_LINK_FILES)
def test_a_link_in_place_of_a_private_file_is_refused(
    cli: Cli, home: Path, victim: Path, name: str
) -> None:
    (home / name).unlink(missing_ok=True)
    (home / name).symlink_to(victim)
    for argv in COMMANDS:
        refused(cli, argv, f"{home / name}: it is a symbolic link")
    assert victim.read_text() == VICTIM_TEXT


@as_root
def test_the_reported_attack_a_shared_home_with_a_linked_lock(
    cli: Cli, home: Path, victim: Path
) -> None:
    """Another user's 0777 home with node.lock linked to the user's file: refused, untouched."""
    os.chown(home, OTHER_UID, -1)
    home.chmod(0o777)
    (home / "node.lock").symlink_to(victim)
    refused(cli, ["run", "--listen", "/ip4/127.0.0.1/tcp/0"], f"belongs to uid {OTHER_UID}")
    assert victim.read_text() == VICTIM_TEXT


def test_the_lock_is_never_opened_through_a_link_or_a_hard_link(
    tmp_path: Path, victim: Path
) -> None:
    """Below the CLI's check (a link planted after it): the lock's own open refuses."""
    home = Home(tmp_path / "h")
    home.ensure()
    home.lock_path.symlink_to(victim)
    with pytest.raises(UnsafeHomeError, match="symbolic link"), node_lock(home):
        pass
    home.lock_path.unlink()
    os.link(victim, home.lock_path)
    with pytest.raises(UnsafeHomeError, match="2 hard links"), node_lock(home):
        pass
    assert victim.read_text() == VICTIM_TEXT


def test_key_files_are_never_read_through_a_link(tmp_path: Path, cli: Cli, home: Path) -> None:
    elsewhere = tmp_path / "elsewhere.key"
    os.replace(home / "identity.key", elsewhere)
    (home / "identity.key").symlink_to(elsewhere)
    from pnyx.crypto.keyfile import load_identity

    with pytest.raises(KeyFileError, match="symbolic link"):
        load_identity(home / "identity.key", None)
    node_key = tmp_path / "node.key"
    load_or_create_node_seed(node_key)
    (home / "node.key").symlink_to(node_key)
    with pytest.raises(UnsafeHomeError, match="symbolic link"):
        load_or_create_node_seed(home / "node.key")


def test_the_online_mark_is_never_read_or_written_through_a_link(
    tmp_path: Path, victim: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING)
    victim.write_text("1700000000000\n")
    mark = OnlineMark(tmp_path / ONLINE_MARK_FILE)
    mark.path.symlink_to(victim)
    assert mark.read() is None and "symbolic link" in caplog.text
    (tmp_path / f"{ONLINE_MARK_FILE}.tmp").symlink_to(victim)
    mark.write(1_800_000_000_000)  # replaces the links with its own file
    assert victim.read_text() == "1700000000000\n"
    assert not mark.path.is_symlink() and mark.read() == 1_800_000_000_000


async def test_the_control_socket_is_never_a_link(tmp_path: Path, victim: Path) -> None:
    home = Home(tmp_path / "h")
    home.ensure()
    home.control_socket_path.symlink_to(victim)
    with pytest.raises(UnsafeHomeError, match="symbolic link"):
        async with serve_control(home.control_socket_path, lambda request: trio.sleep(0)):
            pass
    assert home.control_socket_path.is_symlink() and victim.read_text() == VICTIM_TEXT
    with pytest.raises(UnsafeHomeError, match="symbolic link"):
        request(home, "status")


def test_what_pnyx_creates_passes_its_own_check_whatever_the_umask(cli: Cli) -> None:
    saved = os.umask(0)
    try:
        cli.ok("init")
        cli.ok("post", "with umask 000")
        from pnyx.app.config import write_example_config

        assert write_example_config(Home(cli.home))
        assert cli.ok("timeline").out.count("with umask 000") == 1
    finally:
        os.umask(saved)
    assert stat.S_IMODE(cli.home.stat().st_mode) == 0o700
    for path in cli.home.iterdir():
        assert not path.stat().st_mode & 0o022, path


def test_readable_homes_links_to_own_files_and_fresh_paths_still_work(
    tmp_path: Path, cli: Cli, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home.chmod(0o755)  # readable by others: allowed (the store holds public messages)
    (home / "pnyx.db").chmod(0o644)
    assert cli.ok("timeline").out.count("before") == 1
    moved = tmp_path / "real-home"
    os.replace(home, moved)
    home.symlink_to(moved)  # the user's own link to the user's own home
    assert cli.ok("timeline").out.count("before") == 1
    fresh = tmp_path / "fresh" / "deep"  # $PNYX_HOME at a path that does not exist yet
    monkeypatch.setenv("PNYX_HOME", str(fresh))
    from pnyx.cli.main import main

    assert main(["init"]) == 0 and stat.S_IMODE(fresh.stat().st_mode) == 0o700


def test_the_checked_names_are_the_files_the_node_writes() -> None:
    home = Home(Path("/h"))
    named = {home.key_path, home.node_key_path, home.db_path, home.config_path}
    named |= {home.control_socket_path, home.lock_path}
    assert {p.name for p in named} | {PEERBOOK_FILE, ONLINE_MARK_FILE} <= set(HOME_FILES)
