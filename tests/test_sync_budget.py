"""The responder's serve budget and slot table (pnyx.sync.budget, pnyx.sync.slots): plain data."""

from __future__ import annotations

from pnyx.sync.budget import (
    MAX_TRACKED_RANGES,
    SERVE_REASKS_PER_WINDOW,
    SERVE_REPEAT_BYTES_PER_WINDOW,
    SERVE_WINDOW_S,
    BudgetLimits,
    ServeBudget,
    _add,
)
from pnyx.sync.slots import (
    MAX_SERVED_PER_PEER,
    MAX_SERVED_SESSIONS,
    MAX_STRANGER_PER_ADDRESS,
    MAX_STRANGER_PER_NETWORK,
    MAX_STRANGER_SESSIONS,
    MAX_STRANGER_WAITERS,
    STALL_TIMEOUT_S,
    Decision,
    ServeSlots,
    address_groups,
)

A = b"a" * 32
B = b"b" * 32
#: Bytes of one chunk of 128 envelopes of ~300 bytes in these tests.
CHUNK = 128 * 300


def pull(budget: ServeBudget, peer: str, count: int, now: float, author: bytes = A) -> bool:
    """One round serving seqs 1..count in chunks of 128; False if refused part-way."""
    meter = budget.meter(peer)
    meter.begin_round()
    for first in range(1, count + 1, 128):
        last = min(first + 127, count)
        if not meter.charge(author, first, last, (last - first + 1) * 300, now):
            return False
    return True


def test_the_first_pass_of_a_big_store_is_never_refused() -> None:
    """3 million messages (900 MB) of fresh data in one window: every chunk is served."""
    budget = ServeBudget()
    assert pull(budget, "p", 3_000_000, 0.0)
    assert budget.retry_after("p", 0.0) is None
    assert budget.usage("p")[1] == 0  # nothing was a repeat


def test_re_asking_a_feed_from_zero_is_cut_at_the_repeat_budget_until_the_window_ends() -> None:
    budget = ServeBudget()
    feed = 40_000  # 12 MB per pull
    pulls = 0
    while pull(budget, "p", feed, 1.0) and pulls < 100:
        pulls += 1
    served, repeat, _ = budget.usage("p")
    assert pulls == 2  # the first pass, then 16 MiB of repeats covers one more pull only
    assert repeat <= SERVE_REPEAT_BYTES_PER_WINDOW
    assert served <= feed * 300 + SERVE_REPEAT_BYTES_PER_WINDOW
    assert budget.retry_after("p", 1.0) == SERVE_WINDOW_S
    assert budget.retry_after("p", 50.5) == 11
    assert budget.refusals == 1
    assert budget.retry_after("q", 1.0) is None  # other peers are not affected
    assert pull(budget, "q", feed, 1.0)
    assert pull(budget, "p", feed, 1.0 + SERVE_WINDOW_S)  # a new window: served again


def test_re_asking_a_small_feed_is_cut_at_the_re_ask_count() -> None:
    budget = ServeBudget()
    rounds = 0
    while pull(budget, "p", 10, 0.0) and rounds < 100:
        rounds += 1
    assert rounds == 1 + SERVE_REASKS_PER_WINDOW
    assert budget.usage("p")[2] == SERVE_REASKS_PER_WINDOW


def test_asking_for_the_rest_is_not_a_repeat_and_a_partial_repeat_is_pro_rata() -> None:
    budget = ServeBudget()
    meter = budget.meter("p")
    meter.begin_round()
    assert meter.charge(A, 1, 100, 1000, 0.0)
    assert meter.charge(A, 101, 200, 1000, 0.0)  # the tail: fresh
    assert meter.charge(B, 1, 100, 1000, 0.0)  # another author: fresh
    assert budget.usage("p") == (3000, 0, 0)
    meter.begin_round()
    assert meter.charge(A, 151, 250, 1000, 0.0)  # half of it was sent before
    assert budget.usage("p") == (4000, 500, 1)


