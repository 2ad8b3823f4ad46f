"""The frames of the sync protocol and their msgpack layout (sans-I/O).

Every frame body is one canonical msgpack map (pnyx.core.canonical) with a string ``"t"`` naming the
frame type; other keys are the type's fields (short names, below). A receiver ignores keys it does
not know, so a later minor version may add fields. Inner entries are fixed-length arrays.

======  =========  =====================================================================
type    direction  fields
======  =========  =====================================================================
hello   req -> rsp ``v`` version (uint), ``w`` window (uint, 1..MAX_INFLIGHT_BATCHES)
want    req -> rsp ``a`` [[author bin32, after uint, [[first, last], ...]], ...]
have    rsp -> req ``h`` [[author bin32, contiguous uint, highest uint], ...]
batch   rsp -> req ``m`` [envelope bin, ...]
done    rsp -> req ``n`` envelopes sent in the round (uint)
ack     req -> rsp ``n`` batches processed since the session began (uint >= 1)
bye     req -> rsp (none)
error   either     ``r`` reason (str), ``d`` detail (str)
======  =========  =====================================================================

``from_body`` checks types, ranges and counts; ordering rules that need session state live in the
requester and responder state machines. Every check failure raises ``SyncProtocolError``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pnyx.core.limits import KEY_BYTES, MAX_ENVELOPE_BYTES, MAX_SEQ
from pnyx.sync.errors import SyncProtocolError, SyncReason
from pnyx.sync.limits import (
    MAX_BATCH_MESSAGES,
    MAX_ERROR_DETAIL_BYTES,
    MAX_ERROR_REASON_BYTES,
    MAX_WANT_AUTHORS,
    MAX_WANT_RANGES,
)

#: A sequence-number range, inclusive at both ends.
SeqRange = tuple[int, int]


@dataclass(frozen=True, slots=True)
class Hello:
    """Opens a session: the requester's protocol version and flow-control window (in batches)."""

    version: int
    window: int


@dataclass(frozen=True, slots=True)
class WantEntry:
    """What the requester lacks of one author: every seq in ``gaps`` and every seq above ``after``.

    ``after`` is the highest seq the requester holds (0 if none); ``gaps`` are ascending, disjoint
    ranges within 1..after.
    """

    author: bytes
    after: int
    gaps: tuple[SeqRange, ...] = ()


@dataclass(frozen=True, slots=True)
class Want:
    """Starts a round: up to MAX_WANT_AUTHORS distinct authors."""

    entries: tuple[WantEntry, ...]


@dataclass(frozen=True, slots=True)
class Head:
    """What the responder holds of one author: seqs 1..contiguous all held; highest seq held."""

    author: bytes
    contiguous: int
    highest: int


@dataclass(frozen=True, slots=True)
class Have:
    """The responder's heads for the round's authors it holds (authors it lacks are omitted)."""

    heads: tuple[Head, ...]


@dataclass(frozen=True, slots=True)
class Batch:
    """Up to MAX_BATCH_MESSAGES raw envelopes, each author's in ascending seq order."""

    envelopes: tuple[bytes, ...]


@dataclass(frozen=True, slots=True)
class Done:
    """Ends a round; ``count`` = envelopes the responder sent in it."""

    count: int


@dataclass(frozen=True, slots=True)
class Ack:
    """Cumulative count of BATCH frames the requester has finished processing this session."""

    total: int


@dataclass(frozen=True, slots=True)
class Bye:
    """The requester ends the session cleanly."""


@dataclass(frozen=True, slots=True)
class ErrorFrame:
    """The sender drops the session; ``reason`` is a SyncReason value (or another short word)."""

    reason: str
    detail: str = ""


Frame = Hello | Want | Have | Batch | Done | Ack | Bye | ErrorFrame


def to_body(frame: Frame) -> dict[str, Any]:
    """The msgpack map of ``frame`` (before canonical encoding)."""
    match frame:
        case Hello(version, window):
            return {"t": "hello", "v": version, "w": window}
        case Want(entries):
            return {
                "t": "want",
                "a": [[e.author, e.after, [list(g) for g in e.gaps]] for e in entries],
            }
        case Have(heads):
            return {"t": "have", "h": [[h.author, h.contiguous, h.highest] for h in heads]}
        case Batch(envelopes):
            return {"t": "batch", "m": list(envelopes)}
        case Done(count):
            return {"t": "done", "n": count}
        case Ack(total):
            return {"t": "ack", "n": total}
        case Bye():
            return {"t": "bye"}
        case ErrorFrame(reason, detail):
            return {"t": "error", "r": clip_utf8(reason, MAX_ERROR_REASON_BYTES),
                    "d": clip_utf8(detail, MAX_ERROR_DETAIL_BYTES)}  # fmt: skip
    raise TypeError(f"not a sync frame: {frame!r}")


