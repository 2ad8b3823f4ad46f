"""Community notes in a real browser (Playwright driving the system's Chromium) against two real
nodes: a adds a note on b's post from its thread page, then rates the note b wrote on a's post,
with no Content-Security-Policy violation or script error on the way; the thread with its notes
is saved as ``notes.png`` (in ``docs/ui`` under ``make screenshots``).

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


def test_a_browser_adds_and_rates_notes(cluster: Cluster, browser: Any, tmp_path: Path) -> None:
    cluster.cli("a", "profile", "--name", "Aspasia")
    cluster.cli("b", "profile", "--name", "Pericles")
    cluster.cli("a", "follow", cluster.key("b"))
    cluster.cli("b", "follow", cluster.key("a"))
    mine = cluster.cli("a", "post", "The Pnyx seats six thousand citizens.").strip()
    theirs = cluster.cli("b", "post", "The assembly always meets at noon.").strip()
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    cluster.cli("b", "sync", a.address)  # b holds a's post, so it can add a note to it
    cluster.cli("b", "note", mine[:12], "Estimates for the 5th century BC are nearer 6,000.")
    cluster.cli("a", "sync", b.address)  # a holds b's post and b's note
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = login_url.rsplit("/", 1)[0]
    problems: list[str] = []
    page = open_page(browser, problems, viewport={"width": 1100, "height": 900})
    page.goto(login_url)

    page.goto(f"{base}/thread/{theirs}")
    notes = page.locator(f"#notes-{theirs}")
    sync_api.expect(notes.locator("p.empty")).to_have_text("No notes on this post yet.")
    notes.get_by_label("Note text").fill("Meetings began at dawn: <b>sources</b> say so.")
    notes.get_by_label("says the post is misleading", exact=True).check()
    with page.expect_navigation():
        notes.get_by_role("button", name="Add note").click()
    note = page.locator(f"#notes-{theirs} article.note")
    sync_api.expect(note.locator("p.text")).to_have_text(
        "Meetings began at dawn: <b>sources</b> say so."
    )
    sync_api.expect(note.locator(".own")).to_be_visible()
    sync_api.expect(note.locator(".status")).to_have_text("needs more ratings")

    page.goto(f"{base}/thread/{mine}")
    theirs_note = page.locator(f"#notes-{mine} article.note")
    sync_api.expect(theirs_note.locator(".who")).to_have_text("Pericles")
    sync_api.expect(page.locator(f"#notes-{mine} form.add-note")).to_have_count(0)  # own post
    theirs_note.get_by_label("somewhat").check()
    with page.expect_navigation():
        theirs_note.get_by_role("button", name="Rate").click()
    rated = page.locator(f"#notes-{mine} article.note")
    sync_api.expect(rated.locator(".your-rating")).to_have_text("You rated it: somewhat")
    shots = screenshots_dir(tmp_path)
    page.screenshot(path=str(shots / "notes.png"), full_page=True)
    assert (shots / "notes.png").read_bytes().startswith(b"\x89PNG")
    assert problems == []
    assert "Traceback" not in a.stderr()
