"""Value steps that know the waiting request's quota (packer/cpsat/lns_value.py, QUOTA)."""

from __future__ import annotations

import random

import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_value
from packer.cpsat.lns_value import pick_value
from packer.cpsat.model import CpsatModel
from packer.model import Instance, Locality, Node, Request, Tenant, Topology
from tests.test_valuelns_steps import _without

H100 = "H100-80GB"


def _quota_racks() -> Instance:
    """Four racks of one 2-GPU node. Tenant a (quota 4 GPUs) has two node-local pairs worth 1 a GPU
    (``lo0``, ``lo1``) and one worth 2 (``hi``); tenant b one pair worth 3. With ``hi`` left out, one
    node is empty, yet ``hi`` fits there only if one of a's own pairs leaves (its quota)."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": f"r{i}"}) for i in range(4)]
    local = Locality(level="node", required=True)
    reqs = (Request(id="lo0", tenant="a", kind="gpu", count=2, priority=1.0, locality=local),
            Request(id="lo1", tenant="a", kind="gpu", count=2, priority=1.0, locality=local),
            Request(id="hi", tenant="a", kind="gpu", count=2, priority=2.0, locality=local),
            Request(id="b", tenant="b", kind="gpu", count=2, priority=3.0, locality=local))
    return Instance(name="quota", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes),
                    tenants=(Tenant(id="a", max_gpus=4), Tenant(id="b")), requests=reqs)


def rack_space_without(inst: Instance, *rids: str) -> tuple[CpsatModel, lns_mod._Space]:
    """The model of ``inst``, its LNS space over racks, and as incumbent the best plan without ``rids``."""
    model = CpsatModel(inst)
    model.solve(time_limit=1, seed=0, workers=1)
    space = lns_mod._space(model, "rack")
    assert space is not None and space.value is not None
    _without(model, space, *rids)
    return model, space


def _space_without_hi() -> tuple[CpsatModel, lns_mod._Space]:
    return rack_space_without(_quota_racks(), "hi")


def _racks_of(model: CpsatModel, values: list[int], rids: set[str]) -> set[str]:
    groups = {model.data.group_of[model.inst.request_index[r]] for r in rids}
    return {model.inst.nodes[model.data.classes[ci].node].domains["rack"]
            for (g, ci, _), var in model.vars.x.items() if g in groups and values[var.index] > 0}


@pytest.mark.parametrize("exchange", [False, True])
def test_a_quota_bound_value_step_also_frees_the_tenants_lower_value_work(exchange: bool,
                                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with QUOTA every step for ``hi`` frees a rack of a's lower-value pairs (beside the
    empty rack, or alone: ``hi`` can take its place there), and that a step over them places ``hi``;
    without QUOTA some steps free the empty rack alone (the room ``hi`` needs), where no step can place
    it (the quota is full)."""
    model, space = _space_without_hi()
    lows = _racks_of(model, space.best, {"lo0", "lo1"})
    empty = set(space.names) - lows - _racks_of(model, space.best, {"b"})
    assert len(empty) == 1
    alone = 0
    for quota in (True, False):
        monkeypatch.setattr(lns_value, "QUOTA", quota)
        for seed in range(8):
            got = pick_value(space.value, random.Random(seed), space.names, space.best,  # type: ignore[arg-type]
                             exchange=exchange)
            assert got is not None
            free = got[0]
            if quota:
                assert free & lows
            found = lns_mod._step(space.sub_model(space.best, free, []), space.best_obj, seconds=5, det=None,
                                  seed=0, workers=1)
            assert (found is not None) == bool(free & lows)
            if found is not None:
                assert found[1] - space.best_obj == 2 * model.data.scale  # hi (4) in, one low pair (2) out
            alone += int(not quota and free == empty)
    assert alone > 0


def test_a_group_whose_tenant_has_no_lower_value_work_to_give_up_is_not_drawn(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a waiting group whose quota is full and whose tenant holds nothing of lower value is
    never the value step's group (no step could place it): with only such a group, no value step."""
    inst = _quota_racks()
    reqs = tuple(r if r.id != "hi" else r.model_copy(update={"priority": 0.5}) for r in inst.requests)
    model = CpsatModel(inst.model_copy(update={"requests": reqs}))
    model.solve(time_limit=1, seed=0, workers=1)
    space = lns_mod._space(model, "rack")
    assert space is not None and space.value is not None
    hi = model.vars.active[model.data.group_of[model.inst.request_index["hi"]]].index  # type: ignore[union-attr]
    assert space.best[hi] == 0
    monkeypatch.setattr(lns_value, "QUOTA", True)
    assert all(pick_value(space.value, random.Random(s), space.names, space.best, exchange=False) is None
               for s in range(5))
    monkeypatch.setattr(lns_value, "QUOTA", False)
    assert any(pick_value(space.value, random.Random(s), space.names, space.best, exchange=False) is not None
               for s in range(5))
