"""pnyx: a decentralized peer-to-peer microblog node.

Subpackages: ``core`` (sans-I/O message format, validation and chain rules), ``crypto`` (identity
keys, key files, text forms), ``store`` (SQLite store), ``sync`` (catch-up protocol state),
``gossip`` (the only place that imports libp2p), ``node`` (the running node), ``cli``.
"""

__version__ = "0.1.0"
