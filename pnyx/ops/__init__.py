"""Operations: one function per user action that writes (layer 3).

Every rule about what the user may sign lives here ("like once", "repost once", "delete only your
own post, once", byte limits, UTF-8), so the CLI, the HTTP API and the web pages share it; front
ends parse their input, call an operation, and show the ``MessageView`` it returns.
"""

from __future__ import annotations

from pnyx.ops.labels import label, subscribe_labeller, unsubscribe_labeller
from pnyx.ops.moderate import block, mute, unblock, unmute
from pnyx.ops.undo import unlike, unrepost
from pnyx.ops.write import (
    LIKE,
    KeySigner,
    Signer,
    delete,
    follow,
    like,
    post,
    profile,
    reply,
    repost,
    unfollow,
    user_text,
)

__all__ = [
    "LIKE",
    "KeySigner",
    "Signer",
    "block",
    "delete",
    "follow",
    "label",
    "like",
    "mute",
    "post",
    "profile",
    "reply",
    "repost",
    "subscribe_labeller",
    "unblock",
    "unfollow",
    "unlike",
    "unrepost",
    "unmute",
    "unsubscribe_labeller",
    "user_text",
]
