"""The label operations: ``label`` (signed) and the home-only labeller subscriptions.

``label(store, key, subject, value, neg=...)`` signs a ``label`` message (``pnyx.core.kinds.label``)
on a post or a key. Rules, checked before the signing key is asked for:

* ``value`` must be a label value (``UserError`` naming the syntax);
* ``subject`` is a key in ``pnyx1...`` text (a label on an identity) or a message id, full or a
  unique prefix (a label on a post the store holds; not a post: ``UserError``; not held:
  ``NotFoundError``). Labelling yourself or your own post is allowed: a self-label (``nsfw`` on
  your own post), as Bluesky's self-labels;
* labelling what you labelled so already, or retracting a label you have not given (or
  retracted): ``NothingChangedError``.

``subscribe_labeller`` / ``unsubscribe_labeller`` change a row of this home's store (nothing is
signed or published; ``docs/moderation.md``): not yourself (you are always your own labeller),
not a key you block, at most ``MAX_LABELLERS``, actions valid (``UserError``); dropping a
subscription that does not exist: ``NothingChangedError``. Subscribing again replaces the
actions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, cast

from pnyx.clock import wall_clock_ms
from pnyx.core import kinds
from pnyx.core.kinds.label import value_problem
from pnyx.crypto.keytext import encode_public_key, parse_public_key
from pnyx.errors import NothingChangedError, UserError
from pnyx.ops.write import SignerLike, _append, _signer
from pnyx.store import labels as label_store
from pnyx.trust.labels import MAX_LABELLERS, LabelAction, Subscription, subscription_problem

if TYPE_CHECKING:
    from pnyx.store import Store
    from pnyx.views import MessageView

#: How a key is told from a message id in a subject given as text.
KEY_PREFIX = "pnyx1"


def _subject(store: Store, text: str) -> tuple[str, bytes]:
    if text.strip().startswith(KEY_PREFIX):
        return "key", parse_public_key(text)
    found = store.get(store.resolve_id(text))
    if found is None:  # resolve_id found it: only a concurrent eviction gets here
        raise UserError(f"no message {text.strip()} is held here")
    if found.message.kind != kinds.POST:
        raise UserError(
            f"only posts and keys can be labelled; {text.strip()} is a {found.message.kind}"
        )
    return "post", found.message.id


def label(
    store: Store,
    key: SignerLike,
    subject: str,
    value: str,
    *,
    neg: bool = False,
    now_ms: int | None = None,
) -> MessageView:
    """Label (or with ``neg`` retract the label of) the post or key written in ``subject``."""
    problem = value_problem(value)
    if problem is not None:
        raise UserError(f"{value!r} is not a label value: {problem[1]}")
    what, found = _subject(store, subject)
    me = _signer(key).public_key
    named = encode_public_key(found) if what == "key" else f"the post {found.hex()[:12]}"
    held = label_store.in_force(store, me, what, found, value)
    if held and not neg:
        raise NothingChangedError(f"you already labelled {named} {value}; nothing changed")
    if neg and not held:
        raise NothingChangedError(f"you have not labelled {named} {value}; nothing changed")
    body: dict[str, object] = {what: found, "value": value}
    if neg:
        body["neg"] = True
    return _append(store, key, kinds.LABEL, body, now_ms)


def subscribe_labeller(
    store: Store,
    me: bytes,
    labeller: str,
    actions: Mapping[str, str] | None = None,
    *,
    now_ms: int | None = None,
) -> Subscription:
    """Apply the labels of the key written in ``labeller``, with ``actions`` (value -> hide,
    warn or ignore; other values take their defaults). Returns the subscription saved."""
    target = parse_public_key(labeller)
    if target == me:
        raise UserError("you are always your own labeller: your labels apply already")
    if target in store.moderated("block", me):
        raise UserError(f"you block {encode_public_key(target)}: unblock it to use its labels")
    chosen = dict(actions or {})
    problem = subscription_problem(chosen)
    if problem is not None:
        raise UserError(problem)
    current = {s.key for s in label_store.subscriptions(store)}
    if target not in current and len(current) >= MAX_LABELLERS:
        raise UserError(f"you subscribe to {len(current)} labellers, the limit ({MAX_LABELLERS})")
    saved = cast("dict[str, LabelAction]", chosen)
    label_store.subscribe(store, target, saved, wall_clock_ms() if now_ms is None else now_ms)
    return Subscription(target, saved)


def unsubscribe_labeller(store: Store, labeller: str) -> None:
    """Stop applying the labels of the key written in ``labeller``."""
    target = parse_public_key(labeller)
    if not label_store.unsubscribe(store, target):
        raise NothingChangedError(
            f"you do not subscribe to {encode_public_key(target)}; nothing changed"
        )
