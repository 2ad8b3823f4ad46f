"""pnyx.core.display: escaping of text from others, the profile-name rule, skeletons, labels."""

from __future__ import annotations

import itertools
import json
import unicodedata

import nacl.signing
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pnyx.core import display
from pnyx.core.display import Names, fingerprint, is_unsafe, line, skeleton, terminal
from pnyx.core.envelope import decode, sign
from pnyx.core.reasons import InvalidMessage, Reason
from pnyx.crypto.keytext import encode_public_key

KEY = nacl.signing.SigningKey(bytes(range(32)))
NOW = 1_767_225_600_000
ALICE, MALLORY, ME = bytes([1]) * 32, bytes([2]) * 32, bytes([3]) * 32

#: Characters a hostile peer uses on a terminal: ESC (CSI, OSC title), BEL, CR, DEL, C1 CSI,
#: bidi overrides and isolates, zero-width characters, line separators, a language tag.
HOSTILE = (
    "\x1b]0;pwned\x07\x1b[2J\x1b[8mhidden\r\x7f\x9b31m"
    "\u202eevil\u202c\u2067x\u2069\u200b\u200c\u200d\u2060\ufeff\u200e\u200f\u2028\u2029\U000e0001"
)
FILLERS = {0x034F, 0x115F, 0x1160, 0x3164, 0xFFA0}


def raw_unsafe(text: str, keep: str = "") -> list[str]:
    return [c for c in text if is_unsafe(c) and c not in keep]


def test_unsafe_set_holds_every_control_and_format_character_of_this_unicode() -> None:
    missing = [
        f"U+{cp:04X}"
        for cp in range(0x110000)
        if unicodedata.category(chr(cp)) in ("Cc", "Cf", "Zl", "Zp") and not is_unsafe(chr(cp))
    ]
    assert missing == []
    assert all(is_unsafe(chr(cp)) for cp in FILLERS)


def test_unsafe_set_holds_nothing_else() -> None:
    ranges = display.UNSAFE_RANGES
    assert all(a[1] < b[0] for a, b in itertools.pairwise(ranges))  # sorted, disjoint
    for low, high in ranges:
        for cp in range(low, high + 1):
            category = unicodedata.category(chr(cp))
            # Cn: assigned as Cf after this Python's Unicode (U+13439..U+1343F in Unicode 15.0)
            assert category in ("Cc", "Cf", "Zl", "Zp", "Cn") or cp in FILLERS, hex(cp)
    fine = "Aspásia 🦉 \u0391\u03c3\u03c0\u03b1\u03c3\u03af\u03b1 日本語 \u2014…·↳\u0301\ufe0f"
    assert not any(is_unsafe(c) for c in fine)


def test_line_escapes_every_unsafe_character_visibly() -> None:
    assert line("\x1b[2J") == "\\u001b[2J"
    assert line("a\nb\tc") == "a\\u000ab\\u0009c"
    assert line("\u202eabc") == "\\u202eabc"
    assert line("\U000e0001") == "\\udb40\\udc01"
    assert raw_unsafe(line(HOSTILE)) == []
    assert line("plain Aspásia 🦉") == "plain Aspásia 🦉"


def test_terminal_and_block_keep_newlines_and_tabs_only() -> None:
    text = "one\n\ttwo\x1b[2J\n\u202ethree"
    assert terminal(text) == "one\n\ttwo\\u001b[2J\n\\u202ethree"
    assert raw_unsafe(terminal(HOSTILE), keep="\n\t") == []
    assert display.block("one\ntwo\nthree", "  ") == "one\n  two\n  three"
    assert display.block("a\x1b\nb\u2028c", "> ") == "a\\u001b\n> b\\u2028c"


@given(st.text())
def test_escaped_json_is_still_exact_json(text: str) -> None:
    record = {"text": text, "name": HOSTILE + text}
    shown = terminal(json.dumps(record, ensure_ascii=False))
    assert json.loads(shown) == record
    assert raw_unsafe(shown) == []


@given(st.text())
def test_line_never_leaves_a_raw_unsafe_character_or_surrogate(text: str) -> None:
    shown = line(text)
    assert raw_unsafe(shown) == []
    assert "\n" not in shown
    shown.encode("utf-8")  # no lone surrogate is left to break the output encoder


@pytest.mark.parametrize(
    "name",
    ["Alice\u202egnp.exe", "\u0430\u200dlice", "Bob\nAlice", "\x1b]0;x\x07", "a\u2066b", "\ufeffa"],
)
def test_profile_names_with_unsafe_characters_are_refused(name: str) -> None:
    with pytest.raises(InvalidMessage) as info:
        sign(KEY, seq=1, prev=None, ts=NOW, kind="profile", body={"name": name})
    assert info.value.reason is Reason.FORBIDDEN_CHARACTER
    assert "U+" in info.value.detail and "position" in info.value.detail


def test_names_posts_and_bios_that_stay_valid() -> None:
    name = sign(KEY, seq=1, prev=None, ts=NOW, kind="profile", body={"name": "Aspásia 🦉"})
    assert decode(name.raw).body["name"] == "Aspásia 🦉"
    bio = {"bio": "line one\nline two\u202e"}  # bios and posts: shown escaped, never refused
    assert sign(KEY, seq=2, prev=name.id, ts=NOW, kind="profile", body=bio).body == bio
    post = {"text": "a\n\tb\x1b[2J"}
    assert sign(KEY, seq=1, prev=None, ts=NOW, kind="post", body=post).text == post["text"]
    detail = display.name_problem("ab\u200dc")
    assert detail == "U+200D at position 2"


