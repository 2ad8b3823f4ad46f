"""A thread in reading order: each post's replies right below it, with their depth."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pnyx.store import StoredMessage


def tree_order(items: list[StoredMessage]) -> list[tuple[StoredMessage, int]]:
    """A thread's posts depth first (each post's replies right below it, oldest first), each
    with its depth: 0 for the root, 1 for a reply to it, ...; a reply whose parent is not held
    (or was deleted) hangs below the root at depth 1."""
    ids = {item.message.id for item in items}
    children: dict[bytes | None, list[StoredMessage]] = {}
    for item in items:  # items come oldest first, so each child list is too
        parent = item.message.body.get("parent")
        key = parent if parent in ids else (None if parent is None else b"")
        children.setdefault(key, []).append(item)
    ordered: list[tuple[StoredMessage, int]] = []
    stack = [(item, 0) for item in reversed(children.get(None, []) + children.get(b"", []))]
    seen: set[bytes] = set()
    while stack:
        item, depth = stack.pop()
        if item.message.id in seen:
            continue
        seen.add(item.message.id)
        if item.message.body.get("parent") is not None:
            depth = max(depth, 1)
        ordered.append((item, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(item.message.id, [])))
    return ordered
