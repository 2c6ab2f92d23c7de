"""The LP bound from HiGHS's duals (issue 16 part 3, session 6): a bound whatever HiGHS's status."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linprog
from scipy.sparse import csr_matrix

from packer.cpsat.bound import lagrangian_min, lp_dual_value, lp_solve
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound, padded_bound
from packer.generate import SUITE, generate


@st.composite
def small_lps(draw):  # type: ignore[no-untyped-def]
    """A small LP min c·x, bl <= A x <= bh, 0 <= x <= hi (some row sides infinite), and multipliers y."""
    n = draw(st.integers(1, 5))
    m = draw(st.integers(1, 4))
    num = st.integers(-9, 9)
    c = np.array(draw(st.lists(num, min_size=n, max_size=n)), dtype=float)
    a = np.array(draw(st.lists(st.lists(num, min_size=n, max_size=n), min_size=m, max_size=m)), dtype=float)
    hi = np.array(draw(st.lists(st.integers(1, 5), min_size=n, max_size=n)), dtype=float)
    bl = np.array(draw(st.lists(st.one_of(st.just(-np.inf), st.integers(-20, 0)), min_size=m, max_size=m)), dtype=float)
    bh = np.array(draw(st.lists(st.one_of(st.just(np.inf), st.integers(0, 20)), min_size=m, max_size=m)), dtype=float)
    y = np.array(draw(st.lists(st.floats(-5, 5), min_size=m, max_size=m)), dtype=float)
    return c, a, bl, bh, hi, y


@settings(max_examples=150, deadline=None)
@given(small_lps())
def test_the_lagrangian_at_any_multipliers_is_below_the_lp_minimum(lp) -> None:  # type: ignore[no-untyped-def]
    """Tests that for any y (wrong signs on infinite sides included) the value is at most the LP's minimum.

    x = 0 is feasible (bl <= 0 <= bh), so the LP always has an optimum.
    """
    c, a, bl, bh, hi, y = lp
    lo = np.zeros(len(c))
    a_ub = np.vstack([a, -a])
    b_ub = np.concatenate([bh, -bl])
    keep = np.isfinite(b_ub)
    res = linprog(c, A_ub=a_ub[keep], b_ub=b_ub[keep], bounds=list(zip(lo, hi, strict=True)), method="highs")
    assert res.status == 0
    assert lagrangian_min(c, csr_matrix(a), bl, bh, lo, hi, y) <= res.fun + 1e-7


@pytest.mark.parametrize("family", sorted(SUITE))
def test_the_dual_bound_is_the_lp_optimum_on_every_family(family: str) -> None:
    """Tests that at HiGHS's optimum the bound from the duals is the primal LP's optimum (64 GPUs)."""
    model = CpsatModel(generate(family, seed=1, nodes=8))
    form = model.linear_form
    dual = lp_dual_value(form, time_limit=60)
    primal = lp_solve(model.model, time_limit=60, form=form)
    assert dual is not None and primal is not None
    assert dual == pytest.approx(primal[0], rel=1e-7, abs=1.0)  # model units: the objective times its scale


@pytest.mark.parametrize("family", ["haein", "sharing", "tenants", "adversarial"])
def test_the_dual_bound_is_at_least_the_proven_optimum(family: str) -> None:
    """Tests the padded bound against a plan CP-SAT proves optimal (16 GPUs), and its stopped form.

    An LP stopped at once (time limit 0.1 s on a larger model) still answers with a bound or None, and
    the bound is never below what the search finds.
    """
    import packer.cpsat.solver as cpsat

    inst = generate(family, seed=2, nodes=2)
    bound = lp_bound(CpsatModel(inst), None)
    plan = cpsat.solve(inst, time_limit=30, workers=1)
    assert bound is not None
    if plan.status == "optimal":
        assert plan.objective <= bound + 1e-9
    big = generate(family, seed=2, nodes=32)
    model = CpsatModel(big)
    stopped = lp_dual_value(model.linear_form, time_limit=0.0)
    if stopped is not None:
        found = cpsat.solve(big, time_limit=10, workers=1)
        assert found.objective <= padded_bound(model, stopped) + 1e-9


def test_a_badly_scaled_lp_gets_its_bound_without_the_cleanup() -> None:
    """Tests sharing (host tie-break costs 1 beside a priority scale of about 1e8): a bound comes back and
    it is at most the capacity bound's padding away from the primal LP where that one finishes (64 GPUs)."""
    model = CpsatModel(generate("sharing", seed=0, nodes=8))
    c = model.linear_form[0]
    assert np.abs(c[c != 0]).max() / np.abs(c[c != 0]).min() > 1e6  # the scaling the test is about
    bound = lp_bound(model, 60)
    primal = lp_solve(model.model, time_limit=60, form=model.linear_form)
    assert bound is not None and primal is not None
    assert bound == pytest.approx(padded_bound(model, primal[0]), abs=1e-6)


def test_a_model_that_is_not_all_linear_gives_no_lp_bound() -> None:
    """Tests that a model whose linear form is None (a non-linear constraint) answers None, no error."""
    from packer.cpsat.bound import lp_value

    assert lp_value(None, time_limit=1.0) is None
