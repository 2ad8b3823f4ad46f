"""Run every benchmark, write bench/results.json and print one table (``make bench``).

Each benchmark runs as its own process (``python bench/NAME.py --json ...``) so memory figures
and caches do not leak between them; its JSON line is collected. A benchmark that crashes is
recorded with its error and the others still run; the exit status is then 1. A missed target is
a result, not a crash: the exit status stays 0.

Other processes on a small machine distort every figure: at full size each benchmark first waits
(up to ``WAIT_IDLE_S``) for the cores to be 90 % idle, and the idle share seen is recorded.

Usage: ``python bench/run_all.py [--quick | --size tiny|quick|full] [--only NAME ...]
[--cache-dir DIR] [--output FILE] [--wait-idle SECONDS]``
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from common import ROOT, SIZES, log, table, wait_for_idle

#: The benchmarks, in the order they run.
BENCHMARKS = (
    "ingest",
    "sync",
    "gossip",
    "timeline",
    "cli",
    "footprint",
    "trust",
    "square",
    "web",
)
#: Longest wait for an idle machine before each full-size benchmark, in seconds.
WAIT_IDLE_S = 120.0
#: Where results go by default.
DEFAULT_OUTPUT = ROOT / "bench" / "results.json"


def _git_commit() -> str | None:
    done = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, cwd=ROOT, check=False
    )
    return done.stdout.decode().strip() or None if done.returncode == 0 else None


def machine() -> dict[str, Any]:
    """What the numbers were measured on (they mean little without it)."""
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cores": len(os.sched_getaffinity(0)),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git_commit(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    }


def run_one(name: str, extra: Sequence[str]) -> dict[str, Any]:
    """Run ``bench/NAME.py --json`` and return its result (or an error record)."""
    script = ROOT / "bench" / f"{name}.py"
    start = time.monotonic()
    done = subprocess.run(
        [sys.executable, str(script), "--json", *extra],
        stdout=subprocess.PIPE,
        stderr=None,  # progress lines pass straight through
        cwd=ROOT,
        check=False,
    )
    elapsed = time.monotonic() - start
    lines = done.stdout.decode().strip().splitlines()
    if done.returncode != 0 or not lines:
        return {"name": name, "error": f"exit status {done.returncode}", "seconds": elapsed}
    try:
        result: dict[str, Any] = json.loads(lines[-1])
    except json.JSONDecodeError as exc:
        return {"name": name, "error": f"bad JSON output: {exc}", "seconds": elapsed}
    result["seconds"] = round(elapsed, 1)
    return result


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="bench/run_all.py", description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="small sizes: under a minute")
    p.add_argument("--size", choices=SIZES, default=None, help="size preset (default: full)")
    p.add_argument("--only", nargs="+", choices=BENCHMARKS, help="run only these benchmarks")
    p.add_argument("--cache-dir", help="dataset cache directory (default: bench/.cache)")
    p.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="results file")
    p.add_argument(
        "--wait-idle",
        type=float,
        metavar="SECONDS",
        help="before each benchmark, wait up to this long for the machine to be 90%% idle "
        f"(default {WAIT_IDLE_S:.0f} s at full size, 0 otherwise)",
    )
    args = p.parse_args(argv)
    size = args.size or ("quick" if args.quick else "full")
    extra = ["--size", size]
    if args.cache_dir:
        extra += ["--cache-dir", args.cache_dir]
    report: dict[str, Any] = {"size": size, "machine": machine(), "results": []}
    start = time.monotonic()
    wait = args.wait_idle if args.wait_idle is not None else (WAIT_IDLE_S if size == "full" else 0)
    for name in args.only or BENCHMARKS:
        idle = None
        if wait > 0:
            log(f"waiting up to {wait:.0f} s for an idle machine")
            idle = wait_for_idle(wait)
        log(f"=== {name} ({size}) ===" + (f" idle {idle:.0%}" if idle is not None else ""))
        result = run_one(name, extra)
        result["idle_before"] = None if idle is None else round(idle, 2)
        report["results"].append(result)
    report["seconds"] = round(time.monotonic() - start, 1)
    report["machine"]["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    results = [r for r in report["results"] if "error" not in r]
    print(table(results))
    failed = [r for r in report["results"] if "error" in r]
    for item in failed:
        print(f"\n{item['name']}: FAILED ({item['error']})")
    missed = [
        f"{r['name']}.{key}"
        for r in results
        for key, spec in r.get("targets", {}).items()
        if not spec["met"]
    ]
    print(
        f"\n{len(results)} benchmarks in {report['seconds']} s; targets missed: "
        f"{', '.join(missed) if missed else 'none'}; results in {args.output}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
