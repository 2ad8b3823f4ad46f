"""The notifications and profile reads over a real store: replies, mentions (key text and
fingerprint), followers, newest first, own messages and deleted posts never counted."""

from __future__ import annotations

from pathlib import Path

from pnyx import ops
from pnyx.core.display import fingerprint
from pnyx.crypto.keytext import encode_public_key
from pnyx.reads import notifications, profile
from pnyx.store import Store
from tests.store_helpers import key, pub

#: A plausible wall-clock time, in ms since the epoch.
T = 1_700_000_000_000


def test_notifications_newest_first(tmp_path: Path) -> None:
    me, bob, carol = key(1), key(2), key(3)
    with Store.open(tmp_path / "pnyx.db") as store:
        mine = ops.post(store, me, "my post", now_ms=T + 1000)
        ops.post(store, me, "I name myself " + encode_public_key(pub(me)), now_ms=T + 1500)
        ops.follow(store, bob, encode_public_key(pub(me)), now_ms=T + 2000)
        ops.post(store, bob, "a reply", reply_to=mine.id.hex(), now_ms=T + 3000)
        ops.post(store, carol, "hello " + fingerprint(pub(me)), now_ms=T + 4000)
        gone = ops.post(store, carol, "hi " + encode_public_key(pub(me)), now_ms=T + 5000)
        ops.delete(store, carol, gone.id.hex(), now_ms=T + 6000)
        ops.post(store, carol, "unrelated " + fingerprint(pub(bob)), now_ms=T + 7000)
        ops.post(store, carol, "reply naming " + encode_public_key(pub(me)),
                 reply_to=mine.id.hex(), now_ms=T + 8000)  # fmt: skip
        found = [(n.kind, n.message.text) for n in notifications(store, pub(me))]
        assert found == [
            ("reply", "reply naming " + encode_public_key(pub(me))),
            ("mention", "hello " + fingerprint(pub(me))),
            ("reply", "a reply"),
            ("follow", None),
        ]
        ops.unfollow(store, bob, encode_public_key(pub(me)), now_ms=T + 9000)
        assert [n.kind for n in notifications(store, pub(me), limit=2)] == ["reply", "mention"]
        assert "follow" not in [n.kind for n in notifications(store, pub(me))]


def test_profile_read(tmp_path: Path) -> None:
    me, bob = key(1), key(2)
    with Store.open(tmp_path / "pnyx.db") as store:
        ops.profile(store, bob, name="Bob", bio="<b>bio</b>", now_ms=T + 1000)
        ops.post(store, bob, "first", now_ms=T + 2000)
        ops.follow(store, me, encode_public_key(pub(bob)), now_ms=T + 3000)
        view = profile(store, pub(me), pub(bob))
        record = view.to_json()
        assert record["name"] == "Bob" and record["bio"] == "<b>bio</b>"
        assert record["followed"] is True and record["is_me"] is False
        assert [p.text for p in view.posts] == ["first"]
        assert record["fingerprint"] == fingerprint(pub(bob))
        stranger = profile(store, pub(me), pub(key(9)))
        assert stranger.known is False and stranger.posts == []
