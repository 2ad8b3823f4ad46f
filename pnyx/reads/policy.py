"""The user's moderation policy read from the store, and the list ``pnyx mutes`` shows.

``load_policy`` builds the one ``pnyx.trust.policy.Policy`` every read applies (timeline, feeds,
search, thread, profile, notifications, the node's live output): the user's public blocks and
mutes (the ``blocks`` and ``mutes`` tables: the user's highest-seq message per key decides), the
private mutes kept in this home only, and the labels in force by the user and the labellers the
user subscribes to and does not block (``pnyx.trust.labels``). Cost: three index ranges,
O(entries), plus one per labeller, O(labels in force by the user's labellers): at most
``MAX_LABELLERS`` + 1 labellers, each label a signed message of a pinned feed.

Failure modes: ``StoreError`` if the store fails.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from pnyx.crypto.keytext import encode_public_key
from pnyx.store import Store, StoredMessage
from pnyx.store import labels as label_store
from pnyx.trust.labels import Labels
from pnyx.trust.policy import Hidden, Policy, Why

_Item = TypeVar("_Item")


def load_policy(store: Store, me: bytes) -> Policy:
    """The user's blocks, public mutes, private mutes and labels, as held by ``store``."""
    blocked = store.moderated("block", me)
    subscriptions = label_store.subscriptions(store)
    rows = label_store.label_rows(store, [me, *(s.key for s in subscriptions)])
    labels = Labels.build(me, subscriptions, rows, blocked)
    return Policy.of(blocked, store.moderated("mute", me), store.private_mutes(), labels, me)


def screen(
    policy: Policy, items: Sequence[_Item], message_of: Callable[[_Item], StoredMessage]
) -> tuple[list[_Item], list[tuple[_Item, Hidden]]]:
    """The one place a read applies the policy: ``items`` split into those shown and those
    hidden with why (order kept). ``message_of`` gives an item's stored message."""
    shown: list[_Item] = []
    hidden: list[tuple[_Item, Hidden]] = []
    for item in items:
        why = policy.hidden(message_of(item).message) if policy else None
        if why is None:
            shown.append(item)
        else:
            hidden.append((item, why))
    return shown, hidden


def visible(store: Store, me: bytes, items: Sequence[StoredMessage]) -> list[StoredMessage]:
    """Those of ``items`` the user's policy shows (``screen`` with the policy loaded now)."""
    return screen(load_policy(store, me), items, _itself)[0]


def _itself(item: StoredMessage) -> StoredMessage:
    return item


@dataclass(frozen=True, slots=True)
class ModerationEntry:
    """One key the user hides: how (``why``) and the profile name held for it (None: none)."""

    key: bytes
    why: Why
    name: str | None

    def to_json(self) -> dict[str, object]:
        return {"key": encode_public_key(self.key), "why": self.why, "name": self.name}


def moderation_list(store: Store, me: bytes) -> list[ModerationEntry]:
    """Every block, public mute and private mute of the user, in that order, each by key. A key
    both muted and blocked appears once per entry."""
    policy = load_policy(store, me)
    out: list[ModerationEntry] = []
    for why, keys in (("block", policy.blocked), ("mute", policy.muted)):
        out += [ModerationEntry(k, why, _name(store, k)) for k in sorted(keys)]  # type: ignore[arg-type]
    out += [ModerationEntry(k, "private mute", _name(store, k)) for k in sorted(policy.private)]
    return out


def _name(store: Store, key: bytes) -> str | None:
    profile = store.profile(key)
    return profile.name if profile is not None and profile.name else None
