"""What a running node tells its user: readable lines through the ``pnyx.node`` logger.

``pnyx run`` sends these lines to standard output (``pnyx.app.run.configure_logging``). Lines that
a busy or hostile network could multiply are rate-limited: at most ``POST_LINES_PER_SECOND`` posts
and ``REJECTION_LINES_PER_MINUTE`` rejections are shown, then one line says how many were not.

The user's moderation policy (``pnyx.trust.policy``, read by ``pnyx.reads.policy.load_policy``)
applies here as in every read: an arriving post whose author is muted or blocked, or a repost of
such an author's post, is not shown; the web's live bar counts with the same ``policy``. The
node reloads it (``reload``) when it starts, when it is nudged (``pnyx mute``/``block`` and the
web app nudge it after every write, private mutes included) and when an own follow, mute or block
message is stored.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any

import trio

from pnyx.core import display, kinds
from pnyx.core.envelope import Message
from pnyx.errors import RemoteError, StoreError
from pnyx.net.contracts import PeerEvent
from pnyx.reads.policy import load_policy
from pnyx.trust.policy import Policy

if TYPE_CHECKING:
    from pnyx.store import Store

log = logging.getLogger("pnyx.node")

#: Arriving posts shown per second at most, a count.
POST_LINES_PER_SECOND = 20
#: Rejected frames shown per minute at most, a count.
REJECTION_LINES_PER_MINUTE = 10
#: Longest post text shown on one line, in characters.
MAX_SHOWN_TEXT_CHARS = 200


class _Budget:
    """At most ``limit`` events per ``window_s`` seconds; counts what it refuses."""

    def __init__(self, limit: int, window_s: float) -> None:
        self.limit = limit
        self.window_s = window_s
        self._start = -window_s
        self._used = 0
        self.refused = 0

    def allow(self) -> tuple[bool, int]:
        """(may this event be shown, how many were refused since the last shown one)."""
        now = trio.current_time()
        if now - self._start >= self.window_s:
            self._start, self._used = now, 0
        if self._used < self.limit:
            self._used += 1
            refused, self.refused = self.refused, 0
            return True, refused
        self.refused += 1
        return False, 0


def one_line(text: str) -> str:
    """``text`` from others on one line: whitespace runs become one space, unsafe characters are
    escaped (``pnyx.core.display.line``), at most ``MAX_SHOWN_TEXT_CHARS`` characters are kept."""
    flat = " ".join(text.split())
    if len(flat) > MAX_SHOWN_TEXT_CHARS:
        flat = flat[: MAX_SHOWN_TEXT_CHARS - 1] + "…"
    return display.line(flat)


class SafeFormatter(logging.Formatter):
    """A formatter whose lines carry no raw control, bidi or zero-width character (escaped as
    ``\\u001b``): log arguments may quote peers' data. The message itself stays on one line
    (its newlines are escaped too); only an attached traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return display.line(super().formatMessage(record))

    def format(self, record: logging.LogRecord) -> str:
        return display.terminal(super().format(record))


class JsonLineFormatter(logging.Formatter):
    """``pnyx run --json``: each event as one JSON object on one line (issue 24):
    ``{"time", "level", "event", "text", "args", ...}``. ``event`` is the record's ``event``
    attribute (``extra=``) or the words of its message before the first ``:``, ``(`` or
    ``%`` as a slug (``peer-connected``, ``post-from``, ``listening``, ``stopped``); ``args``
    are the message's arguments as text; a record's ``fields`` (``extra=``) are merged in.
    Non-ASCII and control characters are JSON ``\\u`` escapes, so a line is always safe."""

    def format(self, record: logging.LogRecord) -> str:
        import datetime
        import json
        import re

        event = getattr(record, "event", None)
        if event is None:
            head = re.split(r"[:(%]", str(record.msg), maxsplit=1)[0].strip().lower()
            event = re.sub(r"[^a-z0-9]+", "-", head).strip("-") or "log"
        args = record.args if isinstance(record.args, tuple) else ()
        when = datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC)
        line: dict[str, Any] = {
            "time": when.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "event": event,
            "text": record.getMessage(),
            "args": [str(arg) for arg in args],
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line.update(fields)
        if record.exc_info:
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=True)


