"""``pnyx trust``, ``pnyx suggest`` and ``pnyx search`` through ``main(argv)``.

The user follows alice and bob (with ``pnyx follow``); alice follows carol and dave, bob follows
carol, and their messages are put straight into the user's store, as sync would.
"""

from __future__ import annotations

import json
import time

import pytest

from pnyx.crypto.keytext import encode_public_key
from pnyx.store import Store
from tests.conftest import Cli
from tests.store_helpers import Feed, key

ESC = "\x1b"


@pytest.fixture
def square(cli: Cli) -> dict[str, Feed]:
    cli.ok("init")
    now = time.time_ns() // 1_000_000
    f = {
        name: Feed(key(n), now - 100_000)
        for n, name in enumerate(("alice", "bob", "carol", "dave"), 1)
    }
    f["alice"].profile(name="Alice")
    f["bob"].profile(name="Bob")
    f["carol"].profile(name="Carol", bio=f"grows olives {ESC}]0;pwned{ESC}\\")
    f["alice"].follow(f["carol"].author)
    f["alice"].follow(f["dave"].author)
    f["bob"].follow(f["carol"].author)
    f["carol"].post("the olive harvest starts today")
    f["dave"].post("olive oil prices")
    with Store.open(cli.home / "pnyx.db") as store:
        report = store.ingest([raw for feed in f.values() for raw in feed.raws()], now)
        assert not report.rejected
    for name in ("alice", "bob"):
        cli.ok("follow", encode_public_key(f[name].author))
    return f


def test_trust_shows_score_hops_paths_and_signals(cli: Cli, square: dict[str, Feed]) -> None:
    carol = encode_public_key(square["carol"].author)
    shown = cli.ok("trust", carol)
    assert "Carol (pnyx1" in shown.lines[0]
    assert "2 hops away" in shown.out and "(rank 1)" in shown.out
    assert "followed by 2 you trust" in shown.out
    paths = [line for line in shown.lines if "→" in line]
    assert len(paths) == 2 and all(p.strip().startswith("you → ") for p in paths)
    assert {p.split(" → ")[1].split(" ")[0] for p in paths} == {"Alice", "Bob"}
    data = json.loads(cli.ok("trust", carol, "--json").out)
    assert data["key"] == carol and data["hops"] == 2 and data["known"] is True
    assert data["signals"]["followed_by_trusted"] == 2 and data["name"] == "Carol"
    assert len(data["paths"]) == 2 and all(p[-1] == carol for p in data["paths"])


def test_trust_of_a_stranger_and_of_a_bad_key(cli: Cli, square: dict[str, Feed]) -> None:
    stranger = encode_public_key(key(50).verify_key.encode())
    shown = cli.ok("trust", stranger)
    assert "not in your web of trust" in shown.out
    assert json.loads(cli.ok("trust", stranger, "--json").out)["known"] is False
    me = cli.ok("id").out.strip()
    assert "this is you" in cli.ok("trust", me).out
    assert json.loads(cli.ok("trust", me, "--json").out)["hops"] == 0
    bad = cli("trust", "pnyx1nope")
    assert bad.code == 2 and bad.err.count("\n") == 1 and "Traceback" not in bad.err


def test_suggest_lists_whom_to_follow_with_reasons(cli: Cli, square: dict[str, Feed]) -> None:
    rows = [json.loads(line) for line in cli.ok("suggest", "--json").lines]
    assert [r["name"] for r in rows] == ["Carol", None]  # dave has no profile
    assert rows[1]["key"] == encode_public_key(square["dave"].author)
    assert rows[0]["reason"] in (
        "followed by Alice and Bob, whom you follow",
        "followed by Bob and Alice, whom you follow",
    )
    assert rows[1]["reason"] == "followed by Alice, whom you follow"
    shown = cli.ok("suggest", "--limit", "1")
    assert "Carol (pnyx1" in shown.lines[0] and len(shown.lines) == 2
    assert "whom you follow · trust" in shown.lines[1] and "Alice (pnyx1" in shown.lines[1]
    assert cli("suggest", "--limit", "0").code == 2


def test_suggest_with_no_follows_says_so(cli: Cli) -> None:
    cli.ok("init")
    shown = cli.ok("suggest")
    assert shown.out == "" and "no suggestions yet" in shown.err


def test_search_finds_posts_and_people_and_escapes_their_text(
    cli: Cli, square: dict[str, Feed]
) -> None:
    shown = cli.ok("search", "olive*")
    assert ESC not in shown.out and "\\u001b" in shown.out  # carol's bio, escaped
    assert shown.lines[0].startswith("Carol (pnyx1")
    assert shown.out.index("olive harvest") < shown.out.index("olive oil")  # carol more trusted
    rows = [json.loads(line) for line in cli.ok("search", "olive*", "--json").lines]
    assert [r["match"] for r in rows] == ["profile", "post", "post"]
    assert rows[1]["text"] == "the olive harvest starts today" and rows[1]["score"] > 0
    dave = encode_public_key(square["dave"].author)
    only = [json.loads(x) for x in cli.ok("search", "olive", "--author", dave, "--json").lines]
    assert [r["text"] for r in only] == ["olive oil prices"]


def test_search_quirks_give_results_or_one_line(cli: Cli, square: dict[str, Feed]) -> None:
    assert "olive harvest" in cli.ok("search", '"olive', "harvest)").out
    assert "nothing here matches" in cli.ok("search", "zebra").err
    empty = cli("search", "   ")
    assert empty.code == 2 and empty.err.count("\n") == 1 and "query is empty" in empty.err
    long = cli("search", "x" * 300)
    assert long.code == 2 and "limit is 256" in long.err


def test_search_does_not_find_deleted_posts(cli: Cli) -> None:
    cli.ok("init")
    gone = cli.ok("post", "a regrettable olive joke").out.strip()
    cli.ok("post", "a fine olive joke")
    assert len(cli.ok("search", "olive", "--json").lines) == 2
    cli.ok("delete", gone)
    rows = [json.loads(line) for line in cli.ok("search", "olive", "--json").lines]
    assert [r["text"] for r in rows] == ["a fine olive joke"] and rows[0]["trust"] == 1.0
