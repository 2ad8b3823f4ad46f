"""pnyx.control: the node's local control socket: the server the node runs and the client the
CLI uses.
"""
