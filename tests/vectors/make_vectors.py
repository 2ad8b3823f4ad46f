"""Generate tests/vectors/messages.json: known-answer vectors for the pnyx message layer.

Run ``.venv/bin/python tests/vectors/make_vectors.py`` after any deliberate change to the format;
the output is deterministic (fixed seeds, fixed timestamps, deterministic Ed25519), and
tests/test_core_vectors.py fails if the committed file differs from what this script produces.

JSON conventions: byte strings are lowercase hex; inside ``fields.body``, a byte string is written
``{"$bin": "<hex>"}`` (no vector body has a field named ``$bin``), every other value is plain JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import msgpack
import nacl.signing

from pnyx.core import canonical
from pnyx.core.envelope import Message, sign
from pnyx.core.limits import (
    MAX_ENVELOPE_BYTES,
    MAX_FUTURE_SKEW_MS,
    MAX_TEXT_BYTES,
    SIGNATURE_DOMAIN,
)
from pnyx.crypto.keytext import encode_public_key

OUTPUT = Path(__file__).with_name("messages.json")

SEED_A = bytes(range(32))
SEED_B = bytes(range(32, 64))
#: Timestamp of the first vector, in ms since the epoch (2023-11-14T22:13:20Z).
T0 = 1_700_000_000_000
#: Clock to validate valid vectors against, in ms since the epoch (an hour after T0).
NOW = T0 + 3_600_000


def to_json(value: Any) -> Any:
    """A body-model value as JSON: bytes become ``{"$bin": hex}``."""
    if isinstance(value, bytes):
        return {"$bin": value.hex()}
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_json(item) for item in value]
    return value


class Builder:
    """Collects vectors; every message is signed by the fixed key "A" or "B"."""

    def __init__(self) -> None:
        self.keys = {"A": nacl.signing.SigningKey(SEED_A), "B": nacl.signing.SigningKey(SEED_B)}
        self.valid: list[dict[str, Any]] = []
        self.by_name: dict[str, Message] = {}
        self.invalid: list[dict[str, Any]] = []

    def add(
        self,
        name: str,
        who: str,
        seq: int,
        prev: str | bytes | None,
        seconds: int,
        kind: str,
        body: dict[str, Any],
        note: str,
    ) -> None:
        """A valid message; ``prev`` names an earlier vector (or is raw bytes), ``seconds`` is
        the time after ``T0``."""
        key, ts = self.keys[who], T0 + seconds * 1000
        prev_id = self.by_name[prev].id if isinstance(prev, str) else prev
        message = sign(key, seq=seq, prev=prev_id, ts=ts, kind=kind, body=body)
        self.by_name[name] = message
        fields = {
            "version": 1,
            "author": message.author.hex(),
            "seq": seq,
            "prev": None if prev_id is None else prev_id.hex(),
            "ts": ts,
            "kind": kind,
            "body": to_json(body),
        }
        self.valid.append(
            {
                "name": name,
                "note": note,
                "seed_hex": bytes(key).hex(),
                "public_key_hex": message.author.hex(),
                "public_key_text": encode_public_key(message.author),
                "fields": fields,
                "payload_hex": message.payload.hex(),
                "signature_hex": message.signature.hex(),
                "envelope_hex": message.raw.hex(),
                "id_hex": message.id.hex(),
                "now_ms": NOW,
            }
        )

    def id_of(self, name: str) -> bytes:
        return self.by_name[name].id

    def reject(self, name: str, raw: bytes, reason: str, note: str, now_ms: int = NOW) -> None:
        vector = {"name": name, "note": note, "envelope_hex": raw.hex(), "reason": reason}
        self.invalid.append({**vector, "now_ms": now_ms})

    def seal(self, payload: bytes, who: str = "A") -> bytes:
        """Correctly sign arbitrary payload bytes, so only the payload itself is at fault."""
        signature: bytes = self.keys[who].sign(SIGNATURE_DOMAIN + payload).signature
        return signature + payload

    def sealed(self, **changes: Any) -> bytes:
        """A's first post with some payload fields replaced, canonically encoded and signed."""
        return self.seal(canonical.pack(self.fields(**changes)))

    def fields(self, **changes: Any) -> list[Any]:
        base: dict[str, Any] = {
            "version": 1,
            "author": bytes(self.keys["A"].verify_key),
            "seq": 1,
            "prev": None,
            "ts": T0,
            "kind": "post",
            "body": {"text": "hello"},
        }
        base.update(changes)
        return [base[k] for k in ("version", "author", "seq", "prev", "ts", "kind", "body")]


