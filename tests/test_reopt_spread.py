"""Tests of the spread step (packer.cpsat.reopt_spread, session 12): open one slot on each of several
nodes for a waiting request spread one a node, by moving small running work or by evacuating a
node-isolated tenant's node, and keep only valid plans within the migration cap."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_spread
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.model import Instance, Node, Request, Spread, Tenant, Topology, Unit
from packer.plans import build_plan, objective_value

H100 = "H100-80GB"


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


def _moves(inst: Instance, placed) -> int:  # type: ignore[no-untyped-def]
    return reopt.moves(inst, placed)


def _slots_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """Three 2-GPU nodes and a 4-GPU one. n0-n2: a movable 1-GPU job on GPU 0, pinned work on GPU 1.
    n3: empty. A 3-unit request spread one a node waits (priority 3): only n3 takes a unit now; it
    fits once two jobs move to n3 and free a GPU each on their nodes."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=2 if i < 3 else 4, mode="full", domains={"rack": f"r{i}"})
             for i in range(4)]
    reqs = [
        *[Request(id=f"job{i}", kind="gpu", tenant="t", placement=(Unit(node=f"n{i}", gpu=0),), movable=True,
                  migration_cost=0.1) for i in range(3)],
        *[Request(id=f"pin{i}", kind="gpu", tenant="t", placement=(Unit(node=f"n{i}", gpu=1),), movable=False)
          for i in range(3)],
        Request(id="rep", kind="gpu", count=3, priority=3.0, tenant="t", spread=Spread(level="node", max_per_domain=1)),
    ]
    inst = Instance(name="slots", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="t"),))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def test_openings_count_free_and_openable_nodes() -> None:
    """Tests that n3 takes one unit now and each of n0-n2 opens by moving its job."""
    inst, cur = _slots_state()
    r = inst.request("rep")
    free, opens, evac = reopt_spread.openings(inst, cur, r)
    assert free == {"n3": 1}
    assert {nid: rids for nid, (_c, rids) in opens.items()} == {f"n{i}": (f"job{i}",) for i in range(3)}
    assert evac == []
    assert reopt_spread.spreads(inst, cur) == [r]


@pytest.mark.parametrize("cap", [None, 2, 1])
def test_spread_step_places_the_replicas_within_the_cap(cap: int | None) -> None:
    """Tests that the step places all three units (one a node) by moving two jobs when the cap allows
    two moves; with a cap of one it cannot (no result better than the start within the cap)."""
    inst, cur = _slots_state()
    r = inst.request("rep")
    start = objective_value(inst, cur)
    out, info = reopt_spread.spread_step(inst, cur, r, random.Random(0), [r], None, cap)
    if cap == 1:
        assert out is None or "rep" not in out or _moves(inst, out) > 1
        return
    assert out is not None and "rep" in out, info
    assert len({u.node for u in out["rep"]}) == 3
    assert all(rid in out for rid in cur)  # running work stays placed
    assert _moves(inst, out) == 2
    assert _ok(inst, out)
    assert objective_value(inst, out) > start


