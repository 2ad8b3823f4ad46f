"""Imports point down the layers drawn in docs/architecture.md ("Package layout"), and nothing but
the node's start-up (pnyx.app) imports pnyx.gossip, the one home of libp2p."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PNYX = Path(__file__).resolve().parent.parent / "pnyx"

#: Each top-level part of pnyx and its layer: a module may import its own layer and those below.
LAYERS = {
    "errors": 0,
    "clock": 0,
    "core": 0,
    "crypto": 0,
    "home": 0,
    "runtime": 0,
    "events": 1,
    "net": 1,
    "store": 1,
    "ingest": 1,
    "trust": 1,
    "rank": 1,
    "polls": 1,
    "notes": 1,
    "gossip": 2,
    "sync": 2,
    "discovery": 2,
    "catchup": 2,
    "node": 3,
    "views": 3,
    "reads": 3,
    "ops": 3,
    "control": 4,
    "web": 4,
    "app": 5,
    "cli": 6,
    "__main__": 6,
}
#: The only parts that may import pnyx.gossip (besides pnyx.gossip itself).
GOSSIP_IMPORTERS = {"app"}


def _part(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
    return [(line, name) for line, name in found if name.startswith("pnyx.")]


def _modules() -> list[Path]:
    return sorted(p for p in PNYX.rglob("*.py") if p.parent != PNYX or p.name != "__init__.py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PNYX.parent)))
def test_imports_point_down(path: Path) -> None:
    relative = path.relative_to(PNYX)
    part = relative.parts[0].removesuffix(".py")
    assert part in LAYERS, f"pnyx/{part} has no layer: add it to LAYERS and the architecture doc"
    wrong = []
    for line, module in _imports(path):
        other = _part(module)
        if other == part:
            continue
        if other not in LAYERS:
            wrong.append(f"line {line}: {module} (no layer)")
        elif LAYERS[other] > LAYERS[part]:
            wrong.append(f"line {line}: {module} (layer {LAYERS[other]} above {LAYERS[part]})")
        elif other == "gossip" and part not in GOSSIP_IMPORTERS:
            wrong.append(f"line {line}: {module} (only the node's start-up imports pnyx.gossip)")
    assert not wrong, f"pnyx/{relative} imports upwards: " + "; ".join(wrong)


def test_modules_stay_small() -> None:
    big = {
        str(p.relative_to(PNYX.parent)): n
        for p in _modules()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 400
    }
    assert not big, f"modules over 400 lines: {big}"
