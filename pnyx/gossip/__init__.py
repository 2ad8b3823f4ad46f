"""pnyx.gossip: the libp2p adapter, the only package that imports libp2p (docs/architecture.md)."""