@pytest.mark.parametrize(
    "lookalike",
    [
        "alice",
        "Alice",
        "ALICE",
        "\u0430lice",  # Cyrillic a
        "\u0410LICE",  # Cyrillic A
        "a\u200dlice",  # zero-width joiner (old data; refused today)
        "alicé",
        "a1ice",
        "aIice",  # capital i
        "\uff41\uff4c\uff49\uff43\uff45",  # fullwidth
        "\U0001d41a\U0001d425\U0001d422\U0001d41c\U0001d41e",  # mathematical bold
        "  alice ",
        "\u0391lice",  # Greek capital alpha
        "al\u0456ce",  # Cyrillic i
        "a.lice!",
        "Alice \U0001f989",
        f"Alice ({fingerprint(ALICE)})",  # a copied fingerprint
        "Alice (pnyx1qqqq…zzzz)",
        # issue 23, item 5: other scripts, through the full UTS #39 table
        "\ua4ee\ua4e1\ua4f2\ua4da\ua4f0",  # Lisu A L I C E
        "ali\u03f2e",  # Greek lunate sigma (NFKD would make it a plain sigma)
        "\u13aalice",  # Cherokee A
        "\u1d00lice",  # Latin small capital A
    ],
)
def test_skeleton_folds_look_alikes_together(lookalike: str) -> None:
    assert skeleton(lookalike) == skeleton("alice") == "allce"


def test_skeleton_keeps_different_names_apart() -> None:
    assert skeleton("alice") != skeleton("alina")
    assert skeleton("Aspasia") != skeleton("Pericles")
    assert skeleton("rnallory") == skeleton("mallory")
    assert skeleton("") == "" and skeleton("\u200b\u200d") == ""
    assert skeleton("日本") == "日本"
    assert skeleton("\U0001f989") == "" and skeleton("Alice Smith") != skeleton("Alice")


def test_fingerprint_keeps_both_ends_of_the_key_text() -> None:
    text = encode_public_key(ALICE)
    assert fingerprint(ALICE) == f"{text[:9]}…{text[-4:]}"
    assert fingerprint(ALICE) != fingerprint(MALLORY)


def test_names_label_with_fingerprint_and_mark_look_alikes() -> None:
    names = Names({ME: "Aspasia", ALICE: "Alice", MALLORY: None})
    assert names.label(ALICE, "Alice") == f"Alice ({fingerprint(ALICE)})"
    assert names.label(MALLORY, None) == fingerprint(MALLORY)
    impostor = bytes([9]) * 32
    assert names.lookalike(impostor, "\u0430lice") == display.Lookalike(ALICE, "Alice")
    assert names.label(impostor, "\u0430lice") == (
        f"\u0430lice ({fingerprint(impostor)}) [look-alike of Alice ({fingerprint(ALICE)})]"
    )
    assert names.mark(impostor, "ASPASIA").startswith(" [look-alike of Aspasia")
    assert names.lookalike(impostor, "Bob") is None
    assert names.lookalike(ALICE, "Alice") is None  # the same key is no look-alike
    assert names.label(impostor, "A\nB") == f"A\\u000aB ({fingerprint(impostor)})"


IMPOSTORS = {
    "\ua4ee\ua4e1\ua4f2\ua4da\ua4f0": "look-alike",  # Lisu, all one script
    "ali\u03f2e": "look-alike",  # Greek lunate sigma
    "\u13aalice": "look-alike",  # Cherokee
    "\u1d00lice": "look-alike",  # Latin small capital
    "\u2c81lice": "mixed scripts: Coptic, Latin",  # Coptic alfa: no Latin prototype in UTS #39
    "\u0430lice": "look-alike",  # Cyrillic a
}


@pytest.mark.parametrize("impostor", sorted(IMPOSTORS))
def test_every_impostor_of_a_followed_alice_is_marked(impostor: str) -> None:
    names = Names({ALICE: "alice"})
    label = names.label(bytes(32), impostor)
    assert IMPOSTORS[impostor] in label, label
    assert "[" in names.mark(bytes(32), impostor)


def test_mixed_scripts_are_marked_single_scripts_and_cjk_mixes_are_not() -> None:
    from pnyx.core.scripts import mixed_scripts

    assert mixed_scripts("\u2c81lice") == ["Coptic", "Latin"]
    assert mixed_scripts("\u0430lice") == ["Cyrillic", "Latin"]
    greek, cyrillic = "\u0391\u03bb\u03af\u03ba\u03b7", "\u0410\u043b\u0438\u0441\u0430"
    japanese = "\u30a2\u30ea\u30b9 alice"
    for fine in ("alice", greek, cyrillic, japanese, "\u65e5\u672c", "a 4 \U0001f989"):
        assert mixed_scripts(fine) is None, fine
    names = Names({})
    assert names.mark(bytes(32), "Alice") == ""
    assert names.mark(bytes(32), "\u2c81lice") == " [mixed scripts: Coptic, Latin]"
