"""Tests of session 10's two changes to the re-optimizer's steps: the gang step's victim tiers
(packer.cpsat.reopt_gang.VICTIM_TIERS: displaced running work may push out only cheaper waiting work
first) and the tenant step's fill offer (packer.cpsat.reopt.TENANT_FILL: waiting work of other
tenants that fits the room stranded on a node-isolated tenant's nodes is offered first)."""

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


def _ok(inst: Instance, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="t", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


def _victim_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """Four 4-GPU nodes, n0-n2 in rack r0, n3 in r1. n0: a running movable 1-GPU job, three GPUs free.
    n1+n2: a placed waiting 8-GPU rack gang of priority 3 (worth 24). n3: a placed waiting 1-GPU
    request of priority 1 on GPU 0, running pinned work on the rest. A 4-GPU node gang of priority 3 waits: it
    fits on n0 once the job moves; the only room for the job is the cheap request's GPU or the dear
    gang's."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0" if i < 3 else "r1"})
             for i in range(4)]
    reqs = [
        Request(id="job", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=0),), movable=True,
                migration_cost=0.1),
        Request(id="dear", kind="gpu", count=8, priority=3.0, tenant="t", locality=Locality(level="rack", required=True)),
        Request(id="cheap", kind="gpu", count=1, priority=1.0, tenant="t"),
        *[Request(id=f"pin{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node="n3", gpu=g),), movable=False)
          for g in (1, 2, 3)],
        Request(id="gang", kind="gpu", count=4, priority=3.0, tenant="t", locality=Locality(level="node", required=True)),
    ]
    inst = Instance(name="victims", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="t"),))
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    cur["dear"] = [Unit(node=f"n{1 + g // 4}", gpu=g % 4) for g in range(8)]
    cur["cheap"] = [Unit(node="n3", gpu=0)]
    return inst, cur


@pytest.mark.parametrize("tiers", [0, 2])
def test_victim_tiers_push_out_the_cheaper_waiting_work(tiers: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with victim tiers the gang step admits the gang and the displaced job takes the
    cheap request's GPU (a gain of 12 − 1 − 0.1), while with all placed waiting work lifted (tiers 0;
    first-fit, which reaches n1 first) the job lands on the dear gang's GPUs, which goes out (a loss);
    both results keep every running request placed and are valid."""
    monkeypatch.setattr(reopt_gang, "VICTIM_TIERS", tiers)
    inst, cur = _victim_state()
    assert _ok(inst, cur)
    gang = inst.request("gang")
    out, info = reopt_gang.gang_step(inst, cur, gang, random.Random(0), [gang], policy="first-fit")
    assert out is not None, info
    assert all(rid in out for rid in cur if inst.request(rid).placement is not None)
    assert _ok(inst, out)
    gain = objective_value(inst, out) - objective_value(inst, cur)
    if tiers:
        assert {"gang", "dear"} <= set(out) and "cheap" not in out
        assert gain == pytest.approx(12.0 - 1.0 - 0.1)
        assert info["victims"] == 1.0
    else:
        assert "gang" in out and "dear" not in out
        assert gain < 0


def test_victim_tiers_change_nothing_without_cheaper_waiting_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that when no placed waiting work is cheaper than the gang the only tier is "all" (the
    session-9 step): the same result with tiers on and off."""
    inst, cur = _victim_state()
    inst = inst.replace(requests=tuple(r.model_copy(update={"priority": 3.0}) if r.id == "cheap" else r
                                       for r in inst.requests))
    gang = inst.request("gang")
    got = []
    for tiers in (0, 2):
        monkeypatch.setattr(reopt_gang, "VICTIM_TIERS", tiers)
        got.append(reopt_gang.gang_step(inst, cur, gang, random.Random(0), [gang], policy="first-fit")[0])
    assert got[0] == got[1]


def _tenant_state(distractors: int = 200) -> Instance:
    """Two 4-GPU nodes. Tenant "iso" (node isolation) runs a movable 1-GPU job on each, so n0 and
    n1 have three free GPUs that no other tenant may use. Tenant "t" waits with a 4-GPU node gang of
    priority 2 (it fits once one iso job moves beside the other) and ``distractors`` 8-GPU requests
    of priority 5 that fit nowhere (the usual offer, sorted by priority, starts with them)."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for i in range(2)]
    reqs = [Request(id=f"iso{i}", kind="gpu", count=1, tenant="iso", placement=(Unit(node=f"n{i}", gpu=0),),
                    movable=True, migration_cost=0.1) for i in range(2)]
    reqs.append(Request(id="fill", kind="gpu", count=4, priority=2.0, tenant="t",
                        locality=Locality(level="node", required=True)))
    reqs += [Request(id=f"big{k:02d}", kind="gpu", count=8, priority=5.0, tenant="t") for k in range(distractors)]
    return Instance(name="tenant", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="t")))


