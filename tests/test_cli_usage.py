"""The CLI's usage errors, help, "did you mean", shell completion and its one exit-code mapping
(issue 12, "CLI, as a new user found it"), through ``main(argv)`` and a real bash."""

from __future__ import annotations

import argparse
import subprocess
from typing import Any

import pytest
import trio

from pnyx.cli import cmd_read
from pnyx.cli.main import build_parser
from pnyx.errors import UserError
from tests.conftest import Cli

# --- usage errors, help, did you mean, completion ----------------------------------------------


def test_usage_errors_print_the_commands_usage_and_one_error_line(cli: Cli) -> None:
    missing = cli("post")
    assert missing.code == 2 and missing.out == ""
    assert missing.err.startswith("usage: pnyx post ")
    last = missing.err.splitlines()[-1]
    assert last == "pnyx: error: the following arguments are required: TEXT"
    assert "pnyx: pnyx:" not in missing.err
    bad_flag = cli("--bogus")
    assert bad_flag.code == 2 and bad_flag.err.startswith("usage: pnyx ")
    assert bad_flag.err.splitlines()[-1] == "pnyx: error: unrecognized arguments: --bogus"
    bad_limit = cli("timeline", "--limit", "many")
    assert bad_limit.code == 2 and bad_limit.err.startswith("usage: pnyx timeline ")
    assert "whole number of messages, 1..1000" in bad_limit.err.splitlines()[-1]


def test_a_mistyped_command_gets_a_suggestion(cli: Cli) -> None:
    typo = cli("psot", "hello")
    assert typo.code == 2
    assert typo.err.splitlines()[-1] == "pnyx: error: unknown command 'psot'; did you mean 'post'?"
    far = cli("xyzzy")
    assert far.code == 2 and "the commands are: " in far.err and "timeline" in far.err


def test_help_command(cli: Cli) -> None:
    assert cli.ok("help", "post").out.startswith("usage: pnyx post ")
    assert "--reply-to" in cli.ok("help", "post").out
    assert "COMMAND" in cli.ok("help").out
    wrong = cli("help", "psot")
    assert wrong.code == 2 and wrong.err == "pnyx: unknown command 'psot'; did you mean 'post'?\n"


def _bash_complete(script: str, words: list[str]) -> list[str]:
    """What bash offers for ``words`` (the last one being completed) with ``script`` loaded."""
    line = " ".join(f"'{w}'" for w in words)
    call = f'COMP_WORDS=({line}); COMP_CWORD={len(words) - 1}; _pnyx; echo "${{COMPREPLY[@]}}"'
    program = f"{script}\n{call}"
    done = subprocess.run(
        ["bash", "--norc", "--noprofile", "-c", program],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout.split()


def test_bash_completion_offers_commands_options_and_choices(cli: Cli) -> None:
    script = cli.ok("completion", "bash").out
    assert _bash_complete(script, ["pnyx", "ti"]) == ["timeline"]
    assert _bash_complete(script, ["pnyx", "--home", "/x", "fo"]) == ["follow", "following"]
    assert "--reply-to" in _bash_complete(script, ["pnyx", "post", "--"])
    assert _bash_complete(script, ["pnyx", "run", "--log-level", ""]) == [
        "debug",
        "info",
        "warning",
        "error",
    ]
    assert _bash_complete(script, ["pnyx", "completion", ""]) == ["bash", "zsh", "fish"]
    assert "repost" in _bash_complete(script, ["pnyx", "help", "re"])
    assert _bash_complete(script, ["pnyx", "unl"]) == ["unlike"]


def test_completion_scripts_are_generated_from_the_parser(cli: Cli) -> None:
    """Every command of the parser is in every script, so a new command needs no edit."""
    commands = sorted(
        name
        for action in build_parser()._actions
        if isinstance(action, argparse._SubParsersAction)
        for name in action.choices
    )
    assert {"like", "repost", "unlike", "unrepost", "help", "timeline"} <= set(commands)
    bash = cli.ok("completion", "bash").out
    zsh = cli.ok("completion", "zsh").out
    fish = cli.ok("completion", "fish").out
    assert "bashcompinit" in zsh and "complete -o default -F _pnyx pnyx" in zsh
    for name in commands:
        assert f"        {name}) opts=" in bash, name
        assert f"__fish_use_subcommand -a {name} " in fish, name
    assert "__fish_seen_subcommand_from post' -l reply-to -r -F" in fish
    assert cli("completion", "tcsh").code == 2


# --- the one exit-code mapping ------------------------------------------------------------------


def _raising(exc: BaseException) -> Any:
    def handler(ctx: object) -> int:
        raise exc

    return handler


@pytest.mark.parametrize(
    ("raised", "code", "line"),
    [
        (KeyboardInterrupt(), 130, "pnyx: interrupted"),
        (BaseExceptionGroup("g", [ValueError("x"), KeyboardInterrupt()]), 130, "pnyx: interrupted"),
        (
            BaseExceptionGroup("outer", [BaseExceptionGroup("inner", [KeyboardInterrupt()])]),
            130,
            "pnyx: interrupted",
        ),
        (
            BaseExceptionGroup("g", [UserError("bad"), KeyboardInterrupt()]),
            130,
            "pnyx: interrupted",
        ),
        (ExceptionGroup("g", [UserError("a mistake")]), 2, "pnyx: a mistake"),
    ],
)
def test_every_command_maps_interrupts_and_errors_in_groups(
    cli: Cli, monkeypatch: pytest.MonkeyPatch, raised: BaseException, code: int, line: str
) -> None:
    monkeypatch.setattr(cmd_read, "cmd_timeline", _raising(raised))
    result = cli("timeline")
    assert (result.code, result.err) == (code, line + "\n")


def test_trio_cancelled_from_sigint_exits_130(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    async def cancelled() -> BaseException:
        with trio.CancelScope() as scope:
            scope.cancel()
            try:
                await trio.sleep(1)
            except trio.Cancelled as exc:
                return exc
        raise AssertionError("not cancelled")

    caught = trio.run(cancelled)
    monkeypatch.setattr(cmd_read, "cmd_timeline", _raising(BaseExceptionGroup("g", [caught])))
    result = cli("timeline")
    assert (result.code, result.err) == (130, "pnyx: interrupted\n")


def test_a_bug_still_shows_its_traceback(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cmd_read, "cmd_timeline", _raising(ZeroDivisionError("bug")))
    with pytest.raises(ZeroDivisionError):
        cli("timeline")
