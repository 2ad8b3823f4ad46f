"""Text from others made safe to show: escaping, name rules, fingerprints, look-alikes (sans-I/O).

Every character of :data:`UNSAFE_RANGES` (control, format, bidi, zero-width, line-separator and
invisible filler characters) is shown as a visible escape, ``\\u001b`` (astral code points as a
JSON surrogate pair, ``\\udb40\\udc01``), never raw: an ESC, BEL or bidi override from a peer can
then neither drive the terminal (window title, clear screen, conceal) nor reorder the line. The
escape form is also a valid JSON string escape, so the same function keeps ``--json`` lines exact.

* :func:`line`: a single-line field (name, bio, reaction, peer string): even ``\\n`` and ``\\t``
  are escaped, so one field can never print a second line (no forged entry header).
* :func:`block`: a multi-line post body: ``\\n`` and ``\\t`` are kept, every continuation line
  starts with ``prefix``, so a body line can never start where a header starts.
* :func:`terminal`: the safety net under every line the CLI and the node print.
* :func:`name_problem`: the protocol rule for profile names (``forbidden-character``).
* :func:`skeleton`: a confusable skeleton (after UTS #39): two names with one skeleton look alike.
* :class:`Names`: labels ``name (pnyx1abcd…wxyz)`` and look-alike marks against the names of the
  user and of those the user follows.

Nothing here raises on any ``str`` input (lone surrogates included).
"""

from __future__ import annotations

import bisect
import functools
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

from pnyx.core import confusables
from pnyx.core.confusables import SEQUENCES

#: Code points never shown raw and refused in profile names, as inclusive ranges. This is the
#: exact set of docs/protocol.md ("Text in names"): general categories Cc and Cf of Unicode 15.1,
#: Zl and Zp (U+2028, U+2029), and the invisible fillers U+034F, U+115F, U+1160, U+3164, U+FFA0.
UNSAFE_RANGES: Final[tuple[tuple[int, int], ...]] = (
    (0x0000, 0x001F),  # C0 controls: NUL..US, including BEL, BS, TAB, LF, VT, FF, CR, ESC
    (0x007F, 0x009F),  # DEL and the C1 controls (CSI U+009B, OSC U+009D, NEL U+0085, ...)
    (0x00AD, 0x00AD),  # soft hyphen
    (0x034F, 0x034F),  # combining grapheme joiner (invisible)
    (0x0600, 0x0605),  # Arabic number signs (prepended concatenation marks)
    (0x061C, 0x061C),  # Arabic letter mark (bidi)
    (0x06DD, 0x06DD),  # Arabic end of ayah
    (0x070F, 0x070F),  # Syriac abbreviation mark
    (0x0890, 0x0891),  # Arabic pound / piastre mark above
    (0x08E2, 0x08E2),  # Arabic disputed end of ayah
    (0x115F, 0x1160),  # Hangul choseong / jungseong fillers (invisible)
    (0x180E, 0x180E),  # Mongolian vowel separator
    (0x200B, 0x200F),  # zero-width space, ZWNJ, ZWJ, LRM, RLM
    (0x2028, 0x2029),  # line separator, paragraph separator
    (0x202A, 0x202E),  # bidi embeddings and overrides: LRE, RLE, PDF, LRO, RLO
    (0x2060, 0x2064),  # word joiner, invisible operators
    (0x2066, 0x206F),  # bidi isolates LRI, RLI, FSI, PDI; deprecated format characters
    (0x3164, 0x3164),  # Hangul filler (invisible)
    (0xFEFF, 0xFEFF),  # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler (invisible)
    (0xFFF9, 0xFFFB),  # interlinear annotation anchors
    (0x110BD, 0x110BD),  # Kaithi number sign
    (0x110CD, 0x110CD),  # Kaithi number sign above
    (0x13430, 0x1343F),  # Egyptian hieroglyph format controls
    (0x1BCA0, 0x1BCA3),  # shorthand format controls
    (0x1D173, 0x1D17A),  # musical symbol format controls
    (0xE0001, 0xE0001),  # language tag
    (0xE0020, 0xE007F),  # tag characters
)

_STARTS: Final = [low for low, _ in UNSAFE_RANGES]


def _class(ranges: Iterable[tuple[int, int]]) -> str:
    return "".join(f"\\U{low:08x}-\\U{high:08x}" for low, high in ranges)


