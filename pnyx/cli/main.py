"""The ``pnyx`` command line: ``main(argv) -> int``.

This is the one place where errors become a one-line message and an exit code (``exit_status``):

* 0: success; 1: the command ran but something it reports failed (e.g. an import rejected messages);
* 2: the user's mistake (``UserError``: bad key text, wrong passphrase, missing identity, text over
  a limit, a mistyped command or option; usage errors also print the command's usage line);
* 3: the local store failed (``StoreError``: disk full, locked, read-only);
* 4: a peer or file sent bad data (``RemoteError``) that stopped the command;
* 130: interrupted (Ctrl-C): ``KeyboardInterrupt``, or trio's cancellation on SIGINT, also when it
  arrives wrapped in (nested) exception groups, for every command.

No traceback is printed for any of these. Command modules register themselves in ``_COMMANDS``;
each keeps its heavy imports (sqlite3 via the store, libp2p via the node) inside its handlers.
The global options (``--home``, ``--passphrase-file``) are accepted before and after the command.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import Any, TextIO

from pnyx import __version__
from pnyx.cli import (
    cmd_files,
    cmd_identity,
    cmd_invite,
    cmd_labels,
    cmd_less,
    cmd_moderate,
    cmd_node,
    cmd_notes,
    cmd_polls,
    cmd_rank,
    cmd_read,
    cmd_square,
    cmd_sync,
    cmd_web,
    cmd_write,
    completion,
)
from pnyx.cli.context import Context, Handler
from pnyx.core.display import terminal
from pnyx.errors import PnyxError, RemoteError, StoreError, UserError, exception_leaves
from pnyx.home import Home
from pnyx.net.errors import ConnectError
from pnyx.net.words import in_words

_COMMANDS = (
    cmd_identity,
    cmd_write,
    cmd_moderate,
    cmd_labels,
    cmd_read,
    cmd_square,
    cmd_rank,
    cmd_less,
    cmd_polls,
    cmd_notes,
    cmd_files,
    cmd_node,
    cmd_invite,
    cmd_sync,
    cmd_web,
)

#: Exit status of an interrupted command (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130
#: Exit status of a usage mistake (argparse's own convention, and ``UserError``'s).
EXIT_USAGE = UserError.exit_code


class UsageError(UserError):
    """argparse refused the command line; ``usage`` is the (sub)command's usage text."""

    def __init__(self, message: str, usage: str) -> None:
        super().__init__(message)
        self.usage = usage


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns every exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(message, self.format_usage())

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        choices = action.choices
        is_command = isinstance(action, argparse._SubParsersAction)
        if is_command and isinstance(choices, dict) and value not in choices:
            raise argparse.ArgumentError(None, unknown_command(value, choices))
        super()._check_value(action, value)


def unknown_command(name: str, commands: Sequence[str] | dict[str, Any]) -> str:
    """``unknown command 'psot'; did you mean 'post'?`` (or the list of commands).

    A command is suggested only when it is a likely typo of ``name``: at most
    ``max(1, len // 3)`` edits away (insert, delete, replace, swap two neighbours; ``len`` the
    shorter of the two), or ``name`` starts exactly one command. ``poll`` suggests nothing
    (``follow`` is 3 edits away), nor does ``invite`` (``init`` is 2 edits from 4 letters).
    """
    names = sorted(commands)
    close = _likely_typo_of(name, names)
    if close is not None:
        return f"unknown command {name!r}; did you mean {close!r}?"
    return f"unknown command {name!r}; the commands are: {', '.join(names)}"


