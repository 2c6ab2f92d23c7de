"""Tests of the repack LP with migration costs (packer.cpsat.reopt_stays): at least the exact
optimum of its budget, at most the plain repack LP, and used by the re-optimizer's bound."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, solve
from packer.cpsat.reopt_stays import stays_form, stays_lp
from packer.generate import generate
from tests.running_states import capped, fragmented_running


@settings(max_examples=14, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), cap=st.sampled_from([0, 1, 3, None]), release=st.sampled_from([0.3, 0.6]),
       family=st.sampled_from(["tiny", "small"]))
def test_stays_lp_bounds_the_exact_optimum_of_its_budget(seed: int, cap: int | None, release: float,
                                                          family: str) -> None:
    """Tests that the stays LP with ``cap``'s budget row is at least the exact model's plan under that
    cap (its proven optimum where proved), and never above the plain repack LP."""
    inst = fragmented_running(generate(family, seed), release=release, seed=seed)
    model = reopt.repack_model(inst)
    if model is None:
        assert not reopt.movable_ids(inst)
        return
    got = stays_lp(inst, model, budget=cap)
    assert got is not None
    exact = solve(capped(inst, cap), time_limit=10, workers=1, aggregate=False)
    assert check(capped(inst, cap), exact).ok
    assert got.bound >= exact.objective - 1e-6
    if exact.status == "optimal" and exact.bound is not None:
        assert got.bound >= exact.bound - 1e-6 or got.bound >= exact.objective - 1e-6
    plain = reopt.BudgetBound(inst).repack_lp()
    assert plain is not None and got.bound <= plain + 1e-6
    assert all(-1e-6 <= v <= 1 + 1e-6 for v in got.stays.values())
    if cap is not None:
        assert sum(1 - v for v in got.stays.values()) <= cap + 1e-6


def test_stays_lp_counts_migration_costs() -> None:
    """Tests that the costs tighten the bound: on some state the stays LP is strictly below the plain
    repack LP (if it never were, the columns would add nothing), and that its budget-0 LP keeps every
    freed request where it runs."""
    seen = False
    # (until session 18 seed 5 showed it, through a gang no plan can place: reopt_gangcap now fixes that gang
    # out of both LPs, which makes them equal there; seed 10 shows it through the costs alone)
    for seed in range(11):
        inst = fragmented_running(generate("small", seed), release=0.5, seed=seed)
        model = reopt.repack_model(inst)
        if model is None:
            continue
        got = stays_lp(inst, model)
        plain = reopt.BudgetBound(inst).repack_lp()
        assert got is not None and plain is not None
        if got.bound < plain - 1e-3:
            seen = True
        zero = stays_lp(inst, model, budget=0)
        assert zero is not None and all(v >= 1 - 1e-6 for v in zero.stays.values())
        if seen:
            break
    assert seen


def test_stays_form_adds_one_column_per_movable_request() -> None:
    """Tests the shape: one stay column per movable running request, in [0, 1], after the model's own."""
    inst = fragmented_running(generate("small", 2), release=0.4, seed=2)
    model = reopt.repack_model(inst)
    form, col, const = stays_form(inst, model, budget=2)
    n0 = model.linear_form[1].shape[1]
    assert sorted(col) == sorted(reopt.movable_ids(inst))
    assert sorted(col.values()) == list(range(n0, n0 + len(col)))
    assert form[1].shape[1] == n0 + len(col) and const <= 0
    assert all(form[4][i] == 0 and form[5][i] == 1 for i in col.values())


def test_budget_bound_uses_the_stays_lp() -> None:
    """Tests that the re-optimizer's bound of a budget is its stays LP when that finished (no relaxed
    LP is solved then), and that it still bounds a re-optimized plan."""
    inst = fragmented_running(generate("haein", 1, nodes=16, demand=1.6), release=0.35, seed=1)
    bb = reopt.BudgetBound(inst)
    old = reopt.EXACT_HYBRID_VARIABLES
    reopt.EXACT_HYBRID_VARIABLES = 0
    try:
        pt = reopt.reoptimize(inst, budget=2, time_limit=8, workers=1, seed=0, bounds=bb)
    finally:
        reopt.EXACT_HYBRID_VARIABLES = old
    assert None in bb.stays and 2 in bb.stays and not bb.values
    assert pt.plan.bound == pytest.approx(min(bb.stays[2], bb.stays[None]))
    assert check(inst, pt.plan).ok and pt.moves <= 2
    assert pt.plan.bound >= pt.plan.objective - 1e-6
