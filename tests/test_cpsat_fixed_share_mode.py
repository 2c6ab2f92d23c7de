"""Fixed running shares fix their GPUs' mode, also on a GPU configured 'any'.

A file cannot put running work on an 'any' GPU (validation refuses it), but the decomposed solve
builds sub-instances in memory that pin the units of a request crossing the sub-problem's border
where they are, on whatever GPU that is. On a 16,384-GPU sharing instance (sharing2048-100, 300 s)
a pinned 460-milli share on an 'any' GPU shared it with a whole-GPU unit the sub-problem put there:
the share-pattern constraint did not count running shares, so the model could make that GPU 'full'.
"""

from __future__ import annotations

import time

import pytest

from packer.check import check
from packer.cpsat.search import solve_monolithic
from packer.model import Instance, Node, ObjectiveWeights, Request, Tenant, Topology, Unit

H100 = "H100-80GB"


def _inst(num_gpus: int, shares_on: list[int], aggregate_hint: str) -> Instance:
    running = [
        Request(id=f"run-{g}", tenant="t", kind="share", gpu_milli=460, count=1, priority=1.0,
                placement=(Unit(node="n0", gpu=g, gpu_milli=460),), movable=False)
        for g in shares_on
    ]
    whole = Request(id="whole", tenant="t", kind="gpu", count=num_gpus, min_count=1, priority=5.0)
    return Instance(name=f"fixed-share-{aggregate_hint}", topology=Topology(levels=("node",)),
                    nodes=(Node(id="n0", gpu_model=H100, num_gpus=num_gpus, mode="any"),),
                    tenants=(Tenant(id="t"),), requests=(*running, whole), objective=ObjectiveWeights())


@pytest.mark.parametrize(("num_gpus", "shares_on"), [(1, [0]), (4, [0, 1, 2, 3]), (4, [1, 3])])
@pytest.mark.parametrize("aggregate", [True, False])
def test_a_gpu_holding_a_fixed_share_never_takes_a_whole_gpu_unit(num_gpus: int, shares_on: list[int],
                                                                   aggregate: bool) -> None:
    """Tests that the whole-GPU request (worth 5 a GPU, the shares 0.46) gets only the GPUs without a
    running share and that the plan passes the checker."""
    inst = _inst(num_gpus, shares_on, str(aggregate))
    t0 = time.perf_counter()
    plan = solve_monolithic(inst, None, seed=0, workers=1, start=t0, left=lambda: 20 - (time.perf_counter() - t0),
                            info={}, aggregate=aggregate, lp=False)
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    got = {a.request: a.units for a in plan.assignments}
    assert {u.gpu for u in got.get("whole", ())} == set(range(num_gpus)) - set(shares_on)
    for g in shares_on:
        assert got[f"run-{g}"] == (Unit(node="n0", gpu=g, gpu_milli=460),)


def test_no_new_share_where_the_fixed_shares_leave_too_little_room() -> None:
    """Tests that two GPUs of one aggregated class, each keeping a fixed 460-milli share, take no new
    600-milli share (540 left on each): the model's answer packs as it counted it, so its optimum is
    the plan's (a milli sum over the class let the share in, and the plan then claimed 'optimal'
    below its own bound; found by tests/test_decompose_subinstances.py)."""
    def pinned(node: str, g: int, milli: int) -> Request:
        return Request(id=f"pin-{node}-{g}", tenant="t", kind="share", gpu_milli=milli, priority=0.1,
                       placement=(Unit(node=node, gpu=g, gpu_milli=milli),), movable=False)

    inst = Instance(name="fixed-room", topology=Topology(levels=("node",)),
                    nodes=(Node(id="n0", gpu_model=H100, num_gpus=1, mode="any"),
                           Node(id="n1", gpu_model=H100, num_gpus=2, mode="any")),
                    tenants=(Tenant(id="t"),),
                    requests=(pinned("n0", 0, 100), pinned("n1", 0, 460), pinned("n1", 1, 460),
                              Request(id="w0", tenant="t", kind="share", gpu_milli=600, count=2, min_count=1,
                                      priority=0.5),
                              Request(id="w1", tenant="t", kind="gpu", count=1, priority=0.5)),
                    objective=ObjectiveWeights())
    t0 = time.perf_counter()
    plan = solve_monolithic(inst, None, seed=0, workers=1, start=t0, left=lambda: 20 - (time.perf_counter() - t0),
                            info={}, aggregate=True, lp=False)
    assert check(inst, plan).ok
    got = {a.request: a.units for a in plan.assignments}
    assert [u.node for u in got["w0"]] == ["n0"] and "w1" not in got
    assert plan.status == "optimal" and plan.bound == pytest.approx(plan.objective)
