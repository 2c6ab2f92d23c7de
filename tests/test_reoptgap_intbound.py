"""Tests of the integer-strengthened repack bound (packer.cpsat.intbound): at least the exact optimum
of every budget, at most the repack LP."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, solve
from packer.cpsat.intbound import integer_columns, repack_int_bound
from packer.generate import generate
from tests.running_states import capped, fragmented_running


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), cap=st.sampled_from([0, 2, None]), release=st.sampled_from([0.3, 0.6]),
       family=st.sampled_from(["tiny", "small"]))
def test_integer_bound_between_the_optimum_and_the_lp(seed: int, cap: int | None, release: float, family: str) -> None:
    """Tests that the integer bound is at least the exact model's plan of every budget (its proven
    optimum where proved) and at most the repack LP."""
    inst = fragmented_running(generate(family, seed), release=release, seed=seed)
    ib = repack_int_bound(inst, time_limit=5)
    if not reopt.movable_ids(inst):
        assert ib is None
        return
    assert ib is not None and ib.lp is not None
    exact = solve(capped(inst, cap), time_limit=10, workers=1, aggregate=False)
    assert check(capped(inst, cap), exact).ok
    if ib.dual is not None:
        assert ib.dual <= ib.lp + 1e-9
        assert ib.dual >= exact.objective - 1e-6
    assert ib.best is not None and ib.best >= exact.objective - 1e-6
    # The repack LP computed here is the re-optimizer's own.
    assert abs(ib.lp - reopt.BudgetBound(inst).repack_lp()) < 1e-6


def test_integer_bound_is_tighter_where_a_gang_is_fractional() -> None:
    """Tests that the integer bound can be strictly below the LP: some small running state where
    the LP places work fractionally and the integer bound, finished, cuts that off (it must not be
    equal to the LP on every state, else it would add nothing)."""
    seen = False
    for seed in range(12):
        inst = fragmented_running(generate("small", seed), release=0.5, seed=seed)
        ib = repack_int_bound(inst, time_limit=5)
        if ib is None or ib.dual is None or ib.lp is None:
            continue
        if ib.finished and ib.dual < ib.lp - 1e-3:
            seen = True
            break
    assert seen


def test_integer_columns_are_the_placed_counts() -> None:
    """Tests that the integer columns are exactly the repack model's placed-count variables."""
    inst = fragmented_running(generate("small", 1), release=0.4, seed=1)
    model = reopt.repack_model(inst)
    cols = integer_columns(model)
    names = {model.model.proto.variables[i].name for i in cols}
    assert cols and all(n.startswith("placed[") for n in names)
    assert len(cols) == sum(1 for e in model.vars.active.values() if hasattr(e, "index"))
