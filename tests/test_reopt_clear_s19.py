"""Tests of session 19's clear steps (packer.cpsat.reopt_clear): a waiting gang's domains priced by what
must leave them (pinned GPUs never, moved work at no further cost, waiting work at its value), the
region holds room for what leaves, and one step places the gang by moving the cheapest work out; every
result is valid, within the cap and never worse (hypothesis over small fragmented states)."""

from __future__ import annotations

import random
import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_clear
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit
from packer.plans import build_plan, objective_value
from packer.progress import SILENT

H100 = "H100-80GB"


def _state(cost_a: float = 0.1, pin_b: bool = True) -> Instance:
    """Three 4-GPU full nodes. n0: one movable running 1-GPU job (``cost_a``) and 3 free GPUs; n1: a
    pinned job and a movable one (with ``pin_b``; else two movable ones), 2 free; n2: two pinned jobs, 2
    free. A 4-GPU node gang waits: it fits only once n0's job moves to n1 or n2."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full") for i in range(3))
    reqs = [Request(id="a", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=0),), movable=True,
                    migration_cost=cost_a),
            Request(id="b0", kind="gpu", count=1, tenant="t", placement=(Unit(node="n1", gpu=0),), movable=not pin_b),
            Request(id="b1", kind="gpu", count=1, tenant="t", placement=(Unit(node="n1", gpu=1),), movable=True,
                    migration_cost=0.05),
            Request(id="c0", kind="gpu", count=1, tenant="t", placement=(Unit(node="n2", gpu=0),)),
            Request(id="c1", kind="gpu", count=1, tenant="t", placement=(Unit(node="n2", gpu=1),)),
            Request(id="gang", kind="gpu", count=4, priority=1.5, tenant="g",
                    locality=Locality(level="node", required=True))]
    return Instance(name="clear", topology=Topology(levels=("node",)), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="t"), Tenant(id="g")))


def _placed(inst: Instance) -> dict[str, list[Unit]]:
    return {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


def _step(inst: Instance, cur, cap=None, seed: int = 0):  # type: ignore[no-untyped-def]
    view = reopt._View(inst, cur)
    waiting = [r for r in inst.requests if r.id not in cur
               and view.quota_left(r) >= reopt._least_size(inst, r) - 1e-9]
    cands = reopt_clear.gangs(inst, cur)
    stats: dict = {"steps": 0, "improved": 0, "rejected": 0}
    best = objective_value(inst, cur)
    if not cands:
        return cur, best, stats
    got, value = reopt_clear.clear_step(inst, cur, best, cap, cands, waiting, random.Random(seed), None, stats, {},
                                        time.perf_counter(), SILENT, seed=seed, workers=1, det=0.5,
                                        deadline=time.perf_counter() + 30)
    return got, value, stats


def test_prices_skip_pinned_gpus_and_price_what_leaves() -> None:
    """Tests that each node's price is the cheapest 4 GPUs' (free ones 0, n0's job its migration cost,
    n1's movable job its cost), that a node with pinned work on too many GPUs is no candidate, and that
    the cheapest node comes first."""
    inst = _state()
    cur = _placed(inst)
    got = reopt_clear.prices(inst, cur, inst.request("gang"))
    by = {d: (p, take) for p, d, take, _gone in got}
    assert set(by) == {"n0"}  # n1 has one pinned GPU, n2 two: only n0 has 4 usable
    assert abs(by["n0"][0] - 0.1) < 1e-9 and len(by["n0"][1]) == 4
    inst2 = _state(pin_b=False)
    got2 = reopt_clear.prices(inst2, _placed(inst2), inst2.request("gang"))
    assert sorted(c[1] for c in got2) == ["n0", "n1"]  # n1 now clearable: both its jobs movable
    assert got2[0][0] <= got2[1][0] and got2[0][1] == "n0"  # n0 (0.1) before n1 (0.05 + b0's default cost)


def test_prices_drop_domains_worth_more_than_the_gang() -> None:
    """Tests that a domain whose clearing costs the gang's value or more is no candidate."""
    inst = _state(cost_a=6.0)  # the gang is worth 1.5 × 4 = 6
    assert reopt_clear.prices(inst, _placed(inst), inst.request("gang")) == []


def test_moved_work_costs_nothing_more_and_waiting_work_its_value() -> None:
    """Tests the prices of work moved before (0: its cost is paid) and of placed waiting work (its value)."""
    inst = _state(cost_a=1.0)
    cur = _placed(inst)
    cur["a"] = [Unit(node="n0", gpu=3)]  # moved within n0: no further cost to move again
    got = reopt_clear.prices(inst, cur, inst.request("gang"))
    assert got and got[0][1] == "n0" and got[0][0] < 1e-9
    inst2 = _state()
    cur2 = _placed(inst2)
    w = Request(id="w", kind="gpu", count=1, tenant="t", priority=2.0)
    inst2 = inst2.model_copy(update={"requests": (*inst2.requests, w)})
    cur2["w"] = [Unit(node="n0", gpu=1)]
    reopt_clear.ROOM_PRICE = False  # this session's price: the waiting job's value
    try:
        got2 = reopt_clear.prices(inst2, cur2, inst2.request("gang"))
    finally:
        reopt_clear.ROOM_PRICE = True
    assert got2 and abs(got2[0][0] - (0.1 + 2.0)) < 1e-9
    got3 = reopt_clear.prices(inst2, cur2, inst2.request("gang"))  # session 20: it lands on a free GPU elsewhere
    assert got3 and abs(got3[0][0] - 0.1) < 1e-9


def test_region_holds_room_for_what_leaves() -> None:
    """Tests that the region of the only clearable node takes a node with free whole GPUs for its job."""
    inst = _state()
    cur = _placed(inst)
    nodes, info = reopt_clear.region(inst, cur, inst.request("gang"), reopt._View(inst, cur), random.Random(0))
    assert "n0" in nodes and len(nodes) >= 2 and info["domain"] == "n0"


def test_a_clear_step_places_the_gang() -> None:
    """Tests that one clear step moves n0's job to free room elsewhere and places the gang on n0: a valid
    plan worth the gang less one migration cost more; with a cap of 0 moves it changes nothing."""
    inst = _state()
    cur = _placed(inst)
    before = objective_value(inst, cur)
    got, value, stats = _step(inst, cur)
    assert "gang" in got and {u.node for u in got["gang"]} == {"n0"}
    assert abs(value - (before + 6.0 - 0.1)) < 1e-6 and reopt.moves(inst, got) == 1
    assert _ok(inst, got) and stats["improved"] == 1
    got0, value0, _ = _step(inst, cur, cap=0)
    assert got0 == cur and value0 == before


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), nodes=st.sampled_from([2, 3, 4]), cap=st.sampled_from([0, 1, None]))
def test_clear_steps_keep_only_valid_better_plans(seed: int, nodes: int, cap: int | None) -> None:
    """Tests, on small states of the fragmented family, that two clear steps from the no-move placement
    return a plan the checker accepts, within the cap, worth at least the start."""
    inst = generate("fragmented", seed, nodes=nodes)
    cur = _placed(inst)
    before = objective_value(inst, cur)
    for k in range(2):
        cur, value, _ = _step(inst, cur, cap=cap, seed=seed + k)
        assert value >= before - 1e-9 and abs(objective_value(inst, cur) - value) < 1e-6
        assert _ok(inst, cur)
        assert cap is None or reopt.moves(inst, cur) <= cap
        before = value


