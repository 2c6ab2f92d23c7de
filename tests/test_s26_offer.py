"""Tests of session 26's fit offer (packer.cpsat.reopt_offer): a CP-SAT move step's offer skips the waiting
requests that cannot fit its region; the test is a necessary condition (what a sub-solve places passed it);
where every request fits, the offer and the step's random stream are those of off."""

from __future__ import annotations

import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt, reopt_offer
from packer.cpsat.search import solve_monolithic
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Tenant, Unit
from packer.plans import objective_value


@pytest.fixture()
def flags():  # type: ignore[no-untyped-def]
    old = reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET, reopt_offer.MEASURE, reopt.OFFER
    yield
    reopt_offer.OFFER_FIT, reopt_offer.OFFER_BUDGET, reopt_offer.MEASURE, reopt.OFFER = old


def _state(family: str = "fragmented", seed: int = 0, nodes: int = 16):  # type: ignore[no-untyped-def]
    inst = generate(family, seed, nodes=nodes)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    waiting = [r for r in inst.requests if r.placement is None]
    return inst, placed, waiting


def _region_of(sub: Instance) -> reopt_offer.Region:
    """The region of a sub-instance (its nodes carry the fixed modes; its running work is pinned or free)."""
    return reopt_offer.Region.of(sub, {n.id for n in sub.nodes}, {}, sub.requests)


@pytest.mark.parametrize("family", ["fragmented", "hetero"])
def test_fit_is_necessary_what_a_sub_solve_places_passed_it(flags, family) -> None:  # type: ignore[no-untyped-def]
    """Tests on regions of a running cluster, every waiting request offered, that each request the CP-SAT
    sub-solve places passes :func:`reopt_offer.fit`, and that the test rejects some requests (it is not
    trivially true)."""
    inst, placed, waiting = _state(family, 1)
    if family == "hetero":  # no running work: place some work first with a short solve, then free it
        placed = {}
    reopt.OFFER = 10_000
    ids = [n.id for n in inst.nodes]
    rng = random.Random(0)
    rejected = placed_n = 0
    for k in (2, 3, 5):
        region = set(rng.sample(ids, k))
        sub, hint, unc = reopt._sub_instance(inst, placed, region, None, waiting, None, random.Random(1))
        reg = _region_of(sub)
        verdict = {r.id: reopt_offer.fit(sub, reg, r)[0] for r in sub.requests if r.placement is None}
        rejected += sum(1 for v in verdict.values() if not v)
        plan = solve_monolithic(sub, hint, seed=0, workers=1, start=time.perf_counter(), left=lambda: 10.0,
                                info={}, lp=False, uncounted=unc, det=0.5)
        for a in plan.assignments:
            if a.request in verdict:
                placed_n += 1
                assert verdict[a.request], a.request
    assert rejected > 0 and placed_n > 0


