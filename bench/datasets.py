"""Deterministic benchmark datasets, generated once and cached under bench/.cache/.

A dataset is a stream of signed envelopes from ``authors`` deterministic keys, in timestamp order,
each author's messages in sequence order with correct ``prev`` links. The mix resembles a real
network: every author's first message is a profile, then about 78 % posts (15 % of them replies),
reactions, reposts, follows and a few deletes. The timeline dataset adds a reader ("me", author 0)
who follows ``followed`` others, and one thread of ``thread`` posts.

Signing is the slow part (about 40,000 signatures per second per core): payloads are built in
order in one thread, then signed on every core (libsodium releases the GIL). Files are cached by
their parameters (the same parameters always give the same bytes: Ed25519 is deterministic), and
the timeline store is cached by its parameters and a hash of the store's source code.

Cache files: ``MAGIC`` then records ``u32 little-endian length || envelope``; a JSON ``.meta`` file
beside each. Written to a temporary name and renamed, so an interrupted run leaves no bad cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import nacl.bindings
import nacl.signing
from common import ROOT, log

from pnyx.core import canonical
from pnyx.core.envelope import decode, message_id
from pnyx.core.limits import PROTOCOL_VERSION, SIGNATURE_BYTES, SIGNATURE_DOMAIN

#: Bump when the generator's output changes, so stale caches are not reused.
GENERATOR_VERSION = 2
#: First line of every envelope cache file.
MAGIC = b"pnyx-bench-envelopes/1\n"
#: Timestamp of the first generated message, in ms since the epoch (2025-01-01T00:00:00Z).
BASE_TS_MS = 1_735_689_600_000
#: Time between two consecutive generated messages, in milliseconds.
STEP_MS = 997
#: Messages built and signed per step of the generator (bounds its memory), a count.
SIGN_CHUNK = 8192
#: Messages per ``ingest_verified`` call while building a store, a count.
BUILD_BATCH = 5000
#: Recent posts a reply, reaction or repost may point at, a count.
RECENT_POSTS = 1000

_TEXT = (
    "agora assembly vote speak citizen law council market harbor olive wine ship bronze marble "
    "theatre chorus poet question answer reason justice courage wisdom friend stranger city wall "
    "festival temple oracle river mountain road letter market grain silver coin festival evening "
    "morning sea wind sun rain garden lamp book scroll teacher student debate proposal"
)
_WORDS = _TEXT.split(" ")
_REACTIONS = ("+1", "heart", "laugh", "wow", "think")


@dataclass(frozen=True, slots=True)
class Spec:
    """What to generate. ``followed``/``thread`` are 0 for an ingest dataset."""

    messages: int
    authors: int
    followed: int = 0
    thread: int = 0
    seed: int = 1

    def key(self) -> str:
        return (
            f"env-m{self.messages}-a{self.authors}-f{self.followed}-t{self.thread}"
            f"-s{self.seed}-g{GENERATOR_VERSION}"
        )


def author_keypair(seed: int, index: int) -> tuple[bytes, bytes]:
    """(public key, 64-byte libsodium secret key) of generated author ``index``."""
    material = hashlib.blake2b(f"pnyx-bench/{seed}/{index}".encode(), digest_size=32).digest()
    public, secret = nacl.bindings.crypto_sign_seed_keypair(material)
    return bytes(public), bytes(secret)


def signing_key(seed: int, index: int) -> nacl.signing.SigningKey:
    _, secret = author_keypair(seed, index)
    return nacl.signing.SigningKey(secret[:32])


class _Planner:
    """Builds payloads in order: one ``(secret key, payload)`` per message."""

    def __init__(self, spec: Spec) -> None:
        if spec.authors < 2 or spec.messages < spec.authors + spec.followed + spec.thread:
            raise ValueError(f"too few messages for {spec}")
        self.spec = spec
        self.rng = random.Random(spec.seed)
        self.keys = [author_keypair(spec.seed, i) for i in range(spec.authors)]
        self.seq = [0] * spec.authors
        self.prev: list[bytes | None] = [None] * spec.authors
        self.recent: list[tuple[bytes, bytes, bytes]] = []  # (id, author, root) of recent posts
        self.own_post: list[bytes | None] = [None] * spec.authors
        self.count = 0
        self.thread_root: bytes | None = None
        self.thread_posts: list[bytes] = []
        self.followed = sorted(self.rng.sample(range(1, spec.authors), spec.followed))

    def _text(self) -> str:
        words = self.rng.choices(_WORDS, k=self.rng.randint(5, 30))
        return " ".join(words).capitalize() + "."

    def make(
        self, author: int, kind: str, body: dict[str, Any], *, in_thread: bool = False
    ) -> tuple[bytes, bytes]:
        public, secret = self.keys[author]
        self.seq[author] += 1
        ts = BASE_TS_MS + self.count * STEP_MS
        fields = [PROTOCOL_VERSION, public, self.seq[author], self.prev[author], ts, kind, body]
        payload = canonical.pack(fields)
        ident = message_id(payload)
        self.prev[author] = ident
        self.count += 1
        if kind == "post" and not in_thread:  # the benchmark thread keeps its exact size
            self.recent.append((ident, public, body.get("root", ident)))
            if len(self.recent) > RECENT_POSTS:
                del self.recent[: RECENT_POSTS // 2]
            self.own_post[author] = ident
        return secret, payload

    def _random_message(self, author: int) -> tuple[bytes, bytes]:
        rng = self.rng
        if self.seq[author] == 0:
            return self.make(author, "profile", {"name": f"author {author}", "bio": self._text()})
        roll = rng.random()
        if roll < 0.12 and self.recent:
            target, target_author, _ = rng.choice(self.recent)
            reaction = rng.choice(_REACTIONS)
            body = {"id": target, "author": target_author, "reaction": reaction}
            return self.make(author, "reaction", body)
        if roll < 0.17 and self.recent:
            target, target_author, _ = rng.choice(self.recent)
            return self.make(author, "repost", {"id": target, "author": target_author})
        if roll < 0.21:
            other = rng.randrange(self.spec.authors)
            if other != author:
                return self.make(author, "follow", {"key": self.keys[other][0]})
        if roll < 0.22 and self.own_post[author] is not None:
            own = self.own_post[author]
            self.own_post[author] = None
            return self.make(author, "delete", {"id": own})
        if roll < 0.34 and self.recent:
            parent, _, root = rng.choice(self.recent)
            return self.make(author, "post", {"text": self._text(), "root": root, "parent": parent})
        return self.make(author, "post", {"text": self._text()})

    def plan(self) -> Iterator[tuple[bytes, bytes]]:
        spec, rng = self.spec, self.rng
        if spec.followed:  # the reader: a profile, then one follow per followed author
            yield self.make(0, "profile", {"name": "me"})
            for other in self.followed:
                yield self.make(0, "follow", {"key": self.keys[other][0]})
        thread_at = spec.messages // 2
        gap = max(1, (spec.messages - thread_at - 1) // max(1, spec.thread))
        while self.count < spec.messages:
            if spec.thread and self.count == thread_at:
                starter = self.followed[0] if self.followed else 1
                body: dict[str, Any] = {"text": "A question for the assembly."}
                yield self.make(starter, "post", body, in_thread=True)
                self.thread_root = self.prev[starter]
                assert self.thread_root is not None
                self.thread_posts.append(self.thread_root)
                continue
            due = (self.count - thread_at) % gap == 0 and self.count > thread_at
            if due and self.thread_root is not None and len(self.thread_posts) < spec.thread:
                author = rng.randrange(spec.authors)
                parent = rng.choice(self.thread_posts)
                body = {"text": self._text(), "root": self.thread_root, "parent": parent}
                yield self.make(author, "post", body, in_thread=True)
                ident = self.prev[author]
                assert ident is not None
                self.thread_posts.append(ident)
                continue
            yield self._random_message(rng.randrange(spec.authors))


def _sign_all(pairs: Sequence[tuple[bytes, bytes]]) -> list[bytes]:
    return [
        nacl.bindings.crypto_sign(SIGNATURE_DOMAIN + payload, secret)[:SIGNATURE_BYTES] + payload
        for secret, payload in pairs
    ]


def _write_dataset(spec: Spec, path: Path) -> dict[str, Any]:
    planner = _Planner(spec)
    workers = max(1, len(os.sched_getaffinity(0)))
    tmp = path.with_suffix(".tmp")
    total_bytes = 0
    with open(tmp, "wb") as out, ThreadPoolExecutor(workers) as pool:
        out.write(MAGIC)
        chunk: list[tuple[bytes, bytes]] = []
        plan = planner.plan()
        while True:
            chunk.clear()
            for pair in plan:
                chunk.append(pair)
                if len(chunk) == SIGN_CHUNK:
                    break
            if not chunk:
                break
            step = -(-len(chunk) // workers)
            parts = [chunk[i : i + step] for i in range(0, len(chunk), step)]
            for signed in pool.map(_sign_all, parts):
                for envelope in signed:
                    out.write(struct.pack("<I", len(envelope)))
                    out.write(envelope)
                    total_bytes += len(envelope)
            if planner.count % (SIGN_CHUNK * 16) < SIGN_CHUNK:
                log(f"  generated {planner.count:,}/{spec.messages:,} messages")
    meta = {
        "spec": asdict(spec),
        "messages": planner.count,
        "envelope_bytes": total_bytes,
        "me": planner.keys[0][0].hex(),
        "followed": len(planner.followed),
        "thread_root": planner.thread_root.hex() if planner.thread_root else None,
        "thread_posts": len(planner.thread_posts),
    }
    path.with_suffix(".meta").write_text(json.dumps(meta, indent=1))
    os.replace(tmp, path)
    return meta


def dataset(spec: Spec, cache: Path) -> tuple[Path, dict[str, Any]]:
    """The cached envelope file for ``spec`` (generated if missing) and its metadata."""
    cache.mkdir(parents=True, exist_ok=True)
    path = cache / f"{spec.key()}.bin"
    meta_path = path.with_suffix(".meta")
    if path.exists() and meta_path.exists():
        meta: dict[str, Any] = json.loads(meta_path.read_text())
        return path, meta
    stem = spec.key().rsplit("-g", 1)[0]
    for stale in cache.glob(f"{stem}-g*"):  # from an older generator: never reused
        stale.unlink()
    log(f"generating {spec.messages:,} signed messages ({spec.key()}), cached for later runs")
    return path, _write_dataset(spec, path)


def iter_envelopes(path: Path) -> Iterator[bytes]:
    """The envelopes of a cache file, in order (reads in blocks: bounded memory)."""
    with open(path, "rb") as source:
        if source.read(len(MAGIC)) != MAGIC:
            raise ValueError(f"{path} is not a benchmark dataset")
        buffer = b""
        offset = 0
        while True:
            block = source.read(1 << 20)
            buffer = buffer[offset:] + block
            offset = 0
            while offset + 4 <= len(buffer):
                (size,) = struct.unpack_from("<I", buffer, offset)
                if offset + 4 + size > len(buffer):
                    break
                yield buffer[offset + 4 : offset + 4 + size]
                offset += 4 + size
            if not block:
                if offset != len(buffer):
                    raise ValueError(f"{path} is truncated")
                return


def load_envelopes(path: Path) -> list[bytes]:
    return list(iter_envelopes(path))


def store_source_hash() -> str:
    """Hash of pnyx/store/*.py: a cached store is rebuilt whenever the store's code changes."""
    digest = hashlib.blake2b(digest_size=8)
    for source in sorted((ROOT / "pnyx" / "store").glob("*.py")):
        digest.update(source.name.encode() + b"\0" + source.read_bytes())
    return digest.hexdigest()


def timeline_home(spec: Spec, cache: Path) -> tuple[Path, dict[str, Any]]:
    """A pnyx home (identity of "me" + a store holding the whole dataset), built once and cached.

    The store is built with ``Store.ingest_verified`` from envelopes decoded (every structural
    check) but not re-verified: the generator signed them, and bench/ingest.py measures
    verification. Raises RuntimeError if the store rejects any generated message.
    """
    from pnyx.crypto.keyfile import save_identity
    from pnyx.store import Store

    path, meta = dataset(spec, cache)
    home = cache / f"home-{spec.key()}-store{store_source_hash()}"
    if (home / "pnyx.db").exists() and (home / "meta.json").exists():
        stored: dict[str, Any] = json.loads((home / "meta.json").read_text())
        return home, stored
    stem = spec.key().rsplit("-g", 1)[0]
    for stale in cache.glob(f"home-{stem}-g*"):  # older store code or generator: never reused
        shutil.rmtree(stale, ignore_errors=True)
    log(f"building a store of {spec.messages:,} messages in {home.name} (once)")
    building = home.with_name(home.name + ".tmp")
    shutil.rmtree(building, ignore_errors=True)
    building.mkdir(mode=0o700, parents=True)
    save_identity(building / "identity.key", signing_key(spec.seed, 0), None)
    with Store.open(building / "pnyx.db") as store:
        batch: list[bytes] = []
        done = 0
        for envelope in iter_envelopes(path):
            batch.append(envelope)
            if len(batch) == BUILD_BATCH:
                done += _store_batch(store, batch)
                batch = []
                if done % (BUILD_BATCH * 40) == 0:
                    log(f"  stored {done:,}/{spec.messages:,}")
        done += _store_batch(store, batch)
    (building / "meta.json").write_text(json.dumps(meta, indent=1))
    shutil.rmtree(home, ignore_errors=True)
    os.replace(building, home)
    return home, meta


def _store_batch(store: Any, batch: list[bytes]) -> int:
    if not batch:
        return 0
    report = store.ingest_verified([decode(raw) for raw in batch])
    if report.rejected or report.duplicates:
        raise RuntimeError(f"the store rejected generated messages: {report.rejected[:3]}")
    return len(report.accepted)
