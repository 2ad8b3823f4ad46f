"""Polls in a real browser (Playwright driving the system's Chromium) against a real node: ask a
poll from the polls page, vote on it, see the bar and "1 for you", with no Content-Security-Policy
violation or script error on the way; the page's screenshot is saved as ``polls.png`` (in
``docs/ui`` under ``make screenshots``). Then subscribe to a labeller from the labels page.

Skipped where Playwright or Chromium is not installed (as ``tests/test_web_browser.py``, whose
fixtures it reuses).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.netharness import Cluster
from tests.test_web_browser import browser, cluster, open_page, pytestmark, sync_api
from tests.test_web_screenshots import screenshots_dir

__all__ = ["browser", "cluster", "pytestmark"]  # the fixtures


def test_a_browser_asks_a_poll_and_votes(cluster: Cluster, browser: Any, tmp_path: Path) -> None:
    a = cluster.start("a")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems)
    page.goto(login_url)
    with page.expect_navigation():
        page.get_by_role("link", name="Polls").click()
    page.locator("#question").fill("Tea or <b>coffee</b>?")
    page.get_by_label("Option 1", exact=True).fill("tea")
    page.get_by_label("Option 2", exact=True).fill("coffee")
    page.locator("#open_for").select_option("3d")
    with page.expect_navigation():
        page.get_by_role("button", name="Ask").click()
    card = page.locator("article.poll")
    sync_api.expect(card.locator(".question")).to_have_text("Tea or <b>coffee</b>?")
    card.get_by_label("coffee").check()
    with page.expect_navigation():
        card.get_by_role("button", name="Vote").click()
    coffee = card.locator("li.option").nth(1)
    sync_api.expect(coffee.locator(".counts")).to_have_text("1 for you · 1 everyone")
    sync_api.expect(coffee.locator(".your-vote")).to_be_visible()
    assert coffee.locator("meter").get_attribute("value") == "1.0"
    assert page.locator("ul.poll-why li").first.inner_text().startswith("1 voter counted")
    page.goto(login_url.rsplit("/", 1)[0] + "/polls")
    shots = screenshots_dir(tmp_path)
    page.screenshot(path=str(shots / "polls.png"), full_page=True)

    labeller = cluster.key("b")
    with page.expect_navigation():
        page.get_by_role("link", name="Labels").click()
    page.locator("#labeller-key").fill(labeller)
    page.locator("#labeller-hide").fill("nsfw")
    with page.expect_navigation():
        page.get_by_role("button", name="Subscribe").click()
    entry = page.locator("li.labeller")
    sync_api.expect(entry.locator("code.key")).to_have_text(labeller)
    sync_api.expect(entry.locator(".actions-list")).to_contain_text("nsfw: hide")
    assert problems == []
    assert "Traceback" not in a.stderr()
