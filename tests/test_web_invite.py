"""The network page shows the user's invite, made from the running node's status."""

from __future__ import annotations

import html
import re
from typing import Any

from starlette.testclient import TestClient

from pnyx import reads
from pnyx.crypto.invite import parse_invite, peer_id_of_key
from pnyx.views import NodeStatus
from pnyx.web.app import build_app
from pnyx.web.context import WebContext
from tests.store_helpers import key, pub
from tests.web_kit import BASE, ctx, login, status_with

ME = key(1)
PEER = peer_id_of_key(pub(ME))
ADDRESS = f"/ip4/127.0.0.1/tcp/4001/p2p/{PEER}"


__all__ = ["ctx"]  # the kit's fixture


def _status() -> dict[str, Any]:
    return {**status_with([]), "peer_id": PEER, "listen_addrs": [ADDRESS]}


def test_invite_text_from_status_and_without() -> None:
    invite = parse_invite(reads.invite_text(pub(ME), NodeStatus.from_json(_status())))
    assert invite.key == pub(ME) and invite.addresses == (ADDRESS,)
    assert parse_invite(reads.invite_text(pub(ME), None)).addresses == ()
    odd = NodeStatus.from_json(status_with([]))  # a peer id that is not one: left out
    assert parse_invite(reads.invite_text(pub(ME), odd)).addresses == ()


def test_network_page_shows_the_invite(ctx: WebContext) -> None:
    async def node_status() -> dict[str, Any]:
        return _status()

    ctx.status = node_status
    with TestClient(build_app(ctx), base_url=BASE, backend="trio") as client:
        login(ctx, client)
        page = client.get("/network").text
    found = re.search(r"pnyxinv1[a-z0-9]+", html.unescape(page))
    assert found is not None and "goes stale" in page
    assert parse_invite(found.group(0)).addresses == (ADDRESS,)


def test_network_page_says_whether_others_can_dial_the_node(ctx: WebContext) -> None:
    relay = "12D3KooWJWoaqZhDaoEFshF7Rh1bpY9ohihFhzcW6d69Lr2NASuq"

    async def node_status() -> dict[str, Any]:
        reach = {
            "status": "behind NAT",
            "shown": f"behind NAT (relayed via {relay})",
            "why": "2 of 2 peers could not dial back",
            "relays": [relay],
            "relay_service": False,
        }
        return {**_status(), "reachability": reach}

    ctx.status = node_status
    with TestClient(build_app(ctx), base_url=BASE, backend="trio") as client:
        login(ctx, client)
        page = client.get("/network").text
    assert "cannot" in page and f"behind NAT (relayed via {relay})" in page
    assert "2 of 2 peers could not dial back" in page
