"""The time split of issue 20's huge solves: the hint's budget and the re-optimizer's no-move share
follow the online placer's estimate (timeplan.hint_s). No test reads the wall clock for a figure:
solves are replaced by recorders of the limits they are given."""

from __future__ import annotations

import pytest

from packer.generate import generate


class Stop(Exception):
    """Raised by a recorder once it has what the test needs."""


def test_hint_estimate_counts_new_requests_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that hint_s is the per-request cost times the new requests, plus set-up, over the placer's share."""
    from packer.cpsat import timeplan, tuning

    inst = generate("haein", 0, nodes=16)
    new = sum(1 for r in inst.requests if r.placement is None)
    assert 0 < new < len(inst.requests)
    monkeypatch.setattr(tuning, "HINT_S_PER_REQUEST", 0.01)
    monkeypatch.setattr(tuning, "HINT_SETUP_S", 2.0)
    assert timeplan.hint_s(inst) == pytest.approx((2.0 + 0.01 * new) / tuning.HINT_PLACER_SHARE)


def test_hint_need_counts_greedy_only_where_both_placers_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the hint's need adds greedy's estimate (over its share) only where online and greedy
    together fit in HINT_MAX_SHARE of the time."""
    from packer.cpsat import timeplan, tuning

    inst = generate("haein", 0, nodes=16)
    new = sum(1 for r in inst.requests if r.placement is None)
    assert timeplan.greedy_s(inst) == pytest.approx(tuning.GREEDY_S_PER_PAIR * new * len(inst.nodes))
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 20.0)
    monkeypatch.setattr(timeplan, "greedy_s", lambda _inst: 40.0)
    both = 20.0 + 40.0 / tuning.HINT_PLACER_SHARE
    assert timeplan.hint_need_s(inst, both / tuning.HINT_MAX_SHARE) == pytest.approx(both)
    assert timeplan.hint_need_s(inst, both / tuning.HINT_MAX_SHARE - 1.0) == pytest.approx(20.0)


def test_greedy_is_not_started_on_a_huge_instance_where_its_estimate_exceeds_its_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that on an online-first instance greedy runs only when its estimate fits its limit."""
    import time

    import packer.greedy.solver as greedy
    import packer.online.solver as online
    from packer.cpsat import tuning
    from packer.cpsat.hints import placer_plans

    monkeypatch.setattr(greedy, "solve", lambda inst, **kw: "greedy")
    monkeypatch.setattr(online, "solve", lambda inst, **kw: "online")
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    inst = generate("haein", 0, nodes=8)
    import packer.cpsat.hints as hints

    monkeypatch.setattr(hints, "greedy_s", lambda _inst: 1e6)
    assert list(placer_plans(inst, 0, deadline=time.perf_counter() + 1000.0)) == ["online"]
    monkeypatch.setattr(hints, "greedy_s", lambda _inst: 1.0)
    assert list(placer_plans(inst, 0, deadline=time.perf_counter() + 1000.0)) == ["online", "greedy"]
    assert list(placer_plans(inst, 0, deadline=None)) == ["online", "greedy"]  # no limit: both run


def test_hint_budget_follows_the_estimate_between_its_two_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an online-first instance's hint gets its estimate, at least HINT_SHARE and at most
    HINT_MAX_SHARE of the time; any other instance HINT_SHARE, whatever the estimate."""
    from packer.cpsat import timeplan, tuning

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 70.0)
    monkeypatch.setattr(timeplan, "greedy_s", lambda _inst: 1e6)  # never fits: the online estimate alone
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 10**12)
    assert not timeplan.online_first(inst)
    assert timeplan.hint_budget(inst, 100.0) == pytest.approx(tuning.HINT_SHARE * 100.0)
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    assert timeplan.online_first(inst)
    assert timeplan.hint_budget(inst, 100.0) == pytest.approx(70.0)
    assert timeplan.hint_budget(inst, 1000.0) == pytest.approx(tuning.HINT_SHARE * 1000.0)
    assert timeplan.hint_budget(inst, 50.0) == pytest.approx(tuning.HINT_MAX_SHARE * 50.0)


def test_solve_hands_the_hint_its_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that cpsat.solve gives the hint placers the budget of timeplan.hint_budget."""
    import packer.cpsat.solver as solver
    from packer.cpsat import timeplan, tuning

    got: list[float | None] = []

    def record(inst, seed, budget, online=True, **_kw):  # type: ignore[no-untyped-def]
        got.append(budget)
        raise Stop

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 70.0)
    monkeypatch.setattr(timeplan, "greedy_s", lambda _inst: 1e6)
    monkeypatch.setattr(solver, "fast_hint", record)
    with pytest.raises(Stop):
        solver.solve(inst, time_limit=100.0, workers=2)
    assert got == [pytest.approx(70.0)]  # between HINT_SHARE and HINT_MAX_SHARE of the ~100 s left


