"""Real NATs on one machine, in Linux network namespaces (issue 17).

``nat_topology(relays=2, homes={"a": "masquerade", "b": "random"})`` builds, and always deletes::

    relay0 198.51.100.10  relay1 198.51.100.11 ...      (one namespace each, no default route)
            \\          /
      "internet" namespace: bridge br0 on 198.51.100.0/24 (nothing else, no route to the world)
            /          \\
    router a  WAN 198.51.100.2        router b  WAN 198.51.100.3   (MASQUERADE, firewall)
              LAN 10.1.0.1/24                   LAN 10.2.0.1/24
    home a        10.1.0.2            home b        10.2.0.2       (default route via its router)

The "public" segment is 198.51.100.0/24 (TEST-NET-2, a documentation range) and deliberately not
RFC 1918: the node drops private addresses when hole punching, so the relays and the routers' WAN
side must look public. Homes sit on 10.N.0.0/24, N = 1, 2, ... in the order of ``homes``.

Each router: ``ip_forward`` on; ``POSTROUTING -o wan -j MASQUERADE`` (NAT kind "masquerade": keeps
the source port when it is free, Linux's default) or ``... MASQUERADE --random-fully`` ("random":
a random source port for every new mapping); FORWARD policy DROP with LAN->WAN accepted and
WAN->LAN accepted only for ESTABLISHED,RELATED; INPUT from WAN accepted only for
ESTABLISHED,RELATED. So unsolicited inbound TCP or UDP is silently dropped (a connect times out,
it is not refused), like a home router without port forwarding.

Every link is created inside namespaces this module made (``ip -n NS link add ... peer name X
netns OTHER``); the root namespace's interfaces, routes and iptables are never touched. Namespace
names are ``pnyx-<6 hex>-<role>`` (roles: ``inet``, ``relay0``..., ``rt-<home>``, ``home-<home>``),
unique per topology, so concurrent runs never clash. Needs root, ``ip``, ``iptables`` and the
kernel's veth, bridge, nf_nat and conntrack support; ``nat_support()`` says which is missing and
``require_nat_support()`` turns that into a pytest skip.

Teardown runs in a ``finally``: it survives exceptions, KeyboardInterrupt and pytest-timeout's
default (signal) method, but not SIGKILL, an unhandled SIGTERM or ``os._exit`` (pytest-timeout's
thread method). Leftovers are then ``pnyx-*`` in ``ip netns list``; ``ip netns delete`` them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import signal
import subprocess
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

NatKind = Literal["masquerade", "random"]
NAT_KINDS: tuple[NatKind, ...] = ("masquerade", "random")
PREFIX = "pnyx-"
PUBLIC_NET = "198.51.100"  # TEST-NET-2, see the module docstring
PUBLIC_MASK = 24
CMD_TIMEOUT_S = 10.0
MAX_HOMES = 8
MAX_RELAYS = 50
_HOME_NAME = re.compile(r"[a-z0-9]{1,8}\Z")  # "p-<name>" must fit a 15-char interface name


class NetnsError(RuntimeError):
    """A command building or driving the topology failed; the message holds it and its stderr."""


def _cmd(argv: Sequence[str], *, input_text: str | None = None) -> str:
    """Run ``argv``; return stdout. Raise ``NetnsError`` on a non-zero exit or a timeout."""
    try:
        done = subprocess.run(
            list(argv),
            input=input_text,
            capture_output=True,
            text=True,
            timeout=CMD_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise NetnsError(f"{' '.join(argv)}: {exc}") from exc
    if done.returncode != 0:
        raise NetnsError(f"{' '.join(argv)}: exit {done.returncode}: {done.stderr.strip()}")
    return done.stdout


def _exec(ns: str, *argv: str, input_text: str | None = None) -> str:
    return _cmd(["ip", "netns", "exec", ns, *argv], input_text=input_text)


def namespaces() -> list[str]:
    """Names of all named network namespaces now present (``ip netns list``)."""
    out = _cmd(["ip", "netns", "list"])
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def _kill_ns_processes(ns: str) -> None:
    """SIGKILL every process in ``ns``; a namespace that is already gone is fine."""
    with contextlib.suppress(NetnsError):
        for pid in _cmd(["ip", "netns", "pids", ns]).split():
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid), signal.SIGKILL)


def _delete_ns(ns: str) -> None:
    """Kill what runs in ``ns`` (else the namespace and its veths outlive its name), delete it."""
    _kill_ns_processes(ns)
    with contextlib.suppress(NetnsError):
        _cmd(["ip", "netns", "delete", ns])


@functools.cache
def nat_support() -> str | None:
    """None when namespaces, veth/bridge links and iptables NAT work here, else a one-line reason.

    Really probes: creates a throwaway namespace, a veth pair and a bridge in it, and adds (then,
    with the namespace, drops) the MASQUERADE ``--random-fully`` and conntrack rules the topology
    uses. A refused rule means the kernel lacks nf_nat/conntrack (or iptables its backend).
    The answer is cached for the process.
    """
    if os.geteuid() != 0:
        return "network namespaces need root (not root here)"
    for tool in ("ip", "iptables"):
        if shutil.which(tool) is None:
            return f"no `{tool}` on PATH (apt-get install {'iproute2' if tool == 'ip' else tool})"
    ns = f"{PREFIX}{secrets.token_hex(3)}-probe"
    try:
        _cmd(["ip", "netns", "add", ns])
    except NetnsError as exc:
        return f"cannot create a network namespace: {exc}"
    try:
        try:
            _cmd(["ip", "-n", ns, "link", "add", "v0", "type", "veth", "peer", "name", "v1"])
            _cmd(["ip", "-n", ns, "link", "add", "b0", "type", "bridge"])
        except NetnsError as exc:
            return f"veth/bridge links refused: {exc}"
        try:
            nat = ["iptables", "-t", "nat", "-A", "POSTROUTING", "-o", "v0", "-j", "MASQUERADE"]
            _exec(ns, *nat)
            _exec(ns, *nat, "--random-fully")
            ct = ["iptables", "-A", "INPUT", "-m", "conntrack", "--ctstate", "ESTABLISHED"]
            _exec(ns, *ct, "-j", "ACCEPT")
        except NetnsError as exc:
            return f"iptables MASQUERADE/conntrack rule refused (kernel nf_nat/conntrack?): {exc}"
        return None
    finally:
        _delete_ns(ns)


def require_nat_support() -> None:
    """Skip the calling test (``pytest.skip``) with ``nat_support()``'s reason, if it has one."""
    reason = nat_support()
    if reason is not None:
        pytest.skip(f"no NAT test network: {reason}")


