"""Tests of session 24's warm rows LP (reopt_stays.WARM_ROWS, packer.cpsat.bound.KeptLP): the kept solver
solves the stays LP exactly as scipy's milp does (the same point to the bit, so the same guide), and its
re-solve with the room rows added gives the cold rows LP's bound; where the plain point breaks no row
nothing is solved again; the LP child takes the flag from its parent."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_room_cuts_s23 import _hand

from packer.check import check
from packer.cpsat import bound, reopt, reopt_stays, solve
from packer.cpsat.bound import KeptLP, lp_solve
from packer.cpsat.reopt_late import parent_settings
from packer.cpsat.reopt_stays import stays_form, stays_lp, violated, with_rows
from packer.cpsat.room_cuts import room_cuts
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit

H100 = "H100-80GB"


@st.composite
def _crowded(draw):  # type: ignore[no-untyped-def]
    """2-3 racks of two 4- or 8-GPU nodes, up to half of each node's GPUs held by 1-GPU jobs (a third of
    them movable), 2-5 whole-GPU gangs of one size (more than half a node, a node, or more) with rack or
    node locality, a few 1-GPU jobs waiting: free room rarely a multiple of the gang size, so the plain
    LP's point breaks a room row in most draws (session 23's strategy broke none in 15)."""
    racks = draw(st.integers(2, 3))
    per = draw(st.sampled_from([4, 8]))
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=per, mode="full", domains={"rack": f"r{i // 2}"})
             for i in range(2 * racks)]
    reqs: list[Request] = []
    for i in range(2 * racks):
        gpus = list(range(per))
        for g in gpus[:draw(st.integers(0, per // 2))]:
            mv = draw(st.integers(0, 2)) == 0
            reqs.append(Request(id=f"run{i}-{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node=f"n{i}", gpu=g),),
                                movable=mv, migration_cost=0.2 if mv else None))
    size = draw(st.sampled_from([per // 2 + 1, per, per + 2]))
    for k in range(draw(st.integers(2, 5))):
        level = draw(st.sampled_from(["rack", "rack", "node"]))
        sz = min(size, per) if level == "node" else size
        reqs.append(Request(id=f"gang{k}", kind="gpu", count=sz, tenant="g",
                            priority=draw(st.sampled_from([1.0, 1.5, 2.0])), locality=Locality(level=level, required=True)))
    for k in range(draw(st.integers(0, 3))):
        reqs.append(Request(id=f"one{k}", kind="gpu", count=1, tenant="t", priority=draw(st.sampled_from([0.5, 1.0]))))
    return Instance(name="crowded", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="t"), Tenant(id="g")))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=_crowded())
def test_kept_lp_is_milp_and_warm_rows_are_cold_rows(inst: Instance) -> None:
    """Tests on small running states that KeptLP's solve returns lp_solve's value and point to the bit,
    and that with the room rows added and re-solved from its basis it returns the cold rows LP's value
    (to 1e-6 in model units and in the bound's units), never above the plain one; stays_lp with WARM_ROWS
    on and off: the same bound, point and stays, and the bound at least the exact plan's objective."""
    model = reopt.repack_model(inst)
    if model is None or model.linear_form is None:
        return
    form, _col, const = stays_form(inst, model, cuts=False)
    plain = lp_solve(model.model, form=form)
    kept = KeptLP(form)
    got = kept.solve()
    assert plain is not None and got is not None
    assert got[0] == plain[0] and np.array_equal(got[1], plain[1])
    rows = room_cuts(model)
    cold = lp_solve(model.model, form=with_rows(form, rows))
    warm = kept.add_rows(rows)
    assert cold is not None and warm is not None
    assert abs(warm - cold[0]) <= 1e-6 * max(1.0, abs(cold[0]))
    assert warm <= plain[0] + 1e-6 * max(1.0, abs(plain[0]))
    on = {}
    was = reopt_stays.WARM_ROWS
    for flag in (False, True):
        reopt_stays.WARM_ROWS = flag
        try:
            on[flag] = stays_lp(inst, model, cuts=True, guide_rows=False)
        finally:
            reopt_stays.WARM_ROWS = was
    assert on[False] is not None and on[True] is not None
    assert abs(on[True].bound - on[False].bound) <= 1e-6
    assert list(on[True].x) == list(on[False].x) and on[True].stays == on[False].stays
    assert on[True].rows_broken == on[False].rows_broken == violated(rows, plain[1])
    assert on[True].kept is None  # the solver is freed once the rows' bound is in
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok
    if exact.status == "optimal":
        assert on[True].bound >= exact.objective - 1e-6  # a valid bound: at least the proven optimum


def test_warm_rows_close_the_hand_state(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the hand state of session 23 (the plain LP places three rack gangs, 27; the optimum is 19):
    with WARM_ROWS the rows' bound comes from the kept solver (no second cold solve: lp_solve is not
    called) and is the optimum."""
    monkeypatch.setattr(reopt_stays, "WARM_ROWS", True)
    inst = _hand()
    model = reopt.repack_model(inst)
    calls: list[int] = []
    real = bound.lp_solve

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        calls.append(1)
        return real(*a, **k)

    monkeypatch.setattr(bound, "lp_solve", counted)
    two = stays_lp(inst, model, cuts=True, guide_rows=False)
    assert two is not None and (two.rows_broken or 0) >= 1
    assert 19.0 - 1e-9 <= two.bound <= 19.0 + 1e-3
    assert calls == []
    placed = sum(two.x[v.index] for (_gi, _d), v in model.vars.within.items())
    assert placed > 2.9  # the guide is the plain LP's


def test_no_broken_row_solves_nothing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the skipped case: handed a point that breaks no room row (the hand state's LP solved with the
    rows), rows_bound solves nothing again, neither the kept solver's re-solve nor a cold LP, frees the
    solver and returns the bound it was given; on the same state with the plain point (3 gangs placed) it
    re-solves once, from the kept solver."""
    from packer.cpsat.reopt_stays import rows_bound

    inst = _hand()
    model = reopt.repack_model(inst)
    rows = room_cuts(model)
    with_them = stays_lp(inst, model, cuts=True, guide_rows=True)
    assert with_them is not None and violated(rows, with_them.x) == 0
    form, _col, const = stays_form(inst, model, cuts=False)
    added: list[int] = []
    real_add = KeptLP.add_rows
    monkeypatch.setattr(KeptLP, "add_rows", lambda self, r, time_limit=None: (added.append(1), real_add(self, r))[1])
    solved: list[int] = []
    real = bound.lp_solve
    monkeypatch.setattr(bound, "lp_solve", lambda *a, **k: (solved.append(1), real(*a, **k))[1])
    for point, broken in ((with_them, False), (stays_lp(inst, model, cuts=False), True)):
        assert point is not None
        kept = KeptLP(form)
        assert kept.solve() is not None
        lp = reopt_stays.StaysLP(bound=point.bound, x=point.x, stays=point.stays, budget=None, form=(form, const),
                                 kept=kept)
        added.clear()
        solved.clear()
        value = rows_bound(inst, model, lp)
        assert lp.kept is None and lp.form is None
        assert solved == []
        if broken:
            assert lp.rows_broken and added == [1]
            assert value is not None and 19.0 - 1e-9 <= value <= 19.0 + 1e-3
        else:
            assert lp.rows_broken == 0 and added == []
            assert value == point.bound


def test_lp_child_gets_warm_rows() -> None:
    """Tests that the flag is among the settings the LP child takes from its parent."""
    assert "WARM_ROWS" in reopt_stays.SETTINGS
    assert parent_settings()["packer.cpsat.reopt_stays"]["WARM_ROWS"] is reopt_stays.WARM_ROWS


def test_add_rows_after_a_failed_solve_gives_none() -> None:
    """Tests that a KeptLP whose first solve did not run (no solver kept) answers None, so the caller keeps
    the plain bound."""
    kept = KeptLP(None)
    assert kept.add_rows([([0], [1.0], 0.0)]) is None


@pytest.mark.parametrize("warm", [True, False])
def test_budget_bound_takes_the_warm_path(monkeypatch: pytest.MonkeyPatch, warm: bool) -> None:
    """Tests what the LP child runs (BudgetBound.stays_lp with rows_later, then stays_rows) on the hand
    state: with WARM_ROWS the plain LP is solved by the kept solver and the rows' LP by its re-solve (no
    lp_solve at all, one add_rows); without, two cold lp_solve calls (session 23); the same plain bound and
    guide first, the same rows' bound after, either way."""
    monkeypatch.setattr(reopt_stays, "ROOM_CUTS", True)
    monkeypatch.setattr(reopt_stays, "ROOM_GUIDE", False)
    monkeypatch.setattr(reopt_stays, "WARM_ROWS", warm)
    added: list[int] = []
    real_add = KeptLP.add_rows
    monkeypatch.setattr(KeptLP, "add_rows", lambda self, r, time_limit=None: (added.append(1), real_add(self, r))[1])
    solved: list[int] = []
    real = bound.lp_solve
    monkeypatch.setattr(bound, "lp_solve", lambda *a, **k: (solved.append(1), real(*a, **k))[1])
    bb = reopt.BudgetBound(_hand())
    assert bb.stays_lp(None, rows_later=True) > 26.0
    assert bb.guide is not None
    assert bb.stays_rows(None) is True
    assert 19.0 - 1e-9 <= bb.stays[None] <= 19.0 + 1e-3
    assert (added, len(solved)) == (([1], 0) if warm else ([], 2))
