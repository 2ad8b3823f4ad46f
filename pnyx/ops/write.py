"""The write operations: post, reply, like, repost, follow, unfollow, profile, delete.

Each takes the open ``Store``, a ``Signer`` (or the signing key itself) and typed arguments,
checks every rule before the signing key is even asked for (so no passphrase is asked for a
refused action; only delete's rules run inside the store's signing transaction), signs and
stores the message with a durable commit (``Store.append_own``), and returns its
``MessageView``. They are synchronous and block on SQLite: callers inside the trio loop run them
through an ``Offload`` (``pnyx.runtime``). Publishing is the caller's business (the CLI nudges
the running node; the web app nudges its own node).

Failure modes: ``UserError`` for the user's mistake (text over its limit in bytes, not UTF-8,
empty, a second live like or repost of the same post, deleting someone else's or a deleted post, a
bad key text: ``BadKeyTextError``), ``NotFoundError`` for an id not held, ``NothingChangedError``
when the state asked for already holds (following someone already followed), ``StoreError`` when
the database fails. Nothing is stored in any of those cases.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import nacl.signing

from pnyx.clock import wall_clock_ms
from pnyx.core import display, kinds
from pnyx.core.limits import MAX_BIO_BYTES, MAX_NAME_BYTES, MAX_REACTION_BYTES, MAX_TEXT_BYTES
from pnyx.errors import NotFoundError, NothingChangedError, UserError
from pnyx.views import MessageView

if TYPE_CHECKING:
    from pnyx.core.envelope import Message
    from pnyx.store import Store

#: The reaction ``like`` signs by default (the Nostr convention for "like").
LIKE = "+"


class Signer(Protocol):
    """Who signs: the public key (every rule is checked with it) and the signing key, asked for
    only once every rule has passed (the CLI may have to ask for a passphrase)."""

    @property
    def public_key(self) -> bytes: ...

    def signing_key(self) -> nacl.signing.SigningKey: ...


@dataclass(frozen=True, slots=True)
class KeySigner:
    """A ``Signer`` over a signing key already at hand (the running node's)."""

    key: nacl.signing.SigningKey

    @property
    def public_key(self) -> bytes:
        return bytes(self.key.verify_key)

    def signing_key(self) -> nacl.signing.SigningKey:
        return self.key


#: What an operation takes as its signer: a ``Signer``, or a signing key at hand.
SignerLike = Signer | nacl.signing.SigningKey


def _signer(key: SignerLike) -> Signer:
    return KeySigner(key) if isinstance(key, nacl.signing.SigningKey) else key


def user_text(value: str, what: str, limit: int, *, allow_empty: bool = False) -> str:
    """``value`` if it is valid UTF-8 of at most ``limit`` bytes (and not blank unless
    ``allow_empty``), else ``UserError`` naming the limit and its unit."""
    try:
        size = len(value.encode())
    except UnicodeEncodeError:  # undecodable bytes in argv arrive as lone surrogates
        raise UserError(f"the {what} is not valid UTF-8; nothing was stored") from None
    if size > limit:
        raise UserError(f"the {what} is {size} bytes; the limit is {limit} bytes of UTF-8")
    if not allow_empty and not value.strip():
        raise UserError(f"the {what} is empty")
    return value


def _append(
    store: Store, key: SignerLike, kind: str, body: dict[str, Any], now_ms: int | None
) -> MessageView:
    from pnyx.core.reasons import InvalidMessage

    signing_key = _signer(key).signing_key()
    now = wall_clock_ms() if now_ms is None else now_ms
    try:
        message = store.append_own(signing_key, kind, body, now)
    except InvalidMessage as exc:  # a limit not checked above: still the user's input, not a peer's
        raise UserError(
            f"this {kind} would be an invalid message ({exc}); nothing was stored"
        ) from None
    return MessageView.of(message, store.profile(message.author))


def _post_of(store: Store, id_text: str) -> Message:
    found = store.get(store.resolve_id(id_text))
    if found is None or found.message.kind != kinds.POST:
        raise NotFoundError(f"no post {id_text} in this store")
    return found.message


def _reply_fields(store: Store, reply_to: str) -> dict[str, bytes]:
    """``root`` and ``parent`` of a reply to ``reply_to`` (docs/protocol.md, "Kinds: post").

    A post held here: ``parent`` is its id and ``root`` its ``root`` (its own id if it starts a
    thread). A post not held here may be named by its full 64-hex id only (a prefix could name
    anything): the protocol's rule for a reply to a thread's first post is applied, ``root`` =
    ``parent`` = that id, since nothing here says it is itself a reply. Anything else not held:
    ``NotFoundError``.
    """
    from pnyx.core.limits import ID_BYTES

    text = reply_to.strip().lower()
    try:
        parent = _post_of(store, reply_to)
    except NotFoundError:
        if len(text) != 2 * ID_BYTES or any(c not in "0123456789abcdef" for c in text):
            raise NotFoundError(
                f"no post {reply_to} in this store; to reply to a post not held here, give its "
                f"full {2 * ID_BYTES}-character id"
            ) from None
        if store.get(bytes.fromhex(text)) is not None:  # held, and not a post
            raise
        unknown = bytes.fromhex(text)
        return {"root": unknown, "parent": unknown}
    return {"root": parent.body.get("root", parent.id), "parent": parent.id}


def post(
    store: Store,
    key: SignerLike,
    text: str,
    *,
    reply_to: str | None = None,
    now_ms: int | None = None,
) -> MessageView:
    """Sign a post of ``text`` (at most ``MAX_TEXT_BYTES`` of UTF-8, not blank); ``reply_to``:
    the id or unique prefix of the post replied to (its thread's root is carried along), or the
    full id of a post not held here (then it is taken as its thread's first post)."""
    if not text.strip():
        raise UserError("a post needs some text")
    user_text(text, "post", MAX_TEXT_BYTES)
    body: dict[str, Any] = {"text": text}
    if reply_to:
        body.update(_reply_fields(store, reply_to))
    return _append(store, key, kinds.POST, body, now_ms)


def reply(
    store: Store,
    key: SignerLike,
    parent: str,
    text: str,
    *,
    now_ms: int | None = None,
) -> MessageView:
    """A post replying to ``parent`` (id or unique prefix); the rules of ``post``."""
    return post(store, key, text, reply_to=parent, now_ms=now_ms)


def delete(store: Store, key: SignerLike, target: str, *, now_ms: int | None = None) -> MessageView:
    """Ask everyone to hide the user's post ``target`` (id or unique prefix). Only the user's
    own posts, once each (``Store.append_own`` enforces it in the same transaction)."""
    return _append(store, key, kinds.DELETE, {"id": store.resolve_id(target)}, now_ms)


def _edge(
    store: Store, key: SignerLike, kind: str, target_text: str, now_ms: int | None
) -> MessageView:
    from pnyx.crypto.keytext import encode_public_key, parse_public_key

    target = parse_public_key(target_text)
    me = _signer(key).public_key
    if target == me:
        raise UserError(f"you cannot {kind} yourself")
    following = target in store.following(me)
    if (kind == kinds.FOLLOW) == following:
        state = "already follow" if following else "do not follow"
        raise NothingChangedError(f"you {state} {encode_public_key(target)}; nothing changed")
    return _append(store, key, kind, {"key": target}, now_ms)


def follow(store: Store, key: SignerLike, target: str, *, now_ms: int | None = None) -> MessageView:
    """Follow the key written in ``target`` (pnyx1... or hex); not yourself, not twice."""
    return _edge(store, key, kinds.FOLLOW, target, now_ms)


def unfollow(
    store: Store, key: SignerLike, target: str, *, now_ms: int | None = None
) -> MessageView:
    """Stop following the key written in ``target``; only a key followed now."""
    return _edge(store, key, kinds.UNFOLLOW, target, now_ms)


def live_references(store: Store, author: bytes, kind: str, target: bytes) -> list[bytes]:
    """Ids of ``author``'s messages of ``kind`` naming ``target`` that ``author`` has not
    deleted (an unlike or unrepost, ``pnyx.ops.undo``), by seq."""
    from pnyx.store.engagement import deleted

    ids = [found.message.id for found in store.references(author, kind, target)]
    gone = deleted(store, ids) if ids else set()
    return [i for i in ids if i not in gone]


def like(
    store: Store,
    key: SignerLike,
    target: str,
    *,
    reaction: str = LIKE,
    now_ms: int | None = None,
) -> MessageView:
    """React to post ``target`` with ``reaction`` (at most ``MAX_REACTION_BYTES``); the same
    reaction once per post."""
    reaction = user_text(reaction, "reaction", MAX_REACTION_BYTES)
    target_post = _post_of(store, target)
    me = _signer(key).public_key
    live = set(live_references(store, me, kinds.REACTION, target_post.id))
    for earlier in store.references(me, kinds.REACTION, target_post.id):
        if earlier.message.body.get("reaction") == reaction and earlier.message.id in live:
            what = "liked" if reaction == LIKE else f"reacted {reaction} to"
            raise UserError(f"you already {what} post {target_post.id.hex()[:12]}; nothing changed")
    body = {"id": target_post.id, "author": target_post.author, "reaction": reaction}
    return _append(store, key, kinds.REACTION, body, now_ms)


def repost(store: Store, key: SignerLike, target: str, *, now_ms: int | None = None) -> MessageView:
    """Re-share post ``target`` with the user's followers; once per post."""
    target_post = _post_of(store, target)
    if live_references(store, _signer(key).public_key, kinds.REPOST, target_post.id):
        raise UserError(f"you already reposted post {target_post.id.hex()[:12]}; nothing changed")
    body = {"id": target_post.id, "author": target_post.author}
    return _append(store, key, kinds.REPOST, body, now_ms)


def profile(
    store: Store,
    key: SignerLike,
    *,
    name: str | None = None,
    bio: str | None = None,
    now_ms: int | None = None,
) -> MessageView:
    """Set the user's display name and/or bio (``MAX_NAME_BYTES`` / ``MAX_BIO_BYTES``; a name
    without control, bidi or invisible characters). ``UserError`` if neither is given."""
    if name is None and bio is None:
        raise UserError("a profile change needs a name or a bio")
    body: dict[str, Any] = {}
    if name is not None:
        new_name = user_text(name, "name", MAX_NAME_BYTES, allow_empty=True)
        problem = display.name_problem(new_name)
        if problem is not None:
            raise UserError(f"a name cannot hold control, bidi or invisible characters ({problem})")
        body["name"] = new_name
    if bio is not None:
        body["bio"] = user_text(bio, "bio", MAX_BIO_BYTES, allow_empty=True)
    return _append(store, key, kinds.PROFILE, body, now_ms)
