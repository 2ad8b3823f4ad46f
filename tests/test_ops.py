"""The write operations (pnyx.ops) on a real store: each rule, and that a refusal stores nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import nacl.signing
import pytest

from pnyx import ops
from pnyx.core.limits import MAX_NAME_BYTES, MAX_TEXT_BYTES
from pnyx.crypto.keytext import encode_public_key
from pnyx.errors import BadKeyTextError, NotFoundError, NothingChangedError, UserError
from pnyx.store import Store
from tests.store_helpers import NOW_MS, key, pub

ME = key(1)
OTHER = key(2)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(tmp_path / "pnyx.db") as opened:
        yield opened


def test_post_and_reply(store: Store) -> None:
    root = ops.post(store, ME, "root", now_ms=NOW_MS)
    assert root.kind == "post" and root.text == "root" and root.author == pub(ME)
    child = ops.reply(store, ME, root.id.hex()[:12], "child", now_ms=NOW_MS + 1)
    grandchild = ops.reply(store, ME, child.id.hex(), "grandchild", now_ms=NOW_MS + 2)
    assert child.fields["parent"] == root.id.hex() and child.fields["root"] == root.id.hex()
    assert grandchild.fields["root"] == root.id.hex()


def test_post_limits(store: Store) -> None:
    ops.post(store, ME, "x" * MAX_TEXT_BYTES, now_ms=NOW_MS)
    with pytest.raises(UserError, match=f"the limit is {MAX_TEXT_BYTES} bytes"):
        ops.post(store, ME, "é" * (MAX_TEXT_BYTES // 2 + 1), now_ms=NOW_MS)
    with pytest.raises(UserError, match="not valid UTF-8"):
        ops.post(store, ME, "bad \udcff", now_ms=NOW_MS)
    with pytest.raises(UserError, match="needs some text"):
        ops.post(store, ME, "  \n", now_ms=NOW_MS)
    with pytest.raises(NotFoundError, match="full 64-character id"):
        ops.reply(store, ME, "ab" * 6, "to a prefix of nothing", now_ms=NOW_MS)
    assert len(store.timeline(pub(ME)).items) == 1
    # a post known only by its full id (issue 24): a reply to a thread's first post
    unheld = ops.reply(store, ME, "ab" * 32, "to a post not held", now_ms=NOW_MS)
    assert unheld.fields["root"] == unheld.fields["parent"] == "ab" * 32


def test_like_and_repost_once(store: Store) -> None:
    post = ops.post(store, OTHER, "theirs", now_ms=NOW_MS).id.hex()
    assert ops.like(store, ME, post, now_ms=NOW_MS).fields["reaction"] == ops.LIKE
    with pytest.raises(UserError, match="already liked"):
        ops.like(store, ME, post, now_ms=NOW_MS)
    ops.like(store, ME, post, reaction="🔥", now_ms=NOW_MS)  # another reaction is another act
    ops.repost(store, ME, post, now_ms=NOW_MS)
    with pytest.raises(UserError, match="already reposted"):
        ops.repost(store, ME, post, now_ms=NOW_MS)


def test_delete_only_own_once(store: Store) -> None:
    mine = ops.post(store, ME, "mine", now_ms=NOW_MS).id.hex()
    theirs = ops.post(store, OTHER, "theirs", now_ms=NOW_MS).id.hex()
    with pytest.raises(UserError, match="not yours"):
        ops.delete(store, ME, theirs, now_ms=NOW_MS)
    ops.delete(store, ME, mine, now_ms=NOW_MS)
    with pytest.raises(UserError, match="already deleted"):
        ops.delete(store, ME, mine, now_ms=NOW_MS)


def test_follow_rules(store: Store) -> None:
    other = encode_public_key(pub(OTHER))
    with pytest.raises(UserError, match="yourself"):
        ops.follow(store, ME, encode_public_key(pub(ME)))
    with pytest.raises(BadKeyTextError):
        ops.follow(store, ME, "pnyx1nope")
    with pytest.raises(NothingChangedError, match="do not follow"):
        ops.unfollow(store, ME, other)
    ops.follow(store, ME, other, now_ms=NOW_MS)
    with pytest.raises(NothingChangedError, match="already follow"):
        ops.follow(store, ME, other, now_ms=NOW_MS)
    assert store.following(pub(ME)) == [pub(OTHER)]
    ops.unfollow(store, ME, other, now_ms=NOW_MS + 1)
    assert store.following(pub(ME)) == []


def test_profile_rules(store: Store) -> None:
    with pytest.raises(UserError, match="a name or a bio"):
        ops.profile(store, ME)
    with pytest.raises(UserError, match=f"limit is {MAX_NAME_BYTES} bytes"):
        ops.profile(store, ME, name="n" * (MAX_NAME_BYTES + 1))
    with pytest.raises(UserError, match="bidi"):
        ops.profile(store, ME, name="a\u202eb")
    view = ops.profile(store, ME, name="Alice", bio="hi", now_ms=NOW_MS)
    assert view.kind == "profile" and view.name == "Alice"


class _Locked:
    """A signer whose signing key would need a passphrase nobody gives."""

    def __init__(self, key: nacl.signing.SigningKey) -> None:
        self.public_key = bytes(key.verify_key)

    def signing_key(self) -> nacl.signing.SigningKey:
        raise AssertionError("the signing key was asked for")


def test_refusals_never_ask_for_the_signing_key(store: Store) -> None:
    post = ops.post(store, OTHER, "theirs", now_ms=NOW_MS).id.hex()
    ops.like(store, ME, post, now_ms=NOW_MS)
    ops.repost(store, ME, post, now_ms=NOW_MS)
    locked = _Locked(ME)
    with pytest.raises(UserError, match="already liked"):
        ops.like(store, locked, post)
    with pytest.raises(UserError, match="already reposted"):
        ops.repost(store, locked, post)
    with pytest.raises(UserError, match="yourself"):
        ops.follow(store, locked, encode_public_key(pub(ME)))
    with pytest.raises(NothingChangedError):
        ops.unfollow(store, locked, encode_public_key(pub(OTHER)))
    with pytest.raises(UserError, match="bytes"):
        ops.post(store, locked, "x" * (MAX_TEXT_BYTES + 1))
