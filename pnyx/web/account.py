"""The account pages: the welcome walk-through for a new home, log out, and the browser sessions.

* ``/welcome``: the identity this node runs with (its key with a copy button, its fingerprint,
  whether the key file is protected), then three forms, each answered on the same page with an
  inline error (400) or a 303 back: set your display name (``pnyx.ops.profile``), protect the key
  file with a passphrase (``pnyx.crypto.keyfile.protect_identity``: the file is re-written
  encrypted; the running node keeps the key it loaded), follow a first person by pasting a key.
  The identity itself is created before: by ``pnyx init``, or in the browser by the first run
  of ``pnyx run`` on a new home (``pnyx.web.firstrun``), which lands here once the node runs
  (docs/web.md, "Onboarding").
* ``POST /logout``: ends this browser's session and clears its cookie.
* ``/sessions``: the live browser sessions (created, last used, this one marked), each with an
  "End" button; ``POST /sessions/end`` ends one (ending your own logs you out).

Failure modes: no session 401, a wrong CSRF token 403 (``HTTPException``); a refused name or
key is shown inline (400); a read-only UI (no signing key) answers 403 to the name and follow
forms, and offers no passphrase form.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from pnyx import ops
from pnyx.core.display import fingerprint
from pnyx.errors import UserError
from pnyx.web.context import SESSION_COOKIE, WebContext, web_context
from pnyx.web.firstrun import checked_passphrase
from pnyx.web.pages import _form, _me, _session, render

if TYPE_CHECKING:
    from pnyx.store import Store
    from pnyx.web.sessions import Session

#: The welcome page's steps, in order (the ``step`` field of its forms).
STEPS = ("name", "passphrase", "follow")


def _identity(store: Store, me: bytes) -> dict[str, Any]:
    profile = store.profile(me)
    return {
        "name": profile.name if profile is not None and profile.name else "",
        "following": len(store.following(me)),
    }


def _protected(ctx: WebContext) -> bool | None:
    """Whether the key file needs a passphrase (None: no key file known, or unreadable)."""
    from pnyx.crypto.keyfile import is_encrypted

    if ctx.key_path is None:
        return None
    try:
        return is_encrypted(ctx.key_path)
    except UserError:
        return None


async def _welcome_page(
    request: Request, session: Session, *, errors: dict[str, str], typed: dict[str, str]
) -> HTMLResponse:
    ctx = web_context(request)
    found = await ctx.offload(_identity, ctx.store, ctx.me)
    html = render(
        "welcome.html",
        session=session,
        me=_me(ctx),
        fingerprint=fingerprint(ctx.me),
        writable=ctx.key is not None,
        protected=await ctx.offload(_protected, ctx),
        done=request.query_params.get("done", ""),
        errors=errors,
        typed=typed,
        **found,
    )
    return HTMLResponse(html, status_code=400 if errors else 200)


async def welcome(request: Request) -> Response:
    session = _session(request)
    return await _welcome_page(request, session, errors={}, typed={})


def _protect(ctx: WebContext, form: dict[str, str]) -> None:
    from pnyx.crypto.keyfile import protect_identity

    data = checked_passphrase(form.get("passphrase", ""), form.get("confirm", ""), optional=False)
    assert data is not None  # not optional
    if ctx.key_path is None:
        raise UserError("this node does not know its key file: use `pnyx init` on the terminal")
    protect_identity(ctx.key_path, ctx.signing_key(), data)


async def welcome_form(request: Request) -> Response:
    """One step of the welcome page (``step``: name, passphrase or follow); a refusal is shown
    inline beside what was typed (never the passphrase), 400."""
    session = _session(request)
    ctx = web_context(request)
    form = await _form(request, session)
    step = form.get("step", "")
    try:
        if step == "name":
            await ctx.offload(
                lambda: ops.profile(ctx.store, ctx.signing_key(), name=form.get("name", ""))
            )
        elif step == "passphrase":
            await ctx.offload(_protect, ctx, form)
        elif step == "follow":
            await ctx.offload(ops.follow, ctx.store, ctx.signing_key(), form.get("key", ""))
        else:
            raise UserError(f"unknown step {step!r}; the steps are {', '.join(STEPS)}")
    except UserError as exc:
        typed = {k: v for k, v in form.items() if k in ("name", "key")}
        return await _welcome_page(request, session, errors={step: str(exc)}, typed=typed)
    if step != "passphrase":
        ctx.nudge()
    return RedirectResponse(f"/welcome?done={step}#{step}", status_code=303)


def _logged_out() -> Response:
    response = RedirectResponse("/logged-out", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


async def logout(request: Request) -> Response:
    """End this browser's session (CSRF-checked) and clear its cookie."""
    session = _session(request)
    await _form(request, session)
    web_context(request).sessions.end(session.id)
    return _logged_out()


async def logged_out(request: Request) -> Response:
    """The page after logging out (no session needed)."""
    return HTMLResponse(render("logged_out.html", session=None))


async def sessions_page(request: Request) -> Response:
    session = _session(request)
    ctx = web_context(request)
    html = render(
        "sessions.html",
        session=session,
        me=_me(ctx),
        sessions=ctx.sessions.active(),
        current=session.id,
    )
    return HTMLResponse(html)


async def end_session(request: Request) -> Response:
    """End the session ``id`` (yours too: then this browser is logged out); 303 back."""
    session = _session(request)
    form = await _form(request, session)
    ctx = web_context(request)
    target = form.get("id", "")
    if not ctx.sessions.end(target):
        from pnyx.errors import NotFoundError

        raise NotFoundError(f"no session {target!r} (it may have ended already)")
    if target == session.id:
        return _logged_out()
    return RedirectResponse("/sessions", status_code=303)


def routes() -> list[Route]:
    return [
        Route("/welcome", welcome),
        Route("/welcome", welcome_form, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/logged-out", logged_out),
        Route("/sessions", sessions_page),
        Route("/sessions/end", end_session, methods=["POST"]),
    ]
