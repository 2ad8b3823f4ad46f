"""Score community notes by bridging, as Community Notes does, on the user's own machine.

Input: ratings (``Rating``: rater, note, value 1.0 / 0.5 / 0.0), each rater's latest per note,
already limited to the raters who count for the user (the caller keeps the user and the
identities the user trusts; see ``docs/notes.md``). Steps:

1. **One voice per cluster.** Raters the user's clusters put together (``cluster_of``) become one
   rater whose rating of a note is the mean of its members' ratings of it.
2. **Who enters the model.** A rater with fewer than ``MIN_RATER_RATINGS`` ratings does not (as
   Community Notes' minimum); a rating by the note's own author never counts, nor a value
   outside 0..1 (NaN included: none can come from a valid ``note-rating``).
3. **The model** (matrix factorisation with one factor): ``r = mu + i_u + i_n + f_u * f_n``,
   fitted by alternating ridge regressions (at most ``ROUNDS`` rounds) minimising the squared
   error plus ``LAMBDA_INTERCEPT`` x (``i_u``² + ``i_n``² + ``mu``²) plus ``LAMBDA_FACTOR`` x
   (``f_u``² + ``f_n``²): the constants of Community Notes (0.03, and 5 x 0.03 on intercepts).
   Factors start from a fixed seed, so the same ratings give the same scores on every machine.
   The factor learns the raters' main axis of disagreement; a note's **intercept** is the
   helpfulness left when that axis is explained away: a note only one side likes gets a large
   ``|f_n|`` and a small intercept.
4. **Status** of a note with at least ``MIN_NOTE_RATINGS`` ratings in the model: ``helpful`` if
   ``i_n >= HELPFUL_INTERCEPT`` and ``|f_n| < MAX_HELPFUL_FACTOR``; ``not helpful`` if ``i_n <
   NOT_HELPFUL_INTERCEPT - NOT_HELPFUL_SLOPE x |f_n|``; else (or with fewer ratings) ``needs more
   ratings``.

Every number is kept for "why" (``NoteScore.why``). Failure modes: none (no ratings: every
note needs more ratings).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

#: L2 weight on factors (Community Notes: 0.03).
LAMBDA_FACTOR = 0.03
#: L2 weight on intercepts, the global mean included (Community Notes: 5 x 0.03).
LAMBDA_INTERCEPT = 0.15
#: Most alternating rounds of the fit, a count; it stops earlier once no parameter moves by more
#: than ``TOLERANCE``.
ROUNDS = 200
#: Largest change of any parameter in a round at which the fit has settled.
TOLERANCE = 1e-7
#: Seed of the factors' starting values.
SEED = 1
#: Ratings a rater needs to enter the model, a count (Community Notes: 10).
MIN_RATER_RATINGS = 10
#: Ratings a note needs for any status, a count (Community Notes: 5).
MIN_NOTE_RATINGS = 5
#: Intercept at or above which a note can be helpful (Community Notes: 0.40).
HELPFUL_INTERCEPT = 0.40
#: A helpful note's factor stays below this in absolute value (Community Notes: 0.50).
MAX_HELPFUL_FACTOR = 0.50
#: Not helpful below ``NOT_HELPFUL_INTERCEPT - NOT_HELPFUL_SLOPE * |f_n|`` (Community Notes).
NOT_HELPFUL_INTERCEPT = -0.05
NOT_HELPFUL_SLOPE = 0.8

Status = Literal["helpful", "not helpful", "needs more ratings"]


@dataclass(frozen=True, slots=True)
class Rating:
    """A rater's latest rating of a note: 1.0 helpful, 0.5 somewhat, 0.0 not helpful."""

    rater: bytes
    note: bytes
    value: float


@dataclass(frozen=True, slots=True)
class NoteScore:
    """One note's result: ``ratings`` in the model, its intercept and factor (None when it has
    no rating in the model) and its status."""

    note: bytes
    ratings: int
    intercept: float | None
    factor: float | None
    status: Status

    def why(self) -> str:
        """The status in words, with the numbers and the thresholds they were checked against."""
        if self.intercept is None or self.factor is None or self.ratings < MIN_NOTE_RATINGS:
            return (
                f"{self.ratings} of the {MIN_NOTE_RATINGS} ratings a status needs, from raters "
                f"with {MIN_RATER_RATINGS}+ ratings whom you trust"
            )
        numbers = (
            f"intercept {self.intercept:+.3f}, factor {self.factor:+.3f} over {self.ratings} "
            "ratings"
        )
        if self.status == "helpful":
            return (
                f"helpful: {numbers} (intercept >= {HELPFUL_INTERCEPT}, |factor| < "
                f"{MAX_HELPFUL_FACTOR}: raters who usually disagree both found it helpful)"
            )
        if self.status == "not helpful":
            floor = NOT_HELPFUL_INTERCEPT - NOT_HELPFUL_SLOPE * abs(self.factor)
            return f"not helpful: {numbers} (intercept below {floor:+.3f})"
        if self.intercept >= HELPFUL_INTERCEPT:
            return (
                f"needs more ratings: {numbers} (helpful mostly to one side: |factor| >= "
                f"{MAX_HELPFUL_FACTOR})"
            )
        return f"needs more ratings: {numbers} (intercept below {HELPFUL_INTERCEPT})"


@dataclass(frozen=True)
class Model:
    """The fitted model: global mean, per-rater and per-note intercepts and factors, and the
    raters merged into one voice (cluster key -> members)."""

    mu: float
    raters: Mapping[bytes, tuple[float, float]]
    notes: Mapping[bytes, NoteScore]
    merged: Mapping[bytes, tuple[bytes, ...]]


