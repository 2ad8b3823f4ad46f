"""The node's libp2p identity from an Ed25519 seed, and libp2p's noisy logging silenced.

A PyNaCl ``SigningKey(seed)`` and libp2p's ``create_new_key_pair(seed)`` are the same key, so the
user's pnyx key can be the node's libp2p key: the peer id (``12D3KooW...``) then embeds the
author's public key. ``node_key = "separate"`` passes another seed (docs/architecture.md,
"Identity and privacy").
"""

from __future__ import annotations

import logging
import os

import nacl.signing
from libp2p.crypto.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from libp2p.crypto.keys import KeyPair
from libp2p.peer.id import ID

#: Length of an Ed25519 seed, in bytes.
SEED_BYTES = 32


def key_pair_from_seed(seed: bytes) -> KeyPair:
    """The libp2p key pair of an Ed25519 seed (raises ``ValueError`` for a wrong length)."""
    if len(seed) != SEED_BYTES:
        raise ValueError(f"an Ed25519 seed is {SEED_BYTES} bytes")
    private = Ed25519PrivateKey(nacl.signing.SigningKey(seed))
    return KeyPair(private, private.get_public_key())


def peer_id_of_public_key(public_key: bytes) -> str:
    """The libp2p peer id (base58 text) of an Ed25519 public key."""
    return str(ID.from_pubkey(Ed25519PublicKey.from_bytes(public_key)).to_base58())


def quiet_libp2p_logging(*, verbose: bool = False) -> None:
    """Keep libp2p's log lines out of the node's output.

    The ``libp2p`` logger has no handler of its own, and a few modules log through the root logger
    (``logging.warning(...)``), which would otherwise install a stderr handler on first use. With
    ``verbose`` libp2p warnings go to stderr; without, nothing of libp2p's is printed.
    """
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    root.setLevel(logging.WARNING if verbose else logging.CRITICAL)
    lib = logging.getLogger("libp2p")
    lib.setLevel(logging.WARNING if verbose else logging.CRITICAL + 1)
    for name in ("multiaddr", "zeroconf", "async_service"):
        logging.getLogger(name).setLevel(logging.ERROR if verbose else logging.CRITICAL + 1)
    # Diagnostics: PNYX_LIBP2P_DEBUG="libp2p.relay,libp2p.host" sends those loggers' debug lines
    # to stderr (for a developer reading what py-libp2p does; never set by pnyx itself).
    for name in filter(None, os.environ.get("PNYX_LIBP2P_DEBUG", "").split(",")):
        chosen = logging.getLogger(name.strip())
        chosen.setLevel(logging.DEBUG)
        chosen.addHandler(logging.StreamHandler())
