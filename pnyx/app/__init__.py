"""pnyx.app: the node process: configuration, the home's lock, the node key, and start-up
(the only place that imports pnyx.gossip, and so libp2p).
"""
