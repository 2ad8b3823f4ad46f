"""Full-text search over the posts' text and the profiles' name and bio (SQLite FTS5).

The indexes ``posts_fts`` and ``profiles_fts`` come with schema migration 3, which fills them from
what the store already holds; triggers keep them current on every insert (docs/store.md,
"Search"). This module only reads.

A query is the user's words, never FTS5 syntax: ``match_expression`` splits it on white space and
quotes every word as an FTS5 string (a ``"`` inside is doubled), so quotes, ``AND``, ``NEAR``,
column filters or parentheses in it are plain text and cannot make a malformed query. All words
must match (in any order). A word ending in ``*`` matches as a prefix (``agor*``). Matching is
case-insensitive and ignores diacritics (the ``unicode61`` tokenizer, ``remove_diacritics 2``).

Relevance is FTS5's ``bm25`` negated (higher is better, > 0); in ``profiles_fts`` a match in the
name weighs ``NAME_WEIGHT`` times a match in the bio. A post its own author deleted is never
returned. A very common word is bounded: when more than ``RECENT_BOUND`` visible posts match,
only the ``RECENT_BOUND`` newest (store order) are ranked by bm25 (bm25's statistics, the IDF of
each word, still come from the whole index, so a ranked post's relevance is unchanged).

Failure modes: ``UserError`` for an empty or over-long query, a limit outside
1..``MAX_MATCHES``, or a query SQLite still refuses (mapped from ``sqlite3.OperationalError``, so
no traceback); other ``sqlite3`` errors propagate (the ``Store`` maps them to ``StoreError``).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from pnyx.errors import UserError
from pnyx.store.models import StoredMessage
from pnyx.store.queries import _VISIBLE, aid_of, stored

#: Longest query accepted, in characters.
MAX_QUERY_CHARS = 256
#: Most words in one query, a count.
MAX_QUERY_WORDS = 16
#: Most matches one search returns (the caller re-ranks these), a count.
MAX_MATCHES = 1000
#: Weight of a match in a profile's name relative to one in its bio (bm25 column weight).
NAME_WEIGHT = 2.0
#: Weight of a match in a profile's bio (bm25 column weight).
BIO_WEIGHT = 1.0


@dataclass(frozen=True, slots=True)
class PostMatch:
    """A post whose text matches; ``relevance`` = -bm25 (higher is better)."""

    item: StoredMessage
    relevance: float


@dataclass(frozen=True, slots=True)
class ProfileMatch:
    """A profile whose name or bio matches; ``relevance`` = -bm25 (higher is better)."""

    author: bytes
    name: str | None
    bio: str | None
    relevance: float


def match_expression(query: str) -> str:
    """The FTS5 expression for the user's ``query``: every word quoted, all required.

    Raises ``UserError`` if the query is empty, longer than ``MAX_QUERY_CHARS`` or has more than
    ``MAX_QUERY_WORDS`` words.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise UserError(
            f"search: the query has {len(query)} characters, the limit is {MAX_QUERY_CHARS}"
        )
    words = query.split()
    if len(words) > MAX_QUERY_WORDS:
        raise UserError(f"search: the query has {len(words)} words, the limit is {MAX_QUERY_WORDS}")
    parts = []
    for word in words:
        bare = word.rstrip("*")
        if bare:
            parts.append('"' + bare.replace('"', '""') + '"' + ("*" if bare != word else ""))
    if not parts:
        raise UserError("search: the query is empty (give one or more words)")
    return " ".join(parts)


def _check(limit: int) -> None:
    if not 1 <= limit <= MAX_MATCHES:
        raise UserError(f"search: limit {limit} outside 1..{MAX_MATCHES}")


def _run(
    conn: sqlite3.Connection, sql: str, params: dict[str, object], query: str
) -> list[tuple[object, ...]]:
    try:
        return conn.execute(sql, params).fetchall()
    except sqlite3.OperationalError as exc:
        text = str(exc)
        if "fts5" in text or "syntax" in text or "unterminated" in text:
            raise UserError(f"search: cannot read the query {query!r} ({text})") from None
        raise


#: Most matching posts ranked by bm25, a count. When more visible posts match a query, only the
#: ``RECENT_BOUND`` newest in store order (``messages.n``, the FTS5 rowid: the order the node
#: received them) are ranked: FTS5 walks the matches by rowid, newest first, and stops there, so
#: bm25 is computed for at most this many rows. A query with at most this many matches is ranked
#: over all of them, exactly as without the bound (docs/ranking.md, "Search").
RECENT_BOUND = 2000


def _bounded(by_author: str) -> str:
    """The post query: the ``:bound`` newest visible matches (``by_author`` filters), ranked by
    bm25 (ties: lower rowid), the best ``:n`` joined with their rows."""
    return f"""SELECT m.id, m.raw, m.received_ms, f.r
FROM (SELECT posts_fts.rowid AS n, bm25(posts_fts) AS r
      FROM posts_fts JOIN messages AS m ON m.n = posts_fts.rowid
      WHERE posts_fts MATCH :q AND m.kind = 'post' {by_author} AND {_VISIBLE}
      ORDER BY posts_fts.rowid DESC LIMIT :bound) AS f
JOIN messages AS m ON m.n = f.n ORDER BY f.r, f.n LIMIT :n"""


def posts(
    conn: sqlite3.Connection, query: str, limit: int, author: bytes | None = None
) -> list[PostMatch]:
    """Up to ``limit`` visible posts matching ``query``, best bm25 first (ties: lower rowid),
    among the ``RECENT_BOUND`` newest matches; only ``author``'s if given (an author with
    nothing held: no match)."""
    _check(limit)
    params: dict[str, object] = {"q": match_expression(query), "n": limit, "bound": RECENT_BOUND}
    by_author = ""
    if author is not None:
        aid = aid_of(conn, author)
        if aid is None:
            return []
        params["aid"] = aid
        by_author = "AND m.aid = :aid"
    rows = _run(conn, _bounded(by_author), params, query)
    return [PostMatch(stored(row), -float(row[3])) for row in rows]  # type: ignore[arg-type]


def profiles(
    conn: sqlite3.Connection, query: str, limit: int, author: bytes | None = None
) -> list[ProfileMatch]:
    """Up to ``limit`` profiles whose name or bio matches ``query``, best bm25 first."""
    _check(limit)
    params: dict[str, object] = {
        "q": match_expression(query),
        "n": limit,
        "author": author,
        "wn": NAME_WEIGHT,
        "wb": BIO_WEIGHT,
    }
    rows = _run(
        conn,
        """SELECT a.author, p.name, p.bio, bm25(profiles_fts, :wn, :wb) AS r
        FROM profiles_fts JOIN authors AS a ON a.aid = profiles_fts.rowid
        JOIN profiles AS p ON p.author = a.author
        WHERE profiles_fts MATCH :q AND (:author IS NULL OR a.author = :author)
        ORDER BY r, a.aid LIMIT :n""",
        params,
        query,
    )
    return [
        ProfileMatch(row[0], row[1], row[2], -float(row[3]))  # type: ignore[arg-type]
        for row in rows
    ]
