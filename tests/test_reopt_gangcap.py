"""Tests of the repack LP's fixing of waiting whole-GPU requests that no plan can place
(packer.cpsat.reopt_gangcap, session 18)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt, reopt_gangcap
from packer.model import Instance, Node, Request, Tenant, Topology, Unit

H100 = "H100-80GB"


def _state(gang: int = 4, modes: tuple[str, ...] = ("full", "full")) -> Instance:
    """Two 4-GPU nodes; a pinned 3-GPU job on n0, a movable 2-GPU job on n1 (F = 8 − 5 = 3 with both
    nodes full); waiting: a ``gang``-GPU request of priority 2 and a 2-GPU one of priority 1."""
    nodes = tuple(Node(id=f"n{k}", gpu_model=H100, num_gpus=4, mode=m, domains={"rack": "r0"})
                  for k, m in enumerate(modes))
    reqs = (Request(id="pin", kind="gpu", count=3, tenant="a", movable=False,
                    placement=tuple(Unit(node="n0", gpu=g) for g in range(3))),
            Request(id="mov", kind="gpu", count=2, tenant="a", movable=True, migration_cost=0.1,
                    placement=tuple(Unit(node="n1", gpu=g) for g in range(2))),
            Request(id="gang", kind="gpu", count=gang, priority=2.0, tenant="a"),
            Request(id="small", kind="gpu", count=2, tenant="a"))
    return Instance(name="gangcap", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="a"),))


def _lp(inst: Instance, fix: bool) -> float:
    old = reopt_gangcap.FIX
    reopt_gangcap.FIX = fix
    try:
        got = reopt.BudgetBound(inst).stays_lp(None, 60.0)
    finally:
        reopt_gangcap.FIX = old
    assert got is not None
    return got


def test_a_gang_wider_than_the_free_whole_gpus_is_fixed_out_of_the_lp() -> None:
    """Tests F = 3, the 4-GPU gang unplaceable and the 2-GPU request not; the LP with the fixing is below
    the LP without it and still at least the best plan (pin, mov, small: 3 + 2 + 2 = 7)."""
    inst = _state()
    assert reopt_gangcap.free_whole_gpus(inst) == 3
    assert reopt_gangcap.unplaceable(inst) == frozenset({"gang"})
    on, off = _lp(inst, True), _lp(inst, False)
    assert on < off - 0.5
    assert on >= 7.0 - 1e-6


def test_mig_gpus_do_not_count_and_a_gang_that_fits_is_kept() -> None:
    """Tests that a MIG node's GPUs are not room for whole GPUs (F = 4 − 5 < 0 would be wrong: n1's running
    job makes n1 full, so F counts n0 alone here: 4 − 3 − 2 = −1 → every waiting gang unplaceable), and that
    a 3-GPU gang with F = 3 is not fixed."""
    assert reopt_gangcap.unplaceable(_state(gang=3)) == frozenset()
    inst = _state(modes=("full", "mig"))
    assert reopt_gangcap.free_whole_gpus(inst) == 4 - 5
    assert reopt_gangcap.unplaceable(inst) == frozenset({"gang", "small"})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 6), st.lists(st.integers(1, 4), min_size=1, max_size=4), st.integers(0, 2))
def test_property_the_fixed_lp_bounds_every_plan_and_never_exceeds_the_lp(gang: int, jobs: list[int], spare: int) -> None:
    """Tests on random states (three 4-GPU full nodes plus ``spare`` 'any' nodes, running movable jobs, a
    waiting gang of ``gang`` GPUs at priority 2 and a 1-GPU request): the LP with the fixing is at most the
    LP without it and at least the no-move plan's objective and the exact optimum where CP-SAT proves it."""
    nodes = [Node(id=f"f{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(3)]
    nodes += [Node(id=f"a{k}", gpu_model=H100, num_gpus=4, mode="any", domains={"rack": "r1"}) for k in range(spare)]
    free = {f"f{k}": list(range(4)) for k in range(3)}
    reqs = []
    for j, size in enumerate(jobs):
        nid = max(free, key=lambda n: len(free[n]))
        size = min(size, len(free[nid]))
        if size == 0:
            break
        reqs.append(Request(id=f"job{j}", kind="gpu", count=size, tenant="a", movable=True, migration_cost=0.1,
                            placement=tuple(Unit(node=nid, gpu=free[nid].pop(0)) for _ in range(size))))
    reqs.append(Request(id="gang", kind="gpu", count=gang, priority=2.0, tenant="a"))
    reqs.append(Request(id="one", kind="gpu", count=1, tenant="a"))
    inst = Instance(name="gangcap-p", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="a"),))
    on, off = _lp(inst, True), _lp(inst, False)
    assert on <= off + 1e-6
    plan = reopt.reoptimize(inst, time_limit=10.0, workers=1).plan
    assert on >= plan.objective - 1e-6
    if plan.status == "optimal":
        assert on >= plan.objective - 1e-6
    assert reopt_gangcap.free_whole_gpus(inst) == 12 + 4 * spare - sum(
        len(r.placement) for r in inst.requests if r.placement is not None)
    if "gang" in {a.request for a in plan.assignments}:
        assert "gang" not in reopt_gangcap.unplaceable(inst)
    assert pytest.approx(plan.objective) == plan.objective
