"""Property tests of the envelope: every valid body round-trips; every other input, however
mangled, is either valid or refused with an ``InvalidMessage`` carrying a ``Reason``.

Examples per test are capped (``EXAMPLES``) so the file runs in a few seconds; a hypothesis profile
with more examples (``HYPOTHESIS_PROFILE=fuzz``) raises the cap.
"""

from __future__ import annotations

from typing import Any

import nacl.signing
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pnyx.core import canonical
from pnyx.core.display import name_problem
from pnyx.core.envelope import Message, decode, sign, validate
from pnyx.core.kinds import KNOWN_KINDS
from pnyx.core.kinds.label import MAX_LABEL_VALUE_BYTES, WELL_KNOWN
from pnyx.core.kinds.note import MAX_NOTE_TEXT_BYTES
from pnyx.core.kinds.note_rating import HELPFUL
from pnyx.core.kinds.poll import (
    MAX_POLL_OPTION_BYTES,
    MAX_POLL_OPTIONS,
    MAX_POLL_QUESTION_BYTES,
    MIN_POLL_OPTIONS,
)
from pnyx.core.limits import (
    MAX_BIO_BYTES,
    MAX_FIELD_NAME_BYTES,
    MAX_KIND_BYTES,
    MAX_NAME_BYTES,
    MAX_REACTION_BYTES,
    MAX_SEQ,
    MAX_TEXT_BYTES,
    MAX_TIMESTAMP_MS,
    MIN_TIMESTAMP_MS,
    SIGNATURE_DOMAIN,
)
from pnyx.core.reasons import InvalidMessage, Reason

#: Examples per property: modest by default, more under a profile that asks for more.
EXAMPLES = max(200, settings().max_examples)
#: Reasons a single envelope can be rejected for (the others need the author's chain).
ENVELOPE_REASONS = set(Reason) - {Reason.BROKEN_CHAIN, Reason.FORK, Reason.SEQ_TOO_FAR}

KEYS = st.binary(min_size=32, max_size=32).map(nacl.signing.SigningKey)
IDS = st.binary(min_size=32, max_size=32)


def utf8_text(min_bytes: int, max_bytes: int, max_chars: int = 60) -> st.SearchStrategy[str]:
    return st.text(min_size=min_bytes, max_size=min(max_chars, max_bytes)).filter(
        lambda s: min_bytes <= len(s.encode()) <= max_bytes
    )


FIELD_NAMES = utf8_text(0, MAX_FIELD_NAME_BYTES, 12)
#: Valid profile names: no control, format, line-separator or filler character.
NAMES = st.text(
    st.characters(blacklist_categories=("Cs", "Cc", "Cf", "Zl", "Zp")), max_size=MAX_NAME_BYTES
).filter(lambda s: len(s.encode()) <= MAX_NAME_BYTES and name_problem(s) is None)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.text(max_size=20)
    | st.binary(max_size=40)
)


def values(levels: int) -> st.SearchStrategy[Any]:
    """Any value of the body model with at most ``levels`` levels of containers."""
    if levels == 0:
        return SCALARS
    inner = values(levels - 1)
    return SCALARS | st.lists(inner, max_size=3) | st.dictionaries(FIELD_NAMES, inner, max_size=3)


VALUES = values(3)


def with_extras(
    known: dict[str, Any], reserved: frozenset[str]
) -> st.SearchStrategy[dict[str, Any]]:
    """``known`` plus fields the kind does not define (a newer version may add them)."""
    extras = st.dictionaries(FIELD_NAMES.filter(lambda k: k not in reserved), VALUES, max_size=3)
    return extras.map(lambda extra: {**extra, **known})


@st.composite
def post_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"text": draw(utf8_text(1, MAX_TEXT_BYTES, 300))}
    if draw(st.booleans()):
        body["root"] = draw(IDS)
        body["parent"] = draw(st.just(body["root"]) | IDS)
    return draw(with_extras(body, frozenset({"text", "root", "parent"})))


@st.composite
def profile_bodies(draw: st.DrawFn) -> dict[str, Any]:
    fields = draw(st.sampled_from([("name",), ("bio",), ("name", "bio")]))
    body: dict[str, Any] = {}
    if "name" in fields:
        body["name"] = draw(NAMES)  # forbidden-character: tests/test_core_display.py
    if "bio" in fields:
        body["bio"] = draw(utf8_text(0, MAX_BIO_BYTES, 200))
    return draw(with_extras(body, frozenset({"name", "bio"})))


def reference_bodies() -> st.SearchStrategy[dict[str, Any]]:
    return st.tuples(IDS, IDS).flatmap(
        lambda pair: with_extras({"id": pair[0], "author": pair[1]}, frozenset({"id", "author"}))
    )


