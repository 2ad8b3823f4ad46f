"""Every limit of the message format, each a named constant with its unit.

Changing a value here changes which messages pnyx accepts: the spec (docs/protocol.md) lists the
same numbers, and other implementations rely on them.
"""

from __future__ import annotations

#: Protocol version carried as the first field of every payload.
PROTOCOL_VERSION = 1

#: Domain-separation prefix signed before the payload bytes (never transmitted).
SIGNATURE_DOMAIN = b"pnyx/msg/v1\x00"

#: Length of an Ed25519 public key, in bytes.
KEY_BYTES = 32
#: Length of an Ed25519 signature, in bytes.
SIGNATURE_BYTES = 64
#: Length of a message id (BLAKE2b-256 of the payload), in bytes.
ID_BYTES = 32

#: Largest payload (the signed bytes), in bytes.
MAX_PAYLOAD_BYTES = 8192
#: Largest envelope (signature + payload), in bytes.
MAX_ENVELOPE_BYTES = SIGNATURE_BYTES + MAX_PAYLOAD_BYTES

#: Largest post text, in bytes of UTF-8.
MAX_TEXT_BYTES = 4096
#: Largest profile name, in bytes of UTF-8.
MAX_NAME_BYTES = 64
#: Largest profile bio, in bytes of UTF-8.
MAX_BIO_BYTES = 1024
#: Largest reaction (an emoji or a short word), in bytes of UTF-8.
MAX_REACTION_BYTES = 32
#: Longest kind name, in bytes of UTF-8 (ASCII lowercase letters, digits, '-' and '_').
MAX_KIND_BYTES = 32
#: Longest key in a body map, in bytes of UTF-8.
MAX_FIELD_NAME_BYTES = 32
#: Deepest nesting of arrays and maps, in levels (the payload array is 0, the body map 1).
MAX_BODY_DEPTH = 8

#: Highest sequence number, a count of messages (fits a signed 63-bit SQLite integer).
MAX_SEQ = 2**53
#: How far a timestamp may run ahead of the receiver's clock, in milliseconds (10 minutes).
MAX_FUTURE_SKEW_MS = 10 * 60 * 1000
#: Earliest timestamp accepted, in milliseconds since the Unix epoch (2020-01-01T00:00:00Z).
MIN_TIMESTAMP_MS = 1_577_836_800_000
#: Latest timestamp representable, in milliseconds since the Unix epoch (year 2255).
MAX_TIMESTAMP_MS = 2**53

#: Furthest a stored message may lie beyond its author's contiguous head (the highest seq up to
#: which every seq is held), a count of messages. A message further ahead is not stored (reason
#: ``seq-too-far``) and so claims no gap: it is fetched by sync once the seqs before it are held.
MAX_SEQ_AHEAD = 100_000
