"""Node settings: the ``[node]`` table of ``config.toml`` in the home, overridden by flags.

Every setting (docs/architecture.md, "Configuration", has the same list):

``listen``            addresses to listen on (multiaddrs). Default ``/ip4/0.0.0.0/tcp/4717``:
                      every interface, a fixed port, so followers can reach the node and its
                      address stays the same across restarts.
``bootstrap``         peers to dial at start and re-dial while unreachable (multiaddrs ending in
                      ``/p2p/PEER_ID``). Default: none.
``node_key``          ``"identity"`` (default): the node's libp2p key is the user's Ed25519 key, so
                      the peer id names the author. ``"separate"``: a key of its own kept in
                      ``node.key`` in the home directory, so peers cannot tell from the connection
                      whose node it is (and the node needs no passphrase).
``publish_batch_ms``  batch window for the user's own messages, in milliseconds (0..1000, default
                      20): heavy posting goes out in few frames, a lone post at once.
``log_level``         ``"debug"``, ``"info"`` (default), ``"warning"`` or ``"error"``.
``rate_limits``       table ``[node.rate_limits]``: per-author and per-peer token buckets
                      (``pnyx.ingest.ratelimit.RateLimits``; docs/security.md, "Rate limits").
``sync_on_connect``   catch-up sync with every peer as soon as it connects (default true).
``sync_interval_s``   seconds between periodic catch-up syncs with each connected peer
                      (1..86400, default 60; docs/architecture.md, "Offline-first").
``target_connections`` connections the node keeps, dialling known peers to replace lost ones
                      (0..64, default 8; docs/architecture.md, "Discovery").
``mdns``              LAN discovery with mDNS on the listen interfaces (default true; tests and
                      nodes that must not touch UDP port 5353 set false).
``dht``               Kademlia DHT: announce held feeds, find who holds followed ones (default
                      true).
``dht_mode``          ``server`` (default: answer other peers' DHT queries and keep their provider
                      records, within bounds, docs/security.md) or ``client`` (only ask: for a
                      node others cannot reach, or a user who wants to keep nothing for others).
``relay``             ``auto`` (default: serve as a Circuit Relay v2 relay while dial-back says this
                      node is reachable), ``on`` or ``off`` (docs/architecture.md, "NAT").
``relay_limits``      table ``[node.relay_limits]``: the relay's bounds
                      (``pnyx.net.relaying.RelayLimits``: reservations, circuits, duration, bytes).
``hops``              follow steps from the user whose authors' feeds the node keeps and syncs
                      (1..3, default 2; 1 = follows only; docs/architecture.md, "What a node
                      stores").
``storage_budget_mb`` the store's budget for feeds beyond the user's and follows', in MiB of
                      envelopes (16..1048576, default 1024): over it, the lowest-trust go first.

The ``[ui]`` table sets the local web UI (docs/web.md): ``listen`` (``HOST:PORT``, default
``127.0.0.1:4718``; a non-loopback host is refused unless ``public = true``), ``enabled``
(default true). Flags: ``--ui ADDR``, ``--no-ui``, ``--ui-public``.

Flags replace the matching file value (``--listen`` / ``--bootstrap`` replace the whole list).
Invalid values raise ``ConfigError`` naming the file and the key. This module imports no libp2p;
the adapter checks multiaddr syntax when the node starts.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pnyx.errors import ConfigError
from pnyx.home import Home
from pnyx.ingest.ratelimit import DEFAULT_RATE_LIMITS, RateLimits, parse_rate_limits  # robustness
from pnyx.net.relaying import (  # NAT reach
    DEFAULT_RELAY_LIMITS,
    RELAY_LIMIT_RANGES,
    RELAY_MODES,
    RelayLimits,
)
from pnyx.trust.admission import (  # reach
    DEFAULT_HOPS,
    DEFAULT_STORAGE_BUDGET_MB,
    MAX_HOPS,
    MAX_STORAGE_BUDGET_MB,
    MIN_HOPS,
    MIN_STORAGE_BUDGET_MB,
)
from pnyx.web.serve import DEFAULT_UI_LISTEN, parse_listen  # web UI

#: Default listen address: every IPv4 interface, TCP port 4717.
DEFAULT_LISTEN = ("/ip4/0.0.0.0/tcp/4717",)
#: Accepted values of ``node_key``.
NODE_KEY_CHOICES = ("identity", "separate")
#: Accepted values of ``dht_mode``.
DHT_MODES = ("server", "client")
#: Accepted values of ``log_level``.
LOG_LEVELS = ("debug", "info", "warning", "error")
#: Largest publish batch window, in milliseconds.
MAX_PUBLISH_BATCH_MS = 1000
#: Largest config file read, in bytes.
MAX_CONFIG_BYTES = 1024 * 1024
#: Mode of the example config.toml pnyx writes (not writable by others: ``Home.check``).
CONFIG_FILE_MODE = 0o600
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
#: Most addresses in ``listen`` or ``bootstrap``, a count.
MAX_ADDRESSES = 64
#: sync: default and bounds of ``sync_interval_s``, in seconds.
DEFAULT_SYNC_INTERVAL_S = 60
MIN_SYNC_INTERVAL_S, MAX_SYNC_INTERVAL_S = 1, 86400
#: discovery: default and largest ``target_connections``, counts (64 is libp2p's high watermark).
DEFAULT_TARGET_CONNECTIONS, MAX_TARGET_CONNECTIONS = 8, 64

EXAMPLE_CONFIG = """\
# pnyx settings. Every line is commented out: the values shown are the defaults.
# Command-line flags of `pnyx run` override what is set here.