@st.composite
def reaction_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = {
        "id": draw(IDS),
        "author": draw(IDS),
        "reaction": draw(utf8_text(1, MAX_REACTION_BYTES, 8)),
    }
    return draw(with_extras(body, frozenset(body)))


def edge_bodies() -> st.SearchStrategy[dict[str, Any]]:
    return IDS.flatmap(lambda key: with_extras({"key": key}, frozenset({"key"})))


@st.composite
def recipe_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = {
        "recipe": draw(st.binary(min_size=1, max_size=64)),
        "name": draw(st.from_regex(r"[a-z0-9_-]{1,64}", fullmatch=True)),
    }
    return draw(with_extras(body, frozenset(body)))


def delete_bodies() -> st.SearchStrategy[dict[str, Any]]:
    return IDS.flatmap(lambda target: with_extras({"id": target}, frozenset({"id"})))


@st.composite
def poll_bodies(draw: st.DrawFn) -> dict[str, Any]:
    options = st.lists(utf8_text(1, MAX_POLL_OPTION_BYTES, 20), unique=True)
    body: dict[str, Any] = {
        "question": draw(utf8_text(1, MAX_POLL_QUESTION_BYTES, 80)),
        "options": draw(options.filter(lambda o: MIN_POLL_OPTIONS <= len(o) <= MAX_POLL_OPTIONS)),
        "closes": draw(TIMESTAMPS),
    }
    if draw(st.booleans()):
        body["multiple"] = draw(st.booleans())
    return draw(with_extras(body, frozenset({"question", "options", "closes", "multiple"})))


@st.composite
def vote_bodies(draw: st.DrawFn) -> dict[str, Any]:
    picked = draw(st.sets(st.integers(0, MAX_POLL_OPTIONS - 1), min_size=1))
    body = {"poll": draw(IDS), "choices": sorted(picked)}
    return draw(with_extras(body, frozenset(body)))


@st.composite
def label_bodies(draw: st.DrawFn) -> dict[str, Any]:
    value = rf"!?[a-z0-9-]{{1,{MAX_LABEL_VALUE_BYTES - 1}}}"
    body: dict[str, Any] = {
        draw(st.sampled_from(["post", "key"])): draw(IDS),
        "value": draw(st.from_regex(value, fullmatch=True) | st.sampled_from(WELL_KNOWN)),
    }
    if draw(st.booleans()):
        body["neg"] = draw(st.booleans())
    return draw(with_extras(body, frozenset({"post", "key", "value", "neg"})))


@st.composite
def note_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body: dict[str, Any] = {"post": draw(IDS), "text": draw(utf8_text(1, MAX_NOTE_TEXT_BYTES, 200))}
    if draw(st.booleans()):
        body["misleading"] = draw(st.booleans())
    return draw(with_extras(body, frozenset({"post", "text", "misleading"})))


@st.composite
def note_rating_bodies(draw: st.DrawFn) -> dict[str, Any]:
    body = {"note": draw(IDS), "helpful": draw(st.sampled_from(sorted(HELPFUL)))}
    return draw(with_extras(body, frozenset(body)))


#: The square's kinds (polls, labels, notes) and their valid bodies.
SQUARE_BODIES: dict[str, st.SearchStrategy[dict[str, Any]]] = {
    "poll": poll_bodies(),
    "vote": vote_bodies(),
    "label": label_bodies(),
    "note": note_bodies(),
    "note-rating": note_rating_bodies(),
}
UNKNOWN_KINDS = st.from_regex(rf"[a-z0-9_-]{{1,{MAX_KIND_BYTES}}}", fullmatch=True).filter(
    lambda kind: kind not in KNOWN_KINDS
)
KIND_BODIES: st.SearchStrategy[tuple[str, dict[str, Any]]] = st.one_of(
    st.tuples(st.just("post"), post_bodies()),
    st.tuples(st.just("repost"), reference_bodies()),
    st.tuples(st.just("reaction"), reaction_bodies()),
    st.tuples(
        st.sampled_from(["follow", "unfollow", "mute", "unmute", "block", "unblock"]),
        edge_bodies(),
    ),
    st.tuples(st.just("profile"), profile_bodies()),
    st.tuples(st.just("delete"), delete_bodies()),
    st.tuples(st.just("recipe"), recipe_bodies()),
    *(st.tuples(st.just(kind), bodies) for kind, bodies in SQUARE_BODIES.items()),
    st.tuples(UNKNOWN_KINDS, st.dictionaries(FIELD_NAMES, VALUES, max_size=4)),
)
POSITIONS = st.one_of(st.just((1, None)), st.tuples(st.integers(2, MAX_SEQ), IDS.map(lambda i: i)))
TIMESTAMPS = st.integers(MIN_TIMESTAMP_MS, MAX_TIMESTAMP_MS)


@st.composite
def messages(draw: st.DrawFn) -> Message:
    key = draw(KEYS)
    seq, prev = draw(POSITIONS)
    kind, body = draw(KIND_BODIES)
    return sign(key, seq=seq, prev=prev, ts=draw(TIMESTAMPS), kind=kind, body=body)


