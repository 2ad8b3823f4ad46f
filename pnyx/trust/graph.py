"""The follow graph as integer-indexed CSR arrays (sans-I/O: plain numpy over data).

A ``TrustGraph`` holds every signed follow edge ``follower -> followee`` the node knows, with
identities (public keys in any text form the caller chooses) mapped to dense indices ``0..n-1``.
Indices built by ``from_pairs`` follow the sorted order of the keys, so every computation over
the graph is deterministic; identities first seen by ``add_edge`` are appended in arrival order.

Arrays (all numpy, one entry per edge, rows sorted by follower then by followee index):

* ``indptr`` (int64, ``n + 1``): row ``u`` is ``indptr[u]:indptr[u + 1]``;
* ``src``, ``dst`` (int32): follower and followee of each edge;
* ``weight`` (float64): the share of the follower's trust that flows along the edge. A mutual
  edge (the followee follows back) weighs ``MUTUAL_WEIGHT`` times a one-way edge, and each row
  is normalised to sum to 1 (EigenTrust): one account spreads one unit of trust however many
  identities it follows, so following 10,000 sybils gives each of them 1/10,000 of a vote.

Self-follows are ignored (they would only let an account keep its own trust). Duplicate edges
count once. Mutation (``add_edge``/``remove_edge``) costs O(E) memory moves (numpy insert/delete,
a few milliseconds at 2,000,000 edges) and re-normalises only the two rows whose weights change.

Failure modes: ``KeyError`` for an unknown key in ``index_of`` (callers turn it into a user
error); ``ValueError`` from ``from_arrays`` for indices out of range. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import numpy.typing as npt

#: Weight of an edge whose followee follows back, relative to a one-way follow (dimensionless).
MUTUAL_WEIGHT = 2.0
#: Largest number of identities a graph can index (int32 edge arrays).
MAX_NODES = 2**31 - 1

IntArray = npt.NDArray[np.int64]
Int32Array = npt.NDArray[np.int32]
FloatArray = npt.NDArray[np.float64]


class TrustGraph:
    """Follow edges over dense node indices, with normalised, mutual-weighted out-weights."""

    def __init__(
        self,
        keys: Sequence[str],
        indptr: IntArray,
        src: Int32Array,
        dst: Int32Array,
    ) -> None:
        """Low-level constructor: ``src``/``dst`` already sorted by (src, dst), no duplicates,
        no self-edges, ``indptr`` consistent with ``src``. Use ``from_pairs``/``from_arrays``."""
        self.keys: list[str] = list(keys)
        self.index: dict[str, int] = {key: i for i, key in enumerate(self.keys)}
        self.indptr = indptr
        self.src = src
        self.dst = dst
        self.weight: FloatArray = _weights(indptr, src, dst)

    # construction ---------------------------------------------------------------------------

    @classmethod
    def from_pairs(cls, pairs: Iterable[tuple[str, str]], keys: Iterable[str] = ()) -> TrustGraph:
        """Graph of ``(follower, followee)`` pairs; ``keys`` adds identities with no edge yet.

        Node indices follow the sorted order of all keys seen."""
        edges = list(pairs)
        names = sorted({k for pair in edges for k in pair} | set(keys))
        index = {key: i for i, key in enumerate(names)}
        src = np.fromiter((index[a] for a, _ in edges), dtype=np.int64, count=len(edges))
        dst = np.fromiter((index[b] for _, b in edges), dtype=np.int64, count=len(edges))
        return cls.from_arrays(names, src, dst)

    @classmethod
    def from_arrays(cls, keys: Sequence[str], src: npt.ArrayLike, dst: npt.ArrayLike) -> TrustGraph:
        """Graph over ``keys`` (index ``i`` is ``keys[i]``) from parallel index arrays, in any
        order, duplicates and self-edges allowed (dropped)."""
        n = len(keys)
        if n > MAX_NODES:
            raise ValueError(f"at most {MAX_NODES} identities")
        s = np.asarray(src, dtype=np.int64)
        d = np.asarray(dst, dtype=np.int64)
        if s.shape != d.shape or s.ndim != 1:
            raise ValueError("src and dst must be 1-D arrays of one length")
        if len(s) and (min(s.min(), d.min()) < 0 or max(s.max(), d.max()) >= n):
            raise ValueError("edge index out of range")
        codes = np.sort((s << 32) | d)  # by (src, dst)
        if len(codes):
            codes = codes[np.concatenate(([True], codes[1:] != codes[:-1]))]  # no duplicates
        s, d = codes >> 32, codes & 0xFFFFFFFF
        keep = s != d
        s, d = s[keep], d[keep]
        indptr = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(np.bincount(s, minlength=n), out=indptr[1:])
        return cls(keys, indptr, s.astype(np.int32), d.astype(np.int32))

    # queries --------------------------------------------------------------------------------

    @property
    def n(self) -> int:
        """Number of identities indexed."""
        return len(self.keys)

    @property
    def edge_count(self) -> int:
        return len(self.src)

    def index_of(self, key: str) -> int:
        """Index of ``key``; ``KeyError`` if the graph has never seen it."""
        return self.index[key]

    def out_degree(self) -> IntArray:
        return np.diff(self.indptr)

    def followees(self, u: int) -> Int32Array:
        """Indices ``u`` follows, ascending."""
        return self.dst[self.indptr[u] : self.indptr[u + 1]]

    def row(self, u: int) -> tuple[Int32Array, FloatArray]:
        """Copies of row ``u``: followees and their normalised weights (for change deltas)."""
        a, b = int(self.indptr[u]), int(self.indptr[u + 1])
        return self.dst[a:b].copy(), self.weight[a:b].copy()

    def edge_positions(self, rows: IntArray) -> tuple[IntArray, IntArray]:
        """Positions of every out-edge of ``rows`` (row by row) and each row's edge count."""
        starts = self.indptr[rows]
        counts = self.indptr[rows + 1] - starts
        total = int(counts.sum())
        if total == 0:
            return np.zeros(0, dtype=np.int64), counts
        offsets = np.repeat(starts - np.cumsum(counts) + counts, counts)
        return np.arange(total, dtype=np.int64) + offsets, counts

    def has_edge(self, u: int, v: int) -> bool:
        row = self.followees(u)
        i = int(np.searchsorted(row, v))
        return i < len(row) and int(row[i]) == v

    def followers(self, v: int) -> Int32Array:
        """Indices following ``v``, ascending (O(E): a scan, for queries not loops)."""
        out: Int32Array = self.src[self.dst == v]
        return out

    def nbytes(self) -> int:
        """Bytes held by the numpy arrays (the key list and index dict are not counted)."""
        return int(self.indptr.nbytes + self.src.nbytes + self.dst.nbytes + self.weight.nbytes)

    def copy(self) -> TrustGraph:
        """An independent copy (arrays, keys and index copied): mutating either leaves the other
        as it was. O(E) memory copies, a few milliseconds at 2,000,000 edges."""
        out = TrustGraph.__new__(TrustGraph)
        out.keys, out.index = list(self.keys), dict(self.index)
        out.indptr, out.src, out.dst = self.indptr.copy(), self.src.copy(), self.dst.copy()
        out.weight = self.weight.copy()
        return out

    # mutation -------------------------------------------------------------------------------

    def ensure(self, key: str) -> int:
        """Index of ``key``, adding it (with no edges) if new."""
        i = self.index.get(key)
        if i is None:
            i = len(self.keys)
            if i >= MAX_NODES:
                raise ValueError(f"at most {MAX_NODES} identities")
            self.keys.append(key)
            self.index[key] = i
            self.indptr = np.append(self.indptr, self.indptr[-1])
        return i

    def add_edge(self, follower: str, followee: str) -> bool:
        """Add one follow; False (and no change) if it exists or is a self-follow."""
        u, v = self.ensure(follower), self.ensure(followee)
        if u == v or self.has_edge(u, v):
            return False
        at = self.indptr[u] + int(np.searchsorted(self.followees(u), v))
        self.src = np.insert(self.src, at, np.int32(u))
        self.dst = np.insert(self.dst, at, np.int32(v))
        self.weight = np.insert(self.weight, at, 0.0)
        self.indptr[u + 1 :] += 1
        self._reweigh(u)
        self._reweigh(v)
        return True

    def remove_edge(self, follower: str, followee: str) -> bool:
        """Remove one follow; False (and no change) if it does not exist."""
        u, v = self.index.get(follower), self.index.get(followee)
        if u is None or v is None or not self.has_edge(u, v):
            return False
        at = self.indptr[u] + int(np.searchsorted(self.followees(u), v))
        self.src = np.delete(self.src, at)
        self.dst = np.delete(self.dst, at)
        self.weight = np.delete(self.weight, at)
        self.indptr[u + 1 :] -= 1
        self._reweigh(u)
        self._reweigh(v)
        return True

    def _reweigh(self, u: int) -> None:
        """Recompute the normalised weights of row ``u`` (after its edges or mutuality changed)."""
        a, b = int(self.indptr[u]), int(self.indptr[u + 1])
        if a == b:
            return
        raw = np.array(
            [MUTUAL_WEIGHT if self.has_edge(int(v), u) else 1.0 for v in self.dst[a:b]],
            dtype=np.float64,
        )
        self.weight[a:b] = raw / raw.sum()


def _weights(indptr: IntArray, src: Int32Array, dst: Int32Array) -> FloatArray:
    """Per-edge normalised weights: MUTUAL_WEIGHT for edges followed back, rows summing to 1."""
    if len(src) == 0:
        return np.zeros(0, dtype=np.float64)
    codes = (src.astype(np.int64) << 32) | dst.astype(np.int64)  # sorted: rows are sorted
    back = (dst.astype(np.int64) << 32) | src.astype(np.int64)
    order = np.argsort(back)  # sorted queries keep the binary searches cache-friendly
    pos = np.minimum(np.searchsorted(codes, back[order]), len(codes) - 1)
    mutual = np.empty(len(codes), dtype=bool)
    mutual[order] = codes[pos] == back[order]
    raw = np.where(mutual, MUTUAL_WEIGHT, 1.0)
    sums = np.add.reduceat(raw, indptr[:-1][np.diff(indptr) > 0])
    row_sum = np.repeat(sums, np.diff(indptr)[np.diff(indptr) > 0])
    out: FloatArray = raw / row_sum
    return out
