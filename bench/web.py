"""Benchmark 10, web: the web app's targets of issue 16, measured.

1. **Server time** of the timeline page on the timeline benchmark's store (``messages``
   messages; 1,000,000 with ``--size full``): ``GET /timeline`` (``following``, 20 posts)
   through the ASGI app in process (``httpx.ASGITransport`` under trio, store work in worker
   threads as in the node, heap frozen as the node does: the time the server spends, no socket),
   ``queries`` times after a warm-up; reference: ``Store.timeline`` of the same page in the
   same run. Target: p99 <= 50 ms. Also the for-you page (the node's kept trust, as the node
   serves it), for the record.
2. **Full load in the browser** (DOMContentLoaded) of the same page, served over loopback by
   Hypercorn as the node serves it (``pnyx.web.serve.serve_web`` in a thread) and loaded by
   Chromium (Playwright) ``loads`` times: ``domContentLoadedEventEnd`` of the navigation entry.
   Target: p99 <= 300 ms. Reference: the same for the logged-out page (no store read).
3. **Live arrival**: two real nodes (``pnyx run`` processes), A following B, A's timeline open in
   Chromium; B posts ``posts`` times; for each, the time from A's store committing the post
   (its ``received_ms``) to the page's "N new posts" bar changing (``Date.now()`` in the page,
   the same machine clock). Target: <= 1 s each.

Idle memory with the UI on is ``bench/footprint.py``'s (``idle_node_rss_mb``, target 150 MB).
Skips parts 2 and 3 (with a note) where Playwright or Chromium is missing.

Usage: ``python bench/web.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--followed N] [--queries N] [--loads N] [--posts N]``
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
from common import Result, latency_ms, log, spread
from datasets import Spec, timeline_home

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"messages": 3_000, "authors": 100, "followed": 20, "queries": 20, "loads": 5,
             "posts": 3},
    "quick": {"messages": 100_000, "authors": 1_000, "followed": 100, "queries": 50, "loads": 10,
              "posts": 5},
    "full": {"messages": 1_000_000, "authors": 10_000, "followed": 1_000, "queries": 50,
             "loads": 20, "posts": 10},
}  # fmt: skip
#: Targets (issue 16), in milliseconds.
TARGET_PAGE_MS, TARGET_DCL_MS, TARGET_LIVE_MS = 50.0, 300.0, 1000.0
#: Longest wait for one live arrival, in seconds.
LIVE_WAIT_S = 10.0
#: A port no test uses, for the in-process server (0: any free one).
PORT = 0
#: Unmeasured requests before each page's measured ones, a count.
WARMUP = 3


def run(params: dict[str, Any], cache: Path) -> Result:
    from pnyx.clock import wall_clock_ms
    from pnyx.node.trust_keeper import TrustSnapshot
    from pnyx.reads.trust import load_trust
    from pnyx.runtime import freeze_heap, freeze_long_lived_heap
    from pnyx.store import Store
    from pnyx.web.auth import TOKEN_FILE, TokenBook
    from pnyx.web.context import WebContext
    from pnyx.web.kept import keep_trust

    spec = Spec(messages=params["messages"], authors=params["authors"], followed=params["followed"])
    home, meta = timeline_home(spec, cache)
    me = bytes.fromhex(meta["me"])
    result = Result(name="web", params=params)
    with (
        tempfile.TemporaryDirectory() as scratch,
        Store.open(home / "pnyx.db", readonly=True) as store,
    ):
        ctx = WebContext(store=store, me=me, key=None, tokens=TokenBook(Path(scratch) / TOKEN_FILE))
        kept = load_trust(store, me)
        kept.score_map(), kept.trusted_keys()
        snapshot = TrustSnapshot(kept, wall_clock_ms(), incremental=False)
        freeze_long_lived_heap()  # as `pnyx run` does,
        freeze_heap()  # and its trust keeper after a full compute
        keep_trust(ctx, lambda: snapshot)  # as the node hands its kept trust to the web app
        log(f"web: store of {store.counts()['messages']:,} messages")
        _server_time(ctx, store, me, params["queries"], result)
        if _browser() is None:
            result.notes.append("no Chromium or Playwright: DOMContentLoaded and live not measured")
            return result
        _dom_loaded(ctx, params["loads"], result)
    _live(params["posts"], result)
    return result


def _server_time(ctx: Any, store: Any, me: bytes, runs: int, result: Result) -> None:
    """The pages through the ASGI app in this process (``httpx.ASGITransport`` under trio, the
    store work in worker threads as the node runs it): the server's own time, no socket."""
    import httpx
    import trio

    from pnyx.web.app import build_app

    ctx.port = 4718
    samples: dict[str, list[float]] = {}

    async def measure() -> None:
        transport = httpx.ASGITransport(app=build_app(ctx))
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4718") as c:
            await c.get(f"/login?code={ctx.codes.issue()}")
            for name, path in (("timeline_page", "/timeline?feed=following"),
                               ("for_you_page", "/timeline?feed=for-you")):  # fmt: skip
                times = []
                for n in range(WARMUP + runs):
                    start = time.perf_counter()
                    response = await c.get(path)
                    if response.status_code != 200 or "<article" not in response.text:
                        raise RuntimeError(f"GET {path}: {response.status_code}")
                    if n >= WARMUP:
                        times.append((time.perf_counter() - start) * 1000)
                samples[name] = times

    trio.run(measure)
    reference = latency_ms(lambda: store.timeline(me, limit=20), runs)
    result.figures.update(spread("timeline_page", samples["timeline_page"]))
    result.figures.update(spread("for_you_page", samples["for_you_page"]))
    result.reference.update(spread("store_timeline", reference))
    ref99 = result.reference["store_timeline_p99_ms"]
    result.ratios["timeline_page_p99_vs_store"] = result.figures["timeline_page_p99_ms"] / ref99
    result.target("timeline_page_p99", result.figures["timeline_page_p99_ms"], "<=",
                  TARGET_PAGE_MS, "ms")  # fmt: skip


