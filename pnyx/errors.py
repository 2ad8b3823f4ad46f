"""The one exception tree of pnyx.

``PnyxError`` is the root. Its two main branches keep apart who is at fault:

* ``UserError``: the caller asked for something wrong or impossible (a mistyped key, a wrong
  passphrase, a missing identity). The CLI prints its message on one line and exits non-zero.
* ``RemoteError``: a peer or an imported file sent bad data. The node drops that data with the
  reason and carries on; a remote error never stops the node.

``StoreError`` covers the local database failing (disk full, locked, read-only); it is neither the
user's nor a peer's fault, and nothing already committed is lost when it is raised.
"""

from __future__ import annotations


class PnyxError(Exception):
    """Root of every error pnyx raises on purpose."""


class UserError(PnyxError):
    """The caller's mistake: bad argument, missing identity, wrong passphrase, ..."""

    exit_code: int = 2


class NoIdentityError(UserError):
    """No identity exists in the home directory (run ``pnyx init``)."""


class IdentityExistsError(UserError):
    """``pnyx init`` would overwrite an existing identity."""


class KeyFileError(UserError):
    """The key file is damaged, unreadable, or has unsafe permissions."""


class WrongPassphraseError(UserError):
    """The passphrase does not open the key file."""


class BadKeyTextError(UserError):
    """A public key in text form does not parse (bad checksum, bad length, bad characters)."""


class BadInviteError(UserError):
    """An invite text does not parse (wrong prefix, bad checksum, truncated, unknown version, too
    many addresses, ...)."""


class NotFoundError(UserError):
    """The message, author or file the caller named does not exist here."""


class ConfigError(UserError):
    """The configuration file or a flag holds an invalid value."""


class NothingChangedError(UserError):
    """The action asked for is already the state (follow someone already followed): nothing was
    signed. Front ends may show it as a note rather than a failure."""


class NodeNotRunningError(UserError):
    """A command needs the running node (``pnyx run``) and none answers on the control socket."""


class RemoteError(PnyxError):
    """A peer (or an imported file) sent data that breaks the protocol."""


class StoreError(PnyxError):
    """The local store could not complete an operation (disk full, locked, read-only, damaged)."""

    exit_code: int = 3


def exception_leaves(exc: BaseException) -> list[BaseException]:
    """The exceptions inside ``exc`` and its nested exception groups, in order (``[exc]`` for a
    plain exception)."""
    if isinstance(exc, BaseExceptionGroup):
        return [leaf for inner in exc.exceptions for leaf in exception_leaves(inner)]
    return [exc]


def unwrap_group(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """What to raise instead of an exception group out of a nursery: its only exception; else a
    ``KeyboardInterrupt`` in it (the user pressed Ctrl-C); else its first ``PnyxError``; else the
    group itself. The one way pnyx code unwraps exception groups."""
    leaves = exception_leaves(group)
    if len(leaves) == 1:
        return leaves[0]
    for wanted in (KeyboardInterrupt, PnyxError):
        for leaf in leaves:
            if isinstance(leaf, wanted):
                return leaf
    return group