def status_of(intercept: float, factor: float, ratings: int) -> Status:
    """The status rule (module docstring, step 4)."""
    if ratings < MIN_NOTE_RATINGS:
        return "needs more ratings"
    if intercept >= HELPFUL_INTERCEPT and abs(factor) < MAX_HELPFUL_FACTOR:
        return "helpful"
    if intercept < NOT_HELPFUL_INTERCEPT - NOT_HELPFUL_SLOPE * abs(factor):
        return "not helpful"
    return "needs more ratings"


def _voices(
    ratings: Iterable[Rating],
    authors: Mapping[bytes, bytes],
    cluster_of: Mapping[bytes, bytes],
) -> tuple[dict[tuple[bytes, bytes], float], dict[bytes, tuple[bytes, ...]]]:
    """(voice, note) -> rating, with a cluster's members averaged; the merged clusters."""
    sums: defaultdict[tuple[bytes, bytes], list[float]] = defaultdict(list)
    members: defaultdict[bytes, set[bytes]] = defaultdict(set)
    for r in ratings:
        if authors.get(r.note) == r.rater:
            continue  # nobody rates their own note
        if not 0.0 <= r.value <= 1.0:
            continue  # not a rating (NaN fails both tests): it would poison every score
        voice = cluster_of.get(r.rater, r.rater)
        members[voice].add(r.rater)
        sums[(voice, r.note)].append(r.value)
    merged = {v: tuple(sorted(m)) for v, m in members.items() if len(m) > 1}
    return {k: math.fsum(v) / len(v) for k, v in sums.items()}, merged


def fit(
    ratings: Iterable[Rating],
    *,
    authors: Mapping[bytes, bytes] | None = None,
    cluster_of: Mapping[bytes, bytes] | None = None,
    notes: Sequence[bytes] = (),
) -> Model:
    """Fit the model (module docstring); ``authors``: note -> its author (their own ratings are
    dropped); ``notes``: notes to report even without ratings."""
    cells, merged = _voices(ratings, authors or {}, cluster_of or {})
    per_rater: defaultdict[bytes, int] = defaultdict(int)
    for voice, _ in cells:
        per_rater[voice] += 1
    # in (rater, note) order: the sums, hence the scores, do not depend on the input's order
    kept = {k: cells[k] for k in sorted(cells) if per_rater[k[0]] >= MIN_RATER_RATINGS}
    raters = sorted({u for u, _ in kept})
    note_ids = sorted({n for _, n in kept})
    u_index = {u: i for i, u in enumerate(raters)}
    n_index = {n: i for i, n in enumerate(note_ids)}
    ui = np.fromiter((u_index[u] for u, _ in kept), dtype=np.int64, count=len(kept))
    ni = np.fromiter((n_index[n] for _, n in kept), dtype=np.int64, count=len(kept))
    r = np.fromiter(kept.values(), dtype=np.float64, count=len(kept))
    rng = np.random.default_rng(SEED)
    f_u = rng.normal(0.0, 0.1, len(raters))
    f_n = rng.normal(0.0, 0.1, len(note_ids))
    i_u, i_n = np.zeros(len(raters)), np.zeros(len(note_ids))
    mu = 0.0
    for _ in range(ROUNDS if len(r) else 0):
        before = np.concatenate([i_u, f_u, i_n, f_n, [mu]])
        i_u, f_u = _ridge(r - mu - i_n[ni], f_n[ni], ui, len(raters))
        i_n, f_n = _ridge(r - mu - i_u[ui], f_u[ui], ni, len(note_ids))
        mu = float(np.sum(r - i_u[ui] - i_n[ni] - f_u[ui] * f_n[ni]) / (len(r) + LAMBDA_INTERCEPT))
        if np.max(np.abs(np.concatenate([i_u, f_u, i_n, f_n, [mu]]) - before)) < TOLERANCE:
            break
    counts = np.bincount(ni, minlength=len(note_ids))
    scores = {
        n: NoteScore(
            n,
            int(counts[j]),
            float(i_n[j]),
            float(f_n[j]),
            status_of(float(i_n[j]), float(f_n[j]), int(counts[j])),
        )
        for n, j in n_index.items()
    }
    for n in notes:
        scores.setdefault(n, NoteScore(n, 0, None, None, "needs more ratings"))
    rater_params = {u: (float(i_u[i]), float(f_u[i])) for u, i in u_index.items()}
    return Model(mu, rater_params, scores, merged)


def _ridge(
    target: np.ndarray, other: np.ndarray, index: np.ndarray, size: int
) -> tuple[np.ndarray, np.ndarray]:
    """Per group (``index``), the (intercept, factor) minimising sum (target - i - f * other)²
    + LAMBDA_INTERCEPT i² + LAMBDA_FACTOR f²: a 2 x 2 linear system each, solved in closed form."""
    n = np.bincount(index, minlength=size).astype(np.float64)
    s_o = np.bincount(index, weights=other, minlength=size)
    s_oo = np.bincount(index, weights=other * other, minlength=size)
    s_t = np.bincount(index, weights=target, minlength=size)
    s_to = np.bincount(index, weights=target * other, minlength=size)
    a, b, d = n + LAMBDA_INTERCEPT, s_o, s_oo + LAMBDA_FACTOR
    det = a * d - b * b
    return (d * s_t - b * s_to) / det, (a * s_to - b * s_t) / det
