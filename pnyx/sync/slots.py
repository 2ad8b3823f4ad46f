"""Fair scheduling of a responder's serving slots (sans-I/O: plain data, time passed in).

A responder serves at most ``max_sessions`` sessions at once and at most ``max_per_peer`` to one
peer. Without more, a few peer ids holding their share of slots (stalled, or busy re-asking) lock
every honest requester out until their sessions time out. ``ServeSlots.request`` decides what
happens to a new session from ``peer`` (``Decision``):

1. ``peer`` already holds ``max_per_peer`` slots: REFUSE (an honest node runs one session with a
   peer at a time).
2. A slot is free: ADMIT.
3. All slots are taken: PREEMPT a victim, in this order of preference:
   a. the session that has made no progress (no frame received, no batch sent) for the longest
      time, if that is at least ``stall_s`` (a stalled requester loses its slot when it is needed);
   b. fairness: a session of the peer holding the most slots, if that peer holds at least two more
      than ``peer`` does now (so after the hand-over it still holds at least as many as ``peer``:
      max-min fair shares); of its sessions, the one with the oldest progress.
   The victim's slot is handed over at once (the victim is told to stop; its later ``release`` is
   a no-op), so the count of slots never exceeds the cap.
4. Otherwise WAIT: the caller waits (at most ``wait_s``, woken by ``release`` or at ``wake_at``)
   and asks again; at most ``max_waiters`` wait at once, beyond that REFUSE.

**Peers that matter and strangers** (issue 23, item 2: identities cost nothing, so per-identity
shares alone let 24 fresh ids take every slot). A session is *valued* when its peer matters to
this node (the caller decides: one it follows or is followed by, one it dialled, one holding feeds
it wants) and a *stranger's* otherwise; a stranger's session also names its address groups (its IP
address and its /24, or /48 for IPv6). Before the steps above:

* when its IP address already holds ``MAX_STRANGER_PER_ADDRESS`` strangers' slots, or its
  network ``MAX_STRANGER_PER_NETWORK``, a stranger may only preempt one of those (steps 3a/3b
  among them), else it is refused; when strangers hold ``MAX_STRANGER_SESSIONS`` slots, it may
  only preempt a stranger's (3a/3b among strangers) or wait, and only while fewer than
  ``MAX_STRANGER_WAITERS`` strangers wait;
* a valued session that finds every slot taken preempts a stranger's session (the one with the
  oldest progress) before anything else, so strangers only ever use what valued peers leave.

Failure modes: none raised for remote behaviour; ``release`` of an unknown slot is a no-op.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from enum import Enum

#: Responder sessions served at once by one process, a count.
MAX_SERVED_SESSIONS = 8
#: Responder sessions served at once to one peer, a count. An honest node runs one session with
#: a peer at a time; the cap keeps one peer from holding every slot.
MAX_SERVED_PER_PEER = 2
#: A served session without progress (no frame from the requester, no batch sent) for this long
#: may be preempted when another requester needs its slot, in seconds.
STALL_TIMEOUT_S = 10.0
#: Longest a new session waits for a slot before it is refused ``busy``, in seconds (below the
#: requester's idle timeout of 30 s, so an honest requester is still waiting).
SLOT_WAIT_S = 15.0
#: Sessions waiting for a slot at once, a count; more are refused at once.
MAX_SLOT_WAITERS = 16
#: Slots strangers (peers that do not matter to this node) may hold at once, a count.
MAX_STRANGER_SESSIONS = 4
#: Slots strangers from one IP address may hold at once, a count.
MAX_STRANGER_PER_ADDRESS = 2
#: Slots strangers from one network (IPv4 /24, IPv6 /48) may hold at once, a count.
MAX_STRANGER_PER_NETWORK = 3
#: Strangers waiting for a slot at once, a count (part of ``MAX_SLOT_WAITERS``).
MAX_STRANGER_WAITERS = 4


class Decision(Enum):
    ADMIT = "admit"
    PREEMPT = "preempt"
    WAIT = "wait"
    REFUSE = "refuse"


@dataclass(eq=False)
class Slot:
    """One served session. ``progress`` is the time of its last progress."""

    peer: str
    started: float
    progress: float
    preempted: bool = False
    valued: bool = True
    groups: tuple[str, ...] = ()
    """A stranger's address groups (``address_groups``); empty for a valued session."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """``slot`` is set for ADMIT and PREEMPT; ``victim`` for PREEMPT."""

    decision: Decision
    slot: Slot | None = None
    victim: Slot | None = None


