"""The square's kinds (poll, vote, label, note, note-rating) against a hostile author.

Properties: any body, however mangled, is accepted or refused with ``InvalidMessage`` and nothing
else (also when a node of an older version stored it as an unknown kind and the upgrade fills the
kind's table); every body accepted round-trips through the store and every read of it works; the
tally and the notes scorer never raise and never give NaN or infinity, whatever the ballots and
ratings; neither depends on the order of its input.
"""

from __future__ import annotations

import contextlib
import math
import sqlite3
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pnyx.core import kinds
from pnyx.core.kinds import check_body
from pnyx.core.reasons import InvalidMessage
from pnyx.notes.score import MIN_RATER_RATINGS, Rating, fit
from pnyx.polls.tally import Ballot, PollSpec, tally
from pnyx.reads.notes import post_notes
from pnyx.reads.policy import load_policy, visible
from pnyx.reads.polls import poll_list, poll_view
from pnyx.store import Store
from pnyx.store import labels as label_store
from pnyx.store.notes import all_notes, all_ratings, notes_on
from pnyx.store.polls import ballots, recent_polls
from tests.store_helpers import NOW_MS, Feed, key, pub
from tests.test_core_properties import FIELD_NAMES, IDS, SQUARE_BODIES, VALUES

SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
#: The body fields each square kind defines (arbitrary bodies draw their names from these).
FIELDS = {
    "poll": ["question", "options", "closes", "multiple"],
    "vote": ["poll", "choices"],
    "label": ["post", "key", "value", "neg"],
    "note": ["post", "text", "misleading"],
    "note-rating": ["note", "helpful"],
}
#: Values a hostile author puts in a field: any value, and lists and maps of them (unhashable).
HOSTILE = VALUES | st.lists(VALUES, max_size=13) | st.dictionaries(FIELD_NAMES, VALUES, max_size=2)


