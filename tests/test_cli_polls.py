"""``pnyx poll``, ``pnyx vote`` and ``pnyx polls`` in-process: the rules reach the user as clear
errors, the tally prints with its reasons, and others' text is escaped."""

from __future__ import annotations

import json

from tests.conftest import Cli


def test_ask_vote_and_read_a_poll(cli: Cli) -> None:
    cli.ok("init")
    poll_id = cli.ok("poll", "Tea or coffee?", "tea", "coffee", "--for", "2h").out.strip()
    assert len(poll_id) == 64
    cli.ok("vote", poll_id[:12], "2")
    again = cli("vote", poll_id[:12], "2")
    assert again.code == 0 and "already voted 2" in again.err
    shown = cli.ok("polls", poll_id[:12]).out
    assert "Tea or coffee?" in shown and "open until" in shown and "(choose one)" in shown
    assert "2. ████████████████████ 100%  coffee  (1 for you, 1 everyone)" in shown
    assert "you voted: 2" in shown
    assert "why: 1 voter counted; for you: 1 voice from 1 you trust (you included)" in shown
    [record] = [json.loads(line) for line in cli.ok("polls", "--json").lines]
    assert record["id"] == poll_id and record["mine"] == [1] and record["voices"] == 1
    assert [o["text"] for o in record["options"]] == ["tea", "coffee"]


def test_refusals_are_clear_and_store_nothing(cli: Cli) -> None:
    cli.ok("init")
    refused: list[tuple[tuple[str, ...], str]] = [
        (("poll", "Q?", "only one"), "2 to 12 options, not 1"),
        (("poll", "Q?", "a", "b", "--for", "1w"), "not a duration"),
        (("poll", "Q?", "a", "b", "--for", "31d"), "1 minute to 30 days"),
        (("vote", "ab" * 32, "1"), "ab"),
    ]
    for argv, error in refused:
        result = cli(*argv)
        assert result.code != 0 and error in result.err, (argv, result.err)
    assert "no polls held" in cli.ok("polls").err
    poll_id = cli.ok("poll", "Q?", "a", "b", "--multiple").out.strip()
    votes: list[tuple[tuple[str, ...], str]] = [
        (("vote", poll_id, "0"), "numbered from 1"),
        (("vote", poll_id, "3"), "options 1 to 2"),
        (("vote", poll_id, "1", "1"), "name each option once"),
    ]
    for argv, error in votes:
        result = cli(*argv)
        assert result.code != 0 and error in result.err, (argv, result.err)
    cli.ok("vote", poll_id, "1", "2")
    assert "(choose any)" in cli.ok("polls").out


def test_text_from_others_is_escaped(cli: Cli) -> None:
    cli.ok("init")
    poll_id = cli.ok("poll", "red\x1b[31m?", "a\x07", "b").out.strip()
    shown = cli.ok("polls", poll_id).out
    assert "\x1b" not in shown and "\x07" not in shown
    assert "red\\x1b[31m?" in shown or "red\\u001b" in shown
