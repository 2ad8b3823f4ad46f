"""Benchmark 5, cli: wall time of ``pnyx post`` and ``pnyx timeline`` as whole processes.

Each command runs ``runs`` times as a new process (start to exit) against a copy of the timeline
benchmark's home (same store size, see timeline.py and datasets.py). Target: p50 <= 200 ms each.
Commands that need no network must not import libp2p: checked in a separate process that runs
both commands through ``pnyx.cli.main`` and lists what was imported.

Reference (same run): start-up of a bare interpreter, ``python -c pass``.

Usage: ``python bench/cli.py [--json] [--quick | --size tiny|quick|full] [--messages N]
[--authors N] [--followed N] [--runs N]``
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import common
from common import ROOT, Result, log, spread
from datasets import Spec, timeline_home

PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"messages": 3_000, "authors": 100, "followed": 20, "thread": 20, "runs": 3},
    "quick": {"messages": 100_000, "authors": 1_000, "followed": 100, "thread": 200, "runs": 20},
    "full": {
        "messages": 1_000_000,
        "authors": 10_000,
        "followed": 1_000,
        "thread": 200,
        "runs": 25,
    },
}
#: Wall time target of one command (p50), in milliseconds.
TARGET_P50_MS = 200.0
#: Module prefixes an offline command must never load.
NETWORK_MODULES = ("libp2p", "multiaddr")

_IMPORT_PROBE = """
import io, sys
from pnyx.cli.main import main
home = sys.argv[1]
for argv in (["post", "import probe"], ["timeline"]):
    code = main(["--home", home, *argv], out=io.StringIO(), err=io.StringIO())
    assert code == 0, (argv, code)
prefixes = tuple(sys.argv[2:])
print(" ".join(sorted({m.split(".")[0] for m in sys.modules if m.startswith(prefixes)})))
"""


def pnyx_command() -> list[str]:
    """The installed console script if there is one, else ``python -m pnyx``."""
    script = Path(sys.executable).with_name("pnyx")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pnyx"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("PNYX_PASSPHRASE", None)
    env.pop("PNYX_HOME", None)
    return env


def wall_ms(argv: list[str], runs: int, env: dict[str, str]) -> list[float]:
    """Wall time of ``argv`` as a process, ``runs`` times (one unmeasured warm-up run first)."""
    samples = []
    for number in range(runs + 1):
        start = time.perf_counter_ns()
        done = subprocess.run(argv, capture_output=True, env=env, check=False)
        elapsed = (time.perf_counter_ns() - start) / 1e6
        if done.returncode != 0:
            raise RuntimeError(
                f"{' '.join(argv[:4])}... exited {done.returncode}: {done.stderr.decode()[-400:]}"
            )
        if number:
            samples.append(elapsed)
    return samples


def run(params: dict[str, Any], cache: Path) -> Result:
    spec = Spec(
        messages=params["messages"],
        authors=params["authors"],
        followed=params["followed"],
        thread=params["thread"],
    )
    source, _ = timeline_home(spec, cache)
    runs = params["runs"]
    env = _env()
    pnyx = pnyx_command()
    result = Result(name="cli", params=params)
    with tempfile.TemporaryDirectory(prefix="pnyx-bench-cli-", dir=cache) as tmp:
        home = Path(tmp) / "home"
        shutil.copytree(source, home)
        log(f"cli: {runs} runs each of post, timeline and python -c pass")
        bare = wall_ms([sys.executable, "-c", "pass"], runs, env)
        timeline = wall_ms([*pnyx, "--home", str(home), "timeline"], runs, env)
        post = [
            *wall_ms([*pnyx, "--home", str(home), "post", "a benchmark post"], runs, env),
        ]
        probe = subprocess.run(
            [sys.executable, "-c", _IMPORT_PROBE, str(home), *NETWORK_MODULES],
            capture_output=True,
            env=env,
            check=True,
            cwd=ROOT,
        )
        loaded = probe.stdout.decode().split()
    result.figures = {**spread("post", post), **spread("timeline", timeline)}
    result.figures["network_modules_loaded"] = len(loaded)
    result.reference = spread("python_startup", bare)
    base = result.reference["python_startup_p50_ms"]
    result.ratios = {
        "post_p50_vs_startup": result.figures["post_p50_ms"] / base,
        "timeline_p50_vs_startup": result.figures["timeline_p50_ms"] / base,
    }
    result.target("post_p50", result.figures["post_p50_ms"], "<=", TARGET_P50_MS, "ms")
    result.target("timeline_p50", result.figures["timeline_p50_ms"], "<=", TARGET_P50_MS, "ms")
    result.target("network_modules_loaded", len(loaded), "<=", 0, "modules")
    result.notes.append(
        f"command: {' '.join(Path(part).name for part in pnyx)}; store of "
        f"{params['messages']:,} messages; post writes with a durable commit; timeline prints "
        "the default page"
    )
    if loaded:
        result.notes.append(f"offline commands loaded: {json.dumps(loaded)}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    return common.dataset_main("cli", __doc__, PRESETS, run, argv)


if __name__ == "__main__":
    sys.exit(main())
