"""The kind registry: one ``KindSpec`` per message kind, declaring everything pnyx does with it.

A kind is declared once, in its own module of ``pnyx.core.kinds``: the body schema (``check``),
the columns of its ``messages`` row, the rows it derives into tables of their own (``Derived``),
and how it reads to a person (``describe``) and in ``--json`` output (``json_fields``). The store,
the CLI and the node's output look the spec up here instead of branching on kind names, so a new
kind is a new module (plus one line in ``pnyx/core/kinds/__init__.py``) and its tests.

Everything here is pure: no I/O, no sqlite3 (SQL travels as strings the store executes). A kind
not registered is "unknown": valid with any map body, stored and passed on, shown generically.

Failure modes: ``register`` raises ``ValueError`` for a name already registered or malformed;
``check`` functions raise ``InvalidMessage`` (WRONG_BODY or OVERSIZED) and nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, KeysView, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final, Protocol

from pnyx.core.limits import MAX_FIELD_NAME_BYTES

if TYPE_CHECKING:
    from pnyx.core.envelope import Message

Body = Mapping[str, Any]


class Style(Protocol):
    """How the reader formats the parts of a message it did not write (supplied by the CLI).

    ``key`` names a public key, ``ref`` a message id (short), ``text`` is a post's multi-line text
    (continuation lines indented), ``inline`` other text from the author (a name, a reaction)
    shown inside a line. ``parent_who`` names the author a reply answers, if known.
    """

    parent_who: str | None

    def key(self, key: bytes) -> str: ...

    def ref(self, message_id: bytes) -> str: ...

    def text(self, text: str) -> str: ...

    def inline(self, text: str) -> str: ...


@dataclass(frozen=True, slots=True, eq=False)
class Derived:
    """Rows a kind adds to a table of its own, written in the ingest transaction.

    ``sql`` is one statement with ``?`` parameters, run with ``executemany`` over the rows of a
    batch; ``row(message, aid)`` gives one row (``aid`` is the author's local number). Row
    positions listed in ``keys`` hold 32-byte public keys the store replaces by their aid
    (creating an ``authors`` row for a key never seen). ``create`` is the DDL of a table that is
    not in the store's migrations (``CREATE TABLE IF NOT EXISTS ...``; empty for the tables of
    migration 1): the store runs it on a read-write open and fills the new table from the
    messages of the kinds deriving into it that it already holds.
    """

    table: str
    sql: str
    row: Callable[[Message, int], tuple[object, ...]]
    keys: tuple[int, ...] = ()
    create: str = ""


def _no_fields(body: Body) -> dict[str, object]:
    return {}


@dataclass(frozen=True, slots=True)
class KindSpec:
    """Everything pnyx does with one kind of message.

    ``check(body)`` raises ``InvalidMessage`` for a body that breaks the schema (extra fields are
    allowed and ignored). ``text``, ``root``, ``parent``, ``target``: the body field stored in that
    column of the ``messages`` row (None: the column stays NULL). ``derived``: rows for tables of
    their own. ``timeline``: a post shown in timelines (counted in the authors' ``posts`` and the
    ``posts`` total, printed as it arrives by the running node). ``describe(body, style)``: the
    content in words, one line (a post's text may span lines). ``json_fields(body)``: the extra
    keys of the ``--json`` object, JSON-ready (ids in hex, keys as pnyx1 text).
    """

    name: str
    check: Callable[[Body], None]
    describe: Callable[[Body, Style], str]
    json_fields: Callable[[Body], dict[str, object]] = _no_fields
    text: str | None = None
    root: str | None = None
    parent: str | None = None
    target: str | None = None
    derived: tuple[Derived, ...] = ()
    timeline: bool = False

    #: The body fields of the four columns, ``NO_FIELD`` for a column left NULL: the store reads
    #: them with four ``body.get`` calls inline (this runs for every message stored).
    fields: tuple[str, str, str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = (self.text, self.root, self.parent, self.target)
        object.__setattr__(self, "fields", tuple(NO_FIELD if n is None else n for n in names))

    def columns(self, body: Body) -> tuple[object, object, object, object]:
        """(text, root, parent, target) of the ``messages`` row of a valid ``body``."""
        text, root, parent, target = self.fields
        get = body.get
        return get(text), get(root), get(parent), get(target)


#: A field name no body has (longer than ``MAX_FIELD_NAME_BYTES``): ``body.get`` gives None.
NO_FIELD: Final = "-" * (MAX_FIELD_NAME_BYTES + 1)


#: Every registered kind by name. Read through ``spec_of`` / ``SPECS``; change with ``register``.
_SPECS: Final[dict[str, KindSpec]] = {}
#: The registered specs by name (a live read-only view).
SPECS: Final[Mapping[str, KindSpec]] = _SPECS
#: The kinds this version understands (a live set view of the registry).
KNOWN: Final[KeysView[str]] = _SPECS.keys()
#: Each registered kind's ``check``, kept beside ``_SPECS``: validation is one lookup and a call.
CHECKS: Final[dict[str, Callable[[Body], None]]] = {}


def register(*specs: KindSpec) -> None:
    """Add ``specs`` to the registry. ``ValueError`` if a name is taken (nothing is added)."""
    from pnyx.core.kinds.fields import check_kind_name

    for spec in specs:
        check_kind_name(spec.name)
        if spec.name in _SPECS:
            raise ValueError(f"kind {spec.name!r} is already registered")
    for spec in specs:
        _SPECS[spec.name] = spec
        CHECKS[spec.name] = spec.check


def unregister(name: str) -> None:
    """Remove a kind (tests that register a kind of their own undo it with this)."""
    _SPECS.pop(name, None)
    CHECKS.pop(name, None)


def spec_of(kind: str) -> KindSpec | None:
    """The spec of ``kind``, or None for a kind this version does not know."""
    return _SPECS.get(kind)
