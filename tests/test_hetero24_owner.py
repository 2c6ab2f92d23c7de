"""Ownership-exchange LNS steps (packer/cpsat/lns_owner.py, lns.OWNER_EXCHANGE).

A node-isolated tenant's spread request holding nodes that another tenant's waiting spread request needs:
the better plan gives the owner's nodes up, which a step must free on both sides at once (session 23,
hetero-102: +2.97 from an exchange over ~10 A100-80GB nodes that no step of a 600 s run freed).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_owner
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.generate import generate
from packer.model import Instance, Node, Plan, Request, Spread, Tenant, Topology, Unit
from packer.plans import build_plan

A100 = "A100-80GB"
H100 = "H100-80GB"


def _exchange(isolated: bool = True) -> Instance:
    """Five one-GPU A100 nodes, one a rack, and four H100 nodes in two more racks. Tenant sec (node-isolated)
    asks four A100 GPUs one a node (value 4), tenant oth five A100 GPUs one a node (value 5): both cannot be
    placed (4 + 5 > 5 nodes), the optimum places oth's alone. A filler of oth's on the H100 nodes (value 2).
    sec's request spans four racks: no step anchored on a request (at most three) frees its nodes."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=A100 if i < 5 else H100, num_gpus=1, mode="full",
                       domains={"rack": f"r{i}" if i < 5 else f"r{5 + (i - 5) // 2}"}) for i in range(9))
    one = Spread(level="node", max_per_domain=1)
    reqs = (Request(id="sec", tenant="sec", kind="gpu", count=4, gpu_models=(A100,), spread=one),
            Request(id="oth", tenant="oth", kind="gpu", count=5, gpu_models=(A100,), spread=one),
            Request(id="fill", tenant="oth", kind="gpu", count=2, gpu_models=(H100,)))
    return Instance(name="exchange", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="sec", isolation="node" if isolated else "none"), Tenant(id="oth")))


def _incumbent(inst: Instance) -> Plan:
    """sec on n0-n3, fill on n5-n6, oth waiting: a plan no step of a few racks improves."""
    placed = {"sec": [Unit(node=f"n{i}", gpu=0) for i in range(4)], "fill": [Unit(node=f"n{i}", gpu=0) for i in (5, 6)]}
    return build_plan(inst, solver="test", placed=placed, unplaced=unplaced_reasons(inst, placed, {}), seed=0,
                      wall_s=0.0, status="feasible")


def _space(model: CpsatModel, plan: Plan) -> lns_mod._Space:
    """The search space of ``model`` with ``plan`` (hinted in full) as its incumbent."""
    model.hint(plan)
    # A first run that keeps the hint: the incumbent is the plan, as after a run that found nothing better.
    model.solve(time_limit=5, seed=0, workers=1, params={"fix_variables_to_their_hinted_value": True})
    space = lns_mod._space(model, "rack")
    assert space is not None
    hint = model.model.proto.solution_hint
    assert len(hint.vars) == len(model.model.proto.variables)
    best = [0] * len(hint.vars)
    for i, val in zip(hint.vars, hint.values, strict=True):
        best[i] = val
    space.best, space.best_obj = best, int(round(model._raw_objective(best)))
    return space


def _plan_of(model: CpsatModel, values: list[int]) -> Plan:
    model.values = values
    placed, modes, _ = model.placement()
    return build_plan(model.inst, solver="test", placed=placed, unplaced=unplaced_reasons(model.inst, placed, modes),
                      gpu_modes=modes, seed=0, wall_s=0.0, status="feasible")


