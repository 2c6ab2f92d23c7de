"""Tests of session 14's growing regions (packer.cpsat.reopt.GROW): a step kind's regions double after
GROW_AFTER steps CP-SAT proved optimal without a gain, halve after a step it did not prove, and grown
regions still give valid plans within the budget."""

from __future__ import annotations

import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.plans import build_plan, objective_value
from tests.running_states import fragmented_running


def _state(seed: int = 3):  # type: ignore[no-untyped-def]
    return fragmented_running(generate("haein", seed, nodes=16, demand=1.6), release=0.4, seed=seed)


def test_scale_doubles_after_proved_steps_and_halves_after_a_limit_hit() -> None:
    """Tests Scale: GROW_AFTER proved no-gain steps double it (never past GROW_MAX), a gain resets the
    count without shrinking, an unproved no-gain step halves it (never under 1)."""
    s = reopt.Scale()
    for _ in range(reopt.GROW_AFTER - 1):
        s.update(proved=True, gained=False)
    assert s.value == 1.0
    s.update(proved=True, gained=False)
    assert s.value == 2.0
    for _ in range(reopt.GROW_AFTER - 1):
        s.update(proved=True, gained=False)
    s.update(proved=True, gained=True)  # a gain breaks the run of proved steps
    s.update(proved=True, gained=False)
    assert s.value == (2.0 if reopt.GROW_AFTER > 1 else min(reopt.GROW_MAX, 4.0))
    for _ in range(20 * reopt.GROW_AFTER):
        s.update(proved=True, gained=False)
    assert s.value == reopt.GROW_MAX
    s.update(proved=False, gained=False)
    assert s.value == reopt.GROW_MAX / 2
    for _ in range(10):
        s.update(proved=False, gained=False)
    assert s.value == 1.0
    s.update(proved=False, gained=True)
    assert s.value == 1.0


def test_grown_regions_take_whole_racks_or_roomy_nodes() -> None:
    """Tests _grown: the region keeps its nodes and grows to scale × its size (at most GROW_MAX_NODES);
    with racks (random steps) only by whole racks, so never past the target."""
    inst = _state()
    cur = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    view = reopt._View(inst, cur)
    racks = reopt._domains(inst, reopt._level(inst))
    first = sorted(racks)[0]
    nodes = set(racks[first])
    got = reopt._grown(inst, view, nodes, 2.0, racks, random.Random(0))
    assert nodes < got and len(got) <= 2 * len(nodes)
    for d, ns in racks.items():
        assert set(ns) <= got or not set(ns) & got, d
    some = set(sorted(n.id for n in inst.nodes)[:3])
    got = reopt._grown(inst, view, some, 2.0, None, random.Random(0))
    assert some < got and len(got) == 6
    every = reopt._grown(inst, view, some, 100.0, None, random.Random(0))
    assert len(every) == min(len(inst.nodes), reopt.GROW_MAX_NODES)


@pytest.mark.parametrize("grow", [False, True])
def test_move_steps_grow_regions_while_steps_are_proved(grow: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests move_steps with a stand-in sub-solver that proves every step optimal and changes nothing:
    with GROW the random steps' regions double every GROW_AFTER steps up to GROW_MAX_NODES (whole
    racks), without it they keep their two racks; the plan is left as it was."""
    from packer.cpsat import reopt_gang, reopt_spread, search

    sizes: list[int] = []

    def proved_hint(sub, hint, *, info, **kw):  # type: ignore[no-untyped-def]
        sizes.append(len(sub.nodes))
        info["cpsat_status"] = "OPTIMAL"
        return hint

    monkeypatch.setattr(search, "solve_monolithic", proved_hint)
    monkeypatch.setattr(reopt, "GROW", grow)
    monkeypatch.setattr(reopt, "GROW_MAX_NODES", 40)
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.0)
    monkeypatch.setattr(reopt, "TENANT_SHARE", 0.0)
    monkeypatch.setattr(reopt_gang, "GANG", False)
    monkeypatch.setattr(reopt_spread, "SPREAD", False)
    inst = fragmented_running(generate("haein", 3, nodes=64, demand=1.6), release=0.4, seed=3)
    start = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    racks = reopt._domains(inst, reopt._level(inst))
    per = {len(ns) for ns in racks.values()}
    assert len(per) == 1
    rack = per.pop()
    steps = 2 + 3 * reopt.GROW_AFTER
    placed, stats = reopt.move_steps(inst, start, cap=None, deadline=time.perf_counter() + 120, seed=1, workers=1,
                                     max_steps=steps, det=0.1)
    assert placed == start
    assert len(sizes) == steps
    assert min(sizes) >= reopt.STEP_DOMAINS * rack
    if grow:
        assert max(sizes[: reopt.GROW_AFTER]) <= reopt.REGION_MAX_NODES
        assert max(sizes) > max(2 * reopt.STEP_DOMAINS * rack, reopt.REGION_MAX_NODES)
        assert max(sizes) <= 40
        assert stats["by_kind"]["random"]["scale_max"] == reopt.GROW_MAX
    else:
        assert max(sizes) <= reopt.REGION_MAX_NODES
        assert "scale_max" not in stats["by_kind"]["random"]


@pytest.mark.parametrize("grow", [False, True])
def test_move_steps_with_growing_regions_stay_valid(grow: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that move steps on a 16-node state, regions grown from the first step (GROW_AFTER 0 is
    reached by any step), keep the plan valid, within the cap and no worse, grown or not."""
    from packer.cpsat import reopt_gang, reopt_spread

    monkeypatch.setattr(reopt, "GROW", grow)
    monkeypatch.setattr(reopt_gang, "GANG", False)
    monkeypatch.setattr(reopt_spread, "SPREAD", False)
    monkeypatch.setattr(reopt.Scale, "__init__", _big_scale)
    inst = _state()
    start = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    placed, stats = reopt.move_steps(inst, start, cap=3, deadline=time.perf_counter() + 120, seed=1, workers=1,
                                     max_steps=3, det=0.1)
    assert stats["steps"] == 3
    assert reopt.moves(inst, placed) <= 3
    assert objective_value(inst, placed) >= objective_value(inst, start) - 1e-9
    plan = build_plan(inst, solver="test", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    assert check(inst, plan).ok


def _big_scale(self) -> None:  # type: ignore[no-untyped-def]
    self.value, self.streak = 4.0, 0
