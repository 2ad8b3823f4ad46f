"""pnyx.catchup: when and with whom the node runs catch-up sync: the scheduler, one sync
session, and the gap watch.
"""