[node]
# Addresses to listen on. A fixed port on every interface lets followers reach you.
# listen = ["/ip4/0.0.0.0/tcp/4717"]

# Peers to dial at start (and again while unreachable); each ends in /p2p/PEER_ID.
# bootstrap = ["/ip4/203.0.113.7/tcp/4717/p2p/12D3KooW..."]

# "identity": your public key is also your node's peer id (anyone connecting to your node
# learns whose node it is). "separate": the node uses its own key from node.key.
# node_key = "identity"

# Your own new messages are published at most once per this many milliseconds (0..1000).
# publish_batch_ms = 20

# debug, info, warning or error.
# log_level = "info"

# Catch-up sync: with each peer when it connects, and again every sync_interval_s seconds.
# sync_on_connect = true
# sync_interval_s = 60

# Discovery: connections to keep, LAN discovery (mDNS), the DHT (who holds which feed).
# target_connections = 8
# mdns = true
# dht = true
# dht_mode = "server"   # or "client": ask the DHT, answer nobody (a node others cannot reach)

# NAT: serve as a relay for nodes behind NAT while others can dial this node ("auto"),
# always ("on") or never ("off"); [node.relay_limits] bounds what the relay gives.
# relay = "auto"

# Reach: feeds kept within this many follow steps (1 = follows only), and the store's budget in
# MiB; over it, the least trusted feeds beyond your follows go first (yours and follows' never).
# hops = 2
# storage_budget_mb = 1024

# Rate limits (messages per second, bucket sizes in messages) applied before signatures are checked.
# [node.rate_limits]
# author_per_s = 5.0
# author_burst = 600
# peer_per_s = 200.0
# peer_burst = 4096

