"""Errors of the running node that the CLI may see; importing this module is cheap (no trio)."""

from __future__ import annotations

from pnyx.errors import PnyxError, RemoteError


class ConnectError(PnyxError):
    """A peer could not be reached (refused, timed out, wrong peer id, banned)."""


class StreamClosedError(RemoteError):
    """A stream was reset or broke while reading or writing."""
