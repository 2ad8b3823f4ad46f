"""The web UI's commands: ``pnyx ui`` (a one-time login link) and ``pnyx token`` (API tokens).

``ui`` asks the running node for a login code over the control socket and prints the link; it
opens a browser only when standard output is a terminal (and ``--no-browser`` is not given).
``token create`` prints the new token once (only its hash is kept); ``token list`` shows ids,
names and scopes; ``token revoke ID`` removes one, refused at once by a running node. These work
on the home's token file directly, with or without a running node (docs/web.md).
"""

from __future__ import annotations

import argparse
import json

from pnyx.cli.context import Context

#: Kept in step with pnyx.web.auth.SCOPES (which this module does not import at start-up).
_SCOPES = "read, write, moderate"


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("ui", help="print a one-time login link to the running node's web UI")
    p.add_argument(
        "--no-browser", action="store_true", help="only print the link, even on a terminal"
    )
    p.set_defaults(handler=cmd_ui)

    p = sub.add_parser("token", help="API tokens for the web UI's JSON API")
    actions = p.add_subparsers(dest="token_action", metavar="ACTION", required=True)
    create = actions.add_parser("create", help="create a token; prints it once")
    create.add_argument(
        "--scope", required=True, metavar="SCOPES", help=f"comma-separated: {_SCOPES}"
    )
    create.add_argument("--name", default="", help="a name to recognise it by")
    create.add_argument("--json", action="store_true", help="print one JSON object")
    create.set_defaults(handler=cmd_token_create)
    listing = actions.add_parser("list", help="the tokens (never the tokens themselves)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(handler=cmd_token_list)
    revoke = actions.add_parser("revoke", help="revoke a token by its id")
    revoke.add_argument("id", metavar="ID", help="the id `pnyx token list` shows")
    revoke.set_defaults(handler=cmd_token_revoke)


def cmd_ui(ctx: Context) -> int:
    import sys

    from pnyx.control.client import request

    result = request(ctx.home, "ui_login")
    url = result.get("url") if isinstance(result, dict) else None
    if not isinstance(url, str) or not url.startswith("http://"):
        from pnyx.errors import PnyxError

        raise PnyxError("the node's answer has no login link")
    ctx.print(url)
    if not ctx.args.no_browser and ctx.out is sys.stdout and sys.stdout.isatty():
        import webbrowser

        webbrowser.open(url)
    return 0


def cmd_token_create(ctx: Context) -> int:
    from pnyx.clock import wall_clock_ms
    from pnyx.web.auth import TOKEN_FILE, TokenBook, parse_scopes

    ctx.home.ensure()
    book = TokenBook(ctx.home.path / TOKEN_FILE)
    record, token = book.create(parse_scopes([ctx.args.scope]), ctx.args.name, wall_clock_ms())
    if ctx.args.json:
        ctx.print(json.dumps({"id": record.id, "scopes": list(record.scopes), "token": token}))
    else:
        ctx.print(token)
        ctx.warn(f"token {record.id} ({', '.join(record.scopes)}): shown once; keep it secret")
    return 0


def cmd_token_list(ctx: Context) -> int:
    from pnyx.web.auth import TOKEN_FILE, TokenBook

    for record in TokenBook(ctx.home.path / TOKEN_FILE).records():
        if ctx.args.json:
            row = record.to_json()
            del row["sha256"]
            ctx.print(json.dumps(row, ensure_ascii=False))
        else:
            ctx.print(f"{record.id}  {','.join(record.scopes):<22} {record.name}")
    return 0


def cmd_token_revoke(ctx: Context) -> int:
    from pnyx.web.auth import TOKEN_FILE, TokenBook

    record = TokenBook(ctx.home.path / TOKEN_FILE).revoke(ctx.args.id)
    ctx.warn(f"revoked token {record.id} ({record.name or 'no name'})")
    return 0
