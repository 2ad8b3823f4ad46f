"""Admission (pnyx/trust/admission): horizon, quotas and eviction order on small graphs."""

from __future__ import annotations

import pytest

from pnyx.app.config import NodeConfig, apply
from pnyx.errors import ConfigError
from pnyx.trust.admission import (
    HORIZON_QUOTA_FLOOR_BYTES,
    STRANGER_QUOTA_BYTES,
    AdmissionConfig,
    Horizon,
    eviction_order,
    plan_horizon,
)
from pnyx.trust.graph import TrustGraph
from pnyx.trust.state import TrustState

ME, B, F, C, D, E, X = (bytes([n]) * 32 for n in range(1, 8))
NAMES = {ME: "me", B: "b", F: "f", C: "c", D: "d", E: "e", X: "x"}


def _state() -> TrustState:
    # me -> b, me -> f; b -> c, b -> e, f -> c; c -> d. c is 2 hops away by two paths, e by one,
    # d is 3 hops away.
    pairs = [(ME, B), (ME, F), (B, C), (B, E), (F, C), (C, D)]
    graph = TrustGraph.from_pairs((u.hex(), v.hex()) for u, v in pairs)
    return TrustState(graph, ME.hex())


def _names(keys: frozenset[bytes] | list[bytes]) -> list[str]:
    return sorted(NAMES[k] for k in keys)


def test_the_horizon_is_within_hops_beyond_follows() -> None:
    state = _state()
    plan = plan_horizon(state, [B, F], AdmissionConfig(hops=2))
    assert _names(plan.pinned) == ["b", "f", "me"]
    assert _names(plan.horizon) == ["c", "e"]
    assert _names(plan.wanted) == ["b", "c", "e", "f", "me"]
    assert _names(plan_horizon(state, [B, F], AdmissionConfig(hops=1)).horizon) == []
    assert _names(plan_horizon(state, [B, F], AdmissionConfig(hops=3)).horizon) == ["c", "d", "e"]


def test_the_cap_keeps_the_most_trusted_and_excluded_stay_out() -> None:
    state = _state()
    # c is followed by b and f, e by b alone: c is more trusted
    assert state.score(C.hex()) > state.score(E.hex()) > 0
    capped = plan_horizon(state, [B, F], AdmissionConfig(hops=2, max_horizon=1))
    assert _names(capped.horizon) == ["c"]
    without_c = plan_horizon(state, [B, F], AdmissionConfig(hops=2), excluded=[C])
    assert _names(without_c.horizon) == ["e"]


def test_quotas_grow_with_trust_and_pinned_have_none() -> None:
    budget = 10 * 1024 * 1024
    plan = plan_horizon(_state(), [B, F], AdmissionConfig(hops=2, budget_bytes=budget))
    assert plan.quota(ME) is None and plan.quota(B) is None
    assert plan.quota(X) == STRANGER_QUOTA_BYTES
    quota_c, quota_e = plan.quota(C), plan.quota(E)
    assert quota_c is not None and quota_e is not None
    assert quota_c > quota_e > HORIZON_QUOTA_FLOOR_BYTES
    # the horizon's shares of the budget add up to the budget
    assert quota_c + quota_e == pytest.approx(2 * HORIZON_QUOTA_FLOOR_BYTES + budget, abs=2)


def test_eviction_drops_over_quota_then_strangers_then_lowest_trust() -> None:
    plan = Horizon(
        pinned=frozenset({ME, B}),
        horizon=frozenset({C, E}),
        scores={ME: 0.5, B: 0.3, C: 0.2, E: 0.1},
        budget_bytes=1_000_000,
    )
    # C's quota: floor + 2/3 of the budget; E's: floor + 1/3
    usage = {ME: 400_000, B: 300_000, C: 200_000, E: 150_000, X: 10_000, D: 100_000}
    # 1,160,000 held: over by 160,000. D (a stranger over its 64 KiB quota) goes first, then X
    # (a stranger within quota), then E (the least trusted of the horizon).
    assert eviction_order(usage, plan) == [D, X, E]
    # over by exactly D's 150,000: D alone goes
    assert eviction_order({**usage, D: 150_000, E: 90_000}, plan) == [D]
    assert eviction_order({ME: 400_000, C: 500_000}, plan) == []


def test_pinned_feeds_are_never_evicted_even_over_budget() -> None:
    plan = Horizon(frozenset({ME, B}), frozenset({C}), {C: 0.1}, budget_bytes=100)
    assert eviction_order({ME: 1_000, B: 1_000, C: 10, X: 5}, plan) == [X, C]


def test_config_bounds() -> None:
    with pytest.raises(ValueError, match="hops"):
        AdmissionConfig(hops=4).check()
    with pytest.raises(ValueError, match="budget"):
        AdmissionConfig(budget_bytes=0).check()


def test_config_keys_hops_and_storage_budget_mb() -> None:
    config = apply(NodeConfig(), {"hops": 3, "storage_budget_mb": 64}, "config.toml [node]")
    assert (config.hops, config.storage_budget_mb) == (3, 64)
    assert (NodeConfig().hops, NodeConfig().storage_budget_mb) == (2, 1024)
    for bad in ({"hops": 0}, {"hops": 4}, {"hops": "2"}, {"storage_budget_mb": 8}):
        with pytest.raises(ConfigError, match="must be an integer"):
            apply(NodeConfig(), bad, "config.toml [node]")
