"""pnyx.sync."""
