"""The completion scripts of ``pnyx completion`` (``pnyx.cli.completion``), built from the argparse
tree: the tree's model, then one renderer per shell."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field


@dataclass
class Option:
    flags: list[str]
    help: str
    takes_value: bool
    choices: list[str]


@dataclass
class Command:
    name: str
    help: str
    options: list[Option]
    words: list[str] = field(default_factory=list)  # positional values offered (choices)


@dataclass
class Tree:
    options: list[Option]
    commands: list[Command]

    @classmethod
    def of(cls, parser: argparse.ArgumentParser) -> Tree:
        commands: list[Command] = []
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                helps = {a.dest: a.help or "" for a in action._choices_actions}
                for name, command in action.choices.items():
                    words = [
                        w for a in command._actions if not a.option_strings for w in _choices(a)
                    ]
                    if name == "help":
                        words = sorted(action.choices)
                    commands.append(Command(name, helps.get(name, ""), _options(command), words))
        return cls(_options(parser), commands)

    def value_options(self) -> dict[str, list[str]]:
        """Every option that takes a value, with its fixed choices ([] for a file or free text)."""
        found: dict[str, list[str]] = {}
        for option in self.options + [o for c in self.commands for o in c.options]:
            if option.takes_value:
                for flag in option.flags:
                    found[flag] = option.choices
        return found


def _choices(action: argparse.Action) -> list[str]:
    return [str(c) for c in action.choices] if action.choices is not None else []


def _options(parser: argparse.ArgumentParser) -> list[Option]:
    return [
        Option(
            [f for f in a.option_strings if f.startswith("--")] or list(a.option_strings),
            a.help if isinstance(a.help, str) and a.help != argparse.SUPPRESS else "",
            a.nargs != 0,
            _choices(a),
        )
        for a in parser._actions
        if a.option_strings and not isinstance(a, argparse._SubParsersAction)
    ]


def _flags(options: list[Option]) -> str:
    return " ".join(flag for option in options for flag in option.flags)


def bash(tree: Tree) -> str:
    globals_with_value = "|".join(f for o in tree.options if o.takes_value for f in o.flags)
    value_cases = []
    for flag, choices in sorted(tree.value_options().items()):
        reply = f'compgen -W "{" ".join(choices)}" -- "$cur"' if choices else 'compgen -f -- "$cur"'
        value_cases.append(f"        {flag}) COMPREPLY=($({reply})); return ;;")
    command_cases = [
        f'        {c.name}) opts="{_flags(c.options)}"; words="{" ".join(c.words)}" ;;'
        for c in tree.commands
    ]
    names = " ".join(c.name for c in tree.commands)
    return "\n".join(
        [
            '# pnyx completion for bash: eval "$(pnyx completion bash)"',
            "_pnyx() {",
            "    local cur prev cmd opts words i",
            '    cur="${COMP_WORDS[COMP_CWORD]}"',
            '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
            '    cmd=""',
            "    for ((i = 1; i < COMP_CWORD; i++)); do",
            '        case "${COMP_WORDS[i]}" in',
            f"            {globals_with_value}) ((i++)) ;;",
            "            -*) ;;",
            '            *) cmd="${COMP_WORDS[i]}"; break ;;',
            "        esac",
            "    done",
            '    case "$prev" in',
            *value_cases,
            "    esac",
            '    case "$cmd" in',
            f'        "") opts="{_flags(tree.options)}"; words="{names}" ;;',
            *command_cases,
            '        *) opts=""; words="" ;;',
            "    esac",
            '    [[ "$cur" == -* ]] && words="$opts"',
            '    COMPREPLY=($(compgen -W "$words" -- "$cur"))',
            "}",
            "complete -o default -F _pnyx pnyx",
            "",
        ]
    )


def zsh(tree: Tree) -> str:
    return (
        '# pnyx completion for zsh: eval "$(pnyx completion zsh)" after compinit\n'
        "autoload -U +X bashcompinit && bashcompinit\n" + bash(tree)
    )


def _fish_text(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_option(condition: str, option: Option) -> str:
    parts = ["complete -c pnyx", f"-n {_fish_text(condition)}"]
    for flag in option.flags:
        parts.append(f"-l {flag[2:]}" if flag.startswith("--") else f"-s {flag[1:]}")
    if option.choices:
        parts.append(f"-x -a {_fish_text(' '.join(option.choices))}")
    elif option.takes_value:
        parts.append("-r -F")
    if option.help:
        parts.append(f"-d {_fish_text(option.help)}")
    return " ".join(parts)


def fish(tree: Tree) -> str:
    lines = [
        "# pnyx completion for fish: pnyx completion fish > ~/.config/fish/completions/pnyx.fish"
    ]
    lines.append("complete -c pnyx -f")
    for option in tree.options:
        lines.append(_fish_option("true", option))
    for command in tree.commands:
        lines.append(
            f"complete -c pnyx -n __fish_use_subcommand -a {command.name} "
            f"-d {_fish_text(command.help)}"
        )
        seen = f"__fish_seen_subcommand_from {command.name}"
        for option in command.options:
            if option.flags not in [o.flags for o in tree.options]:
                lines.append(_fish_option(seen, option))
        if command.words:
            lines.append(
                f"complete -c pnyx -n {_fish_text(seen)} -a {_fish_text(' '.join(command.words))}"
            )
    return "\n".join(lines) + "\n"
