"""Session 16: work with a required locality gets no place in a domain whose nodes' CPU and memory cannot
hold the units one request needs (``data._host_fit``), and the merged relaxation bars such super nodes."""

from __future__ import annotations

import pytest
from hypothesis import given, settings

from packer.check import check
from packer.cpsat import data as data_mod
from packer.cpsat import relaxed_bound, solve
from packer.cpsat.data import build_data, host_units
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound
from packer.cpsat.relax import merged_relaxation, typed_relaxation
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Topology
from tests import strategies


def _two_nodes(big_cpu: int = 96000) -> Instance:
    nodes = (Node(id="small", gpu_model="H100-80GB", num_gpus=8, mode="full", cpu_milli=96000, memory_mib=393216,
                  domains={"rack": "r0"}),
             Node(id="big", gpu_model="H100-80GB", num_gpus=8, mode="full", cpu_milli=big_cpu, memory_mib=393216,
                  domains={"rack": "r0"}))
    reqs = (Request(id="pod", kind="gpu", count=8, priority=2.0, cpu_milli=30000, memory_mib=1024,
                    locality=Locality(level="node", required=True)),
            Request(id="fill", kind="gpu", count=16, min_count=1, priority=1.0))
    return Instance(name="t", topology=Topology(levels=("node", "rack")), nodes=nodes, requests=reqs)


def test_host_units_counts_the_tighter_resource() -> None:
    assert host_units(96000, 393216, 30000, 1024) == 3
    assert host_units(96000, 65536, 1000, 32768) == 2
    assert host_units(None, None, 30000, 1024) == float("inf")
    assert host_units(96000, 393216, 0, 0) == float("inf")


def test_a_node_local_request_gets_no_place_on_a_node_too_small_for_its_units() -> None:
    """Tests that 8 units of 30 cores each are kept off a 96-core node and allowed on a 240-core one."""
    inst = _two_nodes(big_cpu=240000)
    d = build_data(inst)
    pod = next(g.index for g in d.groups if g.req.id == "pod")
    nodes = {inst.nodes[d.classes[ci].node].id for (gi, ci) in d.options if gi == pod}
    assert nodes == {"big"}
    fill = next(g.index for g in d.groups if g.req.id == "fill")
    assert {inst.nodes[d.classes[ci].node].id for (gi, ci) in d.options if gi == fill} == {"small", "big"}


def test_a_request_that_fits_no_node_no_longer_lifts_the_lp_bounds() -> None:
    """Tests the bounds where the priority-2 pod fits nowhere: every bound is the filler's 16, and solve proves it.

    Without the rule the LP spreads the pod over both nodes (8 units at 30 cores: 240 of the 192 cores
    in all fit fractionally) and the bound says more than 16."""
    inst = _two_nodes()
    assert lp_bound(CpsatModel(inst), None) == pytest.approx(16.0, abs=1e-3)
    for level in ("rack", "cluster"):
        assert relaxed_bound(inst, level) == pytest.approx(16.0, abs=1e-3)
    relax = merged_relaxation(inst, "cluster")
    assert relax.barred.get("pod")  # its super node holds 192 cores but no single node 240
    typed = typed_relaxation(inst, "rack")
    assert typed.barred.get("pod")
    plan = solve(inst, time_limit=10, workers=1)
    assert check(inst, plan).ok
    assert plan.objective == pytest.approx(16.0)
    assert plan.bound is not None and plan.bound <= 16.0 + 1e-3


def test_without_the_rule_the_lp_placed_the_pod() -> None:
    """Tests that the rule is what tightens the bound (the test above would pass on a bound that was already tight)."""
    inst = _two_nodes()
    old = data_mod._host_fit
    try:
        data_mod._host_fit = lambda inst, groups, classes, options: options  # type: ignore[assignment]
        loose = lp_bound(CpsatModel(inst), None)
    finally:
        data_mod._host_fit = old
    assert loose is not None and loose > 16.0 + 1.0


@pytest.mark.parametrize("family", ["haein", "hetero", "inference", "tenants", "training", "adversarial", "fragmented"])
def test_the_rule_changes_no_model_of_the_other_families(family: str) -> None:
    """Tests that only sharing has node-local work too big for every node's host resources (16 nodes, seed 0)."""
    inst = generate(family, 0, nodes=16)
    old = data_mod._host_fit
    try:
        data_mod._host_fit = lambda inst, groups, classes, options: options  # type: ignore[assignment]
        before = build_data(inst).options
    finally:
        data_mod._host_fit = old
    assert build_data(inst).options == before


def test_sharing_loses_the_places_of_its_pods_that_fit_no_node() -> None:
    """Tests that sharing's node-local pods asking more CPU or memory than any node has get no place."""
    inst = generate("sharing", 0, nodes=16)
    d = build_data(inst)
    placed_groups = {gi for gi, _ in d.options}
    nowhere = 0
    for g in d.groups:
        r = g.req
        if r.locality is None or not r.locality.required or r.locality.level != "node" or r.placement is not None:
            continue
        if not any(r.need_count * r.cpu_milli <= (n.cpu_milli or 0) and r.need_count * r.memory_mib <= (n.memory_mib or 0)
                   for n in inst.nodes):
            nowhere += 1
            assert g.index not in placed_groups
    assert nowhere > 0


@settings(max_examples=25, deadline=None)
@given(strategies.instances(host=True))
def test_the_rule_keeps_the_optimum(inst: Instance) -> None:
    """Tests that the model with the rule has the optimum of the model without it (where both are proven)."""
    with_rule = solve(inst, time_limit=10, workers=1, hint=False)
    old = data_mod._host_fit
    try:
        data_mod._host_fit = lambda inst, groups, classes, options: options  # type: ignore[assignment]
        without = solve(inst, time_limit=10, workers=1, hint=False)
    finally:
        data_mod._host_fit = old
    assert check(inst, with_rule).ok
    if with_rule.status == "optimal" and without.status == "optimal":
        assert with_rule.objective == pytest.approx(without.objective, abs=1e-6)
    if with_rule.bound is not None and without.status == "optimal":
        assert with_rule.bound >= without.objective - 1e-6
