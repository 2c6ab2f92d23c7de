"""Tests of session 26's exchange-rack steps (packer.cpsat.reopt_xrack): whole racks drawn by where the plan
differs from the stays LP, grown by where the LP sends their running work; drawn from a stream of their own."""

from __future__ import annotations

import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt, reopt_xrack
from packer.cpsat.lpguide import Guide
from packer.generate import generate
from packer.plans import objective_value


@pytest.fixture()
def xrack():  # type: ignore[no-untyped-def]
    old = reopt_xrack.XRACK, reopt_xrack.SHARE
    yield
    reopt_xrack.XRACK, reopt_xrack.SHARE = old


def _state():  # type: ignore[no-untyped-def]
    inst = generate("fragmented", 0, nodes=16)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    waiting = [r for r in inst.requests if r.placement is None]
    return inst, placed, waiting


def test_rack_weights_sum_node_weights_and_drop_empty_racks() -> None:
    """Tests that a rack's weight is the sum of its nodes' and that racks of no weight are left out."""
    racks = {"r0": ["a", "b"], "r1": ["c", "d"], "r2": ["e"]}
    got = reopt_xrack.rack_weights({"a": 1.0, "b": 2.5, "d": 0.5, "x": 9.0}, racks)
    assert got == pytest.approx({"r0": 3.5, "r1": 0.5})


def test_region_takes_whole_weighted_racks_then_the_lp_destinations() -> None:
    """Tests that the region is made of whole racks that carry weight (never a rack of none), then the nodes
    where the guide sends the running work it moves off them, up to the limit; empty without weight."""
    inst, placed, _waiting = _state()
    nodes = [n.id for n in inst.nodes]
    racks = {f"r{i}": nodes[4 * i: 4 * i + 4] for i in range(4)}
    view = reopt._View(inst, placed)
    mover = next(rid for rid in sorted(placed) if inst.request(rid).movable
                 and {u.node for u in placed[rid]} & set(racks["r1"]))
    far = racks["r3"][2]
    guide = Guide(moved={mover: 1.0}, dest={mover: {far: 1.0}})
    w = {racks["r1"][0]: 2.0}
    got = reopt_xrack.region(view, guide, random.Random(0), w, racks, k=2, limit=8)
    assert set(racks["r1"]) <= got
    assert far in got
    assert got - set(racks["r1"]) == {far}  # one rack of weight only; the LP's one destination
    assert reopt_xrack.region(view, guide, random.Random(0), {}, racks) == set()
    # without the LP's moves the region is the weighted racks alone
    got = reopt_xrack.region(view, Guide(), random.Random(1), {racks["r0"][1]: 1.0, racks["r2"][3]: 3.0}, racks,
                             k=2, limit=8)
    assert got == set(racks["r0"]) | set(racks["r2"])


def test_move_steps_with_xrack_steps_are_valid_and_a_no_op_without_a_difference(xrack) -> None:  # type: ignore[no-untyped-def]
    """Tests that exchange-rack steps run (counted by kind) and keep the plan valid and not worse on a small
    fragmented state whose guide differs from the plan, and that with a guide that differs nowhere XRACK on
    gives the plan of XRACK off step for step (the steps draw from their own stream)."""
    inst, placed, waiting = _state()
    nodes = [n.id for n in inst.nodes]
    guide = Guide(share={r.id: 1.0 for r in waiting}, nodes={r.id: {nodes[i % len(nodes)]: 1.0}
                                                             for i, r in enumerate(waiting)})
    reopt_xrack.XRACK, reopt_xrack.SHARE = True, 0.9
    got, st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                               guide=guide, max_steps=2, det=0.1)
    assert st.get("xrack", 0) >= 1 and st["by_kind"]["xrack"]["steps"] >= 1
    assert check(inst, reopt._plan(inst, got, bound=None, seed=0, wall_s=0.0, info={})).ok
    assert objective_value(inst, got) >= objective_value(inst, placed) - 1e-9
    same = Guide(share={r.id: 1.0 for r in waiting}, moved={rid: 1.0 for rid in placed})
    runs = []
    for on in (False, True):
        reopt_xrack.XRACK = on
        got, st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0,
                                   workers=1, guide=same, max_steps=2, det=0.1)
        runs.append(got)
        assert st.get("xrack", 0) == 0
    assert runs[0] == runs[1]
