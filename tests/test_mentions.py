"""The ``mentions`` table of the post kind (pnyx.core.kinds.mentions): which key texts and
fingerprints a post's text names, and that an older store gets the table filled on open."""

from __future__ import annotations

from pathlib import Path

from pnyx.core.display import fingerprint
from pnyx.core.kinds.mentions import MAX_MENTIONS_PER_POST, needles
from pnyx.crypto.keytext import encode_public_key
from pnyx.reads.notify import notifications
from pnyx.store import Store
from tests.store_helpers import Feed, key, pub

ME = pub(key(1))
TEXT, SHORT = encode_public_key(ME), fingerprint(ME)


def test_key_texts_and_fingerprints_found_wherever_they_start() -> None:
    assert needles(f"hi {TEXT}!") == [TEXT]
    assert needles(f"hi {SHORT}.") == [SHORT]
    assert needles(f"x{TEXT}{TEXT}y {SHORT}") == [TEXT, SHORT]  # each once, glued text too
    assert needles("pnyx1 pnyx1abc pnyx1qv9x…8x7 no") == []
    assert needles(TEXT[:-1]) == [] and needles(TEXT.upper()) == []
    many = " ".join(encode_public_key(bytes([i]) * 32) for i in range(100))
    assert len(needles(many)) == MAX_MENTIONS_PER_POST


def test_an_older_store_gets_the_mentions_of_posts_it_holds(tmp_path: Path) -> None:
    alice = Feed(key(2))
    alice.post(f"hello {SHORT}")
    alice.post("nobody named")
    with Store.open(tmp_path / "pnyx.db") as store:
        store.ingest_verified(alice.messages)
        store._conn.execute("DROP TABLE mentions")  # as a store written before the table
    with Store.open(tmp_path / "pnyx.db") as store:
        found = notifications(store, ME)
        assert [n.kind for n in found] == ["mention"]
        assert found[0].message.text == f"hello {SHORT}"
