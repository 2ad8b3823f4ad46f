"""The dial policy, as plain functions over ``PeerRecord`` values (no I/O; ``pnyx.discovery.dialer``
drives it):

* ``backoff_s``: a peer whose dial failed ``n`` times in a row waits ``BACKOFF_BASE_S * 2**(n-1)``
  seconds, at most ``BACKOFF_MAX_S`` (``PINNED_BACKOFF_MAX_S`` for bootstrap peers, which are
  worth retrying often);
* ``dial_plan``: while fewer than ``target`` peers are connected, dial the best due peers (no
  recent failure first, then the most recently reached, bootstrap peers before others), at most
  ``MAX_CONCURRENT_DIALS`` at once;
* ``forgettable``: peers that keep failing and were never reached lately are dropped;
* ``peer_state``: the state ``pnyx peers --all`` shows.

Does no I/O and imports no trio (``PeerRecord`` comes from the peer book module).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

from pnyx.discovery.peerbook import PeerRecord

#: Default number of connections the node keeps (``target_connections``), a count.
DEFAULT_TARGET_CONNECTIONS = 8
#: Wait after the first failed dial of a peer, in seconds; doubles with each further failure.
BACKOFF_BASE_S = 1.0
#: Longest wait between dials of an ordinary peer, in seconds.
BACKOFF_MAX_S = 900.0
#: Longest wait between dials of a bootstrap peer, in seconds.
PINNED_BACKOFF_MAX_S = 60.0
#: Dials in flight at once, a count.
MAX_CONCURRENT_DIALS = 4
#: A peer that failed this many dials in a row ...
FORGET_FAILURES = 10
#: ... and was not reached for this long is forgotten (unless pinned), in milliseconds.
FORGET_UNREACHED_MS = 7 * 24 * 3600 * 1000


def backoff_s(failures: int, *, pinned: bool) -> float:
    """Seconds to wait after ``failures`` failed dials in a row (0 for none)."""
    if failures <= 0:
        return 0.0
    limit = PINNED_BACKOFF_MAX_S if pinned else BACKOFF_MAX_S
    return float(min(BACKOFF_BASE_S * 2 ** min(failures - 1, 30), limit))


def next_attempt_ms(record: PeerRecord) -> int:
    """When ``record``'s peer may be dialled again (Unix ms; 0: at once)."""
    if record.failures <= 0 or record.last_failure_ms is None:
        return 0
    return record.last_failure_ms + int(backoff_s(record.failures, pinned=record.pinned) * 1000)


def forgettable(record: PeerRecord, now_ms: int) -> bool:
    """Drop this peer from the book: it keeps failing and was not reached for long."""
    if record.pinned or record.failures < FORGET_FAILURES:
        return False
    return record.last_success_ms is None or now_ms - record.last_success_ms > FORGET_UNREACHED_MS


def _rank(record: PeerRecord) -> tuple[int, int, bool, int]:
    return (
        record.failures,
        -(record.last_success_ms or 0),
        not record.pinned,
        -record.last_seen_ms,
    )


def dial_plan(
    records: Iterable[PeerRecord],
    *,
    me: str,
    connected: Collection[str],
    dialling: Collection[str],
    refused: Collection[str],
    now_ms: int,
    target: int,
    max_concurrent: int = MAX_CONCURRENT_DIALS,
) -> list[PeerRecord]:
    """The peers to dial now to get back to ``target`` connections (best first)."""
    wanted = min(target - len(connected) - len(dialling), max_concurrent - len(dialling))
    if wanted <= 0:
        return []
    due = [
        r
        for r in records
        if r.addresses
        and r.peer_id != me
        and r.peer_id not in connected
        and r.peer_id not in dialling
        and r.peer_id not in refused
        and next_attempt_ms(r) <= now_ms
    ]
    due.sort(key=_rank)
    return due[:wanted]


def peer_state(record: PeerRecord | None, now_ms: int) -> str:
    """A peer's state as ``pnyx peers --all`` shows it when it is neither connected nor dialled."""
    if record is None or record.failures == 0:
        return "known"
    wait_s = max(0, (next_attempt_ms(record) - now_ms + 999) // 1000)
    failed = f"{record.failures} failed dial{'s' if record.failures != 1 else ''}"
    return f"retry in {wait_s} s ({failed})" if wait_s else f"due ({failed})"


def with_peer_id(address: str, peer_id: str) -> str:
    """``address`` ending in ``/p2p/<peer_id>`` (appended if missing)."""
    _, sep, tail = address.rpartition("/p2p/")
    return address if sep and tail == peer_id else f"{address}/p2p/{peer_id}"
