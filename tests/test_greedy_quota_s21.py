"""The greedy's construction by net value for quota-bound tenants (packer/greedy/solver.py, QUOTA_NET).

The structure (the suite's ``quota`` family, from training-102): a tenant at its quota spends it in
priority order on whole GPUs that another tenant would fill at the same value, while its own MIG work
waits beside idle MIG GPUs.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.generate import generate
from packer.greedy import solver as greedy
from packer.model import Instance, Node, Request, Tenant, Topology

H100 = "H100-80GB"


def _contested(quota_a: float = 2.0) -> Instance:
    """Node n0: 2 full GPUs; n1: 2 MIG GPUs. Tenant a (quota ``quota_a``) asks two whole GPUs first in
    the file and one 7-slice MIG instance; tenant b (no quota) two whole GPUs; all priority 1."""
    nodes = (Node(id="n0", gpu_model=H100, num_gpus=2, mode="full", domains={}),
             Node(id="n1", gpu_model=H100, num_gpus=2, mode="mig", domains={}))
    reqs = (Request(id="a1", tenant="a", kind="gpu", count=1, priority=1.0),
            Request(id="a2", tenant="a", kind="gpu", count=1, priority=1.0),
            Request(id="b1", tenant="b", kind="gpu", count=1, priority=1.0),
            Request(id="b2", tenant="b", kind="gpu", count=1, priority=1.0),
            Request(id="am", tenant="a", kind="mig", slices=7, count=1, priority=1.0))
    return Instance(name="contested", topology=Topology(levels=("node",)), nodes=nodes,
                    tenants=(Tenant(id="a", max_gpus=quota_a), Tenant(id="b")), requests=reqs)


def test_net_priorities_price_the_contested_kind() -> None:
    """Tests that a's whole-GPU work is worth 0 net (whole GPUs are contested, priced 1) and its MIG
    work 1 (MIG capacity is left over), and that b, whose quota does not bind, gets no net priority."""
    net = greedy.quota_net(_contested())
    assert net == pytest.approx({"a1": 0.0, "a2": 0.0, "am": 1.0})


def test_no_net_order_where_no_quota_binds() -> None:
    """Tests that nothing is reordered when a's quota covers all it asks."""
    assert greedy.quota_net(_contested(quota_a=3.0)) == {}


@pytest.mark.parametrize("on", [False, True])
def test_the_tight_tenant_spends_its_quota_on_uncontested_capacity(on: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that in priority order a takes both whole GPUs and its MIG work waits at its quota
    (value 2), and that with QUOTA_NET the greedy keeps the construction where b takes them and a's MIG
    work is placed (value 3, the optimum)."""
    monkeypatch.setattr(greedy, "QUOTA_NET", on)
    inst = _contested()
    plan = greedy.solve(inst, file_order=False)
    assert check(inst, plan).ok
    placed = {a.request for a in plan.assignments}
    if on:
        assert plan.objective == pytest.approx(3.0)
        assert {"am", "b1", "b2"} <= placed
        assert "quota-bound tenants' work by net value" in plan.solver.model_dump()["construction"]
    else:
        assert plan.objective == pytest.approx(2.0)
        assert placed == {"a1", "a2"}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["quota", "training", "tenants", "hetero"]), seed=st.integers(0, 10_000))
def test_the_net_construction_never_loses_and_stays_valid(family: str, seed: int) -> None:
    """Tests on 64-GPU suite instances that the greedy with QUOTA_NET returns a valid plan at least as
    good as without it (it keeps the better construction)."""
    inst = generate(family, seed, nodes=8)
    old = greedy.QUOTA_NET
    try:
        greedy.QUOTA_NET = False
        off = greedy.solve(inst, file_order=False)
        greedy.QUOTA_NET = True
        on = greedy.solve(inst, file_order=False)
    finally:
        greedy.QUOTA_NET = old
    assert check(inst, on).ok
    assert on.objective >= off.objective - 1e-9