def add_valid(b: Builder) -> None:
    a_key, b_key = bytes(b.keys["A"].verify_key), bytes(b.keys["B"].verify_key)
    first = {"text": "hello, pnyx"}
    b.add("first-post", "A", 1, None, 0, "post", first, "A's first message")
    second = {"text": "second post \u2014 \u00fcn\u00efc\u00f6d\u00e9 \U0001f30d"}
    b.add("second-post", "A", 2, "first-post", 60, "post", second, "seq 2; non-ASCII text")
    root = b.id_of("first-post")
    reply = {"text": "welcome!", "root": root, "parent": root}
    b.add("reply", "B", 1, None, 120, "post", reply, "B replies to A's first post")
    nested = {"text": "thanks", "root": root, "parent": b.id_of("reply")}
    b.add("nested-reply", "A", 3, "second-post", 180, "post", nested, "root stays the first")
    repost = {"id": b.id_of("second-post"), "author": a_key}
    b.add("repost", "B", 2, "reply", 240, "repost", repost, "B reposts A's second post")
    reaction = {"id": root, "author": a_key, "reaction": "\u2764"}
    b.add("reaction", "B", 3, "repost", 300, "reaction", reaction, "B reacts to A's first post")
    b.add("follow", "A", 4, "nested-reply", 360, "follow", {"key": b_key}, "A follows B")
    b.add("unfollow", "A", 5, "follow", 420, "unfollow", {"key": b_key}, "later seq wins")
    profile = {"name": "Alice", "bio": "test vectors"}
    b.add("profile", "A", 6, "unfollow", 480, "profile", profile, "A sets name and bio")
    delete = {"id": b.id_of("second-post")}
    b.add("delete", "A", 7, "profile", 540, "delete", delete, "A asks to hide its second post")
    poll = {"question": "tea?", "options": ["yes", "no"], "closes": T0, "image": b"\x89PNG"}
    note = "a poll closed from the start (closes = T0, before its ts); field image ignored"
    b.add("closed-poll", "A", 8, "delete", 600, "poll", poll, note)
    extra = {"text": "bonjour", "lang": "fr"}
    b.add("post-with-extra-field", "A", 9, "closed-poll", 660, "post", extra, "extra field")
    name = {"name": "Asp\u00e1sia \U0001f989 \u0391\u03c3\u03c0\u03b1\u03c3\u03af\u03b1"}
    b.add("profile-unicode-name", "B", 4, "reaction", 720, "profile", name, "non-ASCII name")
    lines = {"text": "first line\n\tsecond line\n\x07any text"}
    b.add("multi-line-post", "B", 5, "profile-unicode-name", 780, "post", lines, "post text: any")
    # Valid alone, but in conflict with A's chain above (see the chain vectors).
    fork = {"text": "a different second post"}
    b.add("fork-of-second-post", "A", 2, "first-post", 61, "post", fork, "a second seq 2")
    stray = {"text": "detached"}
    b.add("stray-second-post", "A", 2, b"\x11" * 32, 62, "post", stray, "prev is not seq 1")
    again = {"text": "hello again"}
    b.add("other-first-post", "A", 1, None, 1, "post", again, "a second seq 1")
    far = {"text": "far ahead"}
    note = "seq 100002: seq-too-far while A's contiguous head is 1, placed once it is 2"
    b.add("far-post", "A", 100_002, b"\x22" * 32, 63, "post", far, note)
    # Moderation (docs/moderation.md): B's chain goes on after multi-line-post.
    b.add("mute", "B", 6, "multi-line-post", 840, "mute", {"key": a_key}, "B mutes A")
    b.add("unmute", "B", 7, "mute", 900, "unmute", {"key": a_key}, "later seq wins")
    b.add("block", "B", 8, "unmute", 960, "block", {"key": a_key}, "B blocks A")
    b.add("unblock", "B", 9, "block", 1020, "unblock", {"key": a_key}, "later seq wins")
    # Polls (docs/polls.md): B votes on A's poll; a valid vote, not counted (after the close).
    ballot = {"poll": b.id_of("closed-poll"), "choices": [0]}
    b.add("vote", "B", 10, "unblock", 1140, "vote", ballot, "B votes yes, after the close")
    event = {"title": "tea", "starts": T0, "image": b"\x89PNG"}
    b.add("unknown-kind", "B", 11, "vote", 1200, "event", event, "unknown kind: kept, passed on")
    # A published feed recipe (docs/ranking.md): A's chain goes on after post-with-extra-field.
    recipe = {"name": "buzz", "recipe": RECIPE_BYTES}
    b.add("recipe", "A", 10, "post-with-extra-field", 1080, "recipe", recipe, RECIPE_NOTE)
    # Labels (docs/moderation.md, "Labels and labellers"): B's chain goes on after unknown-kind.
    spam = {"post": b.id_of("first-post"), "value": "spam"}
    note = "B labels A's first post spam"
    b.add("label-post", "B", 12, "unknown-kind", 1260, "label", spam, note)
    warn = {"key": a_key, "value": "!warn"}
    b.add("label-key", "B", 13, "label-post", 1320, "label", warn, "B labels A's key !warn")
    neg = {**spam, "neg": True}
    b.add("label-retract", "B", 14, "label-key", 1380, "label", neg, "later seq wins: retracted")
    # Community notes (docs/notes.md): B notes A's first post; A rates the note.
    context = {"post": b.id_of("first-post"), "text": "Context: hello is a greeting."}
    b.add("note", "B", 15, "label-retract", 1440, "note", context, "B notes A's first post")
    rating = {"note": b.id_of("note"), "helpful": "somewhat"}
    b.add("note-rating", "A", 11, "recipe", 1500, "note-rating", rating, "A rates B's note")


