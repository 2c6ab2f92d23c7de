"""Reach LNS steps (packer/cpsat/lns_reach.py, lns.REACH_STEPS).

A waiting request that may use only a few nodes, and work in its way that may move only to nodes of its
own: the step must hold both sets (session 25, hetero-108: two 8 x 7g.80gb spreads pinned to the H100's
MIG-capable nodes, one of them held by a rack gang that could move to another H100 rack).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_reach
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.model import Instance, Node, Plan, Request, Spread, Tenant, Topology, Unit
from packer.plans import build_plan
from tests.test_hetero24_owner import _plan_of, _space, mixes

A100 = "A100-80GB"
H100 = "H100-80GB"


def _reach() -> Instance:
    """Three one-GPU A100 nodes and two one-GPU H100 nodes, one a rack. ``spread`` asks three A100 GPUs one a
    node (priority 2, value 6); ``mov`` one GPU of either model (value 1)."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=A100 if i < 3 else H100, num_gpus=1, mode="full",
                       domains={"rack": f"r{i}"}) for i in range(5))
    reqs = (Request(id="spread", tenant="a", kind="gpu", count=3, gpu_models=(A100,), priority=2.0,
                    spread=Spread(level="node", max_per_domain=1)),
            Request(id="mov", tenant="a", kind="gpu", count=1, gpu_models=(A100, H100)))
    return Instance(name="reach", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="a"),))


def _plan(inst: Instance, placed: dict[str, list[Unit]]) -> Plan:
    return build_plan(inst, solver="test", placed=placed, unplaced=unplaced_reasons(inst, placed, {}), seed=0,
                      wall_s=0.0, status="feasible")


def _stuck(inst: Instance) -> Plan:
    """mov on n0, spread waiting: no step of one or two racks improves it."""
    return _plan(inst, {"mov": [Unit(node="n0", gpu=0)]})


def test_the_step_frees_the_anchors_nodes_and_where_the_work_in_its_way_may_go(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the step anchored on the waiting spread frees its three A100 nodes and, for mov on n0, the
    H100 nodes mov may use; that solving it places spread and moves mov (1 -> 7, checked); that it is not
    retried on the same values (no candidate then); and that with room for three nodes only it holds the
    anchor's."""
    monkeypatch.setattr(lns_mod, "REACH_STEPS", True)
    inst = _reach()
    model = CpsatModel(inst)
    start = _stuck(inst)
    assert check(inst, start).ok and start.objective == pytest.approx(1.0)
    space = _space(model, start)
    ix = space.reach
    assert ix is not None
    vals = np.asarray(space.best, dtype=np.int64)
    spread = model.vars.active[model.data.group_of[inst.request_index["spread"]]].index  # type: ignore[union-attr]
    cands = lns_reach.candidates(ix, vals, space.per_node, 32)
    assert [ix.anchors[k][1] for k in cands] == [spread]
    assert ix.anchors[cands[0]][5] == pytest.approx(6.0, rel=1e-3)  # drawn by value: 3 GPUs at priority 2
    assert lns_reach.reach_nodes(ix, vals, cands[0], 3) == {inst.node_index[f"n{i}"] for i in range(3)}
    got = lns_reach.pick_reach(ix, random.Random(0), space.best, set(space.names), space.node_domain,
                               space.per_node, 32)
    assert got is not None
    names, nodes, grow = got
    assert nodes == set(range(5)) and names == {f"r{i}" for i in range(5)} and grow[0] == spread
    assert lns_reach.candidates(ix, vals, space.per_node, 32) == []
    found = lns_mod._step(space.sub_model(space.best, names, [], nodes), space.best_obj, seconds=5.0, det=None,
                          seed=0, workers=1)
    assert found is not None
    after = _plan_of(model, found[0])
    assert check(inst, after).ok and after.objective == pytest.approx(7.0)


def test_an_lns_with_reach_steps_reaches_the_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that sequential one-rack LNS steps (value steps off) reach the optimum 7 from the stuck plan with
    reach steps drawn and stay at 1 without them, with checked plans."""
    inst = _reach()
    monkeypatch.setattr(lns_mod, "VALUE_SHARE", 0.0)
    monkeypatch.setattr(lns_mod, "EXCHANGE_SHARE", 0.0)
    monkeypatch.setattr(lns_mod, "REACH_SHARE", 0.5)
    monkeypatch.setattr(lns_mod, "ANCHORED_SHARE", 0.0)
    for on, want in ((False, 1.0), (True, 7.0)):
        monkeypatch.setattr(lns_mod, "REACH_STEPS", on)
        model = CpsatModel(inst)
        space = _space(model, _stuck(inst))
        lns_mod.lns(model, level="rack", domains_per_step=1, step_s=5.0, deadline=1e18, seed=0, workers=1,
                    steps=10, det_step=1.0)
        plan = _plan_of(model, model.values if model.values is not None else space.best)
        assert check(inst, plan).ok and plan.objective == pytest.approx(want)
        assert bool(model.lns_stats.get("reach_steps")) is on


def test_no_reach_draw_without_waiting_restricted_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that where nothing restricted waits (the optimum as incumbent) the kinds and domains drawn are the
    same with the flag on and off, and no reach kind is in the shares."""
    inst = _reach()
    best = _plan(inst, {"spread": [Unit(node=f"n{i}", gpu=0) for i in range(3)], "mov": [Unit(node="n3", gpu=0)]})
    assert check(inst, best).ok and best.objective == pytest.approx(7.0)
    draws = {}
    for on in (True, False):
        monkeypatch.setattr(lns_mod, "REACH_STEPS", on)
        model = CpsatModel(inst)
        space = _space(model, best)
        assert (space.reach is not None) is on
        rng = random.Random(5)
        draws[on] = [(sorted(f), k) for f, _, _, k in (space.choose_kind(rng, space.names, 1, space.best)
                                                        for _ in range(40))]
        assert "reach" not in space.portfolio.base
    assert draws[True] == draws[False]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes())
