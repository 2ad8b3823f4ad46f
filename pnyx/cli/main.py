"""The ``pnyx`` command line: ``main(argv) -> int``.

This is the one place where errors become a one-line message and an exit code:

* 0: success; 1: the command ran but something it reports failed (e.g. an import rejected messages);
* 2: the user's mistake (``UserError``: bad key text, wrong passphrase, missing identity, ...);
* 3: the local store failed (``StoreError``: disk full, locked, read-only);
* 4: a peer or file sent bad data (``RemoteError``) that stopped the command;
* 130: interrupted (Ctrl-C).

No traceback is printed for any of these. Command modules register themselves in ``_COMMANDS``;
each keeps its heavy imports (sqlite3 via the store, libp2p via the node) inside its handlers.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import TextIO

from pnyx import __version__
from pnyx.cli import cmd_files, cmd_identity, cmd_node, cmd_read, cmd_sync, cmd_write
from pnyx.cli.context import Context, Handler
from pnyx.errors import PnyxError, RemoteError, StoreError, UserError
from pnyx.home import Home

_COMMANDS = (cmd_identity, cmd_write, cmd_read, cmd_files, cmd_node, cmd_sync)


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so ``main`` owns every exit code."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UserError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="pnyx",
        description="pnyx: a peer-to-peer microblog node. Posts are signed with your key and "
        "stored locally; `pnyx run` shares them with your followers.",
    )
    parser.add_argument("--version", action="version", version=f"pnyx {__version__}")
    parser.add_argument(
        "--home",
        metavar="DIR",
        help="home directory (default: $PNYX_HOME or the platform's user data directory)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in _COMMANDS:
        module.register(sub)
    return parser


def main(
    argv: Sequence[str] | None = None, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run one pnyx command and return its exit code. Never raises for expected failures."""
    out = out if out is not None else sys.stdout
    err = err if err is not None else sys.stderr
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except UserError as exc:
        print(f"pnyx: {exc}", file=err)
        return UserError.exit_code
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
    except UserError as exc:
        print(f"pnyx: {exc}", file=err)
        return exc.exit_code
    except StoreError as exc:
        print(f"pnyx: store error: {exc}", file=err)
        return StoreError.exit_code
    except RemoteError as exc:
        print(f"pnyx: bad data: {exc}", file=err)
        return 4
    except PnyxError as exc:
        print(f"pnyx: {exc}", file=err)
        return 1
    except KeyboardInterrupt:
        print("pnyx: interrupted", file=err)
        return 130
    except BrokenPipeError:
        # `pnyx timeline | head`: the reader left; that is not an error.
        return 0
    finally:
        ctx.close()


def entry_point() -> None:
    """Console-script entry: ``sys.exit(main())``."""
    sys.exit(main())
