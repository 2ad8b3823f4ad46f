"""``pnyx completion bash|zsh|fish``: a shell completion script generated from the argparse tree.

The script is built from the parser at run time, so every command and option (and an option's
fixed choices) is included without editing this module. Completed: the command names (after the
global options), each command's options, the values of options with fixed choices, file names for
options taking a file or directory, the shells of ``completion`` and the commands of ``help``.
zsh uses the bash script through zsh's ``bashcompinit`` (shipped with zsh). No dependency.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

from pnyx.cli.context import Context

#: The shells a script can be generated for.
SHELLS = ("bash", "zsh", "fish")


def register(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], parser: argparse.ArgumentParser
) -> None:
    p = sub.add_parser(
        "completion",
        help="print a shell completion script (bash, zsh or fish)",
        description='Print a completion script. bash: eval "$(pnyx completion bash)" in ~/.bashrc; '
        'zsh: eval "$(pnyx completion zsh)" in ~/.zshrc (after compinit); fish: pnyx '
        "completion fish > ~/.config/fish/completions/pnyx.fish",
    )
    p.add_argument("shell", choices=SHELLS, help="the shell")
    p.set_defaults(handler=lambda ctx: _cmd_completion(ctx, parser))


def _cmd_completion(ctx: Context, parser: argparse.ArgumentParser) -> int:
    from pnyx.cli import completion_scripts as scripts  # only this command pays for it

    tree = scripts.Tree.of(parser)
    render: dict[str, Callable[[scripts.Tree], str]] = {
        "bash": scripts.bash,
        "zsh": scripts.zsh,
        "fish": scripts.fish,
    }
    ctx.out.write(render[ctx.args.shell](tree))
    return 0
