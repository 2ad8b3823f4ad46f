"""``mute`` and ``unmute`` of a key: the highest-seq one per (actor, target) decides.

Derived table ``mutes`` (``pnyx.core.kinds.keystate``): (actor aid, target aid, seq, state 1/0).
A mute is public and signed, like a follow: what it means for reads is in ``docs/moderation.md``.
"""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds.keystate import key_state_specs

MUTE: Final = "mute"
UNMUTE: Final = "unmute"

SPECS: Final = key_state_specs(MUTE, UNMUTE, "mutes")
