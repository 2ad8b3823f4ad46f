"""The user's own negative feedback ("show less like this"), as the ``negative`` term reads it.

A mark is local: it is kept in the user's home (``pnyx.store.less``) and never signed or
published. Marking a post puts one mark on its author and one on its thread (the thread's first
post). Each mark weighs ``0.5 ^ (age_days / HALF_LIFE_DAYS)`` (a mark from the future weighs 1),
so a month-old mark counts half. A post's ``negative`` value is the sum of the weights of the
marks on its author and on its thread, at most the recipe's ``cap`` (``pnyx.rank.score``). At most
``MAX_MARKS`` marked posts are kept; marking one more drops the oldest.

Plain functions over data: nothing here reads a clock or a file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

#: Days after which a "show less" mark counts half.
HALF_LIFE_DAYS = 30.0
#: Most marked posts kept in a home (the oldest go first).
MAX_MARKS = 500
#: Seconds per day.
DAY_S = 86400.0

MarkKind = Literal["author", "thread"]


@dataclass(frozen=True)
class Mark:
    """One "show less" mark on ``target`` (an author key or a thread's first post id, hex),
    given on post ``via`` (hex) at ``at`` (seconds since the epoch)."""

    kind: MarkKind
    target: str
    via: str
    at: float


def weight(at: float, now: float) -> float:
    """The weight of a mark given at ``at`` when ranking at ``now``: 1 when new, halving every
    ``HALF_LIFE_DAYS``."""
    age_days = max(0.0, now - at) / DAY_S
    return float(0.5 ** (age_days / HALF_LIFE_DAYS))


def weights(marks: Iterable[Mark], now: float) -> tuple[dict[str, float], dict[str, float]]:
    """(author -> summed weight, thread -> summed weight): ``Context.negative`` and
    ``Context.negative_thread``."""
    found: dict[str, defaultdict[str, float]] = {
        "author": defaultdict(float),
        "thread": defaultdict(float),
    }
    for mark in marks:
        found[mark.kind][mark.target] += weight(mark.at, now)
    return dict(found["author"]), dict(found["thread"])
