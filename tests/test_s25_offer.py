"""Tests of session 25's LP offer (packer.cpsat.reopt.OFFER_LP): a CP-SAT move step offers first the
waiting requests the stays LP's guide puts on the step's region, dearest first; where the guide puts no
waiting work there the sub-instance (and every draw) is the one without it."""

from __future__ import annotations

import random
import time

import pytest

from packer.check import check
from packer.cpsat import reopt
from packer.cpsat.lpguide import Guide
from packer.generate import generate
from packer.plans import objective_value


@pytest.fixture()
def offer_lp():  # type: ignore[no-untyped-def]
    old = reopt.OFFER_LP, reopt.OFFER
    yield
    reopt.OFFER_LP, reopt.OFFER = old


def _state():  # type: ignore[no-untyped-def]
    inst = generate("fragmented", 0, nodes=16)
    placed = {r.id: list(r.placement) for r in inst.requests if r.placement is not None}
    waiting = [r for r in inst.requests if r.placement is None]
    return inst, placed, waiting


def _offered(sub, placed) -> list[str]:  # type: ignore[no-untyped-def]
    return [r.id for r in sub.requests if r.id not in placed]


def test_lp_offer_ranks_by_priority_times_units_in_the_region() -> None:
    """Tests that _lp_offer keeps only requests the guide puts on the region's nodes, orders them by
    priority × the LP's units there (highest first), and skips ``seen``."""
    inst, _placed, waiting = _state()
    a, b, c, d = waiting[:4]
    nodes = [n.id for n in inst.nodes]
    guide = Guide(nodes={a.id: {nodes[0]: 1.0}, b.id: {nodes[0]: 3.0, nodes[5]: 9.0}, c.id: {nodes[5]: 4.0},
                         d.id: {nodes[1]: 2.0}})
    got = reopt._lp_offer(guide, waiting, {nodes[0], nodes[1]}, seen={d.id})
    want = sorted([(a.priority * 1.0, a.id), (b.priority * 3.0, b.id)], key=lambda x: (-x[0], x[1]))
    assert [r.id for r in got] == [rid for _v, rid in want]
    assert reopt._lp_offer(guide, waiting, {nodes[2]}, seen=set()) == []


def test_sub_instance_offers_the_lp_work_first_and_is_unchanged_without_it(offer_lp) -> None:  # type: ignore[no-untyped-def]
    """Tests that with OFFER_LP the waiting requests the guide puts on the region are offered (even
    where the random slice would leave them out: OFFER small), the aim too, and at most OFFER in all;
    with a guide that puts nothing on the region, or no guide, the sub-instance and the rng's state
    are those of OFFER_LP off."""
    inst, placed, waiting = _state()
    assert len(waiting) > 6
    region = {n.id for n in inst.nodes[:4]}
    far = inst.nodes[-1].id
    target = waiting[-1]  # lowest priority last: the slice from a random start rarely reaches it at OFFER 4
    aim = waiting[0]
    guide = Guide(nodes={target.id: {next(iter(sorted(region))): 2.0}})
    reopt.OFFER = 4
    reopt.OFFER_LP = True
    sub, _h, _u = reopt._sub_instance(inst, placed, region, None, waiting, aim, random.Random(1), guide=guide)
    got = _offered(sub, placed)
    assert target.id in got and aim.id in got and len(got) <= 4
    assert got[0] == target.id
    for g in (Guide(nodes={target.id: {far: 2.0}}), None):
        outs = []
        for on in (False, True):
            reopt.OFFER_LP = on
            rng = random.Random(3)
            sub, hint, unc = reopt._sub_instance(inst, placed, region, None, waiting, aim, rng, guide=g)
            outs.append((_offered(sub, placed), [r.id for r in sub.requests], hint.assignments, unc, rng.random()))
        assert outs[0] == outs[1]


def test_move_steps_with_the_lp_offer_give_valid_better_plans(offer_lp) -> None:  # type: ignore[no-untyped-def]
    """Tests that a deterministic run of move steps with OFFER_LP and a guide that places waiting work
    on the cluster gives a plan the checker passes, not worse than the start, and that a guide placing no
    waiting work gives the plan of OFFER_LP off step for step."""
    inst, placed, waiting = _state()
    nodes = [n.id for n in inst.nodes]
    guide = Guide(share={r.id: 1.0 for r in waiting}, nodes={r.id: {nodes[i % len(nodes)]: 1.0}
                                                             for i, r in enumerate(waiting)})
    start = objective_value(inst, placed)
    reopt.OFFER_LP = True
    got, _st = reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                guide=guide, max_steps=3, det=0.1)
    plan = reopt._plan(inst, got, bound=None, seed=0, wall_s=0.0, info={})
    assert check(inst, plan).ok
    assert objective_value(inst, got) >= start - 1e-9
    empty = Guide(share={}, nodes={})
    runs = []
    for on in (False, True):
        reopt.OFFER_LP = on
        runs.append(reopt.move_steps(inst, placed, cap=None, deadline=time.perf_counter() + 120, seed=0, workers=1,
                                     guide=empty, max_steps=2, det=0.1)[0])
    assert runs[0] == runs[1]


def test_diff_weights() -> None:
    """Tests reopt_diff.weights on a hand guide: the LP's waiting work the plan leaves out weighs on the LP's
    nodes, placed waiting work the LP leaves out on its own nodes, and nothing else."""
    from packer.cpsat import reopt_diff

    inst, placed, waiting = _state()
    a, b = waiting[0], waiting[1]
    nodes = [n.id for n in inst.nodes]
    cur = {**placed, b.id: [reopt.Unit(node=nodes[3], gpu=0)]}
    guide = Guide(share={a.id: 1.0, b.id: 0.0}, nodes={a.id: {nodes[1]: 2.0}})
    w = reopt_diff.weights(inst, cur, guide)
    assert w == pytest.approx({nodes[1]: a.priority * 2.0, nodes[3]: b.priority})
