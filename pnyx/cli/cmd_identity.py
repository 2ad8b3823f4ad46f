"""``pnyx init`` and ``pnyx id``: create and show the user's identity."""

from __future__ import annotations

import argparse
import json

from pnyx.cli.context import Context
from pnyx.errors import IdentityExistsError
from pnyx.home import read_passphrase


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "init",
        help="create a new identity (an Ed25519 key) in the home directory",
        description="Create a new identity. --passphrase-file FILE encrypts the key with the "
        "passphrase in FILE (also $PNYX_PASSPHRASE); on a terminal pnyx asks; with neither and no "
        "terminal on standard input the key is stored unencrypted (pnyx never waits on a prompt).",
    )
    p.add_argument(
        "--if-missing", action="store_true", help="do nothing (exit 0) if an identity exists"
    )
    p.add_argument(
        "--json",
        action="store_true",
        help='one JSON object: {"public_key", "created", "encrypted", "key_file"}',
    )
    p.set_defaults(handler=cmd_init)
    p = sub.add_parser("id", help="print your public key (pnyx1...) alone on one line")
    p.add_argument("--json", action="store_true", help='one JSON object: {"public_key": ...}')
    p.set_defaults(handler=cmd_id)


def cmd_init(ctx: Context) -> int:
    from pnyx.crypto.keyfile import create_identity
    from pnyx.crypto.keytext import encode_public_key

    if ctx.home.key_path.exists():
        if ctx.args.if_missing:
            if ctx.args.json:
                _print_identity(ctx, encode_public_key(ctx.public_key()), created=False)
            return 0
        raise IdentityExistsError(
            f"an identity already exists in {ctx.home.path}; pnyx never overwrites one"
        )
    ctx.home.ensure()
    passphrase = read_passphrase(ctx.args.passphrase_file, confirm=True)
    key = create_identity(ctx.home.key_path, passphrase)
    public = encode_public_key(bytes(key.verify_key))
    if ctx.args.json:
        _print_identity(ctx, public, created=True, encrypted=bool(passphrase))
        return 0
    state = "encrypted with your passphrase" if passphrase else "not encrypted"
    ctx.warn(f"new identity in {ctx.home.key_path} ({state}); your public key:")
    ctx.print(public)
    return 0


def _print_identity(
    ctx: Context, public: str, *, created: bool, encrypted: bool | None = None
) -> None:
    from pnyx.crypto.keyfile import is_encrypted

    record = {
        "public_key": public,
        "created": created,
        "encrypted": is_encrypted(ctx.home.key_path) if encrypted is None else encrypted,
        "key_file": str(ctx.home.key_path),
    }
    ctx.print(json.dumps(record))


def cmd_id(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key

    public = encode_public_key(ctx.public_key())
    ctx.print(json.dumps({"public_key": public}) if ctx.args.json else public)
    return 0
