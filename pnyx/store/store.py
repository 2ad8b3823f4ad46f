"""``Store``: pnyx's local SQLite store (synchronous; see docs/store.md and notes/STORE-API.md).

One ``Store`` holds one sqlite3 connection (``check_same_thread=False``) guarded by a
``threading.Lock``: any thread may call it, one call at a time. Async callers wrap each call in
``trio.to_thread.run_sync``. Several processes may open the same file (WAL, busy timeout 5 s); a
write transaction takes the write lock up front (``BEGIN IMMEDIATE``).

Failure modes: every sqlite3 error becomes ``StoreError`` with a one-line message naming the file,
and the transaction that failed is rolled back, so nothing of a failed batch is committed and
nothing committed earlier is lost. Bad messages never raise (they are reported in ``IngestReport``).
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import nacl.signing

from pnyx.clock import wall_clock_ms
from pnyx.core import envelope, kinds
from pnyx.core.envelope import Message
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.errors import NotFoundError, StoreError, UserError
from pnyx.store import budget, moderation, notify, queries, rankq, replication, search
from pnyx.store.connection import connect, reading, transaction
from pnyx.store.ingest import ingest_messages
from pnyx.store.models import (
    Cursor,
    FollowEdges,
    ForkEvidence,
    IngestReport,
    Page,
    Profile,
    StoredMessage,
)
from pnyx.store.schema import id_key

_T = TypeVar("_T")


class Store:
    """The local store. Open with ``Store.open(path)``; use as a context manager or ``close()``."""

    def __init__(self, conn: sqlite3.Connection, path: Path, readonly: bool) -> None:
        """Wrap an open connection (use ``Store.open``, which also sets it up and migrates)."""
        self._conn = conn
        self.path = path
        self.readonly = readonly
        self._lock = threading.Lock()
        self._closed = False
        self._aids: dict[bytes, int] = {}  # author key -> aid, never changing (rankq._aids)

    @classmethod
    def open(cls, path: Path, *, readonly: bool = False) -> Store:
        """Open (creating, mode 0600, if missing and not ``readonly``) and migrate the store.

        Raises ``StoreError`` if the file is not a database, is locked, is read-only for a
        read-write open, or was written by a newer pnyx (the file is then left untouched).
        """
        path = Path(path)
        return cls(connect(path, readonly=readonly), path, readonly)

    def close(self) -> None:
        with self._lock:
            if not self._closed:
                self._closed = True
                self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _read(self, fn: Callable[..., _T], *args: Any) -> _T:
        """Run a read query under the lock, mapping sqlite3 errors to ``StoreError``."""
        with self._lock:
            self._check_open()
            with reading(self.path):
                return fn(self._conn, *args)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"the store {self.path} is closed")

    # --- writing -----------------------------------------------------------------------------

    def ingest(self, raws: Iterable[bytes], now_ms: int) -> IngestReport:
        """Validate (structure, clock, signature), place and store a batch in ONE transaction.

        Idempotent; bad messages go to ``report.rejected`` with their index in ``raws``. Raises
        ``StoreError`` only if the database fails, in which case nothing of the batch is stored.
        """
        valid: list[Message] = []
        indexes: list[int] = []
        rejected: list[tuple[int, Reason, str]] = []
        for index, raw in enumerate(raws):
            try:
                valid.append(envelope.validate(raw, now_ms))
            except InvalidMessage as exc:
                rejected.append((index, exc.reason, exc.detail))
                continue
            indexes.append(index)
        report = self._ingest(valid, now_ms, indexes)
        if not rejected:
            return report
        merged = sorted([*rejected, *report.rejected], key=lambda item: item[0])
        return IngestReport(report.accepted, report.duplicates, merged, report.forks)

    def ingest_verified(
        self, messages: Sequence[Message], *, now_ms: int | None = None
    ) -> IngestReport:
        """Like ``ingest`` for messages the caller already validated (``envelope.validate``).

        Chain placement still happens here. ``now_ms`` (default: the wall clock) is recorded as
        the time each new message was received.
        """
        return self._ingest(messages, wall_clock_ms() if now_ms is None else now_ms, None)

    def _ingest(
        self, messages: Sequence[Message], now_ms: int, indexes: Sequence[int] | None
    ) -> IngestReport:
        if not messages:
            return IngestReport()
        with self._lock:
            self._check_open()
            with transaction(self._conn, self.path):
                return ingest_messages(self._conn, messages, now_ms, indexes=indexes)

    def append_own(
        self, key: nacl.signing.SigningKey, kind: str, body: dict[str, Any], now_ms: int
    ) -> Message:
        """Sign the next message of ``key``'s feed and store it with a durable commit.

        seq = highest held + 1, prev = id of that message, ts = ``now_ms``. Raises
        ``InvalidMessage`` if the message would be invalid (e.g. text too long), ``UserError``
        (``NotFoundError`` if unknown) if a delete names anything but the author's own message, and
        ``StoreError`` if the database fails; nothing is stored in those cases.
        """
        author = bytes(key.verify_key)
        with self._lock:
            self._check_open()
            with transaction(self._conn, self.path, durable=True):
                row = self._conn.execute(
                    """SELECT a.highest, m.id FROM authors AS a
                    JOIN messages AS m ON m.aid = a.aid AND m.seq = a.highest
                    WHERE a.author = ?""",
                    (author,),
                ).fetchone()
                seq, prev = (row[0] + 1, row[1]) if row is not None else (1, None)
                message = envelope.sign(key, seq=seq, prev=prev, ts=now_ms, kind=kind, body=body)
                if kind == kinds.DELETE:
                    self._check_delete_target(author, message.body["id"])
                report = ingest_messages(self._conn, [message], now_ms)
                if report.accepted != [message]:
                    raise StoreError(f"the store {self.path} refused our own message at seq {seq}")
        return message

    def _check_delete_target(self, author: bytes, target: bytes) -> None:
        row = self._conn.execute(
            """SELECT a.author, m.kind FROM messages AS m JOIN authors AS a ON a.aid = m.aid
            WHERE m.idkey = ? AND m.id = ?""",
            (id_key(target), target),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no message {target.hex()} in this store to delete")
        if row[0] != author:
            raise UserError(f"message {target.hex()[:12]} is not yours: you can only delete yours")
        if row[1] not in kinds.delete.DELETABLE:  # posts, likes, reposts, polls, votes, notes
            raise UserError(f"message {target.hex()[:12]} is a {row[1]}: it cannot be deleted")
        deleted = self._conn.execute(
            """SELECT 1 FROM deletions AS d JOIN authors AS a ON a.aid = d.aid
            WHERE d.target = ? AND a.author = ?""",
            (target, author),
        ).fetchone()
        if deleted is not None:
            raise UserError(f"{row[1]} {target.hex()[:12]} is already deleted; nothing changed")

    def evict(self, authors: Iterable[bytes]) -> int:
        """Drop everything held of each of ``authors`` in one transaction, derived rows and
        totals kept consistent (``pnyx.store.budget``); the messages removed. ``StoreError``
        if the database fails (then nothing is dropped)."""
        with self._lock:
            self._check_open()
            with transaction(self._conn, self.path):
                return sum(budget.evict(self._conn, a) for a in dict.fromkeys(authors))

    # --- reading -----------------------------------------------------------------------------

    def get(self, message_id: bytes) -> StoredMessage | None:
        """The message with this id, or None (fork evidence is never returned)."""
        return self._read(queries.get, message_id)

    def resolve_id(self, text: str) -> bytes:
        """A full 64-hex id or a unique prefix of >= 8 hex chars to the full id. Raises
        ``NotFoundError`` (unknown or ambiguous, saying which) or ``UserError`` (not hex)."""
        return self._read(queries.resolve_id, text)

    def timeline(self, me: bytes, *, limit: int = 50, before: Cursor | None = None) -> Page:
        """Posts by ``me`` and everyone ``me`` follows, newest first (ts DESC, id DESC).

        Deleted posts are hidden. ``UserError`` if ``limit`` is outside 1..MAX_PAGE_ITEMS.
        """
        return self._read(queries.timeline, me, limit, before)

    def timeline_reposts(self, me: bytes, *, limit: int = 50, before: Cursor | None = None) -> Page:
        """Reposts by ``me`` and everyone ``me`` follows, newest first (ts DESC, id DESC)."""
        return self._read(queries.timeline_reposts, me, limit, before)

    def feed(self, author: bytes, *, limit: int = 50, before: Cursor | None = None) -> Page:
        """All of ``author``'s messages of every kind, highest seq first; deleted posts hidden."""
        return self._read(queries.feed, author, limit, before)

    def thread(self, message_id: bytes) -> list[StoredMessage]:
        """The root post and every reply to it, oldest first; ``NotFoundError`` if unknown."""
        return self._read(queries.thread, message_id)

    def published_recipes(self, recipe_hash: bytes) -> list[StoredMessage]:
        """Held ``recipe`` messages with this recipe hash (32 bytes), oldest first."""
        return self._read(rankq.published_recipes, recipe_hash)

    def references(self, author: bytes, kind: str, target: bytes) -> list[StoredMessage]:
        """``author``'s messages of ``kind`` (repost, reaction, delete) naming ``target``."""
        return self._read(queries.references, author, kind, target)

    def following(self, me: bytes) -> list[bytes]:
        """Keys ``me`` follows (its highest-seq follow/unfollow per key decides), sorted."""
        return self._read(queries.following, me)

    def followers(self, me: bytes) -> list[bytes]:
        """Keys whose follow of ``me`` this store holds (their feeds are held), sorted."""
        return self._read(queries.followers, me)

    def wanted_authors(self, me: bytes) -> set[bytes]:
        """``me``, its follows and the labellers it subscribes to, less those it blocks (pinned)."""
        wanted = {me, *self.following(me), *self._read(moderation.labellers)}
        return wanted - set(self.moderated("block", me))

    def usage(self) -> dict[bytes, int]:
        """author -> bytes of raw envelopes held (the storage budget's measure; one table pass)."""
        return self._read(budget.usage)

    def held_ids(self, ids: Iterable[bytes]) -> set[bytes]:
        """Those of ``ids`` naming a message this store holds."""
        return self._read(budget.held_ids, list(ids))

    def profile(self, author: bytes) -> Profile | None:
        """The merged profile: name and bio each from the latest profile message setting it."""
        return self._read(queries.profile, author)

    def forks(self, author: bytes) -> list[ForkEvidence]:
        """Every conflicting message held for ``author``, by seq."""
        return self._read(queries.forks, author)

    def is_forked(self, author: bytes) -> bool:
        return self._read(queries.is_forked, author)

    def forks_dropped(self, author: bytes) -> int:
        """Conflicting messages of ``author`` seen beyond the evidence kept (counted, not kept:
        at most ``pnyx.store.writes.MAX_FORK_EVIDENCE`` rows per author, one per seq)."""
        return self._read(queries.forks_dropped, author)

    def forked_among(self, authors: Iterable[bytes]) -> set[bytes]:
        """Those of ``authors`` flagged forked (one query per 500 authors)."""
        return self._read(queries.forked_among, list(dict.fromkeys(authors)))

    def moderated(self, what: str, actor: bytes) -> list[bytes]:
        """Keys ``actor`` publicly mutes (``what`` = "mute") or blocks ("block") now, sorted."""
        return self._read(moderation.targets, what, actor)

    def moderation_pairs(self, what: str) -> list[tuple[bytes, bytes]]:
        """Every current (actor, target) public mute or block the store holds."""
        return self._read(moderation.pairs, what)

    def private_mutes(self) -> list[bytes]:
        """Keys the user muted privately (kept in this home only, never published), sorted."""
        return self._read(moderation.private_mutes)

    def set_private_mute(self, target: bytes, on: bool, now_ms: int) -> bool:
        """Add or remove a private mute (durable commit); False if it already was so."""
        with self._lock:
            self._check_open()
            with transaction(self._conn, self.path, durable=True):
                return moderation.set_private_mute(self._conn, target, on, now_ms)

    def follow_edges(self) -> FollowEdges:
        """Every current follow edge the store knows, as dense indices (the trust graph's input)."""
        return self._read(queries.follow_edges)

    def search_posts(
        self, query: str, *, limit: int = 50, author: bytes | None = None
    ) -> list[search.PostMatch]:
        """Visible posts whose text matches the words of ``query`` (all of them), best bm25
        first; only ``author``'s if given. ``UserError`` for an empty or over-long query."""
        return self._read(search.posts, query, limit, author)

    def search_profiles(
        self, query: str, *, limit: int = 50, author: bytes | None = None
    ) -> list[search.ProfileMatch]:
        """Profiles whose name or bio matches the words of ``query``, best bm25 first."""
        return self._read(search.profiles, query, limit, author)

    def candidate_posts(
        self,
        authors: Iterable[bytes] | None,
        *,
        limit: int,
        before: Cursor | None = None,
        exclude: Iterable[bytes] = (),
    ) -> list[rankq.Candidate]:
        """The newest visible posts below ``before`` by ``authors`` (all if None) and none by
        ``exclude``, undecoded: the candidates of a ranked feed. ``UserError`` if ``limit`` is
        outside 1..MAX_PAGE_ITEMS."""
        chosen = None if authors is None else list(authors)
        return self._read(rankq.candidate_posts, chosen, limit, before, list(exclude), self._aids)

    def visible_post(self, post_id: bytes) -> bool:
        """Whether ``post_id`` is a post held and not deleted by its author."""
        return self._read(rankq.visible_post, post_id)

    def actions(self, posts: Iterable[bytes], *, since_ms: int) -> list[rankq.Action]:
        """Replies, reposts and reactions naming ``posts``, and all reposts and reactions from
        ``since_ms`` on (three index lookups; ``pnyx.store.rankq``)."""
        return self._read(rankq.actions, list(posts), since_ms)

    def notifications(
        self, me: bytes, needles: list[str], *, limit: int = 50
    ) -> tuple[list[StoredMessage], list[StoredMessage], list[StoredMessage]]:
        """(replies to ``me``'s posts, others' posts holding any of ``needles``, the follow
        messages of ``me``'s followers), each newest first, at most ``limit`` of each."""
        return self._read(_notifications, me, needles, limit)

    # --- replication ---------------------------------------------------------------------------

    def heads(self, authors: Iterable[bytes] | None = None) -> dict[bytes, tuple[int, int]]:
        """author -> (contiguous, highest) of the held authors (all if ``authors`` is None)."""
        return self._read(replication.heads, authors)

    def missing(self, author: bytes, upto: int | None = None) -> list[tuple[int, int]]:
        """Inclusive seq ranges absent in 1..max(highest, upto)."""
        return self._read(replication.missing, author, upto)

    def range(
        self, author: bytes, first_seq: int, last_seq: int, *, limit: int = 1000
    ) -> list[bytes]:
        """Raw envelopes of ``author`` with first_seq <= seq <= last_seq, in seq order."""
        return self._read(replication.seq_range, author, first_seq, last_seq, limit)

    def export(self, authors: Iterable[bytes] | None = None) -> Iterator[bytes]:
        """Raw envelopes, author by author, each in seq order, read page by page.

        The lock is held per page only, so other calls interleave with a long export.
        """
        if authors is None:
            yield from self._export_pages(None)
            return
        for aid in self._read(replication.aids, authors):
            yield from self._export_pages(aid)

    def _export_pages(self, aid: int | None) -> Iterator[bytes]:
        after = (0, 0)
        while True:
            page = self._read(replication.export_page, aid, after)
            for row_aid, seq, raw in page:
                after = (row_aid, seq)
                yield raw
            if len(page) < replication.EXPORT_PAGE:
                return

    def changes_since(self, rowid: int, *, limit: int = 1000) -> list[tuple[int, bytes]]:
        """(rowid, raw) of chain messages stored after ``rowid``, ascending (0 = from the start)."""
        return self._read(replication.changes_since, rowid, limit)

    def last_rowid(self) -> int:
        return self._read(replication.last_rowid)

    def counts(self) -> dict[str, int]:
        """{"messages", "authors", "forks" (authors flagged forked), "fork_evidence" (rows kept),
        "forks_dropped" (conflicting messages counted beyond the cap, not kept)}."""
        return self._read(replication.counts)


def _notifications(
    conn: sqlite3.Connection, me: bytes, needles: list[str], limit: int
) -> tuple[list[StoredMessage], list[StoredMessage], list[StoredMessage]]:
    return (
        notify.replies(conn, me, limit),
        notify.mentions(conn, me, needles, limit),
        notify.followers(conn, me, limit),
    )
