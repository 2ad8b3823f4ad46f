"""Smoke test of bench/trust.py at tiny size: it runs and prints the documented JSON shape.
Measures nothing (the real run is `make bench`); no node process and no network."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bench_kit import check_shape

ROOT = Path(__file__).resolve().parent.parent
#: Longest a tiny run may take, in seconds (it takes about 1).
TIMEOUT_S = 60


def test_trust_benchmark_runs_at_tiny_size(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            *(sys.executable, str(ROOT / "bench" / "trust.py"), "--json", "--size", "tiny"),
            *("--cache-dir", str(tmp_path), "--follows", "3"),
        ],
        capture_output=True,
        timeout=TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    lines = done.stdout.decode().strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert result["name"] == "trust"
    check_shape(result)
    assert result["params"]["follows"] == 3
    assert set(result["targets"]) == {
        "full_compute",
        "incremental_update_p99",
        "incremental_update_p99_cpu",
        "sybil_top_at_100_attack_edges",
    }
    figures = result["figures"]
    for attack in (10, 100, 1000):
        for what in ("trust_mass_pct", "top_pct", "follower_count_top_pct", "fof_pct"):
            assert 0 <= figures[f"sybil_{attack}_{what}"] <= 100