@pytest.mark.parametrize("decomposed", [False, True])
def test_reoptimize_gives_a_decomposed_instance_s_no_move_solve_all_but_its_final_reserve(
        monkeypatch: pytest.MonkeyPatch, decomposed: bool) -> None:
    """Tests the re-optimizer's split: PINNED_SHARE for the no-move solve, or on instances solved by
    decomposition the whole limit but the conversion of its plan and the re-optimizer's reserve."""
    import packer.cpsat as cpsat
    from packer.cpsat import reopt, tuning

    limits: list[float | None] = []

    def record(inst, *, time_limit=None, **kwargs):  # type: ignore[no-untyped-def]
        limits.append(time_limit)
        raise Stop

    inst = generate("haein", 0, nodes=16)
    if decomposed:
        monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
        monkeypatch.setattr(reopt, "BLOCKS", False)  # the arm without block steps
    monkeypatch.setattr(cpsat, "solve", record)
    with pytest.raises(Stop):
        reopt.reoptimize(inst, time_limit=600.0)
    want = 600.0 - reopt._final_s(inst) - reopt._reserve(inst) if decomposed else reopt.PINNED_SHARE * 600.0
    assert limits == [pytest.approx(want)]


def test_the_no_move_solve_s_hint_then_gets_its_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the chain on an online-first running instance: reoptimize -> no-move solve -> the hint
    placers get the online placer's estimate (greedy's does not fit)."""
    import packer.cpsat.solver as solver
    from packer.cpsat import reopt, timeplan, tuning

    got: list[float | None] = []

    def record(inst, seed, budget, online=True, **_kw):  # type: ignore[no-untyped-def]
        got.append(budget)
        raise Stop

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 400.0)
    monkeypatch.setattr(timeplan, "greedy_s", lambda _inst: 1e6)
    monkeypatch.setattr(solver, "fast_hint", record)
    with pytest.raises(Stop):
        reopt.reoptimize(inst, time_limit=600.0, budget=0)  # budget 0: the no-move solve, never block steps
    assert got == [pytest.approx(400.0)]


def test_block_steps_start_from_the_pinned_hint_with_its_estimate(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with moves allowed on a decomposed instance the start is the fast placers' plan of the
    pinned instance, given the online placer's estimate, not the no-move CP-SAT solve."""
    import packer.cpsat as cpsat
    import packer.cpsat.hints as hints
    from packer.cpsat import reopt, timeplan, tuning

    got: list[tuple[int, float | None]] = []

    def record(inst, seed, budget, online=True, **_kw):  # type: ignore[no-untyped-def]
        got.append((sum(1 for r in inst.requests if r.movable), budget))
        raise Stop

    def no_solve(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("the no-move CP-SAT solve ran")

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 400.0)
    monkeypatch.setattr(timeplan, "greedy_s", lambda _inst: 1e6)
    monkeypatch.setattr(hints, "hint_plan", record)
    monkeypatch.setattr(cpsat, "solve", no_solve)
    with pytest.raises(Stop):
        reopt.reoptimize(inst, time_limit=600.0)
    assert got == [(0, pytest.approx(400.0))]  # the pinned instance: nothing movable
