"""Tests of session 15's LP beside the move steps (packer.cpsat.reopt_late, reopt.LATE_LP): the bounds a
child process computes are those of the LPs run in order, a child ended before it answers leaves no
half bound, steps run (and aim at wide requests only) until the guide comes, and a guide that comes
late still gives a valid plan whose bound is the LP's own."""

from __future__ import annotations

import pickle
import time

import pytest

from packer.check import check
from packer.cpsat import reopt
from packer.cpsat.reopt_late import LateBounds
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.plans import build_plan, objective_value


def _state():  # type: ignore[no-untyped-def]
    return generate("fragmented", 0, nodes=32)


@pytest.fixture(scope="module")
def state_and_bounds():  # type: ignore[no-untyped-def]
    """The 32-node state and its bounds computed in order, in this process (no time limit)."""
    inst = _state()
    bb = reopt.BudgetBound(inst)
    calls: list[int] = []
    reopt._budget_bounds(bb, None, lambda: None, lambda: calls.append(1))
    return inst, bb, len(calls)


def test_budget_bounds_report_each_lp_and_snapshots_round_trip(state_and_bounds) -> None:  # type: ignore[no-untyped-def]
    """Tests that _budget_bounds calls ``after`` once per LP it runs (the stays LP of no limit finishes:
    once; and once more for the room rows' bound after it, session 23's reopt_stays.ROOM_CUTS without
    ROOM_GUIDE), and that a snapshot pickles and, restored into a fresh BudgetBound, gives the same bounds
    and guide."""
    inst, bb, calls = state_and_bounds
    assert None in bb.stays and calls == 1 + (None in bb.stays_rows_broken)
    snap = pickle.loads(pickle.dumps(bb.snapshot()))
    other = reopt.BudgetBound(inst)
    assert other.best(None) is None
    other.restore(snap)
    assert other.best(None) == bb.best(None)
    assert other.guide is not None and other.guide.share == bb.guide.share


def test_late_bounds_in_a_child_equal_those_in_order(state_and_bounds) -> None:  # type: ignore[no-untyped-def]
    """Tests LateBounds: the child's bound of no limit is the one computed in this process (the same
    LP), its guide places the same shares, and it ends by itself."""
    inst, bb, _ = state_and_bounds
    mine = reopt.BudgetBound(inst)
    late = LateBounds(mine, None, time.time() + 60.0)
    t0 = time.perf_counter()
    guide = None
    while guide is None and time.perf_counter() - t0 < 60.0:
        guide = late.guide()
        time.sleep(0.05)
    assert guide is not None and guide.share == bb.guide.share
    got = late.finish(60.0)
    assert got["ended"] == 0 and got["snapshots"] >= 1
    assert mine.best(None) == pytest.approx(bb.best(None), abs=1e-6)


def test_late_bounds_ended_before_an_answer_leave_no_bound() -> None:
    """Tests that a child ended at once (its deadline far off) leaves the BudgetBound as it was (no
    half bound) and is gone."""
    inst = _state()
    bb = reopt.BudgetBound(inst)
    late = LateBounds(bb, None, time.time() + 60.0)
    got = late.finish(0.0)
    assert got["ended"] == 1 and got["snapshots"] == 0
    assert late.proc.returncode is not None
    assert bb.best(None) is None and bb.guide is None and not bb.stays


def _valid(inst, placed) -> bool:  # type: ignore[no-untyped-def]
    plan = build_plan(inst, solver="test", placed=placed, gpu_modes=modes_of(inst, placed),
                      unplaced={r.id: "waiting" for r in inst.requests if r.id not in placed})
    return bool(check(inst, plan).ok)


@pytest.mark.parametrize("answer_at", [None, 3])
def test_move_steps_wait_for_the_guide_with_wide_aims_only(answer_at, state_and_bounds,  # type: ignore[no-untyped-def]
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests move_steps with a ``late`` guide: while it has not come no step is an aimed (narrow) one;
    when it comes at the ``answer_at``-th ask the stats record it; the plan stays valid and no worse."""
    from packer.cpsat import reopt_gang, reopt_spread

    monkeypatch.setattr(reopt_gang, "GANG", False)
    monkeypatch.setattr(reopt_spread, "SPREAD", False)
    monkeypatch.setattr(reopt, "AIMED_SHARE", 0.9)
    inst, bb, _ = state_and_bounds
    asks: list[int] = []

    def late():  # type: ignore[no-untyped-def]
        asks.append(1)
        got = bb.guide if answer_at is not None and len(asks) >= answer_at else None
        return got, got is None

    start = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    placed, stats = reopt.move_steps(inst, start, cap=None, deadline=time.perf_counter() + 120, seed=2, workers=1,
                                     max_steps=6, det=0.1, late=late)
    assert objective_value(inst, placed) >= objective_value(inst, start) - 1e-9
    assert _valid(inst, placed)
    if answer_at is None:
        assert "guide_step" not in stats and len(asks) >= 6
        assert "aimed" not in stats["by_kind"]
    else:
        assert stats["guide_step"] <= answer_at and len(asks) == answer_at  # asked until it came, not after


def test_reoptimize_with_a_late_guide_gives_a_valid_plan_and_the_lp_bound(state_and_bounds,  # type: ignore[no-untyped-def]
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests reoptimize with LATE_LP and a guide withheld for the first 2 asks (it comes late): the plan
    passes the checker, is no worse than the start, and its bound is the stays LP's (not the capacity
    bound), at or above the plan's objective."""
    inst, bb, _ = state_and_bounds
    monkeypatch.setattr(reopt, "LATE_LP", True)
    monkeypatch.setattr(reopt, "LATE_MIN_S", 5.0)
    real = LateBounds.guide
    asks: list[int] = []

    def slow(self):  # type: ignore[no-untyped-def]
        asks.append(1)
        return None if len(asks) <= 2 else real(self)

    monkeypatch.setattr(LateBounds, "guide", slow)
    start = reopt.no_move_plan(inst, time_limit=4.0, seed=0, workers=1)
    # 22 s: the withheld guide must still come inside the run (at 16 s it did not at load 10, tests in parallel).
    pt = reopt.reoptimize(inst, budget=None, time_limit=22.0, seed=0, workers=1, start=start,
                          no_move_bound=start.bound)
    assert check(inst, pt.plan).ok
    assert pt.plan.objective >= start.objective - 1e-6
    assert pt.info["late_lp"]["snapshots"] >= 1  # type: ignore[index]
    assert "bound" not in pt.info  # not the capacity bound
    assert pt.plan.bound == pytest.approx(bb.best(None), abs=1e-6)
    assert pt.plan.bound >= pt.plan.objective - 1e-6
    assert pt.info["steps"]["guide_step"] >= 1  # type: ignore[index]


def test_short_runs_take_the_lp_first(state_and_bounds, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that a run whose steps would have less than LATE_MIN_S solves the LPs first, in this
    process (no child: its start-up would eat the LP's time), with the same bound."""
    inst, bb, _ = state_and_bounds
    monkeypatch.setattr(reopt, "LATE_LP", True)
    monkeypatch.setattr(reopt, "LATE_MIN_S", 30.0)
    start = reopt.no_move_plan(inst, time_limit=2.0, seed=0, workers=1)
    pt = reopt.reoptimize(inst, budget=None, time_limit=6.0, seed=0, workers=1, start=start,
                          no_move_bound=start.bound)
    assert "late_lp" not in pt.info
    assert check(inst, pt.plan).ok
    assert pt.plan.bound == pytest.approx(bb.best(None), abs=1e-6)