#: The canonical form of a small recipe (docs/ranking.md, "Hash") and its recipe hash.
RECIPE_BYTES = (
    b'{"authors":"any","description":"Recent posts.","modifiers":{"diversity_decay":0.5,'
    b'"diversity_floor":1.0,"out_of_network":1.0,"reply":1.0},"name":"buzz","terms":'
    b'{"recency":{"half_life_hours":3.0,"weight":1.0}},"version":1}'
)
RECIPE_HASH = "3de0de00c7dc3968a1f54e1831bbd437f11770f438d7bf7dca1f3155dcbf972e"
RECIPE_NOTE = f"A publishes the recipe buzz; recipe hash {RECIPE_HASH}"


def add_invalid(b: Builder) -> None:
    first, pack, packb = b.by_name["first-post"], canonical.pack, msgpack.packb
    good = pack(b.fields())
    empty_body = pack(b.fields(body={}))  # ends with the body: 0x80, an empty map
    long_key = b"\x81\xd9\x21" + b"k" * 33  # a map of one pair whose key is 33 bytes
    seq_at = 1 + 1 + 2 + 32  # array header, version, bin8 header, author
    blob = bytes(MAX_ENVELOPE_BYTES - len(b.sealed(kind="blob", body={"b": b""})))
    flipped = bytes([first.raw[0] ^ 1]) + first.raw[1:]
    cases: list[tuple[str, bytes, str, str]] = [
        ("too-short", first.raw[:64], "malformed", "a signature and nothing else"),
        ("not-an-array", b.seal(pack({"text": "x"})), "malformed", "the payload is a map"),
        ("six-fields", b.seal(pack(b.fields()[:6])), "malformed", "no body field"),
        ("float", b.seal(packb(b.fields(body={"n": 0.5}))), "malformed", "a float in the body"),
        ("short-author", b.sealed(author=bytes(31)), "malformed", "author is 31 bytes"),
        ("trailing-bytes", b.seal(good + b"\x00"), "trailing-bytes", "0x00 after the payload"),
        (
            "float-then-trailing-byte",
            b.seal(packb(b.fields(body={"n": 0.5})) + b"\x00"),
            "malformed",
            "a float in the body, then 0x00: the value is checked before what follows it",
        ),
        (
            "extension-then-trailing-byte",
            b.seal(packb(b.fields(body={"e": msgpack.ExtType(1, b"x")})) + b"\x00"),
            "malformed",
            "an extension type in the body, then 0x00",
        ),
        (
            "long-int-then-trailing-byte",
            b.seal(good[:seq_at] + b"\xcc\x01" + good[seq_at + 1 :] + b"\x00"),
            "non-canonical",
            "seq 1 as uint8, then 0x00: canonical form is checked before trailing bytes",
        ),
        ("c1-after-payload", b.seal(good + b"\xc1"), "trailing-bytes", "what follows: unparsed"),
        (
            "long-key-then-1100-levels",
            b.seal(empty_body[:-1] + long_key + b"\x91" * 1100 + b"\x01"),
            "malformed",
            "a 33-byte body key, its value nested 1,100 levels: depth is grammar, checked first",
        ),
        (
            "long-key-then-level-9",
            b.seal(empty_body[:-1] + long_key + b"\x91" * 8 + b"\x01"),
            "malformed",
            "a 33-byte body key, its value a list at level 9 (the body map is level 1)",
        ),
        (
            "long-key-then-level-8",
            b.seal(empty_body[:-1] + long_key + b"\x91" * 7 + b"\x01"),
            "oversized",
            "a 33-byte body key, its value nested to level 8: not too deep, the key is too long",
        ),
        (
            "unsorted-keys",
            b.seal(packb(b.fields(body={"text": "x", "lang": "en"}))),
            "non-canonical",
            "body keys 'text' then 'lang'",
        ),
        (
            "long-int",
            b.seal(good[:seq_at] + b"\xcc\x01" + good[seq_at + 1 :]),
            "non-canonical",
            "seq 1 written as uint8 (cc 01) instead of fixint (01)",
        ),
        (
            "long-str",
            b.seal(good.replace(b"\xa4post", b"\xd9\x04post")),
            "non-canonical",
            "kind 'post' written as str8 (d9 04) instead of fixstr (a4)",
        ),
        (
            "oversized-envelope",
            b.sealed(kind="blob", body={"b": blob}),
            "oversized",
            f"an envelope of {MAX_ENVELOPE_BYTES + 1} bytes",
        ),
        (
            "oversized-text",
            b.sealed(body={"text": "x" * (MAX_TEXT_BYTES + 1)}),
            "oversized",
            f"post text of {MAX_TEXT_BYTES + 1} bytes",
        ),
        ("version-2", b.sealed(version=2), "unsupported-version", "version 2"),
        ("seq-0", b.sealed(seq=0), "bad-sequence", "seq 0"),
        ("seq-2-without-prev", b.sealed(seq=2), "bad-previous", "seq 2, prev nil"),
        ("seq-1-with-prev", b.sealed(prev=first.id), "bad-previous", "seq 1 with a prev"),
        ("before-2020", b.sealed(ts=1000), "bad-timestamp", "ts 1000"),
        ("uppercase-kind", b.sealed(kind="Post"), "bad-kind", "kind 'Post'"),
        ("post-without-text", b.sealed(body={}), "wrong-body", "post body {}"),
        (
            "reply-without-parent",
            b.sealed(body={"text": "x", "root": first.id}),
            "wrong-body",
            "root without parent",
        ),
        (
            "follow-short-key",
            b.sealed(kind="follow", body={"key": bytes(31)}),
            "wrong-body",
            "follow key of 31 bytes",
        ),
        ("empty-profile", b.sealed(kind="profile", body={}), "wrong-body", "no name, no bio"),
        ("nil-text", b.sealed(body={"text": None}), "wrong-body", "a field set to nil is present"),
        (
            "nil-name-profile",
            b.sealed(kind="profile", body={"name": None, "bio": "x"}),
            "wrong-body",
            "name nil: present with the wrong type, not absent",
        ),
        (
            "nil-root-and-parent",
            b.sealed(body={"text": "x", "root": None, "parent": None}),
            "wrong-body",
            "optional fields set to nil are present with the wrong type",
        ),
        (
            "name-with-bidi-override",
            b.sealed(kind="profile", body={"name": "Alice\u202egnp.exe"}),
            "forbidden-character",
            "profile name holding U+202E RIGHT-TO-LEFT OVERRIDE",
        ),
        (
            "name-with-zero-width-joiner",
            b.sealed(kind="profile", body={"name": "\u0430\u200dlice"}),
            "forbidden-character",
            "profile name: Cyrillic a, U+200D ZERO WIDTH JOINER, 'lice'",
        ),
        (
            "name-with-newline",
            b.sealed(kind="profile", body={"name": "Bob\nAlice \u00b7 2026-01-01 00:00"}),
            "forbidden-character",
            "profile name holding U+000A: it would print a second line",
        ),
        (
            "name-with-escape",
            b.sealed(kind="profile", body={"name": "\x1b]0;pwned\x07Eve"}),
            "forbidden-character",
            "profile name holding ESC and BEL (sets a terminal's title)",
        ),
        ("flipped-signature-bit", flipped, "bad-signature", "first-post, signature bit 0 flipped"),
        (
            "no-domain-prefix",
            b.keys["A"].sign(first.payload).signature + first.payload,
            "bad-signature",
            "first-post signed without the domain prefix",
        ),
        ("wrong-signer", b.seal(first.payload, "B"), "bad-signature", "first-post signed by B"),
    ]
    for kind in ("mute", "unmute", "block", "unblock"):
        short = b.sealed(kind=kind, body={"key": bytes(33)})
        cases.append((f"{kind}-long-key", short, "wrong-body", f"{kind} key of 33 bytes"))
    cases.append(("mute-without-key", b.sealed(kind="mute", body={}), "wrong-body", "no key"))
    for name, raw, reason, note in cases:
        b.reject(name, raw, reason, note)
    future = b.sealed(ts=T0 + MAX_FUTURE_SKEW_MS + 1)
    b.reject("future", future, "future-timestamp", "1 ms past the allowed skew", now_ms=T0)
    # recipe bodies (the kind recipe): shape only; the recipe itself is checked by its reader
    for name, body, reason, note in (
        ("recipe-oversized", {"name": "x", "recipe": b"{" * 4097}, "oversized", "4097 bytes"),
        ("recipe-empty", {"name": "x", "recipe": b""}, "wrong-body", "no recipe bytes"),
        ("recipe-as-text", {"name": "x", "recipe": "{}"}, "wrong-body", "recipe is a str"),
        ("recipe-bad-name", {"name": "Buzz", "recipe": b"{}"}, "wrong-body", "upper case name"),
        ("recipe-without-name", {"recipe": b"{}"}, "wrong-body", "no name"),
    ):
        b.reject(name, b.sealed(kind="recipe", body=body), reason, note)
    # poll and vote bodies (docs/polls.md): shape only; the tally applies the poll's own rules
    poll: dict[str, object] = {"question": "tea?", "options": ["yes", "no"], "closes": T0}
    shapes: list[tuple[str, str, dict[str, object], str, str]] = [
        ("poll-one-option", "poll", {**poll, "options": ["yes"]}, "wrong-body", "1 option"),
        ("poll-same-options", "poll", {**poll, "options": ["a", "a"]}, "wrong-body", "twice"),
        ("poll-long-option", "poll", {**poll, "options": ["a", "x" * 201]}, "oversized", "201 B"),
        ("poll-closes-text", "poll", {**poll, "closes": "soon"}, "wrong-body", "closes a str"),
        ("vote-unsorted", "vote", {"poll": bytes(32), "choices": [1, 0]}, "wrong-body", "1, 0"),
        ("vote-no-choice", "vote", {"poll": bytes(32), "choices": []}, "wrong-body", "none"),
        ("vote-choice-12", "vote", {"poll": bytes(32), "choices": [12]}, "wrong-body", "12"),
    ]
    for name, kind, shape, reason, note in shapes:
        b.reject(name, b.sealed(kind=kind, body=shape), reason, note)
    # label bodies: the subject, then value, then neg (docs/protocol.md, "Kinds")
    some = bytes(range(32))
    label_cases: list[tuple[str, dict[str, object], str, str]] = [
        ("label-no-subject", {"value": "spam"}, "wrong-body", "neither post nor key"),
        (
            "label-two-subjects",
            {"key": some, "post": some, "value": "x" * 33},
            "wrong-body",
            "both post and key (the subject is checked before the oversized value)",
        ),
        ("label-short-post", {"post": some[:31], "value": "spam"}, "wrong-body", "31 bytes"),
        ("label-without-value", {"post": some}, "wrong-body", "no value"),
        ("label-empty-value", {"post": some, "value": ""}, "wrong-body", "empty value"),
        ("label-oversized-value", {"key": some, "value": "a" * 33}, "oversized", "33 bytes"),
        ("label-upper-case", {"post": some, "value": "Spam"}, "wrong-body", "upper case value"),
        ("label-neg-not-bool", {"post": some, "value": "spam", "neg": 1}, "wrong-body", "neg 1"),
    ]
    for case, label_body, verdict, words in label_cases:
        b.reject(case, b.sealed(kind="label", body=label_body), verdict, words)
    # note and note-rating bodies (docs/notes.md)
    post_id = bytes(32)
    note_cases: list[tuple[str, str, dict[str, object], str, str]] = [
        ("note-empty", "note", {"post": post_id, "text": ""}, "wrong-body", "empty text"),
        ("note-long", "note", {"post": post_id, "text": "x" * 1025}, "oversized", "1025 B"),
        ("note-short-post", "note", {"post": bytes(31), "text": "x"}, "wrong-body", "31 B"),
        ("rating-maybe", "note-rating", {"note": post_id, "helpful": "maybe"}, "wrong-body", "?"),
    ]
    for case, kind, note_body, verdict, words in note_cases:
        b.reject(case, b.sealed(kind=kind, body=note_body), verdict, words)


