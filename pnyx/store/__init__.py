"""pnyx.store."""
