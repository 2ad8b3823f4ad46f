"""pnyx.crypto."""
