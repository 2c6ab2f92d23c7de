"""Tests of the widened pack fill (packer.cpsat.reopt_fill, session 18): the CP-SAT fill after a pack step
also reaches the nodes a waiting spread request needs beside the emptied ones."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt, reopt_fill, reopt_pack
from packer.model import Instance, Node, Request, Spread, Tenant, Topology, Unit
from packer.plans import objective_value
from tests.test_reopt_s17 import _iso_states, _ok, _waiting

H100 = "H100-80GB"


def _spread_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """The node-isolated tenant ``iso`` holds two 4-GPU nodes, one movable 1-GPU job each. Node c0 (another
    rack) is full of tenant b's work: 3 GPUs pinned, 1 GPU of a movable job ``mv``. b waits with ``pair``,
    2 GPUs at most one a node (priority 2): once a pack step empties an iso node, it fits only if ``mv``
    moves to that node and ``pair`` takes one GPU there and ``mv``'s GPU on c0. The pack fill's region
    of iso's nodes does not hold c0."""
    nodes = [Node(id=f"i{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(2)]
    nodes.append(Node(id="c0", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r1"}))
    reqs = [Request(id=f"job{k}", kind="gpu", tenant="iso", placement=(Unit(node=f"i{k}", gpu=0),),
                    movable=True, migration_cost=0.1) for k in range(2)]
    reqs.append(Request(id="pinned", kind="gpu", count=3, tenant="b", movable=False,
                        placement=tuple(Unit(node="c0", gpu=g) for g in range(3))))
    reqs.append(Request(id="mv", kind="gpu", tenant="b", movable=True, migration_cost=0.1,
                        placement=(Unit(node="c0", gpu=3),)))
    reqs.append(Request(id="pair", kind="gpu", count=2, priority=2.0, tenant="b",
                        spread=Spread(level="node", max_per_domain=1)))
    inst = Instance(name="fillwide", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="b")))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


def _fill(inst: Instance, cur, cap=None, seed: int = 0, det: float = 1.0):  # type: ignore[no-untyped-def]
    ts = reopt_pack.tenants(inst, cur)
    trial, info = reopt_pack.pack_step(inst, cur, "iso", ts["iso"], random.Random(seed), _waiting(inst, cur))
    if trial is None:
        return None, None, None
    value = float(info["value"])  # type: ignore[arg-type]
    stats: dict = {}
    got = reopt._pack_fill(inst, trial, value, "iso", ts["iso"], list(info["empty"]),  # type: ignore[arg-type]
                           reopt.moves(inst, trial) + 1 if cap == "pack+1" else cap, _waiting(inst, trial),
                           random.Random(seed), stats, {}, seed=seed, workers=1, det=det,
                           deadline=time.perf_counter() + 30)
    return got, value, stats


@pytest.mark.parametrize("wide", [False, True])
def test_widened_fill_reaches_the_node_a_spread_request_needs(monkeypatch: pytest.MonkeyPatch, wide: bool) -> None:
    """Tests that with WIDE the fill's region holds c0, so CP-SAT moves ``mv`` onto the emptied node and
    places ``pair`` across it and c0 (valid, running work kept, value = objective); without WIDE the
    fill cannot place ``pair``."""
    monkeypatch.setattr(reopt_fill, "WIDE", wide)
    inst, cur = _spread_state()
    got, value, stats = _fill(inst, cur)
    assert value is not None
    if not wide:
        assert got is None or "pair" not in got[0]
        return
    assert got is not None and stats.get("pack_fill_aimed") == 1
    out, v = got
    assert "pair" in out and len({u.node for u in out["pair"]}) == 2
    assert {u.node for u in out["mv"]} != {"c0"}
    assert _ok(inst, out) and v == pytest.approx(objective_value(inst, out)) and v > value + 3.0
    assert all(r.id in out for r in inst.requests if r.placement is not None)


def test_widen_skips_nodes_another_isolated_tenant_holds_and_requests_it_cannot_cover() -> None:
    """Tests widen directly: the added node is c0 (never iso's kept node, closed to b), the aim is ``pair``;
    with a limit that leaves no room for c0 nothing is added and no request is aimed at."""
    inst, cur = _spread_state()
    trial = {**cur, "job0": [Unit(node="i1", gpu=1)]}
    view = reopt._View(inst, trial)
    offer = [inst.request("pair")]
    add, aim = reopt_fill.widen(inst, view, "iso", {"i0"}, {"i0", "i1"}, offer, random.Random(0), reopt._span_nodes)
    assert add == {"c0"} and aim is not None and aim.id == "pair"
    add, aim = reopt_fill.widen(inst, view, "iso", {"i0"}, {"i0", "i1"}, offer, random.Random(0), reopt._span_nodes,
                                limit=2)
    assert add == set() and aim is None


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_iso_states(), st.integers(0, 3), st.booleans())
def test_property_widened_fill_is_valid_better_and_within_the_cap(inst: Instance, seed: int, spread: bool) -> None:
    """Tests on random small states (with ``spread``, b also waits with a 2-GPU request one a node and a
    node c0 with a movable job of b): when the widened fill returns a plan it passes the checker, keeps
    every running request placed and pinned work where it is, stays within the cap (the pack step's
    moves + 1), is worth more than the pack step's result, and its value is its objective."""
    if spread:
        extra = _spread_state()[0]
        inst = inst.model_copy(update={
            "nodes": (*inst.nodes, extra.node("c0")),
            "requests": (*inst.requests, *(r for r in extra.requests if r.id in ("pinned", "mv", "pair")))})
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    if "iso" not in reopt_pack.tenants(inst, cur):
        return
    old = reopt_fill.WIDE
    reopt_fill.WIDE = True
    try:
        got, value, _stats = _fill(inst, cur, cap="pack+1", seed=seed, det=0.3)
    finally:
        reopt_fill.WIDE = old
    if got is None:
        return
    out, v = got
    assert _ok(inst, out)
    assert v > value and v == pytest.approx(objective_value(inst, out))
    for r in inst.requests:
        if r.placement is not None:
            assert r.id in out
            if not r.movable:
                assert out[r.id] == list(r.placement)


def _open_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """Six 4-GPU nodes: iso (node-isolated) holds i0-i2 with one 1-GPU job each (3 free GPUs each, closed
    to b); b0-b2 each hold tenant b's movable 1-GPU job. b waits with a 4-GPU request one a node."""
    nodes = [Node(id=f"i{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": f"r{k}"}) for k in range(3)]
    nodes += [Node(id=f"b{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": f"r{k}"}) for k in range(3)]
    reqs = [Request(id=f"job{k}", kind="gpu", tenant="iso", placement=(Unit(node=f"i{k}", gpu=0),),
                    movable=True, migration_cost=0.1) for k in range(3)]
    reqs += [Request(id=f"bj{k}", kind="gpu", tenant="b", placement=(Unit(node=f"b{k}", gpu=0),),
                     movable=True, migration_cost=0.1) for k in range(3)]
    reqs.append(Request(id="wide", kind="gpu", count=4, tenant="b", spread=Spread(level="node", max_per_domain=1)))
    inst = Instance(name="openroom", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="b")))
    return inst, {r.id: list(r.placement) for r in inst.requests if r.placement is not None}


