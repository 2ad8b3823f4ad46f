"""``python -m pnyx`` runs the CLI."""

from pnyx.cli.main import entry_point

entry_point()
