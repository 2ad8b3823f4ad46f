"""The web UI of a real ``pnyx run`` process: `pnyx ui` prints a one-time login link that opens a
browser session; the API takes a token made by `pnyx token create`; the guard works over HTTP."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from pnyx.app.run import SHUTDOWN_LIMIT_S
from tests.netharness import STOP_TIMEOUT_S, Cluster, cli

#: Longest wait for one HTTP answer from the node, in seconds.
HTTP_TIMEOUT_S = 10.0


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    with Cluster(tmp_path) as cluster:
        yield cluster


@pytest.mark.network
def test_pnyx_ui_logs_a_browser_in_and_the_api_takes_a_token(cluster: Cluster) -> None:
    cluster.cli("a", "post", "before the node <b>started</b>")
    a = cluster.start("a")  # the web UI on a free loopback port (tests.netharness)
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    parts = urlsplit(login_url)
    assert parts.scheme == "http" and parts.hostname == "127.0.0.1" and parts.path == "/login"
    base = f"http://{parts.netloc}"
    assert f"web UI:    {base}" in a.stdout()

    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as browser:
        assert browser.get("/timeline").status_code == 401
        logged_in = browser.get(login_url, follow_redirects=True)  # on to /timeline
        assert logged_in.status_code == 200, logged_in.text
        assert "before the node &lt;b&gt;started&lt;/b&gt;" in logged_in.text
        assert "content-security-policy" in logged_in.headers
        again = httpx.get(login_url, timeout=HTTP_TIMEOUT_S, follow_redirects=False)
        assert again.status_code == 403  # the code worked once
        rebound = browser.get("/timeline", headers={"Host": f"attacker.example:{parts.port}"})
        assert rebound.status_code == 403

    _, token_json, _ = cli(a.home, "token", "create", "--scope", "read,write", "--json")
    token = json.loads(token_json)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S, headers=headers) as api:
        created = api.post("/api/v1/posts", json={"text": "from the API"})
        assert created.status_code == 201, created.text
        assert api.post("/api/v1/posts", content=b"text=x").status_code == 415
        items = api.get("/api/v1/timeline").json()["items"]
        assert [item["text"] for item in items][:2] == [
            "from the API",
            "before the node <b>started</b>",
        ]
        status = api.get("/api/v1/status").json()
        assert status["public_key"] == cluster.key("a")
        token_id = json.loads(token_json)["id"]
        assert cli(a.home, "token", "revoke", token_id)[0] == 0
        assert api.get("/api/v1/timeline").status_code == 401


@pytest.mark.network
def test_the_timeline_hears_of_new_posts_from_followed_authors(cluster: Cluster) -> None:
    cluster.cli("a", "follow", cluster.key("b"))
    a, b = cluster.start_many("a", "b")
    a.connect(b)
    base = "http://" + urlsplit(cluster.cli("a", "ui", "--no-browser").strip()).netloc
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as browser:
        assert browser.get(login_url, follow_redirects=True).status_code == 200
        with browser.stream("GET", "/events") as events:
            assert events.headers["content-type"].startswith("text/event-stream")
            lines = events.iter_lines()
            assert next(lines) == ": live"
            cluster.cli("b", "post", "news from b")  # b's node publishes it; a stores it
            for line in lines:  # ends with the read timeout if the notice never comes
                if line.startswith("event:"):
                    assert line == "event: arrived"
                    assert next(lines) == "data: 1"
                    break
        assert "news from b" in browser.get("/timeline").text


@pytest.mark.network
def test_the_node_stops_cleanly_with_a_browser_listening(cluster: Cluster) -> None:
    a = cluster.start("a")
    login_url = cluster.cli("a", "ui", "--no-browser").strip()
    base = "http://" + urlsplit(login_url).netloc
    with httpx.Client(base_url=base, timeout=HTTP_TIMEOUT_S) as browser:
        assert browser.get(login_url, follow_redirects=True).status_code == 200
        with browser.stream("GET", "/events") as events:
            assert next(events.iter_lines()) == ": live"
            started = time.monotonic()
            assert a.stop(signal.SIGTERM) == 0
            assert time.monotonic() - started < SHUTDOWN_LIMIT_S
    assert "Traceback" not in a.stderr() and "stopped" in a.stdout()


@pytest.mark.network
def test_a_busy_ui_port_stops_the_node_with_one_line(cluster: Cluster) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        node = cluster.spawn("a", "--ui", f"127.0.0.1:{port}")
        assert node.proc.wait(STOP_TIMEOUT_S) == 2
    assert f"cannot serve the web UI on 127.0.0.1:{port}" in node.stderr()
    assert "Traceback" not in node.stderr()
