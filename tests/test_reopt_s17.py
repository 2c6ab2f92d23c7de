"""Tests of the pack step (packer.cpsat.reopt_pack, session 17): empty some of a node-isolated tenant's
nodes onto its others and give the freed nodes to the other tenants' waiting work; and move_steps
with pack steps keeps valid plans within the cap."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_pack
from packer.cpsat.result import modes_of
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit
from packer.plans import build_plan, objective_value

H100 = "H100-80GB"


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


def _state(jobs: int = 3, pin_iso: bool = False, full_b: int = 2) -> tuple[Instance, dict[str, list[Unit]]]:
    """``jobs`` 4-GPU nodes i*, each holding one movable 1-GPU job of the node-isolated tenant ``iso``
    (with ``pin_iso`` the job on i0 may not move); ``full_b`` 4-GPU nodes b* full of tenant b's pinned
    work. Tenant b's 4-GPU node gang ``gang`` waits (priority 2): it fits only on an emptied i* node."""
    nodes = [Node(id=f"i{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(jobs)]
    nodes += [Node(id=f"b{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r1"}) for k in range(full_b)]
    reqs = [Request(id=f"job{k}", kind="gpu", tenant="iso", placement=(Unit(node=f"i{k}", gpu=0),),
                    movable=not (pin_iso and k == 0), migration_cost=0.1) for k in range(jobs)]
    reqs += [Request(id=f"full{k}", kind="gpu", count=4, tenant="b", movable=False,
                     placement=tuple(Unit(node=f"b{k}", gpu=g) for g in range(4))) for k in range(full_b)]
    reqs.append(Request(id="gang", kind="gpu", count=4, priority=2.0, tenant="b",
                        locality=Locality(level="node", required=True)))
    inst = Instance(name="pack", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="b")))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def _waiting(inst: Instance, cur) -> list[Request]:  # type: ignore[no-untyped-def]
    return [r for r in inst.requests if r.id not in cur]


def test_pack_empties_one_node_for_the_gang_with_one_move() -> None:
    """Tests that the step moves one job onto another of iso's nodes and places the gang on the node it
    freed: the best of the sets met is the one with the fewest moves that places the gang."""
    inst, cur = _state()
    assert reopt_pack.tenants(inst, cur) == {"iso": ["i0", "i1", "i2"]}
    out, info = reopt_pack.pack_step(inst, cur, "iso", ["i0", "i1", "i2"], random.Random(0), _waiting(inst, cur))
    assert out is not None, info
    assert "gang" in out and reopt.moves(inst, out) == 1
    gang_node = {u.node for u in out["gang"]}
    assert len(gang_node) == 1
    assert not any(u.node in gang_node for k in range(3) for u in out[f"job{k}"])
    assert _ok(inst, out)
    assert info["value"] == pytest.approx(objective_value(inst, out))
    assert info["value"] > objective_value(inst, cur)


def test_a_node_with_work_that_may_not_move_is_never_emptied() -> None:
    """Tests that i0 (its job pinned) is not ranked, and the step empties another node."""
    inst, cur = _state(pin_iso=True)
    ranked = reopt_pack.ranking(inst, cur, "iso", ["i0", "i1", "i2"], _waiting(inst, cur), random.Random(0))
    assert "i0" not in {nid for nid, *_ in ranked} and len(ranked) == 2
    out, _info = reopt_pack.pack_step(inst, cur, "iso", ["i0", "i1", "i2"], random.Random(0), _waiting(inst, cur))
    assert out is not None and out["job0"] == cur["job0"] and "gang" in out and _ok(inst, out)


def test_no_set_when_the_moved_work_fits_nowhere_on_the_tenant() -> None:
    """Tests that with a 4-GPU job of iso on each of its two nodes nothing can be emptied (the other
    node has no room, and the step never opens a node the tenant does not hold)."""
    nodes = [Node(id=f"i{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(2)]
    nodes.append(Node(id="e", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}))
    reqs = [Request(id=f"job{k}", kind="gpu", count=3, tenant="iso", movable=True, migration_cost=0.1,
                    placement=tuple(Unit(node=f"i{k}", gpu=g) for g in range(3))) for k in range(2)]
    reqs.append(Request(id="gang", kind="gpu", count=4, priority=2.0, tenant="b",
                        locality=Locality(level="node", required=True)))
    inst = Instance(name="pack2", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="b")))
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    out, info = reopt_pack.pack_step(inst, cur, "iso", ["i0", "i1"], random.Random(0), _waiting(inst, cur))
    assert out is None and info["fail"] == "no node to empty"


