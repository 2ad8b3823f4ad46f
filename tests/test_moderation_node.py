"""The node's live output applies the user's policy: a muted author's arriving post is not shown
(``pnyx run``'s lines) nor counted for the web's live bar, and the policy follows the user's
mutes at once (a nudge after a private mute; the publisher noticing a public one)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
import trio

from tests.test_node_logic import CAP_S, new_swarm, now_ms
from tests.waiting import eventually


def _post_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("post from")]


async def test_a_muted_authors_arriving_posts_are_not_shown(
    tmp_path: Path, autojump_clock: trio.abc.Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="pnyx.node")
    with trio.fail_after(CAP_S):
        async with new_swarm(tmp_path) as swarm:
            a, b = await swarm.line("a", "b")
            b.follow(a)
            await eventually(lambda: a.me in b.node.wanted_authors(), "b wants a")
            a.post("shown before the mute")
            a.node.nudge()
            await eventually(lambda: "shown before the mute" in b.texts(a), "b stores it")
            assert any("shown before the mute" in line for line in _post_lines(caplog))

            b.store.set_private_mute(a.me, True, now_ms())  # what `pnyx mute --private` does
            b.node.nudge()  # ... and the CLI's notify
            await eventually(lambda: b.node.output.policy.author(a.me) is not None, "reloaded")
            a.post("hidden by the private mute")
            a.node.nudge()
            await eventually(lambda: "hidden by the private mute" in b.texts(a), "b stores it")
            assert not any("hidden by" in line for line in _post_lines(caplog))
            stored = b.store.feed(a.me, limit=1).items[0].message
            assert not b.node.output.shown(stored)  # the web's live bar counts with this

            b.store.set_private_mute(a.me, False, now_ms())
            b.node.nudge()
            await eventually(lambda: b.node.output.policy.author(a.me) is None, "unmuted")
            b.store.append_own(b.key, "mute", {"key": a.me}, now_ms())  # a public mute, no nudge
            await eventually(lambda: b.node.output.policy.author(a.me) == "mute", "publisher")
            a.post("hidden by the public mute")
            a.node.nudge()
            await eventually(lambda: "hidden by the public mute" in b.texts(a), "b stores it")
            assert not any("hidden by" in line for line in _post_lines(caplog))