def from_body(value: object) -> Frame:
    """Check a decoded frame body and build its frame. Raises ``SyncProtocolError``."""
    if not isinstance(value, dict):
        raise _bad("frame body must be a map")
    kind = value.get("t")
    if not isinstance(kind, str):
        raise _bad("frame has no string type tag 't'")
    parse = _PARSERS.get(kind)
    if parse is None:
        raise SyncProtocolError(SyncReason.UNKNOWN_FRAME, f"unknown frame type {kind[:32]!r}")
    return parse(value)


def clip_utf8(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` bytes of UTF-8, never inside a character."""
    data = text.encode()
    if len(data) <= limit:
        return text
    return data[:limit].decode(errors="ignore")


def _bad(detail: str) -> SyncProtocolError:
    return SyncProtocolError(SyncReason.BAD_FRAME, detail)


def _field(body: dict[str, Any], key: str) -> Any:
    if key not in body:
        raise _bad(f"{body['t']} frame lacks field {key!r}")
    return body[key]


def _uint(value: object, what: str, low: int = 0, high: int = MAX_SEQ) -> int:
    if type(value) is not int or not low <= value <= high:
        raise _bad(f"{what} must be an integer in {low}..{high}")
    return value


def _array(value: object, what: str, low: int, high: int) -> list[Any]:
    if not isinstance(value, list) or not low <= len(value) <= high:
        raise _bad(f"{what} must be an array of {low}..{high} items")
    return value


def _author(value: object) -> bytes:
    if not isinstance(value, bytes) or len(value) != KEY_BYTES:
        raise _bad(f"author must be {KEY_BYTES} bytes")
    return value


def _text(value: object, what: str, limit: int) -> str:
    if not isinstance(value, str) or len(value.encode()) > limit:
        raise _bad(f"{what} must be text of at most {limit} bytes")
    return value


def _hello(body: dict[str, Any]) -> Hello:
    version = _uint(_field(body, "v"), "hello version", 0, 2**32)
    window = _uint(_field(body, "w"), "hello window", 0, 2**32)
    return Hello(version, window)


def _want(body: dict[str, Any]) -> Want:
    items = _array(_field(body, "a"), "want authors", 1, MAX_WANT_AUTHORS)
    entries: list[WantEntry] = []
    seen: set[bytes] = set()
    for item in items:
        fields = _array(item, "want entry", 3, 3)
        author = _author(fields[0])
        if author in seen:
            raise _bad("an author appears twice in one want")
        seen.add(author)
        after = _uint(fields[1], "want after")
        gaps: list[SeqRange] = []
        floor = 0  # every range must start above the previous one's end
        for pair in _array(fields[2], "want gaps", 0, MAX_WANT_RANGES):
            first, last = _array(pair, "want range", 2, 2)
            first = _uint(first, "range first", floor + 1)
            last = _uint(last, "range last", first, after)
            gaps.append((first, last))
            floor = last
        entries.append(WantEntry(author, after, tuple(gaps)))
    return Want(tuple(entries))


def _have(body: dict[str, Any]) -> Have:
    items = _array(_field(body, "h"), "have heads", 0, MAX_WANT_AUTHORS)
    heads: list[Head] = []
    seen: set[bytes] = set()
    for item in items:
        fields = _array(item, "have entry", 3, 3)
        author = _author(fields[0])
        if author in seen:
            raise _bad("an author appears twice in one have")
        seen.add(author)
        highest = _uint(fields[2], "have highest", 1)
        contiguous = _uint(fields[1], "have contiguous", 0, highest)
        heads.append(Head(author, contiguous, highest))
    return Have(tuple(heads))


def _batch(body: dict[str, Any]) -> Batch:
    items = _array(_field(body, "m"), "batch envelopes", 1, MAX_BATCH_MESSAGES)
    for raw in items:
        if not isinstance(raw, bytes) or not 0 < len(raw) <= MAX_ENVELOPE_BYTES:
            raise _bad(f"an envelope must be 1..{MAX_ENVELOPE_BYTES} bytes")
    return Batch(tuple(items))


def _done(body: dict[str, Any]) -> Done:
    return Done(_uint(_field(body, "n"), "done count"))


def _ack(body: dict[str, Any]) -> Ack:
    return Ack(_uint(_field(body, "n"), "ack total", 1))


def _bye(body: dict[str, Any]) -> Bye:
    return Bye()


def _error(body: dict[str, Any]) -> ErrorFrame:
    reason = _text(_field(body, "r"), "error reason", MAX_ERROR_REASON_BYTES)
    return ErrorFrame(reason, _text(_field(body, "d"), "error detail", MAX_ERROR_DETAIL_BYTES))


_PARSERS: dict[str, Callable[[dict[str, Any]], Frame]] = {
    "hello": _hello,
    "want": _want,
    "have": _have,
    "batch": _batch,
    "done": _done,
    "ack": _ack,
    "bye": _bye,
    "error": _error,
}
