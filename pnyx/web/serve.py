"""Serving the web app: listen addresses and Hypercorn's trio worker in the node's nursery.

``serve_web`` is a nursery task: it binds, reports the bound URL through ``task_status`` (so a
caller given port 0 learns the real one), and serves until cancelled. ``serve_asgi`` serves any
ASGI app the same way (the first-run app, ``pnyx.web.firstrun``), and can also stop gracefully
when an event is set. ``parse_listen`` reads
``HOST:PORT`` (``[::1]:4718`` for IPv6); ``check_listen`` refuses a non-loopback host unless the
user asked for a public UI.

Failure modes: ``ConfigError`` for a malformed address or a public one not allowed; ``UserError``
if the address cannot be bound (in use, not an address of this machine).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import TYPE_CHECKING, Any

import trio

from pnyx.errors import ConfigError, UserError, unwrap_group

if TYPE_CHECKING:
    from pnyx.web.context import WebContext

log = logging.getLogger(__name__)

#: Default address of the web UI: loopback only, TCP port 4718 (the node's libp2p port + 1).
DEFAULT_UI_LISTEN = "127.0.0.1:4718"
#: Longest a connection's graceful close may take when the node stops, in seconds.
GRACEFUL_TIMEOUT_S = 1.0
#: Longest wait for a request's headers on a kept-alive connection, in seconds.
KEEP_ALIVE_TIMEOUT_S = 30.0
#: Largest port number.
MAX_PORT = 65535


def parse_listen(text: str) -> tuple[str, int]:
    """``HOST:PORT`` (IPv6 in brackets) as (host, port). ``ConfigError`` if malformed."""
    host, sep, port_text = text.strip().rpartition(":")
    if not sep or not host or not port_text.isdigit() or int(port_text) > MAX_PORT:
        raise ConfigError(f"the UI address {text!r} is not HOST:PORT (e.g. {DEFAULT_UI_LISTEN})")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port_text)


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_listen(text: str, *, public: bool) -> tuple[str, int]:
    """``parse_listen``, refusing a non-loopback host unless ``public`` (then it warns)."""
    host, port = parse_listen(text)
    if not is_loopback(host):
        if not public:
            raise ConfigError(
                f"the UI address {text!r} is not loopback: anyone who can reach it could try to "
                "log in; pass --ui-public if you really mean it"
            )
        log.warning("the web UI listens on %s, beyond this machine (--ui-public)", text)
    return host, port


def url_of(host: str, port: int) -> str:
    """The URL a browser on this machine opens for a server on ``host:port`` (an unspecified
    host, 0.0.0.0 or ::, is reached through 127.0.0.1)."""
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1"
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve_web(
    ctx: WebContext, host: str, port: int, *, task_status: Any = trio.TASK_STATUS_IGNORED
) -> None:
    """Serve the web app on ``host:port`` until cancelled; ``task_status.started(url)`` once
    listening (``url`` with the real port). Sets ``ctx.port``, and ``ctx.public_host`` for a
    non-loopback host. Raises ``UserError`` if the address cannot be bound."""
    from pnyx.web.app import build_app

    if not is_loopback(host):
        ctx.public_host = f"[{host}]" if ":" in host else host

    async with trio.open_nursery() as nursery:
        ctx.port = await nursery.start(serve_asgi, build_app(ctx), host, port)
        task_status.started(url_of(host, ctx.port))


async def serve_asgi(
    app: Any,
    host: str,
    port: int,
    shutdown: trio.Event | None = None,
    *,
    task_status: Any = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the ASGI ``app`` on ``host:port`` until cancelled, or until ``shutdown`` is set
    (then requests under way finish, within ``GRACEFUL_TIMEOUT_S``, and it returns);
    ``task_status.started(port)`` once listening, with the real port. Raises ``UserError`` if
    the address cannot be bound."""
    from hypercorn.config import Config
    from hypercorn.trio import serve

    config = Config()
    config.bind = [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"]
    config.accesslog = None
    server_log = logging.getLogger("pnyx.web.server")
    server_log.setLevel(logging.WARNING)  # the node prints the UI's address itself
    config.errorlog = server_log
    config.graceful_timeout = GRACEFUL_TIMEOUT_S
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT_S
    config.include_server_header = False

    async def run(*, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        trigger = shutdown.wait if shutdown is not None else None
        try:
            await serve(app, config, shutdown_trigger=trigger, task_status=task_status)
        except BaseExceptionGroup as group:  # hypercorn binds inside its own nursery
            failure = unwrap_group(group)
            if not isinstance(failure, OSError):
                raise failure from None
            raise UserError(
                f"cannot serve the web UI on {host}:{port}: {failure.strerror}"
            ) from None
        except OSError as exc:
            raise UserError(f"cannot serve the web UI on {host}:{port}: {exc.strerror}") from None

    async with trio.open_nursery() as nursery:
        binds: list[str] = await nursery.start(run)
        task_status.started(int(binds[0].rpartition(":")[2]))
