"""Tests of session 27's look at the fit offer without the variables budget (packer.cpsat.reopt_offer with
OFFER_FIT on and OFFER_BUDGET off): the offer keeps the step's size (never more than reopt.OFFER requests),
is the plain offer's rotation with the requests that cannot fit skipped, and equals the plain offer where
everything fits; the cost of the fit test is recorded per run; with OFFER_FIT off the offer code is never
entered."""

from __future__ import annotations

import random
import time

import pytest

from packer.cpsat import reopt, reopt_offer
from packer.generate import generate


@pytest.fixture()
def flags():  # type: ignore[no-untyped-def]
    old = reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET, reopt_offer.MEASURE, reopt_offer.LAST, reopt.OFFER
    yield
    reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET, reopt_offer.MEASURE, reopt_offer.LAST, reopt.OFFER = old


def _regions(family: str, seed: int, nodes: int, count: int):  # type: ignore[no-untyped-def]
    """(instance, waiting requests, [(region, aim)]) for ``count`` random regions of 2-6 nodes of a generated
    running cluster, each with a random waiting aim or none."""
    inst = generate(family, seed, nodes=nodes)
    running = [r for r in inst.requests if r.placement is not None]
    waiting = [r for r in inst.requests if r.placement is None]
    ids = [n.id for n in inst.nodes]
    rng = random.Random(seed)
    out = []
    for i in range(count):
        nodes_in = set(rng.sample(ids, rng.randint(2, 6)))
        region = reopt_offer.Region.of(inst, nodes_in, {}, running)
        aim = rng.choice(waiting) if i % 2 else None
        out.append((region, aim))
    return inst, waiting, out


def _reference(inst, region, rest, aim, draw: int, want: int):  # type: ignore[no-untyped-def]
    """The no-budget offer written out: the aim, then the plain offer's rotation (by priority, turned at
    ``draw``) with the requests that cannot fit skipped, until ``want`` requests."""
    out = [aim] if aim is not None else []
    pool = sorted((r for r in rest if aim is None or r.id != aim.id), key=lambda r: (-r.priority, r.id))
    for r in pool[draw:] + pool[:draw]:
        if len(out) >= want:
            break
        if reopt_offer.fit(inst, region, r)[0]:
            out.append(r)
    return out


@pytest.mark.parametrize("family", ["fragmented", "haein"])
def test_no_budget_offer_is_the_plain_rotation_without_what_cannot_fit(flags, family) -> None:  # type: ignore[no-untyped-def]
    """Tests on random regions of two generated running clusters that with OFFER_BUDGET off the fit offer
    never holds more than ``want`` (= reopt.OFFER) requests, is the reference (the plain offer's rotation
    with the requests that cannot fit skipped), draws from the stream exactly as reopt._offer, and that
    it differs from the plain offer somewhere (the regions do reject requests)."""
    reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET = True, False
    inst, waiting, cases = _regions(family, 1, 24, 30)
    differs = 0
    for k, (region, aim) in enumerate(cases):
        rng, ref = random.Random(k), random.Random(k)
        got = reopt_offer.offer(inst, region, waiting, aim, rng, reopt.OFFER, len(region.nodes), reopt.OFFER)
        plain = reopt._offer(waiting, aim, ref)
        assert len(got) <= reopt.OFFER
        assert rng.getstate() == ref.getstate()
        draw = random.Random(k).randrange(len([r for r in waiting if aim is None or r.id != aim.id]))
        assert [r.id for r in got] == [r.id for r in _reference(inst, region, waiting, aim, draw, reopt.OFFER)]
        assert all(reopt_offer.fit(inst, region, r)[0] for r in (got if aim is None else got[1:]))
        assert reopt_offer.LAST is not None and reopt_offer.LAST["tested"] >= len(got) - int(aim is not None)
        differs += [r.id for r in got] != [r.id for r in plain]
    assert differs > 0