def test_the_step_frees_both_sides_and_finds_the_exchange(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the step anchored on oth's waiting spread frees the five A100 nodes (sec's four and the one
    left), may grow oth's request, and that solving it drops sec's request for oth's (6 -> 7 with fill);
    a random step of one rack finds nothing there."""
    monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", True)
    inst = _exchange()
    model = CpsatModel(inst)
    plan = _incumbent(inst)
    assert check(inst, plan).ok and plan.objective == pytest.approx(6.0)
    space = _space(model, plan)
    ix = space.owner
    assert ix is not None
    d, v = model.data, model.vars
    oth = v.active[d.group_of[inst.request_index["oth"]]].index  # type: ignore[union-attr]
    vals = np.asarray(space.best, dtype=np.int64)
    assert [ix.anchors[k][1] for k in lns_owner.candidates(ix, vals)] == [oth]
    got = lns_owner.pick_owner(ix, random.Random(0), space.best, set(space.names), space.node_domain, space.per_node)
    assert got is not None
    names, nodes, grow = got
    assert nodes == {inst.node_index[f"n{i}"] for i in range(5)} and names == {f"r{i}" for i in range(5)}
    assert grow[0] == oth
    # The same incumbent again: the anchor's step is not retried.
    assert lns_owner.pick_owner(ix, random.Random(0), space.best, set(space.names), space.node_domain,
                                space.per_node) is None
    found = lns_mod._step(space.sub_model(space.best, names, [], nodes), space.best_obj, seconds=5.0, det=None,
                          seed=0, workers=1)
    assert found is not None
    after = _plan_of(model, found[0])
    assert check(inst, after).ok and after.objective == pytest.approx(7.0)
    assert {a.request for a in after.assignments} == {"oth", "fill"}
    for rack in ("r0", "r4"):
        assert lns_mod._step(space.sub_model(space.best, {rack}, []), space.best_obj, seconds=5.0, det=None,
                             seed=0, workers=1) is None


def test_an_lns_of_owner_steps_reaches_the_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that sequential LNS steps of one rack with ownership-exchange steps drawn reach the optimum 7 from
    the incumbent, with a checked plan, where the same steps without them stay at 6."""
    inst = _exchange()
    for on, want in ((False, 6.0), (True, 7.0)):
        monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", on)
        monkeypatch.setattr(lns_mod, "OWNER_SHARE", 0.5)
        monkeypatch.setattr(lns_mod, "TENANT_SHARE", 0.0)  # its nodes are sec's three: nothing to gain there
        model = CpsatModel(inst)
        space = _space(model, _incumbent(inst))
        lns_mod.lns(model, level="rack", domains_per_step=1, step_s=5.0, deadline=1e18, seed=0, workers=1,
                    steps=12, det_step=1.0)
        values = model.values if model.values is not None else space.best
        plan = _plan_of(model, values)
        assert check(inst, plan).ok and plan.objective == pytest.approx(want)
        assert bool(model.lns_stats.get("owner_steps")) is on