def test_fill_offer_lists_other_tenants_work_that_fits_the_stranded_room() -> None:
    """Tests that the fill offer holds the other tenants' waiting work no bigger than the room stranded
    on the isolated tenant's nodes of the region (6 GPUs here), never the tenant's own, and at most
    OFFER // 2 requests."""
    inst = _tenant_state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    view = reopt._View(inst, cur)
    waiting = [r for r in inst.requests if r.id not in cur]
    got = reopt._fill_offer(inst, view, "iso", {"n0", "n1"}, waiting)
    assert [r.id for r in got] == ["fill"]
    assert reopt._fill_offer(inst, view, "t", {"n0", "n1"}, waiting) == []
    many = [Request(id=f"s{k:02d}", kind="gpu", count=1, priority=1.0, tenant="t") for k in range(40)]
    assert len(reopt._fill_offer(inst, view, "iso", {"n0", "n1"}, many)) == reopt.OFFER // 2


@pytest.mark.parametrize("cap", [0, 1, None])
def test_tenant_steps_with_the_fill_offer_place_the_stranded_room(cap: int | None,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that tenant steps with the fill offer move one iso job beside the other and place the
    waiting gang on the freed node, within the cap (none with cap 0), with a valid plan worth more;
    the 200 dearer requests that fit nowhere would fill the usual offer."""
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.0)
    monkeypatch.setattr(reopt, "TENANT_SHARE", 1.0)
    monkeypatch.setattr(reopt, "OFFER", 6)
    monkeypatch.setattr(reopt_gang, "GANG", False)
    inst = _tenant_state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    out, stats = reopt.move_steps(inst, cur, cap=cap, deadline=time.perf_counter() + 10.0, seed=0, workers=1,
                                  max_steps=1, det=0.5)
    assert stats["tenant"] >= 1
    assert _ok(inst, out)
    assert cap is None or reopt.moves(inst, out) <= cap
    assert ("fill" in out) == (cap != 0)
    if cap != 0:
        assert objective_value(inst, out) == pytest.approx(2.0 + 8.0 - 0.1)  # the iso jobs, the gang, one move


def test_without_the_fill_offer_the_usual_offer_misses_the_gang(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the other arm on the same state and seed: the usual offer (six of 201 waiting requests,
    dearest first from a random start) does not offer the gang, so the tenant steps place nothing. (The 200
    distractors fit nowhere: reopt_gangcap calls them unplaceable; session 19's rule that left such requests
    out of every offer, reopt_quotacap.SKIP_NEVER, stayed off and was removed in session 27.)"""
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.0)
    monkeypatch.setattr(reopt, "TENANT_SHARE", 1.0)
    monkeypatch.setattr(reopt, "OFFER", 6)
    monkeypatch.setattr(reopt, "TENANT_FILL", False)
    monkeypatch.setattr(reopt_gang, "GANG", False)
    inst = _tenant_state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    out, stats = reopt.move_steps(inst, cur, cap=None, deadline=time.perf_counter() + 10.0, seed=0, workers=1,
                                  max_steps=1, det=0.5)
    assert stats["tenant"] >= 1 and "fill" not in out