@pytest.mark.parametrize("on", [False, True])
def test_open_room_keeps_isolated_nodes_out_of_other_tenants_regions(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Tests that with OPEN_ROOM the wide and aimed regions of b's request hold none of iso's nodes (their
    free room is closed to b), and without it (the old draw by room) some; iso's own aim still may."""
    monkeypatch.setattr(reopt_fill, "OPEN_ROOM", on)
    inst, cur = _open_state()
    view = reopt._View(inst, cur)
    aim = inst.request("wide")
    iso = {"i0", "i1", "i2"}
    seen_wide = seen_aimed = 0
    for k in range(20):
        seen_wide += len(view.wide_region(aim, random.Random(k), 4) & iso)
        seen_aimed += len(view.aimed_region(aim, random.Random(k), reopt._domains(inst, "rack")) & iso)
    if on:
        assert seen_wide == 0 and seen_aimed == 0
    else:
        assert seen_wide > 0 and seen_aimed > 0
    assert reopt_fill.shut(view, "iso") == frozenset() and reopt_fill.shut(view, "b") == frozenset(iso)


@pytest.mark.parametrize("on", [False, True])
def test_move_steps_with_open_room_and_wide_fill(monkeypatch: pytest.MonkeyPatch, on: bool) -> None:
    """Tests move_steps with OPEN_ROOM and WIDE on and off: valid, within the cap, never worse."""
    monkeypatch.setattr(reopt_fill, "OPEN_ROOM", on)
    monkeypatch.setattr(reopt_fill, "WIDE", on)
    for inst, cur in (_open_state(), _spread_state()):
        got, _stats = reopt.move_steps(inst, cur, cap=2, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                       max_steps=4, det=0.5)
        assert _ok(inst, got) and reopt.moves(inst, got) <= 2
        assert objective_value(inst, got) >= objective_value(inst, cur)
