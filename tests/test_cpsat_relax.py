"""Tests of the merged-node relaxations: every plan maps onto them, so their optimum and LP bound the original."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from packer.check import check
from packer.cpsat import relaxed_bound, solve
from packer.cpsat.relax import merge_levels, relaxed_instance, typed_relaxation, typed_super_nodes
from packer.generate import generate
from packer.model import Instance, Locality, Node, Plan, Request, Tenant, Topology, Unit
from tests import strategies


def _file_order(inst: Instance, relaxed: Instance) -> dict[tuple[str, int | None], tuple[str, int | None]]:
    """Where each GPU lands in the merged relaxation (nodes in file order, GPUs numbered on)."""
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
    return by_old


def _map_plan(inst: Instance, relaxed: Instance, plan: Plan,
              by_old: dict[tuple[str, int | None], tuple[str, int | None]] | None = None) -> Plan:
    """``plan`` moved GPU for GPU onto ``relaxed`` (by ``by_old``, else by file order)."""
    if by_old is None:
        by_old = _file_order(inst, relaxed)
    gpus = [to for (_, g), to in by_old.items() if g is not None]
    assert len(set(gpus)) == len(gpus)  # no two GPUs land on one

    def move(units: tuple[Unit, ...]) -> list[dict[str, object]]:
        out = []
        for u in units:
            node, gpu = by_old[(u.node, u.gpu)]
            out.append(u.model_copy(update={"node": node, "gpu": gpu}).model_dump(exclude_none=True))
        return out

    data = plan.model_dump(mode="json", by_alias=True, exclude_none=True)
    data["assignments"] = [{"request": a.request, "units": move(a.units)} for a in plan.assignments]
    # A host unit moved between nodes of one super node stays where it runs in the relaxation: no migration.
    def same(a: list[dict[str, object]], b: list[dict[str, object]]) -> bool:
        return sorted(map(repr, a)) == sorted(map(repr, b))

    data["migrations"] = [{"request": m.request, "from": move(m.from_), "to": move(m.to)} for m in plan.migrations
                          if not same(move(m.from_), move(m.to))]
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


def _assert_maps_onto_typed(inst: Instance, level: str, plan: Plan) -> None:
    relax = typed_relaxation(inst, level)
    assert typed_super_nodes(inst, level) == len(relax.instance.nodes)
    mapped = _map_plan(inst, relax.instance, plan, relax.where)
    rep = check(relax.instance, mapped)
    errors = [(v.kind, v.message) for v in rep.violations if v.kind != "objective"]
    assert not errors, errors
    assert rep.objective >= plan.objective - 1e-9
    for a in mapped.assignments:  # the room rule never bars where a plan of the original goes
        assert not {u.node for u in a.units} & relax.barred.get(a.request, frozenset()), a.request


@settings(max_examples=40, deadline=None)
@given(strategies.instances(host=True))
def test_every_plan_maps_onto_the_typed_relaxations(inst: Instance) -> None:
    """Tests the typed relaxation's argument (merging by make-up, the room rule) with the checker as judge."""
    plan = solve(inst, time_limit=5, workers=1)
    assert check(inst, plan).ok
    for level in merge_levels(inst):
        _assert_maps_onto_typed(inst, level, plan)


@settings(max_examples=15, deadline=None)
@given(strategies.instances(host=True))
def test_typed_bound_is_above_the_optimum(inst: Instance) -> None:
    plan = solve(inst, time_limit=10, workers=1, hint=False)
    if plan.status != "optimal":
        return
    for level in merge_levels(inst):
        bound = relaxed_bound(inst, level, typed=True)
        assert bound is None or bound >= plan.objective - 1e-6, level


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_typed_bound_on_generated_small_clusters(seed: int) -> None:
    """Tests the typed bound on the haein mix on 16 nodes: above the best plan, at most the cluster LP."""
    inst = generate("haein", seed, nodes=16)
    plan = solve(inst, time_limit=10, workers=1)
    _assert_maps_onto_typed(inst, "rack", plan)
    typed = relaxed_bound(inst, "rack", typed=True)
    assert typed is not None and typed >= plan.objective - 1e-6
    if plan.bound is not None:
        assert typed >= plan.bound - 1e-6 or plan.status != "optimal"
    cluster = relaxed_bound(inst, "cluster")
    assert cluster is not None and typed <= cluster + 1e-6


def test_typed_relaxation_keeps_the_room_of_single_racks() -> None:
    """Tests the room rule: two racks of one make-up (4 full + 4 MIG GPUs) cannot hold an 8-GPU rack
    gang although their merged super node has 8 full GPUs; only the rack with 4 full + 4 ``any`` can."""
    make = {"r0": ("full", "mig"), "r1": ("full", "mig"), "r2": ("full", "any")}
    nodes = [Node(id=f"{rk}n{i}", gpu_model="H100-80GB", num_gpus=4, mode=mode, domains={"rack": rk})
             for rk, modes in make.items() for i, mode in enumerate(modes)]
    reqs = [Request(id=f"gang{k}", kind="gpu", count=8, locality=Locality(level="rack", required=True))
            for k in range(2)]
    reqs.append(Request(id="four", kind="gpu", count=4, locality=Locality(level="node", required=True)))
    inst = Instance(name="t", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs))
    relax = typed_relaxation(inst, "rack")
    assert len(relax.instance.nodes) == 2
    r01 = relax.where[("r0n0", None)][0]
    assert relax.where[("r1n0", None)][0] == r01
    assert relax.barred == {"gang0": frozenset({r01}), "gang1": frozenset({r01})}  # "four" fits on r0n0
    plan = solve(inst, time_limit=5, workers=1)
    assert plan.objective == pytest.approx(12.0)  # one gang on r2, "four" on a full node of r0 or r1
    assert relaxed_bound(inst, "rack", typed=True) == pytest.approx(12.0, abs=1e-4)
    assert relaxed_bound(inst, "cluster") == pytest.approx(16.0, abs=1e-4)  # both gangs fit the merged cluster


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


