"""A newcomer's first hour (issue 24, "The newcomer"): the README's commands after ``make run``,
reposts in the timeline, threads that cannot be opened, network errors in words, ``--json`` on
every command that prints, and the small words (plurals, short keys, did-you-mean, packaging)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from pnyx.cli.main import build_parser, unknown_command
from pnyx.node.output import plural
from tests.conftest import Cli, Result

WORKTREE = Path(__file__).resolve().parent.parent


def rows(result: Result) -> list[dict[str, Any]]:
    return [json.loads(line) for line in result.lines]


def _commands() -> list[str]:
    parser = build_parser()
    assert parser._subparsers is not None
    return sorted(parser._subparsers._group_actions[0].choices or {})


# --- small words -------------------------------------------------------------------------------


@pytest.mark.parametrize("typo", ["poll", "invite", "web", "xyzzy"])
def test_did_you_mean_suggests_nothing_far_from_every_command(typo: str) -> None:
    assert "did you mean" not in unknown_command(typo, _commands())


@pytest.mark.parametrize(
    ("typo", "meant"),
    [("psot", "post"), ("folow", "follow"), ("rpost", "repost"), ("improt", "import"),
     ("stat", "status"), ("tread", "thread")],
)  # fmt: skip
def test_did_you_mean_still_catches_typos(typo: str, meant: str) -> None:
    assert unknown_command(typo, _commands()).endswith(f"did you mean {meant!r}?")


def test_a_too_short_key_is_called_too_short(cli: Cli) -> None:
    cli.ok("init")
    result = cli("follow", "pnyx1zzz")
    assert result.code == 2
    assert result.err == "pnyx: too short to be a key: pnyx1... text is 63 characters\n"


def test_counts_agree_with_their_nouns() -> None:
    assert f"following 1 {plural(1, 'author')}" == "following 1 author"
    assert f"following 0 {plural(0, 'author')}" == "following 0 authors"
    assert plural(2, "reply", "replies") == "replies"


def test_the_license_is_an_spdx_string() -> None:
    """setuptools >= 77 warns four times about ``license = { text = ... }`` (a table)."""
    import tomllib

    project = tomllib.loads((WORKTREE / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]
