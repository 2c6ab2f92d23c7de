"""The rollout's start at any size (issue 16 part 4, session 6): whatever the budget, the policy's
own run and first-fit's over the stream are simulated first (best-fit's and FGD's too when the budget
covers them), so the plan is never worth less than those bases in the same arrival order, and plans
pass the checker."""

from __future__ import annotations

from hypothesis import given, settings
from strategies import suite_instances

from packer.check import check
from packer.generate import generate
from packer.model import Instance, Plan
from packer.online.rollout import ALWAYS, BASES
from packer.online.solver import solve


def _objective(inst: Instance, plan: Plan) -> float:
    rep = check(inst, plan)
    assert rep.ok, rep
    return rep.objective


@settings(max_examples=25, deadline=None)
@given(suite_instances(max_nodes=3))
def test_a_budget_of_one_is_still_worth_the_policy_and_first_fit(inst: Instance) -> None:
    """Tests on random small instances of every suite family that with a budget of one node-placement
    (below the start on any cluster) the plan passes the checker and is worth at least the own run of
    every base of :data:`ALWAYS` (since session 8 all four: the policy, first-fit, best-fit, FGD)."""
    bases = [_objective(inst, solve(inst, policy=b, rollout=False)) for b in ALWAYS]
    plan = solve(inst, rollout=1)
    got = _objective(inst, plan)
    assert all(got >= v - 1e-6 for v in bases), (got, bases)
    assert plan.solver.rollout["steps"] == 0


def test_a_larger_cluster_than_the_budget_covers_is_worth_the_policy_and_first_fit() -> None:
    """Tests on a 256-GPU sharing instance, with a budget of one placement, that the start runs the
    policy and first-fit and the plan is worth the better of them; with a budget that covers the
    whole start, every base runs and the plan is worth the best of all four."""
    inst = generate("sharing", 100, nodes=32)
    own = {b: _objective(inst, solve(inst, policy=b, rollout=False)) for b in BASES}
    small = solve(inst, rollout=len(inst.nodes))
    assert _objective(inst, small) >= max(own[b] for b in ALWAYS) - 1e-6, own
    assert set(small.solver.rollout["base_values"]) == set(ALWAYS)
    n = len(inst.requests)
    full = solve(inst, rollout=len(BASES) * n * len(inst.nodes))
    assert _objective(inst, full) >= max(own.values()) - 1e-6, own
    assert set(full.solver.rollout["base_values"]) == set(BASES)


def test_same_seed_same_plan_below_the_budget() -> None:
    """Tests that a start-only rollout is reproducible."""
    inst = generate("tenants", 2, nodes=4)
    a, b = solve(inst, seed=5, rollout=1), solve(inst, seed=5, rollout=1)
    assert a.assignments == b.assignments and a.unplaced == b.unplaced
    assert a.solver.rollout == b.solver.rollout
