"""Checks shared by the benchmark smoke tests: the shape every benchmark's JSON result has."""

from __future__ import annotations

from typing import Any


def check_shape(result: dict[str, Any]) -> None:
    assert set(result) >= {"name", "params", "figures", "reference", "ratios", "targets"}
    assert result["params"]["size"] == "tiny"
    for section in ("figures", "reference", "ratios"):
        assert result[section], f"{result['name']}: empty {section}"
        for key, value in result[section].items():
            assert isinstance(value, int | float), (result["name"], section, key)
    assert result["targets"], result["name"]
    for spec in result["targets"].values():
        assert set(spec) >= {"target", "op", "value", "unit", "met"}
        assert spec["op"] in (">=", "<=")
        assert isinstance(spec["met"], bool)
        met = (
            spec["value"] >= spec["target"]
            if spec["op"] == ">="
            else spec["value"] <= spec["target"]
        )
        assert spec["met"] == met
