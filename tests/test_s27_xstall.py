"""Tests of session 27's exchange steps once the other steps stall (packer.cpsat.reopt_xrack.AFTER_STALL)."""

from __future__ import annotations

import time

import pytest

from packer.check import check
from packer.cpsat import reopt, reopt_xrack
from packer.cpsat.lpguide import Guide
from packer.generate import generate
from packer.plans import objective_value


@pytest.fixture()
def flags():  # type: ignore[no-untyped-def]
    old = reopt_xrack.XRACK, reopt_xrack.AFTER_STALL, reopt_xrack.STALL_SHARE, reopt_xrack.MIN_STALL
    yield
    reopt_xrack.XRACK, reopt_xrack.AFTER_STALL, reopt_xrack.STALL_SHARE, reopt_xrack.MIN_STALL = old


def _state():  # type: ignore[no-untyped-def]
    inst = generate("fragmented", 0, nodes=16)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    waiting = [r for r in inst.requests if r.placement is None]
    nodes = [n.id for n in inst.nodes]
    guide = Guide(share={r.id: 1.0 for r in waiting}, nodes={r.id: {nodes[(3 * i) % len(nodes)]: 1.0}
                                                             for i, r in enumerate(waiting)})
    return inst, placed, guide


def _feed(rule, objectives):  # type: ignore[no-untyped-def]
    return [rule.see(k, v) for k, v in enumerate(objectives)]


def test_stall_rule_waits_as_long_as_the_climb_then_keeps_that_span() -> None:
    """Tests the rule: one failed step after a rise at step 1 is no stall (at least ``least`` = 2); last rise at
    step 3 -> stalled from step 6 (3 steps without a rise); a rise at step 8 ends it, and it holds again 3 steps
    later (the span kept, not the 8 steps up to the new rise)."""
    rule = reopt_xrack.Stall(least=2)
    got = _feed(rule, [1, 2, 2, 3, 3, 3, 3, 3, 4, 4, 4, 4, 4])
    assert [k for k, s in enumerate(got) if s] == [6, 7, 11, 12]
    assert rule.fired == [6, 11] and rule.span == 3


def test_stall_rule_without_a_rise_waits_the_least_stall() -> None:
    """Tests that a run that has not gained is not stalled at its first failed step, only after ``least``."""
    rule = reopt_xrack.Stall(least=4)
    got = _feed(rule, [5, 5, 5, 5, 5, 5])
    assert got == [False, False, False, False, True, True]
    assert rule.fired == [4] and rule.span == 4


def test_stall_rule_is_not_fooled_by_a_fall_or_a_repeated_count() -> None:
    """Tests that only a rise above the best counts (a lower objective is no rise), and that the same step
    count fed twice (an iteration that took no step) changes nothing."""
    rule = reopt_xrack.Stall(least=2)
    assert not rule.see(0, 10.0)
    assert not rule.see(2, 11.0)  # rise at 2: span 2
    assert not rule.see(3, 10.5)
    assert not rule.see(3, 10.5)
    assert rule.see(4, 10.9)
    assert rule.fired == [4]


def test_never_stalled_run_is_the_run_of_xrack_off(flags, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that with XRACK and AFTER_STALL on, a run whose rule never holds draws nothing from the exchange
    stream and gives XRACK off's plan and objective step for step; and AFTER_STALL alone (XRACK off) is off."""
    inst, placed, guide = _state()
    runs = []
    for xr, after in ((False, False), (False, True), (True, True)):
        reopt_xrack.XRACK, reopt_xrack.AFTER_STALL = xr, after
        if xr:
            monkeypatch.setattr(reopt_xrack.Stall, "see", lambda self, steps, objective: False)
        traj: list[float] = []
        got, st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                   guide=guide, max_steps=4, det=0.1, on_step=lambda _k, b, _g, t=traj: t.append(b))
        runs.append((got, traj))
        assert st.get("xrack", 0) == 0
    assert runs[0] == runs[1] == runs[2]


def test_exchange_steps_come_only_after_the_rule_fires(flags, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests on a small fragmented state that the run is XRACK off's up to the step the rule fired at (the
    objective before every iteration equal), that exchange regions are drawn only at steps where the rule
    holds and exchange steps run once it fired, that the recorded firing steps are the rule's on the run's
    own objectives, and that the plan passes ``packer check``."""
    inst, placed, guide = _state()
    reopt_xrack.MIN_STALL = 1  # the bare measure: as many steps without a rise as up to the last rise
    drawn: list[int] = []
    region = reopt_xrack.region

    def spy(*a, **k):  # type: ignore[no-untyped-def]
        drawn.append(trajs_now[-1][0])  # the step count the iteration began at (on_step runs first)
        return region(*a, **k)

    monkeypatch.setattr(reopt_xrack, "region", spy)
    trajs, stats, plans = [], [], []
    trajs_now: list[tuple[int, float]] = []
    for on in (False, True):
        reopt_xrack.XRACK = reopt_xrack.AFTER_STALL = on
        traj: list[tuple[int, float]] = []
        trajs_now = traj
        got, st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                   guide=guide, max_steps=6, det=0.1,
                                   on_step=lambda k, b, _g, t=traj: t.append((k, b)))
        trajs.append(traj)
        stats.append(st)
        plans.append(got)
    st = stats[1]
    assert st["xstall_fired"], "the rule never fired on this state"
    first = st["xstall_fired"][0]
    off_prefix = [b for k, b in trajs[0] if k <= first]
    on_prefix = [b for k, b in trajs[1] if k <= first]
    assert on_prefix == off_prefix
    assert st.get("xrack", 0) >= 1 and st["by_kind"]["xrack"]["steps"] >= 1
    assert "xstall_fired" not in stats[0] and stats[0].get("xrack", 0) == 0
    rule = reopt_xrack.Stall(least=1)
    for k, b in trajs[1]:
        rule.see(k, b)
    assert rule.fired == st["xstall_fired"]
    assert drawn and min(drawn) >= first
    held = {k for k, b in trajs[1] if rule_holds(trajs[1], k)}
    assert set(drawn) <= held
    assert check(inst, reopt._plan(inst, plans[1], bound=None, seed=0, wall_s=0.0, info={})).ok
    assert objective_value(inst, plans[1]) >= objective_value(inst, placed) - 1e-9


def rule_holds(traj, k):  # type: ignore[no-untyped-def]
    """Whether the bare rule (least 1) holds at step ``k`` of a run's (step, objective) record."""
    rule = reopt_xrack.Stall(least=1)
    now = False
    for kk, b in traj:
        if kk > k:
            break
        now = rule.see(kk, b)
    return now
