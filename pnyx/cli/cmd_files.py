"""``pnyx export`` and ``pnyx import``: carry signed messages between machines with no network.

Import verifies every message exactly as if a peer had sent it, stores the valid ones in batches,
and reports how many were accepted, already known and rejected, with the reasons. A damaged file
still yields every intact message before the damage; nothing already stored is ever changed.
"""

from __future__ import annotations

import argparse
import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

from pnyx.cli.context import Context
from pnyx.clock import wall_clock_ms
from pnyx.core import display
from pnyx.core.bundle import BundleWriter, Damage, read_bundle
from pnyx.errors import UserError
from pnyx.store.importorder import in_placement_order

#: Messages stored per import transaction.
IMPORT_BATCH = 500
#: Bytes read from an import file at a time.
READ_CHUNK_BYTES = 1 << 16
#: Rejection details printed individually before summarising, in lines.
MAX_DETAIL_LINES = 10


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("export", help="write signed messages to FILE (default: every feed held)")
    p.add_argument("file", metavar="FILE", help="file to write (- for standard output)")
    p.add_argument(
        "--author", metavar="KEY", action="append", help="only this author's feed (repeatable)"
    )
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.add_argument(
        "--json", action="store_true", help='one JSON object: {"exported": N, "file": FILE}'
    )
    p.set_defaults(handler=cmd_export)
    p = sub.add_parser("import", help="verify and store the messages of an export FILE")
    p.add_argument("file", metavar="FILE", help="file to read (- for standard input)")
    p.add_argument(
        "--json",
        action="store_true",
        help="one JSON object: accepted, known, rejected, by_reason, details, damage",
    )
    p.set_defaults(handler=cmd_import)


def cmd_export(ctx: Context) -> int:
    from pnyx.crypto.keytext import parse_public_key

    authors = [parse_public_key(k) for k in ctx.args.author] if ctx.args.author else None
    target: str = ctx.args.file
    if target == "-" and ctx.args.json:
        raise UserError("export - writes the messages to standard output: --json needs a FILE")
    if target != "-" and not ctx.args.force and os.path.lexists(target):
        raise UserError(f"{target} exists; pnyx export replaces a file only with --force")
    writer = BundleWriter()
    store = ctx.store(write=False)
    if target == "-":
        import sys

        out = sys.stdout.buffer
        out.write(writer.header())
        for envelope in store.export(authors):
            out.write(writer.record(envelope))
        out.write(writer.trailer())
        out.flush()
    else:
        path = Path(target)
        temporary = path.with_name(f".{path.name}.partial")
        try:
            with open(temporary, "wb") as out_file:
                out_file.write(writer.header())
                for envelope in store.export(authors):
                    out_file.write(writer.record(envelope))
                out_file.write(writer.trailer())
                out_file.flush()
                os.fsync(out_file.fileno())
            os.replace(temporary, path)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            raise UserError(f"cannot write {target}: {exc.strerror}") from None
    if ctx.args.json:
        ctx.print(json.dumps({"exported": writer.count, "file": target}))
    else:
        ctx.warn(f"exported {writer.count} messages to {target}")
    return 0


def _chunks(target: str) -> Iterator[bytes]:
    import sys

    try:
        handle = sys.stdin.buffer if target == "-" else open(target, "rb")  # noqa: SIM115
    except OSError as exc:
        raise UserError(f"cannot read {target}: {exc.strerror}") from None
    with handle:
        while chunk := handle.read(READ_CHUNK_BYTES):
            yield chunk


def cmd_import(ctx: Context) -> int:
    store = ctx.store()
    accepted = known = 0
    reasons: Counter[str] = Counter()
    details: list[str] = []
    damage: Damage | None = None
    batch: list[bytes] = []
    positions: list[int] = []

    def flush() -> None:
        nonlocal accepted, known
        report = store.ingest(batch, wall_clock_ms())
        accepted += len(report.accepted)
        known += report.duplicates
        for index, reason, detail in report.rejected:
            reasons[reason.value] += 1
            if len(details) < MAX_DETAIL_LINES:
                shown = display.line(detail)  # may quote the file's data
                details.append(f"  message {positions[index] + 1}: {reason.value}: {shown}")
        batch.clear()
        positions.clear()

    def intact() -> Iterator[bytes]:
        nonlocal damage
        for item in read_bundle(_chunks(ctx.args.file)):
            if isinstance(item, Damage):
                damage = item
                return
            yield item

    # placed in (author, seq, id) order, not file order (docs/protocol.md, "Export files")
    for position, raw in in_placement_order(intact()):
        batch.append(raw)
        positions.append(position)
        if len(batch) >= IMPORT_BATCH:
            flush()
    if batch:
        flush()
    details.sort(key=lambda text: int(text.split()[1].rstrip(":")))
    rejected = sum(reasons.values())
    if ctx.args.json:
        return _import_json(ctx, (accepted, known, rejected), reasons, details, damage)
    ctx.print(f"accepted {accepted}, already known {known}, rejected {rejected}")
    for line in details:
        ctx.print(line)
    if rejected > len(details):
        ctx.print("  by reason: " + ", ".join(f"{r} {n}" for r, n in reasons.most_common()))
    if damage is not None:
        ctx.warn(
            f"{ctx.args.file} is damaged at byte {damage.offset}: {damage.problem} "
            "(only the intact messages before the damage were considered)"
        )
        return 1
    return 1 if rejected else 0


def _import_json(
    ctx: Context,
    counts: tuple[int, int, int],
    reasons: Counter[str],
    details: list[str],
    damage: Damage | None,
) -> int:
    """``import --json``: the report as one object; the exit status of the text report."""
    accepted, known, rejected = counts
    record = {
        "accepted": accepted,
        "known": known,
        "rejected": rejected,
        "by_reason": dict(reasons.most_common()),
        "details": [line.strip() for line in details],
        "damage": None if damage is None else {"offset": damage.offset, "problem": damage.problem},
    }
    ctx.print(json.dumps(record, ensure_ascii=False))
    return 1 if damage is not None or rejected else 0
