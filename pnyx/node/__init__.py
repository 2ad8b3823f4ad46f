"""pnyx.node: the running node (``pnyx run``) without libp2p: node logic, gossip frames, the
network interface and an in-memory network, config, control socket. See docs/architecture.md."""
