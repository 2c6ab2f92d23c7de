"""The ``packer`` online policy's bid prices (packer.online.reserve) and its elastic gangs (issue 16 part 4).

Each test builds the structure a rule answers and fails without the rule: the plain placer (no
forecast, :class:`OnlinePlacer` without ``expect``) or first-fit shows the loss.
"""

from __future__ import annotations

from packer.check import check
from packer.model import Instance
from packer.online import OnlinePlacer
from packer.online.placer import requests_in_order
from packer.online.solver import solve


def _placed(plan) -> dict[str, int]:  # type: ignore[no-untyped-def]
    return {a.request: len(a.units) for a in plan.assignments}


def _objective(inst: Instance, plan) -> float:  # type: ignore[no-untyped-def]
    rep = check(inst, plan)
    assert rep.ok, rep
    return rep.objective


def _file_order(inst: Instance, expect: bool) -> dict[str, bool]:
    p = OnlinePlacer(inst)
    reqs = requests_in_order(inst.requests, "file", inst)
    if expect:
        p.expect(reqs)
    return {r.id: p.place(r).ok for r in reqs}


def test_low_priority_gang_leaves_whole_gpus_to_later_higher_priority_requests() -> None:
    """Tests that an 8-GPU gang of priority 0.5, first in the file, does not take the node that eight
    later 1-GPU requests of priority 2 fill (adversarial's structure); without the forecast it does."""
    inst = Instance.model_validate({
        "name": "bid-whole", "nodes": [{"id": "n", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "full"}],
        "requests": [{"id": "bulk", "kind": "gpu", "count": 8, "priority": 0.5,
                      "locality": {"level": "node", "required": True}},
                     *({"id": f"u{i}", "kind": "gpu", "count": 1, "priority": 2.0} for i in range(8))],
    })
    plan = solve(inst)
    assert _objective(inst, plan) == 16.0
    assert "bulk" not in _placed(plan)
    assert "objective" in {u.request: u.reason for u in plan.unplaced}["bulk"]
    assert _file_order(inst, expect=False)["bulk"]  # the placer alone cannot know
    assert _objective(inst, solve(inst, policy="first-fit")) == 4.0


def test_elastic_request_takes_only_the_spare_whole_gpus() -> None:
    """Tests that an elastic low-priority request takes the GPUs later high-priority requests leave,
    not all it asks for and not nothing: 12 later 1-GPU requests keep 12 − √12 ≈ 8.5 of 16 GPUs."""
    inst = Instance.model_validate({
        "name": "bid-elastic", "nodes": [{"id": f"n{k}", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "full"}
                                         for k in range(2)],
        "requests": [{"id": "low", "kind": "gpu", "count": 16, "min_count": 2, "priority": 1.0},
                     *({"id": f"u{i}", "kind": "gpu", "count": 1, "priority": 3.0} for i in range(12))],
    })
    plan = solve(inst, rollout=False)  # the rule itself (the rollout leaves "low" out: 36 > 34)
    assert _placed(plan)["low"] == 7
    assert _objective(inst, plan) == 7.0 + 9 * 3.0


def test_demand_on_other_models_does_not_block_a_restricted_request() -> None:
    """Tests that later high-priority requests restricted to one model do not keep GPUs of another
    model from a request restricted to that other model (hetero's structure): counted against every
    model, their claim (12 − √12) would leave the A100 request too little."""
    inst = Instance.model_validate({
        "name": "bid-models",
        "nodes": [{"id": "h", "gpu_model": "H100-80GB", "num_gpus": 4, "mode": "full"},
                  {"id": "a", "gpu_model": "A100-80GB", "num_gpus": 4, "mode": "full"}],
        "requests": [{"id": "low", "kind": "gpu", "count": 4, "priority": 1.0, "gpu_models": ["A100-80GB"]},
                     *({"id": f"h{i}", "kind": "gpu", "count": 1, "priority": 2.0, "gpu_models": ["H100-80GB"]}
                       for i in range(12))],
    })
    plan = solve(inst)
    assert _placed(plan)["low"] == 4
    assert _objective(inst, plan) == 4.0 + 4 * 2.0


