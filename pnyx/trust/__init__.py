"""The local web of trust (sans-I/O): follow graph, personalised PageRank, paths and signals.

See ``docs/ranking.md``. Nothing in this package does I/O or imports trio, libp2p or sqlite3.
"""
