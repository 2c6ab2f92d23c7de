"""Tests of session 23's rounded room rows (packer.cpsat.room_cuts) in the stays LP: a hand-made running
state where the LP without them splits rack gangs over racks and exceeds the exact optimum, equal to it
with them; hypothesis over small running states (2-6 nodes, 2 racks, whole-GPU gangs with rack or node
locality, running work pinned and movable): every row holds at the exact plan, the LP with the rows is
at least the exact optimum and at most the LP without them."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_stays, solve
from packer.cpsat.reopt_late import LateBounds
from packer.cpsat.reopt_stays import stays_form, stays_lp
from packer.cpsat.room_cuts import room_cuts
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit

H100 = "H100-80GB"


def _hand() -> Instance:
    """Two racks of two 4-GPU nodes; one pinned 1-GPU job in each rack (7 free GPUs a rack, one of them
    under a movable job); three 4-GPU rack gangs wait. A plan fits one gang a rack (7 < 8); the LP
    fits 1.75 a rack, so all three."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": f"r{i // 2}"})
             for i in range(4)]
    reqs = [Request(id="pin0", kind="gpu", count=1, tenant="t", placement=(Unit(node="n0", gpu=0),)),
            Request(id="pin2", kind="gpu", count=1, tenant="t", placement=(Unit(node="n2", gpu=0),)),
            Request(id="job", kind="gpu", count=1, tenant="t", placement=(Unit(node="n1", gpu=0),), movable=True,
                    migration_cost=0.1)]
    reqs += [Request(id=f"gang{k}", kind="gpu", count=4, priority=2.0, tenant="g",
                     locality=Locality(level="rack", required=True)) for k in range(3)]
    return Instance(name="hand", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="t"), Tenant(id="g")))


def test_rows_close_the_hand_state() -> None:
    """Tests that without the rows the stays LP places all three gangs (27, above the optimum 19) and
    with them exactly the optimum: one row per rack, Σ within ≤ floor(7 / 4) = 1."""
    inst = _hand()
    model = reopt.repack_model(inst)
    rows = room_cuts(model)
    assert sorted(ub for _i, _c, ub in rows) == [1.0, 1.0]
    off = stays_lp(inst, model, cuts=False)
    on = stays_lp(inst, model, cuts=True)
    assert off is not None and on is not None
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert exact.status == "optimal" and check(inst, exact).ok
    assert abs(exact.objective - 19.0) < 1e-9
    assert off.bound > exact.objective + 7.9
    assert exact.objective - 1e-9 <= on.bound <= exact.objective + 1e-3


def test_two_solves_give_the_rows_bound_and_the_plain_guide() -> None:
    """Tests the two solves: the LP without the rows is solved first (its solution is returned: all three
    gangs placed), its broken rows counted, and the bound is the rows' LP's (the optimum 19)."""
    inst = _hand()
    model = reopt.repack_model(inst)
    plain = stays_lp(inst, model, cuts=False)
    two = stays_lp(inst, model, cuts=True)
    assert plain is not None and two is not None
    assert two.rows_broken is not None and two.rows_broken >= 1
    assert 19.0 - 1e-9 <= two.bound <= 19.0 + 1e-3
    assert list(two.x) == list(plain.x) and two.stays == plain.stays
    placed = sum(two.x[v.index] for (gi, _d), v in model.vars.within.items())
    assert placed > 2.9  # the plain LP's three gangs: the guide's


def test_no_row_where_rounding_loses_nothing() -> None:
    """Tests that a rack whose free GPUs are a multiple of the gang size gets no row (the LP's capacity
    rows imply it), and that the flag off leaves the form as it was."""
    inst = _hand()
    reqs = [r for r in inst.requests if not r.id.startswith("pin")]
    inst = inst.replace(requests=tuple(reqs))  # 8 free GPUs a rack
    model = reopt.repack_model(inst)
    assert room_cuts(model) == []
    a_off = stays_form(inst, model, cuts=False)[0][1]
    a_on = stays_form(inst, model, cuts=True)[0][1]
    assert a_off.shape == a_on.shape


@st.composite
def _states(draw):  # type: ignore[no-untyped-def]
    n = draw(st.integers(2, 6))
    per = draw(st.sampled_from([4, 8]))
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=per, mode="full", domains={"rack": f"r{i * 2 // n}"})
             for i in range(n)]
    reqs: list[Request] = []
    for i in range(n):
        k = draw(st.integers(0, per - 1))
        for g in range(k):
            mv = draw(st.booleans())
            reqs.append(Request(id=f"run{i}-{g}", kind="gpu", count=1, tenant="t", placement=(Unit(node=f"n{i}", gpu=g),),
                                movable=mv, migration_cost=0.2 if mv else None))
    for k in range(draw(st.integers(1, 4))):
        size = draw(st.sampled_from([2, 3, 4, 6, 8]))
        level = draw(st.sampled_from(["rack", "rack", "node"]))
        if level == "node":
            size = min(size, per)
        mn = draw(st.sampled_from([None, None, max(1, size - 1)]))
        reqs.append(Request(id=f"gang{k}", kind="gpu", count=size, min_count=mn, tenant="g",
                            priority=draw(st.sampled_from([1.0, 2.0])), locality=Locality(level=level, required=True)))
    for k in range(draw(st.integers(0, 3))):
        reqs.append(Request(id=f"one{k}", kind="gpu", count=1, tenant="t"))
    return Instance(name="rooms", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="t"), Tenant(id="g")))