def test_tenant_quota_is_kept_for_its_later_higher_priority_requests() -> None:
    """Tests that a tenant whose quota binds spends it on its priority-2 requests that arrive later,
    not on the priority-1 one first in the file (tenants' structure)."""
    inst = Instance.model_validate({
        "name": "bid-quota", "nodes": [{"id": "n", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "full"}],
        "tenants": [{"id": "t", "max_gpus": 4.0}],
        "requests": [{"id": "first", "tenant": "t", "kind": "gpu", "count": 4, "priority": 1.0},
                     *({"id": f"later{i}", "tenant": "t", "kind": "gpu", "count": 1, "priority": 2.0}
                       for i in range(4))],
    })
    plan = solve(inst)
    assert "first" not in _placed(plan)
    assert _objective(inst, plan) == 8.0
    assert "quota" in {u.request: u.reason for u in plan.unplaced}["first"]
    assert not any(_file_order(inst, expect=False)[f"later{i}"] for i in range(4))


def test_a_single_large_claim_keeps_nothing() -> None:
    """Tests the lumpiness discount: one later gang is placed whole or not at all, so it is no
    forecast and the request before it is placed. Here the gang cannot fit beside the running work
    anyway; counted in full, its claim left both unplaced (objective 0 against first-fit's 4)."""
    inst = Instance.model_validate({
        "name": "bid-lumpy", "nodes": [{"id": "n", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "full"}],
        "requests": [{"id": "run", "kind": "gpu", "count": 2, "placement": [{"node": "n", "gpu": g} for g in range(2)]},
                     {"id": "first", "kind": "gpu", "count": 4, "priority": 1.0},
                     {"id": "gang", "kind": "gpu", "count": 8, "priority": 2.0,
                      "locality": {"level": "node", "required": True}}],
    })
    plan = solve(inst)
    assert _placed(plan) == {"run": 2, "first": 4}


def test_elastic_node_gang_takes_the_node_that_holds_all_its_units() -> None:
    """Tests that an elastic node gang goes to the node that holds every unit, not to the tightest
    node that holds its min_count (the old key: least idle GPU left)."""
    inst = Instance.model_validate({
        "name": "elastic-node",
        "nodes": [{"id": "tight", "gpu_model": "H100-80GB", "num_gpus": 4, "mode": "full"},
                  {"id": "roomy", "gpu_model": "H100-80GB", "num_gpus": 8, "mode": "full"}],
        "requests": [{"id": "busy", "kind": "gpu", "count": 2, "placement": [{"node": "tight", "gpu": g} for g in range(2)]},
                     {"id": "g", "kind": "gpu", "count": 6, "min_count": 2,
                      "locality": {"level": "node", "required": True}}],
    })
    plan = solve(inst)
    assert _placed(plan)["g"] == 6
    assert {u.node for a in plan.assignments if a.request == "g" for u in a.units} == {"roomy"}


def test_elastic_preferred_locality_places_every_unit() -> None:
    """Tests that a request with a preferred (not required) node locality and a min_count places all
    its units, spanning nodes when no node holds them all, rather than min_count on the tightest node."""
    inst = Instance.model_validate({
        "name": "elastic-pref",
        "nodes": [{"id": "a", "gpu_model": "H100-80GB", "num_gpus": 4, "mode": "full"},
                  {"id": "b", "gpu_model": "H100-80GB", "num_gpus": 4, "mode": "full"}],
        "requests": [{"id": "busy", "kind": "gpu", "count": 3, "placement": [{"node": "a", "gpu": g} for g in range(3)]},
                     {"id": "g", "kind": "gpu", "count": 5, "min_count": 1,
                      "locality": {"level": "node", "required": False}}],
    })
    plan = solve(inst)
    assert _placed(plan)["g"] == 5
    assert _objective(inst, plan) == 8.0 - inst.objective.locality_weight  # two nodes: one extra domain