# The local web UI (`pnyx ui` prints a login link). Loopback only unless public = true.
# [ui]
# listen = "127.0.0.1:4718"
# enabled = true
# public = false
"""


@dataclass(frozen=True, slots=True)
class NodeConfig:
    """The settings of one node (see the module docstring for each)."""

    listen: tuple[str, ...] = DEFAULT_LISTEN
    bootstrap: tuple[str, ...] = ()
    node_key: str = "identity"
    publish_batch_ms: int = 20
    log_level: str = "info"
    sync_on_connect: bool = True  # sync
    sync_interval_s: int = DEFAULT_SYNC_INTERVAL_S  # sync
    rate_limits: RateLimits = DEFAULT_RATE_LIMITS  # robustness: [node.rate_limits]
    target_connections: int = DEFAULT_TARGET_CONNECTIONS  # discovery
    mdns: bool = True  # discovery
    dht: bool = True  # discovery
    dht_mode: str = "server"  # discovery: "server" or "client"
    relay: str = "auto"  # NAT reach: "auto", "on" or "off"
    relay_limits: RelayLimits = DEFAULT_RELAY_LIMITS  # NAT reach: [node.relay_limits]
    hops: int = DEFAULT_HOPS  # reach: follow steps kept
    storage_budget_mb: int = DEFAULT_STORAGE_BUDGET_MB  # reach: store budget, MiB
    ui: bool = True  # web UI: serve it at all
    ui_listen: str = DEFAULT_UI_LISTEN  # web UI: HOST:PORT
    ui_public: bool = False  # web UI: allow a non-loopback address


def _addresses(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise ConfigError(f"{where} must be a list of address strings")
    if len(value) > MAX_ADDRESSES:
        raise ConfigError(f"{where} lists more than {MAX_ADDRESSES} addresses")
    for address in value:
        if not address.startswith("/"):
            raise ConfigError(f"{where}: {address!r} is not a multiaddr (they start with '/')")
    return tuple(value)


def _choice(value: object, choices: tuple[str, ...], where: str) -> str:
    if not isinstance(value, str) or value not in choices:
        raise ConfigError(f"{where} must be one of {', '.join(choices)}; got {value!r}")
    return value


def _batch_ms(value: object, where: str) -> int:
    if type(value) is not int or not 0 <= value <= MAX_PUBLISH_BATCH_MS:
        raise ConfigError(f"{where} must be an integer 0..{MAX_PUBLISH_BATCH_MS}; got {value!r}")
    return value


def _relay_limits(value: object, where: str, base: RelayLimits) -> RelayLimits:
    if not isinstance(value, Mapping):
        raise ConfigError(f"{where} must be a table")
    changes: dict[str, int] = {}
    for key, number in value.items():
        if key not in RELAY_LIMIT_RANGES:
            raise ConfigError(f"{where}: unknown setting {key!r}")
        low, high = RELAY_LIMIT_RANGES[key]
        if type(number) is not int or not low <= number <= high:
            raise ConfigError(f"{where} {key} must be an integer {low}..{high}; got {number!r}")
        changes[key] = number
    return replace(base, **changes)


def apply(config: NodeConfig, values: Mapping[str, Any], where: str) -> NodeConfig:
    """``config`` with ``values`` applied (None values are skipped). Raises ``ConfigError``."""
    changes: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        name = f"{where} {key}"
        if key in ("listen", "bootstrap"):
            changes[key] = _addresses(value, name)
        elif key == "node_key":
            changes[key] = _choice(value, NODE_KEY_CHOICES, name)
        elif key == "log_level":
            changes[key] = _choice(value, LOG_LEVELS, name)
        elif key == "publish_batch_ms":
            changes[key] = _batch_ms(value, name)
        elif key == "rate_limits":  # robustness: rate limits
            changes[key] = parse_rate_limits(value, name, config.rate_limits)
        elif key == "ui_listen":  # web UI
            if not isinstance(value, str):
                raise ConfigError(f"{name} must be a HOST:PORT string; got {value!r}")
            parse_listen(value)
            changes[key] = value
        elif key in ("mdns", "dht", "ui", "ui_public"):  # discovery, web UI
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false; got {value!r}")
            changes[key] = value
        elif key == "dht_mode":  # discovery
            changes[key] = _choice(value, DHT_MODES, name)
        elif key == "relay":  # NAT reach
            changes[key] = _choice(value, RELAY_MODES, name)
        elif key == "relay_limits":  # NAT reach
            changes[key] = _relay_limits(value, name, config.relay_limits)
        elif key == "target_connections":  # discovery
            if type(value) is not int or not 0 <= value <= MAX_TARGET_CONNECTIONS:
                raise ConfigError(
                    f"{name} must be an integer 0..{MAX_TARGET_CONNECTIONS}; got {value!r}"
                )
            changes[key] = value
        elif key in ("hops", "storage_budget_mb"):  # reach
            low, high = (
                (MIN_HOPS, MAX_HOPS)
                if key == "hops"
                else (MIN_STORAGE_BUDGET_MB, MAX_STORAGE_BUDGET_MB)
            )
            if type(value) is not int or not low <= value <= high:
                raise ConfigError(f"{name} must be an integer {low}..{high}; got {value!r}")
            changes[key] = value
        elif key == "sync_on_connect":  # sync
            if not isinstance(value, bool):
                raise ConfigError(f"{name} must be true or false; got {value!r}")
            changes[key] = value
        elif key == "sync_interval_s":  # sync
            low, high = MIN_SYNC_INTERVAL_S, MAX_SYNC_INTERVAL_S
            if type(value) is not int or not low <= value <= high:
                raise ConfigError(f"{name} must be an integer {low}..{high}; got {value!r}")
            changes[key] = value
        else:
            raise ConfigError(f"{where}: unknown setting {key!r}")
    return replace(config, **changes)


def read_file(path: Path) -> dict[str, Any]:
    """The ``[node]`` table of a TOML file, with the ``[ui]`` table's keys as ``ui``,
    ``ui_listen``, ``ui_public``; {} if the file does not exist. Other tables are left to their
    own modules. Raises ``ConfigError`` for unreadable or invalid TOML."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"{path} is larger than {MAX_CONFIG_BYTES} bytes")
    try:
        document = tomllib.loads(data.decode())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    tables: dict[str, dict[str, Any]] = {}
    for name in ("node", "ui"):
        value = document.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{path}: [{name}] must be a table")
        tables[name] = value
    table = dict(tables["node"])
    names = {"listen": "ui_listen", "enabled": "ui", "public": "ui_public"}  # web UI: [ui]
    for key, value in tables["ui"].items():
        if key not in names:
            raise ConfigError(f"{path} [ui]: unknown setting {key!r}")
        table[names[key]] = value
    return table


def load_config(home: Home, flags: Mapping[str, Any] | None = None) -> NodeConfig:
    """Defaults, then ``home/config.toml``'s ``[node]`` table, then ``flags`` (None = not given)."""
    config = apply(NodeConfig(), read_file(home.config_path), str(home.config_path))
    if flags:
        config = apply(config, flags, "flag")
    return config


def write_example_config(home: Home) -> bool:
    """Write the commented example as ``config.toml`` if none exists; True if written."""
    path = home.config_path
    try:  # O_EXCL never follows a link; 0600 whatever the umask (robustness: Home.check)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | _CLOEXEC, CONFIG_FILE_MODE)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(EXAMPLE_CONFIG)
    except FileExistsError:
        return False
    except OSError as exc:
        raise ConfigError(f"cannot write {path}: {exc.strerror}") from None
    return True
