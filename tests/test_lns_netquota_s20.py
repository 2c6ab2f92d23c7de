"""Value steps whose quota rule prices the capacity work holds (packer/cpsat/lns_value.py, NET_QUOTA).

The structure (training-102 at 1,024 GPUs, session 20): a quota-full tenant holds whole GPUs with a
priority-1 gang that another tenant's waiting priority-1 gang would fill at no loss, while the first
tenant's own MIG work of priority 1 waits beside idle MIG GPUs. Giving the gang up gains the MIG work's
value; by priority alone it is not lower-value work, so no step was drawn for it.
"""

from __future__ import annotations

import random

import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_value
from packer.cpsat.lns_value import pick_value
from packer.cpsat.model import CpsatModel
from packer.model import Instance, Locality, Node, Request, Tenant, Topology
from tests.test_lns_quota import rack_space_without

H100 = "H100-80GB"


def _contested() -> Instance:
    """Racks r0, r1 of one 2-GPU full node each, rack r2 of one MIG GPU, all in one pod. Tenant a
    (quota 4 GPUs) has a 4-GPU pod gang ``ga`` (spans both full racks) and a waiting 1-slice MIG
    request ``am``; tenant b a 4-GPU pod gang ``gb`` of the same priority."""
    nodes = [Node(id="n0", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": "r0", "pod": "p0"}),
             Node(id="n1", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": "r1", "pod": "p0"}),
             Node(id="n2", gpu_model=H100, num_gpus=1, mode="mig", domains={"rack": "r2", "pod": "p0"})]
    pod = Locality(level="pod", required=True)
    reqs = (Request(id="ga", tenant="a", kind="gpu", count=4, priority=1.0, locality=pod),
            Request(id="am", tenant="a", kind="mig", slices=1, count=1, priority=1.0),
            Request(id="gb", tenant="b", kind="gpu", count=4, priority=1.0, locality=pod))
    return Instance(name="contested", topology=Topology(levels=("node", "rack", "pod")), nodes=tuple(nodes),
                    tenants=(Tenant(id="a", max_gpus=4), Tenant(id="b")), requests=reqs)


def _space() -> tuple[CpsatModel, lns_mod._Space]:
    return rack_space_without(_contested(), "gb", "am")  # ga holds the whole GPUs, a's quota is full


def test_capacity_prices_make_the_contested_gang_lower_value() -> None:
    """Tests that the capacity LP prices a whole GPU at 1 and MIG capacity at 0 here, so a's gang is
    worth 0 net and its MIG request 1."""
    prices = lns_value._kind_prices(_contested())
    assert prices.get("gpu") == pytest.approx(1.0)
    assert prices.get("mig", 0.0) == pytest.approx(0.0)


@pytest.mark.parametrize("exchange", [False, True])
def test_a_step_for_the_waiting_mig_work_frees_the_whole_gang_and_gains(exchange: bool,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with NET_QUOTA the MIG request is drawn, its step frees both racks of a's gang, and
    CP-SAT there trades ga for gb and places am (a gain of am's value, 1/7); without it no value step
    is drawn at all (a's quota is full and by priority it has nothing lower to give up; gb finds no
    room, ga being of equal priority)."""
    model, space = _space()
    am = model.vars.active[model.data.group_of[model.inst.request_index["am"]]].index  # type: ignore[union-attr]
    assert space.best[am] == 0
    monkeypatch.setattr(lns_value, "NET_QUOTA", False)
    space.value = lns_value.value_index(model, space.names, {ni: space.names.index(n.domains["rack"])
                                                             for ni, n in enumerate(model.inst.nodes)})
    assert all(pick_value(space.value, random.Random(s), space.names, space.best, exchange=exchange) is None
               for s in range(5))
    monkeypatch.setattr(lns_value, "NET_QUOTA", True)
    space.value = lns_value.value_index(model, space.names, {ni: space.names.index(n.domains["rack"])
                                                             for ni, n in enumerate(model.inst.nodes)})
    drawn = 0
    for s in range(6):
        got = pick_value(space.value, random.Random(s), space.names, space.best, exchange=exchange)
        if got is None:  # gb drawn: no room for it in the incumbent without giving up ga, of equal value
            continue
        drawn += 1
        free, owned = got
        assert owned == [am]
        assert {"r0", "r1", "r2"} <= free
        found = lns_mod._step(space.sub_model(space.best, free, []), space.best_obj, seconds=5, det=None,
                              seed=0, workers=1)
        assert found is not None and found[1] > space.best_obj
        model.values = found[0]
        placed, _, _ = model.placement()
        assert sorted(placed) == ["am", "gb"]
    assert drawn >= 3