def test_region_takes_the_tenants_cheaper_work_when_its_quota_is_short() -> None:
    """Tests QUOTA_ROOM: the gang's tenant has 4 GPUs of quota, 1 of them held by its placed waiting
    job of lower priority on n1; the region takes n1 too, and the step gives that job up for the gang."""
    inst = _state()
    w = Request(id="w", kind="gpu", count=1, tenant="g", priority=1.0)
    inst = inst.model_copy(update={"requests": (*inst.requests, w),
                                   "tenants": (Tenant(id="t"), Tenant(id="g", max_gpus=4.0))})
    cur = _placed(inst)
    cur["w"] = [Unit(node="n1", gpu=3)]
    assert reopt_clear._quota_short(inst, cur, inst.request("gang"), []) == 1.0
    nodes, info = reopt_clear.region(inst, cur, inst.request("gang"), reopt._View(inst, cur), random.Random(0))
    assert {"n0", "n1"} <= nodes and info["quota_short"] == 1.0
    before = objective_value(inst, cur)
    got, value, _ = _step(inst, cur)
    assert "gang" in got and "w" not in got and abs(value - (before + 6.0 - 0.1 - 1.0)) < 1e-6
    assert _ok(inst, got)


def test_node_isolation_prices_the_other_tenants_work_on_the_node() -> None:
    """Tests that for a node-isolated gang every other tenant's work on a node it would use must leave:
    a node with such work pinned is no candidate, one with it movable costs its migration cost (though
    the gang does not need its GPU); without isolation both nodes are free for it."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=6, mode="full") for i in range(2))
    reqs = (Request(id="p", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=5),)),
            Request(id="m", kind="gpu", count=1, tenant="t", placement=(Unit(node="n1", gpu=5),), movable=True,
                    migration_cost=0.3),
            Request(id="gang", kind="gpu", count=4, priority=1.5, tenant="g",
                    locality=Locality(level="node", required=True)))
    for iso, want in (("node", [(0.3, "n1")]), ("none", [(0.0, "n0"), (0.0, "n1")])):
        inst = Instance(name="iso", topology=Topology(levels=("node",)), nodes=nodes, requests=reqs,
                        tenants=(Tenant(id="t"), Tenant(id="g", isolation=iso)))
        got = reopt_clear.prices(inst, _placed(inst), inst.request("gang"))
        assert [(round(c[0], 6), c[1]) for c in got] == want
        if iso == "node":
            assert got[0][3] == {"m"}


def test_room_for_an_isolated_tenants_work_is_only_on_nodes_it_may_use() -> None:
    """Tests that the room taken for a node-isolated tenant's displaced job is on a node no other tenant
    holds (n2: its own), never on the node with more free GPUs that another tenant holds (n1)."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full") for i in range(3))
    reqs = (Request(id="v", kind="gpu", count=1, tenant="v", placement=(Unit(node="n0", gpu=0),), movable=True,
                    migration_cost=0.1),
            Request(id="o", kind="gpu", count=1, tenant="t", placement=(Unit(node="n1", gpu=0),)),
            Request(id="v2", kind="gpu", count=2, tenant="v", placement=(Unit(node="n2", gpu=0), Unit(node="n2", gpu=1))),
            Request(id="gang", kind="gpu", count=4, priority=1.5, tenant="g",
                    locality=Locality(level="node", required=True)))
    inst = Instance(name="isoroom", topology=Topology(levels=("node",)), nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="t"), Tenant(id="g"), Tenant(id="v", isolation="node")))
    cur = _placed(inst)
    for seed in range(5):
        got, info = reopt_clear.region(inst, cur, inst.request("gang"), reopt._View(inst, cur), random.Random(seed))
        assert info["domain"] == "n0" and got == {"n0", "n2"}
    moved, value, _ = _step(inst, cur)
    assert "gang" in moved and moved["v"][0].node == "n2" and _ok(inst, moved)