def test_a_total_cap_backs_up_what_is_not_tracked() -> None:
    budget = ServeBudget(BudgetLimits(total_bytes=10_000, max_authors=1))
    meter = budget.meter("p")
    meter.begin_round()
    assert meter.charge(A, 1, 10, 5000, 0.0)
    assert meter.charge(B, 1, 10, 5000, 0.0)  # B is not tracked (one author per peer)
    assert not meter.charge(B, 1, 10, 1, 0.0)  # but the total caps it
    assert budget.retry_after("p", 0.0) == SERVE_WINDOW_S


def test_tracked_peers_are_bounded() -> None:
    budget = ServeBudget(BudgetLimits(max_peers=2))
    for peer in ("p", "q", "r"):
        assert pull(budget, peer, 10, 0.0)
    assert budget.usage("p") == (0, 0, 0)  # forgotten: the least recently charged
    assert budget.usage("r")[0] == 3000


def test_ranges_merge_and_stay_bounded() -> None:
    ranges: list[list[int]] = []
    _add(ranges, 10, 20, MAX_TRACKED_RANGES)
    _add(ranges, 21, 30, MAX_TRACKED_RANGES)
    _add(ranges, 1, 5, MAX_TRACKED_RANGES)
    _add(ranges, 6, 9, MAX_TRACKED_RANGES)
    assert ranges == [[1, 30]]
    for start in range(100, 100 + 20 * 10, 20):
        _add(ranges, start, start + 5, MAX_TRACKED_RANGES)
    assert len(ranges) == MAX_TRACKED_RANGES
    assert ranges[0] == [1, 30] and ranges[-1][1] == 285
    _add(ranges, 2, 400, MAX_TRACKED_RANGES)
    assert ranges == [[1, 400]]


# --- slots ------------------------------------------------------------------------------------


def fill(slots: ServeSlots, peers: int, each: int, now: float = 0.0) -> None:
    for index in range(peers):
        for _ in range(each):
            assert slots.request(f"sybil{index}", now).decision is Decision.ADMIT


def test_slots_admit_up_to_the_caps_and_refuse_a_peer_over_its_share() -> None:
    slots = ServeSlots()
    fill(slots, 1, MAX_SERVED_PER_PEER)
    assert slots.request("sybil0", 0.0).decision is Decision.REFUSE
    assert slots.request("honest", 0.0).decision is Decision.ADMIT


