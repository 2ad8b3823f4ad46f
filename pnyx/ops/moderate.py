"""The moderation operations: mute, unmute, block, unblock (``docs/moderation.md``).

Public mutes and blocks are signed messages (kinds ``mute``/``unmute``, ``block``/``unblock``),
published like a follow: a trusted friend's mute is the one-step signal "muted by N you trust".
A private mute (``private=True``) is a row of this home's store, never signed or published.

The rules (``pnyx.trust.policy.change_problem``) are checked before the signing key is asked
for: not yourself (``UserError``); muting someone muted already, or unmuting (unblocking)
someone not muted (blocked): ``NothingChangedError`` naming the key. An unmute removes the
public mute (a signed ``unmute``) and the private one, whichever are held.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pnyx.clock import wall_clock_ms
from pnyx.core import kinds
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.errors import NothingChangedError, UserError
from pnyx.ops.write import SignerLike, _append, _signer
from pnyx.reads.policy import load_policy
from pnyx.trust.policy import Action, change_problem

if TYPE_CHECKING:
    from pnyx.store import Store
    from pnyx.views import MessageView


def _check(
    store: Store, key: SignerLike, target_text: str, action: Action, private: bool = False
) -> bytes:
    target = parse_public_key(target_text)
    me = _signer(key).public_key
    problem = change_problem(load_policy(store, me), me, target, action, private=private)
    if problem is None:
        return target
    if target == me:
        raise UserError(problem)
    raise NothingChangedError(f"{problem} {encode_public_key(target)}; nothing changed")


def mute(
    store: Store,
    key: SignerLike,
    target: str,
    *,
    private: bool = False,
    now_ms: int | None = None,
) -> MessageView | None:
    """Mute the key written in ``target``: a signed public ``mute`` (returned), or with
    ``private`` a mute kept in this home only (returns None: nothing is signed)."""
    found = _check(store, key, target, "mute", private)
    if private:
        store.set_private_mute(found, True, wall_clock_ms() if now_ms is None else now_ms)
        return None
    return _append(store, key, kinds.MUTE, {"key": found}, now_ms)


def unmute(
    store: Store, key: SignerLike, target: str, *, now_ms: int | None = None
) -> MessageView | None:
    """Unmute ``target``: drops its private mute, and signs an ``unmute`` (returned) if it is
    muted publicly; None when only a private mute was removed."""
    found = _check(store, key, target, "unmute")
    me = _signer(key).public_key
    if found in store.private_mutes():
        store.set_private_mute(found, False, wall_clock_ms() if now_ms is None else now_ms)
    if found not in store.moderated("mute", me):
        return None
    return _append(store, key, kinds.UNMUTE, {"key": found}, now_ms)


def block(store: Store, key: SignerLike, target: str, *, now_ms: int | None = None) -> MessageView:
    """Block ``target`` (signed, public): hidden everywhere, its feed no longer stored or synced;
    a follow of it is kept but the block wins."""
    found = _check(store, key, target, "block")
    return _append(store, key, kinds.BLOCK, {"key": found}, now_ms)


def unblock(
    store: Store, key: SignerLike, target: str, *, now_ms: int | None = None
) -> MessageView:
    """Lift the block of ``target`` (signed ``unblock``); only a key blocked now."""
    found = _check(store, key, target, "unblock")
    return _append(store, key, kinds.UNBLOCK, {"key": found}, now_ms)