def test_every_known_kind_has_a_strategy() -> None:
    edges = {"follow", "unfollow", "mute", "unmute", "block", "unblock"}
    older = {"post", "repost", "reaction", *edges, "profile", "delete", "recipe"}
    assert older | set(SQUARE_BODIES) == KNOWN_KINDS


@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=KEYS, position=POSITIONS, kind_body=KIND_BODIES, ts=TIMESTAMPS, late=st.integers(0, 10**12)
)
def test_valid_bodies_round_trip(
    key: nacl.signing.SigningKey,
    position: tuple[int, bytes | None],
    kind_body: tuple[str, dict[str, Any]],
    ts: int,
    late: int,
) -> None:
    seq, prev = position
    kind, body = kind_body
    message = sign(key, seq=seq, prev=prev, ts=ts, kind=kind, body=body)
    again = validate(message.raw, ts + late)
    assert again == message
    assert (again.author, again.seq, again.prev, again.ts, again.kind) == (
        bytes(key.verify_key),
        seq,
        prev,
        ts,
        kind,
    )
    assert again.body == body
    assert canonical.pack(canonical.unpack_exact(again.payload)) == again.payload


def _outcome(raw: bytes, now_ms: int) -> Message | Reason:
    """Validate, turning the only allowed failure into its reason (anything else propagates)."""
    try:
        return validate(raw, now_ms)
    except InvalidMessage as exc:
        assert exc.reason in ENVELOPE_REASONS
        assert isinstance(exc.reason, Reason)
        return exc.reason


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Message, bytes]:
    message = draw(messages())
    raw = bytearray(message.raw)
    operation = draw(st.sampled_from(["flip", "truncate", "extend", "insert", "replace", "delete"]))
    position = draw(st.integers(0, len(raw) - 1))
    if operation == "flip":
        raw[position] ^= 1 << draw(st.integers(0, 7))
    elif operation == "truncate":
        del raw[position:]
    elif operation == "extend":
        raw += draw(st.binary(min_size=1, max_size=20))
    elif operation == "insert":
        raw[position:position] = draw(st.binary(min_size=1, max_size=3))
    elif operation == "replace":
        raw[position] = draw(st.integers(0, 255))
    else:
        del raw[position]
    return message, bytes(raw)


@settings(max_examples=EXAMPLES * 2, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutations_are_refused_with_a_reason(case: tuple[Message, bytes]) -> None:
    message, raw = case
    outcome = _outcome(raw, message.ts)
    event("unchanged" if raw == message.raw else str(outcome))
    if raw == message.raw:
        assert outcome == message
    else:
        assert isinstance(outcome, Reason)


@settings(max_examples=EXAMPLES)
@given(st.binary(max_size=400), st.integers(0, 2**64))
def test_random_bytes_are_refused_with_a_reason(raw: bytes, now_ms: int) -> None:
    assert isinstance(_outcome(raw, now_ms), Reason)


@settings(max_examples=EXAMPLES)
@given(st.binary(min_size=64, max_size=64), st.lists(VALUES, max_size=9))
def test_random_structures_are_refused_with_a_reason(signature: bytes, items: list[Any]) -> None:
    raw = signature + canonical.pack(items)
    assert isinstance(_outcome(raw, MAX_TIMESTAMP_MS), Reason)


@st.composite
def near_valid_payloads(draw: st.DrawFn) -> tuple[nacl.signing.SigningKey, list[Any]]:
    """A valid payload's fields with up to two replaced by arbitrary values: reaches every check."""
    key = draw(KEYS)
    seq, prev = draw(POSITIONS)
    kind, body = draw(KIND_BODIES)
    fields = [1, bytes(key.verify_key), seq, prev, draw(TIMESTAMPS), kind, body]
    for index in draw(st.sets(st.integers(0, len(fields) - 1), max_size=2)):
        fields[index] = draw(VALUES)
    return key, fields


@settings(max_examples=EXAMPLES * 2, suppress_health_check=[HealthCheck.too_slow])
@given(near_valid_payloads())
def test_near_valid_payloads_validate_or_give_a_reason(
    case: tuple[nacl.signing.SigningKey, list[Any]],
) -> None:
    key, fields = case
    payload = canonical.pack(fields)
    raw = key.sign(SIGNATURE_DOMAIN + payload).signature + payload
    outcome = _outcome(raw, MAX_TIMESTAMP_MS)
    event("valid" if isinstance(outcome, Message) else str(outcome))
    if isinstance(outcome, Message):
        assert outcome == decode(raw)
        assert [1, outcome.author, outcome.seq, outcome.prev, outcome.ts] == fields[:5]
        assert (outcome.kind, outcome.body) == (fields[5], fields[6])
