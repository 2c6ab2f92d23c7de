"""Session 16: a whole-GPU gang spares 'any' GPUs while the configured full ones hold all whole-GPU work."""

from __future__ import annotations

from typing import Any

import pytest

from packer.check import check
from packer.formats import instance_from_dict
from packer.greedy import solver as greedy


def _inst(gang_count: int, full_gpus: int = 8):  # type: ignore[no-untyped-def]
    def node(nid: str, mode: str, gpus: int, rack: str) -> dict[str, Any]:
        return {"id": nid, "gpu_model": "H100-80GB", "num_gpus": gpus, "mode": mode, "cpu_milli": 128000,
                "memory_mib": 1048576, "domains": {"rack": rack}}
    return instance_from_dict({
        "format": "packer.instance/v1", "name": "t", "catalog": [], "topology": {"levels": ["node", "rack"]},
        "nodes": [node("full0", "full", full_gpus, "r0"), node("any0", "any", 4, "r1")],
        "tenants": [],
        "requests": [{"id": "gang", "kind": "gpu", "count": gang_count, "priority": 2.0,
                      "locality": {"level": "node", "required": True}}]
        + [{"id": f"m{i}", "kind": "mig", "profile": "7g.80gb", "count": 1} for i in range(4)],
    })


@pytest.mark.parametrize("spare", [True, False])
def test_gang_leaves_any_gpus_to_mig_work(spare: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a 4-GPU node-local gang goes to the empty 8-GPU full node rather than the tighter
    4-GPU 'any' node, so four 7g.80gb units get the 'any' GPUs (objective 8 + 4); the old rule (off)
    took the tightest node and left the MIG work waiting (objective 8)."""
    monkeypatch.setattr(greedy, "GANG_FRESH", spare)
    inst = _inst(4)
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    gang = next(a for a in plan.assignments if a.request == "gang")
    assert {u.node for u in gang.units} == ({"full0"} if spare else {"any0"})
    assert plan.objective == pytest.approx(12.0 if spare else 8.0)


def test_gang_takes_any_gpus_when_full_ones_run_short() -> None:
    """Tests that where the full GPUs cannot hold the whole-GPU work asked (a 4-GPU gang, 3 full GPUs)
    the gang still takes the 'any' node: sparing it would leave the gang waiting."""
    inst = _inst(4, full_gpus=3)
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    gang = next(a for a in plan.assignments if a.request == "gang")
    assert {u.node for u in gang.units} == {"any0"}