def test_no_step_without_node_isolation(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that without a node-isolated tenant there is no index (the hand-made case with sec not isolated,
    sharing-0 at 8 nodes) and the steps drawn are the same with the flag on and off."""
    monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", True)
    inst = _exchange(isolated=False)
    model = CpsatModel(inst)
    assert lns_owner.owner_index(model, 24) is None
    assert _space(model, _incumbent(inst)).owner is None
    shared = generate("sharing", 0, nodes=8)
    assert not any(t.isolation == "node" for t in shared.tenants)
    draws = {}
    for on in (True, False):
        monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", on)
        m = CpsatModel(shared)
        m.solve(time_limit=5, seed=0, workers=1, params={"max_deterministic_time": 0.05})
        space = lns_mod._space(m, "rack")
        assert space is not None and space.owner is None
        rng = random.Random(3)
        draws[on] = [(sorted(f), k) for f, _, _, k in (space.choose_kind(rng, space.names, 1, space.best)
                                                        for _ in range(40))]
    assert draws[True] == draws[False]


@pytest.mark.parametrize(("fam", "seed", "nodes"), [("isolated", 3, 8), ("hetero", 102, 16)])
def test_owner_steps_on_generated_instances_give_checked_plans(fam: str, seed: int, nodes: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests, on small instances with node-isolated tenants, that every ownership-exchange step frees all
    the nodes its anchor may use, and that an LNS drawing them gives a plan that passes the checker and is
    no worse than its start."""
    monkeypatch.setattr(lns_mod, "OWNER_EXCHANGE", True)
    monkeypatch.setattr(lns_mod, "OWNER_SHARE", 1.0)
    inst = generate(fam, seed, nodes=nodes)
    from packer.cpsat.hints import hint_plan

    start = hint_plan(inst, 0, None, online=False)
    assert start is not None
    model = CpsatModel(inst)
    space = _space(model, start)
    ix = space.owner
    assert ix is not None
    vals = np.asarray(space.best, dtype=np.int64)
    cands = lns_owner.candidates(ix, vals)
    assert cands
    for k in cands:
        assert set(ix.anchors[k][4].tolist()) <= lns_owner._step_nodes(ix, vals, k)
    lns_mod.lns(model, level="rack", domains_per_step=1, step_s=5.0, deadline=1e18, seed=0, workers=1,
                steps=6, det_step=0.3)
    assert model.lns_stats.get("owner_steps", 0) >= 1
    values = model.values if model.values is not None else space.best
    plan = _plan_of(model, values)
    assert check(inst, plan).ok and plan.objective >= start.objective - 1e-6


@st.composite
def mixes(draw: st.DrawFn) -> Instance:
    """3-7 one- or two-GPU nodes of two models in racks of one or two; a node-isolated tenant and two others
    asking whole GPUs, spread one a node or not, pinned to a model or not, at random sizes and priorities."""
    per_rack = draw(st.integers(1, 2))
    n = draw(st.integers(3, 7))
    nodes = tuple(Node(id=f"n{i}", gpu_model=draw(st.sampled_from([A100, A100, H100])), num_gpus=draw(st.integers(1, 2)),
                       mode="full", domains={"rack": f"r{i // per_rack}"}) for i in range(n))
    reqs = []
    for k in range(draw(st.integers(2, 6))):
        tenant = ["sec", "oth"][k] if k < 2 else draw(st.sampled_from(["sec", "oth", "lab"]))
        spread = Spread(level="node", max_per_domain=1) if draw(st.booleans()) else None
        models = draw(st.sampled_from([None, (A100,), (H100,)]))
        reqs.append(Request(id=f"q{k}", tenant=tenant, kind="gpu", count=draw(st.integers(1, 4)), spread=spread,
                            gpu_models=models, priority=draw(st.sampled_from([1.0, 1.5, 2.0]))))
    return Instance(name="mix", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth"), Tenant(id="lab")))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes())
def test_every_owner_step_gives_a_checked_plan_between_its_start_and_the_optimum(inst: Instance) -> None:
    """Tests, on random small mixes with a node-isolated tenant, that every anchor's step (from the greedy
    plan) frees its anchor's nodes and solves to a plan that passes the checker, no worse than its start and
    no better than the optimum CP-SAT proves for the whole instance."""
    lns_mod_flag = lns_mod.OWNER_EXCHANGE
    lns_mod.OWNER_EXCHANGE = True
    try:
        from packer.cpsat.hints import hint_plan
        from packer.cpsat.solver import solve

        start = hint_plan(inst, 0, None, online=False)
        assert start is not None
        best = solve(inst, time_limit=10, workers=1)
        assert best.status == "optimal"
        model = CpsatModel(inst)
        space = _space(model, start)
        ix = space.owner
        if ix is None:
            return
        vals = np.asarray(space.best, dtype=np.int64)
        cands = lns_owner.candidates(ix, vals)
        event(f"anchors: {min(len(cands), 3)}")
        for k in cands[:3]:
            nodes = lns_owner._step_nodes(ix, vals, k)
            assert set(ix.anchors[k][4].tolist()) <= nodes
            names = {space.node_domain[ni] for ni in nodes}
            found = lns_mod._step(space.sub_model(space.best, names, [], nodes), space.best_obj - 1, seconds=10.0,
                                  det=None, seed=0, workers=1)
            assert found is not None  # the start itself is a solution of the step
            plan = _plan_of(model, found[0])
            assert check(inst, plan).ok
            assert start.objective - 1e-6 <= plan.objective <= best.objective + 1e-6
    finally:
        lns_mod.OWNER_EXCHANGE = lns_mod_flag
