"""Tests of the greedy's node caps for node-isolated tenants (session 15): a construction that holds
such a tenant to fewer nodes when the room it left idle on its nodes adds up to whole nodes."""

from __future__ import annotations

import pytest

from packer.check import check
from packer.generate import generate
from packer.greedy import solver as greedy
from packer.model import Instance, Locality, Node, Request, Spread, Tenant


def _spread_tenant(isolation: str = "node", others: bool = True) -> Instance:
    """Three 8-GPU nodes. A node-isolated tenant's two replicas (one per node, priority 5) come first,
    then two 8-GPU gangs of another tenant (priority 2), then 6 + 2 more GPUs of the isolated tenant
    (priority 1.5) within its quota of 8. ``others=False`` leaves the gangs out."""
    ns = tuple(Node(id=f"n{i}", gpu_model="B200-180GB", num_gpus=8, mode="full") for i in range(3))
    gang = Locality(level="node", required=True)
    reqs = (
        Request(id="replicas", tenant="sec", kind="gpu", count=2, priority=5.0,
                spread=Spread(level="node", max_per_domain=1)),
        Request(id="gang-a", tenant="oth", kind="gpu", count=8, priority=2.0, locality=gang),
        Request(id="gang-b", tenant="oth", kind="gpu", count=8, priority=2.0, locality=gang),
        Request(id="fill", tenant="sec", kind="gpu", count=6, priority=1.5),
        Request(id="more", tenant="sec", kind="gpu", count=2, priority=1.5),
    )
    if not others:
        reqs = tuple(r for r in reqs if r.tenant == "sec")
    tenants = (Tenant(id="sec", isolation=isolation, max_gpus=8), Tenant(id="oth"))
    return Instance(name="caps", nodes=ns, requests=reqs, tenants=tenants)


def test_uncapped_construction_leaves_a_node_of_room_and_suggests_a_cap() -> None:
    """Tests the diagnosis: uncapped, the replicas take two nodes, the tenant's quota fills one of
    them, a gang finds no node (35), and the caps suggested hold the tenant to one node."""
    inst = _spread_tenant()
    run = greedy._construct(inst, 0, 0.0, None, None, None, balance=None)
    plan, caps = run.plan, run.caps
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(2 * 5.0 + 8 * 2.0 + 6 * 1.5)
    assert "gang-b" in {u.request for u in plan.unplaced}
    assert caps == {"sec": 1}


def test_capped_construction_keeps_the_tenant_on_its_nodes() -> None:
    """Tests the cap: the replicas would need a second node and are turned down with the node-budget
    reason; the tenant's other work fits on its one node and both gangs take a node (44)."""
    inst = _spread_tenant()
    plan = greedy._construct(inst, 0, 0.0, None, None, None, balance=None, node_cap={"sec": 1}).plan
    assert check(inst, plan).ok
    sec_nodes = {u.node for a in plan.assignments if a.request in ("replicas", "fill", "more") for u in a.units}
    assert len(sec_nodes) == 1
    why = {u.request: u.reason for u in plan.unplaced}
    assert list(why) == ["replicas"] and why["replicas"].startswith("isolation") and "held to 1 node" in why["replicas"]
    assert plan.objective == pytest.approx(2 * 8 * 2.0 + 8 * 1.5)


def test_greedy_keeps_the_capped_construction_only_when_it_is_better() -> None:
    """Tests the driver: the greedy returns the capped construction here, and on generated
    instances never less than its uncapped construction."""
    inst = _spread_tenant()
    plan = greedy.solve(inst, file_order=False)
    assert plan.objective == pytest.approx(44.0)
    assert "capped" in (plan.solver.construction or "")
    for fam in ("haein", "inference", "tenants"):
        gen = generate(fam, seed=1, nodes=16)
        uncapped = greedy._construct(gen, 0, 0.0, None, None, None, balance=None).plan
        best = greedy.solve(gen, file_order=False)
        assert check(gen, best).ok
        assert best.objective >= uncapped.objective - 1e-9


def test_no_cap_without_node_isolation_or_waiting_work() -> None:
    """Tests that caps are suggested only for node-isolated tenants, and only while other tenants'
    work waits (the room is then nobody's loss)."""
    for inst in (_spread_tenant(isolation="none"), _spread_tenant(others=False)):
        assert greedy._construct(inst, 0, 0.0, None, None, None, balance=None).caps == {}


def _same(a, b) -> bool:  # type: ignore[no-untyped-def]
    return ({x.request: x.units for x in a.assignments} == {x.request: x.units for x in b.assignments}
            and {u.request: u.reason for u in a.unplaced} == {u.request: u.reason for u in b.unplaced})


@pytest.mark.parametrize("fam,seed,nodes", [("haein", 0, 32), ("inference", 4, 32), ("tenants", 2, 24),
                                            ("fragmented", 1, 24)])
def test_replayed_prefix_gives_the_construction_it_skips(fam: str, seed: int, nodes: int) -> None:
    """Tests the replay: a capped construction that takes an earlier construction's outcomes up to
    where its caps bite is the same plan as one that tries every request, for the suggested caps
    and for tighter ones, and again from a capped construction."""
    inst = generate(fam, seed=seed, nodes=nodes)
    base = greedy._construct(inst, 0, 0.0, None, None, None, balance=None)
    tried = 0
    for t, held in base.claims.items():
        total = base.held0[t] + len(held)
        for cap in sorted({max(0, total - 1), max(0, total - 3), total // 2}):
            caps = {t: cap}
            full = greedy._construct(inst, 0, 0.0, None, None, None, balance=None, node_cap=caps)
            fast = greedy._construct(inst, 0, 0.0, None, None, None, balance=None, node_cap=caps, replay=base)
            assert _same(full.plan, fast.plan) and check(inst, fast.plan).ok
            tighter = {t: max(0, cap - 1)}
            again = greedy._construct(inst, 0, 0.0, None, None, None, balance=None, node_cap=tighter, replay=fast)
            assert _same(again.plan, greedy._construct(inst, 0, 0.0, None, None, None, balance=None,
                                                       node_cap=tighter).plan)
            tried += 1
    assert tried > 0  # every family here has a node-isolated tenant holding nodes
