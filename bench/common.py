"""Shared code of the benchmark suite: options, timing, percentiles, the JSON result and the table.

Every benchmark is a script ``bench/NAME.py`` whose ``main(argv) -> int`` prints one JSON object
(with ``--json``) or a table::

    {"name": ..., "params": {...}, "figures": {...}, "reference": {...}, "ratios": {...},
     "targets": {NAME: {"target": x, "op": ">=" | "<=", "value": y, "unit": ..., "met": bool}},
     "notes": [...], "load_average": [1 min, 5 min, 15 min] when the result was made}

Sizes come from a preset (``--size tiny|quick|full``; ``--quick`` is ``--size quick``) and each
benchmark's own options override single parameters. Progress goes to stderr, results to stdout.
Numbers on a small shared machine are noisy: each benchmark measures its reference in the same
process and run, and reports ratios next to absolute figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# Every process a benchmark starts (nodes, CLI commands) runs from bytecode caches, as an installed
# pnyx does: with PYTHONDONTWRITEBYTECODE set (some shells and tools set it) each process would
# compile every module again, and start-up-bound figures (cli, sync at small sizes) would measure
# the compiler (seen: +25-45 % on `pnyx post` / `pnyx timeline`).
os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

#: Repository root (bench/ is one level below).
ROOT = Path(__file__).resolve().parent.parent
#: Where generated datasets and stores are kept between runs (gitignored).
DEFAULT_CACHE_DIR = ROOT / "bench" / ".cache"
#: Environment variable overriding the cache directory.
CACHE_ENV = "PNYX_BENCH_CACHE"
#: Size presets every benchmark understands.
SIZES = ("tiny", "quick", "full")

if str(ROOT) not in sys.path:  # run as `python bench/NAME.py` from anywhere
    sys.path.insert(0, str(ROOT))

Number = float | int


@dataclass
class Result:
    """One benchmark's output; ``to_json()`` is the object the script prints."""

    name: str
    params: dict[str, Any]
    figures: dict[str, Number] = field(default_factory=dict)
    reference: dict[str, Number] = field(default_factory=dict)
    ratios: dict[str, Number] = field(default_factory=dict)
    targets: dict[str, dict[str, Any]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def target(self, name: str, value: float, op: str, limit: float, unit: str) -> None:
        """Record whether ``value`` meets ``op limit`` (``op`` is ">=" or "<=")."""
        if op not in (">=", "<="):
            raise ValueError(f"unknown comparison {op!r}")
        met = value >= limit if op == ">=" else value <= limit
        self.targets[name] = {
            "target": limit,
            "op": op,
            "value": rounded(value),
            "unit": unit,
            "met": bool(met),
        }

    def to_json(self) -> dict[str, Any]:
        load = [round(x, 2) for x in os.getloadavg()]
        return {
            "name": self.name,
            "params": self.params,
            "figures": {k: rounded(v) for k, v in self.figures.items()},
            "reference": {k: rounded(v) for k, v in self.reference.items()},
            "ratios": {k: rounded(v) for k, v in self.ratios.items()},
            "targets": self.targets,
            "notes": self.notes,
            "load_average": load,
        }


def rounded(value: Number) -> Number:
    """Four significant digits: more is noise on this machine."""
    if isinstance(value, int) or value == 0 or not math.isfinite(value):
        return value
    digits = 3 - math.floor(math.log10(abs(value)))
    return round(value, max(0, digits))


def _cpu_times() -> tuple[int, int] | None:
    """(busy, idle) jiffies of all CPUs since boot, from /proc/stat (None where there is none)."""
    try:
        with open("/proc/stat") as stat:
            fields = [int(x) for x in stat.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return sum(fields) - idle, idle


def idle_fraction(seconds: float = 2.0) -> float | None:
    """Share of all cores left idle over the next ``seconds`` (None if unknown)."""
    before = _cpu_times()
    time.sleep(seconds)
    after = _cpu_times()
    if before is None or after is None:
        return None
    busy, idle = after[0] - before[0], after[1] - before[1]
    return idle / (busy + idle) if busy + idle else None


def wait_for_idle(max_seconds: float, threshold: float = 0.9) -> float | None:
    """Wait (at most ``max_seconds``) until other processes leave ``threshold`` of the cores idle;
    return the last idle share seen. Numbers taken while the machine is busy mean little."""
    deadline = time.monotonic() + max_seconds
    idle = idle_fraction()
    while idle is not None and idle < threshold and time.monotonic() < deadline:
        idle = idle_fraction()
    return idle


def log(text: str) -> None:
    """Progress line on stderr (stdout carries the result)."""
    print(f"[bench] {text}", file=sys.stderr, flush=True)


def cache_dir(explicit: str | None) -> Path:
    path = Path(explicit or os.environ.get(CACHE_ENV) or DEFAULT_CACHE_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def parser(name: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark takes; each adds its own size parameters."""
    p = argparse.ArgumentParser(prog=f"bench/{name}.py", description=description)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--quick", action="store_true", help="small sizes (same as --size quick)")
    p.add_argument("--size", choices=SIZES, default=None, help="size preset (default: full)")
    p.add_argument("--cache-dir", help=f"dataset cache (default: ${CACHE_ENV} or bench/.cache)")
    return p


def preset(args: argparse.Namespace, presets: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """The parameters: the chosen preset, with every option the user gave on top."""
    size = args.size or ("quick" if args.quick else "full")
    params = dict(presets[size])
    for key in presets["full"]:
        value = getattr(args, key, None)
        if value is not None:
            params[key] = value
    params["size"] = size
    return params


def percentile(samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100) of ``samples``."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def latency_ms(fn: Callable[[], object], runs: int, warmup: int = 3) -> list[float]:
    """Wall time of ``fn()`` in milliseconds, ``runs`` times after ``warmup`` unmeasured calls."""
    for _ in range(warmup):
        fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - start) / 1e6)
    return samples


def spread(prefix: str, samples_ms: Sequence[float]) -> dict[str, float]:
    """``{prefix_p50_ms, prefix_p99_ms}`` of ``samples_ms``."""
    return {
        f"{prefix}_p50_ms": percentile(samples_ms, 50),
        f"{prefix}_p99_ms": percentile(samples_ms, 99),
    }


def emit(result: Result, as_json: bool) -> int:
    """Print ``result`` (JSON or a table); exit status 0 (a missed target is a result, not a
    failure of the benchmark)."""
    if as_json:
        print(json.dumps(result.to_json()), flush=True)
    else:
        print(table([result.to_json()]), flush=True)
    return 0


def dataset_main(
    name: str,
    doc: str | None,
    presets: Mapping[str, Mapping[str, Any]],
    run: Callable[[dict[str, Any], Path], Result],
    argv: Sequence[str] | None,
) -> int:
    """The command line of a benchmark that runs on a cached dataset: ``--json``, ``--quick`` /
    ``--size``, ``--cache-dir`` and one integer option per parameter of the full preset."""
    p = parser(name, doc.splitlines()[0] if doc else name)
    for param in presets["full"]:
        p.add_argument(f"--{param}", type=int, default=None)
    args = p.parse_args(argv)
    return emit(run(preset(args, presets), cache_dir(args.cache_dir)), args.json)


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "NO"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value == 0 or not math.isfinite(value):
            return str(value)
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"
    return str(value)


def table(results: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of every target, figure, reference and ratio of ``results``."""
    lines = [
        "| bench | what | name | value | target | met |",
        "|---|---|---|---:|---|---|",
    ]
    for res in results:
        name = res["name"]
        for key, spec in res.get("targets", {}).items():
            goal = f"{spec['op']} {_fmt(spec['target'])} {spec['unit']}".strip()
            value, met = _fmt(spec["value"]), _fmt(spec["met"])
            lines.append(f"| {name} | target | {key} | {value} | {goal} | {met} |")
        for section in ("figures", "reference", "ratios"):
            for key, value in res.get(section, {}).items():
                what = {"figures": "figure", "reference": "reference", "ratios": "ratio"}[section]
                lines.append(f"| {name} | {what} | {key} | {_fmt(value)} | | |")
    return "\n".join(lines)