def _likely_typo_of(name: str, names: Sequence[str]) -> str | None:
    import difflib  # only for a mistyped command: the closer of two at the same distance

    def score(candidate: str) -> tuple[int, float]:
        return _edits(name, candidate), -difflib.SequenceMatcher(None, name, candidate).ratio()

    scored = sorted((*score(candidate), candidate) for candidate in names)
    for distance, _, candidate in scored:
        if distance <= max(1, min(len(name), len(candidate)) // 3):
            return candidate
        break
    prefixed = [candidate for candidate in names if len(name) >= 2 and candidate.startswith(name)]
    return prefixed[0] if len(prefixed) == 1 else None


def _edits(a: str, b: str) -> int:
    """Edits from ``a`` to ``b`` (optimal string alignment: Levenshtein plus adjacent swaps)."""
    rows = [list(range(len(b) + 1))]
    for i in range(1, len(a) + 1):
        row = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            row[j] = min(rows[-1][j] + 1, row[j - 1] + 1, rows[-1][j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                row[j] = min(row[j], rows[-2][j - 2] + 1)
        rows.append(row)
    return rows[-1][-1]


def _global_options(parser: argparse.ArgumentParser, *, default: Any) -> None:
    """The options every command takes, before or after its name (``default``: None at the top,
    SUPPRESS on a command so a value given before the command is not reset)."""
    parser.add_argument(
        "--home",
        metavar="DIR",
        default=default,
        help="home directory (default: $PNYX_HOME or the platform's user data directory)",
    )
    parser.add_argument(
        "--passphrase-file",
        metavar="FILE",
        default=default,
        help="file holding the key passphrase (also $PNYX_PASSPHRASE; on a terminal pnyx asks)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pnyx",
        description="pnyx: a peer-to-peer microblog node. Posts are signed with your key and "
        "stored locally; `pnyx run` shares them with your followers.",
        epilog="`pnyx help COMMAND` shows a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"pnyx {__version__}")
    _global_options(parser, default=None)
    sub: argparse._SubParsersAction[argparse.ArgumentParser] = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=_Parser
    )
    for module in _COMMANDS:
        module.register(sub)
    p = sub.add_parser("help", help="show the help of pnyx or of one command")
    p.add_argument("topic", metavar="COMMAND", nargs="?", help="the command to explain")
    p.set_defaults(handler=lambda ctx: _cmd_help(ctx, parser, sub))
    completion.register(sub, parser)
    for command in sub.choices.values():
        _global_options(command, default=argparse.SUPPRESS)
    return parser


def _cmd_help(
    ctx: Context,
    parser: argparse.ArgumentParser,
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
) -> int:
    topic: str | None = ctx.args.topic
    if topic is None:
        parser.print_help(ctx.out)
        return 0
    if topic not in sub.choices:
        raise UserError(unknown_command(topic, sub.choices))
    sub.choices[topic].print_help(ctx.out)
    return 0


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one pnyx command and return its exit code. Never raises for expected failures."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    try:
        return _run(argv, out, err)
    except BaseException as exc:  # noqa: BLE001  every failure mapped once, here; bugs re-raised
        return exit_status(exc, err)


def _run(argv: Sequence[str] | None, out: TextIO, err: TextIO) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except SystemExit as exc:  # --help and --version print and exit 0
        return int(exc.code or 0)
    handler: Handler | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(out)
        return 0
    ctx = Context(args=args, home=Home.resolve(args.home), out=out, err=err)
    try:
        ctx.home.check()  # robustness: refuse a home another user could tamper with
        return handler(ctx)
    finally:
        ctx.close()


def exit_status(exc: BaseException, err: TextIO) -> int:
    """Print the one line for ``exc`` on ``err`` and return the exit code; re-raise a bug.

    An exception group counts as an interruption if any leaf is one; otherwise its first pnyx
    error decides. Anything else (a bug) is re-raised, so its traceback is shown.
    """
    if isinstance(exc, BaseExceptionGroup):
        leaves = exception_leaves(exc)
        for leaf in leaves:
            if _is_interrupt(leaf):
                return exit_status(leaf, err)
        for leaf in leaves:
            if isinstance(leaf, PnyxError | BrokenPipeError):
                return exit_status(leaf, err)
        raise exc
    if _is_interrupt(exc):
        print("pnyx: interrupted", file=err)
        return EXIT_INTERRUPTED
    if isinstance(exc, UsageError):
        print(exc.usage.rstrip("\n"), file=err)
        print(f"pnyx: error: {terminal(str(exc))}", file=err)
        return EXIT_USAGE
    if isinstance(exc, UserError):
        print(f"pnyx: {terminal(str(exc))}", file=err)
        return exc.exit_code
    if isinstance(exc, StoreError):
        print(f"pnyx: store error: {terminal(str(exc))}", file=err)
        return StoreError.exit_code
    if isinstance(exc, RemoteError):
        print(f"pnyx: bad data: {terminal(str(exc))}", file=err)  # may quote a peer's data
        return 4
    if isinstance(exc, PnyxError):
        text = str(exc)
        if isinstance(exc, ConnectError):  # libp2p's words never reach the user (issue 24)
            text = in_words(text)
        print(f"pnyx: {terminal(text)}", file=err)
        return 1
    if isinstance(exc, BrokenPipeError):
        # `pnyx timeline | head`: the reader left; that is not an error.
        return 0
    raise exc


def _is_interrupt(exc: BaseException) -> bool:
    """Ctrl-C: KeyboardInterrupt, or trio's Cancelled (trio is only looked at if imported: an
    uncaught Cancelled leaves ``trio.run`` only when SIGINT cancelled the run)."""
    if isinstance(exc, KeyboardInterrupt):
        return True
    trio = sys.modules.get("trio")
    return trio is not None and isinstance(exc, trio.Cancelled)


def entry_point() -> None:
    """Console-script entry: ``sys.exit(main())``."""
    sys.exit(main())
