"""The fortified rollout of the online ``packer`` policy (packer.online.rollout; issue 16 part 4).

The rollout's promise: placing in the same arrival order, its plan is worth at least each base
policy's own run (first-fit's included), every plan passes the checker, and the same seed gives the
same plan. Placer copies (``fork``) and exact placements (``commit``) are what it builds on.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from strategies import suite_instances

from packer.check import check
from packer.generate import generate
from packer.model import Instance, Plan
from packer.online import OnlinePlacer
from packer.online.placer import requests_in_order
from packer.online.rollout import ALWAYS, BASES, start_cost
from packer.online.solver import solve


def _objective(inst: Instance, plan: Plan) -> float:
    rep = check(inst, plan)
    assert rep.ok, rep
    return rep.objective


def _two_models() -> Instance:
    """Two GPU models: 'a' holds 2 A100s, 'b' 1 H100. ``any`` may use either, ``h100`` only the H100."""
    return Instance.model_validate({
        "name": "rollout-models",
        "nodes": [{"id": "a", "gpu_model": "A100-80GB", "num_gpus": 2, "mode": "full"},
                  {"id": "b", "gpu_model": "H100-80GB", "num_gpus": 1, "mode": "full"}],
        "requests": [{"id": "any", "kind": "gpu", "count": 1, "priority": 1.0},
                     {"id": "h100", "kind": "gpu", "count": 1, "priority": 1.0, "gpu_models": ["H100-80GB"]}],
    })


def test_rollout_does_not_lose_where_the_packer_choice_loses_to_first_fit() -> None:
    """Tests that where packer's own choice (the tightest node: the lone H100) leaves the later
    H100-only request without room, and first-fit (the A100 node, first) places both, the rollout
    places both."""
    inst = _two_models()
    alone = solve(inst, rollout=False)
    assert _objective(inst, alone) == 1.0  # the loss the rollout must avoid
    assert _objective(inst, solve(inst, policy="first-fit")) == 2.0
    plan = solve(inst)
    assert _objective(inst, plan) == 2.0
    assert plan.solver.rollout["fallback"] is False


def test_without_forecast_or_budget_nothing_changes() -> None:
    """Tests that the rollout needs the forecast and a budget: off, the plan is the policy's alone."""
    inst = _two_models()
    for opts in ({"forecast": False}, {"rollout": 0}):
        assert _objective(inst, solve(inst, **opts)) == 1.0, opts
    assert "rollout" not in solve(inst, forecast=False).solver.model_dump()


def test_a_budget_below_the_start_still_runs_the_start() -> None:
    """Tests that a budget too small for the start (every base over the stream) still runs the start
    of the :data:`ALWAYS` bases (every base since session 8), so the plan is worth first-fit's own run
    here, and simulates no step."""
    inst = _two_models()
    plan = solve(inst, rollout=2 * start_cost(2) - 1)  # 2 nodes
    assert _objective(inst, plan) == 2.0
    ro = plan.solver.rollout
    assert ro["steps"] == 0 and ro["simulated"] == start_cost(2, len(ALWAYS)) and ro["fallback"] is False
    assert tuple(ro["bases"]) == ALWAYS


def test_fork_is_independent_and_commit_reproduces_another_policys_choice() -> None:
    """Tests that placing on a fork leaves the original's state as it was, and that committing the
    rows first-fit chose onto a packer placer gives the plan first-fit makes."""
    inst = generate("haein", 3, nodes=2)
    reqs = requests_in_order(inst.requests, "file", inst)
    p = OnlinePlacer(inst)
    before = [x.copy() for x in p.a.mutable()]
    q = p.fork()
    for r in reqs:
        q.place(r)
    assert q.placed_ids() and not any(r.id in p.placed_ids() for r in reqs)
    assert all(np.array_equal(x, y) for x, y in zip(before, p.a.mutable(), strict=True))
    ff = OnlinePlacer(inst, "first-fit")
    for r in reqs:
        res = ff.place(r)
        p.commit(r, ff._placed[r.id].rows if res.ok else None)
    a, b = p.snapshot(instance=inst), ff.snapshot(instance=inst)
    assert _objective(inst, a) == _objective(inst, b)
    assert {x.request: x.units for x in a.assignments} == {x.request: x.units for x in b.assignments}


@settings(max_examples=25, deadline=None)
@given(suite_instances(max_nodes=2))
def test_rollout_is_worth_at_least_every_base_policy_in_the_same_order(inst: Instance) -> None:
    """Tests on random small instances of every suite family that the rollout's plan passes the
    checker and is worth at least each base policy's own run in file order, whatever the budget
    (full, or only the start and a few steps)."""
    bases = [_objective(inst, solve(inst, policy=b, rollout=False)) for b in BASES]
    n = len(requests_in_order(inst.requests, "file", inst))
    for budget in (None, (start_cost(n) + 10 * n) * len(inst.nodes)):
        got = _objective(inst, solve(inst, rollout=budget))
        assert all(got >= v - 1e-6 for v in bases), (budget, got, bases)


def test_same_seed_same_plan() -> None:
    """Tests that the rollout is reproducible: the same instance and seed give the same plan."""
    inst = generate("sharing", 1, nodes=2)
    a, b = solve(inst, seed=3), solve(inst, seed=3)
    assert a.assignments == b.assignments and a.unplaced == b.unplaced
    assert a.solver.rollout == b.solver.rollout
