"""The moderation policy: what the user's mutes and blocks hide, and the rules for changing them.

Sans-I/O (plain data, no store): reads build one ``Policy`` from the store (``pnyx.reads.policy``)
and apply it in one place; the operations check ``change_problem`` before signing anything.
See ``docs/moderation.md`` for the meaning and the reasons.

* A **block** hides the target everywhere and the node stops storing and syncing its feed; the
  user's own block beats the user's own follow and any friend's follow.
* A **mute** (public, or private: kept in the home only) hides the target's posts, replies and
  reposts from every read; what is held stays held.
* A **label** (``pnyx.trust.labels``) by the user or a labeller the user subscribes to, on the
  post or on its author, hides it (action ``hide``) or keeps it with a warning (``warn``).
* A message is hidden when its author is hidden, or when it re-shares or reacts to a post by a
  hidden author (a repost's or reaction's ``author`` field), or when a ``hide`` label is on it or
  on that original. Block is reported before mute, a public mute before a private one, and those
  before a label, so each hidden item has one reason.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

from pnyx.trust.labels import Label, Labels

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

#: What a policy entry is: a public block, a public mute, a private mute.
Why = Literal["block", "mute", "private mute"]
#: Why an item is hidden: a policy entry, or a label (by a labeller, or by the user).
HiddenWhy = Why | Literal["label", "own label"]

#: The past tense used in a reason ("you blocked X").
_VERB: Final[dict[str, str]] = {"block": "blocked", "mute": "muted", "private mute": "muted"}


@dataclass(frozen=True, slots=True)
class Hidden:
    """Why an item is hidden: ``key`` (the author hidden, or for a label the labeller), ``why``
    (block, mute, private mute, label, own label) and ``via`` ("author": the item itself;
    "original": the post it re-shares or reacts to). A label also gives its ``value`` and ``on``
    (the post itself, or its author's key)."""

    key: bytes
    why: HiddenWhy
    via: Literal["author", "original"] = "author"
    value: str | None = None
    on: Literal["post", "key"] = "post"

    def reason(self, name: str) -> str:
        """``you muted NAME`` / ``labelled spam by NAME, whom you subscribe to`` (``NAME``: how
        the caller shows ``key``)."""
        if self.why in ("label", "own label"):
            by = "you" if self.why == "own label" else f"{name}, whom you subscribe to"
            what = "its author" if self.on == "key" else "it"
            text = f"{what} labelled {self.value} by {by}"
            return text if self.via == "author" else f"{text} (the original)"
        what = f"you {_VERB[self.why]} {name}"
        return what if self.via == "author" else f"{what} (the original's author)"

    def to_json(self, key_text: str) -> dict[str, object]:
        found: dict[str, object] = {"key": key_text, "why": self.why, "via": self.via}
        if self.value is not None:
            found |= {"value": self.value, "on": self.on}
        return found


@dataclass(frozen=True, slots=True)
class Policy:
    """The user's mutes and blocks (sets of 32-byte keys) and the labels that apply (``me``:
    the user, to tell their own labels). Empty: nothing hidden."""

    blocked: frozenset[bytes] = frozenset()
    muted: frozenset[bytes] = frozenset()
    private: frozenset[bytes] = frozenset()
    labels: Labels = field(default_factory=Labels)
    me: bytes = field(default=b"", compare=False)

    @classmethod
    def of(
        cls,
        blocked: Iterable[bytes] = (),
        muted: Iterable[bytes] = (),
        private: Iterable[bytes] = (),
        labels: Labels | None = None,
        me: bytes = b"",
    ) -> Policy:
        found = labels if labels is not None else Labels()
        return cls(frozenset(blocked), frozenset(muted), frozenset(private), found, me)

    def __bool__(self) -> bool:
        return bool(self.blocked or self.muted or self.private or self.labels)

    def author(self, key: bytes) -> Why | None:
        """Why ``key`` is hidden (block first, then a public mute, then a private one)."""
        if key in self.blocked:
            return "block"
        if key in self.muted:
            return "mute"
        if key in self.private:
            return "private mute"
        return None

    def hidden(self, message: Message) -> Hidden | None:
        """Why ``message`` is hidden from the user's reads, or None if it is shown."""
        why = self.author(message.author)
        if why is not None:
            return Hidden(message.author, why)
        original = message.body.get("author")  # repost, reaction: the post's author
        if isinstance(original, bytes):
            why = self.author(original)
            if why is not None:
                return Hidden(original, why, "original")
        for label, via in self.labelled(message):
            if label.action == "hide":
                who: HiddenWhy = "own label" if label.labeller == self.me else "label"
                return Hidden(label.labeller, who, via, label.value, label.on)
        return None

    def labelled(self, message: Message) -> list[tuple[Label, Literal["author", "original"]]]:
        """The labels that apply to ``message`` (on it or its author), then to the post it
        re-shares or reacts to (on that post or its author), each in precedence order."""
        if not self.labels:
            return []
        found: list[tuple[Label, Literal["author", "original"]]] = [
            (label, "author") for label in self.labels.on(message.id, message.author)
        ]
        post, author = message.body.get("id"), message.body.get("author")
        if isinstance(post, bytes) and isinstance(author, bytes):
            found += [(label, "original") for label in self.labels.on(post, author)]
        return found

    def warnings(self, message: Message) -> list[Label]:
        """The ``warn`` labels on ``message`` or the post it re-shares, for a shown item (each
        labeller and value once, in precedence order)."""
        seen: dict[tuple[bytes, str], Label] = {}
        for label, _via in self.labelled(message):
            if label.action == "warn":
                seen.setdefault((label.labeller, label.value), label)
        return list(seen.values())

    def admits(self, key: bytes) -> bool:
        """Whether the node may store ``key``'s messages (a blocked key's: no)."""
        return key not in self.blocked


#: The write actions on the policy, and the state each wants.
Action = Literal["mute", "unmute", "block", "unblock"]


def change_problem(
    policy: Policy, me: bytes, target: bytes, action: Action, *, private: bool = False
) -> str | None:
    """Why the user cannot ``action`` ``target`` now (in words, without the key's text), or None.

    Not yourself; not a mute of someone muted already (publicly, or privately with ``private``);
    not an unmute of someone not muted (either way); the same for block and unblock."""
    if target == me:
        return f"you cannot {action} yourself"
    if action in ("mute", "unmute"):
        held = target in (policy.private if private else policy.muted)
        if action == "mute" and held:
            return "you already muted" + (" privately" if private else "")
        if action == "unmute" and target not in policy.muted | policy.private:
            return "you have not muted"
        return None
    held = target in policy.blocked
    if action == "block" and held:
        return "you already blocked"
    if action == "unblock" and not held:
        return "you have not blocked"
    return None
