"""The control socket serves clients concurrently: idle clients never lock the user out, and only
the wait for a request is timed, never the answer (``pnyx.control.server``).

Real Unix sockets, trio clients in the same run, virtual time (``autojump_clock``): a handler that
sleeps ten idle timeouts costs nothing. The same with a real node process is in
``test_control_network.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import trio

from pnyx.control.server import IDLE_TIMEOUT_S, MAX_CLIENTS, SEND_TIMEOUT_S, serve_control

#: Virtual-time cap of each test, in seconds.
CAP_S = 50 * IDLE_TIMEOUT_S
#: How long the slow operation takes, in (virtual) seconds: far beyond the idle timeout.
SLOW_S = 10 * IDLE_TIMEOUT_S


async def handler(request: dict[str, Any]) -> Any:
    if request["op"] == "slow":
        await trio.sleep(SLOW_S)
    return {"echo": request["op"]}


async def ask(path: Path, op: str) -> tuple[dict[str, Any] | None, float]:
    """One request on a fresh connection: (the answer or None if the server closed, seconds)."""
    started = trio.current_time()
    async with await trio.open_unix_socket(str(path)) as stream:
        await stream.send_all(json.dumps({"op": op}).encode() + b"\n")
        received = b""
        while b"\n" not in received:
            chunk = await stream.receive_some(65536)
            if not chunk:
                return None, trio.current_time() - started
            received += chunk
    return json.loads(received), trio.current_time() - started


async def closed_by_server(stream: trio.SocketStream) -> bool:
    with trio.move_on_after(1):
        return await stream.receive_some(1) == b""
    return False


async def test_an_operation_longer_than_the_idle_timeout_is_answered(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "c.sock"
    async with serve_control(path, handler):  # binds in a thread: no deadline yet (autojump)
        with trio.fail_after(CAP_S):
            answer, elapsed = await ask(path, "slow")
    assert answer == {"ok": True, "result": {"echo": "slow"}}
    assert elapsed >= SLOW_S


async def test_idle_clients_do_not_keep_the_user_out(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """MAX_CLIENTS clients connect and say nothing; a status request is still answered at once,
    the longest-waiting idle client making room; idle clients are closed after IDLE_TIMEOUT_S."""
    path = tmp_path / "c.sock"
    async with serve_control(path, handler):
        with trio.fail_after(CAP_S):
            idle = [await trio.open_unix_socket(str(path)) for _ in range(MAX_CLIENTS)]
            await trio.sleep(1)  # every idle client is being served (waiting for its request)
            answer, elapsed = await ask(path, "status")
            assert answer == {"ok": True, "result": {"echo": "status"}}
            assert elapsed < 1
            assert await closed_by_server(idle[0])  # the oldest idle client made room
            await trio.sleep(IDLE_TIMEOUT_S)
            assert all([await closed_by_server(s) for s in idle[1:]])  # idle too long
            for stream in idle:
                await stream.aclose()


async def test_when_every_client_is_being_answered_a_new_one_is_told_busy(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    path = tmp_path / "c.sock"
    answers: list[dict[str, Any] | None] = []

    async def slow_client() -> None:
        answers.append((await ask(path, "slow"))[0])

    async with serve_control(path, handler):
        with trio.fail_after(CAP_S):
            async with trio.open_nursery() as nursery:
                for _ in range(MAX_CLIENTS):
                    nursery.start_soon(slow_client)
                await trio.sleep(1)
                answer, elapsed = await ask(path, "status")
                assert answer is not None and answer["ok"] is False
                assert answer["kind"] == "busy" and elapsed < 1
    assert answers == [{"ok": True, "result": {"echo": "slow"}}] * MAX_CLIENTS


async def test_slow_readers_do_not_keep_the_user_out(
    tmp_path: Path, autojump_clock: trio.abc.Clock
) -> None:
    """``MAX_CLIENTS`` clients pipeline requests and never read the answers (issue 23, item 6):
    a new client is answered at once, well within the send timeout, and a slow reader is closed
    after ``SEND_TIMEOUT_S``."""
    path = tmp_path / "c.sock"
    burst = (json.dumps({"op": "big"}).encode() + b"\n") * 200

    async def big_handler(request: dict[str, Any]) -> Any:
        return {"pad": "x" * 64 * 1024}  # answers fill the socket buffers quickly

    async with serve_control(path, big_handler):
        with trio.fail_after(CAP_S):
            async with trio.open_nursery() as nursery:
                slow = [await trio.open_unix_socket(str(path)) for _ in range(MAX_CLIENTS)]
                for stream in slow:
                    nursery.start_soon(stream.send_all, burst)
                await trio.sleep(0.5)  # every slow reader now holds a slot, sending
                answer, elapsed = await ask(path, "status")
                assert answer is not None and "pad" in answer["result"]
                assert elapsed < SEND_TIMEOUT_S
                nursery.cancel_scope.cancel()
            for stream in slow:
                await stream.aclose()
