"""Cursors of ranked pages (``docs/ranking.md``, "Pages of a ranked feed").

A ranked page is one slice of one **ranking snapshot**: the ``CANDIDATES`` newest visible posts
below the window bound ``window`` (None: from the newest), held by ``now_ms`` (received then or
before), ranked at ``now_ms`` with the engagements created by then. Page ``k`` re-ranks the same
snapshot and shows the posts at places ``offset`` to ``offset + limit`` (ranking fills a page
greedily, so the first places never depend on how many follow). When a window's posts are all
shown and the window was full, the next page ranks the next window: the posts below its oldest
candidate, same ``now_ms``, offset 0. So within one snapshot no post repeats and none is skipped.

Text form: ``r.WINDOW.NOW_MS.OFFSET`` (``WINDOW`` a ``Cursor.to_text()``, empty for None); a
plain ``Cursor`` text is read as a window bound with a fresh snapshot (``--before`` as before).
``UserError`` for anything else.
"""

from __future__ import annotations

from dataclasses import dataclass

from pnyx.errors import UserError
from pnyx.store import Cursor

#: Prefix of a ranked page's cursor text.
PREFIX = "r"
#: Largest offset a cursor may carry (places within one window of candidates).
MAX_OFFSET = 10_000


@dataclass(frozen=True, slots=True)
class RankCursor:
    """Where a ranked page ended: the snapshot's window bound and time, and the places shown."""

    window: Cursor | None
    now_ms: int
    offset: int

    def to_text(self) -> str:
        window = self.window.to_text() if self.window is not None else ""
        return f"{PREFIX}.{window}.{self.now_ms}.{self.offset}"

    @classmethod
    def from_text(cls, text: str) -> RankCursor:
        parts = text.strip().split(".")
        if len(parts) != 4 or parts[0] != PREFIX:
            raise UserError(f"not a page cursor: {text!r}")
        _, window, now, offset = parts
        if not (now.isdigit() and offset.isdigit()) or int(offset) > MAX_OFFSET:
            raise UserError(f"not a page cursor: {text!r}")
        return cls(Cursor.from_text(window) if window else None, int(now), int(offset))


def parse_page_cursor(text: str) -> Cursor | RankCursor:
    """A ranked page's cursor or a plain ``Cursor`` (a following page's, or a window bound)."""
    if text.strip().startswith(PREFIX + "."):
        return RankCursor.from_text(text)
    return Cursor.from_text(text)


def start(before: Cursor | RankCursor | None, now_ms: int) -> RankCursor:
    """The snapshot a page ranks: the cursor's, or a new one at ``now_ms`` below ``before``."""
    if isinstance(before, RankCursor):
        return before
    return RankCursor(before, now_ms, 0)


def next_cursor(
    at: RankCursor, limit: int, ranked: int, oldest: Cursor | None, full: bool
) -> RankCursor | None:
    """The cursor after showing ``limit`` places from ``at`` when ``ranked`` places were ranked
    (asked for one more than shown); ``oldest``: the window's oldest candidate; ``full``: the
    window held ``CANDIDATES`` posts (older ones may exist)."""
    if ranked > at.offset + limit:
        return RankCursor(at.window, at.now_ms, at.offset + limit)
    if full and oldest is not None:
        return RankCursor(oldest, at.now_ms, 0)
    return None
