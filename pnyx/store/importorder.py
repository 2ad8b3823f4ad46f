"""The order in which ``pnyx import`` places a file's records (docs/protocol.md, "Export files").

An import places the envelopes of a file in ascending order of (author, seq, message id), never
in file order, so that its verdicts (``seq-too-far`` counts messages placed before, and of two
conflicting envelopes at one seq the first placed is kept and the other is fork evidence) do not
depend on how the file was written. A record that does not decode sorts first, with an empty key,
and is refused for its reason wherever it stood.

``in_placement_order(records)`` sorts on disk: the records go into a temporary SQLite database
(deleted when the iteration ends) and come back in order, so memory stays bounded whatever the
file's size. It yields ``(position, raw)``, ``position`` being the record's 0-based index in the
file (for "message N" in reports). Raises ``StoreError`` if the temporary database fails (a full
disk).
"""

from __future__ import annotations

import sqlite3
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path

from pnyx.core.envelope import decode
from pnyx.core.reasons import InvalidMessage
from pnyx.errors import StoreError

#: Records read from the temporary table at once, a count.
FETCH_ROWS = 500


def _key(raw: bytes) -> tuple[bytes, int, bytes]:
    try:
        message = decode(raw)
    except InvalidMessage:
        return b"", 0, b""
    return message.author, message.seq, message.id


def in_placement_order(records: Iterable[bytes]) -> Iterator[tuple[int, bytes]]:
    """``records`` as ``(file position, raw)`` in placement order (see the module docstring)."""
    with tempfile.TemporaryDirectory(prefix="pnyx-import-") as scratch:
        try:
            conn = sqlite3.connect(Path(scratch) / "order.db")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot sort the import: {exc}") from None
        try:
            conn.execute(
                "CREATE TABLE rec (author BLOB, seq INTEGER, id BLOB, pos INTEGER, raw BLOB)"
            )
            rows = ((*_key(raw), pos, raw) for pos, raw in enumerate(records))
            conn.executemany("INSERT INTO rec VALUES (?, ?, ?, ?, ?)", rows)
            cursor = conn.execute("SELECT pos, raw FROM rec ORDER BY author, seq, id, pos")
            while batch := cursor.fetchmany(FETCH_ROWS):
                yield from ((int(pos), bytes(raw)) for pos, raw in batch)
        except sqlite3.Error as exc:
            raise StoreError(f"cannot sort the import: {exc}") from None
        finally:
            conn.close()
