"""Typed views of what pnyx shows its user: messages and the running node's status.

One model per thing shown, used by the CLI and the HTTP API alike, each with ``to_json()`` giving
the JSON object the CLI prints with ``--json`` (field names are part of the interface). Views only
read: they import the core, the crypto text forms and the store's value types, never the node.
"""

from __future__ import annotations

from pnyx.views.message import MessageView
from pnyx.views.status import ClockView, DiscoveryStatus, NodeStatus, PeerRow, SyncStatus

__all__ = ["ClockView", "DiscoveryStatus", "MessageView", "NodeStatus", "PeerRow", "SyncStatus"]
