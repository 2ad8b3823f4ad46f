"""The web app on a phone and from the keyboard, in Chromium (Playwright; skipped as
``tests/test_web_browser.py`` is): nothing overflows a 390x844 viewport on the timeline, a
thread and the compose form (screenshots in the test's tmp dir); a post and a follow made with
Tab, typing and Enter only, the focused control visibly outlined; every form control labelled."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.netharness import Cluster
from tests.test_web_browser import browser, cluster, open_page, pytestmark, sync_api

__all__ = ["browser", "cluster", "pytestmark"]

PHONE = {"width": 390, "height": 844}

#: Form controls (not hidden inputs) with no accessible name: no label, aria-label or text.
UNLABELLED = """() => Array.from(document.querySelectorAll(
    'input:not([type=hidden]), textarea, select, button')).filter(function (el) {
  if (el.hidden || el.closest('[hidden]')) return false;
  if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return false;
  if (el.tagName === 'BUTTON') return !el.textContent.trim();
  if (el.closest('label')) return false;
  return !(el.id && document.querySelector('label[for="' + el.id + '"]'));
}).map(function (el) { return el.outerHTML.slice(0, 120); })"""

OVERFLOW = "() => document.documentElement.scrollWidth - window.innerWidth"


def _check(page: Any, shot: Path) -> None:
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 0
    assert page.evaluate(OVERFLOW) <= 0, f"{page.url} overflows sideways (see {shot})"
    assert page.evaluate(UNLABELLED) == [], page.url


def test_phone_pages_do_not_overflow(cluster: Cluster, browser: Any, tmp_path: Path) -> None:
    cluster.cli("a", "post", "x" * 300)  # one unbroken word, longer than any phone is wide
    a = cluster.start("a")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = login_url.rsplit("/", 1)[0]
    problems: list[str] = []
    page = open_page(browser, problems, viewport=PHONE)
    page.goto(login_url)
    _check(page, tmp_path / "timeline.png")
    with page.expect_navigation():
        page.get_by_role("link", name="Reply").first.click()
    _check(page, tmp_path / "thread.png")
    page.locator("form.compose textarea").fill("y" * 400)  # the compose form, filled
    _check(page, tmp_path / "compose.png")
    for path in ("/follow", "/notifications", "/network", "/search", "/mutes", "/sessions"):
        page.goto(base + path)
        _check(page, tmp_path / f"{path.strip('/')}.png")
    assert problems == []
    assert "Traceback" not in a.stderr()


def _tab_to(page: Any, selector: str, limit: int = 60) -> None:
    """Press Tab until the element matching ``selector`` has the focus; its focus is drawn."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("(s) => document.activeElement.matches(s)", selector):
            style = page.evaluate("() => getComputedStyle(document.activeElement).outlineStyle")
            assert style == "solid", f"{selector} lacks app.css's focus outline ({style})"
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_post_and_follow_with_the_keyboard_only(cluster: Cluster, browser: Any) -> None:
    b_key = cluster.key("b")
    a = cluster.start("a")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    problems: list[str] = []
    page = open_page(browser, problems, viewport=PHONE)
    page.goto(login_url)
    _tab_to(page, "form.compose textarea")
    page.keyboard.type("typed, not clicked")
    _tab_to(page, "form.compose button[type=submit]")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    sync_api.expect(page.locator("article .text").first).to_have_text("typed, not clicked")
    _tab_to(page, 'header nav a[href="/follow"]')
    with page.expect_navigation():
        page.keyboard.press("Enter")
    _tab_to(page, "input[name=key]")
    page.keyboard.type(b_key)
    with page.expect_navigation():
        page.keyboard.press("Enter")  # submits the form
    page.goto(login_url.rsplit("/", 1)[0] + "/u/" + b_key)
    sync_api.expect(page.locator("button.unfollow")).to_be_visible()
    assert problems == []
    assert "Traceback" not in a.stderr()
