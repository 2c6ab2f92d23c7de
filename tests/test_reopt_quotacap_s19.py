"""Tests of the repack LP's quota cut (packer.cpsat.reopt_quotacap, session 19): waiting work that no plan
can fit in its tenant's quota beside the running work is fixed out, groups are capped, and the LP stays a
bound of every plan."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_quotacap, solve
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit

H100 = "H100-80GB"


def _lp(inst: Instance, fix: bool) -> float:
    old = reopt_quotacap.FIX
    reopt_quotacap.FIX = fix
    try:
        got = reopt.BudgetBound(inst).stays_lp(None, 60.0)
    finally:
        reopt_quotacap.FIX = old
    assert got is not None
    return got


def _state(quota: float = 5.0, need: int | None = None, pinned: bool = False, waiting: int = 1) -> Instance:
    """Two 4-GPU full nodes; tenant "a" (``max_gpus`` = ``quota``) runs a 4-GPU job on n0 (movable unless
    ``pinned``; ``need``: its min_count) and waits with ``waiting`` 2-GPU requests of priority 2 and one
    1-GPU request; tenant "b" (no quota) waits with a 4-GPU node gang."""
    nodes = tuple(Node(id=f"n{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(2))
    reqs = [Request(id="run", kind="gpu", count=4, min_count=need, tenant="a", movable=not pinned,
                    migration_cost=None if pinned else 0.1, placement=tuple(Unit(node="n0", gpu=g) for g in range(4)))]
    reqs += [Request(id=f"two{k}", kind="gpu", count=2, priority=2.0, tenant="a") for k in range(waiting)]
    reqs.append(Request(id="one", kind="gpu", count=1, tenant="a"))
    reqs.append(Request(id="gang", kind="gpu", count=4, tenant="b", locality=Locality(level="node", required=True)))
    return Instance(name="quotacap", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="a", max_gpus=quota), Tenant(id="b")))


def test_a_request_wider_than_the_quota_left_is_fixed_out_of_the_lp() -> None:
    """Tests room = 5 − 4 = 1: the 2-GPU request is unplaceable, the 1-GPU one is not; without the cut the LP
    places half of the 2-GPU request (quota row 4 + 2 × 0.5 ≤ 5; LP 9), with it 8 = the exact optimum (the
    running job and tenant b's 4-GPU gang on n1: no plan places the 2-GPU request)."""
    inst = _state()
    assert reopt_quotacap.rooms(inst) == {"a": pytest.approx(1.0)}
    assert reopt_quotacap.unplaceable(inst) == frozenset({"two0"})
    on, off = _lp(inst, True), _lp(inst, False)
    assert on < off - 0.5
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok and exact.status == "optimal"
    assert on == pytest.approx(exact.objective, abs=1e-3)
    assert on >= exact.objective - 1e-6
    assert "two0" not in {a.request for a in exact.assignments}


def test_min_count_and_pinned_work_set_the_room() -> None:
    """Tests that a movable running job counts its min_count (room 5 − 2 = 3: the 2-GPU request fits, not
    fixed) and a pinned one all its units (room 1 however small its min_count)."""
    assert reopt_quotacap.unplaceable(_state(need=2)) == frozenset()
    assert reopt_quotacap.rooms(_state(need=2)) == {"a": pytest.approx(3.0)}
    assert reopt_quotacap.unplaceable(_state(need=2, pinned=True)) == frozenset({"two0"})


def test_a_group_of_identical_requests_is_capped_by_the_room() -> None:
    """Tests three identical 2-GPU requests with room 5 − 2 = 3 (min_count 2): one row caps the group at
    ⌊3 / 2⌋ = 1, and the LP falls with it (without it 1.5 of them fit the quota row)."""
    inst = _state(quota=5.0, need=2, waiting=3)
    assert reopt_quotacap.most_placed(inst, inst.request("two0")) == 1
    model = reopt.repack_model(inst)
    assert model is not None
    old = reopt_quotacap.FIX
    try:
        reopt_quotacap.FIX = False
        bare = reopt.repack_model(inst)
    finally:
        reopt_quotacap.FIX = old
    assert reopt_quotacap.add_caps(inst, bare, frozenset({"run"})) == 1
    on, off = _lp(inst, True), _lp(inst, False)
    assert on < off - 0.5


def test_no_quota_no_row() -> None:
    """Tests that tenants without a quota get no room and no row (the model is left as it was)."""
    inst = _state()
    inst = inst.replace(tenants=(Tenant(id="a"), Tenant(id="b")))
    assert reopt_quotacap.rooms(inst) == {}
    assert reopt_quotacap.unplaceable(inst) == frozenset()
    on, off = _lp(inst, True), _lp(inst, False)
    assert on == pytest.approx(off, abs=1e-9)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jobs=st.lists(st.tuples(st.integers(1, 3), st.integers(0, 2), st.booleans()), min_size=1, max_size=3),
       extra=st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.0, 3.0]),
       waits=st.lists(st.tuples(st.sampled_from(["gpu", "share"]), st.integers(1, 3), st.sampled_from([1.0, 2.0])),
                      min_size=1, max_size=4))
