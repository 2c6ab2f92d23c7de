"""Best-fit's and FGD's pruned node scans (session 8) give the full scan's answers, request by request.

The kernels skip blocks of nodes and single nodes whose aggregates prove they cannot beat the best
key found so far; the reference placer (:mod:`tests.online_reference`) scores every node. On drawn
suite instances of more than one block of nodes, part-filled first so that nodes differ, both
placers must place every request identically.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.generate import SUITE, generate
from packer.online import OnlinePlacer
from packer.online.policies import FGD_SCALE
from packer.online.state import BLK
from tests.online_reference import ReferenceKernels
from tests.test_online import _aggregates_fresh


def _part_filled(family: str, seed: int, nodes: int, fill: float):  # type: ignore[no-untyped-def]
    """The suite instance with a first-fit run of the first ``fill`` of its new requests made running."""
    inst = generate(family, seed, nodes=nodes)
    new = [r for r in inst.requests if r.placement is None]
    p = OnlinePlacer(inst, "first-fit")
    for r in new[: int(fill * len(new))]:
        p.place(r, explain=False)
    return p.running_instance(movable="none")


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(list(SUITE)), seed=st.integers(0, 10_000), nodes=st.integers(BLK + 1, 3 * BLK),
       fill=st.sampled_from([0.0, 0.4, 0.8]), policy=st.sampled_from(["best-fit", "fgd"]))
def test_pruned_scans_place_as_the_full_scan(family: str, seed: int, nodes: int, fill: float, policy: str) -> None:
    """Tests that best-fit and FGD place each request exactly as the unpruned reference does."""
    inst = _part_filled(family, seed, nodes, fill)
    fast = OnlinePlacer(inst, policy)
    slow = OnlinePlacer(inst, policy, _kernels=ReferenceKernels())
    todo = [r for r in inst.requests if r.placement is None][:30]
    for r in todo:
        ra, rb = fast.place(r), slow.place(r)
        assert (ra.ok, ra.units) == (rb.ok, rb.units), (r.id, ra.reason, rb.reason)
    _aggregates_fresh(fast)
    assert check(fast.snapshot_instance(), fast.snapshot()).ok


def test_fgd_mig_score_bounds_every_start() -> None:
    """Tests that FGD's MIG table score is the floored fragmentation change (× FGD_SCALE) of the start it picks (the
    bound its scans prune with), and that a whole-suite FGD run leaves the node aggregates fresh."""
    inst = generate("inference", 3, nodes=BLK + 8)
    p = OnlinePlacer(inst, "fgd")
    a = p.a
    m = 0
    for prof in range(a.mp.shape[1]):
        for mask in range(a.gstart.shape[2]):
            s = int(a.gstart[m, prof, mask])
            if s < 0:
                continue
            after = mask | (((1 << int(a.mp[m, prof, 0])) - 1) << s)
            assert a.gscore[m, prof, mask] == np.floor((a.frag[m, after] - a.frag[m, mask]) * FGD_SCALE)
    for r in inst.requests:
        if r.placement is None:
            p.place(r, explain=False)
    _aggregates_fresh(p)


def test_threaded_start_gives_the_sequential_plan(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that the rollout's start run in threads gives the plan of the start run base after base,
    with all four bases in the start (a budget below it: 16,384 GPUs' case) and with steps."""
    from packer.online import rollout
    from packer.online.solver import solve

    inst = generate("sharing", 5, nodes=BLK + 4)
    plans = {}
    for threads in (4, 1):
        monkeypatch.setattr(rollout, "START_THREADS", threads)
        monkeypatch.setattr(rollout.os, "cpu_count", lambda: 4)
        for budget in (1, None):
            plan = solve(inst, rollout=budget)
            assert plan.solver.rollout["bases"] == list(rollout.BASES)
            plans[threads, budget] = plan.model_dump(exclude={"solver"})
    assert plans[4, 1] == plans[1, 1]
    assert plans[4, None] == plans[1, None]
