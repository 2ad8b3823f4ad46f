"""Mute and block queries: the ``mutes`` and ``blocks`` tables (``pnyx.core.kinds.mute`` and
``block``) and the home-only ``private_mutes`` table (migration 4, never published).

Each function takes the connection; ``Store`` wraps them. ``table`` is one of ``TABLES`` (never
user input). Cost: one index range per call, O(rows returned).
"""

from __future__ import annotations

import sqlite3
from typing import Final

#: The derived tables of public mutes and blocks, by the word the reads use.
TABLES: Final = {"mute": "mutes", "block": "blocks"}


def targets(conn: sqlite3.Connection, table: str, actor: bytes) -> list[bytes]:
    """Keys ``actor`` mutes (or blocks) now: its highest-seq message per key decides; sorted."""
    name = TABLES[table]
    rows = conn.execute(
        f"""SELECT b.author FROM authors AS a
        JOIN {name} AS m ON m.actor = a.aid AND m.state = 1
        JOIN authors AS b ON b.aid = m.target
        WHERE a.author = ? ORDER BY b.author""",
        (actor,),
    )
    return [row[0] for row in rows]


def pairs(conn: sqlite3.Connection, table: str) -> list[tuple[bytes, bytes]]:
    """Every current (actor, target) pair of ``table`` (the trust signals' input), O(rows)."""
    name = TABLES[table]
    rows = conn.execute(
        f"""SELECT a.author, b.author FROM {name} AS m
        JOIN authors AS a ON a.aid = m.actor
        JOIN authors AS b ON b.aid = m.target
        WHERE m.state = 1"""
    )
    return [(row[0], row[1]) for row in rows]


def private_mutes(conn: sqlite3.Connection) -> list[bytes]:
    """The keys the user muted privately (``pnyx mute --private``), sorted."""
    return [row[0] for row in conn.execute("SELECT target FROM private_mutes ORDER BY target")]


def set_private_mute(conn: sqlite3.Connection, target: bytes, on: bool, now_ms: int) -> bool:
    """Add (``on``) or remove ``target``'s private mute; False if nothing changed."""
    if on:
        sql = "INSERT OR IGNORE INTO private_mutes (target, created_ms) VALUES (?, ?)"
        return conn.execute(sql, (target, now_ms)).rowcount > 0
    return conn.execute("DELETE FROM private_mutes WHERE target = ?", (target,)).rowcount > 0


def labellers(conn: sqlite3.Connection) -> list[bytes]:
    """The keys of the labellers the user subscribes to (table ``label_subscriptions``), sorted."""
    return [r[0] for r in conn.execute("SELECT labeller FROM label_subscriptions ORDER BY 1")]
