"""Invites: ``pnyx invite`` prints one text a friend pastes into ``pnyx accept``.

``invite`` asks the running node (control socket ``status``) where it listens and writes those
addresses (``pnyx.crypto.invite.invite_addresses`` picks which) with the user's key and an optional
petname as ``pnyxinv1...`` text, and as a QR code when standard output is a terminal. Without a
running node it uses the configured listen addresses and says the invite holds no reachable
address until the node runs.

``accept`` parses an invite, shows whose it is, asks on a terminal (elsewhere ``--yes`` is
required), follows the key through ``pnyx.ops``, stores the addresses in the peer book
(``peers.db``) and, if the node runs, asks it to connect to the first address that answers.

Failure modes: a bad invite, your own invite, a blank or too long petname, or ``accept`` off a
terminal without ``--yes`` are ``UserError`` (exit 2); a declined prompt exits 1 having changed
nothing; when no address answers, the follow and the peer-book entries stay (exit 0, said so).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pnyx.cli.context import Context, Signer, is_terminal
from pnyx.cli.names import known_names
from pnyx.core.display import fingerprint, line
from pnyx.errors import NodeNotRunningError, NothingChangedError, PnyxError, UserError

if TYPE_CHECKING:
    from pnyx.crypto.invite import Invite

#: Told with every invite: what happens when its addresses change.
STALE_NOTE = (
    "the invite holds your node's addresses of now: it goes stale when they change, "
    "but your key keeps working (whoever follows it finds your node through the DHT)"
)
#: QR error correction level: M recovers ~15% of the code (a smudged screen, a bad camera).
QR_ERROR = "m"
#: Light modules around the QR code, in modules (the standard asks for 4; 2 scans on screens).
QR_BORDER = 2
#: What a prompt accepts as yes.
_YES = ("y", "yes")
#: What each kind of address set means for whoever gets the invite.
_KIND_NOTES = {
    "public": "",
    "private": "the invite holds LAN addresses only: it connects friends on the same network; "
    "others reach you once they follow your key and find you through the DHT",
    "loopback": "the invite holds loopback addresses only: it connects nodes on this machine",
    "none": "the invite holds no address: friends who accept it follow your key and find your "
    "node through the DHT",
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "invite",
        help="print a text (and QR code) a friend pastes into `pnyx accept` to follow you",
        description="Print an invite: your key and where your node can be reached now, as one "
        "checksummed pnyxinv1... text (a QR code too on a terminal).",
    )
    p.add_argument("--name", metavar="PETNAME", help="the name to suggest for you (64 bytes)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_invite)

    p = sub.add_parser(
        "accept",
        help="follow the person behind an invite and connect to their node",
        description="Follow the key in a pnyxinv1... invite, store its addresses in the peer "
        "book, and ask the running node to connect.",
    )
    p.add_argument("invite", metavar="INVITE", help="the pnyxinv1... text")
    p.add_argument("--yes", action="store_true", help="do not ask (needed off a terminal)")
    p.add_argument("--json", action="store_true", help="one JSON object")
    p.set_defaults(handler=cmd_accept)


# --- invite ---------------------------------------------------------------------------------


def cmd_invite(ctx: Context) -> int:
    from pnyx.crypto.invite import MAX_PETNAME_BYTES, Invite, encode_invite, invite_addresses
    from pnyx.crypto.keytext import encode_public_key

    key = ctx.public_key()
    petname = _petname(ctx.args.name, MAX_PETNAME_BYTES)
    running, peer_id, listening = _where_listening(ctx, key)
    chosen, kind = invite_addresses(listening, peer_id)
    text = encode_invite(Invite(key, petname, tuple(chosen)))
    if ctx.args.json:
        record = {
            "invite": text,
            "key": encode_public_key(key),
            "petname": petname,
            "addresses": chosen,
            "address_kind": kind,
            "node_running": running,
        }
        ctx.print(json.dumps(record, ensure_ascii=False))
        return 0
    ctx.print(text)
    if is_terminal(ctx.out):
        ctx.print()
        for row in qr_lines(text):
            ctx.print(row)
        ctx.print()
    if not running:
        ctx.warn(
            "no node is running: the invite holds no reachable address until it runs; "
            "start it with `pnyx run` and make a new invite"
        )
    elif _KIND_NOTES[kind]:
        ctx.warn(_KIND_NOTES[kind])
    ctx.warn(STALE_NOTE)
    return 0


def _petname(name: str | None, limit: int) -> str | None:
    if name is None:
        return None
    try:
        size = len(name.encode())
    except UnicodeEncodeError:  # undecodable bytes in argv arrive as lone surrogates
        raise UserError("the petname is not valid UTF-8") from None
    if not name.strip():
        raise UserError("the petname is empty")
    if size > limit:
        raise UserError(f"the petname is {size} bytes; the limit is {limit} bytes of UTF-8")
    return name


def _where_listening(ctx: Context, key: bytes) -> tuple[bool, str, list[str]]:
    """(node running, its peer id, its addresses): from the running node's status, else from
    the configuration (listen addresses, with 0.0.0.0 shown as this machine's addresses)."""
    from pnyx.control.client import request
    from pnyx.views import NodeStatus

    try:
        status = NodeStatus.from_json(request(ctx.home, "status"))
    except NodeNotRunningError:
        pass
    else:
        return True, status.peer_id, list(status.listen_addrs)
    from pnyx.app.config import load_config
    from pnyx.crypto.invite import peer_id_of_key

    config = load_config(ctx.home)
    if config.node_key == "identity":
        peer_id = peer_id_of_key(key)
    elif ctx.home.node_key_path.exists():
        import nacl.signing

        from pnyx.app.nodekey import load_or_create_node_seed

        seed = load_or_create_node_seed(ctx.home.node_key_path)  # exists: only read
        peer_id = peer_id_of_key(bytes(nacl.signing.SigningKey(seed).verify_key))
    else:  # node_key "separate" and the node never ran: no peer id yet, so no address
        return False, "", []
    return False, peer_id, _shown(config.listen)


def _shown(addresses: Sequence[str]) -> list[str]:
    """Listen addresses as a peer would dial them: ``/ip4/0.0.0.0/`` becomes this machine's
    outgoing IPv4 address and loopback (the node's status shows them the same way)."""
    shown: list[str] = []
    for text in addresses:
        if text.startswith("/ip4/0.0.0.0/"):
            for ip in [*_local_ipv4(), "127.0.0.1"]:
                shown.append(text.replace("/ip4/0.0.0.0/", f"/ip4/{ip}/", 1))
        else:
            shown.append(text)
    return shown


def _local_ipv4() -> list[str]:
    """This machine's outgoing IPv4 address (a UDP socket is connected; no packet is sent)."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: never answers, only picks a route
            address = str(probe.getsockname()[0])
        except OSError:
            return []
    return [] if address.startswith("127.") else [address]


def qr_lines(text: str) -> list[str]:
    """``text`` as a QR code in plain text blocks, two modules per character cell.

    The code is written in uppercase (bech32 allows it; QR's alphanumeric mode then packs the
    text ~1.6 times denser). Light modules are drawn as blocks, so on the usual dark terminal the
    code appears dark on light, as scanners expect; phone cameras read the inverse too.
    """
    import segno

    code = segno.make(text.upper(), error=QR_ERROR, micro=False)
    rows = [list(row) for row in code.matrix_iter(scale=1, border=QR_BORDER)]
    if len(rows) % 2:
        rows.append([0] * len(rows[0]))
    cells = {(True, True): "█", (True, False): "▀", (False, True): "▄", (False, False): " "}
    return [
        "".join(cells[(not top, not bottom)] for top, bottom in zip(upper, lower, strict=True))
        for upper, lower in zip(rows[::2], rows[1::2], strict=True)
    ]


# --- accept ---------------------------------------------------------------------------------


def cmd_accept(ctx: Context) -> int:
    from pnyx.crypto.invite import parse_invite
    from pnyx.crypto.keytext import encode_public_key

    invite = parse_invite(ctx.args.invite)
    if invite.key == ctx.public_key():
        raise UserError("this is your own invite: give it to a friend to accept")
    key_text = encode_public_key(invite.key)
    if not ctx.args.json:
        named = ""
        if invite.petname:  # marked if it looks like the name of someone you follow, or yours
            mark = known_names(ctx).mark(invite.key, invite.petname)
            named = f' (calls themselves "{line(invite.petname)}"{mark})'
        ctx.print(f"invite from {key_text}{named}")
        ctx.print(f"fingerprint: {fingerprint(invite.key)}; {len(invite.addresses)} address(es)")
    if not ctx.args.yes and not _confirmed(ctx, key_text):
        if ctx.args.json:
            ctx.print(json.dumps({"key": key_text, "accepted": False}))
        else:
            ctx.print("not accepted: nothing changed")
        return 1
    followed = _follow(ctx, key_text)
    stored = _remember(ctx, invite)
    running, connected, failures = _connect(ctx, invite.addresses)
    if ctx.args.json:
        record: dict[str, Any] = {
            "key": key_text,
            "accepted": True,
            "petname": invite.petname,
            "addresses": list(invite.addresses),
            "followed": followed,
            "peerbook_peers": stored,
            "node_running": running,
            "connected": connected,
            "failures": failures,
        }
        ctx.print(json.dumps(record, ensure_ascii=False))
        return 0
    ctx.print(f"following {key_text}" if followed else f"already following {key_text}")
    if stored:
        ctx.print(f"stored {len(invite.addresses)} address(es) in the peer book")
    if connected is not None:
        ctx.print(f"connected via {line(connected)}")
    elif not running:
        ctx.print("no node is running: it will dial these addresses when it starts (`pnyx run`)")
    elif invite.addresses:
        ctx.print(
            "no address answered: the invite may be stale; your node keeps looking for their "
            "node through the DHT"
        )
    else:
        ctx.print("the invite holds no address: your node looks for theirs through the DHT")
    return 0


def _confirmed(ctx: Context, key_text: str) -> bool:
    """Ask on the terminal (the prompt on standard error, so ``--json`` output stays one JSON
    object); end of input is a no. Off a terminal: ``UserError`` asking for ``--yes``."""
    if not (is_terminal(sys.stdin) and is_terminal(ctx.err)):
        raise UserError("accept asks before following; off a terminal, pass --yes to accept")
    ctx.err.write(f"follow {key_text}? [y/N] ")
    ctx.err.flush()
    return sys.stdin.readline().strip().lower() in _YES


def _follow(ctx: Context, key_text: str) -> bool:
    """Follow ``key_text``; False if it was followed already. Nudges a running node."""
    from pnyx import ops
    from pnyx.control.client import notify_new_messages

    try:
        ops.follow(ctx.store(), Signer(ctx), key_text)
    except NothingChangedError:
        return False
    notify_new_messages(ctx.home)
    return True


def _remember(ctx: Context, invite: Invite) -> int:
    """Store the invite's addresses in the peer book; returns how many peers were written."""
    from pnyx.clock import wall_clock_ms
    from pnyx.discovery.peerbook import PEERBOOK_FILE, PeerBook, learned
    from pnyx.net.contracts import FoundBy, peer_id_of

    groups: dict[str, list[str]] = {}
    for address in invite.addresses:
        peer = peer_id_of(address)
        if peer is not None:
            groups.setdefault(peer, []).append(address)
    if not groups:
        return 0
    now_ms = wall_clock_ms()
    ctx.home.ensure()
    with PeerBook.open(ctx.home.path / PEERBOOK_FILE) as book:
        known = {record.peer_id: record for record in book.load()}
        book.save_many(
            learned(known.get(peer), peer, addresses, FoundBy.MANUAL, now_ms)
            for peer, addresses in groups.items()
        )
    return len(groups)


def _connect(ctx: Context, addresses: Sequence[str]) -> tuple[bool, str | None, list[str]]:
    """Ask the running node to connect to each address in turn until one works: (node running,
    the address connected, the failures as ``address: reason``). An address the node refuses or
    that times out counts as a failure like a dead one; only a missing node stops the loop."""
    from pnyx.control.client import CONNECT_TIMEOUT_S, request
    from pnyx.net.words import in_words

    failures: list[str] = []
    for address in addresses:
        try:
            request(ctx.home, "connect", timeout=CONNECT_TIMEOUT_S, addr=address)
        except NodeNotRunningError:
            return False, None, failures
        except PnyxError as exc:  # ConnectError (a dead address), one refused, a timeout
            failures.append(f"{address}: {in_words(str(exc))}")
            continue
        return True, address, failures
    if not addresses:
        try:
            request(ctx.home, "status")
        except NodeNotRunningError:
            return False, None, failures
    return True, None, failures