_BMP: Final = [(low, high) for low, high in UNSAFE_RANGES if high <= 0xFFFF]
_ASTRAL_AND_SURROGATES = ((0xD800, 0xDFFF), (0x10000, 0x10FFFF))
#: ASCII text needs only this (``str.isascii`` is a flag test).
_ASCII: Final = re.compile("[\x00-\x1f\x7f]")
_ASCII_IN_BLOCK: Final = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


# The large character classes are compiled on first use (several ms each): a command that shows
# only ASCII never pays for them.


@functools.cache
def _candidates() -> re.Pattern[str]:
    """Candidates for escaping: the unsafe BMP ranges, lone surrogates (a Python str may hold
    them; no encoder prints them) and every astral code point, checked by ``_escape_one`` (a
    character class with the few astral ranges is five times slower to search than this one, 4
    KiB of text)."""
    return re.compile(f"[{_class((*_BMP, *_ASTRAL_AND_SURROGATES))}]")


@functools.cache
def _candidates_in_block() -> re.Pattern[str]:
    """The same without TAB and LF (multi-line text)."""
    return re.compile(
        f"[{_class(((0x00, 0x08), (0x0B, 0x1F), *_BMP[1:], *_ASTRAL_AND_SURROGATES))}]"
    )


@functools.cache
def _unsafe() -> re.Pattern[str]:
    """Exactly the unsafe set (validation of names)."""
    return re.compile(f"[{_class(UNSAFE_RANGES)}]")


def is_unsafe(char: str) -> bool:
    """Is the one-character ``char`` in :data:`UNSAFE_RANGES`?"""
    point = ord(char)
    index = bisect.bisect_right(_STARTS, point) - 1
    return index >= 0 and point <= UNSAFE_RANGES[index][1]


def _escape_one(match: re.Match[str]) -> str:
    char = match.group()
    point = ord(char)
    if point > 0xFFFF:
        if not is_unsafe(char):
            return char
        point -= 0x10000
        return f"\\u{0xD800 + (point >> 10):04x}\\u{0xDC00 + (point & 0x3FF):04x}"
    return f"\\u{point:04x}"


def line(text: str) -> str:
    """``text`` for one line: every unsafe character (``\\n`` and ``\\t`` too) escaped."""
    if text.isascii():
        return _ASCII.sub(_escape_one, text)
    return _candidates().sub(_escape_one, text)


def terminal(text: str) -> str:
    """``text`` with every unsafe character escaped except ``\\n`` and ``\\t`` (a safety net)."""
    if text.isascii():
        return _ASCII_IN_BLOCK.sub(_escape_one, text)
    return _candidates_in_block().sub(_escape_one, text)


def block(text: str, prefix: str) -> str:
    """A multi-line text whose lines after the first start with ``prefix``; unsafe characters
    other than ``\\n`` and ``\\t`` escaped. The caller prints ``prefix`` before the first line."""
    return terminal(text).replace("\n", "\n" + prefix)


def name_problem(name: str) -> str | None:
    """Why ``name`` is refused as a profile name, or None. The first unsafe character is named
    with its position (in code points): ``U+202E at position 1``."""
    found = _unsafe().search(name)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start()}"


# Look-alikes ---------------------------------------------------------------------------------

#: Skeleton of a name longer than this many characters is taken from its first this many (names
#: are at most 64 bytes; this only bounds the work on unvalidated old data).
MAX_SKELETON_CHARS = 128
_SPACES: Final = re.compile(r"\s+")
#: A key's text form inside a name (after the table maps its ``1`` to ``l``): a name that
#: copies someone's fingerprint, "Alice (pnyx1af9x…svha)", is still a look-alike of "Alice".
_KEY_TEXT: Final = re.compile(r"pnyxl[0-9a-z]*")


@functools.cache
def _sequence() -> re.Pattern[str]:
    return re.compile("|".join(re.escape(s) for s in sorted(SEQUENCES, key=len)[::-1]))


#: Skeletons remembered (``skeleton`` is a pure function of the name; the web app compares every
#: followed author's name on each page), a count of names.
SKELETON_CACHE_NAMES: Final = 16_384


