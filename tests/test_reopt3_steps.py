"""Tests of session 6's move steps: regions sized to the aimed request (reopt.wide_region), the LP's
exchange nodes, and the guide's moved running work (packer.cpsat.lpguide)."""

from __future__ import annotations

import math
import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt
from packer.cpsat.lpguide import Guide
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.model import Locality, Spread
from packer.plans import build_plan, objective_value
from tests.running_states import fragmented_running


def _state(seed: int = 3):  # type: ignore[no-untyped-def]
    return fragmented_running(generate("haein", seed, nodes=16, demand=1.6), release=0.4, seed=seed)


def test_span_is_the_fewest_nodes_a_request_can_lie_on() -> None:
    """Tests _span_nodes: a spread of one unit a node needs a node a unit, a whole-GPU gang its GPUs
    over the biggest node's, a small request one node."""
    inst = _state()
    most = max(n.num_gpus for n in inst.nodes)
    gpu = next(r for r in inst.requests if r.kind == "gpu")
    big = gpu.model_copy(update={"count": 4 * most, "min_count": None, "spread": None, "locality": None})
    assert reopt._span_nodes(inst, big) == 4
    spread = big.model_copy(update={"count": 6, "spread": Spread(level="node", max_per_domain=1)})
    assert reopt._span_nodes(inst, spread) == 6
    two = big.model_copy(update={"count": 6, "spread": Spread(level="node", max_per_domain=2)})
    assert reopt._span_nodes(inst, two) == 3
    small = big.model_copy(update={"count": 1})
    assert reopt._span_nodes(inst, small) == 1


@pytest.mark.parametrize("level", ["node", "rack"])
def test_wide_region_has_enough_spread_domains(level: str) -> None:
    """Tests that a region sized to a spread request covers at least as many domains of its level as
    the spread needs (when the cluster has them), and at most WIDE_MAX_NODES nodes."""
    inst = _state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    view = reopt._View(inst, cur)
    gpu = next(r for r in inst.requests if r.kind == "gpu" and r.placement is None)
    doms = {inst.domain(n, level) for n in inst.nodes if n.num_gpus}
    count = min(len(doms), 6)
    aim = gpu.model_copy(update={"count": count, "min_count": None, "locality": None,
                                 "spread": Spread(level=level, max_per_domain=1)})
    span = reopt._span_nodes(inst, aim)
    for k in range(4):
        region = view.wide_region(aim, random.Random(k), span)
        assert len(region) <= reopt.WIDE_MAX_NODES
        got = {inst.domain(inst.node(nid), level) for nid in region}
        assert len(got) >= min(count, len(doms))


def test_wide_region_keeps_required_locality_in_one_domain() -> None:
    """Tests that a region sized to a request with required rack locality has its span of nodes (or
    the whole rack) in one rack: the rest is room for the work it displaces, anywhere."""
    inst = _state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    view = reopt._View(inst, cur)
    gpu = next(r for r in inst.requests if r.kind == "gpu" and r.placement is None)
    aim = gpu.model_copy(update={"count": 24, "min_count": None, "spread": None,
                                 "locality": Locality(level="rack", required=True)})
    span = reopt._span_nodes(inst, aim)
    sizes = {}  # rack → its nodes with free or movable room for whole GPUs
    for n in inst.nodes:
        if n.num_gpus and sum(view.room(n, "full")) > 0:
            sizes[inst.domain(n, "rack")] = sizes.get(inst.domain(n, "rack"), 0) + 1
    assert sizes
    for k in range(4):
        region = view.wide_region(aim, random.Random(k), span)
        per = {}
        for nid in region:
            d = inst.domain(inst.node(nid), "rack")
            per[d] = per.get(d, 0) + 1
        assert any(c >= min(span, sizes.get(d, 0)) > 0 for d, c in per.items())


def test_exchange_adds_where_the_lp_sends_moved_work() -> None:
    """Tests that the exchange adds the node where the guide sends running work it moves off the
    region, and nothing when EXCHANGE is off or the work is not moved."""
    inst = _state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    view = reopt._View(inst, cur)
    run = next(r for r in inst.requests if r.placement is not None and r.movable)
    home = run.placement[0].node
    there = next(n.id for n in inst.nodes if n.num_gpus and n.id != home)
    guide = Guide(moved={run.id: 0.7}, dest={run.id: {there: 1.0}})
    out = {home}
    view.exchange(out, guide, random.Random(0), 4)
    assert there in out
    old = reopt.EXCHANGE
    reopt.EXCHANGE = False
    try:
        out = {home}
        view.exchange(out, guide, random.Random(0), 4)
        assert out == {home}
    finally:
        reopt.EXCHANGE = old
    out = {home}
    view.exchange(out, Guide(), random.Random(0), 4)
    assert out == {home}


def test_stays_guide_moves_only_movable_running_work() -> None:
    """Tests the guide from the LP with migration costs: ``moved`` holds movable running requests with
    shares in (0, 1], and their destinations are off the nodes where they run."""
    inst = _state()
    bb = reopt.BudgetBound(inst)
    assert bb.stays_lp(None) is not None and bb.guide is not None
    movable = set(reopt.movable_ids(inst))
    assert set(bb.guide.moved) <= movable
    for rid, share in bb.guide.moved.items():
        assert 0 < share <= 1 + 1e-9
        home = {u.node for u in inst.request(rid).placement}
        assert not set(bb.guide.dest[rid]) & home


@pytest.mark.parametrize("cap", [2, None])
def test_wide_steps_give_valid_plans_within_the_budget(cap: int | None) -> None:
    """Tests that move steps with every aimed request given a sized region (REGION_NODES shrunk so
    that every span counts as wide) keep plans valid, within the budget, and never worse."""
    inst = _state(5)
    bb = reopt.BudgetBound(inst)
    bb.stays_lp(None)
    start = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    old = reopt.REGION_NODES, reopt.AIMED_SHARE
    reopt.REGION_NODES, reopt.AIMED_SHARE = 1, 1.0
    try:
        placed, stats = reopt.move_steps(inst, start, cap=cap, deadline=time.perf_counter() + 6, seed=2, workers=1,
                                         guide=bb.guide)
    finally:
        reopt.REGION_NODES, reopt.AIMED_SHARE = old
    assert stats.get("wide", 0) > 0
    assert cap is None or reopt.moves(inst, placed) <= cap
    assert objective_value(inst, placed) >= objective_value(inst, start) - 1e-9
    plan = build_plan(inst, solver="test", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    assert check(inst, plan).ok
    assert math.isfinite(objective_value(inst, placed))


def test_binding_budgets_get_no_guide() -> None:
    """Tests _guide_of: a cap that cannot bind gets the no-limit guide; a binding cap gets none."""
    inst = _state()
    bb = reopt.BudgetBound(inst)
    bb.stays_lp(None)
    bb.stays_lp(1)
    assert reopt._guide_of(bb, inst, None) is bb.guide
    assert reopt._guide_of(bb, inst, 1) is None
