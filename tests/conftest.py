"""Shared fixtures: hypothesis profiles, isolated homes and an in-process CLI runner."""

from __future__ import annotations

import io
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

# "ci" is deterministic (the same examples every run), so CI is reproducible; "dev" explores more;
# "fuzz" is the long run outside the default suite (make fuzz).
settings.register_profile(
    "ci", derandomize=True, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "fuzz", max_examples=50_000, deadline=None, suppress_health_check=list(HealthCheck)
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


_REAL_BIND = socket.socket.bind
_REAL_CONNECT = socket.socket.connect
_INET = (socket.AF_INET, socket.AF_INET6)


def _refuse_inet(real: Callable[..., Any]) -> Callable[..., Any]:
    def guarded(self: socket.socket, address: object) -> Any:
        if self.family in _INET:
            raise AssertionError(
                "this test opens a real network socket: mark it @pytest.mark.network "
                "(make test-fast runs only tests without that marker)"
            )
        return real(self, address)

    return guarded


@pytest.fixture(autouse=True)
def _network_marker_is_honest(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A test without the ``network`` marker gets no TCP/UDP sockets (Unix sockets are fine), so
    ``make test-fast`` really opens none; real-socket tests must say so with the marker."""
    if request.node.get_closest_marker("network") is None:
        monkeypatch.setattr(socket.socket, "bind", _refuse_inet(_REAL_BIND))
        monkeypatch.setattr(socket.socket, "connect", _refuse_inet(_REAL_CONNECT))


@dataclass
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.out.splitlines()


class Cli:
    """Runs ``pnyx.cli.main.main`` in-process against one home directory."""

    def __init__(self, home: Path) -> None:
        self.home = home

    def __call__(self, *argv: str, stdin: str | None = None) -> Result:
        from pnyx.cli.main import main

        out, err = io.StringIO(), io.StringIO()
        if stdin is not None:
            import sys

            saved = sys.stdin
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin.encode()))
            try:
                code = main(["--home", str(self.home), *argv], out=out, err=err)
            finally:
                sys.stdin = saved
        else:
            code = main(["--home", str(self.home), *argv], out=out, err=err)
        return Result(code, out.getvalue(), err.getvalue())

    def ok(self, *argv: str, stdin: str | None = None) -> Result:
        """Run and assert success; returns the result."""
        result = self(*argv, stdin=stdin)
        assert result.code == 0, f"pnyx {' '.join(argv)} -> {result.code}: {result.err}"
        return result


@pytest.fixture
def cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cli]:
    """A CLI bound to a fresh home, with no passphrase in the environment."""
    monkeypatch.delenv("PNYX_PASSPHRASE", raising=False)
    monkeypatch.delenv("PNYX_HOME", raising=False)
    yield Cli(tmp_path / "home")


@pytest.fixture
def make_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[type[Cli]]:
    """Factory for several homes in one test: ``make_cli(path)``."""
    monkeypatch.delenv("PNYX_PASSPHRASE", raising=False)
    monkeypatch.delenv("PNYX_HOME", raising=False)
    yield Cli


#: Test modules that drive a real browser; the summary says so when all their tests were skipped.
BROWSER_TEST_MODULES = (
    "tests/test_web_browser.py",
    "tests/test_web_firstrun_browser.py",
    "tests/test_web_phone.py",
    "tests/test_web_polls_browser.py",
    "tests/test_web_screenshots.py",
)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One clear line when the browser tests were skipped for want of Chromium or Playwright
    (a skip is easy to miss among dots; CI installs Chromium so that they run)."""
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if str(getattr(report, "nodeid", "")).startswith(BROWSER_TEST_MODULES)
        or any(module in str(getattr(report, "longrepr", "")) for module in BROWSER_TEST_MODULES)
    ]
    if skipped:
        terminalreporter.write_line(
            f"BROWSER TESTS SKIPPED ({len(skipped)}): no Chromium or Playwright found "
            "(apt-get install chromium; pip install playwright)",
            yellow=True,
            bold=True,
        )
