"""The time-limit fix of issue 20: relaxation builds under a deadline, and an estimate that follows the build.

No test here reads the wall clock: the deadline's clock is a counter or a constant.
"""

from __future__ import annotations

import itertools

import pytest

from packer.check import check
from packer.cpsat.bound import capacity_bound
from packer.cpsat.deadline import BuildAbandoned, Deadline
from packer.generate import generate


def counting_clock():  # type: ignore[no-untyped-def]
    """A clock that advances one unit each time it is read."""
    ticks = itertools.count()
    return lambda: float(next(ticks))


def test_deadline_raises_once_past_and_counts_its_checks() -> None:
    """Tests that a deadline allows checks before it and raises, naming the step, after it."""
    d = Deadline.after(2.0, counting_clock())  # read once: at = 2
    d.check("a")  # clock 1
    d.check("b")  # clock 2: not past yet
    with pytest.raises(BuildAbandoned) as e:
        d.check("c")  # clock 3
    assert e.value.step == "c" and d.checks == 3
    Deadline.after(None, counting_clock()).check("never")  # no deadline: never raises


def test_relaxation_build_past_its_deadline_is_abandoned() -> None:
    """Tests that relaxed_bound gives up a build at the step where its deadline passes, and says where."""
    from packer.cpsat import proof as cpsat

    inst = generate("haein", 0, nodes=8)
    info: dict[str, object] = {}
    # Clock reads: 0 (deadline at 5), relaxation 1, data 2, then one per constraint rule (no variable
    # check on a model this small): one_mode_per_gpu 3, mig_layout_per_gpu 4, mig_capacity 5,
    # mig_running_slots 6 > 5.
    assert cpsat.relaxed_bound(inst, "rack", time_limit=5, clock=counting_clock(), info=info) is None
    assert info == {"abandoned": "mig_running_slots"}
    # A clock that stands still never passes the deadline: the same bound as without one.
    still = cpsat.relaxed_bound(inst, "rack", time_limit=5, clock=lambda: 0.0)
    assert still is not None and still == pytest.approx(cpsat.relaxed_bound(inst, "rack"))


def test_estimate_follows_the_options_of_the_built_model() -> None:
    """Tests that the estimate counts what the build creates: one variable per option it keeps."""
    from packer.cpsat import timeplan, tuning
    from packer.cpsat.model import CpsatModel

    inst = generate("haein", 0, nodes=16)
    choice = timeplan.relaxation_choice(inst, None)
    assert choice is not None
    data = choice.data
    fixed = {gr.index for gr in data.groups if gr.req.placement is not None and not gr.req.movable}
    assert fixed  # haein runs work that cannot move: its options have no variables
    options = sum(len(o) for (gi, _), o in data.options.items() if gi not in fixed)
    assert options < sum(len(o) for o in data.options.values())
    model = CpsatModel(choice.relaxation.instance, barred=choice.relaxation.barred)
    assert 0 < len(model.vars.x) <= options
    assert not any(gi in fixed for gi, _, _ in model.vars.x)
    assert choice.estimate_s == pytest.approx(tuning.RELAX_S_PER_OPTION * options * (1 + tuning.RELAX_LP_PER_BUILD))


def test_a_relaxation_whose_estimate_does_not_fit_gives_way_to_a_coarser_one(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the choice by estimate: the finest candidate too big for the budget, the next one chosen."""
    from packer.cpsat import timeplan, tuning

    inst = generate("haein", 0, nodes=16)
    first = timeplan.relaxation_choice(inst, None)
    assert first is not None
    # Make the finest candidate's estimate exactly twice the budget of a 100 s limit.
    monkeypatch.setattr(tuning, "RELAX_S_PER_OPTION", tuning.RELAX_S_PER_OPTION * 2 * 40.0 / first.estimate_s)
    chosen = timeplan.relaxation_choice(inst, 100.0, clock=lambda: 0.0)
    assert chosen is not None and (chosen.level, chosen.typed) != (first.level, first.typed)
    assert chosen.estimate_s <= chosen.budget == pytest.approx(tuning.RELAX_SHARE * 100.0)
    # Preparing counts in the budget: a clock that moves 100 s a read leaves no time for any.
    slow = iter(itertools.count(0, 100))
    assert timeplan.relaxation_choice(inst, 100.0, clock=lambda: float(next(slow))) is None


def test_decomposed_solve_reports_the_capacity_bound_when_the_build_is_abandoned(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an abandoned relaxation build leaves a valid plan bounded by the capacity LP."""
    import packer.cpsat.solver as cpsat
    from packer.cpsat import proof, tuning

    relaxed_bound = proof.relaxed_bound

    def on_a_fast_clock(*args, **kwargs):  # type: ignore[no-untyped-def]
        # The build's deadline read on a clock that moves a second per look: it passes mid-build.
        return relaxed_bound(*args, **{**kwargs, "clock": counting_clock()})

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    monkeypatch.setattr(tuning, "RELAX_S_PER_OPTION", 0.0)  # the estimate says it fits …
    monkeypatch.setattr(proof, "relaxed_bound", on_a_fast_clock)  # … and the build runs past its deadline
    plan = cpsat.solve(inst, time_limit=10, workers=2)
    assert check(inst, plan).ok
    used = plan.solver.model_extra["relaxed_bound"]  # type: ignore[index]
    assert used["abandoned"] and used["bound"] is None
    assert plan.bound == pytest.approx(capacity_bound(inst))


def test_hint_placers_get_the_deadline_and_none_starts_after_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that both hint placers get a time limit inside the hint's deadline, and none runs past it."""
    import time

    import packer.greedy.solver as greedy
    import packer.online.solver as online
    from packer.cpsat import tuning
    from packer.cpsat.hints import placer_plans

    calls: list[tuple[str, float | None]] = []

    def fake(name: str):  # type: ignore[no-untyped-def]
        def solve(inst, *, seed=0, time_limit=None, **_):  # type: ignore[no-untyped-def]
            calls.append((name, time_limit))
            return name
        return solve

    monkeypatch.setattr(greedy, "solve", fake("greedy"))
    monkeypatch.setattr(online, "solve", fake("online"))
    inst = generate("haein", 0, nodes=8)
    assert list(placer_plans(inst, 0, deadline=time.perf_counter() - 1.0)) == [] and calls == []
    assert list(placer_plans(inst, 0, deadline=time.perf_counter() + 1000.0)) == ["greedy", "online"]
    assert [n for n, _ in calls] == ["greedy", "online"]
    assert all(lim is not None and 0 < lim <= tuning.HINT_PLACER_SHARE * 1000.0 for _, lim in calls)
    calls.clear()
    assert list(placer_plans(inst, 0, deadline=None)) == ["greedy", "online"]
    assert calls == [("greedy", None), ("online", None)]
