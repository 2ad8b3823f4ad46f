"""Polls: the sans-I/O tally (``pnyx.polls.tally``) that reads, the CLI and the web app share."""
