"""The first run of a real ``pnyx run`` process on a fresh home (no identity file): it prints a
one-time login link; Chromium (Playwright, the system's browser) logs in with it, creates an
identity with a passphrase, is taken to the node's welcome page by the "starting your node…"
page, and posts from the timeline; the key file is encrypted. SIGINT during the first run stops
with status 0 and writes no key. The create page's screenshot is kept in the test's tmp dir.

The browser test is skipped where Playwright or Chromium is not installed.
"""

from __future__ import annotations

import re
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from pnyx.crypto.keyfile import is_encrypted, read_public_key
from pnyx.crypto.keytext import encode_public_key
from tests.netharness import NodeProcess
from tests.waiting import wait_until

#: Longest wait for the first run's login link, in seconds.
LINK_TIMEOUT_S = 30.0
#: Longest wait for something to show on the page, in milliseconds (the node starts meanwhile).
PAGE_TIMEOUT_MS = 30_000
#: The login link ``pnyx run`` prints on a first run.
LINK = re.compile(r"http://127\.0\.0\.1:\d+/login\?code=[A-Za-z0-9_-]+")

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

pytestmark = pytest.mark.network


@pytest.fixture
def fresh(tmp_path: Path) -> Iterator[NodeProcess]:
    node = NodeProcess.spawn("new", tmp_path / "home", tmp_path / "logs", "--no-dht")
    try:
        yield node
    finally:
        if node.proc.poll() is None:
            node.proc.kill()
            node.proc.wait()
        print(node.logs())


def login_link(node: NodeProcess) -> str:
    def printed() -> str | None:
        if node.proc.poll() is not None:
            raise AssertionError(f"pnyx run exited ({node.proc.returncode}):\n{node.logs()}")
        found = LINK.search(node.stdout())
        return found.group(0) if found else None

    return wait_until(printed, timeout=LINK_TIMEOUT_S, what="the first run's login link")


def test_sigint_during_the_first_run_stops_cleanly(fresh: NodeProcess) -> None:
    login_link(fresh)
    assert fresh.stop(signal.SIGINT) == 0
    assert not (fresh.home / "identity.key").exists()
    assert "stopped" in fresh.stdout()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on this machine")
def test_a_new_user_creates_an_identity_in_the_browser_and_posts(
    fresh: NodeProcess, tmp_path: Path
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    link = login_link(fresh)
    problems: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page: Any = browser.new_context().new_page()
            page.set_default_timeout(PAGE_TIMEOUT_MS)
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: problems.append(str(exc)))
            page.goto(link)
            assert page.url.endswith("/first-run")
            sync_api.expect(page.locator("h1")).to_have_text("Create your identity")
            page.screenshot(path=str(tmp_path / "first-run.png"), full_page=True)

            page.fill("#first-passphrase", "olive grove")
            page.fill("#first-confirm", "olive grove, typo")
            page.click("button[type=submit]")
            sync_api.expect(page.locator("#create-error")).to_contain_text("differ")
            assert not (fresh.home / "identity.key").exists()

            page.fill("#first-passphrase", "olive grove")
            page.fill("#first-confirm", "olive grove")
            page.click("button[type=submit]")
            page.wait_for_url(re.compile(r".*/welcome$"))  # the node's own page, same session
            key = encode_public_key(read_public_key(fresh.home / "identity.key"))
            sync_api.expect(page.locator("#welcome-key")).to_have_text(key)

            page.goto(page.url.replace("/welcome", "/timeline"))
            page.fill("form.compose textarea", "my first post, from the browser")
            with page.expect_navigation():
                page.click("form.compose button[type=submit]")
            sync_api.expect(page.locator("article .text").first).to_have_text(
                "my first post, from the browser"
            )
        finally:
            browser.close()
    assert is_encrypted(fresh.home / "identity.key")
    assert fresh.stop(signal.SIGINT) == 0
    # the "starting" page's 503 answers and refused retries are expected; nothing else
    assert [p for p in problems if "Failed to load resource" not in p] == []