class NodeOutput:
    """The node's user-facing lines. Subclass or capture the ``pnyx.node`` logger in tests."""

    def __init__(self) -> None:
        self._posts = _Budget(POST_LINES_PER_SECOND, 1.0)
        self._rejections = _Budget(REJECTION_LINES_PER_MINUTE, 60.0)
        #: The user's mutes and blocks: what ``arrived`` and the web's live bar leave out.
        self.policy = Policy()

    async def reload(self, store: Store, me: bytes, offload: Callable[..., Awaitable[Any]]) -> None:
        """Read the user's policy again; on a store failure keep the one held (and log it)."""
        try:
            self.policy = await offload(load_policy, store, me)
        except StoreError as exc:
            log.error("could not reload your mutes and blocks: %s", exc)

    def shown(self, message: Message) -> bool:
        """Whether an arriving ``message`` is a post timelines show, not hidden by the policy."""
        return _shown_as_post(message) and self.policy.hidden(message) is None

    def peer(self, event: PeerEvent) -> None:
        info = event.peer
        if event.connected:
            where = f", {one_line(str(info.address))}" if info.address else ""
            log.info("peer connected: %s (%s%s)", info.peer_id, info.direction.value, where)
        else:
            log.info("peer disconnected: %s", info.peer_id)

    def rejected(self, peer: str, exc: RemoteError, *, penalised: bool) -> None:
        """A frame refused: an ``InvalidMessage`` or a rate-limit refusal (robustness)."""
        shown, refused = self._rejections.allow()
        if not shown:
            return
        if refused:
            log.info("(%d more rejected frames not shown)", refused)
        what = "rejected a frame" if penalised else "dropped a frame"
        log.info("%s from %s: %s", what, peer, one_line(str(exc)))

    def banned(self, peer: str, count: int, seconds: float) -> None:
        log.info(
            "banned peer %s for %d minutes after %d invalid frames", peer, seconds // 60, count
        )

    def published(self, messages: Sequence[Message]) -> None:
        if len(messages) != 1:
            log.info("published %d of your messages", len(messages))
        elif _shown_as_post(messages[0]):
            log.info("published your post: %s", one_line(messages[0].text or ""))
        else:
            log.info("published your %s message", messages[0].kind)

    async def arrived(
        self, store: Store, messages: Sequence[Message], offload: Callable[..., Awaitable[Any]]
    ) -> None:
        """Show newly stored posts the policy does not hide, naming their authors."""
        posts = [m for m in messages if self.shown(m)]
        if not posts:
            return
        shown: list[Message] = []
        for message in posts:
            ok, refused = self._posts.allow()
            if refused:
                log.info("(%d more posts arrived, not shown)", refused)
            if ok:
                shown.append(message)
        if not shown:
            return
        names: dict[bytes, str] = await offload(_names, store, {m.author for m in shown})
        for message in shown:
            who = _NO_NAMES.label(message.author, names.get(message.author))
            fields = {"id": message.id.hex(), "author": _key_text(message.author)}
            log.info(
                "post from %s: %s", who, one_line(message.text or ""), extra={"fields": fields}
            )


_NO_NAMES = display.Names({})


def _key_text(key: bytes) -> str:
    from pnyx.crypto.keytext import encode_public_key

    return encode_public_key(key)


def _shown_as_post(message: Message) -> bool:
    """Whether the message's kind is one timelines show (its spec's ``timeline``)."""
    spec = kinds.spec_of(message.kind)
    return spec is not None and spec.timeline


def _names(store: Store, authors: set[bytes]) -> dict[bytes, str]:
    names: dict[bytes, str] = {}
    for author in authors:
        profile = store.profile(author)
        if profile is not None and profile.name:
            names[author] = profile.name
    return names
