"""pnyx.node."""
