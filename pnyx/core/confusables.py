"""The confusables table of :func:`pnyx.core.display.skeleton`: UTS #39 plus pnyx's own classes.

Source: Unicode Technical Standard #39, "Unicode Security Mechanisms", ``confusables.txt``, the
entries with a Latin prototype (about 2,400: Cyrillic, Greek, Armenian, Cherokee, Lisu, Coptic and
other letters that imitate Latin ones, small capitals, mathematical and compatibility forms). The
data lives in ``pnyx/core/unicode/confusables.txt`` with the Unicode version in its header, and
``tools/regen_unicode_tables.py`` regenerates it from the maintained package ``disarm`` (a dev-time
tool: pnyx reads the file with the standard library). Prototypes are case-folded here, because the
skeleton is.

pnyx additions on top (``ADDITIONS``, applied to the prototypes too): ``i``, ``I``, ``1`` and ``|``
are one class with ``l`` (a capital i is an l in most fonts, and the skeleton is case-folded), ``0``
is ``o`` (the usual username tricks), and the stroke letters ``ł ø đ ħ ŧ ƀ ɨ`` and a few letters
that UTS #39 leaves apart (Cyrillic shha, komi de and qa, Armenian capital liwn) map to the Latin
letter they show. A missing entry only means a look-alike goes unmarked (the mixed-script mark,
:mod:`pnyx.core.scripts`, still catches most); a surplus one only marks two names that look alike
anyway. The table is loaded on first use (it is not needed to start most commands).
"""

from __future__ import annotations

import functools
from importlib import resources
from typing import Final

#: pnyx's classes beyond UTS #39, applied after the standard table (sources and prototypes).
ADDITIONS: Final = {
    "i": "l",
    "I": "l",
    "|": "l",
    "1": "l",
    "0": "o",
    "\u0142": "l",  # l with stroke
    "\u00f8": "o",  # o with stroke
    "\u0111": "d",  # d with stroke
    "\u0127": "h",  # h with stroke
    "\u0167": "t",  # t with stroke
    "\u0180": "b",  # b with stroke
    "\u0268": "l",  # i with stroke
    "\u04ba": "h",  # Cyrillic capital shha
    "\u04bb": "h",  # Cyrillic small shha
    "\u0500": "d",  # Cyrillic komi de
    "\u0501": "d",
    "\u051a": "q",  # Cyrillic qa
    "\u051b": "q",
    "\u053c": "l",  # Armenian capital liwn
}

#: Letter pairs that look like one letter, replaced after the table (UTS #39 maps m, w and d to
#: these sequences; the skeleton goes the other way so the result stays readable).
SEQUENCES: Final[dict[str, str]] = {"rn": "m", "vv": "w", "cl": "d"}

#: The data file, in this package.
DATA_FILE = "unicode/confusables.txt"


def _parse(text: str) -> dict[str, str]:
    """``SOURCE<TAB>PROTOTYPE`` lines (hex code points; ``#`` starts a comment line)."""
    table: dict[str, str] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        source, prototype = line.split("\t")
        table[chr(int(source, 16))] = "".join(chr(int(cp, 16)) for cp in prototype.split())
    return table


@functools.cache
def table() -> dict[int, str]:
    """The ``str.translate`` table: code point -> case-folded Latin prototype, pnyx's additions
    applied to the prototypes and added as entries of their own."""
    extra = str.maketrans(ADDITIONS)
    standard = _parse(resources.files("pnyx.core").joinpath(DATA_FILE).read_text("utf-8"))
    merged = {ord(s): p.casefold().translate(extra) for s, p in standard.items()}
    merged.update({ord(s): p for s, p in ADDITIONS.items()})
    return merged
