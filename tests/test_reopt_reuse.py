"""Tests of the re-optimizer's end of solve: the no-move plan reuses the pinned solve's reasons, and
the final conversion runs under a deadline and never gives up the steps' gain."""

from __future__ import annotations

import itertools

import pytest

from packer.check import check
from packer.cpsat import reasons as cpsat_reasons
from packer.cpsat import reopt
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.model import Instance
from tests.test_cpsat_reopt import running_state


@pytest.fixture(scope="module")
def states() -> list[Instance]:
    return [running_state(generate("haein", 1, nodes=16, demand=1.6), seed=1),
            running_state(generate("haein", 3, nodes=16, demand=1.6), release=0.4, seed=3),
            running_state(generate("small", 2), seed=2)]


def test_no_move_plan_equals_a_fresh_conversion(states: list[Instance]) -> None:
    """Tests that the no-move plan, built from the pinned solve's reasons and modes, is the plan a
    fresh conversion of its placement on the original instance gives: same assignments, reasons,
    modes, objective."""
    for inst in states:
        plan = reopt.no_move_plan(inst, time_limit=5, workers=1)
        placed = {a.request: list(a.units) for a in plan.assignments}
        assert reopt.moves(inst, placed) == 0
        fresh = reopt._plan(inst, placed, bound=plan.bound, seed=0, wall_s=0.0, info={})
        assert fresh is not None
        assert plan.unplaced, "an instance with nothing unplaced would not test the reasons"
        assert plan.assignments == fresh.assignments
        assert plan.unplaced == fresh.unplaced
        assert plan.gpu_modes == fresh.gpu_modes
        assert plan.objective == pytest.approx(fresh.objective)
        assert check(inst, plan).ok


class _Clock:
    """A perf_counter that moves one second per call (counts calls, no real time)."""

    def __init__(self) -> None:
        self.now = itertools.count()

    def perf_counter(self) -> float:
        return float(next(self.now))


def test_reasons_stop_at_the_deadline(states: list[Instance], monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the reasons are None once the deadline passes (checked per request), and complete
    and equal to unplaced_reasons when it does not."""
    inst = states[0]
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    modes = modes_of(inst, placed)
    full = cpsat_reasons.unplaced_reasons(inst, placed, modes)
    assert len(full) >= 3
    monkeypatch.setattr(cpsat_reasons, "time", _Clock())
    assert cpsat_reasons.reasons_by(inst, placed, modes, deadline=0.0) is None  # passed before the scan
    assert cpsat_reasons.reasons_by(inst, placed, modes, deadline=2.0) is None  # after the second request
    assert cpsat_reasons.reasons_by(inst, placed, modes, deadline=1e9) == full
    assert cpsat_reasons.reasons_by(inst, placed, modes, deadline=None) == full


def _fake_steps(target: dict[str, list]):  # type: ignore[type-arg]
    """Move steps that return ``target`` (a valid placement) whatever they are given."""
    def steps(inst_, placed, **kw):  # type: ignore[no-untyped-def]
        return {rid: list(us) for rid, us in target.items()}, {"steps": 1}
    return steps


def _weaker_start(inst: Instance) -> tuple[object, dict[str, list]]:  # type: ignore[type-arg]
    """The no-move plan less its first placed waiting request (a valid, worse start), and the
    no-move placement (what the fake steps then find)."""
    full = reopt.no_move_plan(inst, time_limit=5, workers=1)
    placed = {a.request: list(a.units) for a in full.assignments}
    drop = next(rid for rid in placed if inst.request(rid).placement is None)
    less = {rid: us for rid, us in placed.items() if rid != drop}
    start = reopt._plan(inst, less, bound=full.bound, seed=0, wall_s=0.0, info={})
    assert start.objective < full.objective - 1e-9
    return start, placed


class _Late:
    @staticmethod
    def perf_counter() -> float:
        return float("inf")


@pytest.mark.parametrize("late", [False, True])
def test_final_conversion_under_a_deadline_keeps_the_gain(states: list[Instance], monkeypatch: pytest.MonkeyPatch,
                                                          late: bool) -> None:
    """Tests the end of reoptimize when the move steps improved the placement: converted in time, the
    improved placement is the plan with every reason computed; not converted by the deadline (a
    clock always past it), it is still the improved placement (never the worse start plan, which
    lost every step's gain before session 8), its unplaced requests carrying the time-limit
    reason, and ``final`` says so. Both valid."""
    from packer import reasons as texts

    inst = states[0]
    start, better = _weaker_start(inst)
    monkeypatch.setattr(reopt, "exact_share", lambda inst: 0.0)
    monkeypatch.setattr(reopt, "move_steps", _fake_steps(better))
    if late:
        monkeypatch.setattr(cpsat_reasons, "time", _Late)
    pt = reopt.reoptimize(inst, time_limit=30, workers=1, start=start, no_move_bound=start.bound)
    assert check(inst, pt.plan).ok
    assert {a.request for a in pt.plan.assignments} == set(better)
    assert pt.plan.objective > start.objective + 1e-9
    codes = {texts.code_of(u.reason) for u in pt.plan.unplaced}
    if late:
        assert codes == {texts.TIME_LIMIT}
        assert "final" in pt.info
    else:
        assert texts.TIME_LIMIT not in codes
        assert "final" not in pt.info


def test_worse_steps_keep_the_start_plan(states: list[Instance], monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a placement no better than the start plan is not converted: the start plan is
    re-issued as it was (same assignments and reasons)."""
    inst = states[0]
    start = reopt.no_move_plan(inst, time_limit=5, workers=1)
    placed = {a.request: list(a.units) for a in start.assignments}
    drop = next(rid for rid in placed if inst.request(rid).placement is None)
    monkeypatch.setattr(reopt, "exact_share", lambda inst: 0.0)
    monkeypatch.setattr(reopt, "move_steps", _fake_steps({r: u for r, u in placed.items() if r != drop}))
    pt = reopt.reoptimize(inst, time_limit=30, workers=1, start=start, no_move_bound=start.bound)
    assert check(inst, pt.plan).ok
    assert {a.request for a in pt.plan.assignments} == set(placed)
    assert pt.plan.unplaced == start.unplaced
    assert pt.moves == 0
