"""Ranking anyone can read (sans-I/O): recipes, coordinated-amplification clusters, scoring and
the ``why`` explanation. See ``docs/ranking.md``. No I/O; no trio, libp2p or sqlite3."""