def _iso_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """Four 2-GPU nodes. Tenant ``iso`` (node isolation) runs a movable 2-unit request spread one a
    node on n0 and n1 (GPU 0), and pinned work on GPU 0 of n2 and n3. A 2-unit request of tenant ``t``
    spread one a node waits: every free GPU is on iso's nodes, closed to it. Moving iso's two units to
    n2 and n3 (iso's other nodes, one unit a node still) frees n0 and n1 for it."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": "r0"}) for i in range(4)]
    reqs = [
        Request(id="iso-rep", kind="gpu", count=2, tenant="iso", spread=Spread(level="node", max_per_domain=1),
                placement=(Unit(node="n0", gpu=0), Unit(node="n1", gpu=0)), movable=True, migration_cost=0.1),
        *[Request(id=f"iso-pin{i}", kind="gpu", tenant="iso", placement=(Unit(node=f"n{i}", gpu=0),), movable=False)
          for i in (2, 3)],
        Request(id="rep", kind="gpu", count=2, priority=3.0, tenant="t", spread=Spread(level="node", max_per_domain=1)),
    ]
    inst = Instance(name="iso", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="t"), Tenant(id="iso", isolation="node")))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def test_evacuating_isolated_nodes_places_the_replicas() -> None:
    """Tests that no node takes ``rep`` now, that n0 and n1 open only by evacuating iso's request, and
    that a spread step (the try that evacuates two nodes) places ``rep`` on n0 and n1 with iso's
    request on n2 and n3: one move, a valid plan."""
    inst, cur = _iso_state()
    r = inst.request("rep")
    free, opens, evac = reopt_spread.openings(inst, cur, r)
    assert free == {}
    assert {nid for _c, nid, _r in evac} == {"n0", "n1"}
    out, info = reopt_spread.spread_step(inst, cur, r, random.Random(0), [r], None, None)
    assert out is not None and "rep" in out, info
    assert sorted(u.node for u in out["rep"]) == ["n0", "n1"]
    assert sorted(u.node for u in out["iso-rep"]) == ["n2", "n3"]
    assert _moves(inst, out) == 1
    assert _ok(inst, out)


def test_evacuation_respects_the_cap() -> None:
    """Tests that with no move allowed the step finds no placement of ``rep``."""
    inst, cur = _iso_state()
    r = inst.request("rep")
    out, _info = reopt_spread.spread_step(inst, cur, r, random.Random(0), [r], None, 0)
    assert out is None or "rep" not in out or _moves(inst, out) > 0


def test_partial_keeps_units_off_the_cleared_nodes() -> None:
    """Tests reopt_spread._partial directly: iso's request cleared off n0 keeps its unit on n1 and puts
    the other on n2 or n3 (iso's nodes with room, one unit a node), never on n0 or n1."""
    inst, cur = _iso_state()
    q = inst.request("iso-rep")
    placer = reopt_spread._placer(inst, {k: v for k, v in cur.items() if k != "iso-rep"})
    units = reopt_spread._partial(inst, placer, q, cur["iso-rep"], {"n0"}, lambda _q, _u: True)
    assert units is not None
    assert Unit(node="n1", gpu=0) in units
    assert len(units) == 2 and {u.node for u in units} - {"n1"} <= {"n2", "n3"}
    out = {rid: list(placer.units(rid)) for rid in placer.placed_ids()}
    assert _ok(inst, out)


def test_share_adapts_within_bounds() -> None:
    """Tests that the share rises after gains and falls after failures, within its bounds."""
    s = reopt_spread.Share(0.2)
    s.update(True)
    assert s.value == pytest.approx(0.3)
    for _ in range(20):
        s.update(True)
    assert s.value == reopt_spread.SHARE_MAX
    for _ in range(40):
        s.update(False)
    assert s.value == reopt_spread.SHARE_MIN


@pytest.mark.parametrize("on", [False, True])
def test_move_steps_with_spread_steps_stay_valid(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that move_steps with spread steps on counts them, keeps the plan valid and within the
    cap, and with them off takes none."""
    monkeypatch.setattr(reopt_spread, "SPREAD", on)
    monkeypatch.setattr(reopt_spread, "SPREAD_SHARE", 0.5)
    inst, cur = _slots_state()
    got, stats = reopt.move_steps(inst, cur, cap=2, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                  max_steps=3, det=0.2)
    assert _ok(inst, got)
    assert _moves(inst, got) <= 2
    assert bool(stats.get("spread", 0)) == on


def test_spreads_follow_the_guide_share() -> None:
    """Tests that with a guide only spread requests the stays LP places at least MIN_SHARE of are aimed at."""
    from packer.cpsat.lpguide import Guide

    inst, cur = _slots_state()
    r = inst.request("rep")
    assert reopt_spread.spreads(inst, cur, Guide(share={"rep": reopt_spread.MIN_SHARE - 0.1})) == []
    assert reopt_spread.spreads(inst, cur, Guide(share={"rep": reopt_spread.MIN_SHARE})) == [r]
    assert reopt_spread.spreads(inst, cur, None) == [r]


def _norm(out):  # type: ignore[no-untyped-def]
    return None if out is None else sorted((k, sorted((u.node, u.gpu) for u in v)) for k, v in out.items())


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), nodes=st.sampled_from([3, 4]), draw=st.integers(0, 5))
def test_forked_spread_steps_give_the_same_plans(seed: int, nodes: int, draw: int) -> None:
    """Tests reopt_spread.FORK: a spread step whose tries fork one placer loaded with the plan gives exactly
    the plan (and value) of the step that loads a new placer per try, on small fragmented states.
    (Session 21's test, moved here from test_reopt_priced_s21.py when reopt_gang.PRICED was removed.)"""
    inst = generate("fragmented", seed, nodes=nodes)
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    cands = reopt_spread.spreads(inst, cur, None)
    if not cands:
        return
    r = reopt_spread.pick(random.Random(draw), inst, cands, None)
    waiting = [q for q in inst.requests if q.id not in cur]
    got = {}
    keep = reopt_spread.FORK
    try:
        for fork in (False, True):
            reopt_spread.FORK = fork
            out, info = reopt_spread.spread_step(inst, cur, r, random.Random(seed + draw), waiting, None, None)
            got[fork] = (_norm(out), info.get("fail"), None if out is None else round(float(info["value"]), 9))  # type: ignore[arg-type]
    finally:
        reopt_spread.FORK = keep
    assert got[False] == got[True]
