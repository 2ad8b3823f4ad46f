"""The ``why`` of a ranked post: each term's value, weight and contribution, each discount, the
clusters collapsed and the recipe hash (sans-I/O, plain values).

Contract: ``score == math.fsum(e.contributions())`` exactly, because the scorer defines the
score as that sum (``pnyx/rank/score.py``); ``check()`` asserts it. A term's contribution is
``value * weight``; a discount's is ``-(1 - factor) * |score before it|`` (a discount never
raises a score, even a negative one).
"""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class TermLine:
    """One term: ``contribution = value * weight``."""

    name: str
    value: float
    weight: float
    contribution: float


@dataclass(frozen=True)
class Discount:
    """One modifier applied: ``contribution = -(1 - factor) * |score before|``."""

    name: str
    factor: float
    contribution: float


@dataclass(frozen=True)
class Collapsed:
    """Engagements of one kind by a cluster's members on the post, counted as one voice."""

    cluster: str
    kind: str
    actors: tuple[str, ...]


@dataclass(frozen=True)
class Explanation:
    """Why a post is where it is in a feed (``position`` 0 is the top; ``text`` shows it from 1)."""

    post: str
    author: str
    position: int
    recipe: str
    recipe_hash: str
    terms: tuple[TermLine, ...]
    discounts: tuple[Discount, ...]
    collapsed: tuple[Collapsed, ...]
    score: float

    def contributions(self) -> list[float]:
        return [t.contribution for t in self.terms] + [d.contribution for d in self.discounts]

    def check(self) -> None:
        """Raise AssertionError unless the contributions sum exactly to the score."""
        if math.fsum(self.contributions()) != self.score:
            raise AssertionError(f"contributions of {self.post} do not sum to its score")

    def to_json(self) -> dict[str, object]:
        return {
            "post": self.post,
            "author": self.author,
            "position": self.position,
            "recipe": self.recipe,
            "recipe_hash": self.recipe_hash,
            "terms": [
                {
                    "name": t.name,
                    "value": t.value,
                    "weight": t.weight,
                    "contribution": t.contribution,
                }
                for t in self.terms
            ],
            "discounts": [
                {"name": d.name, "factor": d.factor, "contribution": d.contribution}
                for d in self.discounts
            ],
            "collapsed": [
                {"cluster": c.cluster, "kind": c.kind, "actors": list(c.actors)}
                for c in self.collapsed
            ],
            "score": self.score,
        }

    def text(self) -> str:
        """The human form of ``pnyx why``; keys and ids are printed as given (the caller makes
        them safe for display)."""
        lines = [
            f"post {self.post} by {self.author}: position {self.position + 1}",
            f"recipe {self.recipe} {self.recipe_hash}",
            f"  {'term':<16}{'value':>12}{'weight':>10}{'contribution':>15}",
        ]
        for t in self.terms:
            lines.append(f"  {t.name:<16}{t.value:>12.8g}{t.weight:>10.6g}{t.contribution:>15.10g}")
        for d in self.discounts:
            lines.append(
                f"  {d.name:<16}{'x' + format(d.factor, '.6g'):>12}{'':>10}{d.contribution:>15.10g}"
            )
        lines.append(f"  {'score':<38}{self.score:>15.10g}")
        for c in self.collapsed:
            lines.append(f"  cluster {c.cluster}: {len(c.actors)} {c.kind}s counted as one")
        return "\n".join(lines)
