"""Tests of session 21's stall-gated branch and bound (packer.cpsat.reopt_intstays.AFTER_STALL): the
parent's rule (:class:`Stall`) fires once, when the steps since the last gain are as many as the
steps up to it and the LP is in; the LP child waits for the parent's word after its LPs and runs
branch and bound only with it; the whole path gives a checked plan whose bound lies between its
objective and the LP's, and an exact optimum on small states is never cut off."""

from __future__ import annotations

import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_intstays, solve
from packer.cpsat.reopt_intstays import Stall, after_lps
from packer.cpsat.reopt_late import LateBounds
from packer.generate import generate
from tests.running_states import fragmented_running


def test_stall_fires_once_when_idle_as_long_as_it_took() -> None:
    """Tests the rule: gains at steps 2, 3 and 5 (the LP in from step 3), then none: fires at step 10 (5 idle
    steps = 5 steps up to the last gain), not before, once; never while the LP is not in; a run that
    has not gained fires at its first step with the LP in."""
    fired: list[int] = []
    s = Stall(lambda: fired.append(1))
    objective = {0: 1.0, 1: 1.0, 2: 2.0, 3: 2.5, 4: 2.5, 5: 3.0}
    for step in range(0, 14):
        s(step, objective.get(step, 3.0), step >= 3)
        if step < 10:
            assert not fired, step
    assert fired == [1] and s.at is not None and s.at[0] == 10
    fired2: list[int] = []
    s2 = Stall(lambda: fired2.append(1))
    for step in range(0, 6):
        s2(step, 5.0, step >= 4)  # the LP comes at step 4
    assert fired2 == [1] and s2.at is not None and s2.at[0] == 4
    fired3: list[int] = []
    s3 = Stall(lambda: fired3.append(1))
    for step in range(0, 40):
        s3(step, float(step // 3), step >= 3)  # a gain every third step: 2 idle steps against more done
    assert not fired3


def test_after_lps_waits_for_the_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the child's side: with AFTER_STALL (INT_STAYS off) and no word, no branch and bound and no
    snapshot; with the word, it runs and the bound is at most the LP's."""
    monkeypatch.setattr(reopt_intstays, "INT_STAYS", False)
    monkeypatch.setattr(reopt_intstays, "AFTER_STALL", True)
    inst = generate("fragmented", 3, nodes=2)
    bb = reopt.BudgetBound(inst)
    reopt._budget_bounds(bb, None, lambda: None)
    lp = bb.stays[None]
    calls: list[int] = []
    asked: list[int] = []
    after_lps(bb, None, lambda: 20.0, lambda: calls.append(1), lambda: asked.append(1) or False)
    assert asked == [1] and not calls and bb.int_stays is None and bb.stays[None] == lp
    after_lps(bb, None, lambda: 20.0, lambda: calls.append(1))  # no way to hear a word: nothing
    assert not calls and bb.int_stays is None
    after_lps(bb, None, lambda: 20.0, lambda: calls.append(1), lambda: True)
    assert calls == [1] and bb.int_stays is not None and bb.stays[None] <= lp
    monkeypatch.setattr(reopt_intstays, "AFTER_STALL", False)
    bb2 = reopt.BudgetBound(inst)
    reopt._budget_bounds(bb2, None, lambda: None)
    after_lps(bb2, None, lambda: 20.0, lambda: calls.append(1), lambda: True)  # off: nothing
    assert calls == [1] and bb2.int_stays is None


@pytest.mark.parametrize("word", [True, False])
def test_late_child_runs_branch_and_bound_only_after_the_word(word: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the processes: the LP child of a 32-node fragmented state writes its LP, then waits; with
    go() it runs branch and bound (a second snapshot, the record, a bound at most the LP's); without,
    finish() lets it end without being killed and there is no record."""
    monkeypatch.setattr(reopt_intstays, "INT_STAYS", False)
    monkeypatch.setattr(reopt_intstays, "AFTER_STALL", True)
    inst = generate("fragmented", 0, nodes=32)
    ref = reopt.BudgetBound(inst)
    reopt._budget_bounds(ref, None, lambda: None)
    mine = reopt.BudgetBound(inst)
    late = LateBounds(mine, None, time.time() + 40.0)
    if word:
        late.go()
        got = late.finish(40.0)
        assert got["go_s"] is not None
        assert mine.int_stays is not None and got["snapshots"] >= 2
    else:
        t = time.time()
        while late.count == 0 and time.time() - t < 35.0:  # its LP is in; it now waits for the word
            time.sleep(0.2)
        got = late.finish(5.0)
        assert got["ended"] == 0 and got["go_s"] is None
        assert mine.int_stays is None
    assert got["snapshots"] >= 1
    assert mine.best(None) <= ref.best(None) + 1e-6


def test_whole_path_with_the_stall_rule(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests reoptimize with AFTER_STALL on a 32-node fragmented state: a checked plan, a bound between its
    objective and the LP's, and the rule's record in info."""
    monkeypatch.setattr(reopt_intstays, "INT_STAYS", False)
    monkeypatch.setattr(reopt_intstays, "AFTER_STALL", True)
    monkeypatch.setattr(reopt, "LATE_MIN_S", 5.0)
    inst = generate("fragmented", 0, nodes=32)
    ref = reopt.BudgetBound(inst)
    reopt._budget_bounds(ref, None, lambda: None)
    start = reopt.no_move_plan(inst, time_limit=3.0, seed=0, workers=1)
    # 18 s: the LP child must answer inside the run (at 12 s it did not, at load 10 with the tests in parallel).
    pt = reopt.reoptimize(inst, budget=None, time_limit=18.0, seed=0, workers=1, start=start,
                          no_move_bound=start.bound)
    assert check(inst, pt.plan).ok
    assert pt.plan.objective - 1e-6 <= pt.plan.bound <= ref.best(None) + 1e-6
    assert "late_lp" in pt.info and "stall_at" in pt.info
    if pt.info["stall_at"] is None:
        assert "int_stays" not in pt.info


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["tiny", "small", "tenants", "haein"]),
       release=st.sampled_from([0.3, 0.6]))
def test_after_word_bound_never_cuts_the_exact_optimum(seed: int, family: str, release: float) -> None:
    """Tests that the bound the child's path leaves (LP, then branch and bound after the word) is at least
    the exact model's plan on small running states, and so is the "owns" arm's (node ownership and stay
    columns integer too), on states with node-isolated tenants among them."""
    old = reopt_intstays.INT_STAYS, reopt_intstays.AFTER_STALL
    reopt_intstays.INT_STAYS, reopt_intstays.AFTER_STALL = False, True
    try:
        _after_word_bound(seed, family, release)
    finally:
        reopt_intstays.INT_STAYS, reopt_intstays.AFTER_STALL = old


def _after_word_bound(seed: int, family: str, release: float) -> None:
    # tenants / haein on 2-3 nodes: node-isolated tenants, for the "owns" arm
    inst = generate(family, seed) if family in ("tiny", "small") else generate(family, seed, nodes=2 + seed % 2)
    if not any(r.placement for r in inst.requests):
        inst = fragmented_running(inst, release=release, seed=seed)
    if not reopt.movable_ids(inst):
        return
    bb = reopt.BudgetBound(inst)
    reopt._budget_bounds(bb, None, lambda: None)
    if None not in bb.stays:
        return
    lp = bb.stays[None]
    after_lps(bb, None, lambda: 15.0, lambda: None, lambda: True)
    model = reopt.repack_model(inst)
    owns = reopt_intstays.int_stays_bound(inst, model, time_limit=10.0, arm="owns", lp=lp)
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok
    assert exact.objective - 1e-6 <= bb.best(None) <= lp + 1e-9
    if owns is not None and owns.dual is not None:  # the "owns" arm (ownership integer too) is valid as well
        assert exact.objective - 1e-6 <= owns.dual <= lp + 1e-9


def test_dual_always_matches_milp_where_both_answer() -> None:
    """Tests session 21's direct HiGHS call (DUAL_ALWAYS): on small fragmented states run to the end it
    gives scipy milp's dual bound (both finished), and with almost no time it still answers (a dual
    bound or None, never a bound below the exact plan)."""
    from scipy.optimize import Bounds, LinearConstraint, milp

    from packer.cpsat.reopt_intstays import _mip_dual, integer_columns
    from packer.cpsat.reopt_stays import stays_form

    for seed in (20, 22):
        inst = generate("fragmented", seed, nodes=2)
        model = reopt.repack_model(inst)
        form, col, _const = stays_form(inst, model)
        c, a, bl, bh, lo, hi, _obj = form
        integ = np.zeros(len(c))
        integ[integer_columns(model, col, "within")] = 1
        got = _mip_dual(c, a, bl, bh, lo, hi, integ, 20.0)
        assert got is not None and got[1]
        res = milp(c, constraints=LinearConstraint(a, bl, bh), bounds=Bounds(lo, hi), integrality=integ,
                   options={"presolve": True, "time_limit": 20.0})
        assert res.status == 0
        assert got[0] == pytest.approx(res.mip_dual_bound, rel=1e-6, abs=1e-3)
