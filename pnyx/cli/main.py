"""Placeholder entry point, replaced by the real CLI."""


def entry_point() -> None:
    """Console script entry."""
