"""Node isolation in the LP, the other tenants' side (packer/cpsat/constraints.py, ISOLATION_OTHERS).

The structure (hetero-102 at 1,024 GPUs, session 22): the node-isolated tenant's spread replicas (one per
node) hold most of one GPU model's MIG nodes; other tenants' spread requests need as many distinct nodes of
that model. The LP gave each node to the owner at 0.6-0.9 and put the others' replicas in the rest, so
every spread request looked placeable (bound 1253.90; with the rows 1248.71).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from packer.check import check
from packer.cpsat import constraints
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound
from packer.cpsat.solver import solve
from packer.generate import generate
from packer.model import Instance, Node, Request, Spread, Tenant
from tests import strategies


def _two_spreads() -> Instance:
    """Two 8-GPU nodes; a node-isolated tenant and another each ask for two 1-GPU replicas, one per node
    (value 2 each). Either request takes both nodes, so the optimum is 2."""
    nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=8, mode="full") for i in range(2))
    one_per_node = Spread(level="node", max_per_domain=1)
    reqs = (Request(id="sec", tenant="sec", kind="gpu", count=2, spread=one_per_node),
            Request(id="oth", tenant="oth", kind="gpu", count=2, spread=one_per_node))
    return Instance(name="two-spreads", nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth")))


def _lp(inst: Instance, on: bool, monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(constraints, "ISOLATION_OTHERS", on)
    b = lp_bound(CpsatModel(inst), None)
    assert b is not None
    return b


def test_the_rows_take_the_lp_to_the_optimum_where_spread_replicas_contest_owned_nodes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the hand-made case: without the rows the LP owns each node at 7/8, places 7/8 of the owner's
    request and all of the other's in the last eighth of each node (one GPU of eight: 3.75); with them
    the other's replica on a node is at most 1 - own there, and the LP is the optimum, 2."""
    inst = _two_spreads()
    plan = solve(inst, time_limit=5, workers=1)
    assert plan.status == "optimal" and plan.objective == pytest.approx(2.0)
    assert check(inst, plan).ok
    assert _lp(inst, False, monkeypatch) == pytest.approx(3.75, abs=1e-3)
    assert _lp(inst, True, monkeypatch) == pytest.approx(2.0, abs=1e-3)


def test_the_rows_only_act_where_a_node_isolated_tenant_meets_spread_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the model gains rows only for other tenants' spread requests on nodes a node-isolated
    tenant may own: none without such a tenant (sharing: no node isolation)."""
    monkeypatch.setattr(constraints, "ISOLATION_OTHERS", False)
    base = len(CpsatModel(_two_spreads()).model.Proto().constraints)
    monkeypatch.setattr(constraints, "ISOLATION_OTHERS", True)
    assert len(CpsatModel(_two_spreads()).model.Proto().constraints) == base + 2  # oth on n0 and n1
    inst = generate("sharing", 0, nodes=8)
    assert not any(t.isolation == "node" for t in inst.tenants)
    sizes = []
    for on in (False, True):
        monkeypatch.setattr(constraints, "ISOLATION_OTHERS", on)
        sizes.append(len(CpsatModel(inst).model.Proto().constraints))
    assert sizes[0] == sizes[1]


@pytest.mark.parametrize("family,seed", [("hetero", 2), ("haein", 1)])
def test_the_bound_stays_above_the_plan_and_below_the_old_bound(family: str, seed: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests on 8-node instances of two families with node isolation and spread work that the LP with the
    rows is no higher than without and no lower than the plan CP-SAT finds (with the rows), which checks."""
    inst = generate(family, seed, nodes=8)
    off = _lp(inst, False, monkeypatch)
    on = _lp(inst, True, monkeypatch)
    plan = solve(inst, time_limit=8, workers=1)
    assert check(inst, plan).ok
    assert plan.objective - 1e-6 <= on <= off + 1e-6


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(strategies.instances())
def test_the_bound_with_the_rows_is_never_below_the_optimum(inst: Instance) -> None:
    """Tests on random small instances (node isolation and spread drawn among the rest) that the LP with
    the rows is at least the optimum proven without them, and that the plan with them checks and is as
    good where both are proven."""
    old = constraints.ISOLATION_OTHERS
    try:
        constraints.ISOLATION_OTHERS = False
        without = solve(inst, time_limit=5, workers=1, hint=False)
        constraints.ISOLATION_OTHERS = True
        with_rows = solve(inst, time_limit=5, workers=1, hint=False)
        bound = lp_bound(CpsatModel(inst), None)
    finally:
        constraints.ISOLATION_OTHERS = old
    assert check(inst, with_rows).ok
    if without.status == "optimal":
        if bound is not None:
            assert bound >= without.objective - 1e-6
        if with_rows.status == "optimal":
            assert with_rows.objective == pytest.approx(without.objective, abs=1e-6)
