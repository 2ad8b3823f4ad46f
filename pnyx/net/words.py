"""Network failures in words (issue 24): the one place where libp2p's texts become one line that
says what failed and what to try, and where a peer address is checked before any dial.

``in_words`` is applied by the CLI's ``exit_status`` to every ``ConnectError`` and by ``pnyx sync``
to a session's failure, so texts like "no addresses established a successful connection (with
exceptions)" never reach the user. ``check_peer_address`` refuses a malformed multiaddr at once
(it used to be refused only after the network had started, 2 to 5 s later). Cheap to import:
multiaddr only, no trio or libp2p.
"""

from __future__ import annotations

import re
from typing import Final

from pnyx.errors import UserError

#: What a peer address looks like, for messages.
EXAMPLE_ADDRESS: Final = "/ip4/198.51.100.4/tcp/4717/p2p/12D3KooW…"
#: Where the user finds a node's address.
WHERE_TO_FIND: Final = "the peer's `pnyx status` prints it"

#: (pattern in the libp2p / OS text, what failed, what to try), first match wins.
_MEANINGS: Final = (
    (
        r"no addresses established a successful connection|connection refused|errno 111",
        "nothing accepted the connection at that address",
        "check the address and that the peer's node is running (`pnyx run`) and reachable",
    ),
    (
        r"timed out|no answer from|within \d+(\.\d+)? s",
        "no answer from that address in time",
        "the peer may be offline or behind a firewall; try again later or another address",
    ),
    (
        r"peer id mismatch|does not match|unexpected peer|wrong peer",
        "a different node answers at that address",
        "ask the peer for its current address (its peer id changed)",
    ),
    (
        r"name or service not known|nodename nor servname|temporary failure in name resolution",
        "the host name does not resolve",
        "check the name, or use the peer's IP address",
    ),
    (
        r"no route to host|network is unreachable|host is unreachable",
        "this machine has no route to that address",
        "check your network connection, or use an address the peer can be reached at",
    ),
    (
        r"protocol negotiation|failed to negotiate|does not speak|not supported",
        "the node at that address does not speak pnyx's protocols",
        "check that the address is a pnyx node's",
    ),
    (
        r"handshake|\bnoise\b|\bsecio\b|\btls\b",
        "the encrypted handshake with that node failed",
        "try again; if it persists, the address may not be a pnyx node's",
    ),
)
_ADDRESS: Final = re.compile(r"(/(?:ip4|ip6|dns|dns4|dns6)/\S+?)(?=[:,]?\s|$|:$)")


def in_words(text: str) -> str:
    """One line for a network failure ``text``: what failed (naming the address when the text
    holds one) and what to try. Texts that match no known meaning are kept as they are."""
    lowered = text.lower()
    for pattern, failed, attempt in _MEANINGS:
        if re.search(pattern, lowered):
            found = _ADDRESS.search(text)
            where = f"cannot reach {found.group(1).rstrip(':,')}: " if found else ""
            return f"{where}{failed}; {attempt}"
    return text


def check_peer_address(text: str) -> str:
    """``text`` if it is a multiaddr naming a peer (``.../p2p/PEER_ID``), else ``UserError`` at
    once, saying what is wrong and what an address looks like."""
    import multiaddr

    try:
        address = multiaddr.Multiaddr(text.strip())
    except Exception as exc:  # noqa: BLE001  multiaddr raises many types for bad text
        reason = str(exc).split(": ", 1)[-1].split(" (string:", 1)[0]
        raise UserError(
            f"not a peer address: {text!r} ({reason}); one looks like {EXAMPLE_ADDRESS} "
            f"({WHERE_TO_FIND})"
        ) from None
    names = [p.name for p in address.protocols()]
    if "p2p" not in names:
        raise UserError(
            f"{text!r} names no peer: add /p2p/PEER_ID, as in {EXAMPLE_ADDRESS} ({WHERE_TO_FIND})"
        )
    return text.strip()
