"""Labels and label subscriptions in the store: the derived table ``labels`` (kind ``label``,
``pnyx.core.kinds.label``) and the home-only table ``label_subscriptions`` (migration 7, never
signed or published).

Functions take a ``Store`` and use its lock and transactions as its own methods do (the ``Store``
class has no room for more methods). Costs: ``label_rows`` is one index range per labeller,
O(labels returned); the others touch one row or one table of at most ``MAX_LABELLERS`` rows.
Failure mode: ``StoreError`` (sqlite3 errors, mapped by ``Store``); a damaged ``actions`` column
reads as no choices (the defaults apply).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping, Sequence

from pnyx.store.connection import transaction
from pnyx.store.store import Store
from pnyx.trust.labels import ACTIONS, LabelAction, LabelRow, Subscription

#: Labellers asked for per query (SQLite's parameter limit is 32,766), a count.
_CHUNK = 500


def _subscriptions(conn: sqlite3.Connection) -> list[Subscription]:
    rows = conn.execute("SELECT labeller, actions FROM label_subscriptions ORDER BY labeller")
    return [Subscription(key, _actions(text)) for key, text in rows]


def _actions(text: str) -> dict[str, LabelAction]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    if not isinstance(found, dict):
        return {}
    return {str(k): v for k, v in found.items() if v in ACTIONS}


def subscriptions(store: Store) -> list[Subscription]:
    """The labellers the user subscribes to, by key, each with the actions the user set."""
    return store._read(_subscriptions)


def subscribe(store: Store, key: bytes, actions: Mapping[str, LabelAction], now_ms: int) -> bool:
    """Subscribe to ``key`` with ``actions`` (replacing those of an existing subscription, whose
    time is kept); durable commit. True if the key was not subscribed before."""
    text = json.dumps(dict(sorted(actions.items())), separators=(",", ":"))
    with store._lock:
        store._check_open()
        with transaction(store._conn, store.path, durable=True):
            conn = store._conn
            known = conn.execute(
                "SELECT 1 FROM label_subscriptions WHERE labeller = ?", (key,)
            ).fetchone()
            conn.execute(
                "INSERT INTO label_subscriptions (labeller, actions, created_ms) VALUES (?, ?, ?)"
                " ON CONFLICT (labeller) DO UPDATE SET actions = excluded.actions",
                (key, text, now_ms),
            )
            return known is None


def unsubscribe(store: Store, key: bytes) -> bool:
    """Drop the subscription to ``key``; False if there was none."""
    with store._lock:
        store._check_open()
        with transaction(store._conn, store.path, durable=True):
            sql = "DELETE FROM label_subscriptions WHERE labeller = ?"
            return store._conn.execute(sql, (key,)).rowcount > 0


def _rows(conn: sqlite3.Connection, labellers: Sequence[bytes]) -> list[LabelRow]:
    found: list[LabelRow] = []
    for start in range(0, len(labellers), _CHUNK):
        chunk = labellers[start : start + _CHUNK]
        marks = ",".join("?" * len(chunk))
        found += conn.execute(
            f"""SELECT l.what, l.subject, a.author, l.value FROM authors AS a
            JOIN labels AS l ON l.labeller = a.aid AND l.state = 1
            WHERE a.author IN ({marks})""",
            chunk,
        ).fetchall()
    return found


def label_rows(store: Store, labellers: Sequence[bytes]) -> list[LabelRow]:
    """Every label in force (the highest-seq one per (labeller, subject, value) applies, not
    retracted) by ``labellers``: (what, subject, labeller key, value)."""
    return store._read(_rows, list(dict.fromkeys(labellers)))


def _state(
    conn: sqlite3.Connection, labeller: bytes, what: str, subject: bytes, value: str
) -> bool:
    row = conn.execute(
        """SELECT l.state FROM authors AS a JOIN labels AS l ON l.labeller = a.aid
        WHERE a.author = ? AND l.subject = ? AND l.value = ? AND l.what = ?""",
        (labeller, subject, value, what),
    ).fetchone()
    return row is not None and row[0] == 1


def in_force(store: Store, labeller: bytes, what: str, subject: bytes, value: str) -> bool:
    """Whether ``labeller``'s label ``value`` on (``what``, ``subject``) is in force now."""
    return store._read(_state, labeller, what, subject, value)