def _chain_tenant_state() -> Instance:
    """Iso (node isolation) runs a 1-GPU job on each of its 3-GPU nodes n0 and n1; node X (4 GPUs)
    holds three movable 1-GPU jobs of tenant t; twelve more 4-GPU nodes hold pinned work with one GPU
    free. A 4-GPU node gang of t waits (priority 3): it fits only on X, once X's jobs move onto n0,
    which only iso's own job moving to n1 opens to t. 200 dearer 8-GPU requests that fit nowhere wait
    too (the usual offer starts with them)."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=3, mode="full", domains={"rack": "r0"}) for i in range(2)]
    nodes.append(Node(id="X", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r1"}))
    nodes += [Node(id=f"p{i:02d}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r2"}) for i in range(12)]
    reqs = [Request(id=f"iso{i}", kind="gpu", count=1, tenant="iso", placement=(Unit(node=f"n{i}", gpu=0),),
                    movable=True, migration_cost=0.1) for i in range(2)]
    reqs += [Request(id=f"x{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node="X", gpu=g),), movable=True,
                     migration_cost=0.1) for g in range(3)]
    reqs += [Request(id=f"pin{i:02d}", kind="gpu", count=3, tenant="t", movable=False,
                     placement=tuple(Unit(node=f"p{i:02d}", gpu=g) for g in range(3))) for i in range(12)]
    reqs.append(Request(id="gang", kind="gpu", count=4, priority=3.0, tenant="t",
                        locality=Locality(level="node", required=True)))
    reqs += [Request(id=f"big{k:03d}", kind="gpu", count=8, priority=5.0, tenant="t") for k in range(200)]
    return Instance(name="tenant-chain", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="t")))


def test_gang_room_adds_the_node_a_gang_step_would_clear() -> None:
    """Tests that a fill offer holding a whole-GPU gang brings the node whose movable jobs can make
    room for it (X: the pinned nodes have too few usable GPUs), and nothing without such a gang."""
    inst = _chain_tenant_state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    gang = inst.request("gang")
    assert reopt._gang_room(inst, cur, [gang], random.Random(0), None) == {"X"}
    assert reopt._gang_room(inst, cur, [], random.Random(0), None) == set()


@pytest.mark.parametrize("cap", [3, 4, None])
def test_tenant_step_chain_places_the_gang(cap: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that one tenant step with the fill offer and the gang's room moves iso0 beside iso1, X's
    three jobs onto n0 and places the gang on X: four moves, so only with a cap of at least 4; the
    plan is valid and within the cap either way."""
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.0)
    monkeypatch.setattr(reopt, "TENANT_SHARE", 1.0)
    monkeypatch.setattr(reopt_gang, "GANG", False)
    inst = _chain_tenant_state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    out, _ = reopt.move_steps(inst, cur, cap=cap, deadline=time.perf_counter() + 10.0, seed=0, workers=1,
                              max_steps=1, det=1.0)
    assert _ok(inst, out)
    assert cap is None or reopt.moves(inst, out) <= cap
    assert ("gang" in out) == (cap != 3)
    if "gang" in out:
        assert {u.node for u in out["gang"]} == {"X"} and reopt.moves(inst, out) == 4


def test_tenant_step_chain_needs_the_fill(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the other arm: without the fill offer (and so without the gang's room) the same step on
    the same seed does not place the gang."""
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.0)
    monkeypatch.setattr(reopt, "TENANT_SHARE", 1.0)
    monkeypatch.setattr(reopt, "TENANT_FILL", False)
    monkeypatch.setattr(reopt_gang, "GANG", False)
    inst = _chain_tenant_state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    out, _ = reopt.move_steps(inst, cur, cap=None, deadline=time.perf_counter() + 10.0, seed=0, workers=1,
                              max_steps=1, det=1.0)
    assert "gang" not in out and _ok(inst, out)