def _hinted(model, plan) -> dict[int, int]:  # type: ignore[no-untyped-def]
    model.hint(plan)
    h = model.model.proto.solution_hint
    return dict(zip(h.vars, h.values, strict=True))


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(inst=_states())
def test_rows_never_cut_a_plan(inst: Instance) -> None:
    """Tests that every row holds at the exact plan's domain choices, and that the stays LP with the
    rows is at least the exact plan's objective (its proven optimum) and at most the LP without them."""
    model = reopt.repack_model(inst)
    if model is None:
        return
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok
    vals = _hinted(model, exact)
    for idxs, coefs, ub in room_cuts(model):
        assert sum(c * vals.get(i, 0) for i, c in zip(idxs, coefs, strict=True)) <= ub + 1e-9
    off = stays_lp(inst, model, cuts=False)
    on = _with_rows(inst, model)
    two = stays_lp(inst, model, cuts=True)
    assert off is not None and on is not None and two is not None
    assert on <= off.bound + 1e-6  # HiGHS answers the same LP value to ~1e-7 with rows that do not bind
    assert on >= exact.objective - 1e-6
    assert abs(two.bound - on) <= 1e-3  # the same LP with the rows, solved second or alone


def test_lp_child_takes_the_parents_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the LP child process (reopt_late.LateBounds, where a timed run's bound comes from) uses
    the parent's reopt_stays.ROOM_CUTS: on the hand state, with the flag set in this process only, its
    stays bound is the optimum 19 (a fresh interpreter would import the default, off: 27)."""
    monkeypatch.setattr(reopt_stays, "ROOM_CUTS", not reopt_stays.ROOM_CUTS)
    inst = _hand()
    bb = reopt.BudgetBound(inst)
    LateBounds(bb, None, time.time() + 30.0).finish(30.0)
    assert None in bb.stays
    if reopt_stays.ROOM_CUTS:
        assert 19.0 - 1e-9 <= bb.stays[None] <= 19.0 + 1e-3
    else:
        assert bb.stays[None] > 26.0


def test_budget_bound_gives_the_plain_guide_then_the_rows_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests BudgetBound with ROOM_CUTS (what the LP child runs): stays_lp with
    rows_later sets the plain LP's bound (27) and guide, stays_rows then lowers the bound to the rows'
    LP's (19) and records the broken rows; a second stays_rows has nothing left to do; without
    rows_later both come at once."""
    monkeypatch.setattr(reopt_stays, "ROOM_CUTS", True)
    inst = _hand()
    bb = reopt.BudgetBound(inst)
    assert bb.stays_lp(None, rows_later=True) > 26.0
    assert bb.guide is not None
    assert bb.stays_rows(None) is True
    assert 19.0 - 1e-9 <= bb.stays[None] <= 19.0 + 1e-3
    assert (bb.stays_rows_broken[None] or 0) >= 1
    assert bb.stays_rows(None) is False
    assert 19.0 - 1e-9 <= reopt.BudgetBound(inst).stays_lp(None) <= 19.0 + 1e-3


def _with_rows(inst: Instance, model) -> float | None:  # type: ignore[no-untyped-def]
    """The stays LP with the room rows in one solve (the bound the two solves must give)."""
    from packer.cpsat.bound import lp_solve
    from packer.cpsat.proof import padded_bound

    got = stays_form(inst, model, cuts=True)
    if got is None:
        return None
    form, _col, const = got
    res = lp_solve(model.model, form=form)
    return None if res is None else padded_bound(model, res[0] + const)


def test_no_broken_row_solves_nothing_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests rows_bound's skipped case: handed a point that breaks no room row (the hand state's LP solved
    with the rows), it solves nothing again and returns the bound it was given; handed the plain point (3
    gangs placed) it solves the rows' LP once, cold, to the optimum 19. (Session 24's test, without its kept
    solver, moved here from test_frag24_rows.py when reopt_stays.WARM_ROWS was removed in session 27.)"""
    from packer.cpsat import bound
    from packer.cpsat.reopt_stays import rows_bound, violated, with_rows

    inst = _hand()
    model = reopt.repack_model(inst)
    rows = room_cuts(model)
    form, _col, const = stays_form(inst, model, cuts=False)
    res = bound.lp_solve(model.model, form=with_rows(form, rows))
    assert res is not None
    x_rows = res[1][:len(res[1]) - len(_col)]
    assert violated(rows, x_rows) == 0
    plain = stays_lp(inst, model, cuts=False)
    assert plain is not None
    solved: list[int] = []
    real = bound.lp_solve
    monkeypatch.setattr(bound, "lp_solve", lambda *a, **k: (solved.append(1), real(*a, **k))[1])
    for x, broken in ((x_rows, False), (plain.x, True)):
        lp = reopt_stays.StaysLP(bound=plain.bound, x=x, stays=plain.stays, budget=None, form=(form, const))
        solved.clear()
        value = rows_bound(inst, model, lp)
        assert lp.form is None
        if broken:
            assert lp.rows_broken and solved == [1]
            assert value is not None and 19.0 - 1e-9 <= value <= 19.0 + 1e-3
        else:
            assert lp.rows_broken == 0 and solved == []
            assert value == plain.bound
