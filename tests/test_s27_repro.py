"""Session 27: a reproducible (one-worker) CP-SAT solve stops by deterministic time, not by the clock.

The monolithic search's first whole-model run before LNS had a wall limit of at most
``tuning.LNS_FIRST_MAX_S`` (5 s) beside its deterministic budget (``LNS_FIRST_SHARE`` of the run's): on a
slow or loaded machine the wall limit came first, and two "reproducible" solves of one instance in one
process ended at different objectives (session 26, tests/test_cpgap15_lpcut.py). The first run's wall
limit is now the run's deadline, a safety stop only.
"""

from __future__ import annotations

import pytest

from packer.check import check
from packer.cpsat import solve, tuning
from packer.cpsat.timeplan import lns_plan
from packer.generate import generate


def test_lns_plan_gives_the_first_run_the_deadline_only_when_reproducible() -> None:
    inst = generate("inference", seed=2, nodes=8)
    timed = lns_plan(inst, 29.5, None)
    repro = lns_plan(inst, 29.5, 11.8)
    assert timed is not None and repro is not None
    assert timed[2] == pytest.approx(min(tuning.LNS_FIRST_MAX_S, max(tuning.LNS_FIRST_MIN_S, tuning.LNS_FIRST_SHARE * 29.5)))
    assert repro[2] == pytest.approx(29.5)
    assert repro[4] is not None and repro[5] is not None  # a fixed number of steps with a deterministic budget each


def test_reproducible_solve_does_not_depend_on_the_first_runs_wall_cap(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same reproducible solve with the timed runs' first-run cap at 5 s and at 0.02 s: equal plans.
    Before session 27 the 0.02 s cap cut the first run off after a fraction of its deterministic budget."""
    monkeypatch.setattr(tuning, "LNS_MIN_VARIABLES", 0)
    monkeypatch.setattr(tuning, "LNS_MIN_S", 0.5)
    monkeypatch.setattr("packer.cpsat.solver.online_ready", lambda: False)
    inst = generate("inference", seed=2, nodes=8)
    plans = []
    for cap in (5.0, 0.02):
        monkeypatch.setattr(tuning, "LNS_FIRST_MAX_S", cap)
        monkeypatch.setattr(tuning, "LNS_FIRST_MIN_S", min(cap, tuning.LNS_FIRST_MIN_S))
        plans.append(solve(inst, time_limit=30, workers=1))
    for plan in plans:
        assert check(inst, plan).ok
        assert "lns" in (plan.solver.model_extra or {})
    assert plans[0].objective == pytest.approx(plans[1].objective)
    assert {a.request: a for a in plans[0].assignments} == {a.request: a for a in plans[1].assignments}
