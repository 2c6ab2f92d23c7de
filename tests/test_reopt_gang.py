"""Tests of the gang step (packer.cpsat.reopt_gang): clear the nodes a waiting whole-GPU gang needs,
place it there, re-place the running work it displaced; within the migration cap; a valid plan."""

from __future__ import annotations

import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt, reopt_gang
from packer.cpsat.result import modes_of
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit
from packer.plans import build_plan, objective_value

H100 = "H100-80GB"


def _state(isolated: bool = False) -> Instance:
    """Three racks of two 4-GPU nodes; two running 1-GPU jobs on every node (movable), so each rack
    has 4 free GPUs; an 8-GPU gang with required rack locality waits: it fits only once a rack's four
    jobs move into the free room of the other racks."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": f"r{i // 2}"})
             for i in range(6)]
    reqs = [Request(id=f"job{i}-{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node=f"n{i}", gpu=g),),
                    movable=True, migration_cost=0.1) for i in range(6) for g in range(2)]
    reqs.append(Request(id="gang", kind="gpu", count=8, priority=3.0, tenant="g",
                        locality=Locality(level="rack", required=True)))
    tenants = (Tenant(id="t"), Tenant(id="g", isolation="node" if isolated else "none"))
    return Instance(name="gang", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=tenants)


def _placed(inst: Instance) -> dict[str, list[Unit]]:
    return {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


@pytest.mark.parametrize("isolated", [False, True])
def test_clearing_a_rack_admits_the_gang(isolated: bool) -> None:
    """Tests that the gang step places the gang on one cleared rack, re-places every displaced job,
    and gives a valid plan worth more; the no-move placement cannot hold the gang (no rack has 8 free)."""
    inst = _state(isolated)
    cur = _placed(inst)
    assert reopt_gang.gangs(inst, cur) == [inst.request("gang")]
    out, info = reopt_gang.gang_step(inst, cur, inst.request("gang"), random.Random(0), [inst.request("gang")])
    assert out is not None, info
    assert "gang" in out and len({inst.domain(inst.node(u.node), "rack") for u in out["gang"]}) == 1
    assert all(rid in out for rid in cur)  # running work is never dropped
    assert reopt.moves(inst, out) == 4  # the cleared rack's four jobs, nothing else
    assert objective_value(inst, out) > objective_value(inst, cur)
    assert _ok(inst, out)
    if isolated:  # the gang's tenant owns its nodes: nothing else is left on them
        gang_nodes = {u.node for u in out["gang"]}
        assert all(u.node not in gang_nodes for rid, us in out.items() if rid != "gang" for u in us)


def test_no_room_for_the_displaced_work_fails_the_step() -> None:
    """Tests that a step whose displaced running work finds no room elsewhere gives nothing (running
    work is never dropped to admit a gang)."""
    inst = _state()
    extra = [Request(id=f"fill{i}-{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node=f"n{i}", gpu=g),),
                     movable=False) for i in range(2, 6) for g in range(2, 4)]
    inst = inst.replace(requests=inst.requests + tuple(extra))
    out, info = reopt_gang.gang_step(inst, _placed(inst), inst.request("gang"), random.Random(0),
                                     [inst.request("gang")])
    assert out is None and info["fail"] in ("no domain", "displaced running work")


@pytest.mark.parametrize("cap", [2, 4, None])
def test_gang_steps_respect_the_migration_cap(cap: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that move steps made of gang steps only keep a result that moves at most ``cap`` running
    requests: the gang (four moves) comes in with a cap of 4 or none, never with 2; every plan valid."""
    monkeypatch.setattr(reopt_gang, "GANG_SHARE", 1.0)
    inst = _state()
    cur = _placed(inst)
    out, stats = reopt.move_steps(inst, cur, cap=cap, deadline=time.perf_counter() + 2.0, seed=0, workers=1,
                                  max_steps=3, det=0.2)
    assert stats["gang"] >= 1 if cap == 2 else stats["gang"] == 1  # once placed, no gang waits
    assert cap is None or reopt.moves(inst, out) <= cap
    assert ("gang" in out) == (cap != 2)
    assert _ok(inst, out)


def test_gangs_skip_requests_whose_quota_running_work_fills() -> None:
    """Tests that a gang whose tenant's running work leaves too little quota is not a candidate."""
    inst = _state()
    inst = inst.replace(tenants=(Tenant(id="t"), Tenant(id="g", max_gpus=4)))
    assert reopt_gang.gangs(inst, _placed(inst)) == []


def _norm(out):  # type: ignore[no-untyped-def]
    if out is None:
        return None
    return {rid: sorted(tuple(sorted(u.model_dump(exclude_none=True).items())) for u in us) for rid, us in out.items()}


@pytest.mark.parametrize(("family", "seed"), [("fragmented", 0), ("fragmented", 2), ("haein", 1)])
def test_forked_placers_give_the_same_gang_steps(family: str, seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a gang step whose tries fork one loaded placer (FORK) gives exactly what a new placer
    loaded per try gives: the same plan and value for every drawn gang and seed, on generated running
    clusters, the value (FORK: counted from what changed) being the plan's objective; and that some of
    those steps place their gang (the comparison is not of failures only)."""
    from packer.generate import generate

    inst = generate(family, seed=seed, nodes=16)
    st = reopt.no_move_hint(inst, time_limit=20, seed=0)
    assert st is not None
    cur = {a.request: list(a.units) for a in st.assignments}
    waiting = [r for r in inst.requests if r.id not in cur]
    gangs = reopt_gang.gangs(inst, cur)
    assert gangs
    placed = 0
    for gang in gangs[:3]:
        for s in range(2):
            got = {}
            for fork in (True, False):
                monkeypatch.setattr(reopt_gang, "FORK", fork)
                out, info = reopt_gang.gang_step(inst, cur, gang, random.Random(s), waiting)
                got[fork] = (_norm(out), info.get("value"), info.get("fail"))
                if out is not None:  # the value reported is the plan's objective
                    assert info["value"] == pytest.approx(objective_value(inst, out), abs=1e-6)
            assert got[True][0] == got[False][0] and got[True][2] == got[False][2]
            assert got[True][1] == pytest.approx(got[False][1], abs=1e-6)
            placed += got[True][0] is not None
    assert placed > 0
