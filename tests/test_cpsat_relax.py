"""Tests of the merged-node relaxation: every plan maps onto it, so its optimum and LP bound the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from packer.check import check
from packer.cpsat import relaxed_bound, solve
from packer.cpsat.relax import merge_levels, relaxed_instance
from packer.generate import generate
from packer.model import Instance, Locality, Node, Plan, Request, Tenant, Topology, Unit
from tests import strategies


def _map_plan(inst: Instance, relaxed: Instance, plan: Plan) -> Plan:
    """``plan`` moved GPU for GPU onto ``relaxed`` (nodes in file order, GPUs numbered on)."""
    by_old: dict[tuple[str, int | None], tuple[str, int | None]] = {}
    new_nodes = iter(relaxed.nodes)
    seen: dict[tuple[tuple[str, ...], str], tuple[str, int]] = {}
    kept = [lv for lv in relaxed.topology.levels if lv != "node"]
    for n in inst.nodes:  # the relaxation numbers super nodes and their GPUs in file order
        key = (tuple(inst.domain(n, lv) for lv in kept), n.gpu_model or "")
        if key not in seen:
            seen[key] = (next(new_nodes).id, 0)
        sid, used = seen[key]
        by_old[(n.id, None)] = (sid, None)
        for g in range(n.num_gpus):
            by_old[(n.id, g)] = (sid, used + g)
        seen[key] = (sid, used + n.num_gpus)

    def move(units: tuple[Unit, ...]) -> list[dict[str, object]]:
        out = []
        for u in units:
            node, gpu = by_old[(u.node, u.gpu)]
            out.append(u.model_copy(update={"node": node, "gpu": gpu}).model_dump(exclude_none=True))
        return out

    data = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["assignments"] = [{"request": a.request, "units": move(a.units)} for a in plan.assignments]
    data["migrations"] = [{"request": m.request, "from": move(m.from_), "to": move(m.to)} for m in plan.migrations]
    data["gpu_modes"] = [{"node": by_old[(c.node, c.gpu)][0], "gpu": by_old[(c.node, c.gpu)][1], "mode": c.mode}
                         for c in plan.gpu_modes]
    data.update(instance=relaxed.name, status="feasible", bound=None)
    return Plan.model_validate(data)


def _assert_maps_with_at_least_its_objective(inst: Instance, level: str) -> None:
    plan = solve(inst, time_limit=5, workers=1)
    assert check(inst, plan).ok
    relaxed = relaxed_instance(inst, level)
    mapped = _map_plan(inst, relaxed, plan)
    rep = check(relaxed, mapped)
    errors = [(v.kind, v.message) for v in rep.violations if v.kind != "objective"]
    assert not errors, errors
    assert rep.objective >= plan.objective - 1e-9


@settings(max_examples=40, deadline=None)
@given(strategies.instances(host=True))
def test_every_plan_maps_onto_the_rack_and_cluster_relaxations(inst: Instance) -> None:
    """Tests the relaxation argument itself, with the independent checker as judge."""
    for level in merge_levels(inst):
        _assert_maps_with_at_least_its_objective(inst, level)


@settings(max_examples=15, deadline=None)
@given(strategies.instances(host=True))
def test_relaxed_bound_is_above_the_optimum(inst: Instance) -> None:
    """Tests that the relaxation's optimum and LP bound are at least the proven optimum of the original.

    (The LP is None where the model has a constraint HiGHS cannot take, such as a GPU-level locality.)
    """
    plan = solve(inst, time_limit=10, workers=1, hint=False)
    if plan.status != "optimal":
        return  # nothing proven to compare with (rare on these sizes)
    for level in merge_levels(inst):
        relaxed = solve(relaxed_instance(inst, level), time_limit=10, workers=1, hint=False)
        if relaxed.status == "optimal":
            assert relaxed.objective >= plan.objective - 1e-6, level
        bound = relaxed_bound(inst, level)
        assert bound is None or bound >= plan.objective - 1e-6, level


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_relaxed_bound_on_generated_small_clusters(seed: int) -> None:
    """Tests the bound against CP-SAT's best plan on the haein mix on 8 nodes (pods, racks, isolation)."""
    inst = generate("haein", seed, nodes=8)
    plan = solve(inst, time_limit=10, workers=1)
    for level in merge_levels(inst):
        _assert_maps_with_at_least_its_objective(inst, level) if level == "rack" else None
        bound = relaxed_bound(inst, level)
        assert bound is not None and bound >= plan.objective - 1e-6
        if plan.status == "optimal" or plan.bound is not None:
            assert bound >= min(plan.objective, plan.bound) - 1e-6


def test_finer_locality_becomes_the_super_node_only_when_its_domains_fit_in_one() -> None:
    """Tests the locality mapping: a mixed-model NVLink domain keeps its gang at the merge level."""
    nodes = [Node(id=f"n{i}", gpu_model="H100-80GB" if i % 2 == 0 else "A100-40GB", num_gpus=2,
                  domains={"nvlink": f"d{i // 2}", "rack": "r0"}) for i in range(4)]
    reqs = [Request(id="gang", kind="gpu", count=4, locality=Locality(level="nvlink", required=True)),
            Request(id="solo", kind="gpu", count=2, locality=Locality(level="node", required=True))]
    inst = Instance(name="t", topology=Topology(levels=("node", "nvlink", "rack")), nodes=tuple(nodes),
                    tenants=(Tenant(id="default", isolation="node"),), requests=tuple(reqs))
    relaxed = relaxed_instance(inst, "rack")
    assert len(relaxed.nodes) == 2  # one super node per GPU model
    assert relaxed.request("gang").locality == Locality(level="rack", required=True)
    assert relaxed.request("solo").locality == Locality(level="node", required=True)
    assert relaxed.tenant_map["default"].isolation == "gpu"
    # the gang (2 H100 + 2 A100 in one NVLink domain) is feasible in both
    assert relaxed_bound(inst, "rack") == pytest.approx(6.0, abs=1e-4)  # the gang needs both models


def test_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot merge"):
        relaxed_instance(generate("tiny", 0), "node")


def test_host_resources_are_summed_over_merged_nodes() -> None:
    """Tests that work filling every merged node's CPU still fits the super node."""
    nodes = [Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=1, cpu_milli=16000, memory_mib=65536,
                  domains={"rack": "r0"}) for i in range(2)]
    reqs = [Request(id="side", kind="host", count=2, cpu_milli=16000, memory_mib=65536),
            Request(id="job", kind="gpu", count=1)]
    inst = Instance(name="t", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs))
    _assert_maps_with_at_least_its_objective(inst, "rack")
    assert relaxed_instance(inst, "rack").nodes[0].cpu_milli == 32000
