"""Session 12 tests of the greedy: work worth nothing comes last, and the repair pass (issue 16)."""

from __future__ import annotations

from typing import Any

import pytest

from packer.check import check
from packer.formats import instance_from_dict
from packer.greedy.solver import solve


def _inst(nodes: list[dict[str, Any]], requests: list[dict[str, Any]], tenants: list[dict[str, Any]] | None = None):  # type: ignore[no-untyped-def]
    return instance_from_dict({
        "format": "packer.instance/v1", "name": "t", "catalog": [], "topology": {"levels": ["node", "rack"]},
        "nodes": nodes, "tenants": tenants or [], "requests": requests,
    })


def _node(nid: str, mode: str = "full", gpus: int = 4, cpu: int = 32000, mem: int = 65536) -> dict[str, Any]:
    return {"id": nid, "gpu_model": "H100-80GB", "num_gpus": gpus, "mode": mode, "cpu_milli": cpu,
            "memory_mib": mem, "domains": {"rack": "r0"}}


def test_host_work_of_high_priority_waits_for_gpu_work():
    """Tests that a priority-2 host request (worth 0) does not take the CPU a priority-1 GPU request
    needs: the greedy places the GPU request (objective 1) and the host request only if CPU is left."""
    inst = _inst([_node("n0", cpu=16000)], [
        {"id": "h", "kind": "host", "count": 1, "cpu_milli": 12000, "priority": 2.0},
        {"id": "g", "kind": "gpu", "count": 1, "cpu_milli": 8000, "priority": 1.0},
    ])
    plan = solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(1.0)
    assert {a.request for a in plan.assignments} == {"g"}


def test_host_work_still_goes_where_cpu_is_left():
    """Tests that host work is still placed after the GPU work when the node has CPU for both."""
    inst = _inst([_node("n0", cpu=32000)], [
        {"id": "h", "kind": "host", "count": 2, "cpu_milli": 4000, "priority": 2.0},
        {"id": "g", "kind": "gpu", "count": 2, "cpu_milli": 8000, "priority": 1.0},
    ])
    plan = solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert {a.request for a in plan.assignments} == {"g", "h"}


def _cpu_pairs():  # type: ignore[no-untyped-def]
    """Two 2-GPU nodes of 16 cores; four 1-GPU pods of 8, 12, 4 and 8 cores (32 of 32 cores asked).
    Packing puts the 4-core pod beside the 8-core one and strands the last 8-core pod; all four fit
    when the 4-core pod goes beside the 12-core one."""
    return _inst([_node("a", gpus=2, cpu=16000), _node("b", gpus=2, cpu=16000)], [
        {"id": f"p{i}", "kind": "gpu", "count": 1, "cpu_milli": c} for i, c in enumerate([8000, 12000, 4000, 8000])
    ])


def test_balanced_construction_matches_cpu_heavy_and_light_pods():
    """Tests that the balanced construction places all four pods where packing places three, and
    that the greedy keeps it."""
    from packer.greedy import solver as gs

    inst = _cpu_pairs()
    assert gs.host_pressure(inst)["cpu"] == pytest.approx(1.0)
    packed = gs._construct(inst, 0, 0.0, None, None, None, balance=None).plan
    balanced = gs._construct(inst, 0, 0.0, None, None, None, balance="cpu").plan
    assert packed.objective == pytest.approx(3.0)
    assert balanced.objective == pytest.approx(4.0)
    plan = solve(inst, file_order=False)
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(4.0)
    assert plan.solver.model_dump()["construction"] == "priority order, balanced"


def test_greedy_keeps_the_packed_construction_where_it_is_better(monkeypatch):
    """Tests the portfolio: where balancing loses, the greedy returns the packed construction's
    objective (solve is the best of both, never below either; with the construction by net value for
    quota-bound tenants, session 21, at least that)."""
    from packer.generate import generate
    from packer.greedy import solver as gs

    for seed in (0, 1):
        inst = generate("sharing", seed, nodes=4)
        both = [gs._construct(inst, 0, 0.0, None, None, None, balance=b).plan for b in (None, "cpu")]
        plan = solve(inst, file_order=False)
        assert check(inst, plan).ok
        assert plan.objective >= max(p.objective for p in both) - 1e-6
        monkeypatch.setattr(gs, "QUOTA_NET", False)
        plan = solve(inst, file_order=False)
        monkeypatch.setattr(gs, "QUOTA_NET", True)
        assert plan.objective == pytest.approx(max(p.objective for p in both))


def test_balanced_ranking_cache_agrees_with_a_fresh_ranking():
    """Tests that the per-shape node ranking kept up to date from the change log (used on large node
    sets, in both constructions) gives the same plan as ranking every node afresh for every request."""
    from packer.generate import generate
    from packer.greedy import solver as gs

    for family, balance in (("sharing", "cpu"), ("sharing", None), ("haein", None), ("inference", None)):
        inst = generate(family, 3, nodes=80)
        cached = gs._construct(inst, 0, 0.0, None, None, None, balance=balance).plan
        old = gs._RANK_DIRECT
        gs._RANK_DIRECT = 1 << 30  # every node set ranked directly
        try:
            fresh = gs._construct(inst, 0, 0.0, None, None, None, balance=balance).plan
        finally:
            gs._RANK_DIRECT = old
        assert check(inst, cached).ok
        assert cached.objective == pytest.approx(fresh.objective)
        assert {a.request: a.units for a in cached.assignments} == {a.request: a.units for a in fresh.assignments}
        assert [u.request for u in cached.unplaced] == [u.request for u in fresh.unplaced]