def test_every_reach_step_gives_a_checked_plan_between_its_start_and_the_optimum(inst: Instance) -> None:
    """Tests, on random small mixes (two models, pinned and spread requests, node isolation), that every reach
    candidate's step (from the greedy plan) holds its anchor's nodes and solves to a checked plan no worse than
    its start and no better than the optimum CP-SAT proves."""
    flag = lns_mod.REACH_STEPS
    lns_mod.REACH_STEPS = True
    try:
        from packer.cpsat.hints import hint_plan
        from packer.cpsat.solver import solve

        start = hint_plan(inst, 0, None, online=False)
        assert start is not None
        best = solve(inst, time_limit=10, workers=1)
        assert best.status == "optimal"
        model = CpsatModel(inst)
        space = _space(model, start)
        ix = space.reach
        if ix is None:
            return
        vals = np.asarray(space.best, dtype=np.int64)
        cands = lns_reach.candidates(ix, vals, space.per_node, 4)
        event(f"candidates: {min(len(cands), 3)}")
        for k in cands[:3]:
            nodes = lns_reach.reach_nodes(ix, vals, k, 4)
            assert set(ix.anchors[k][4].tolist()) <= nodes
            assert len(nodes) <= max(4, len(ix.anchors[k][4]))
            names = {space.node_domain[ni] for ni in nodes}
            found = lns_mod._step(space.sub_model(space.best, names, [], nodes), space.best_obj - 1, seconds=10.0,
                                  det=None, seed=0, workers=1)
            assert found is not None  # the start itself is a solution of the step
            plan = _plan_of(model, found[0])
            assert check(inst, plan).ok
            assert start.objective - 1e-6 <= plan.objective <= best.objective + 1e-6
    finally:
        lns_mod.REACH_STEPS = flag


def test_anchors_by_value_weigh_mig_units_by_their_size() -> None:
    """Tests that with by_value an anchor of 7g MIG units (a whole GPU each) weighs about seven times one of as
    many 1g units at the same priority, where priority x count weighs both alike."""
    from packer.cpsat import lns_owner

    nodes = tuple(Node(id=f"n{i}", gpu_model=A100, num_gpus=1, mode="mig", domains={"rack": f"r{i}"})
                  for i in range(2))
    reqs = (Request(id="big", tenant="a", kind="mig", profile="7g.80gb", count=2, gpu_models=(A100,),
                    spread=Spread(level="node", max_per_domain=1)),
            Request(id="small", tenant="a", kind="mig", profile="1g.10gb", count=2, gpu_models=(A100,),
                    spread=Spread(level="node", max_per_domain=1)))
    inst = Instance(name="w", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="a"),))
    model = CpsatModel(inst)
    weights = {}
    for by_value in (False, True):
        ix = lns_owner.owner_index(model, 24, isolated_only=False, by_value=by_value)
        assert ix is not None
        weights[by_value] = {model.data.groups[a[0]].req.id: a[5] for a in ix.anchors}
    assert weights[False]["big"] == pytest.approx(weights[False]["small"])
    assert weights[True]["big"] == pytest.approx(7 * weights[True]["small"], rel=0.01)
