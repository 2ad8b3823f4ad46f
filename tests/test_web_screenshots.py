"""Screenshots of the web app's main pages, taken in a real browser against real nodes with some
content (issue 16: "save screenshots of the main pages from those tests in docs/ui/").

Each page is loaded, checked to render without a script or CSP error, and saved as a PNG: into
``$PNYX_SCREENSHOTS_DIR`` when set (``make screenshots`` sets it to ``docs/ui``: the README shows
those), else into the test's tmp dir. Skipped like the other browser tests without Chromium.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from tests.netharness import Cluster
from tests.test_web_browser import browser, cluster, open_page, pytestmark, sync_api

__all__ = ["browser", "cluster", "pytestmark"]  # the fixtures, shared with the other browser tests

#: Environment variable naming the directory the screenshots go to (default: the tmp dir).
SCREENSHOTS_ENV = "PNYX_SCREENSHOTS_DIR"
#: PNG file signature.
PNG = b"\x89PNG\r\n\x1a\n"


def screenshots_dir(tmp_path: Path) -> Path:
    """Where screenshots go: ``$PNYX_SCREENSHOTS_DIR`` (``make screenshots``) or the tmp dir."""
    out = Path(os.environ.get(SCREENSHOTS_ENV) or tmp_path / "ui")
    out.mkdir(parents=True, exist_ok=True)
    return out


def test_screenshots_of_the_main_pages(cluster: Cluster, browser: Any, tmp_path: Path) -> None:
    out = screenshots_dir(tmp_path)
    cluster.cli("a", "profile", "--name", "Aspasia", "--bio", "Teacher of rhetoric, Athens")
    cluster.cli("b", "profile", "--name", "Pericles", "--bio", "Speaker in the assembly")
    cluster.cli("a", "follow", cluster.key("b"))
    cluster.cli("b", "follow", cluster.key("a"))
    first = cluster.cli("b", "post", "The assembly meets at dawn on the Pnyx.").strip()
    cluster.cli("b", "post", "Whoever has advice for the city, let them speak.")
    cluster.cli("a", "post", "Speech first; the square belongs to no one.")
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = login_url.rsplit("/", 1)[0]
    problems: list[str] = []
    page = open_page(browser, problems, viewport={"width": 1100, "height": 760})
    page.goto(login_url)
    cluster.cli("a", "sync", b.address)  # b's posts and profile, before the pages are taken
    cluster.cli("a", "post", "And the stone is warm by noon.", "--reply-to", first[:12])
    cluster.cli("a", "like", first[:12])
    pages = {
        "timeline": "/timeline",
        "for-you": "/timeline?feed=for-you",
        "thread": f"/thread/{first}",
        "profile": f"/u/{cluster.key('b')}",
        "search": "/search?q=assembly",
        "notifications": "/notifications",
        "network": "/network",
        "feeds": "/feeds",
        "welcome": "/welcome",
        "why": f"/why/{first}?feed=for-you",
    }
    for name, path in pages.items():
        page.goto(base + path)
        sync_api.expect(page.locator("main")).to_be_visible()
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)
    phone = open_page(browser, problems, viewport={"width": 390, "height": 844})
    phone.goto(cluster.cli("a", "ui", "--no-browser").strip())
    phone.screenshot(path=str(out / "phone-timeline.png"), full_page=True)
    for name in [*pages, "phone-timeline"]:
        assert (out / f"{name}.png").read_bytes().startswith(PNG), name
    assert problems == []
