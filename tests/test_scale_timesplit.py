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


def test_hint_budget_follows_the_estimate_between_its_two_shares(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an online-first instance's hint gets its estimate, at least HINT_SHARE and at most
    HINT_MAX_SHARE of the time; any other instance HINT_SHARE, whatever the estimate."""
    from packer.cpsat import timeplan, tuning

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 70.0)
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

    def record(inst, seed, budget, online=True):  # type: ignore[no-untyped-def]
        got.append(budget)
        raise Stop

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: 70.0)
    monkeypatch.setattr(solver, "fast_hint", record)
    with pytest.raises(Stop):
        solver.solve(inst, time_limit=100.0, workers=2)
    assert got == [pytest.approx(70.0)]  # between HINT_SHARE and HINT_MAX_SHARE of the ~100 s left


@pytest.mark.parametrize(("estimate", "share"), [(1.0, 0.2), (170.0, None), (900.0, 0.6)])
def test_reoptimize_gives_the_no_move_plan_what_its_hint_needs(monkeypatch: pytest.MonkeyPatch, estimate: float,
                                                               share: float | None) -> None:
    """Tests the re-optimizer's split: the no-move solve gets PINNED_SHARE, or enough for its hint's
    estimate to fit in HINT_MAX_SHARE of it, at most NO_MOVE_MAX_SHARE of the limit."""
    import packer.cpsat as cpsat
    from packer.cpsat import reopt, timeplan, tuning

    limits: list[float | None] = []

    def record(inst, *, time_limit=None, **kwargs):  # type: ignore[no-untyped-def]
        limits.append(time_limit)
        raise Stop

    inst = generate("haein", 0, nodes=16)
    monkeypatch.setattr(tuning, "ONLINE_HINT_ABOVE", 0)
    monkeypatch.setattr(timeplan, "hint_s", lambda _inst: estimate)
    monkeypatch.setattr(cpsat, "solve", record)
    with pytest.raises(Stop):
        reopt.reoptimize(inst, time_limit=600.0)
    want = share if share is not None else (estimate / tuning.HINT_MAX_SHARE + tuning.RESERVE_S) / 600.0
    assert want == pytest.approx(reopt.PINNED_SHARE) or reopt.PINNED_SHARE < want <= tuning.NO_MOVE_MAX_SHARE
    assert limits == [pytest.approx(want * 600.0)]
    # The hint inside that solve then gets its whole estimate (or the cap).
    if share is None:
        assert timeplan.hint_budget(inst, limits[0] - tuning.RESERVE_S) == pytest.approx(estimate)
