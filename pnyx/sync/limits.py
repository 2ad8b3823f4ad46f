"""Every limit and timeout of the catch-up sync protocol, each a named constant with its unit.

docs/protocol.md ("Sync protocol") lists the same values; another implementation must use the
same numbers for the limits that are checked on the wire (frame size, batch size, want sizes,
window).
"""

from __future__ import annotations

#: libp2p protocol id of one sync session (one stream per session).
PROTOCOL_ID = "/pnyx/sync/1.0.0"
#: Version number carried in HELLO; a responder rejects any other value.
SYNC_VERSION = 1

#: Largest frame body (the value of the length prefix), in bytes (256 KiB).
MAX_FRAME_BYTES = 256 * 1024
#: Longest length prefix accepted, in bytes (a minimal LEB128 prefix for MAX_FRAME_BYTES needs 3).
MAX_PREFIX_BYTES = 10

#: Most envelopes in one BATCH frame, a count of messages.
MAX_BATCH_MESSAGES = 128
#: Largest flow-control window a requester may announce, a count of unacknowledged BATCH frames.
MAX_INFLIGHT_BATCHES = 4
#: Most authors in one WANT frame (and so in one round and one HAVE frame), a count of authors.
MAX_WANT_AUTHORS = 1000
#: Most missing ranges listed for one author in a WANT entry, a count of ranges.
MAX_WANT_RANGES = 8
#: Local, not checked on the wire: received batches a requester buffers (and has acknowledged)
#: ahead of its store, a count of BATCH frames (64 x 128 = 8,192 messages, ~2.5 MB of envelopes).
INGEST_BUFFER_BATCHES = 64
#: Local: most messages a requester validates and stores in one ingest call (one transaction),
#: a count of messages. Larger groups let verification use every core and amortise the commit.
INGEST_GROUP_MESSAGES = 8192
#: Longest reason string in an ERROR frame, in bytes of UTF-8.
MAX_ERROR_REASON_BYTES = 64
#: Longest detail string in an ERROR frame, in bytes of UTF-8.
MAX_ERROR_DETAIL_BYTES = 256

#: Most bytes asked of the stream per read, in bytes (64 KiB).
READ_CHUNK_BYTES = 64 * 1024
#: Longest wait for the peer (a read that yields nothing, or a send that does not complete),
#: in seconds.
IDLE_TIMEOUT_S = 30.0
#: Longest whole session, in seconds (10 minutes); an unfinished sync resumes in the next session.
SESSION_TIMEOUT_S = 600.0
#: Longest time spent sending a final ERROR frame and closing the stream, in seconds.
CLOSE_TIMEOUT_S = 5.0