@dataclass
class Topology:
    """A built topology; get one from ``nat_topology``. Valid only inside its ``with`` block.

    Namespace names: ``inet_ns``, ``relay_ns[i]``, ``router_ns[home]``, ``home_ns[home]``.
    Addresses: ``relay_addr[i]``, ``router_wan_addr[home]``, ``router_lan_addr[home]``,
    ``home_addr[home]``. ``nat[home]`` is the home's NAT kind. ``prefix`` starts every name.
    """

    prefix: str
    inet_ns: str
    relay_ns: list[str] = field(default_factory=list)
    relay_addr: list[str] = field(default_factory=list)
    router_ns: dict[str, str] = field(default_factory=dict)
    router_wan_addr: dict[str, str] = field(default_factory=dict)
    router_lan_addr: dict[str, str] = field(default_factory=dict)
    home_ns: dict[str, str] = field(default_factory=dict)
    home_addr: dict[str, str] = field(default_factory=dict)
    nat: dict[str, NatKind] = field(default_factory=dict)
    _procs: list[subprocess.Popen[Any]] = field(default_factory=list, repr=False)

    def all_ns(self) -> list[str]:
        """Every namespace of this topology, the "internet" one last."""
        return [*self.relay_ns, *self.router_ns.values(), *self.home_ns.values(), self.inet_ns]

    def _own(self, ns: str) -> None:
        if ns not in self.all_ns():
            raise ValueError(f"{ns!r} is not a namespace of this topology")

    def popen(self, ns: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` inside ``ns`` (``ip netns exec NS ...``); ``kwargs`` go to ``Popen``.

        The process is killed at teardown if still running; waiting for it is the caller's job
        before that. ``ValueError`` when ``ns`` is not one of this topology's namespaces.
        """
        self._own(ns)
        proc: subprocess.Popen[Any] = subprocess.Popen(["ip", "netns", "exec", ns, *argv], **kwargs)
        self._procs.append(proc)
        return proc

    def run(
        self, ns: str, argv: Sequence[str], *, timeout: float = CMD_TIMEOUT_S, check: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``ns`` to completion, capturing text stdout/stderr.

        Raises ``subprocess.TimeoutExpired`` after ``timeout`` seconds (the child is killed), and
        ``CalledProcessError`` on a non-zero exit when ``check``.
        """
        self._own(ns)
        return subprocess.run(
            ["ip", "netns", "exec", ns, *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=check,
        )

    def kill_processes(self, ns: str) -> None:
        """SIGKILL every process running in ``ns`` (e.g. a relay node: "relay killed")."""
        self._own(ns)
        _kill_ns_processes(ns)

    def relay_down(self, i: int) -> None:
        """Take relay ``i``'s only link down: it vanishes from the network, its processes live
        on. Packets to it are then lost (peers see timeouts). ``relay_up`` undoes it."""
        _cmd(["ip", "-n", self.relay_ns[i], "link", "set", "eth0", "down"])

    def relay_up(self, i: int) -> None:
        """Bring relay ``i``'s link back up (its address and subnet route come back with it).

        Also flushes the routers' and other relays' ARP entries for it: an entry left INCOMPLETE
        by a failed attempt while it was down would delay the next connection by about 1 s.
        """
        _cmd(["ip", "-n", self.relay_ns[i], "link", "set", "eth0", "up"])
        for ns in [*self.router_ns.values(), *self.relay_ns]:
            if ns != self.relay_ns[i]:
                _cmd(["ip", "-n", ns, "neigh", "flush", "to", self.relay_addr[i]])

    def close(self) -> None:
        """Kill the processes started here and in the namespaces, delete every namespace.
        Idempotent and best effort: it never raises for a namespace already gone."""
        for proc in self._procs:
            if proc.poll() is None:
                proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=CMD_TIMEOUT_S)
        self._procs.clear()
        for ns in self.all_ns():
            _delete_ns(ns)


def _router_rules(kind: NatKind) -> str:
    """The router's ruleset for ``iptables-restore`` (WAN is ``wan``, LAN is ``lan``)."""
    random = " --random-fully" if kind == "random" else ""
    return (
        "*nat\n"
        f"-A POSTROUTING -o wan -j MASQUERADE{random}\n"
        "COMMIT\n"
        "*filter\n"
        ":INPUT ACCEPT [0:0]\n:FORWARD DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n"
        "-A INPUT -i wan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
        "-A INPUT -i wan -j DROP\n"
        "-A FORWARD -i lan -o wan -j ACCEPT\n"
        "-A FORWARD -i wan -o lan -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT\n"
        "COMMIT\n"
    )


def _add_ns(ns: str) -> None:
    _cmd(["ip", "netns", "add", ns])
    _cmd(["ip", "-n", ns, "link", "set", "lo", "up"])


def _plug(inet: str, port: str, ns: str, ifname: str, addr: str) -> None:
    """A veth from the bridge (``port`` in ``inet``) to ``ifname`` in ``ns`` with ``addr``/24."""
    _cmd(
        ["ip", "-n", inet, "link", "add", port, "type", "veth", "peer", "name", ifname, "netns", ns]
    )
    _cmd(["ip", "-n", inet, "link", "set", port, "master", "br0", "up"])
    _cmd(["ip", "-n", ns, "addr", "add", f"{addr}/{PUBLIC_MASK}", "dev", ifname])
    _cmd(["ip", "-n", ns, "link", "set", ifname, "up"])


def _build(topo: Topology, relays: int, homes: Mapping[str, NatKind]) -> None:
    inet = topo.inet_ns
    _add_ns(inet)
    _cmd(["ip", "-n", inet, "link", "add", "br0", "type", "bridge", "forward_delay", "0"])
    _cmd(["ip", "-n", inet, "link", "set", "br0", "up"])
    for i in range(relays):
        ns, addr = f"{topo.prefix}relay{i}", f"{PUBLIC_NET}.{10 + i}"
        topo.relay_ns.append(ns)
        topo.relay_addr.append(addr)
        _add_ns(ns)
        _plug(inet, f"p-relay{i}", ns, "eth0", addr)
    for n, (name, kind) in enumerate(homes.items(), start=1):
        rt, home = f"{topo.prefix}rt-{name}", f"{topo.prefix}home-{name}"
        topo.router_ns[name], topo.home_ns[name], topo.nat[name] = rt, home, kind
        topo.router_wan_addr[name] = f"{PUBLIC_NET}.{1 + n}"
        topo.router_lan_addr[name] = f"10.{n}.0.1"
        topo.home_addr[name] = f"10.{n}.0.2"
        _add_ns(rt)
        _add_ns(home)
        _plug(inet, f"p-{name}", rt, "wan", topo.router_wan_addr[name])
        _cmd(
            [
                "ip",
                "-n",
                rt,
                "link",
                "add",
                "lan",
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                home,
            ]
        )
        _cmd(["ip", "-n", rt, "addr", "add", f"{topo.router_lan_addr[name]}/24", "dev", "lan"])
        _cmd(["ip", "-n", rt, "link", "set", "lan", "up"])
        _cmd(["ip", "-n", home, "addr", "add", f"{topo.home_addr[name]}/24", "dev", "eth0"])
        _cmd(["ip", "-n", home, "link", "set", "eth0", "up"])
        _cmd(["ip", "-n", home, "route", "add", "default", "via", topo.router_lan_addr[name]])
        _exec(rt, "sysctl", "-qw", "net.ipv4.ip_forward=1")
        _exec(rt, "iptables-restore", input_text=_router_rules(kind))


@contextlib.contextmanager
def nat_topology(*, relays: int = 2, homes: Mapping[str, str]) -> Iterator[Topology]:
    """Build the topology of the module docstring, yield it, delete it all on exit.

    ``homes`` maps a home name (1-8 chars of ``[a-z0-9]``, at most 8 homes) to its NAT kind,
    "masquerade" or "random". Raises ``ValueError`` for bad arguments (nothing built), and
    ``NetnsError`` when a build command fails (what was built is deleted first). Teardown runs on
    normal exit, on exceptions and on KeyboardInterrupt: processes started with ``popen`` and all
    others in the namespaces are killed, then the namespaces (and so their veths) are deleted.
    Call ``require_nat_support()`` first in tests, to skip rather than fail where it cannot work.
    Building takes well under a second for the default shape.
    """
    if not 0 <= relays <= MAX_RELAYS:
        raise ValueError(f"relays must be in 0..{MAX_RELAYS}, got {relays}")
    if len(homes) > MAX_HOMES:
        raise ValueError(f"at most {MAX_HOMES} homes, got {len(homes)}")
    kinds: dict[str, NatKind] = {}
    for name, kind in homes.items():
        if not _HOME_NAME.match(name):
            raise ValueError(f"home name {name!r} must be 1-8 chars of [a-z0-9]")
        if kind not in NAT_KINDS:
            raise ValueError(f"home {name!r}: NAT kind {kind!r} is not one of {NAT_KINDS}")
        kinds[name] = "random" if kind == "random" else "masquerade"
    prefix = f"{PREFIX}{secrets.token_hex(3)}-"
    topo = Topology(prefix=prefix, inet_ns=f"{prefix}inet")
    try:
        _build(topo, relays, kinds)
        yield topo
    finally:
        topo.close()


def topology_fixture(
    *, relays: int = 2, homes: Mapping[str, str], scope: str = "function", name: str = "topo"
) -> Callable[..., Any]:
    """A pytest fixture named ``name`` yielding a ``nat_topology(relays=..., homes=...)``, or
    skipping with ``nat_support()``'s reason. Assign it at module level in a test file::

        topo = topology_fixture(homes={"a": "masquerade", "b": "random"}, scope="module")
    """

    def _fixture() -> Iterator[Topology]:
        require_nat_support()
        with nat_topology(relays=relays, homes=homes) as topo:
            yield topo

    return pytest.fixture(scope=scope, name=name)(_fixture)  # type: ignore[call-overload,no-any-return]
