"""pnyx.gossip."""
