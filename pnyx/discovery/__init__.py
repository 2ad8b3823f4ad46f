"""pnyx.discovery: finding and keeping peers: the peer book, the dial policy and dialler, and
the DHT/mDNS discovery service.
"""