@st.composite
def hostile_bodies(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A square kind with a body of its own field names (and others) holding anything, or a valid
    body with one or two fields replaced by anything."""
    kind = draw(st.sampled_from(sorted(FIELDS)))
    names = st.sampled_from(FIELDS[kind]) | FIELD_NAMES
    if draw(st.booleans()):
        return kind, draw(st.dictionaries(names, HOSTILE, max_size=5))
    body = dict(draw(SQUARE_BODIES[kind]))
    for name in draw(st.sets(st.sampled_from(FIELDS[kind]), min_size=1, max_size=2)):
        if draw(st.booleans()):
            body[name] = draw(HOSTILE)
        else:
            body.pop(name, None)
    return kind, body


@settings(max_examples=400, suppress_health_check=SLOW)
@given(hostile_bodies())
def test_any_body_is_accepted_or_refused_with_a_reason(case: tuple[str, dict[str, Any]]) -> None:
    kind, body = case
    with contextlib.suppress(InvalidMessage):  # anything else propagates and fails the test
        check_body(kind, body)


def test_a_list_or_map_where_a_rating_belongs_is_refused() -> None:
    # found by the fuzzer: ``helpful in HELPFUL`` hashed a list and raised TypeError
    unhashable: list[object] = [[], {}, ["yes"]]
    for helpful in unhashable:
        with pytest.raises(InvalidMessage, match="yes, somewhat or no"):
            check_body("note-rating", {"note": b"\x01" * 32, "helpful": helpful})


def test_hostile_bodies_held_as_an_unknown_kind_do_not_stop_the_upgrade(tmp_path: Path) -> None:
    """A node of an older version stored these as unknown kinds (any map was valid): opening the
    store with this version fills each kind's table, skipping what breaks its schema."""
    feed = Feed(key(2))
    post = feed.post("held")
    bad: dict[str, dict[str, Any]] = {
        "poll": {"question": "q", "options": ["a", ["b"]], "closes": NOW_MS},
        "vote": {"poll": post.id, "choices": [{}]},
        "label": {"post": post.id, "value": ["spam"]},
        "note": {"post": post.id, "text": {"t": 1}},
        "note-rating": {"note": post.id, "helpful": ["yes"]},
    }
    specs = {kind: kinds.spec_of(kind) for kind in bad}
    for kind, body in bad.items():
        feed.add_unchecked(kind, body)
        kinds.unregister(kind)
    try:
        with Store.open(tmp_path / "pnyx.db") as old:
            assert old.ingest_verified(feed.messages).accepted
    finally:
        for spec in specs.values():
            assert spec is not None
            kinds.register(spec)
    with Store.open(tmp_path / "pnyx.db") as store:  # raised TypeError before the fix
        assert recent_polls(store) == [] and ballots(store, post.id) == []
        assert all_notes(store) == {} and all_ratings(store) == []
        assert label_store.label_rows(store, [feed.author]) == []


@st.composite
def square_feeds(draw: st.DrawFn) -> tuple[list[Feed], dict[str, list[Any]]]:
    """Authors publishing valid square messages that name each other's: votes on the polls held
    (or on unknown ids), notes on a held post, ratings of the notes held, labels on any of them.
    Every message has an author of its own, as a flood of fresh keys would."""
    feeds: list[Feed] = []
    made: dict[str, list[Any]] = {kind: [] for kind in FIELDS}
    host = Feed(key(1))
    made["post"] = [host.post("a claim")]
    feeds.append(host)
    counter = iter(range(2, 250))

    def author() -> Feed:
        feed = Feed(key(next(counter)))
        feeds.append(feed)
        return feed

    def pick(found: list[Any]) -> bytes:
        return draw(st.sampled_from([m.id for m in found]) | IDS) if found else draw(IDS)

    for kind in ("poll", "vote", "note", "note-rating", "label"):
        for drawn in draw(st.lists(SQUARE_BODIES[kind], max_size=4)):
            body = dict(drawn)
            if kind == "vote":
                body["poll"] = pick(made["poll"])
            elif kind == "note":
                body["post"] = pick(made["post"])
            elif kind == "note-rating":
                body["note"] = pick(made["note"])
            elif "post" in body:
                body["post"] = pick(made["post"] + made["note"])
            feed = author()
            made[kind].append(feed.add(kind, body))
            if draw(st.booleans()):  # the same author again: its later message replaces
                made[kind].append(feed.add(kind, body))
    return feeds, made


@settings(max_examples=25, deadline=None, suppress_health_check=SLOW)
@given(square_feeds())
def test_valid_bodies_round_trip_through_the_store(case: tuple[list[Feed], dict[str, Any]]) -> None:
    feeds, made = case
    me = pub(key(1))
    with tempfile.TemporaryDirectory() as tmp, Store.open(Path(tmp) / "pnyx.db") as store:
        report = store.ingest_verified([m for f in feeds for m in f.messages], now_ms=NOW_MS)
        assert not report.rejected
        conn = sqlite3.connect(store.path)
        for kind, table, column in (
            ("poll", "polls", "id"),
            ("note", "notes", "id"),
            ("vote", "poll_votes", "id"),
        ):
            held = {bytes(r[0]) for r in conn.execute(f"SELECT {column} FROM {table}")}
            assert held == {m.id for m in made[kind]}
        rated = conn.execute("SELECT count(*) FROM note_ratings").fetchone()[0]
        labelled = conn.execute("SELECT count(*) FROM labels").fetchone()[0]
        conn.close()
        assert rated == len(made["note-rating"])
        subjects = {
            (m.author, m.body["value"], m.body.get("post"), m.body.get("key"))
            for m in made["label"]
        }
        assert labelled == len(subjects)
        assert len(recent_polls(store, limit=100)) == len({m.id for m in made["poll"]})
        poll_list(store, me, now_ms=NOW_MS)
        for poll in made["poll"]:
            view = poll_view(store, me, poll.id, now_ms=NOW_MS)
            assert all(math.isfinite(x) for x in view.tally.for_you)
            view.to_json()
        for vote in made["vote"]:
            ballots(store, vote.body["poll"])
        for labeller in {m.author for m in made["label"]}:
            label_store.subscribe(store, labeller, {}, NOW_MS)
        load_policy(store, me)
        for post in made["post"]:
            notes = post_notes(store, me, post.id, now_ms=NOW_MS)
            # every note the user's policy shows (a subscribed label may hide a note's author)
            assert len(notes.notes) == len(visible(store, me, notes_on(store, post.id)))
            notes.to_json()
        assert len(all_notes(store)) == len({m.id for m in made["note"]})
        all_ratings(store)


VOTERS = st.binary(min_size=32, max_size=32).map(lambda b: b[:1] * 32)  # few distinct voters
BALLOTS = st.builds(
    Ballot,
    voter=VOTERS,
    seq=st.integers(1, 5),
    ts=st.integers(-(2**63), 2**63),
    received_ms=st.integers(-(2**63), 2**63),
    choices=st.integers(-(2**20), 2**20) | st.integers(-(2**200), 2**200),
)
POLLS = st.builds(
    PollSpec,
    author=VOTERS,
    ts=st.integers(-(2**53), 2**53),
    closes=st.integers(-(2**53), 2**53),
    options=st.integers(2, 12),
    multiple=st.booleans(),
)


@settings(max_examples=300, suppress_health_check=SLOW)
@given(
    POLLS,
    st.lists(BALLOTS, max_size=40),
    st.frozensets(VOTERS, max_size=4),
    st.dictionaries(VOTERS, VOTERS, max_size=4),
    st.randoms(use_true_random=False),
)
def test_the_tally_never_raises_nor_gives_nan(
    poll: PollSpec,
    found: list[Ballot],
    trusted: frozenset[bytes],
    cluster_of: dict[bytes, bytes],
    rng: Any,
) -> None:
    me = b"\x00" * 32
    counted = tally(poll, found, me=me, trusted=trusted, cluster_of=cluster_of)
    assert all(math.isfinite(x) and x >= 0 for x in counted.for_you)
    assert all(math.isfinite(counted.share(i)) for i in range(poll.options))
    assert counted.voters + counted.invalid + counted.after_close + counted.before_open == len(
        {b.voter for b in found}
    )
    assert counted.outside == len([v for v in counted.counted if v != me and v not in trusted])
    assert sum(counted.for_you) <= sum(counted.everyone) + 1e-9
    counted.why()
    shuffled = list(found)
    rng.shuffle(shuffled)
    again = tally(poll, shuffled, me=me, trusted=trusted, cluster_of=cluster_of)
    assert (again.everyone, again.counted) == (counted.everyone, counted.counted)


# few raters and more notes than MIN_RATER_RATINGS: raters do enter the model
RATERS = st.integers(0, 5).map(lambda n: bytes([n]) * 32)
NOTES = st.integers(0, 14).map(lambda n: bytes([100 + n]) * 32)
VALUES_RATED = st.sampled_from([0.0, 0.5, 1.0]) | st.floats()


@settings(max_examples=150, deadline=None, suppress_health_check=SLOW)
@given(
    st.lists(st.builds(Rating, rater=RATERS, note=NOTES, value=VALUES_RATED), max_size=150),
    st.dictionaries(RATERS, RATERS, max_size=4),
)
def test_the_scorer_never_raises_nor_gives_nan(found: list[Rating], cluster_of: Any) -> None:
    model = fit(found, cluster_of=cluster_of, notes=[bytes([99]) * 32])
    assert math.isfinite(model.mu)
    for score in model.notes.values():
        assert score.intercept is None or math.isfinite(score.intercept)
        assert score.factor is None or math.isfinite(score.factor)
        score.why()
    assert all(math.isfinite(x) for pair in model.raters.values() for x in pair)
    again = fit(list(reversed(found)), cluster_of=cluster_of, notes=[bytes([99]) * 32])
    assert again.notes == model.notes


@pytest.mark.parametrize(
    "shape", ["one prolific rater", "one rater per note", "all equal", "all no", "huge counts"]
)
def test_the_scorer_on_extreme_shapes(shape: str) -> None:
    def rater(n: int) -> bytes:
        return n.to_bytes(32, "big")

    def note(n: int) -> bytes:
        return (n + 2**200).to_bytes(32, "big")

    if shape == "one prolific rater":  # one rater with 10,000 ratings, each note rated once
        found = [Rating(rater(0), note(n), 1.0) for n in range(10_000)]
    elif shape == "one rater per note":
        found = [Rating(rater(n), note(n % 3), 1.0) for n in range(3 * MIN_RATER_RATINGS)]
    elif shape == "all equal":
        found = [Rating(rater(u), note(n), 0.5) for u in range(40) for n in range(12)]
    elif shape == "all no":
        found = [Rating(rater(u), note(n), 0.0) for u in range(40) for n in range(12)]
    else:  # many raters on one note, all of whom also rated many others
        found = [Rating(rater(u), note(0), 1.0) for u in range(5_000)]
        found += [Rating(rater(u), note(1 + n), 0.0) for u in range(5_000) for n in range(10)]
    model = fit(found)
    for score in model.notes.values():
        assert score.intercept is not None and math.isfinite(score.intercept)
        assert score.factor is not None and math.isfinite(score.factor)
    if shape in ("one prolific rater", "one rater per note"):
        assert {s.status for s in model.notes.values()} <= {"needs more ratings"}


def test_a_value_that_is_not_a_rating_does_not_poison_the_scores() -> None:
    found = [
        Rating(bytes([u]) * 32, bytes([100 + n]) * 32, 1.0) for u in range(6) for n in range(12)
    ]
    clean = fit(found)
    for bad in (math.nan, math.inf, -1.0, 2.0):  # NaN made every score NaN before the fix
        assert fit([*found, Rating(b"\x00" * 32, bytes([200]) * 32, bad)]).notes == clean.notes


def test_two_ballots_at_one_seq_count_the_same_in_any_order() -> None:
    poll = PollSpec(b"\x01" * 32, 0, 10**6, 2, False)
    voter = b"\x02" * 32
    forked = [Ballot(voter, 3, 10, 10, 0b01), Ballot(voter, 3, 10, 10, 0b10)]
    first = tally(poll, forked, me=voter, trusted=frozenset())
    again = tally(poll, forked[::-1], me=voter, trusted=frozenset())
    assert first.everyone == again.everyone == (0, 1)  # it was whichever came first
