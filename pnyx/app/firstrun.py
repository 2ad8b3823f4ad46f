"""The first run of ``pnyx run`` on a home with no identity: the identity is created in the
browser (``pnyx.web.firstrun``) before the node starts (docs/web.md, "Onboarding").

``first_run`` serves the first-run app on the UI's address, announces one line with its
one-time login link (and opens a browser when ``open_browser``), and waits for the first of:

* the identity created in the browser: returns its key (in memory: no passphrase is asked again);
* an identity file appearing otherwise (``pnyx init`` in another terminal; checked every
  ``KEY_FILE_POLL_S``): returns no key (the caller loads the file as usual);
* SIGINT or SIGTERM: returns None (the caller stops, status 0).

The server then stops (after the browser's "starting your node…" page asked for ``/welcome``,
so its retrying script is loaded, or ``HANDOFF_LIMIT_S``), freeing the port for the node's app;
the returned port is the one it bound (the node reuses it, even when the configured port was
0). Must run under the node lock (``pnyx.app.run.run_node``).

Failure modes: ``UserError`` if the address cannot be bound, ``ConfigError`` for a UI address
that is not loopback without ``ui_public``.
"""

from __future__ import annotations

import logging
import signal
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import trio

from pnyx.app.config import NodeConfig
from pnyx.home import Home

if TYPE_CHECKING:
    import nacl.signing

log = logging.getLogger("pnyx.node")

#: How often the first run looks for an identity file made elsewhere, in seconds.
KEY_FILE_POLL_S = 0.5
#: Longest the first-run server stays up once the identity was created in the browser, waiting
#: for the "starting" page to ask for ``/welcome`` (its script loaded), in seconds.
HANDOFF_LIMIT_S = 10.0


@dataclass(frozen=True, slots=True)
class FirstRunOutcome:
    """The identity exists: ``key`` if it was created here (else load the file), and the port
    the first-run server listened on."""

    key: nacl.signing.SigningKey | None
    port: int


async def first_run(
    home: Home, config: NodeConfig, open_browser: Callable[[str], object] | None = None
) -> FirstRunOutcome | None:
    """Serve the first-run app until the identity exists (module docstring); None after SIGINT
    or SIGTERM."""
    from pnyx.web.firstrun import FirstRunContext, build_first_run_app
    from pnyx.web.serve import check_listen, is_loopback, serve_asgi, url_of
    from pnyx.web.sessions import SESSION_FILE, Sessions

    host, port = check_listen(config.ui_listen, public=config.ui_public)
    ctx = FirstRunContext(key_path=home.key_path, sessions=Sessions(home.path / SESSION_FILE))
    if not is_loopback(host):
        ctx.public_host = f"[{host}]" if ":" in host else host
    stopped = False
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            shutdown = trio.Event()
            ctx.port = await nursery.start(
                serve_asgi, build_first_run_app(ctx), host, port, shutdown
            )
            url = f"{url_of(host, ctx.port)}/login?code={ctx.codes.issue()}"
            log.info("no identity yet: open %s to create yours", url, extra={"url": url})
            if open_browser is not None:  # it may start a browser process: not on the loop
                await trio.to_thread.run_sync(open_browser, url)
            async with trio.open_nursery() as race:

                async def on_signal() -> None:
                    nonlocal stopped
                    async for signum in signals:
                        log.info("stopping (%s)", signal.Signals(signum).name)
                        stopped = True
                        break
                    race.cancel_scope.cancel()

                async def on_identity() -> None:
                    while ctx.creating or not home.key_path.exists():
                        await trio.sleep(KEY_FILE_POLL_S)
                    if ctx.created:  # here: until the browser has its "starting" page's script
                        with trio.move_on_after(HANDOFF_LIMIT_S):
                            await ctx.done.wait()
                    else:
                        log.info("found an identity at %s: starting with it", home.key_path)
                    race.cancel_scope.cancel()

                race.start_soon(on_signal)
                race.start_soon(on_identity)
            if stopped:
                nursery.cancel_scope.cancel()
            shutdown.set()  # requests under way finish, then the port is free
    if stopped:
        return None
    return FirstRunOutcome(ctx.key, ctx.port)
