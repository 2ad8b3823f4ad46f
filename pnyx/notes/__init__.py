"""Community notes: the sans-I/O scorer (``pnyx.notes.score``) reads, the CLI and the web share."""
