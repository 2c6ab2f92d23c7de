"""The online forecast's quota claims ranked by net value (packer/online/reserve.py, NET_QUOTA).

The structure of the suite's ``quota`` family: a tenant whose quota binds spends it, first come, on
whole GPUs that another tenant would fill at the same value, while its own later MIG work then finds
its quota gone beside idle MIG GPUs.
"""

from __future__ import annotations

import pytest

from packer.check import check
from packer.model import Instance, Node, Request, Tenant, Topology
from packer.online import OnlinePlacer, reserve
from packer.online.reserve import Reserve

H100 = "H100-80GB"


def _contested(quota_a: float = 2.0) -> Instance:
    """Node n0: 2 full GPUs; n1: 2 MIG GPUs. Tenant a (quota ``quota_a``) asks two whole GPUs first in
    the file, then fourteen 1-slice MIG instances (2 GPU-equivalents); tenant b (no quota) three whole
    GPUs after a's (whole GPUs are contested); all priority 1."""
    nodes = (Node(id="n0", gpu_model=H100, num_gpus=2, mode="full", domains={}),
             Node(id="n1", gpu_model=H100, num_gpus=2, mode="mig", domains={}))
    reqs = [Request(id="a1", tenant="a", kind="gpu", count=1, priority=1.0),
            Request(id="a2", tenant="a", kind="gpu", count=1, priority=1.0),
            Request(id="b1", tenant="b", kind="gpu", count=1, priority=1.0),
            Request(id="b2", tenant="b", kind="gpu", count=1, priority=1.0),
            Request(id="b3", tenant="b", kind="gpu", count=1, priority=1.0)]
    reqs += [Request(id=f"m{i:02d}", tenant="a", kind="mig", slices=1, count=1, priority=1.0) for i in range(14)]
    return Instance(name="contested", topology=Topology(levels=("node",)), nodes=nodes,
                    tenants=(Tenant(id="a", max_gpus=quota_a), Tenant(id="b")), requests=tuple(reqs))


def _run(inst: Instance) -> tuple[float, set[str]]:
    placer = OnlinePlacer(inst, "packer")
    placer.expect(inst.requests)
    for r in inst.requests:
        placer.place(r)
    plan = placer.snapshot(instance=inst)
    rep = check(inst, plan)
    assert rep.ok, rep.format()
    return plan.objective, {a.request for a in plan.assignments}


@pytest.mark.parametrize("on", [False, True])
def test_the_tight_tenant_keeps_its_quota_for_uncontested_work(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that ranked by priority a takes both whole GPUs on arrival and its MIG work then finds the
    quota gone (value 2), and that ranked by net value a's whole-GPU requests (worth 0 net: whole GPUs
    are contested) leave the quota to its MIG work (worth 1 net) and b takes the whole GPUs (value 4)."""
    monkeypatch.setattr(reserve, "NET_QUOTA", on)
    value, placed = _run(_contested())
    if on:
        assert value == pytest.approx(4.0)
        assert {"b1", "b2"} <= placed and not {"a1", "a2"} & placed
    else:
        assert value == pytest.approx(2.0)
        assert placed == {"a1", "a2"}


def test_nothing_is_reranked_where_no_quota_binds(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with a quota covering all a asks the net ranking changes nothing (every request placed
    where the capacity allows: whole GPUs first come, so b waits)."""
    monkeypatch.setattr(reserve, "NET_QUOTA", True)
    value, placed = _run(_contested(quota_a=4.0))
    assert placed == {"a1", "a2"} | {f"m{i:02d}" for i in range(14)}
    assert value == pytest.approx(4.0)


def test_ranks_and_copies() -> None:
    """Tests that a request's rank is its net value where given and its priority otherwise, that arrivals
    take their claim off their own rank, and that a copy keeps the values."""
    inst = _contested()
    res = Reserve(inst.requests, inst.request_unit_size, {"m00": 0.5})
    assert res.rank(inst.request("m00")) == 0.5 and res.rank(inst.request("m01")) == 1.0
    assert res.quota_above("a", 0.7) > 0.0  # m01..m13 at rank 1.0 (a1, a2 too)
    before = res.quota_above("a", 0.4)
    res.arrived(inst.request("m00"))
    assert res.quota_above("a", 0.4) < before
    assert res.copy().value == {"m00": 0.5}
