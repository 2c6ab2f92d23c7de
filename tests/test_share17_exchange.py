"""Session 17: exchanges after the balanced construction (packer.greedy.exchange)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as hst

from packer.check import check
from packer.formats import instance_from_dict
from packer.generate import generate
from packer.greedy import exchange
from packer.greedy import solver as greedy


def _inst(mode: str, gpus: int, cpu: int, requests: list[dict[str, Any]], tenants: list | None = None):  # type: ignore[no-untyped-def]
    return instance_from_dict({
        "format": "packer.instance/v1", "name": "t", "catalog": [{"name": "V100-32GB"}],
        "topology": {"levels": ["node"]},
        "nodes": [{"id": "n0", "gpu_model": "V100-32GB", "num_gpus": gpus, "mode": mode, "cpu_milli": cpu,
                   "memory_mib": 1 << 20}],
        "tenants": tenants or [],
        "requests": requests,
    })


@pytest.mark.parametrize("on", [True, False])
def test_two_shares_take_the_place_of_one_that_strands_milli(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an 810-milli share (placed first: bigger) makes way for two 470-milli shares worth
    0.94 together; without the exchange the GPU keeps the 810 and its 190 milli stay idle."""
    monkeypatch.setattr(greedy, "EXCHANGE", on)
    inst = _inst("shared", 1, 10000, [
        {"id": "big", "kind": "share", "gpu_milli": 810, "cpu_milli": 3000},
        {"id": "a", "kind": "share", "gpu_milli": 470, "cpu_milli": 4000},
        {"id": "b", "kind": "share", "gpu_milli": 470, "cpu_milli": 4000},
    ])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(0.94 if on else 0.81)
    placed = {a.request for a in plan.assignments}
    assert placed == ({"a", "b"} if on else {"big"})
    if on:
        assert "big" in {u.request for u in plan.unplaced}


@pytest.mark.parametrize("on", [True, False])
def test_a_cpu_heavy_whole_gpu_makes_way_for_two_light_ones(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the exchange over two GPUs: a whole GPU asking 18 of the node's 20 cores (first in file
    order) leaves the second GPU idle; two 3-core whole GPUs on both GPUs are worth 2 against 1."""
    monkeypatch.setattr(greedy, "EXCHANGE", on)
    inst = _inst("full", 2, 20000, [
        {"id": "heavy", "kind": "gpu", "cpu_milli": 18000},
        {"id": "l1", "kind": "gpu", "cpu_milli": 3000},
        {"id": "l2", "kind": "gpu", "cpu_milli": 3000},
    ])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(2.0 if on else 1.0)


def test_host_work_worth_nothing_gives_way() -> None:
    """Tests that host units (worth 0) on the node give up their CPU to a waiting share, and that a
    GPU-isolated tenant's share never joins another tenant's on a GPU."""
    inst = _inst("shared", 1, 10000, [
        {"id": "big", "kind": "share", "gpu_milli": 810, "cpu_milli": 3000},
        {"id": "host", "kind": "host", "cpu_milli": 6000},
        {"id": "a", "kind": "share", "gpu_milli": 470, "cpu_milli": 4000},
        {"id": "b", "kind": "share", "gpu_milli": 470, "cpu_milli": 4000},
        {"id": "iso", "kind": "share", "gpu_milli": 150, "cpu_milli": 100, "tenant": "nb"},
    ], tenants=[{"id": "nb", "isolation": "gpu"}])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(0.94)
    assert {a.request for a in plan.assignments} == {"a", "b"}


def test_a_request_never_drops_below_its_min_count(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a unit of a request placed with exactly ``min_count`` units is never taken away
    (two 810s that must go together stay, though one 470 pair would be worth more per GPU)."""
    inst = _inst("shared", 2, 100000, [
        {"id": "pair", "kind": "share", "gpu_milli": 810, "count": 2, "cpu_milli": 3000},
        {"id": "a", "kind": "share", "gpu_milli": 470, "count": 2, "min_count": 1, "cpu_milli": 45000},
    ])
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert "pair" in {a.request for a in plan.assignments}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=hst.integers(0, 10_000), nodes=hst.integers(2, 6), passes=hst.integers(1, 3))
def test_property_exchanges_keep_plans_valid_and_never_lose(seed: int, nodes: int, passes: int) -> None:
    """Property: on sharing instances (where the balanced construction runs) the plan with exchanges
    passes the checker and the balanced construction is worth at least as much as without them."""
    inst = generate("sharing", seed=seed, nodes=nodes)
    old = exchange.PASSES
    try:
        exchange.PASSES = passes
        with_ex = greedy._construct(inst, 0, 0.0, None, None, None, balance="cpu").plan
        greedy.EXCHANGE = False
        without = greedy._construct(inst, 0, 0.0, None, None, None, balance="cpu").plan
    finally:
        greedy.EXCHANGE = True
        exchange.PASSES = old
    assert check(inst, with_ex).ok
    assert with_ex.objective >= without.objective - 1e-6
