"""Finding the user's own new messages to publish (blocking store reads: run through ``offload``).

The publish loop of ``pnyx.node.node.Node`` reads every row stored after its high-water rowid
(``Store.changes_since``) and keeps the user's own messages, except those that came back from the
network (by gossip or sync: a copy of an own message written on another machine, say), which
``FromNetwork`` remembers, boundedly.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import TYPE_CHECKING

from pnyx.core.envelope import Message, author_of, decode
from pnyx.core.reasons import InvalidMessage

if TYPE_CHECKING:
    from pnyx.store import Store

log = logging.getLogger(__name__)

#: Ids of messages that came from the network, remembered so they are not published again, a count.
FROM_NETWORK_MEMORY = 8192
#: Rows read from ``changes_since`` per query, a count; per publish round at most 10 queries.
CHANGES_PAGE_ROWS = 1000
CHANGES_PAGES_PER_ROUND = 10


class FromNetwork:
    """The ids of the last ``FROM_NETWORK_MEMORY`` messages received from others."""

    def __init__(self, limit: int = FROM_NETWORK_MEMORY) -> None:
        self._ids: OrderedDict[bytes, None] = OrderedDict()
        self._limit = limit

    def add(self, messages: Iterable[Message]) -> None:
        for message in messages:
            self._ids[message.id] = None
        while len(self._ids) > self._limit:
            self._ids.popitem(last=False)

    def __contains__(self, message_id: bytes) -> bool:
        return message_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)


def collect_own(
    store: Store, me: bytes, last_rowid: int, from_network: FromNetwork
) -> tuple[int, list[Message]]:
    """Own messages stored after ``last_rowid`` (by any process), not those that came from the
    network. Returns the new high-water rowid and the messages. Raises ``StoreError``."""
    own: list[Message] = []
    for _ in range(CHANGES_PAGES_PER_ROUND):
        rows = store.changes_since(last_rowid, limit=CHANGES_PAGE_ROWS)
        for rowid, raw in rows:
            last_rowid = max(last_rowid, rowid)
            if author_of(raw) != me:
                continue
            try:
                message = decode(raw)
            except InvalidMessage as exc:
                log.warning("own message at row %d cannot be decoded: %s", rowid, exc)
                continue
            if message.id not in from_network:
                own.append(message)
        if len(rows) < CHANGES_PAGE_ROWS:
            break
    return last_rowid, own