@pytest.mark.parametrize("on", [False, True])
def test_move_steps_with_pack_on_and_off(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Tests move_steps with PACK on and off: valid, within the cap; pack steps run only when on."""
    monkeypatch.setattr(reopt_pack, "PACK", on)
    monkeypatch.setattr(reopt_pack, "PACK_SHARE", 0.5)
    inst, cur = _state()
    got, stats = reopt.move_steps(inst, cur, cap=1, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                  max_steps=4, det=0.5)
    assert _ok(inst, got) and reopt.moves(inst, got) <= 1
    assert (stats.get("pack", 0) > 0) == on
    assert objective_value(inst, got) >= objective_value(inst, cur)


@st.composite
def _iso_states(draw):  # type: ignore[no-untyped-def]
    """iso on 2-5 nodes of 4 GPUs with 1-3 jobs of 1-2 GPUs a node (some pinned, some spanning two
    nodes), tenant b's 1-3 waiting gangs of 1-4 GPUs (node locality required or not), one spare node."""
    k = draw(st.integers(2, 5))
    nodes = [Node(id=f"i{j}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": f"r{j % 2}"}) for j in range(k)]
    nodes.append(Node(id="spare", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r9"}))
    reqs = []
    free = {f"i{j}": [0, 1, 2, 3] for j in range(k)}
    n = 0
    for j in range(k):
        for _ in range(draw(st.integers(1, 3))):
            size = draw(st.integers(1, 2))
            if len(free[f"i{j}"]) < size:
                break
            span = size == 2 and draw(st.booleans()) and j + 1 < k and bool(free[f"i{j + 1}"])
            units = [Unit(node=f"i{j}", gpu=free[f"i{j}"].pop(0))]
            if size == 2:
                nid = f"i{j + 1}" if span else f"i{j}"
                units.append(Unit(node=nid, gpu=free[nid].pop(0)))
            reqs.append(Request(id=f"job{n}", kind="gpu", count=len(units), tenant="iso", placement=tuple(units),
                                movable=draw(st.integers(0, 4)) > 0, migration_cost=0.1))
            n += 1
    for g in range(draw(st.integers(1, 3))):
        req = draw(st.booleans())
        reqs.append(Request(id=f"gang{g}", kind="gpu", count=draw(st.integers(1, 4)), priority=draw(st.sampled_from([1.0, 2.0])),
                            tenant="b", locality=Locality(level="node", required=req) if req else None))
    inst = Instance(name="packh", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="b")))
    return inst


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_iso_states(), st.integers(0, 3))
def test_property_pack_step_is_valid_and_keeps_running_work(inst: Instance, seed: int) -> None:
    """Tests on random small states: a pack step's result passes the checker, keeps every running
    request placed, leaves no iso work on the nodes it emptied, never moves work that may not move,
    and its value is its objective."""
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    ts = reopt_pack.tenants(inst, cur)
    if "iso" not in ts:
        return
    out, info = reopt_pack.pack_step(inst, cur, "iso", ts["iso"], random.Random(seed), _waiting(inst, cur))
    if out is None:
        assert info.get("fail")
        return
    assert _ok(inst, out)
    for r in inst.requests:
        if r.placement is not None:
            assert r.id in out
            if not r.movable:
                assert out[r.id] == list(r.placement)
    iso_nodes = {u.node for r in inst.requests if r.tenant == "iso" and r.id in out for u in out[r.id]}
    assert iso_nodes <= set(ts["iso"])  # packed onto its own nodes, none opened
    assert info["value"] == pytest.approx(objective_value(inst, out))


