"""The kind registry: each kind is one declaration, and a kind registered here (a test's own
``rating`` with a derived table) flows through validation, the store's rows and rendering with no
change anywhere else. Also: the built-in kinds' ``--json`` fields and words are what they were."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from pnyx.cli import render
from pnyx.core import envelope, kinds
from pnyx.core.kinds import Body, Derived, KindSpec, Style, unknown
from pnyx.core.kinds.fields import bytes_field, key_text
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import StoreError
from pnyx.store import Store
from tests.store_helpers import NOW_MS, Feed, key, pub
from tests.vectors.make_vectors import RECIPE_BYTES, RECIPE_HASH

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

RATING = "rating"
RATINGS_DDL = """
CREATE TABLE IF NOT EXISTS ratings (
    target BLOB    NOT NULL,
    rater  INTEGER NOT NULL,
    rated  INTEGER NOT NULL,
    seq    INTEGER NOT NULL,
    score  INTEGER NOT NULL,
    PRIMARY KEY (target, rater)
) WITHOUT ROWID;
"""
UPSERT_RATING = """
INSERT INTO ratings (target, rater, rated, seq, score) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (target, rater) DO UPDATE SET seq = excluded.seq, score = excluded.score
WHERE excluded.seq > ratings.seq
"""


def check_rating(body: Body) -> None:
    bytes_field(body, "id", 32)
    bytes_field(body, "author", 32)
    score = body.get("score")
    if type(score) is not int or not 1 <= score <= 5:
        raise InvalidMessage(Reason.WRONG_BODY, "field 'score' must be 1..5")


def ratings_row(message: Message, aid: int) -> tuple[object, ...]:
    body = message.body
    return (body["id"], aid, body["author"], message.seq, body["score"])


def describe_rating(body: Body, style: Style) -> str:
    return f"rates {style.key(body['author'])}'s post {style.ref(body['id'])}: {body['score']}/5"


def rating_json(body: Body) -> dict[str, object]:
    return {
        "target": body["id"].hex(),
        "target_author": key_text(body["author"]),
        "score": body["score"],
    }


RATINGS = Derived("ratings", UPSERT_RATING, ratings_row, keys=(2,), create=RATINGS_DDL)
RATING_SPEC = KindSpec(
    RATING, check_rating, describe_rating, rating_json, target="id", derived=(RATINGS,)
)


@pytest.fixture
def rating_kind() -> Iterator[KindSpec]:
    kinds.register(RATING_SPEC)
    try:
        yield RATING_SPEC
    finally:
        kinds.unregister(RATING)


def _rate(feed: Feed, post: Message, score: Any) -> Message:
    return feed.add(RATING, {"id": post.id, "author": post.author, "score": score})


def test_a_registered_kind_is_validated() -> None:
    feed = Feed(key(1))
    post = feed.post("hello")
    good, bad = _rate(feed, post, 4), _rate(feed, post, 9)  # signed while `rating` is unknown
    assert RATING not in kinds.KNOWN_KINDS
    assert envelope.decode(bad.raw).body["score"] == 9  # unknown: any map body is passed on
    kinds.register(RATING_SPEC)
    try:
        assert RATING in kinds.KNOWN_KINDS
        assert envelope.decode(good.raw).body["score"] == 4
        with pytest.raises(InvalidMessage) as caught:
            envelope.decode(bad.raw)
        assert caught.value.reason is Reason.WRONG_BODY
        with pytest.raises(ValueError, match="already registered"):
            kinds.register(RATING_SPEC)
    finally:
        kinds.unregister(RATING)


def _ratings(path: Path) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            """SELECT r.target, r.seq, r.score, a.author, b.author FROM ratings AS r
            JOIN authors AS a ON a.aid = r.rater JOIN authors AS b ON b.aid = r.rated
            ORDER BY r.seq"""
        ).fetchall()


def test_a_registered_kind_gets_its_messages_row_and_derived_table(
    rating_kind: KindSpec, tmp_path: Path
) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    post = alice.post("rate me")
    _rate(bob, post, 2)
    _rate(bob, post, 5)  # the later rating wins
    path = tmp_path / "pnyx.db"
    with Store.open(path) as store:
        # bob's feed only: alice, the rated author, is never seen and gets an authors row
        report = store.ingest(bob.raws(), NOW_MS)
        assert len(report.accepted) == 2
        assert store.references(pub(key(2)), RATING, post.id) == [
            store.get(m.id) for m in bob.messages
        ]
    assert _ratings(path) == [(post.id, 2, 5, pub(key(2)), pub(key(1)))]


def test_a_new_derived_table_is_filled_from_messages_stored_while_unknown(
    tmp_path: Path,
) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    post = alice.post("rate me")
    _rate(bob, post, 3)
    _rate(bob, post, 0)  # breaks the schema learnt later: skipped, still stored
    path = tmp_path / "pnyx.db"
    with Store.open(path) as store:
        assert len(store.ingest(alice.raws() + bob.raws(), NOW_MS).accepted) == 3
    kinds.register(RATING_SPEC)
    try:
        with pytest.raises(StoreError, match="no table ratings: open it once read-write"):
            Store.open(path, readonly=True)
        Store.open(path).close()
        assert _ratings(path) == [(post.id, 1, 3, pub(key(2)), pub(key(1)))]
        with Store.open(path, readonly=True) as store:
            assert store.counts()["messages"] == 3
    finally:
        kinds.unregister(RATING)


def test_a_registered_kind_is_rendered_in_words_and_json(rating_kind: KindSpec) -> None:
    alice, bob = Feed(key(1)), Feed(key(2))
    post = alice.post("rate me")
    rating = _rate(bob, post, 4)
    words = f"rates {render.short_key(post.author)}'s post {post.id.hex()[:12]}: 4/5"
    assert render.describe(rating) == words
    record = json.loads(render.message_json(rating))
    assert record["kind"] == RATING and record["score"] == 4
    assert record["target"] == post.id.hex() and record["target_author"] == key_text(post.author)
    kinds.unregister(RATING)
    assert render.describe(rating) == "(rating: a kind this version does not show)"
    assert "score" not in json.loads(render.message_json(rating))
    kinds.register(RATING_SPEC)


def _every_known_kind() -> list[Message]:
    alice, bob = Feed(key(1)), Feed(key(2))
    post = alice.post("line one\nline two")
    return [
        post,
        bob.post("re", reply_to=post),
        bob.add("repost", {"id": post.id, "author": post.author}),
        bob.add("reaction", {"id": post.id, "author": post.author, "reaction": "+"}),
        bob.add("reaction", {"id": post.id, "author": post.author, "reaction": "🎉"}),
        bob.follow(alice.author),
        bob.unfollow(alice.author),
        bob.profile(name="Bob", bio="hi"),
        bob.profile(bio=""),
        alice.delete(post.id),
        *(bob.add(kind, {"key": alice.author}) for kind in ("mute", "unmute", "block", "unblock")),
        bob.add("recipe", {"name": "buzz", "recipe": RECIPE_BYTES}),
        alice.add("poll", {"question": "tea?", "options": ["yes", "no"], "closes": 1 << 41}),
        bob.add("vote", {"poll": post.id, "choices": [0, 2]}),
        bob.add("label", {"post": post.id, "value": "spam"}),
        bob.add("label", {"key": alice.author, "value": "!warn", "neg": True}),
        bob.add("note", {"post": post.id, "text": "context"}),
        alice.add("note-rating", {"note": post.id, "helpful": "somewhat"}),
    ]


def test_every_known_kind_has_a_spec_and_its_json_fields_are_unchanged() -> None:
    messages = _every_known_kind()
    assert {m.kind for m in messages} == set(kinds.KNOWN_KINDS)
    for message in messages:
        spec = kinds.spec_of(message.kind)
        assert spec is not None and spec.name == message.kind
        if message.kind == "recipe":  # newer than specs: its own fields from the start
            fields = {"recipe_name": "buzz", "recipe_hash": RECIPE_HASH}
            assert spec.json_fields(message.body) == fields
            continue
        if message.kind in ("poll", "vote", "label", "note", "note-rating"):  # newer than specs
            continue
        # the generic field mapping is what every kind showed before it had a spec of its own
        assert spec.json_fields(message.body) == unknown.json_fields(message.body), message.kind


def spec_json(message: Message) -> dict[str, object]:
    spec = kinds.spec_of(message.kind)
    assert spec is not None
    return spec.json_fields(message.body)


def test_every_known_kind_in_words() -> None:
    found = _every_known_kind()
    post, reply, repost, like, party, follow, unfollow, profile, bio, delete = found[:10]
    assert render.describe(found[14]) == f"publishes the feed recipe buzz ({RECIPE_HASH[:12]})"
    assert render.describe(found[15]) == "asks tea? (choose one: yes / no)"
    assert render.describe(found[16]) == f"votes 1, 3 on the poll {post.id.hex()[:12]}"
    assert spec_json(found[15]) == {
        "question": "tea?",
        "options": ["yes", "no"],
        "closes_ms": 1 << 41,
        "multiple": False,
    }
    assert spec_json(found[16]) == {"poll": post.id.hex(), "choices": [0, 2]}
    assert render.describe(found[17]) == f"labels the post {post.id.hex()[:12]} spam"
    short = render.short_key(post.author)
    assert render.describe(found[18]) == f"retracts the label !warn on {short}"
    assert kinds.spec_of("label").json_fields(found[18].body) == {  # type: ignore[union-attr]
        "key": key_text(post.author),
        "value": "!warn",
        "neg": True,
    }
    assert render.describe(found[19]) == f"notes post {post.id.hex()[:12]} (misleading): context"
    assert render.describe(found[20]) == f"rates the note {post.id.hex()[:12]} helpful: somewhat"
    assert spec_json(found[19]) == {
        "post": post.id.hex(),
        "note_text": "context",
        "misleading": True,
    }
    assert spec_json(found[20]) == {"note": post.id.hex(), "helpful": "somewhat"}
    for message, verb in zip(found[10:14], ("mutes", "unmutes", "blocks", "unblocks"), strict=True):
        assert render.describe(message) == f"{verb} {render.short_key(post.author)}"
    alice, ref = render.short_key(post.author), post.id.hex()[:12]
    assert render.describe(post, lead="  │ ") == "line one\n  │ line two"
    assert render.describe(reply) == f"↳ reply to {ref}: re"
    assert render.describe(reply, parent_who="alice") == f"↳ reply to alice ({ref}): re"
    assert render.describe(repost) == f"↻ reposted {alice}'s post {ref}"
    assert render.describe(like) == f"likes {alice}'s post {ref}"
    assert render.describe(party) == f"reacts 🎉 to {ref}"
    assert render.describe(follow) == f"follows {alice}"
    assert render.describe(unfollow) == f"unfollows {alice}"
    assert render.describe(profile) == "profile name: Bob; bio: hi"
    assert render.describe(bio) == "profile bio: "
    assert render.describe(delete) == f"deletes {ref}"
