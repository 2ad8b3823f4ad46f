"""A compact confusables table for :func:`pnyx.core.display.skeleton` (data only).

Source: Unicode Technical Standard #39, "Unicode Security Mechanisms", data file
``confusables.txt`` (Unicode 15.1): the entries whose prototype is a Latin letter or digit and
whose source is a Cyrillic, Greek, Armenian or Latin/IPA letter of everyday use, checked by hand
against common fonts; values are lower case because the skeleton is case-folded. Fullwidth,
mathematical, circled and other compatibility forms need no entry: NFKD maps them to ASCII first.
pnyx additions beyond UTS #39: ``i``, ``I``, ``1`` and ``|`` -> ``l`` (one class, since the
skeleton is case-folded and a capital i looks like an l) and ``0`` -> ``o`` (the usual username
tricks), and the stroke letters ``ł ø đ ħ ŧ`` (NFKD does not decompose them).

A missing entry only means a look-alike goes unmarked; a surplus one only marks two names that
look alike anyway. The table is applied before and after case folding.
"""

from __future__ import annotations

from typing import Final

_PAIRS: Final = {
    # Latin and digits: i, I, l, 1 and | are one class (a capital i is an l in most fonts)
    "i": "l",
    "I": "l",
    "|": "l",
    "0": "o",
    "1": "l",
    "\u01c0": "l",  # LATIN LETTER DENTAL CLICK
    "\u2223": "l",  # DIVIDES
    "\u0131": "l",  # dotless i
    "\u0269": "l",  # iota (IPA)
    "\u026a": "l",  # small capital i
    "\u0251": "a",  # alpha (IPA)
    "\u0261": "g",  # script g
    "\u0237": "j",  # dotless j
    "\u028f": "y",  # small capital y
    "\u0142": "l",  # l with stroke
    "\u00f8": "o",  # o with stroke
    "\u0111": "d",  # d with stroke
    "\u0127": "h",  # h with stroke
    "\u0167": "t",  # t with stroke
    "\u0180": "b",  # b with stroke
    "\u0268": "l",  # i with stroke
    # Cyrillic capitals
    "\u0410": "a",
    "\u0412": "b",
    "\u0415": "e",
    "\u0405": "s",
    "\u0406": "l",  # looks like Latin I
    "\u0408": "j",
    "\u041a": "k",
    "\u041c": "m",
    "\u041d": "h",
    "\u041e": "o",
    "\u0420": "p",
    "\u0421": "c",
    "\u0422": "t",
    "\u0423": "y",
    "\u0425": "x",
    "\u04ae": "y",
    "\u04ba": "h",
    "\u04c0": "l",  # palochka
    "\u0500": "d",
    "\u051a": "q",
    "\u051c": "w",
    "\u0474": "v",
    # Cyrillic small letters
    "\u0430": "a",
    "\u0435": "e",
    "\u0455": "s",
    "\u0456": "l",
    "\u0458": "j",
    "\u043e": "o",
    "\u0440": "p",
    "\u0441": "c",
    "\u0443": "y",
    "\u0445": "x",
    "\u0433": "r",
    "\u04bb": "h",
    "\u04cf": "l",  # small palochka
    "\u0501": "d",
    "\u051b": "q",
    "\u051d": "w",
    "\u04af": "y",
    "\u0475": "v",
    # Greek capitals
    "\u0391": "a",
    "\u0392": "b",
    "\u0395": "e",
    "\u0396": "z",
    "\u0397": "h",
    "\u0399": "l",  # looks like Latin I
    "\u039a": "k",
    "\u039c": "m",
    "\u039d": "n",
    "\u039f": "o",
    "\u03a1": "p",
    "\u03a4": "t",
    "\u03a5": "y",
    "\u03a7": "x",
    # Greek small letters
    "\u03b1": "a",
    "\u03b3": "y",
    "\u03b7": "n",
    "\u03b9": "l",
    "\u03ba": "k",
    "\u03bd": "v",
    "\u03bf": "o",
    "\u03c1": "p",
    "\u03c5": "u",
    "\u03c7": "x",
    "\u03f2": "c",  # lunate sigma
    "\u03f3": "j",  # yot
    # Armenian
    "\u0555": "o",
    "\u0585": "o",
    "\u054d": "u",
    "\u057d": "u",
    "\u053c": "l",
    "\u0570": "h",
    "\u0578": "n",
    "\u0581": "g",
    "\u0561": "w",
    "\u0566": "q",
}

#: ``str.translate`` table: code point -> Latin prototype (lower case).
CONFUSABLES: Final[dict[int, str]] = {ord(source): target for source, target in _PAIRS.items()}

#: Letter pairs that look like one letter, replaced after the table (UTS #39 maps m, w and d to
#: these sequences; the skeleton goes the other way so the result stays readable).
SEQUENCES: Final[dict[str, str]] = {"rn": "m", "vv": "w", "cl": "d"}
