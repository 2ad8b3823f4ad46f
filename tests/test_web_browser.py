"""The web UI in a real browser (Playwright driving the system's Chromium) against real nodes:
log in with `pnyx ui`'s link, the byte counter, posting, the "N new posts" bar when a followed
author posts, follow and unfollow from a profile, search, the for-you feed and a post's "why",
the offline notice, the welcome page (name, passphrase, a first follow), subscribing to a
published recipe by hash and reading its feed, and no
Content-Security-Policy violation or script error on the way. One browser serves the module;
each test opens its own context (cookies) and page.

Skipped where Playwright or Chromium is not installed (``apt-get install chromium``, ``pip
install playwright``; Playwright's own browser download is not needed).
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pnyx.core.limits import MAX_TEXT_BYTES
from tests.netharness import Cluster, cli
from tests.waiting import wait_until

sync_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

#: Longest wait for something to show on the page, in milliseconds.
PAGE_TIMEOUT_MS = 15_000

pytestmark = [
    pytest.mark.network,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine"),
]


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """One Chromium for the module (starting one takes about a second)."""
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield launched
        finally:
            launched.close()


def open_page(browser: Any, problems: list[str], **options: Any) -> Any:
    """A page in a fresh context (no cookies) that records console errors in ``problems``."""
    page = browser.new_context(**options).new_page()
    page.set_default_timeout(PAGE_TIMEOUT_MS)
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return page


def test_a_browser_logs_in_posts_and_hears_of_new_posts(cluster: Cluster, browser: Any) -> None:
    cluster.cli("a", "follow", cluster.key("b"))
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems, viewport={"width": 390, "height": 844})  # a phone
    page.goto(login_url)
    assert page.url.endswith("/timeline")

    box = page.locator("form.compose textarea")
    counter = page.locator("form.compose .counter")
    button = page.locator("form.compose button[type=submit]")
    box.fill("héllo")
    sync_api.expect(counter).to_have_text(f"6 / {MAX_TEXT_BYTES} bytes")
    box.fill("é" * (MAX_TEXT_BYTES // 2 + 1))
    sync_api.expect(button).to_be_disabled()
    box.fill("posted from <b>a browser</b>")
    sync_api.expect(button).to_be_enabled()
    with page.expect_navigation():
        button.click()
    assert page.url.endswith("/timeline")
    sync_api.expect(page.locator("article .text").first).to_have_text(
        "posted from <b>a browser</b>"
    )

    page.wait_for_function("() => window.EventSource !== undefined")
    cluster.cli("b", "post", "news from b")
    bar = page.locator("#new-posts")
    sync_api.expect(bar).to_be_visible(timeout=2000)  # issue 16: live within 2 s
    sync_api.expect(bar).to_have_text("1 new post")
    assert "news from b" not in page.content()  # the list did not move by itself
    bar.locator("a").click()
    sync_api.expect(page.locator("article .text").first).to_have_text("news from b")
    assert problems == []


def test_a_reply_raises_the_unread_count_on_the_network_page(
    cluster: Cluster, browser: Any
) -> None:
    cluster.cli("a", "follow", cluster.key("b"))
    cluster.cli("b", "follow", cluster.key("a"))
    root = cluster.cli("a", "post", "a root").strip()
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    wait_until(
        lambda: cli(cluster.home("b"), "thread", root)[0] == 0,
        timeout=PAGE_TIMEOUT_MS / 1000,
        what="b holds a's post",
    )
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems)
    page.goto(login_url)
    page.goto(login_url.rsplit("/", 1)[0] + "/network")
    badge = page.locator("#unread")
    sync_api.expect(badge.locator(".unread-n")).to_have_text("1")  # b follows a
    page.wait_for_function("() => window.EventSource !== undefined")
    cluster.cli("b", "post", "--reply-to", root, "a reply from b")
    sync_api.expect(badge.locator(".unread-n")).to_have_text("2")  # no reload: recounted live
    assert page.url.endswith("/network")
    assert problems == []
    assert "Traceback" not in a.stderr()


def test_a_browser_replies_likes_deletes_and_follows(cluster: Cluster, browser: Any) -> None:
    a = cluster.start("a")
    cluster.cli("a", "post", "the root")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems)
    page.goto(login_url)
    with page.expect_navigation():
        page.get_by_role("link", name="Reply").first.click()
    page.locator("form.compose textarea").fill("a reply")
    with page.expect_navigation():
        page.locator("form.compose button[type=submit]").click()
    sync_api.expect(page.locator("article.depth-1 .text")).to_have_text("a reply")
    with page.expect_navigation():
        page.locator("article.depth-0 button.like").click()
    tally = page.locator("article.depth-0 .tally")
    sync_api.expect(tally).to_have_text("1 like, you liked this · 0 reposts")
    with page.expect_navigation():  # the button is now Unlike
        page.locator("article.depth-0").get_by_role("button", name="Unlike").click()
    sync_api.expect(tally).to_have_text("0 likes · 0 reposts")
    with page.expect_navigation():
        page.locator("article.depth-1 button.delete").click()
    sync_api.expect(page.locator("article .text")).to_have_count(1)  # the reply is gone

    page.goto(login_url.rsplit("/", 1)[0] + "/follow")
    page.locator("input[name=key]").fill("pnyx1notakey")
    with page.expect_navigation():
        page.get_by_role("button", name="Follow").click()
    sync_api.expect(page.locator("#key-error")).to_be_visible()
    sync_api.expect(page.locator("input[name=key]")).to_have_value("pnyx1notakey")
    assert [p for p in problems if "status of 400" not in p] == []  # the refused key
    assert "Traceback" not in a.stderr()


def test_a_browser_follows_and_unfollows_from_a_profile_searches_and_asks_why(
    cluster: Cluster, browser: Any
) -> None:
    a = cluster.start("a")
    cluster.cli("a", "post", "zebras cross the savanna")
    cluster.cli("a", "post", "nothing to see")
    b_key = cluster.key("b")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = login_url.rsplit("/", 1)[0]
    problems: list[str] = []
    page = open_page(browser, problems, permissions=["clipboard-read", "clipboard-write"])
    page.goto(login_url)
    sync_api.expect(page.locator(".onboarding")).to_be_visible()  # following nobody yet

    page.goto(f"{base}/u/{b_key}")
    sync_api.expect(page.locator("#profile-key")).to_have_text(b_key)
    copy = page.locator("button.copy")  # hidden without app.js, shown by it
    copy.click()
    sync_api.expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == b_key
    with page.expect_navigation():
        page.get_by_role("button", name="Follow", exact=True).click()
    sync_api.expect(page.get_by_role("button", name="Unfollow")).to_be_visible()
    assert cluster.cli("a", "following").strip().endswith(b_key)
    with page.expect_navigation():
        page.get_by_role("button", name="Unfollow").click()
    sync_api.expect(page.get_by_role("button", name="Follow", exact=True)).to_be_visible()

    page.goto(f"{base}/search")
    page.locator("#q").fill("zebras")
    with page.expect_navigation():
        page.get_by_role("button", name="Search").click()
    results = page.locator(".results article .text")
    sync_api.expect(results).to_have_count(1)
    sync_api.expect(results).to_have_text("zebras cross the savanna")

    page.goto(f"{base}/timeline")
    with page.expect_navigation():
        page.locator("nav.feeds").get_by_role("link", name="for-you").click()
    assert page.url.endswith("/timeline?feed=for-you")
    sync_api.expect(page.locator(".ranked-note")).to_contain_text("refresh to re-rank")
    sync_api.expect(page.locator("article .score")).to_have_count(2)
    with page.expect_navigation():
        page.get_by_role("link", name="why am I seeing this?").first.click()
    sync_api.expect(page.locator("p.source")).to_contain_text("in-network")
    sync_api.expect(page.locator("table.terms tbody tr")).not_to_have_count(0)
    sync_api.expect(page.locator("table.terms td.score")).to_be_visible()
    assert problems == []
    assert "Traceback" not in a.stderr()


def test_a_post_written_without_peers_says_it_will_be_sent(cluster: Cluster, browser: Any) -> None:
    a = cluster.start("a")  # alone: no peer, no discovery
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems, viewport={"width": 390, "height": 844})
    page.goto(login_url)
    page.locator("form.compose textarea").fill("written offline")
    with page.expect_navigation():
        page.locator("form.compose button[type=submit]").click()
    first = page.locator("article").first
    sync_api.expect(first.locator(".text")).to_have_text("written offline")
    sync_api.expect(first.locator(".queued")).to_have_text("will be sent when connected")
    page.goto(login_url.rsplit("/", 1)[0] + "/network")
    sync_api.expect(page.locator(".offline")).to_be_visible()
    sync_api.expect(page.locator("#sync-progress")).to_be_visible()
    assert problems == []
    assert "Traceback" not in a.stderr()


def test_a_browser_mutes_an_author_from_a_profile(cluster: Cluster, browser: Any) -> None:
    """On a followed author's profile, Mute: their post leaves the timeline; the Muted and
    blocked page lists them, and Unmute there brings the post back."""
    cluster.cli("a", "follow", cluster.key("b"))
    cluster.cli("b", "post", "a post by b to be muted")
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    b_key = cluster.key("b")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = login_url.rsplit("/", 1)[0]
    problems: list[str] = []
    page = open_page(browser, problems)
    page.goto(login_url)
    texts = page.locator("article .text")
    for _ in range(30):  # b's post arrives by sync after the connection
        if "a post by b to be muted" in texts.all_text_contents():
            break
        page.wait_for_timeout(500)
        page.reload()
    sync_api.expect(texts.first).to_have_text("a post by b to be muted")

    page.goto(f"{base}/u/{b_key}")
    with page.expect_navigation():
        page.get_by_role("button", name="Mute", exact=True).click()
    sync_api.expect(page.locator(".you-moderate")).to_contain_text("You mute this key")
    page.goto(f"{base}/timeline")
    assert "a post by b to be muted" not in texts.all_text_contents()

    with page.expect_navigation():
        page.get_by_role("link", name="Muted and blocked").click()
    sync_api.expect(page.locator("ul.moderated li")).to_have_count(1)
    with page.expect_navigation():
        page.get_by_role("button", name="Unmute").click()
    page.goto(f"{base}/timeline")
    sync_api.expect(texts.first).to_have_text("a post by b to be muted")
    assert problems == []
    assert "Traceback" not in a.stderr()


def test_a_new_user_walks_through_the_welcome_page(cluster: Cluster, browser: Any) -> None:
    """The first run: the timeline's onboarding box leads to the welcome page, which shows the
    key, sets a name, protects the key file (the node keeps posting), and follows a first
    person after an inline error for a bad key."""
    from pnyx.crypto.keyfile import is_encrypted, load_identity

    a = cluster.start("a")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems, viewport={"width": 390, "height": 844})
    page.goto(login_url)
    with page.expect_navigation():
        page.locator(".onboarding a[href='/welcome']").click()
    sync_api.expect(page.locator("#welcome-key")).to_have_text(cluster.key("a"))
    sync_api.expect(page.locator("button[data-copy=welcome-key]")).to_be_visible()
    page.locator("#welcome-name").fill("Aspasia")
    with page.expect_navigation():
        page.locator("#name button[type=submit]").click()
    sync_api.expect(page.locator("#welcome-name")).to_have_value("Aspasia")
    page.locator("#welcome-passphrase").fill("correct horse")
    page.locator("#welcome-confirm").fill("correct horse")
    with page.expect_navigation():
        page.locator("#passphrase button[type=submit]").click()
    sync_api.expect(page.locator("#passphrase .done")).to_contain_text("now encrypted")
    key_path = cluster.home("a") / "identity.key"
    assert is_encrypted(key_path) and load_identity(key_path, b"correct horse")
    page.locator("#welcome-follow").fill("pnyx1notakey")
    with page.expect_navigation():
        page.locator("#follow button[type=submit]").click()
    sync_api.expect(page.locator("#follow-error")).to_be_visible()
    sync_api.expect(page.locator("#welcome-follow")).to_have_value("pnyx1notakey")
    page.locator("#welcome-follow").fill(cluster.key("b"))
    with page.expect_navigation():
        page.locator("#follow button[type=submit]").click()
    sync_api.expect(page.locator("#follow .done")).to_be_visible()
    page.goto(login_url.rsplit("/", 1)[0] + "/timeline")
    page.locator("form.compose textarea").fill("after the passphrase")
    with page.expect_navigation():
        page.locator("form.compose button[type=submit]").click()
    sync_api.expect(page.locator("article").first.locator(".text")).to_have_text(
        "after the passphrase"
    )
    assert [p for p in problems if "status of 400" not in p] == []  # the refused key
    assert "Traceback" not in a.stderr()


def test_a_browser_subscribes_to_a_published_recipe_and_reads_its_feed(
    cluster: Cluster, browser: Any
) -> None:
    cluster.cli("a", "follow", cluster.key("b"))
    cluster.cli("b", "post", "before the recipe")
    (cluster.home("b") / "recipes").mkdir(exist_ok=True)
    (cluster.home("b") / "recipes" / "buzz.toml").write_text(
        'name = "buzz"\n[terms.recency]\nweight = 1\nhalf_life_hours = 3\n', encoding="utf-8"
    )
    recipe_hash = cluster.cli("b", "recipes", "publish", "buzz").splitlines()[0].split()[-1]
    last = cluster.cli("b", "post", "after the recipe").strip()
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    wait_until(
        lambda: cli(cluster.home("a"), "thread", last)[0] == 0,
        timeout=PAGE_TIMEOUT_MS / 1000,
        what="a holds b's recipe and posts",
    )
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = login_url.rsplit("/", 1)[0]
    problems: list[str] = []
    page = open_page(browser, problems)
    page.goto(login_url)
    page.goto(f"{base}/feeds")
    page.locator("#hash").fill("ab" * 32)  # no such recipe here: said beside the field
    with page.expect_navigation():
        page.get_by_role("button", name="Subscribe").click()
    sync_api.expect(page.locator("#hash-error")).to_contain_text("no published recipe")
    page.locator("#hash").fill(recipe_hash)
    with page.expect_navigation():
        page.get_by_role("button", name="Subscribe").click()
    sync_api.expect(page.locator("p.note")).to_contain_text("Subscribed to buzz")
    sync_api.expect(page.locator("dl.feeds")).to_contain_text(f"published by {cluster.key('b')}")

    page.goto(f"{base}/timeline")
    with page.expect_navigation():
        page.locator("nav.feeds").get_by_role("link", name="buzz").click()
    assert page.url.endswith("/timeline?feed=buzz")
    texts = page.locator("article .text")
    sync_api.expect(texts).to_have_text(["after the recipe", "before the recipe"])  # newer first
    assert [p for p in problems if "status of 400" not in p] == []  # the unknown hash
    assert "Traceback" not in a.stderr()