def test_four_ids_holding_two_slots_each_yield_one_to_a_new_peer_at_once() -> None:
    slots = ServeSlots()
    fill(slots, MAX_SERVED_SESSIONS // 2, 2)
    outcome = slots.request("honest", 0.5)
    assert outcome.decision is Decision.PREEMPT and outcome.victim is not None
    assert outcome.victim.preempted and slots.held_by(outcome.victim.peer) == 1
    assert len(slots.slots) == MAX_SERVED_SESSIONS and slots.held_by("honest") == 1
    slots.release(outcome.victim)  # the victim's own release later is a no-op
    assert len(slots.slots) == MAX_SERVED_SESSIONS
    # a sybil asking again cannot take the slot back: it would hold as many as the others
    assert slots.request(outcome.victim.peer, 0.6).decision is Decision.WAIT


def test_eight_ids_with_one_slot_each_make_a_new_peer_wait_until_one_stalls() -> None:
    slots = ServeSlots()
    fill(slots, MAX_SERVED_SESSIONS, 1)
    live = slots.slots[0]
    for slot in slots.slots[1:]:
        slots.touch(slot, 1.0)  # all progressing, the first one stalled since 0
    assert slots.request("honest", 1.0).decision is Decision.WAIT
    assert slots.wake_at() == STALL_TIMEOUT_S
    outcome = slots.request("honest", STALL_TIMEOUT_S, waiting=True)
    assert outcome.decision is Decision.PREEMPT and outcome.victim is live


def test_waiters_are_bounded() -> None:
    slots = ServeSlots(max_waiters=1)
    fill(slots, MAX_SERVED_SESSIONS, 1)
    assert slots.request("w1", 0.0).decision is Decision.WAIT
    slots.waiting = 1
    assert slots.request("w2", 0.0).decision is Decision.REFUSE
    assert slots.request("w1", 0.0, waiting=True).decision is Decision.WAIT


# --- strangers and peers that matter (issue 23, item 2) ----------------------------------------

SYBIL_HOME = address_groups("/ip4/203.0.113.7/tcp/4001")


def test_address_groups_are_the_ip_and_its_slash_24_or_slash_48() -> None:
    assert SYBIL_HOME == ("ip:203.0.113.7", "net:203.0.113.0/24")
    assert address_groups("/ip6/2001:db8:1:2::5/tcp/1") == (
        "ip:2001:db8:1:2::5",
        "net:2001:db8:1::/48",
    )
    assert address_groups(None) == () and address_groups("/dns4/x/tcp/1") == ()
    assert address_groups("/ip4/not-an-ip/tcp/1") == ()


def test_strangers_from_one_address_hold_at_most_their_share() -> None:
    slots = ServeSlots()
    admitted = [
        slots.request(f"sybil{n}", 0.0, valued=False, groups=SYBIL_HOME).decision for n in range(48)
    ]
    assert admitted.count(Decision.ADMIT) == MAX_STRANGER_PER_ADDRESS
    assert slots.strangers_refused == 48 - MAX_STRANGER_PER_ADDRESS
    # strangers from elsewhere in the /24 share the network's cap
    other = address_groups("/ip4/203.0.113.8/tcp/1")
    outcomes = [slots.request(f"n{n}", 0.0, valued=False, groups=other).decision for n in range(3)]
    assert outcomes.count(Decision.ADMIT) == MAX_STRANGER_PER_NETWORK - MAX_STRANGER_PER_ADDRESS


def test_strangers_never_hold_more_than_their_slots_and_wait_in_a_small_line() -> None:
    slots = ServeSlots()
    for n in range(MAX_STRANGER_SESSIONS):
        groups = address_groups(f"/ip4/198.51.{n}.1/tcp/1")
        assert slots.request(f"s{n}", 0.0, valued=False, groups=groups).decision is Decision.ADMIT
    late = address_groups("/ip4/192.0.2.1/tcp/1")
    assert slots.request("s9", 0.0, valued=False, groups=late).decision is Decision.WAIT
    slots.waiting = slots.strangers_waiting = MAX_STRANGER_WAITERS
    assert slots.request("s10", 0.0, valued=False, groups=late).decision is Decision.REFUSE
    # valued peers still find free slots
    for n in range(MAX_SERVED_SESSIONS - MAX_STRANGER_SESSIONS):
        assert slots.request(f"friend{n}", 0.0).decision is Decision.ADMIT


def test_a_valued_peer_takes_a_strangers_slot_at_once_even_a_busy_one() -> None:
    slots = ServeSlots()
    for n in range(MAX_SERVED_SESSIONS - 1):
        assert slots.request(f"friend{n}", 0.0).decision is Decision.ADMIT
    stranger = slots.request("sybil", 0.0, valued=False, groups=SYBIL_HOME)
    assert stranger.decision is Decision.ADMIT and stranger.slot is not None
    slots.touch(stranger.slot, 5.0)  # progressing
    outcome = slots.request("follower", 5.0)
    assert outcome.decision is Decision.PREEMPT and outcome.victim is stranger.slot
    # with only valued sessions left, a stranger waits and cannot preempt one
    assert slots.request("sybil2", 5.0, valued=False, groups=SYBIL_HOME).decision is Decision.WAIT


def test_a_stranger_takes_a_stalled_or_doubled_slot_of_its_own_address_group() -> None:
    slots = ServeSlots()
    for _ in range(2):
        assert slots.request("hog", 0.0, valued=False, groups=SYBIL_HOME).decision is (
            Decision.ADMIT
        )
    outcome = slots.request("newcomer", 0.0, valued=False, groups=SYBIL_HOME)
    assert outcome.decision is Decision.PREEMPT and outcome.victim is not None
    assert outcome.victim.peer == "hog"  # it held two: one gives way (fair shares)
    # one each now: a third id from the address is refused until one of them stalls
    assert slots.request("third", 1.0, valued=False, groups=SYBIL_HOME).decision is (
        Decision.REFUSE
    )
    stalled = slots.request("third", STALL_TIMEOUT_S, valued=False, groups=SYBIL_HOME)
    assert stalled.decision is Decision.PREEMPT
