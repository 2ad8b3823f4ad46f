#!/bin/sh
# Put `pnyx` on the PATH after `make run` / `make path` (issue 24): the README's commands say
# `pnyx ...`, and the console script lives in .venv/bin. Usage: tools/pnyx_on_path.sh BIN [SHIM]
#   SHIM=yes  link ~/.local/bin/pnyx -> BIN/pnyx (a user-level shim; nothing outside ~/.local/bin)
#   SHIM=no   never link; print how to put pnyx on the PATH
#   (empty)   ask once on a terminal (standard input and output terminals, $CI unset); else print
# Nothing is changed without SHIM=yes or a "y" typed at the prompt; an existing ~/.local/bin/pnyx
# that is not a link is never replaced.
set -eu
if [ ! -x "$1/pnyx" ]; then
	echo "pnyx: not installed in $1 yet: run \`make run\` first" >&2
	exit 1
fi
bin=$(cd "$1" && pwd)
shim=${2:-}
target="$bin/pnyx"
dir="$HOME/.local/bin"
found=$(command -v pnyx 2>/dev/null || true)
if [ -n "$found" ] && [ "$(readlink -f "$found")" = "$(readlink -f "$target")" ]; then
	exit 0 # already on the PATH
fi
asked="$bin/../.path-asked" # a "no" is asked once per venv; the hint is still printed
if [ -z "$shim" ] && [ -t 0 ] && [ -t 1 ] && [ -z "${CI:-}" ] && [ ! -e "$asked" ]; then
	printf 'pnyx is not on your PATH. Link %s/pnyx to %s? [y/N] ' "$dir" "$target"
	read -r answer || answer=
	case $answer in [yY]*) shim=yes ;; *) shim=no && touch "$asked" ;; esac
fi
case $shim in
yes | y | 1 | true)
	if [ -e "$dir/pnyx" ] && [ ! -L "$dir/pnyx" ]; then
		echo "pnyx: $dir/pnyx exists and is not a link; left alone. Use $target, or:"
		echo "  export PATH=\"$bin:\$PATH\""
		exit 0
	fi
	mkdir -p "$dir"
	ln -sfn "$target" "$dir/pnyx"
	echo "pnyx: linked $dir/pnyx -> $target"
	case ":$PATH:" in
	*":$dir:"*) ;;
	*) echo "pnyx: $dir is not on your PATH; add it (e.g. in ~/.profile): export PATH=\"$dir:\$PATH\"" ;;
	esac
	;;
*)
	echo "pnyx: to run the README's \`pnyx ...\` commands, put pnyx on your PATH, either"
	echo "  export PATH=\"$bin:\$PATH\"        # this shell only (add it to ~/.profile to keep it)"
	echo "  make path SHIM=yes                 # or: a link in $dir (once)"
	echo "or type $target instead of pnyx."
	;;
esac
