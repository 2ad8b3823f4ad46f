"""Generate tests/vectors/invites.json: known-answer vectors for invite text (docs/protocol.md,
"Invites").

Run ``.venv/bin/python tests/vectors/make_invite_vectors.py`` after a deliberate change to the
format; the output is deterministic, and tests/test_invite_format.py fails if the committed file
differs from what this script produces. Valid vectors give the text and what it holds; invalid
ones give the text and the exact one-line reason ``parse_invite`` raises.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from pnyx.crypto import bech32
from pnyx.crypto.invite import INVITE_HRP, Invite, encode_invite, parse_invite
from pnyx.errors import BadInviteError

OUTPUT = Path(__file__).with_name("invites.json")

KEY = bytes(range(32))
PEER = "12D3KooWGzh8Ks4Ud4jfZnzmjRWwV9RzT1cZjbkEUqfLjaYxBmE3"
RELAY = "12D3KooWRBhwfeP2Y4TCx1SM6s9rUoHhR5STiGwxBhgFRcw3UERE"


def _raw(payload: bytes) -> str:
    """``payload`` as invite text with a valid checksum (for vectors whose payload is bad)."""
    return bech32.encode_groups(INVITE_HRP, bech32.to_groups(payload), max_length=10_000)


def _valid() -> list[dict[str, Any]]:
    invites = {
        "key only": Invite(KEY, None, ()),
        "petname and one address": Invite(KEY, "alice", (f"/ip4/203.0.113.7/tcp/4717/p2p/{PEER}",)),
        "unicode petname, ip6, dns and relayed addresses": Invite(
            KEY,
            "Zoë 🌿",
            (
                f"/ip6/2001:db8::7/tcp/4717/p2p/{PEER}",
                f"/dns4/pnyx.example.org/tcp/4717/p2p/{PEER}",
                f"/ip4/198.51.100.4/tcp/4717/p2p/{RELAY}/p2p-circuit/p2p/{PEER}",
            ),
        ),
    }
    return [
        {
            "name": name,
            "text": encode_invite(invite),
            "key": invite.key.hex(),
            "petname": invite.petname,
            "addresses": list(invite.addresses),
        }
        for name, invite in invites.items()
    ]


def _invalid(good: str) -> list[dict[str, str]]:
    head = bytes([1, *KEY])
    texts = {
        "wrong prefix": bech32.encode("pnyxinw", bytes(33)),
        "a key, not an invite": bech32.encode("pnyx", KEY),
        "bad checksum": good[:-1] + ("q" if good[-1] != "q" else "p"),
        "mixed case": good[:10].upper() + good[10:],
        "unknown version": _raw(bytes([2, *KEY, 0, 0])),
        "truncated in the key": _raw(bytes([1, *KEY[:20]])),
        "truncated in an address": _raw(head + bytes([0, 1, 30, 4, 127, 0])),
        "too many addresses": _raw(head + bytes([0, 9])),
        "not a multiaddr": _raw(head + bytes([0, 1, 3, 0xFF, 0xFF, 0xFF])),
        "address without /p2p/": _raw(head + bytes([0, 1, 8, 4, 127, 0, 0, 1, 6, 0x12, 0x6D])),
        "petname not UTF-8": _raw(head + bytes([2, 0xC3, 0x28, 0])),
        "trailing bytes": _raw(head + bytes([0, 0, 7])),
    }
    out = []
    for name, text in texts.items():
        try:
            parse_invite(text)
        except BadInviteError as exc:
            out.append({"name": name, "text": text, "error": str(exc)})
        else:
            raise AssertionError(f"invalid vector {name!r} parses")
    return out


def build() -> dict[str, Any]:
    valid = _valid()
    return {
        "format": "pnyx invite v1 (docs/protocol.md, Invites)",
        "valid": valid,
        "invalid": _invalid(valid[1]["text"]),
    }


def main() -> int:
    OUTPUT.write_text(json.dumps(build(), indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
