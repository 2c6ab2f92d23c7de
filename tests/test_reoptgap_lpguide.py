"""Tests of the repack LP's guide for aimed move steps (packer.cpsat.lpguide) and of move steps that
follow it."""

from __future__ import annotations

import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt
from packer.cpsat.lpguide import FLOOR, Guide
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.plans import build_plan, objective_value
from tests.running_states import fragmented_running


@pytest.mark.parametrize("seed", [0, 2, 5])
def test_guide_covers_waiting_work_only_and_places_at_most_it(seed: int) -> None:
    """Tests that the guide is of waiting requests only, shares lie in 0..1, and a request's units
    over all nodes are at most its count (the LP places each group's units once)."""
    inst = fragmented_running(generate("small", seed), release=0.5, seed=seed)
    bb = reopt.BudgetBound(inst)
    assert bb.repack_lp() is not None
    guide = bb.guide
    assert guide is not None
    waiting = {r.id for r in inst.requests if r.placement is None}
    assert set(guide.share) <= waiting and set(guide.nodes) <= waiting
    node_ids = {n.id for n in inst.nodes}
    for rid, share in guide.share.items():
        assert -1e-9 <= share <= 1 + 1e-9
        units = sum(guide.nodes[rid].values())
        assert units <= inst.request(rid).count + 1e-6
        assert set(guide.nodes[rid]) <= node_ids
    assert any(s > 0.5 for s in guide.share.values())  # the LP places some waiting work


def test_aimed_region_starts_where_the_lp_puts_the_aim() -> None:
    """Tests that an aimed region with a guide includes the nodes the LP puts the aim on (up to half
    the region), and without one is drawn by room as before (it need not)."""
    inst = fragmented_running(generate("small", 3), release=0.5, seed=3)
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    view = reopt._View(inst, cur)
    aim = next(r for r in inst.requests if r.placement is None and r.kind != "host")
    target = sorted(n.id for n in inst.nodes if n.num_gpus)[-1]
    guide = Guide(share={aim.id: 1.0}, nodes={aim.id: {target: float(aim.count)}})
    racks = reopt._domains(inst, reopt._level(inst))
    for k in range(5):
        region = view.aimed_region(aim, random.Random(k), racks, guide)
        assert target in region
    assert guide.weight(aim.id) == pytest.approx(1.0 + FLOOR)
    assert guide.weight("not-a-request") == pytest.approx(FLOOR)


@pytest.mark.parametrize("cap", [2, None])
def test_guided_move_steps_give_valid_plans_within_the_budget(cap: int | None) -> None:
    """Tests that move steps following the guide keep every plan valid, within the budget, and never
    below where they started."""
    inst = fragmented_running(generate("small", 4), release=0.5, seed=4)
    bb = reopt.BudgetBound(inst)
    bb.repack_lp()
    assert bb.guide is not None
    start = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    placed, stats = reopt.move_steps(inst, start, cap=cap, deadline=time.perf_counter() + 4, seed=1, workers=1,
                                     guide=bb.guide)
    assert stats["steps"] > 0
    assert cap is None or reopt.moves(inst, placed) <= cap
    assert objective_value(inst, placed) >= objective_value(inst, start) - 1e-9
    plan = build_plan(inst, solver="test", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    assert check(inst, plan).ok


def test_guide_only_where_the_cap_cannot_bind() -> None:
    """Tests that the guide (aimed at the unlimited repack LP) is used with no cap or a cap of at least
    every movable running request, and not under a cap that binds."""
    state = fragmented_running(generate("small", seed=0), release=0.35, seed=1)
    movable = sum(1 for r in state.requests if r.placement is not None and r.movable)
    assert movable > 8
    assert reopt._cap_free(state, None)
    assert reopt._cap_free(state, movable)
    assert not reopt._cap_free(state, movable - 1)
    assert not reopt._cap_free(state, 8)