def test_property_the_cut_lp_bounds_the_exact_optimum(jobs: list[tuple[int, int, bool]], extra: float,
                                                     waits: list[tuple[str, int, float]]) -> None:
    """Tests on random states (two 4-GPU full nodes and one 2-GPU shared node; tenant "a" runs whole-GPU jobs
    of random size, min_count and mobility and a 500-milli share, with ``extra`` GPU-equivalents of quota
    beyond them; it waits with random whole-GPU and share requests, tenant "b" with a 2-GPU one): the LP with
    the cut is at most the LP without it and at least the exact optimum (CP-SAT's plan, proved optimal on
    states this small); no request the optimum places is called unplaceable, and no group places more
    than its cap."""
    nodes = [Node(id=f"f{k}", gpu_model=H100, num_gpus=4, mode="full", domains={"rack": "r0"}) for k in range(2)]
    nodes.append(Node(id="s0", gpu_model=H100, num_gpus=2, mode="shared", domains={"rack": "r0"}))
    free = {"f0": [0, 1, 2, 3], "f1": [0, 1, 2, 3]}
    reqs: list[Request] = []
    used = 0.0
    for j, (size, slack, movable) in enumerate(jobs):
        nid = max(free, key=lambda n: len(free[n]))
        size = min(size, len(free[nid]))
        if size == 0:
            break
        reqs.append(Request(id=f"job{j}", kind="gpu", count=size, min_count=max(1, size - slack), tenant="a",
                            movable=movable, migration_cost=0.1 if movable else None,
                            placement=tuple(Unit(node=nid, gpu=free[nid].pop(0)) for _ in range(size))))
        used += size
    reqs.append(Request(id="sh", kind="share", gpu_milli=500, count=1, tenant="a", movable=True, migration_cost=0.05,
                        placement=(Unit(node="s0", gpu=0, gpu_milli=500),)))
    used += 0.5
    for k, (kind, count, prio) in enumerate(waits):
        if kind == "gpu":
            reqs.append(Request(id=f"w{k}", kind="gpu", count=count, priority=prio, tenant="a"))
        else:
            reqs.append(Request(id=f"w{k}", kind="share", gpu_milli=250 * count, count=1, priority=prio, tenant="a"))
    reqs.append(Request(id="b2", kind="gpu", count=2, tenant="b"))
    inst = Instance(name="quotacap-p", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    requests=tuple(reqs), tenants=(Tenant(id="a", max_gpus=used + extra), Tenant(id="b")))
    on, off = _lp(inst, True), _lp(inst, False)
    assert on <= off + 1e-6
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok
    assert on >= exact.objective - 1e-6
    placed = {a.request for a in exact.assignments}
    assert not placed & reopt_quotacap.unplaceable(inst)
    twins: dict[tuple[str, int, float], list[str]] = {}
    for r in inst.requests:
        if r.placement is None and r.tenant == "a":
            twins.setdefault((r.kind, r.count if r.kind == "gpu" else r.gpu_milli or 0, r.priority), []).append(r.id)
    for ids in twins.values():
        most = reopt_quotacap.most_placed(inst, inst.request(ids[0]))
        assert most is not None and sum(1 for rid in ids if rid in placed) <= most
