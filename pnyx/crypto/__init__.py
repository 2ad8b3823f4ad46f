"""Identity layer: key text forms (bech32m ``pnyx1...``) and the identity key file.

May do file I/O (the key file); imports no trio, libp2p or sqlite3.
"""

from pnyx.crypto.keyfile import (
    PassphraseRequiredError,
    generate_key,
    is_encrypted,
    load_identity,
    read_public_key,
    save_identity,
)
from pnyx.crypto.keytext import encode_id, encode_public_key, parse_public_key, short_id

__all__ = [
    "PassphraseRequiredError",
    "encode_id",
    "encode_public_key",
    "generate_key",
    "is_encrypted",
    "load_identity",
    "parse_public_key",
    "read_public_key",
    "save_identity",
    "short_id",
]
