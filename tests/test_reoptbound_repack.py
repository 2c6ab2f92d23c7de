"""Tests of the repack bound of the re-optimizer (packer.cpsat.reopt.repack_instance / repack_model) and
of each budget getting its own bound."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, solve
from packer.cpsat.result import modes_of
from packer.generate import generate
from packer.model import Instance
from packer.plans import build_plan, objective_value
from tests.running_states import capped, fragmented_running


def _repack_lp(inst: Instance) -> float | None:
    return reopt.BudgetBound(inst).repack_lp()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), cap=st.sampled_from([0, 1, 3, None]), release=st.sampled_from([0.3, 0.6]))
def test_repack_bound_is_at_least_the_exact_optimum(seed: int, cap: int | None, release: float) -> None:
    """Tests that the repack LP is at least the exact model's plan (its proven optimum where it proves one),
    for every budget."""
    inst = fragmented_running(generate("tiny", seed), release=release, seed=seed)
    bound = _repack_lp(inst)
    if not reopt.movable_ids(inst):
        assert bound is None
        return
    assert bound is not None
    exact = solve(capped(inst, cap), time_limit=10, workers=1, aggregate=False)
    assert check(capped(inst, cap), exact).ok
    assert bound >= exact.objective - 1e-6  # any plan of any budget, proven optimal or not


@pytest.mark.parametrize("seed", [0, 3, 7])
def test_every_plan_is_a_repack_plan_worth_at_least_as_much(seed: int) -> None:
    """Tests the relaxation argument itself: a re-optimized plan (with moves) is valid for the repack
    instance, places every freed request, and is worth at least its objective there."""
    inst = fragmented_running(generate("small", seed), release=0.4, seed=seed)
    rp, ids = reopt.repack_instance(inst)
    assert ids and all(rp.request(rid).placement is None for rid in ids)
    pt = reopt.reoptimize(inst, budget=None, time_limit=8, workers=1, seed=0)
    assert check(inst, pt.plan).ok
    placed = {a.request: list(a.units) for a in pt.plan.assignments}
    assert ids <= set(placed)
    as_repack = build_plan(rp, solver="test", placed=placed, gpu_modes=modes_of(rp, placed),
                           unplaced={r.id: "waiting" for r in rp.requests if r.id not in placed})
    assert check(rp, as_repack).ok
    assert objective_value(rp, placed) >= objective_value(inst, placed) - 1e-9
    bound = _repack_lp(inst)
    assert bound is not None and bound >= pt.plan.objective - 1e-6


def test_repack_model_forces_freed_work_to_be_placed() -> None:
    """Tests that the repack model's LP never drops freed running work for more valuable waiting work:
    it is below the same model without the must-place rows whenever that one drops some."""
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.model import CpsatModel

    inst = fragmented_running(generate("haein", 1, nodes=8, demand=1.6), release=0.35, seed=1)
    rp, ids = reopt.repack_instance(inst)
    free = CpsatModel(rp)
    forced = reopt.repack_model(inst)
    assert forced is not None
    a = lp_solve(free.model, form=free.linear_form)
    b = lp_solve(forced.model, form=forced.linear_form)
    assert a is not None and b is not None
    assert b[0] <= a[0] + 1e-6
    x = b[1]
    for gr in forced.data.groups:
        k = sum(1 for ri in gr.requests if rp.requests[ri].id in ids)
        if k:
            assert x[forced.vars.active[gr.index].index] >= k - 1e-6


def test_each_finite_budget_gets_its_own_bound() -> None:
    """Tests that a budget below the number of movable requests is bounded by its own LP (not
    the no-limit one), that bounds grow with the budget and that every plan moves at most its budget."""
    inst = fragmented_running(generate("haein", 1, nodes=16, demand=1.6), release=0.35, seed=1)
    n = len(reopt.movable_ids(inst))
    assert n > 2
    bb = reopt.BudgetBound(inst)
    old = reopt.EXACT_HYBRID_VARIABLES
    reopt.EXACT_HYBRID_VARIABLES = 0  # the split path, which the bound serves
    try:
        pts = [reopt.reoptimize(inst, budget=b, time_limit=8, workers=1, seed=0, bounds=bb) for b in (2, None)]
    finally:
        reopt.EXACT_HYBRID_VARIABLES = old
    # Its own: the repack LP with migration costs and its budget row (reopt_stays; the relaxed LP
    # is tried only where that one does not finish, session 6).
    assert 2 in bb.stays and None in bb.stays
    for pt in pts:
        assert check(inst, pt.plan).ok
        assert pt.budget is None or pt.moves <= pt.budget
        assert pt.plan.bound is not None and pt.plan.bound >= pt.plan.objective - 1e-6
    assert pts[0].plan.bound == pytest.approx(min(bb.stays[2], bb.stays[None]))
    assert pts[0].plan.bound <= pts[1].plan.bound + 1e-6


def test_relaxed_lps_that_cannot_help_are_skipped() -> None:
    """Tests the skip rule: budget LPs grow with the budget, so a bigger budget's LP is dominated once a
    smaller one is at or above the repack LP, or did not finish; smaller budgets are not."""
    inst = fragmented_running(generate("tiny", 3), release=0.5, seed=3)
    bb = reopt.BudgetBound(inst)
    assert not bb.dominated(4) and not bb.dominated(None)
    bb.repack = 10.0
    bb.values[2] = 9.0
    assert not bb.dominated(4)
    bb.values[2] = 10.0
    assert bb.dominated(4) and bb.dominated(None)
    assert not bb.dominated(2) and not bb.dominated(1)
    bb.values.clear()
    bb.failed.add(3)
    assert bb.dominated(5) and bb.dominated(None) and not bb.dominated(3) and not bb.dominated(2)
    assert bb.best(1) == 10.0