def test_pack_steps_that_change_nothing_leave_every_other_step_as_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with pack steps that never give a result, move_steps (det, one worker) ends with the
    same placement and the same counts of every other step kind as with PACK off: pack steps draw from
    their own stream before the spread and gang draws (a clean deterministic A/B)."""
    from packer.model import Spread

    inst, cur = _state(jobs=4, full_b=3)
    rep = Request(id="rep", kind="gpu", count=2, priority=1.5, tenant="b", spread=Spread(level="node", max_per_domain=1))
    inst = inst.model_copy(update={"requests": (*inst.requests, rep)})
    monkeypatch.setattr(reopt_pack, "PACK_SHARE", 0.5)
    monkeypatch.setattr(reopt_pack, "pack_step", lambda *a, **k: (None, {"fail": "test"}))
    runs = {}
    for on in (False, True):
        monkeypatch.setattr(reopt_pack, "PACK", on)
        got, stats = reopt.move_steps(inst, cur, cap=None, deadline=time.perf_counter() + 120, seed=3, workers=1,
                                      max_steps=6, det=0.3)
        runs[on] = (got, {k: v for k, v in stats.items() if k in ("aimed", "tenant", "random", "gang", "spread",
                                                                   "improved")})
        assert (stats.get("pack", 0) > 0) == on
    assert runs[True][1] == runs[False][1]
    assert {rid: sorted(map(repr, us)) for rid, us in runs[True][0].items()} == \
        {rid: sorted(map(repr, us)) for rid, us in runs[False][0].items()}


def _fill_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """Two 4-GPU nodes of the node-isolated tenant ``iso``, one movable 1-GPU job each, and a 4-GPU node
    full of tenant b's pinned work. b waits with a 3-GPU request (priority 2) and two 2-GPU ones (priority
    1.6 each): the placer's fill (dearest first) puts the 3-GPU one on the node a pack step empties, where
    the two 2-GPU ones are worth more (6.4 against 6)."""
    nodes = [Node(id=f"i{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(2)]
    nodes.append(Node(id="b0", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r1"}))
    reqs = [Request(id=f"job{k}", kind="gpu", tenant="iso", placement=(Unit(node=f"i{k}", gpu=0),),
                    movable=True, migration_cost=0.1) for k in range(2)]
    reqs.append(Request(id="full0", kind="gpu", count=4, tenant="b", movable=False,
                        placement=tuple(Unit(node="b0", gpu=g) for g in range(4))))
    reqs.append(Request(id="three", kind="gpu", count=3, priority=2.0, tenant="b"))
    reqs += [Request(id=f"two{k}", kind="gpu", count=2, priority=1.6, tenant="b") for k in range(2)]
    inst = Instance(name="packfill", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="b")))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def test_cpsat_fill_takes_more_of_the_emptied_node_than_the_placer() -> None:
    """Tests that the CP-SAT fill after a pack step (reopt._pack_fill) replaces the placer's greedy fill
    of the emptied node (the 3-GPU request) by the two 2-GPU ones, keeps every running job placed, and
    passes the checker; and that with nothing emptied it does nothing."""
    inst, cur = _fill_state()
    nodes = ["i0", "i1"]
    trial, info = reopt_pack.pack_step(inst, cur, "iso", nodes, random.Random(0), _waiting(inst, cur))
    assert trial is not None, info
    assert "three" in trial and "two0" not in trial and "two1" not in trial
    value = float(info["value"])  # type: ignore[arg-type]
    by_kind: dict = {}
    got = reopt._pack_fill(inst, trial, value, "iso", nodes, list(info["empty"]), None,  # type: ignore[call-overload]
                           _waiting(inst, trial), random.Random(0), {"pack": 1}, by_kind, seed=0, workers=1,
                           det=1.0, deadline=time.perf_counter() + 30)
    assert got is not None
    out, v = got
    assert "two0" in out and "two1" in out and "three" not in out
    assert v == pytest.approx(objective_value(inst, out)) and v > value + 0.3
    assert all(f"job{k}" in out for k in range(2)) and _ok(inst, out)
    assert by_kind["pack_fill"]["improved"] == 1
    assert reopt._pack_fill(inst, trial, value, "iso", nodes, [], None, _waiting(inst, trial), random.Random(0),
                            {}, {}, seed=0, workers=1, det=1.0, deadline=time.perf_counter() + 30) is None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_iso_states(), st.integers(0, 3), st.booleans())
def test_property_cpsat_fill_is_valid_better_and_within_the_cap(inst: Instance, seed: int, odd: bool) -> None:
    """Tests on random small states: when the CP-SAT fill after a pack step returns a plan, it passes
    the checker, keeps every running request placed and pinned work where it is, stays within a cap of
    the pack step's own moves, is worth more than the pack step's result, and its value is its objective.
    With ``odd`` b also waits with _fill_state's 3-GPU and two 2-GPU requests (the placer's dearest-first
    fill is then often worse, so the fill returns plans), and the spare node is gone."""
    if odd:
        extra = [r for r in _fill_state()[0].requests if r.id in ("three", "two0", "two1")]
        inst = inst.model_copy(update={"requests": (*inst.requests, *extra),
                                       "nodes": tuple(n for n in inst.nodes if n.id != "spare")})
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    ts = reopt_pack.tenants(inst, cur)
    if "iso" not in ts:
        return
    trial, info = reopt_pack.pack_step(inst, cur, "iso", ts["iso"], random.Random(seed), _waiting(inst, cur))
    if trial is None:
        return
    cap = reopt.moves(inst, trial)
    value = float(info["value"])  # type: ignore[arg-type]
    got = reopt._pack_fill(inst, trial, value, "iso", ts["iso"], list(info["empty"]), cap,  # type: ignore[call-overload]
                           _waiting(inst, trial), random.Random(seed), {}, {}, seed=seed, workers=1, det=0.3,
                           deadline=time.perf_counter() + 30)
    if got is None:
        return
    out, v = got
    assert _ok(inst, out) and reopt.moves(inst, out) <= cap
    assert v > value and v == pytest.approx(objective_value(inst, out))
    for r in inst.requests:
        if r.placement is not None:
            assert r.id in out
            if not r.movable:
                assert out[r.id] == list(r.placement)
