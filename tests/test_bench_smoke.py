"""Smoke test of the benchmark suite (bench/): every benchmark runs at tiny sizes and prints the
documented JSON shape. Measures nothing; the real runs are `make bench` / `make bench-quick`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_kit import check_shape

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
NAMES = ("ingest", "timeline", "cli", "footprint")
pytestmark = pytest.mark.network  # runs the benchmarks as processes (they start more)

#: Longest a tiny run of the whole suite may take, in seconds (it takes about 5).
SUITE_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("bench-cache")


def test_run_all_writes_results_and_a_table(cache: Path, tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "run_all.py"),
            *("--size", "tiny", "--cache-dir", str(cache)),
            *("--output", str(output), "--only", *NAMES),
        ],
        capture_output=True,
        timeout=SUITE_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    report = json.loads(output.read_text())
    assert report["size"] == "tiny"
    assert report["machine"]["cores"] >= 1
    assert [r["name"] for r in report["results"]] == list(NAMES)
    for result in report["results"]:
        check_shape(result)
    table = done.stdout.decode()
    assert "| bench | what | name | value | target | met |" in table
    assert "targets missed:" in table


def test_one_benchmark_alone_prints_one_json_object(cache: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            str(BENCH / "timeline.py"),
            *("--json", "--size", "tiny"),
            *("--cache-dir", str(cache), "--queries", "5"),
        ],
        capture_output=True,
        timeout=SUITE_TIMEOUT_S,
        check=True,
    )
    lines = done.stdout.decode().strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    check_shape(result)
    assert result["params"]["queries"] == 5
    assert result["figures"]["messages"] == result["params"]["messages"]


#: Longest a tiny run of a benchmark that starts node processes may take, in seconds.
NODE_BENCH_TIMEOUT_S = 120


@pytest.mark.parametrize("name", ["sync", "gossip"])
def test_node_benchmarks_run_alone_at_tiny_size(cache: Path, name: str) -> None:
    """sync and gossip start real node processes; at tiny size each still prints its shape."""
    done = subprocess.run(
        [sys.executable, str(BENCH / f"{name}.py"), "--json", "--size", "tiny"]
        + (["--cache-dir", str(cache)] if name == "sync" else []),
        capture_output=True,
        timeout=NODE_BENCH_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert result["name"] == name
    check_shape(result)


def test_gossip_throughput_part_alone_reports_where_the_cpu_goes() -> None:
    """``--only throughput`` skips the latency and reference parts and reports CPU per post."""
    done = subprocess.run(
        [
            *(sys.executable, str(BENCH / "gossip.py")),
            *("--json", "--size", "tiny", "--only", "throughput"),
        ],
        capture_output=True,
        timeout=NODE_BENCH_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    result = json.loads(done.stdout.decode().strip().splitlines()[-1])
    assert set(result["targets"]) == {"throughput", "throughput_lost"}
    assert result["reference"] == {} and result["ratios"] == {}
    figures = result["figures"]
    assert not any(name.startswith("latency_") for name in figures)
    assert figures["throughput_delivered_min"] == result["params"]["burst"]
    assert figures["throughput_frames_published"] >= 1
    for role in ("author", "follower_max", "follower_mean", "cluster"):
        assert figures[f"throughput_cpu_us_per_post_{role}"] > 0
