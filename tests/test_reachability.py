"""The sans-I/O half of NAT reach: the dial-back wire format and the reachability verdict
(pnyx.net.reachability), relay settings (pnyx.net.relaying), and which addresses hole punching
and invites keep."""

from __future__ import annotations

import msgpack
import pytest

from pnyx.crypto.invite import invite_addresses
from pnyx.gossip.dht import dialable
from pnyx.gossip.holepunch import is_public_address
from pnyx.net.reachability import (
    MAX_DIALBACK_MESSAGE_BYTES,
    OBSERVATION_TTL_S,
    DialbackError,
    Reachability,
    ReachabilityTracker,
    decode_answer,
    decode_request,
    encode_answer,
    encode_request,
)

PEER = "12D3KooWQYhTNQdmr3ArTeUHRYzFg94BKyTkoWBDWez9kSCVe2Xo"
RELAY = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"


def test_a_request_round_trips_and_names_each_port_once() -> None:
    assert decode_request(encode_request([4001, 4001, 9000])) == [4001, 9000]
    assert encode_request([4001]) == b"\x81\xa5ports\x91\xcd\x0f\xa1"  # known answer


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\xc1",  # never used in msgpack
        msgpack.packb([4001]),
        msgpack.packb({"ports": []}),
        msgpack.packb({"ports": [0]}),
        msgpack.packb({"ports": [65536]}),
        msgpack.packb({"ports": [1, 2, 3, 4, 5]}),
        msgpack.packb({"ports": [True]}),
        msgpack.packb({"ports": [1], "extra": 1}),
        b"\x81\xa5ports\x91\xcd\x0f\xa1" + b" " * MAX_DIALBACK_MESSAGE_BYTES,
    ],
)
def test_malformed_requests_are_refused_in_words(data: bytes) -> None:
    with pytest.raises(DialbackError):
        decode_request(data)


def test_an_answer_has_one_boolean_per_port() -> None:
    assert decode_answer(encode_answer([False, True]), 2) == [False, True]
    assert encode_answer([True]) == bytes.fromhex("81a26f6b91c3")  # known answer (spec)
    with pytest.raises(DialbackError):
        decode_answer(encode_answer([True]), 2)
    with pytest.raises(DialbackError):
        decode_answer(msgpack.packb({"ok": [1, 0]}), 2)


def test_one_success_means_reachable_and_two_failures_behind_nat() -> None:
    tracker = ReachabilityTracker()
    assert tracker.status(0.0) is Reachability.UNKNOWN
    assert not tracker.only_failures(0.0)
    tracker.observe("p1", False, 0.0)
    assert tracker.status(1.0) is Reachability.UNKNOWN  # one failure may be that peer's firewall
    assert tracker.only_failures(1.0)  # but enough to look for relays
    tracker.observe("p2", False, 1.0)
    assert tracker.status(2.0) is Reachability.BEHIND_NAT
    assert tracker.why(2.0) == "2 of 2 peers could not dial back"
    tracker.observe("p3", True, 2.0)
    assert tracker.status(3.0) is Reachability.REACHABLE and not tracker.only_failures(3.0)
    assert tracker.why(3.0) == "1 of 3 peers dialled back"


def test_answers_age_out_and_a_peer_counts_once() -> None:
    tracker = ReachabilityTracker()
    tracker.observe("p1", False, 0.0)
    tracker.observe("p1", False, 5.0)
    assert tracker.status(6.0) is Reachability.UNKNOWN  # the same peer twice is one voice
    tracker.observe("p2", True, 0.0)
    assert tracker.status(OBSERVATION_TTL_S + 1) is Reachability.UNKNOWN


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("/ip4/198.51.100.3/tcp/4001", True),  # TEST-NET-2: the namespace tests' "internet"
        ("/ip4/8.8.8.8/tcp/4001", True),
        ("/ip4/10.1.0.2/tcp/4001", False),
        ("/ip4/192.168.1.5/tcp/4001", False),
        ("/ip4/172.20.0.1/tcp/4001", False),
        ("/ip4/100.64.1.1/tcp/4001", False),  # CGNAT
        ("/ip4/127.0.0.1/tcp/4001", False),
        ("/ip4/169.254.0.1/tcp/4001", False),
        ("/ip6/fd00::1/tcp/4001", False),
        ("/ip6/2001:db8::1/tcp/4001", True),
        ("/dns4/example.org/tcp/4001", True),
        ("/unix/x", False),
    ],
)
def test_hole_punching_dials_only_public_addresses(address: str, public: bool) -> None:
    assert is_public_address(address) is public


def test_dialable_keeps_relayed_addresses_of_the_peer() -> None:
    circuit = f"/ip4/198.51.100.10/tcp/4001/p2p/{RELAY}/p2p-circuit"
    kept = dialable(
        [circuit, f"{circuit}/p2p/{PEER}", f"/ip4/0.0.0.0/tcp/1/p2p/{RELAY}/p2p-circuit"], PEER
    )
    assert kept == (f"{circuit}/p2p/{PEER}",)
    assert dialable([f"/ip4/1.2.3.4/tcp/1/p2p/{PEER}/p2p-circuit"], PEER) == ()  # itself as relay


def test_an_invite_puts_relayed_addresses_before_private_ones() -> None:
    private = "/ip4/10.1.0.2/tcp/4001"
    circuit = f"/ip4/10.9.9.9/tcp/4001/p2p/{RELAY}/p2p-circuit"
    chosen, kind = invite_addresses([private, circuit], PEER)
    assert kind == "private"
    assert chosen == [f"{circuit}/p2p/{PEER}", f"{private}/p2p/{PEER}"]
    public_circuit = f"/ip4/203.0.114.1/tcp/4001/p2p/{RELAY}/p2p-circuit"
    chosen, kind = invite_addresses([private, public_circuit], PEER)
    assert (chosen, kind) == ([f"{public_circuit}/p2p/{PEER}"], "public")


def test_the_relays_dht_key_is_the_specified_one() -> None:
    from pnyx.gossip.dht import feed_key
    from pnyx.gossip.nat import RELAYS_DHT_KEY

    assert feed_key(RELAYS_DHT_KEY).hex() == (  # docs/protocol.md, "Relays"
        "122017bd50c1247891fc35d36736705491ab2b6b15d87b4e5d69689f986e4772c094"
    )
