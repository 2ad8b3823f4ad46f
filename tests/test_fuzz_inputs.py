"""Fuzzing the parsers a peer, a file or a local client can reach that other test files leave out:
the gossip frame decoder and validator, the rate limiter's and clock watch's frame pre-pass, the
export reader on real signed messages, the control-socket request parser and server, the sync
state machines under random frame sequences, and a profile-scaled run of the sync stream parser.

The property everywhere: the input is either accepted (and then it is exactly what an honest peer
could have sent) or refused with a precise reason; no other exception ever escapes.

Examples per test follow the hypothesis profile (tests/conftest.py): about a hundred by default,
50,000 under ``HYPOTHESIS_PROFILE=fuzz`` (``make fuzz``), which is the long run.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path
from typing import Any

import nacl.signing
import pytest
import trio
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from pnyx.control.server import MAX_REQUEST_BYTES, answer_request, serve_control
from pnyx.core import canonical
from pnyx.core.bundle import BundleWriter, Damage, read_bundle
from pnyx.core.envelope import Message, sign, validate
from pnyx.core.frame import (
    FRAME_VERSION,
    decode_frame,
    encode_frame,
    validate_frame,
)
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import NotFoundError, PnyxError, StoreError, UserError
from pnyx.ingest.ratelimit import RateLimiter, RateLimits
from pnyx.net.errors import ConnectError
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.frames import Frame, Have, Head, WantEntry
from pnyx.sync.requester import SyncRequester
from pnyx.sync.responder import Finished, RoundRequested, SyncResponder
from tests.sync_fakes import feed_in_chunks, frames
from tests.test_core_properties import SQUARE_BODIES

#: Timestamp every generated message carries, and the clock it is checked against (ms).
TS = 1_750_000_000_000
KEYS = st.integers(1, 2**16).map(lambda n: nacl.signing.SigningKey(n.to_bytes(32, "big")))
SLOW = [HealthCheck.too_slow, HealthCheck.data_too_large]
#: The signing key of every author ``feeds`` drew, by public key (to sign forks).
SIGNERS: dict[bytes, nacl.signing.SigningKey] = {}


@st.composite
def feeds(draw: st.DrawFn, max_authors: int = 2, max_len: int = 4) -> list[Message]:
    """Short valid feeds of a few authors, all messages in one list (author by author)."""
    out: list[Message] = []
    for signer in draw(st.lists(KEYS, min_size=1, max_size=max_authors, unique_by=bytes)):
        SIGNERS[bytes(signer.verify_key)] = signer
        prev: bytes | None = None
        for seq in range(1, draw(st.integers(1, max_len)) + 1):
            kind = draw(st.sampled_from(["post", "zz-unknown", *SQUARE_BODIES]))
            if kind in SQUARE_BODIES:
                body = draw(SQUARE_BODIES[kind])
            else:
                body = {"text": draw(st.text(min_size=1, max_size=20))} if kind == "post" else {}
            message = sign(signer, seq=seq, prev=prev, ts=TS, kind=kind, body=body)
            prev = message.id
            out.append(message)
    return out


def mutate(data: bytes, edits: list[tuple[str, int, int]]) -> bytes:
    """Flip, delete, insert or truncate bytes of ``data`` at the given positions."""
    out = bytearray(data)
    for op, where, value in edits:
        at = where % (len(out) + 1)
        if op == "flip" and at < len(out):
            out[at] ^= value or 1
        elif op == "delete":
            del out[at : at + 1 + value % 8]
        elif op == "insert":
            out[at:at] = bytes([value])
        elif op == "truncate":
            del out[at:]
    return bytes(out)


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["flip", "delete", "insert", "truncate"]),
        st.integers(0, 2**20),
        st.integers(0, 255),
    ),
    min_size=1,
    max_size=4,
)


def frame_outcome(frame: bytes) -> list[Message] | Reason:
    """validate_frame, with its one allowed failure turned into the reason. The rate limiter's
    pre-pass sees the same bytes and must not raise either (the clock watch sees only verified
    messages, never bytes)."""
    RateLimiter(RateLimits()).admit_frame(frame, "peer", now=0.0)
    try:
        return validate_frame(frame, TS)
    except InvalidMessage as exc:
        assert isinstance(exc.reason, Reason)
        return exc.reason


# --- gossip frames ----------------------------------------------------------------------------


@given(st.binary(max_size=2048))
def test_random_bytes_as_a_gossip_frame_give_a_reason(data: bytes) -> None:
    outcome = frame_outcome(data)
    assert isinstance(outcome, Reason)
    event(str(outcome))


@settings(suppress_health_check=SLOW)
@given(feeds(max_authors=3), EDITS)
def test_mutated_gossip_frames_never_smuggle_a_message_in(
    messages: list[Message], edits: list[tuple[str, int, int]]
) -> None:
    original = encode_frame([m.raw for m in messages])
    mutated = mutate(original, edits)
    outcome = frame_outcome(mutated)
    event("valid" if isinstance(outcome, list) else str(outcome))
    if isinstance(outcome, list):
        # Anything that survives is a subset of what the authors really signed.
        assert {m.id for m in outcome} <= {m.id for m in messages}
    else:
        assert mutated != original


ITEMS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**63), 2**64 - 1),
    st.text(max_size=10),
    st.binary(max_size=100),
    st.lists(st.binary(max_size=80), max_size=5),
    st.dictionaries(st.text(max_size=3), st.integers(-(2**63), 2**64 - 1), max_size=3),
)


@settings(suppress_health_check=SLOW)
@given(
    feeds(),
    st.one_of(st.just(FRAME_VERSION), st.integers(-5, 2**33), st.text(max_size=3)),
    st.lists(ITEMS, max_size=4),
    st.integers(0, 3),
)
def test_near_valid_frame_structures_give_a_reason_or_the_real_messages(
    messages: list[Message], version: Any, extra: list[Any], shape: int
) -> None:
    envelopes: list[Any] = [m.raw for m in messages]
    if shape == 0:
        value: Any = [version, envelopes]
    elif shape == 1:
        value = [version, [*envelopes, *extra]]
    elif shape == 2:
        value = [version, envelopes, *extra]
    else:
        value = extra
    outcome = frame_outcome(canonical.pack(value))
    event("valid" if isinstance(outcome, list) else str(outcome))
    if isinstance(outcome, list):
        assert [m.id for m in outcome] == [m.id for m in messages]


@settings(suppress_health_check=SLOW)
@given(feeds(max_authors=2, max_len=4), st.data())
def test_frames_that_reorder_repeat_or_fork_feeds_are_judged_by_the_chain_rules(
    messages: list[Message], data: st.DataObject
) -> None:
    """Any selection of envelopes (with repeats and forks signed by the same keys) is valid exactly
    when it repeats nothing, forks nothing and every adjacent pair it holds is linked."""
    forks = [
        sign(
            SIGNERS[m.author],
            seq=m.seq,
            prev=m.prev,
            ts=TS + 1,
            kind="post",
            body={"text": "fork"},
        )
        for m in data.draw(st.lists(st.sampled_from(messages), max_size=1))
    ]
    pool = messages + forks
    chosen = data.draw(st.lists(st.sampled_from(pool), min_size=1, max_size=8))
    outcome = frame_outcome(encode_frame([m.raw for m in chosen]))
    ids = [m.id for m in chosen]
    by_position: dict[tuple[bytes, int], Message] = {}
    expected: Reason | None = None
    for m in chosen:  # the first collision decides: the same envelope again, or a fork
        held = by_position.get((m.author, m.seq))
        if held is not None:
            expected = Reason.MALFORMED if held.id == m.id else Reason.FORK
            break
        by_position[(m.author, m.seq)] = m
    if expected is None and any(
        (m.author, m.seq - 1) in by_position and by_position[(m.author, m.seq - 1)].id != m.prev
        for m in chosen
    ):
        expected = Reason.BROKEN_CHAIN
    if expected is None:
        assert isinstance(outcome, list) and [m.id for m in outcome] == ids
    else:
        assert outcome == expected


# --- export files with real messages -------------------------------------------------------------


@settings(suppress_health_check=SLOW)
@given(feeds(max_authors=2), EDITS, st.integers(1, 300))
def test_mutated_export_files_yield_only_real_messages_and_report_damage(
    messages: list[Message], edits: list[tuple[str, int, int]], chunk: int
) -> None:
    writer = BundleWriter()
    whole = writer.header() + b"".join(writer.record(m.raw) for m in messages) + writer.trailer()
    data = mutate(whole, edits)
    accepted: list[bytes] = []
    damage: list[Damage] = []
    for item in read_bundle(data[i : i + chunk] for i in range(0, len(data), chunk)):
        if isinstance(item, Damage):
            damage.append(item)
            continue
        assert not damage, "nothing is yielded after the damage report"
        try:
            accepted.append(validate(item, TS).id)
        except InvalidMessage as exc:
            event(f"rejected {exc.reason}")
    assert set(accepted) <= {m.id for m in messages}
    assert len(damage) <= 1
    if data != whole:
        event("damage reported" if damage else "undamaged")
        assert damage or set(accepted) <= {m.id for m in messages}
    else:
        assert not damage and accepted == [m.id for m in messages]


# --- the control socket ------------------------------------------------------------------------


async def _handler(request: dict[str, Any]) -> Any:
    assert isinstance(request, dict) and isinstance(request["op"], str)
    op = request["op"]
    errors: dict[str, Exception] = {
        "user": UserError("bad"),
        "missing": NotFoundError("gone"),
        "connect": ConnectError("unreachable"),
        "store": StoreError("full"),
        "bug": RuntimeError("a bug"),
    }
    if op in errors:
        raise errors[op]
    return {"echo": op}


def check_answer(answer: dict[str, Any]) -> None:
    json.dumps(answer)  # always serialisable
    assert isinstance(answer["ok"], bool)
    if not answer["ok"]:
        assert answer["kind"] in ("user", "connect", "error", "internal")
        assert isinstance(answer["error"], str)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=12,
)


@given(st.binary(max_size=512))
async def test_random_control_lines_get_an_answer(line: bytes) -> None:
    check_answer(await answer_request(line, _handler))


@given(
    st.one_of(
        JSON,
        st.fixed_dictionaries(
            {"op": st.sampled_from(["status", "user", "missing", "connect", "store", "bug"])},
            optional={"addr": JSON, "extra": JSON},
        ),
        st.fixed_dictionaries({"op": JSON}),
    )
)
async def test_random_json_requests_get_an_answer(request: Any) -> None:
    answer = await answer_request(json.dumps(request).encode(), _handler)
    check_answer(answer)
    if answer["ok"]:
        assert answer["result"] == {"echo": request["op"]}


def test_deeply_nested_control_request_gets_an_answer() -> None:
    answer = trio.run(answer_request, b"[" * 50_000, _handler)
    check_answer(answer)
    assert answer == {"ok": False, "kind": "user", "error": "request is not JSON"}


async def test_control_server_survives_garbage_and_still_answers(tmp_path: Path) -> None:
    """Garbage lines, a line over the size limit, a client that leaves mid-line and one that sends
    nothing: the server answers what it can, drops the rest, and a good request still works."""
    path = tmp_path / "c.sock"
    with trio.fail_after(30):
        async with serve_control(path, _handler):

            async def exchange(data: bytes, *, answers: int) -> list[dict[str, Any]]:
                stream = await trio.open_unix_socket(str(path))
                async with stream:
                    await stream.send_all(data)
                    received = b""
                    with trio.move_on_after(5):
                        while received.count(b"\n") < answers:
                            chunk = await stream.receive_some(65536)
                            if not chunk:
                                break
                            received += chunk
                return [json.loads(line) for line in received.splitlines()]

            replies = await exchange(b"\xff\xfe\n{}\n[1]\n\n", answers=4)
            assert [r["ok"] for r in replies] == [False] * 4
            too_big = await exchange(b"x" * (MAX_REQUEST_BYTES + 70_000), answers=1)
            assert too_big == [{"ok": False, "kind": "user", "error": "request too large"}]
            half = await trio.open_unix_socket(str(path))
            await half.send_all(b'{"op": "sta')
            await half.aclose()
            silent = await trio.open_unix_socket(str(path))
            assert await exchange(b'{"op": "status"}\n', answers=1) == [
                {"ok": True, "result": {"echo": "status"}}
            ]
            await silent.aclose()
    assert not path.exists()
    with socket.socket(socket.AF_UNIX) as probe, pytest.raises(OSError):
        probe.connect(str(path))


# --- sync ----------------------------------------------------------------------------------


@settings(suppress_health_check=SLOW)
@given(st.lists(frames(), max_size=8))
def test_responder_state_machine_under_random_frames(items: list[Frame]) -> None:
    machine = SyncResponder()
    for frame in items:
        try:
            got = machine.receive(frame)
        except SyncProtocolError as exc:
            assert isinstance(exc.reason, SyncReason)
            event(str(exc.reason))
            return
        if isinstance(got, Finished):
            return  # BYE: the driver closes the session and never calls the machine again
        if isinstance(got, RoundRequested):
            machine.have({})
            machine.done()


@settings(suppress_health_check=SLOW)
@given(feeds(max_authors=2), st.lists(frames(), max_size=4), st.data())
def test_requester_state_machine_under_random_and_real_batches(
    messages: list[Message], noise: list[Frame], data: st.DataObject
) -> None:
    from pnyx.sync.frames import Batch, Done

    machine = SyncRequester(window=4)
    machine.hello()
    authors = sorted({m.author for m in messages})
    machine.want([WantEntry(a, 0) for a in authors])
    heads = Have(tuple(Head(a, 0, 2**20) for a in authors))
    real = [m.raw for m in messages]
    batches = [Batch(tuple(data.draw(st.lists(st.sampled_from(real), min_size=1, max_size=6))))]
    script: list[Frame] = data.draw(st.permutations([heads, *batches, Done(len(real)), *noise]))
    for frame in script:
        try:
            machine.receive(frame)
        except SyncProtocolError as exc:
            assert isinstance(exc.reason, SyncReason)
            event(str(exc.reason))
            return
        if isinstance(frame, Batch):
            machine.ack()


@given(st.lists(frames(), min_size=1, max_size=4), EDITS, st.lists(st.integers(0, 4096)))
def test_sync_stream_parser_long_run(
    items: list[Frame], edits: list[tuple[str, int, int]], cuts: list[int]
) -> None:
    """The sync stream parser again, with as many examples as the profile asks for (the tests in
    test_sync_wire.py pin theirs): frames or a protocol error with its reason."""
    from pnyx.sync.wire import encode_frame as encode_sync

    data = mutate(b"".join(encode_sync(frame) for frame in items), edits)
    try:
        decoded = feed_in_chunks(data, cuts)
    except SyncProtocolError as exc:
        assert isinstance(exc.reason, SyncReason)
        event(str(exc.reason))
    else:
        assert all(isinstance(frame, Frame) for frame in decoded)


def test_pnyx_error_tree_is_what_the_fuzzers_allow() -> None:
    assert issubclass(InvalidMessage, PnyxError) and issubclass(SyncProtocolError, PnyxError)
    assert decode_frame(encode_frame([b"x"])) == [b"x"]