def test_no_budget_offer_equals_the_plain_offer_where_everything_fits(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests on random regions of a generated fragmented cluster that where the waiting list holds only
    requests that fit the region, the no-budget fit offer is reopt._offer's list (same requests, same
    order) and leaves the rng in the same state; and that the budget's offer there is longer (so the
    comparison is not one the budget would pass too)."""
    reopt_offer.OFFER_FIT = True
    inst, waiting, cases = _regions("fragmented", 2, 24, 20)
    longer = 0
    for k, (region, aim) in enumerate(cases):
        fits = [r for r in waiting if reopt_offer.fit(inst, region, r)[0]]
        if aim is not None and aim not in fits:
            aim = None
        if len(fits) <= reopt.OFFER:
            continue
        rng, ref = random.Random(k), random.Random(k)
        reopt_offer.OFFER_BUDGET = False
        got = reopt_offer.offer(inst, region, fits, aim, rng, reopt.OFFER, len(region.nodes), reopt.OFFER)
        plain = reopt._offer(fits, aim, ref)
        assert [r.id for r in got] == [r.id for r in plain]
        assert rng.getstate() == ref.getstate()
        assert reopt_offer.LAST is not None and not reopt_offer.LAST["changed"] and reopt_offer.LAST["skipped"] == 0
        reopt_offer.OFFER_BUDGET = True
        more = reopt_offer.offer(inst, region, fits, aim, random.Random(k), reopt.OFFER, len(region.nodes),
                                 reopt.OFFER)
        longer += len(more) > len(got)
    assert longer > 0


def test_move_steps_no_budget_keeps_the_step_size_and_records_the_fit_cost(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests that a deterministic run of move steps with the no-budget fit offer offers at most reopt.OFFER
    requests a CP-SAT step, tests at least what it offers (the aim aside), and records the seconds of its
    fit tests (region room and tests: more than nothing, less than the run)."""
    inst = generate("fragmented", 0, nodes=16)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET = True, False
    t0 = time.perf_counter()
    _got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                   max_steps=4, det=0.2, pack=False)
    wall = time.perf_counter() - t0
    rec = stats["offer"]
    assert rec["steps"] >= 1
    assert rec["offered"] <= reopt.OFFER * rec["steps"]
    assert rec["tested"] >= rec["offered"] - rec["steps"]
    assert 0.0 < rec["fit_s"] < wall


def test_off_never_enters_the_offer_code(flags, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that with OFFER_FIT off (and no measurement) a run of move steps never builds a fit region nor
    calls the fit offer, and records no offer stats: its draws and plans are those of the plain offer."""
    inst = generate("fragmented", 0, nodes=16)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    reopt_offer.OFFER_FIT, reopt_offer.MEASURE = False, None

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("the fit offer's code ran with OFFER_FIT off")

    monkeypatch.setattr(reopt_offer.Region, "of", classmethod(boom))
    monkeypatch.setattr(reopt_offer, "offer", boom)
    monkeypatch.setattr(reopt_offer, "fit", boom)
    _got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                   max_steps=3, det=0.2, pack=False)
    assert stats["steps"] >= 1 and "offer" not in stats


def test_bench_arms_name_the_budget_off(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests the A/B harness's arms (bench/bench_reopt_gang.py ``_set_arm``): in the three-arm run the third
    arm is the fit offer without its budget, and ``!MODULE.NAME`` names a flag off in its arm."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
    from bench_reopt_gang import _set_arm

    three = "none|reopt_offer.OFFER_FIT+reopt_offer.OFFER_BUDGET|reopt_offer.OFFER_FIT"
    two = "none|reopt_offer.OFFER_FIT+!reopt_offer.OFFER_BUDGET"
    got = []
    for arms in (three, two):
        for arm in arms.split("|"):
            reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET = None, None  # type: ignore[assignment]
            _set_arm(arms, arm)
            got.append((reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET))
    assert got == [(False, False), (True, True), (True, False), (False, False), (True, False)]
