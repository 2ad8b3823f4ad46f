"""Labels and labellers: which labels apply to the user's reads, and what each one does.

Sans-I/O (plain data): ``pnyx.reads.labels`` reads the subscriptions and the labels from the
store; ``pnyx.trust.policy.Policy`` applies them with the mutes and blocks, in one place. See
``docs/moderation.md``, "Labels and labellers".

* A label applies when its labeller is the user (always their own labeller) or a key the user
  subscribes to, and the user does not block that labeller.
* Its action is the user's choice per (labeller, value): ``hide``, ``warn`` or ``ignore``; a value
  the user did not set takes ``default_action`` (``!hide`` and ``spam`` hide; everything else
  warns). The user's own labels take the defaults.
* Labels are ordered by precedence: ``hide`` before ``warn``, then by labeller key; the first
  ``hide`` gives a hidden item its one reason line, and every ``warn`` is shown.

Failure modes: ``subscription_problem`` returns words for a bad subscription; nothing raises.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Final, Literal, get_args

from pnyx.core.kinds.label import value_problem

#: What the user does with a label value: hide the item, keep it with a warning, or nothing.
LabelAction = Literal["hide", "warn", "ignore"]
#: The actions, in precedence order (a hide beats a warn).
ACTIONS: Final[tuple[LabelAction, ...]] = get_args(LabelAction)
#: Most labellers a home subscribes to, a count: each one's feed is pinned (stored, synced,
#: never evicted) and its labels loaded on every policy reload, so the number is bounded; 100 is
#: five times Bluesky's limit of 20, which its users find too low.
MAX_LABELLERS: Final = 100
#: The action of a value the user did not set, for the values that do not warn.
DEFAULT_ACTIONS: Final[Mapping[str, LabelAction]] = {"!hide": "hide", "spam": "hide"}
#: The action of every other value (``!warn``, ``nsfw``, ``misleading``, ``harassment``, ...).
DEFAULT_OTHER: Final[LabelAction] = "warn"


def default_action(value: str) -> LabelAction:
    """What a label ``value`` does when the user has not chosen (module docstring)."""
    return DEFAULT_ACTIONS.get(value, DEFAULT_OTHER)


@dataclass(frozen=True, slots=True)
class Subscription:
    """A labeller the user subscribes to (``key``) and the actions the user set for some values
    (``actions``: value -> action; a value not in it takes ``default_action``)."""

    key: bytes
    actions: Mapping[str, LabelAction] = field(default_factory=dict)

    def action(self, value: str) -> LabelAction:
        return self.actions.get(value, default_action(value))


def subscription_problem(actions: Mapping[str, str]) -> str | None:
    """Why ``actions`` (value -> action) cannot be saved, in words; None if it can."""
    for value, action in actions.items():
        problem = value_problem(value)
        if problem is not None:
            return f"{value!r} is not a label value: {problem[1]}"
        if action not in ACTIONS:
            return f"{action!r} is not an action (one of {', '.join(ACTIONS)})"
    return None


@dataclass(frozen=True, slots=True, order=True)
class Label:
    """One label that applies: its ``action`` (hide or warn), ``labeller``, ``value``, and
    ``on``: "post" (the post itself) or "key" (its author). Ordered by precedence."""

    rank: int
    labeller: bytes
    value: str
    action: LabelAction
    on: Literal["post", "key"]


#: A label row read from the store: (what: "post" or "key", subject, labeller key, value).
LabelRow = tuple[str, bytes, bytes, str]


@dataclass(frozen=True, slots=True)
class Labels:
    """The labels that apply, by subject: ``posts`` (message id -> labels) and ``keys`` (identity
    -> labels), each tuple in precedence order. Empty: no label applies."""

    posts: Mapping[bytes, tuple[Label, ...]] = field(default_factory=dict)
    keys: Mapping[bytes, tuple[Label, ...]] = field(default_factory=dict)

    @classmethod
    def build(
        cls,
        me: bytes,
        subscriptions: Iterable[Subscription],
        rows: Iterable[LabelRow],
        blocked: Iterable[bytes] = (),
    ) -> Labels:
        """The labels of ``rows`` that apply (module docstring): by ``me`` (default actions) or
        by a subscribed labeller not in ``blocked``; ``ignore`` ones are dropped."""
        chosen = {s.key: s for s in subscriptions}
        chosen[me] = Subscription(me)
        for key in blocked:
            chosen.pop(key, None)
        posts: dict[bytes, list[Label]] = {}
        keys: dict[bytes, list[Label]] = {}
        for what, subject, labeller, value in rows:
            subscription = chosen.get(labeller)
            if subscription is None or what not in ("post", "key"):
                continue
            action = subscription.action(value)
            if action == "ignore":
                continue
            on: Literal["post", "key"] = "post" if what == "post" else "key"
            label = Label(ACTIONS.index(action), labeller, value, action, on)
            (posts if on == "post" else keys).setdefault(subject, []).append(label)
        return cls(
            {k: tuple(sorted(v)) for k, v in posts.items()},
            {k: tuple(sorted(v)) for k, v in keys.items()},
        )

    def __bool__(self) -> bool:
        return bool(self.posts or self.keys)

    def hidden_keys(self) -> frozenset[bytes]:
        """The keys with a ``hide`` label: none of their posts is shown."""
        return frozenset(k for k, found in self.keys.items() if found[0].action == "hide")

    def hides(self, post_id: bytes, author: bytes) -> bool:
        """Whether a ``hide`` label is on post ``post_id`` or on its ``author`` (no sorting: it
        runs for every candidate of a ranked page)."""
        if not self.posts and not self.keys:
            return False
        found = (*self.posts.get(post_id, ()), *self.keys.get(author, ()))
        return any(label.action == "hide" for label in found)

    def on(self, post_id: bytes, author: bytes) -> tuple[Label, ...]:
        """Every label on post ``post_id`` or on its ``author``, in precedence order."""
        found = self.posts.get(post_id, ()) + self.keys.get(author, ())
        return tuple(sorted(found))
