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
