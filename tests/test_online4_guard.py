"""The isolation guard with an elastic request (issue 16 part 4, session 6): units of a node-isolated
tenant that would open several empty nodes are trimmed to those on the tenant's own nodes when
those reach ``min_count``, instead of the whole request being declined."""

from __future__ import annotations

from packer.check import check
from packer.model import Instance
from packer.online import OnlinePlacer


def _cluster(min_count: int) -> Instance:
    return Instance.model_validate({
        "name": "guard-elastic",
        "tenants": [{"id": "iso", "isolation": "node"}, {"id": "o"}],
        "nodes": [{"id": f"n{i}", "gpu_model": "A100-80GB", "num_gpus": 4, "mode": "full"} for i in range(3)],
        "requests": [
            {"id": "first", "tenant": "iso", "kind": "gpu", "count": 1},
            {"id": "spread", "tenant": "iso", "kind": "gpu", "count": 3, "min_count": min_count,
             "spread": {"level": "node", "max_per_domain": 1}},
        ],
    })


def _run(inst: Instance) -> tuple[OnlinePlacer, list]:
    p = OnlinePlacer(inst)
    res = [p.place(r) for r in inst.requests]
    return p, res


def test_elastic_request_keeps_its_units_on_the_tenants_own_node() -> None:
    """Tests that the spread request (one unit per node, three units: two would open empty nodes,
    8 GPUs locked for 2) keeps the one unit on the node the tenant already holds, and the plan
    passes the checker."""
    inst = _cluster(min_count=1)
    p, res = _run(inst)
    assert all(r.ok for r in res), [r.reason for r in res]
    plan = p.snapshot(instance=inst)
    assert check(inst, plan).ok
    nodes = {a.request: {u.node for u in a.units} for a in plan.assignments}
    assert len(next(a for a in plan.assignments if a.request == "spread").units) == 1
    assert nodes["spread"] == nodes["first"]


def test_without_min_count_on_own_nodes_the_guard_still_declines() -> None:
    """Tests that when the tenant's own nodes hold fewer units than ``min_count`` the guard declines
    the request as before (reason ``isolation``)."""
    inst = _cluster(min_count=2)
    _, res = _run(inst)
    assert res[0].ok and not res[1].ok
    assert "isolation" in str(res[1].reason)
