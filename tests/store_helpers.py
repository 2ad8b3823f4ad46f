"""Helpers shared by the store tests: deterministic keys and signed feeds."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import nacl.signing

from pnyx.core import canonical, envelope
from pnyx.core.envelope import Message
from pnyx.core.limits import PROTOCOL_VERSION, SIGNATURE_DOMAIN
from pnyx.store import Cursor, Store, StoredMessage

#: A fixed "now" for tests, in ms since the epoch (2026-01-01T00:00:00Z).
NOW_MS = 1_767_225_600_000
#: Time between consecutive messages of a test feed, in ms.
STEP_MS = 1000


def key(n: int) -> nacl.signing.SigningKey:
    """A deterministic signing key: seed = n repeated (n in 0..255)."""
    return nacl.signing.SigningKey(bytes([n]) * 32)


def pub(signing_key: nacl.signing.SigningKey) -> bytes:
    return bytes(signing_key.verify_key)


class Feed:
    """Builds one author's chain of signed messages (not stored; hand them to a Store)."""

    def __init__(self, signing_key: nacl.signing.SigningKey, start_ms: int = NOW_MS - 10**8):
        self.key = signing_key
        self.author = pub(signing_key)
        self.messages: list[Message] = []
        self.clock = start_ms

    def add(self, kind: str, body: dict[str, Any], *, ts: int | None = None) -> Message:
        """Sign the next message of the chain."""
        self.clock += STEP_MS
        prev = self.messages[-1].id if self.messages else None
        message = envelope.sign(
            self.key,
            seq=len(self.messages) + 1,
            prev=prev,
            ts=self.clock if ts is None else ts,
            kind=kind,
            body=body,
        )
        self.messages.append(message)
        return message

    def post(self, text: str, *, reply_to: Message | None = None, ts: int | None = None) -> Message:
        body: dict[str, Any] = {"text": text}
        if reply_to is not None:
            body["root"] = reply_to.body.get("root", reply_to.id)
            body["parent"] = reply_to.id
        return self.add("post", body, ts=ts)

    def follow(self, other: bytes) -> Message:
        return self.add("follow", {"key": other})

    def unfollow(self, other: bytes) -> Message:
        return self.add("unfollow", {"key": other})

    def delete(self, target: bytes) -> Message:
        return self.add("delete", {"id": target})

    def profile(self, **fields: str) -> Message:
        return self.add("profile", dict(fields))

    def add_unchecked(self, kind: str, body: dict[str, Any]) -> Message:
        """Sign the next message without validating it: data stored before a rule it breaks
        existed (store it with ``Store.ingest_verified``, which does not validate again)."""
        self.clock += STEP_MS
        prev = self.messages[-1].id if self.messages else None
        message = sign_unchecked(
            self.key, seq=len(self.messages) + 1, prev=prev, ts=self.clock, kind=kind, body=body
        )
        self.messages.append(message)
        return message

    def other_at(self, seq: int, text: str = "forked") -> Message:
        """A conflicting message at ``seq`` (same prev as the real one): fork evidence."""
        prev = self.messages[seq - 2].id if seq > 1 else None
        return envelope.sign(
            self.key, seq=seq, prev=prev, ts=self.clock, kind="post", body={"text": text}
        )

    def raws(self) -> list[bytes]:
        return [m.raw for m in self.messages]


def sign_unchecked(
    signing_key: nacl.signing.SigningKey,
    *,
    seq: int,
    prev: bytes | None,
    ts: int,
    kind: str,
    body: dict[str, Any],
) -> Message:
    """A correctly signed message built without ``decode``: it may break any body rule (not the
    canonical encoding). Models envelopes received before a rule was added."""
    author = bytes(signing_key.verify_key)
    payload = canonical.pack([PROTOCOL_VERSION, author, seq, prev, ts, kind, body])
    raw = signing_key.sign(SIGNATURE_DOMAIN + payload).signature + payload
    return Message(envelope.message_id(payload), author, seq, prev, ts, kind, body, raw)


def open_store(path: Path) -> Store:
    """A store in ``path`` (a test's tmp_path), file ``pnyx.db``."""
    return Store.open(path / "pnyx.db")


def ids(items: Iterable[StoredMessage]) -> list[bytes]:
    return [item.id for item in items]


def walk_timeline(store: Store, me: bytes, limit: int) -> list[StoredMessage]:
    """Every timeline item, page by page (asserting each page but the last is full)."""
    items: list[StoredMessage] = []
    cursor: Cursor | None = None
    while True:
        page = store.timeline(me, limit=limit, before=cursor)
        items.extend(page.items)
        if page.next is None:
            return items
        assert len(page.items) == limit
        cursor = Cursor.from_text(page.next.to_text())


def walk_feed(store: Store, author: bytes, limit: int) -> list[StoredMessage]:
    items: list[StoredMessage] = []
    cursor: Cursor | None = None
    while True:
        page = store.feed(author, limit=limit, before=cursor)
        items.extend(page.items)
        if page.next is None:
            return items
        cursor = page.next


def rating_camps(
    writer: Feed, post: Message, bridge_text: str, start_ms: int | None = None
) -> tuple[Message, list[Message], list[Feed]]:
    """Community notes that bridge (docs/notes.md): ``writer`` notes ``post`` with a "bridge"
    note and sixteen partisan ones; twelve raters (keys 10..15 and 20..25), two camps of six
    that disagree on every partisan note, all rate the bridge helpful. Returns the bridge, the
    partisan notes and the raters (not stored: hand their messages to a store)."""
    bridge = writer.add("note", {"post": post.id, "text": bridge_text})
    partisan = [writer.add("note", {"post": post.id, "text": f"side {i}"}) for i in range(16)]
    when = NOW_MS - 10**8 if start_ms is None else start_ms
    left = [Feed(key(10 + i), when) for i in range(6)]
    right = [Feed(key(20 + i), when) for i in range(6)]
    for camp, liked in ((left, 0), (right, 1)):
        for rater in camp:
            rater.add("note-rating", {"note": bridge.id, "helpful": "yes"})
            for i, n in enumerate(partisan):
                verdict = "yes" if i % 2 == liked else "no"
                rater.add("note-rating", {"note": n.id, "helpful": verdict})
    return bridge, partisan, left + right
