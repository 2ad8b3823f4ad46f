"""pnyx.store: the local SQLite store of signed messages (synchronous; see docs/store.md).

``from pnyx.store import Store, IngestReport, Page, Cursor, StoredMessage, ForkEvidence, Profile``
"""

from pnyx.store.models import (
    Cursor,
    FollowEdges,
    ForkEvidence,
    IngestReport,
    Page,
    Profile,
    StoredMessage,
)
from pnyx.store.store import Store

__all__ = [
    "Cursor",
    "FollowEdges",
    "ForkEvidence",
    "IngestReport",
    "Page",
    "Profile",
    "Store",
    "StoredMessage",
]
