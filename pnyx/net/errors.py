"""Errors of the running node that the CLI may see; importing this module is cheap (no trio)."""

from __future__ import annotations

from pnyx.errors import PnyxError, RemoteError


class ConnectError(PnyxError):
    """A peer could not be reached (refused, timed out, wrong peer id, banned)."""


class StreamClosedError(RemoteError):
    """A stream was reset or broke while reading or writing."""


class PeerStreamError(RemoteError):
    """A peer sent bytes on a stream that its protocol's handler could not take (garbage, a
    message that does not parse); the stream was reset. Counts as one penalty (docs/security.md).

    ``protocol`` is the stream's protocol id; ``detail`` is a short explanation.
    """

    def __init__(self, protocol: str, detail: str = "") -> None:
        self.protocol = protocol
        self.detail = detail
        super().__init__(
            f"bad-stream on {protocol}: {detail}" if detail else f"bad-stream on {protocol}"
        )
