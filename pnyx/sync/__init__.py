"""pnyx.sync: the catch-up protocol ("/pnyx/sync/1.0.0"); spec: docs/protocol.md, "Sync protocol".

An offline-first node fetches from any peer the messages it lacks of the authors it follows.

Sans-I/O modules (no trio, no sockets): ``limits`` (every constant), ``errors`` (SyncReason,
SyncProtocolError), ``frames`` (frame types, msgpack layout), ``wire`` (length-prefixed framing,
FrameDecoder), ``requester`` / ``responder`` (the two state machines), ``api`` (the protocols the
drivers need: ByteStream, store views, Ingest; the summaries), ``budget`` (a responder's per-peer
serve budget) and ``slots`` (its fair, preemptible serving slots).
trio modules: ``transport`` (frames over a ByteStream with timeouts), ``driver`` (run_requester;
re-exports run_responder), ``serve`` (run_responder and its ServeHooks). This package imports
nothing here so the sans-I/O modules stay free of trio.
"""
