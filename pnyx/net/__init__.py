"""pnyx.net: the network contracts every layer above codes against (gossip, byte streams,
finding peers), their one error tree, and an in-memory implementation for tests and simulation.
"""
