"""The labellers the user subscribes to, as ``pnyx labellers`` lists them.

Each entry gives the key, the profile name held for it, and the action of every well-known value
(the user's choice, else the default) plus any other value the user set. Cost: one table read
(at most ``MAX_LABELLERS`` rows) and one profile lookup per labeller. Failure mode: ``StoreError``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pnyx.core.kinds.label import WELL_KNOWN
from pnyx.crypto.keytext import encode_public_key
from pnyx.store import Store
from pnyx.store import labels as label_store
from pnyx.trust.labels import LabelAction


@dataclass(frozen=True, slots=True)
class LabellerEntry:
    """One subscribed labeller: ``key``, ``name`` (None: none held) and ``actions`` (value ->
    action: every well-known value, then those the user set, by value)."""

    key: bytes
    name: str | None
    actions: dict[str, LabelAction]

    def to_json(self) -> dict[str, object]:
        return {"key": encode_public_key(self.key), "name": self.name, "actions": self.actions}


def labeller_list(store: Store) -> list[LabellerEntry]:
    """Every labeller the user subscribes to, by key."""
    out: list[LabellerEntry] = []
    for sub in label_store.subscriptions(store):
        values = [*WELL_KNOWN, *sorted(set(sub.actions) - set(WELL_KNOWN))]
        profile = store.profile(sub.key)
        name = profile.name if profile is not None and profile.name else None
        out.append(LabellerEntry(sub.key, name, {v: sub.action(v) for v in values}))
    return out