def test_typed_relaxation_keeps_node_isolation_of_fixed_running_work() -> None:
    """Tests the owner rule: a node that holds another tenant's fixed running work takes no unit of a
    node-isolated tenant, so the typed relaxation bars its super node for that tenant. Two racks of one
    make-up (one node of 2 full GPUs each); ``lab`` runs one unit, pinned, on r0's node. ``vault`` can
    then only use r1's node: 2 of its 3 one-GPU requests, and the bound says so (without the owner
    rule both nodes merge and 3 free GPUs bound 3 of them)."""
    nodes = tuple(Node(id=f"r{k}n0", gpu_model="H100-80GB", num_gpus=2, mode="full", domains={"rack": f"r{k}"})
                  for k in range(2))
    run = Request(id="run", tenant="lab", kind="gpu", count=1, placement=(Unit(node="r0n0", gpu=0),), movable=False)
    vault = tuple(Request(id=f"v{k}", tenant="vault", kind="gpu", count=1) for k in range(3))
    inst = Instance(name="t", topology=Topology(levels=("node", "rack")), nodes=nodes,
                    tenants=(Tenant(id="lab"), Tenant(id="vault", isolation="node")), requests=(run, *vault))
    relax = typed_relaxation(inst, "rack")
    assert typed_super_nodes(inst, "rack") == len(relax.instance.nodes) == 2
    r0 = relax.where[("r0n0", None)][0]
    assert relax.barred == {f"v{k}": frozenset({r0}) for k in range(3)}
    plan = solve(inst, time_limit=5, workers=1)
    assert check(inst, plan).ok and len(plan.assignments) == 3  # run + two of vault's, on r1n0
    _assert_maps_onto_typed(inst, "rack", plan)
    bound = relaxed_bound(inst, "rack", typed=True)
    assert bound == pytest.approx(plan.objective, abs=1e-4)
    # a node holding the isolated tenant's own fixed work is closed to everyone else the same way
    mine = inst.replace(requests=(run.model_copy(update={"tenant": "vault"}),
                                  Request(id="lab1", tenant="lab", kind="gpu", count=2)))
    relax = typed_relaxation(mine, "rack")
    assert relax.barred == {"lab1": frozenset({relax.where[("r0n0", None)][0]})}


def test_relaxations_drop_gpu_level_spreads_so_gpus_aggregate() -> None:
    """Tests that a spread at level ``gpu`` (adversarial's MIG requests) does not make every GPU of a
    relaxation a class of its own: both relaxations drop it, their data aggregates GPUs, and the bound
    stays above the best plan and below the capacity LP."""
    from packer.cpsat.bound import capacity_bound
    from packer.cpsat.data import build_data

    inst = generate("adversarial", 0, nodes=8)
    assert any(r.spread is not None and r.spread.level == "gpu" for r in inst.requests)
    assert len(build_data(inst).classes) >= inst.num_gpus  # the original keeps single GPUs
    plan = solve(inst, time_limit=10, workers=1)
    cap = capacity_bound(inst)
    for level in merge_levels(inst):
        for typed in (False, True):
            relax = typed_relaxation(inst, level) if typed else None
            relaxed = relax.instance if relax is not None else relaxed_instance(inst, level)
            assert not any(r.spread is not None and r.spread.level == "gpu" for r in relaxed.requests)
            assert len(build_data(relaxed).classes) < inst.num_gpus
            bound = relaxed_bound(inst, level, typed=typed)
            assert bound is not None and plan.objective - 1e-6 <= bound <= cap + 1e-6, (level, typed)


def test_owner_rule_holds_for_any_tenant_id() -> None:
    """Tests that a node-isolated tenant named like a marker (``*``) changes nothing: nodes running
    two other tenants' fixed work stay open to a third non-isolated tenant."""
    nodes = tuple(Node(id=f"r{k}n0", gpu_model="H100-80GB", num_gpus=2, mode="full", domains={"rack": f"r{k}"})
                  for k in range(2))
    runs = tuple(Request(id=f"run{k}", tenant=t, kind="gpu", count=1, placement=(Unit(node="r0n0", gpu=k),),
                         movable=False) for k, t in enumerate(("a", "b")))
    inst = Instance(name="t", topology=Topology(levels=("node", "rack")), nodes=nodes,
                    tenants=(Tenant(id="a"), Tenant(id="b"), Tenant(id="c"), Tenant(id="*", isolation="node")),
                    requests=(*runs, Request(id="c1", tenant="c", kind="gpu", count=1),
                              Request(id="s1", tenant="*", kind="gpu", count=1)))
    relax = typed_relaxation(inst, "rack")
    r0 = relax.where[("r0n0", None)][0]
    assert "c1" not in relax.barred
    assert relax.barred["s1"] == frozenset({r0})