@functools.lru_cache(maxsize=SKELETON_CACHE_NAMES)
def skeleton(name: str) -> str:
    """A form two names share when they look alike: NFKC, marks and invisible characters removed,
    punctuation, symbols and key texts (``pnyx1...``) removed, confusable letters mapped to their
    Latin prototype, case folded, spaces collapsed.

    After UTS #39 ``skeleton`` (which maps with the full confusables table and keeps marks); this
    one is coarser on purpose: "alicé", "ALICE", "alice" with a Cyrillic a or with a zero-width
    joiner inside all give one skeleton (``allce``: i, l, 1 and I are one class), and so do
    "a1ice" and "aIice". The skeleton is for comparing, never shown. The table is
    :mod:`pnyx.core.confusables`.
    """
    table = confusables.table()
    # The table first: NFKD would turn some confusables (lunate sigma, small capitals) into
    # letters of their own script that the table does not map.
    text = unicodedata.normalize("NFKD", name[:MAX_SKELETON_CHARS].translate(table))
    text = "".join(c for c in text if not is_unsafe(c) and _category(c) not in _DROPPED)
    text = text.translate(table).casefold().translate(table)
    text = _sequence().sub(lambda m: SEQUENCES[m.group()], _KEY_TEXT.sub(" ", text))
    return _SPACES.sub(" ", text).strip()


#: Categories a skeleton drops: marks, surrogates, punctuation and symbols (emoji included), so
#: "a.lice", "alice!" and "Alice \U0001f989" resemble "alice" (the table keeps ``|``).
_DROPPED: Final = frozenset({"Mn", "Me", "Cs", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "Sm",
                             "Sc", "Sk", "So"})  # fmt: skip


def _category(char: str) -> str:
    return "" if char == "|" else unicodedata.category(char)


def fingerprint(key: bytes) -> str:
    """A short form of a public key that keeps both ends: ``pnyx1qv9x…8x7k`` (the last four
    characters are bech32 checksum, which depends on the whole key)."""
    from pnyx.crypto.keytext import encode_public_key

    text = encode_public_key(key)
    return f"{text[:9]}…{text[-4:]}"


@dataclass(frozen=True, slots=True)
class Lookalike:
    """A known identity (the user, or someone the user follows) whose name a label resembles."""

    key: bytes
    name: str


class Names:
    """Labels for authors, checked against the names the user knows.

    ``known`` maps the user's own key and the keys the user follows to their current names (None
    or empty: no name). :meth:`label` gives ``name (fingerprint)``, with ``[look-alike of known
    (fingerprint)]`` added when :meth:`lookalike` finds one.
    """

    def __init__(self, known: Mapping[bytes, str | None]) -> None:
        self._by_skeleton: dict[str, list[Lookalike]] = {}
        for key, name in known.items():
            if name and (shape := skeleton(name)):
                self._by_skeleton.setdefault(shape, []).append(Lookalike(key, name))

    def lookalike(self, key: bytes, name: str | None) -> Lookalike | None:
        """A known identity with another key whose name has the skeleton of ``name``, or None."""
        if not name:
            return None
        for candidate in self._by_skeleton.get(skeleton(name), ()):
            if candidate.key != key:
                return candidate
        return None

    def mark(self, key: bytes, name: str | None) -> str:
        """`` [look-alike of Aspasia (pnyx1qv9x…8x7k)]`` when :meth:`lookalike` finds one, else
        `` [mixed scripts: Coptic, Latin]`` when the name mixes scripts
        (:func:`pnyx.core.scripts.mixed_scripts`: letters no confusables table maps), else the
        empty string; escaped."""
        from pnyx.core.scripts import mixed_scripts

        other = self.lookalike(key, name)
        if other is not None:
            return f" [look-alike of {line(other.name)} ({fingerprint(other.key)})]"
        if name and (mixed := mixed_scripts(name)):
            return f" [mixed scripts: {', '.join(mixed)}]"
        return ""

    def label(self, key: bytes, name: str | None) -> str:
        """``Aspasia (pnyx1qv9x…8x7k)`` and its :meth:`mark`, or the fingerprint alone without a
        name; escaped."""
        if not name:
            return fingerprint(key)
        return f"{line(name)} ({fingerprint(key)}){self.mark(key, name)}"


def plural(count: int, word: str, words: str | None = None) -> str:
    """``word`` for a count of 1, else ``words`` (default: ``word`` + "s"): "1 author"."""
    return word if count == 1 else (words or word + "s")
