"""A hint placer's plan that comes after the hint's budget is still used when the search found less.

Under load a 60 s solve of inference-0 came back empty (objective 0): the placers missed their share
of the limit, the model's build took 41.7 s, and the search had nothing to start from.
"""

from __future__ import annotations

import time

import pytest

from packer.check import check
from packer.cpsat import hints, solver
from packer.cpsat.result import fallback
from packer.generate import generate
from packer.greedy.solver import solve as greedy_solve


def test_a_late_hint_replaces_an_empty_search(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = generate("inference", seed=0, nodes=4)
    want = greedy_solve(inst)
    assert want.objective > 0

    def slow_placers(inst, seed, online=True, deadline=None):  # type: ignore[no-untyped-def]
        time.sleep(1.0)  # past the hint's budget below
        yield want

    def empty_search(inst, hint_plan, *, seed, start, info, **_kw):  # type: ignore[no-untyped-def]
        assert hint_plan is None  # the hint did not come in its budget
        time.sleep(1.5)  # the search runs on while the placer finishes
        return fallback(inst, None, seed, start, info, bound=None)

    monkeypatch.setattr(hints, "placer_plans", slow_placers)
    monkeypatch.setattr(solver, "hint_budget", lambda _inst, _avail: 0.2)
    monkeypatch.setattr(solver, "solve_monolithic", empty_search)
    plan = solver.solve(inst, time_limit=30, workers=2)  # two workers: the hint gets its budget, not the limit
    assert plan.objective == pytest.approx(want.objective)
    assert plan.solver.model_extra["late_hint"] == want.solver.name  # type: ignore[index]
    assert check(inst, plan).ok


def test_no_late_hint_keeps_the_search_s_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    inst = generate("inference", seed=0, nodes=4)
    plan = solver.solve(inst, time_limit=20, workers=1)
    assert "late_hint" not in (plan.solver.model_extra or {})
    assert plan.objective >= greedy_solve(inst).objective - 1e-9