#: Import vectors: (name, records in file order, placement order, accepted names). An import
#: places records in (author, seq, id) order, whatever their order in the file.
IMPORTS = [
    (
        "far-seq-before-its-predecessor",
        ["first-post", "far-post", "second-post"],
        ["first-post", "second-post", "far-post"],
        ["first-post", "second-post", "far-post"],
    ),
]

CHAIN = [
    ("next-in-order", ["first-post"], "second-post", "append", None),
    ("out-of-order", ["second-post"], "first-post", "append", None),
    ("fills-a-gap", ["first-post", "nested-reply"], "second-post", "append", None),
    ("duplicate", ["first-post", "second-post"], "second-post", "duplicate", None),
    ("second-at-same-seq", ["first-post", "second-post"], "fork-of-second-post", "fork", "fork"),
    ("second-first", ["first-post"], "other-first-post", "fork", "fork"),
    ("prev-mismatch", ["first-post"], "stray-second-post", "fork", "broken-chain"),
    ("next-points-elsewhere", ["second-post"], "other-first-post", "fork", "broken-chain"),
    ("other-author-unaffected", ["first-post"], "reply", "append", None),
]


def build() -> dict[str, Any]:
    """The whole vector document (deterministic)."""
    b = Builder()
    add_valid(b)
    add_invalid(b)
    raw_keys = [
        bytes(b.keys["A"].verify_key),
        bytes(b.keys["B"].verify_key),
        bytes(32),
        bytes([0xFF]) * 32,
        bytes(range(32)),
    ]
    a_text = encode_public_key(raw_keys[0])
    return {
        "format": "pnyx-test-vectors",
        "version": 1,
        "about": (
            "Known-answer vectors for docs/protocol.md. Byte strings are lowercase hex; in "
            'fields.body a byte string is {"$bin": hex}. Validate valid vectors at their now_ms; '
            "each invalid vector must be rejected with its reason at its now_ms. Chain vectors: "
            "the stored messages are held for their authors, then 'new' arrives."
        ),
        "signature_domain_hex": SIGNATURE_DOMAIN.hex(),
        "keytext": [{"key_hex": k.hex(), "text": encode_public_key(k)} for k in raw_keys],
        "keytext_read": [
            {"text": text, "key_hex": raw_keys[0].hex(), "note": note}
            for text, note in (
                (encode_public_key(raw_keys[0]).upper(), "all uppercase"),
                ("\t " + encode_public_key(raw_keys[0]) + "\r\n", "ASCII white space trimmed"),
                ("\u00a0" + encode_public_key(raw_keys[0]) + "\u3000", "Unicode White_Space"),
                (" " * 20 + encode_public_key(raw_keys[0]) + " " * 20, "trimmed before 90 max"),
                (raw_keys[0].hex(), "64 hex digits"),
                (raw_keys[0].hex()[:32].upper() + raw_keys[0].hex()[32:], "hex in mixed case"),
            )
        ],
        "keytext_invalid": [
            {"text": encode_public_key(raw_keys[0])[:-1] + "q", "error": "checksum"},
            {"text": "npub1" + encode_public_key(raw_keys[0])[5:], "error": "wrong-prefix"},
            {"text": raw_keys[0].hex()[:-2], "error": "length"},
            {"text": raw_keys[0].hex()[:-1], "error": "hex-length"},
            {
                "text": encode_public_key(raw_keys[0])[:20].upper()
                + encode_public_key(raw_keys[0])[20:],
                "error": "mixed-case",
            },
            {"text": "\u200b" + encode_public_key(raw_keys[0]), "error": "not-key-text"},
            {
                "text": a_text[:9] + "b" + a_text[10:],
                "error": "character-at-10",
            },
        ],
        "valid": b.valid,
        "invalid": b.invalid,
        "chain": [
            {"name": name, "stored": stored, "new": new, "placement": placement, "reason": reason}
            for name, stored, new, placement, reason in CHAIN
        ],
        "imports": [
            {"name": name, "file_order": file, "placed": placed, "accepted": accepted}
            for name, file, placed, accepted in IMPORTS
        ],
    }


def render() -> str:
    return json.dumps(build(), indent=1, ensure_ascii=False) + "\n"


def main() -> int:
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
