"""Labels: the kind's schema, the sans-I/O rules (``pnyx.trust.labels`` and the policy), and the
store's derived table and subscriptions (docs/moderation.md, "Labels and labellers").

Every expected value is worked out by hand from the rules in the docs."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, cast

import pytest

from pnyx.core.kinds import check_body
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.crypto.keytext import encode_public_key
from pnyx.reads.policy import load_policy
from pnyx.store import labels as label_store
from pnyx.trust.labels import Labels, Subscription, default_action, subscription_problem
from pnyx.trust.policy import Hidden, Policy
from tests.store_helpers import NOW_MS, Feed, key, open_store

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

ME, BOB, CAROL, DAVE = (bytes([n]) * 32 for n in (1, 2, 3, 4))
POST, OTHER = b"\xaa" * 32, b"\xbb" * 32


# --- the kind ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ({"value": "spam"}, Reason.WRONG_BODY),
        ({"post": POST, "key": BOB, "value": "x" * 33}, Reason.WRONG_BODY),  # subject first
        ({"post": POST[:31], "value": "spam"}, Reason.WRONG_BODY),
        ({"post": POST}, Reason.WRONG_BODY),
        ({"post": POST, "value": ""}, Reason.WRONG_BODY),
        ({"post": POST, "value": "x" * 33}, Reason.OVERSIZED),
        ({"post": POST, "value": "Spam"}, Reason.WRONG_BODY),
        ({"post": POST, "value": "a!b"}, Reason.WRONG_BODY),
        ({"post": POST, "value": "spam", "neg": 1}, Reason.WRONG_BODY),
    ],
)
def test_bad_label_bodies(body: dict[str, object], reason: Reason) -> None:
    with pytest.raises(InvalidMessage) as caught:
        check_body("label", body)
    assert caught.value.reason == reason


def test_good_label_bodies() -> None:
    for body in (
        {"post": POST, "value": "spam"},
        {"key": BOB, "value": "!hide", "neg": False},
        {"key": BOB, "value": "x" * 32, "neg": True, "extra": 1},
    ):
        assert check_body("label", body) is body


# --- the sans-I/O rules --------------------------------------------------------------------


def _msg(author: bytes, mid: bytes = POST, body: dict[str, object] | None = None) -> Message:
    """A stand-in message: the policy reads only ``author``, ``id`` and ``body``."""
    return cast("Message", SimpleNamespace(author=author, id=mid, body=body or {}, kind="post"))


def _policy(
    rows: list[tuple[str, bytes, bytes, str]],
    subs: list[Subscription],
    *,
    blocked: tuple[bytes, ...] = (),
    muted: tuple[bytes, ...] = (),
) -> Policy:
    labels = Labels.build(ME, subs, rows, blocked)
    return Policy.of(blocked, muted, (), labels, ME)


def test_defaults() -> None:
    assert [default_action(v) for v in ("!hide", "spam", "!warn", "nsfw", "misleading", "x")] == [
        "hide",
        "hide",
        "warn",
        "warn",
        "warn",
        "warn",
    ]
    assert Subscription(BOB, {"spam": "warn"}).action("spam") == "warn"
    assert subscription_problem({"spam": "hide"}) is None
    assert subscription_problem({"Spam": "hide"}) is not None
    assert subscription_problem({"spam": "drop"}) is not None


def test_hide_label_from_a_subscribed_labeller_hides_with_its_reason() -> None:
    policy = _policy([("post", POST, BOB, "spam")], [Subscription(BOB)])
    hidden = policy.hidden(_msg(CAROL))
    assert hidden == Hidden(BOB, "label", "author", "spam", "post")
    assert hidden.reason("bob") == "it labelled spam by bob, whom you subscribe to"
    assert hidden.to_json("k")["value"] == "spam"
    assert policy.hidden(_msg(CAROL, OTHER)) is None  # another post: nothing


def test_a_label_by_a_key_not_subscribed_does_nothing() -> None:
    policy = _policy([("post", POST, DAVE, "spam"), ("key", CAROL, DAVE, "nsfw")], [])
    assert policy.hidden(_msg(CAROL)) is None
    assert policy.warnings(_msg(CAROL)) == []
    assert not policy


def test_a_blocked_labeller_does_nothing() -> None:
    policy = _policy([("post", POST, BOB, "spam")], [Subscription(BOB)], blocked=(BOB,))
    assert policy.hidden(_msg(CAROL)) is None


def test_own_labels_apply_with_defaults() -> None:
    policy = _policy([("key", CAROL, ME, "!hide")], [])
    hidden = policy.hidden(_msg(CAROL, OTHER))
    assert hidden is not None and hidden.why == "own label" and hidden.on == "key"
    assert hidden.reason("me") == "its author labelled !hide by you"


def test_warn_keeps_the_item_and_every_warning_is_listed() -> None:
    rows = [("post", POST, CAROL, "misleading"), ("key", DAVE, BOB, "nsfw")]
    policy = _policy(rows, [Subscription(BOB), Subscription(CAROL)])
    message = _msg(DAVE)
    assert policy.hidden(message) is None
    warned = [(w.value, w.labeller) for w in policy.warnings(message)]
    assert warned == [("nsfw", BOB), ("misleading", CAROL)]  # labeller key order


def test_user_actions_override_and_ignore() -> None:
    rows = [("post", POST, BOB, "spam"), ("post", POST, BOB, "nsfw")]
    policy = _policy(rows, [Subscription(BOB, {"spam": "warn", "nsfw": "ignore"})])
    message = _msg(CAROL)
    assert policy.hidden(message) is None
    assert [w.value for w in policy.warnings(message)] == ["spam"]


def test_precedence_block_mute_then_label_then_labeller_order() -> None:
    rows = [("post", POST, CAROL, "spam"), ("post", POST, BOB, "!hide")]
    subs = [Subscription(BOB), Subscription(CAROL)]
    muted = _policy(rows, subs, muted=(DAVE,)).hidden(_msg(DAVE))
    assert muted is not None and muted.why == "mute"
    first = _policy(rows, subs).hidden(_msg(DAVE))
    assert first is not None and (first.key, first.value) == (BOB, "!hide")  # BOB < CAROL


def test_a_repost_of_a_labelled_post_is_hidden_via_the_original() -> None:
    policy = _policy([("key", CAROL, BOB, "spam")], [Subscription(BOB)])
    repost = _msg(DAVE, OTHER, {"id": POST, "author": CAROL})
    hidden = policy.hidden(repost)
    assert hidden is not None and hidden.via == "original"
    assert hidden.reason("bob") == "its author labelled spam by bob, whom you subscribe to" + (
        " (the original)"
    )


# --- the store: derived table, highest seq, subscriptions ------------------------------------


def test_store_highest_seq_decides_and_neg_retracts(tmp_path: Path) -> None:
    me, bob, carol = Feed(key(1)), Feed(key(2)), Feed(key(3))
    post = carol.post("buy now")
    bob.add("label", {"post": post.id, "value": "spam"})
    bob.add("label", {"key": carol.author, "value": "nsfw"})
    bob.add("label", {"key": carol.author, "value": "nsfw", "neg": True})  # retracted
    me.add("label", {"post": post.id, "value": "misleading"})
    with open_store(tmp_path) as store:
        store.ingest([r for f in (me, bob, carol) for r in f.raws()], NOW_MS)
        rows = label_store.label_rows(store, [bob.author])
        assert rows == [("post", post.id, bob.author, "spam")]
        assert not label_store.in_force(store, bob.author, "key", carol.author, "nsfw")
        policy = load_policy(store, me.author)
        assert policy.hidden(post) is None  # bob not subscribed yet; my own label warns
        assert [w.value for w in policy.warnings(post)] == ["misleading"]

        assert bob.author not in store.wanted_authors(me.author)
        assert label_store.subscribe(store, bob.author, {}, NOW_MS)
        assert bob.author in store.wanted_authors(me.author)  # pinned like a follow
        hidden = load_policy(store, me.author).hidden(post)
        assert hidden is not None and (hidden.key, hidden.value) == (bob.author, "spam")
        assert not label_store.subscribe(store, bob.author, {"spam": "ignore"}, NOW_MS)
        assert label_store.subscriptions(store) == [Subscription(bob.author, {"spam": "ignore"})]
        assert load_policy(store, me.author).hidden(post) is None
        assert label_store.unsubscribe(store, bob.author)
        assert not label_store.unsubscribe(store, bob.author)
        assert bob.author not in store.wanted_authors(me.author)


def test_a_label_seen_out_of_order_keeps_the_highest_seq(tmp_path: Path) -> None:
    bob, carol = Feed(key(2)), Feed(key(3))
    post = carol.post("x")
    bob.add("label", {"post": post.id, "value": "spam"})
    bob.add("label", {"post": post.id, "value": "spam", "neg": True})
    raws = bob.raws()
    with open_store(tmp_path) as store:
        store.ingest([raws[1]], NOW_MS)  # seq 2 (the retraction) first: a gap is fine
        store.ingest([raws[0]], NOW_MS)
        assert label_store.label_rows(store, [bob.author]) == []


def test_a_ranked_page_leaves_labelled_posts_out_and_why_says_so(tmp_path: Path) -> None:
    from pnyx.reads import ranked_timeline, why

    me, bob, carol = Feed(key(1)), Feed(key(2)), Feed(key(3))
    me.follow(carol.author)
    posts = [carol.post(f"carol {n}") for n in range(3)]
    bob.profile(name="Bob")
    bob.add("label", {"post": posts[-1].id, "value": "spam"})
    with open_store(tmp_path) as store:
        store.ingest([r for f in (me, bob, carol) for r in f.raws()], NOW_MS)
        label_store.subscribe(store, bob.author, {}, NOW_MS)
        page = ranked_timeline(store, me.author, "for-you", limit=3, now_ms=NOW_MS)
        assert sorted(i.item.message.text or "" for i in page.items) == ["carol 0", "carol 1"]
        view = why(store, me.author, posts[-1].id, "for-you", now_ms=NOW_MS)
        assert view.hidden is not None and view.hidden.why == "label"
        assert view.hidden_text() == (
            "hidden from your feeds: it labelled spam by Bob, whom you subscribe to"
        )
        assert view.to_json()["hidden"] == {
            "key": encode_public_key(bob.author),
            "why": "label",
            "via": "author",
            "value": "spam",
            "on": "post",
        }
