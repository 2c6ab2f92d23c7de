"""The LP beside the search in a child process that is ended at its limit (issue 16 part 3)."""

from __future__ import annotations

import pytest

from packer.check import check
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound, lp_bound_stoppable
from packer.generate import generate


@pytest.mark.parametrize("family", ["haein", "sharing", "inference"])
def test_the_childs_lp_bound_is_the_models_lp_bound_and_above_the_optimum(family: str) -> None:
    """Tests the child's answer: the same padded LP bound as in this process, at least the proven optimum."""
    import packer.cpsat.solver as cpsat

    inst = generate(family, seed=0, nodes=2)
    model = CpsatModel(inst)
    here = lp_bound(model, None)
    there = lp_bound_stoppable(model, 60.0)
    assert here is not None and there == pytest.approx(here, abs=1e-9)
    plan = cpsat.solve(inst, time_limit=30, workers=1)
    if plan.status == "optimal":
        assert plan.objective <= there + 1e-9


def test_an_lp_out_of_time_gives_no_bound() -> None:
    """Tests that a child not done by its limit is ended and answers None (never a partial value)."""
    model = CpsatModel(generate("sharing", seed=0, nodes=8))
    assert lp_bound_stoppable(model, 0.0) is None


def test_an_lp_given_up_beside_the_search_frees_the_core(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests a run whose LP is ended at once: a valid plan, a bound from elsewhere, steps in two threads."""
    import packer.cpsat.solver as cpsat
    from packer.cpsat import tuning

    monkeypatch.setattr(tuning, "LNS_MIN_VARIABLES", 0)
    monkeypatch.setattr(tuning, "LNS_MIN_S", 0.5)
    monkeypatch.setattr(tuning, "LNS_FIRST_MIN_S", 0.2)
    monkeypatch.setattr(tuning, "LP_CONCURRENT_SHARE", 0.0)
    monkeypatch.setattr(tuning, "LP_IN_CHILD", True)
    inst = generate("haein", seed=1, nodes=16)
    plan = cpsat.solve(inst, time_limit=6, workers=2)
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    info = plan.solver.model_extra  # type: ignore[union-attr]
    assert info["lp_beside_search"] is True and info["lp_bound"] is None
    assert plan.bound is not None and plan.objective <= plan.bound + 1e-9
    lns = info.get("lns")
    assert lns is not None and lns["threads"] == 2