def _browser() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return None
    return shutil.which("chromium") or shutil.which("chromium-browser")


def _serve_in_thread(ctx: Any) -> tuple[str, Any]:
    """The app served by Hypercorn on loopback in a trio thread, as the node serves it:
    (url, stop: a function that stops the server and joins the thread)."""
    import trio

    from pnyx.web.serve import serve_web

    ready: list[tuple[str, trio.lowlevel.TrioToken, trio.Event]] = []
    started = threading.Event()

    async def main() -> None:
        stop = trio.Event()
        async with trio.open_nursery() as nursery:
            url = await nursery.start(serve_web, ctx, "127.0.0.1", PORT)
            ready.append((url, trio.lowlevel.current_trio_token(), stop))
            started.set()
            await stop.wait()
            nursery.cancel_scope.cancel()

    thread = threading.Thread(target=trio.run, args=(main,), daemon=True)
    thread.start()
    started.wait(30)
    if not ready:
        raise RuntimeError("the web server did not start")
    url, token, stop = ready[0]

    def stopper() -> None:
        trio.from_thread.run_sync(stop.set, trio_token=token)
        thread.join(10)

    return url, stopper


def _dom_loaded(ctx: Any, loads: int, result: Result) -> None:
    from playwright.sync_api import sync_playwright

    url, stop = _serve_in_thread(ctx)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_browser(), args=["--no-sandbox"])
            page = browser.new_context().new_page()
            page.goto(f"{url}/login?code={ctx.codes.issue()}")

            def dcl(path: str) -> float:
                page.goto(url + path)
                return float(
                    page.evaluate(
                        "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                    )
                )

            for _ in range(3):
                dcl("/timeline?feed=following")
            timeline = [dcl("/timeline?feed=following") for _ in range(loads)]
            light = [dcl("/logged-out") for _ in range(loads)]
            browser.close()
    finally:
        stop()
    result.figures.update(spread("timeline_dom_loaded", timeline))
    result.reference.update(spread("logged_out_dom_loaded", light))
    result.ratios["timeline_dcl_p99_vs_logged_out"] = (
        result.figures["timeline_dom_loaded_p99_ms"]
        / result.reference["logged_out_dom_loaded_p99_ms"]
    )
    result.target("timeline_dom_loaded_p99", result.figures["timeline_dom_loaded_p99_ms"], "<=",
                  TARGET_DCL_MS, "ms")  # fmt: skip


_WATCH = """() => {
  window.__bars = [];
  const bar = document.getElementById('new-posts');
  const seen = () => { if (!bar.hidden) window.__bars.push([Date.now(), bar.textContent]); };
  const what = {attributes: true, childList: true, subtree: true, characterData: true};
  new MutationObserver(seen).observe(bar, what);
}"""


def _live(posts: int, result: Result) -> None:
    from playwright.sync_api import sync_playwright

    from pnyx.store import Store
    from tests.netharness import Cluster

    with tempfile.TemporaryDirectory() as base, Cluster(Path(base)) as cluster:
        cluster.cli("a", "follow", cluster.key("b"))
        a, b = cluster.start_many("a", "b")
        a.connect(b)
        login = cluster.cli("a", "ui", "--no-browser").strip()
        latencies: list[float] = []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=_browser(), args=["--no-sandbox"])
            page = browser.new_context().new_page()
            page.goto(login)
            page.wait_for_function("() => window.EventSource !== undefined")
            time.sleep(1.0)  # the page's live channel is open
            page.evaluate(_WATCH)
            for i in range(posts):
                post_id = bytes.fromhex(cluster.cli("b", "post", f"live {i}").strip())
                deadline = time.monotonic() + LIVE_WAIT_S
                while time.monotonic() < deadline:
                    bars = page.evaluate("window.__bars")
                    if len(bars) > i:
                        break
                    time.sleep(0.02)
                else:
                    raise RuntimeError(f"post {i} did not reach the page in {LIVE_WAIT_S} s")
                with Store.open(cluster.home("a") / "pnyx.db", readonly=True) as store:
                    held = store.get(post_id)
                if held is None:
                    raise RuntimeError("the post is not in A's store")
                latencies.append(float(bars[i][0]) - held.received_ms)
            browser.close()
    result.figures.update(spread("live_arrival", latencies))
    result.figures["live_arrival_max_ms"] = max(latencies)
    result.target("live_arrival_max", max(latencies), "<=", TARGET_LIVE_MS, "ms")


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("web", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