def _tiny(waiting_n: int = 6) -> Instance:
    """Four nodes of eight A100s in mode 'any', one tenant, a few running 1-GPU jobs, small waiting work:
    every waiting request fits every region that holds a free GPU."""
    nodes = tuple(Node(id=f"n{i}", gpu_model="A100-80GB", num_gpus=8, mode="any", domains={"rack": f"r{i // 2}"})
                  for i in range(4))
    reqs = [Request(id=f"run{i}", kind="gpu", count=1, placement=(Unit(node=f"n{i % 4}", gpu=i // 4),),
                    movable=True, migration_cost=0.1) for i in range(8)]
    reqs += [Request(id=f"w{i}", kind="gpu", count=1 + i % 2, priority=1.0 + (i % 3)) for i in range(waiting_n)]
    from packer.model import Topology

    return Instance(name="tiny", topology=Topology(levels=("node", "rack")), nodes=nodes,
                    tenants=(Tenant(id="default"),), requests=tuple(reqs))


def test_offer_where_everything_fits_is_the_plain_offer(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests that where every waiting request fits the region, the fit offer (budget off, or fewer waiting
    requests than OFFER) is reopt._offer's list and leaves the rng in the same state."""
    inst = _tiny(30)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    waiting = [r for r in inst.requests if r.placement is None]
    region = {"n0", "n1"}
    for budget, offer_n in ((False, 20), (True, 40)):
        reopt_offer.OFFER_BUDGET = budget
        reopt.OFFER = offer_n
        outs = []
        for on in (False, True):
            reopt_offer.OFFER_FIT = on
            rng = random.Random(5)
            sub, hint, unc = reopt._sub_instance(inst, placed, region, None, waiting, waiting[3], rng)
            outs.append(([r.id for r in sub.requests], hint.assignments, unc, rng.random()))
        assert outs[0] == outs[1]


def test_offer_skips_what_cannot_fit_and_keeps_the_draw(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests that requests that cannot fit (a model the region lacks; more GPUs than it has) are never
    offered, that the aim is kept, that the rng draws as the plain offer does, and that with OFFER_BUDGET
    more than OFFER fitting requests may be offered but never beyond the variables budget."""
    inst = _tiny(0)
    extra = [Request(id=f"h{i}", kind="gpu", count=1, gpu_models=("H100",)) for i in range(10)]
    extra += [Request(id=f"big{i}", kind="gpu", count=16, locality=None) for i in range(5)]
    extra += [Request(id=f"ok{i}", kind="gpu", count=1, priority=0.5) for i in range(30)]
    inst = inst.model_copy(update={"requests": inst.requests + tuple(extra)})
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    waiting = [r for r in inst.requests if r.placement is None]
    region = {"n0"}
    reopt.OFFER = 8
    reopt_offer.OFFER_FIT = True
    for budget in (False, True):
        reopt_offer.OFFER_BUDGET = budget
        rng, ref = random.Random(2), random.Random(2)
        aim = next(r for r in waiting if r.id == "h3")
        sub, _h, _u = reopt._sub_instance(inst, placed, region, None, waiting, aim, rng)
        reopt._offer(waiting, aim, ref)
        assert rng.random() == ref.random()
        got = [r.id for r in sub.requests if r.placement is None]
        assert got[0] == "h3"
        assert not any(g.startswith("big") or (g.startswith("h") and g != "h3") for g in got)
        if budget:  # identical 1-GPU requests are one group: the budget (8 × 1 node) lets all 30 in
            assert len(got) == 31
        else:
            assert len(got) == 8


def test_move_steps_with_the_fit_offer(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests that a deterministic run of move steps with OFFER_FIT gives a checked plan not worse than its
    start and records its offers; and that on the tiny cluster where every request fits every region and
    fewer than OFFER wait, its plan is the plan of OFFER_FIT off."""
    inst, placed, _waiting = _state()
    start = objective_value(inst, placed)
    reopt_offer.OFFER_FIT = True
    got, stats = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                  max_steps=4, det=0.2, pack=False)
    assert check(inst, reopt._plan(inst, got, bound=None, seed=0, wall_s=0.0, info={})).ok
    assert objective_value(inst, got) >= start - 1e-9
    assert stats["offer"]["steps"] >= 1 and stats["offer"]["skipped"] > 0
    tiny = _tiny(6)
    tplaced = {r.id: list(r.placement) for r in tiny.requests if r.placement is not None}
    plans = []
    for on in (False, True):
        reopt_offer.OFFER_FIT = on
        got, _s = reopt.move_steps(tiny, tplaced, cap=None, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                   max_steps=3, det=0.2, pack=False)
        plans.append(got)
    assert plans[0] == plans[1]


def test_why_names_the_reason(flags) -> None:  # type: ignore[no-untyped-def]
    """Tests that reopt_offer.why names a model the region lacks, a size above its room, a required locality
    no domain holds, and "" for a request that fits."""
    inst = _tiny(0)
    extra = (Request(id="h", kind="gpu", count=1, gpu_models=("H100",)), Request(id="big", kind="gpu", count=16),
             Request(id="rack", kind="gpu", count=9, locality=Locality(level="node", required=True)),
             Request(id="ok", kind="gpu", count=2))
    inst = inst.model_copy(update={"requests": inst.requests + extra})
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    region = reopt_offer.Region.of(inst, {"n0", "n1"}, {}, [r for r in inst.requests if r.placement is not None])
    assert region.room == 16 - 4  # four running 1-GPU jobs on n0 / n1 stay inside
    got = {r.id: reopt_offer.why(inst, region, r) for r in extra}
    assert got == {"h": "model", "big": "size", "rack": "locality", "ok": ""}
    assert placed
