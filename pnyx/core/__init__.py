"""Sans-I/O core: message format, validation and feed-chain rules.

Nothing in this package imports trio, libp2p or sqlite3, or touches files or sockets: bytes and
values in, values out. See docs/protocol.md for the format these modules implement.
"""
