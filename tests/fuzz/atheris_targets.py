"""Coverage-guided fuzzing (atheris / libFuzzer) of the parsers that take bytes from outside.

Run one target for a while (``make fuzz`` runs each for ``FUZZ_SECONDS``)::

    .venv/bin/python -m tests.fuzz.atheris_targets frame -max_total_time=60 -rss_limit_mb=1024

Targets: ``envelope`` (signed message decode + validation), ``frame`` (gossip frame validation,
with the rate limiter's and clock watch's pre-passes), ``sync`` (the sync stream parser, bytes fed
in two pieces), ``bundle`` (export file reader + validation of each record), ``control`` (the
control-socket request parser). Each target accepts what is valid and turns everything else into
the module's one error type; any other exception is a crash that libFuzzer reports with the input
that caused it (saved as ``crash-*`` in the current directory).

Not part of pytest: this module is only a command-line entry point. The property tests in
``tests/test_fuzz_inputs.py`` check the same things with hypothesis.
"""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    import trio

    from pnyx.control.server import answer_request
    from pnyx.core.bundle import Damage, read_bundle
    from pnyx.core.envelope import validate
    from pnyx.core.frame import validate_frame
    from pnyx.core.reasons import InvalidMessage
    from pnyx.ingest.ratelimit import RateLimiter
    from pnyx.sync.errors import SyncProtocolError
    from pnyx.sync.wire import FrameDecoder

#: The clock inputs are checked against, in milliseconds since the epoch (mid 2025).
NOW_MS = 1_750_000_000_000

_limiter = RateLimiter()


def fuzz_envelope(data: bytes) -> None:
    try:
        validate(data, NOW_MS)
    except InvalidMessage:
        return


def fuzz_frame(data: bytes) -> None:
    _limiter.admit_frame(data, "fuzzer", 0.0)
    try:
        validate_frame(data, NOW_MS)
    except InvalidMessage:
        return


def fuzz_sync(data: bytes) -> None:
    decoder = FrameDecoder()
    cut = data[0] % (len(data) + 1) if data else 0
    try:
        decoder.feed(data[:cut])
        decoder.feed(data[cut:])
    except SyncProtocolError:
        return


def fuzz_bundle(data: bytes) -> None:
    for item in read_bundle([data[i : i + 4096] for i in range(0, len(data), 4096)]):
        if isinstance(item, Damage):
            return
        fuzz_envelope(item)


async def _no_handler(request: dict[str, object]) -> object:
    return request["op"]


def fuzz_control(data: bytes) -> None:
    answer = trio.run(answer_request, data, _no_handler)
    if not isinstance(answer.get("ok"), bool):
        raise AssertionError(f"bad answer {answer!r}")


TARGETS: dict[str, Callable[[bytes], None]] = {
    "envelope": fuzz_envelope,
    "frame": fuzz_frame,
    "sync": fuzz_sync,
    "bundle": fuzz_bundle,
    "control": fuzz_control,
}


def seeds(target: str) -> list[bytes]:
    """Valid inputs for ``target``, so the fuzzer starts from deep inside the format."""
    import json

    import nacl.signing

    from pnyx.core.bundle import BundleWriter
    from pnyx.core.envelope import sign
    from pnyx.core.frame import encode_frame
    from pnyx.sync.frames import Ack, Batch, Bye, Frame, Hello, Want, WantEntry
    from pnyx.sync.wire import encode_frame as encode_sync

    signer = nacl.signing.SigningKey(b"s" * 32)
    first = sign(signer, seq=1, prev=None, ts=NOW_MS, kind="post", body={"text": "hello"})
    second = sign(signer, seq=2, prev=first.id, ts=NOW_MS, kind="follow", body={"key": b"k" * 32})
    raws = [first.raw, second.raw]
    if target == "envelope":
        return raws
    if target == "frame":
        return [encode_frame(raws), encode_frame(raws[:1])]
    if target == "sync":
        author = bytes(signer.verify_key)
        frames: list[Frame] = [Hello(1, 4), Want((WantEntry(author, 1, ((1, 1),)),))]
        frames += [Batch(tuple(raws)), Ack(1), Bye()]
        return [b"".join(encode_sync(f) for f in frames)]
    if target == "bundle":
        writer = BundleWriter()
        return [writer.header() + b"".join(writer.record(r) for r in raws) + writer.trailer()]
    return [
        json.dumps({"op": "status"}).encode(),
        json.dumps({"op": "connect", "addr": "/x"}).encode(),
    ]


def main(argv: list[str]) -> None:
    if len(argv) < 2 or argv[1] not in TARGETS:
        sys.exit(f"usage: {argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options] [corpus dirs]")
    name, options = argv[1], argv[2:]
    if not [a for a in options if not a.startswith("-")]:  # no corpus given: start from seeds
        corpus = Path(tempfile.mkdtemp(prefix=f"pnyx-fuzz-{name}-"))
        for index, seed in enumerate(seeds(name)):
            (corpus / f"seed-{index}").write_bytes(seed)
        options.append(str(corpus))
    atheris.Setup([argv[0], *options], TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main(sys.argv)