class ServeSlots:
    """The slot table of one responder (see the module docstring)."""

    def __init__(
        self,
        *,
        max_sessions: int = MAX_SERVED_SESSIONS,
        max_per_peer: int = MAX_SERVED_PER_PEER,
        stall_s: float = STALL_TIMEOUT_S,
        max_waiters: int = MAX_SLOT_WAITERS,
    ) -> None:
        self.max_sessions = max_sessions
        self.max_per_peer = max_per_peer
        self.stall_s = stall_s
        self.max_waiters = max_waiters
        self.slots: list[Slot] = []
        self.waiting = 0
        """Sessions waiting for a slot now, a count (kept by the caller)."""
        self.strangers_waiting = 0
        """Strangers' sessions among ``waiting``, a count (kept by the caller)."""
        self.preemptions = 0
        self.strangers_refused = 0
        """Strangers' sessions refused by the stranger limits, a count."""

    def held_by(self, peer: str) -> int:
        return sum(1 for slot in self.slots if slot.peer == peer)

    def request(
        self,
        peer: str,
        now: float,
        *,
        waiting: bool = False,
        valued: bool = True,
        groups: tuple[str, ...] = (),
    ) -> Outcome:
        """Decide on a new session from ``peer``; ``waiting`` is True when asking again after WAIT
        (the caller is already counted in ``waiting``); ``valued`` False for a stranger, whose
        ``groups`` are its address groups (see the module docstring)."""
        mine = self.held_by(peer)
        if mine >= self.max_per_peer:
            return Outcome(Decision.REFUSE)
        if not valued:
            return self._request_stranger(peer, now, mine, waiting, groups)
        if len(self.slots) < self.max_sessions:
            return Outcome(Decision.ADMIT, self._take(peer, now))
        strangers = [slot for slot in self.slots if not slot.valued]
        if strangers:
            return self._preempt(min(strangers, key=lambda slot: slot.progress), peer, now)
        victim = self._victim(self.slots, mine, now)
        if victim is not None:
            return self._preempt(victim, peer, now)
        if waiting or self.waiting < self.max_waiters:
            return Outcome(Decision.WAIT)
        return Outcome(Decision.REFUSE)

    def _request_stranger(
        self, peer: str, now: float, mine: int, waiting: bool, groups: tuple[str, ...]
    ) -> Outcome:
        strangers = [slot for slot in self.slots if not slot.valued]
        caps = (MAX_STRANGER_PER_ADDRESS, MAX_STRANGER_PER_NETWORK)
        for group, cap in zip(groups, caps, strict=False):
            members = [slot for slot in strangers if group in slot.groups]
            if len(members) >= cap:  # the group is full: only one of its own can give way
                victim = self._victim(members, mine, now)
                if victim is None:
                    self.strangers_refused += 1
                    return Outcome(Decision.REFUSE)
                return self._preempt(victim, peer, now, valued=False, groups=groups)
        if len(strangers) < MAX_STRANGER_SESSIONS and len(self.slots) < self.max_sessions:
            return Outcome(Decision.ADMIT, self._take(peer, now, valued=False, groups=groups))
        victim = self._victim(strangers, mine, now) if strangers else None
        if victim is not None:
            return self._preempt(victim, peer, now, valued=False, groups=groups)
        if waiting or (
            self.waiting < self.max_waiters and self.strangers_waiting < MAX_STRANGER_WAITERS
        ):
            return Outcome(Decision.WAIT)
        self.strangers_refused += 1
        return Outcome(Decision.REFUSE)

    def _preempt(
        self,
        victim: Slot,
        peer: str,
        now: float,
        *,
        valued: bool = True,
        groups: tuple[str, ...] = (),
    ) -> Outcome:
        self.slots.remove(victim)
        victim.preempted = True
        self.preemptions += 1
        return Outcome(
            Decision.PREEMPT, self._take(peer, now, valued=valued, groups=groups), victim
        )

    def _take(
        self, peer: str, now: float, *, valued: bool = True, groups: tuple[str, ...] = ()
    ) -> Slot:
        slot = Slot(peer, now, now, valued=valued, groups=groups)
        self.slots.append(slot)
        return slot

    def _victim(self, among: list[Slot], mine: int, now: float) -> Slot | None:
        stalest = min(among, key=lambda slot: slot.progress)
        if now - stalest.progress >= self.stall_s:
            return stalest
        counts: dict[str, int] = {}
        for slot in among:
            counts[slot.peer] = counts.get(slot.peer, 0) + 1
        richest = max(counts, key=lambda peer: counts[peer])
        if counts[richest] < mine + 2:  # after the hand-over it still holds at least as many
            return None
        return min((slot for slot in among if slot.peer == richest), key=lambda slot: slot.progress)

    def touch(self, slot: Slot, now: float) -> None:
        """The session made progress."""
        slot.progress = now

    def release(self, slot: Slot) -> None:
        """The session ended (no-op if it was preempted)."""
        if slot in self.slots:
            self.slots.remove(slot)

    def wake_at(self) -> float | None:
        """When the stalest session becomes preemptable (None if no slot is held)."""
        if not self.slots:
            return None
        return min(slot.progress for slot in self.slots) + self.stall_s


def address_groups(address: str | None) -> tuple[str, ...]:
    """The groups a stranger's connection address counts in: its IP address, then its network
    (IPv4 /24, IPv6 /48). ``address`` is a multiaddr (``/ip4/1.2.3.4/tcp/N``); () when it has no
    IP address (unknown, or a relayed or DNS address)."""
    parts = (address or "").split("/")
    if len(parts) < 3 or parts[1] not in ("ip4", "ip6"):
        return ()
    try:
        ip = ipaddress.ip_address(parts[2])
    except ValueError:
        return ()
    prefix = 24 if ip.version == 4 else 48
    network = ipaddress.ip_network(f"{ip}/{prefix}", strict=False)
    return (f"ip:{ip}", f"net:{network}")
