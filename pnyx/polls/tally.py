"""The tally of one poll (sans-I/O): who counts, once, and why (docs/polls.md).

Input: the poll (``PollSpec``: its ``ts``, its effective close ``closes``, the option count and
whether several choices are allowed) and every ballot held on it (``Ballot``: voter, ``seq``,
``ts``, when this node received it, the choices as a bit mask). Rules, in order, per voter:

1. Only ballots signed inside the poll's window count: ``poll.ts <= ballot.ts <= closes``. A voter
   whose ballots all fall after ``closes`` is reported ``after_close``, one whose ballots all
   predate the poll ``before_open``; neither counts.
2. Of the voter's ballots inside the window, the highest ``seq`` decides (a new vote replaces
   the old one, as NIP-88's latest vote per key). It is ``invalid`` (and the voter does not
   count) if it names an option the poll lacks, or several on a one-choice poll.
3. **Everyone**: each counted voter adds 1 to each option chosen.
4. **For you** (the headline): only the user and the identities the user trusts
   (``trusted``: the trust state's trusted set); the others are ``outside``. Trusted voters the
   user's clusters put together (``cluster_of``: identities that act together, ``pnyx clusters``)
   are **one voice**: a cluster of ``m`` counted voters adds ``1/m`` per member to each option its
   member chose, so a hundred coordinated accounts weigh what one person does.
5. A counted ballot received more than ``LATE_ARRIVAL_MS`` after ``closes`` still counts (the
   voter signed it in time, by its own clock) but is reported ``arrived_late``: a ballot can be
   backdated by its signer, and this is how a reader sees it happen.

Everything here is plain data; keys are 32-byte ``bytes``. Failure modes: none (bad masks are
counted as ``invalid``, not raised).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

#: A counted ballot received this long after the close is reported as arrived late, in ms.
LATE_ARRIVAL_MS = 3600 * 1000


@dataclass(frozen=True, slots=True)
class PollSpec:
    """What the tally needs of a poll: its author, ``ts`` and effective close (ms), the number of
    options and whether a voter may choose several."""

    author: bytes
    ts: int
    closes: int
    options: int
    multiple: bool


@dataclass(frozen=True, slots=True)
class Ballot:
    """One ``vote`` message held: ``choices`` is a bit mask (bit i: option i)."""

    voter: bytes
    seq: int
    ts: int
    received_ms: int
    choices: int


@dataclass(frozen=True, slots=True)
class Voice:
    """Voters counted as one voice: ``key`` names the cluster, ``voters`` its members who voted."""

    key: bytes
    voters: tuple[bytes, ...]


@dataclass(frozen=True)
class Tally:
    """The counts and the reasons (module docstring). ``everyone[i]``: voters choosing option
    i; ``for_you[i]``: voices choosing it (fractions where a cluster split); ``voices``: the
    number of voices counted for you; ``mine``: the user's counted choices (None: not voted)."""

    everyone: tuple[int, ...]
    for_you: tuple[float, ...]
    voters: int
    trusted_voters: int
    voices: int
    outside: int
    collapsed: tuple[Voice, ...] = ()
    invalid: int = 0
    after_close: int = 0
    before_open: int = 0
    arrived_late: int = 0
    mine: int | None = None
    counted: Mapping[bytes, int] = field(default_factory=dict)

    def share(self, option: int) -> float:
        """The "for you" share of ``option`` among the voices (0.0 with no voice)."""
        return self.for_you[option] / self.voices if self.voices else 0.0

    def why(self) -> list[str]:
        """The tally in words, one line per rule that changed a count (module docstring)."""
        lines = [
            f"{self.voters} {_plural(self.voters, 'voter')} counted; for you: {self.voices} "
            f"{_plural(self.voices, 'voice')} from {self.trusted_voters} you trust (you included)"
        ]
        for voice in self.collapsed:
            lines.append(
                f"{len(voice.voters)} voters who act together count as one voice "
                f"(cluster {voice.key.hex()[:12]})"
            )
        if self.outside:
            lines.append(
                f"{self.outside} {_plural(self.outside, 'voter')} outside your trust: counted "
                "under everyone only"
            )
        for count, what in (
            (self.invalid, "named options this poll lacks (or several on a one-choice poll)"),
            (self.after_close, "voted only after the poll closed: not counted"),
            (self.before_open, "voted only with a time before the poll existed: not counted"),
            (self.arrived_late, "reached this node over an hour after the close (backdated?)"),
        ):
            if count:
                lines.append(f"{count} {_plural(count, 'voter')} {what}")
        return lines


def _plural(n: int, word: str) -> str:
    return word if n == 1 else f"{word}s"


def choices_of(mask: int) -> list[int]:
    """The option indices of a bit mask, ascending."""
    return [i for i in range(mask.bit_length()) if mask >> i & 1]


def tally(
    poll: PollSpec,
    ballots: Iterable[Ballot],
    *,
    me: bytes,
    trusted: frozenset[bytes],
    cluster_of: Mapping[bytes, bytes] | None = None,
) -> Tally:
    """Count ``ballots`` on ``poll`` for user ``me`` (module docstring, rules 1-5)."""
    by_voter: defaultdict[bytes, list[Ballot]] = defaultdict(list)
    for ballot in ballots:
        by_voter[ballot.voter].append(ballot)
    cluster_of = cluster_of or {}
    everyone = [0] * poll.options
    counted: dict[bytes, int] = {}
    invalid = after = before = late = 0
    for voter in sorted(by_voter):
        mine = by_voter[voter]
        inside = [b for b in mine if poll.ts <= b.ts <= poll.closes]
        if not inside:
            if any(b.ts > poll.closes for b in mine):
                after += 1
            else:
                before += 1
            continue
        # a tie (two ballots at one seq: a forked chain) goes by content, never by input order
        ballot = max(inside, key=lambda b: (b.seq, b.ts, b.choices, b.received_ms))
        mask = ballot.choices
        if mask <= 0 or mask >> poll.options or (not poll.multiple and mask & (mask - 1)):
            invalid += 1
            continue
        counted[voter] = mask
        for i in choices_of(mask):
            everyone[i] += 1
        if ballot.received_ms > poll.closes + LATE_ARRIVAL_MS:
            late += 1
    groups: defaultdict[bytes, list[bytes]] = defaultdict(list)
    for voter in counted:
        if voter == me or voter in trusted:
            groups[cluster_of.get(voter, voter)].append(voter)
    for_you = [0.0] * poll.options
    for members in groups.values():
        for voter in members:
            for i in choices_of(counted[voter]):
                for_you[i] += 1.0 / len(members)
    trusted_voters = sum(len(m) for m in groups.values())
    collapsed = tuple(
        Voice(key, tuple(sorted(members)))
        for key, members in sorted(groups.items())
        if len(members) > 1
    )
    return Tally(
        everyone=tuple(everyone),
        for_you=tuple(for_you),
        voters=len(counted),
        trusted_voters=trusted_voters,
        voices=len(groups),
        outside=len(counted) - trusted_voters,
        collapsed=collapsed,
        invalid=invalid,
        after_close=after,
        before_open=before,
        arrived_late=late,
        mine=counted.get(me),
        counted=counted,
    )
