"""``block`` and ``unblock`` of a key: the highest-seq one per (actor, target) decides.

Derived table ``blocks`` (``pnyx.core.kinds.keystate``): (actor aid, target aid, seq, state 1/0).
A block is public and signed, like a follow: what it means for reads is in ``docs/moderation.md``.
"""

from __future__ import annotations

from typing import Final

from pnyx.core.kinds.keystate import key_state_specs

BLOCK: Final = "block"
UNBLOCK: Final = "unblock"

SPECS: Final = key_state_specs(BLOCK, UNBLOCK, "blocks")
