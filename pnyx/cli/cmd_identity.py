"""``pnyx init`` and ``pnyx id``: create and show the user's identity."""

from __future__ import annotations

import argparse

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
    p.set_defaults(handler=cmd_init)
    p = sub.add_parser("id", help="print your public key (pnyx1...) alone on one line")
    p.set_defaults(handler=cmd_id)


def cmd_init(ctx: Context) -> int:
    from pnyx.crypto.keyfile import generate_key, save_identity
    from pnyx.crypto.keytext import encode_public_key

    if ctx.home.key_path.exists():
        if ctx.args.if_missing:
            return 0
        raise IdentityExistsError(
            f"an identity already exists in {ctx.home.path}; pnyx never overwrites one"
        )
    ctx.home.ensure()
    passphrase = read_passphrase(ctx.args.passphrase_file, confirm=True)
    key = generate_key()
    save_identity(ctx.home.key_path, key, passphrase)
    state = "encrypted with your passphrase" if passphrase else "not encrypted"
    ctx.warn(f"new identity in {ctx.home.key_path} ({state}); your public key:")
    ctx.print(encode_public_key(bytes(key.verify_key)))
    return 0


def cmd_id(ctx: Context) -> int:
    from pnyx.crypto.keytext import encode_public_key

    ctx.print(encode_public_key(ctx.public_key()))
    return 0
