"""Node isolation in the LP, the other tenants' side (packer/cpsat/constraints.py, ISOLATION_OTHERS).

The structure (hetero-102 at 1,024 GPUs, session 22): the node-isolated tenant's spread replicas (one per
node) hold most of one GPU model's MIG nodes; other tenants' spread requests need as many distinct nodes of
that model. The LP gave each node to the owner at 0.6-0.9 and put the others' replicas in the rest, so
every spread request looked placeable (bound 1253.90; with the rows 1248.71). The rows are added only where
the two tenants' spread replicas cannot all have nodes of their own (elsewhere they never bind: haein's LP
was the same with 8.8k more rows, and twice as slow).
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import constraints
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound
from packer.cpsat.solver import solve
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Spread, Tenant
from tests import strategies


@pytest.fixture(autouse=True)
def _rows_of_this_session_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """ISOLATION_OTHERS alone: session 23's conflict rows (ISOLATION_CONFLICTS) close these LPs too."""
    monkeypatch.setattr(constraints, "ISOLATION_CONFLICTS", False)


def _two_spreads(num_nodes: int = 2) -> Instance:
    """8-GPU nodes (two by default); a node-isolated tenant and another each ask for two 1-GPU replicas,
    one per node (value 2 each). On two nodes either request takes both, so the optimum is 2."""
    nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=8, mode="full") for i in range(num_nodes))
    one_per_node = Spread(level="node", max_per_domain=1)
    reqs = (Request(id="sec", tenant="sec", kind="gpu", count=2, spread=one_per_node),
            Request(id="oth", tenant="oth", kind="gpu", count=2, spread=one_per_node))
    return Instance(name="two-spreads", nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth")))


def _lp(inst: Instance, on: bool | str, monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(constraints, "ISOLATION_OTHERS", on)
    b = lp_bound(CpsatModel(inst), None)
    assert b is not None
    return b


@pytest.mark.parametrize("where", ["lp", "model"])
def test_the_rows_take_the_lp_to_the_optimum_where_spread_replicas_contest_owned_nodes(
        where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the hand-made case: without the rows the LP owns each node at 7/8, places 7/8 of the owner's
    request and all of the other's in the last eighth of each node (one GPU of eight: 3.75); with them
    the other's replica on a node is at most 1 - own there, and the LP is the optimum, 2."""
    inst = _two_spreads()
    plan = solve(inst, time_limit=5, workers=1)
    assert plan.status == "optimal" and plan.objective == pytest.approx(2.0)
    assert check(inst, plan).ok
    assert _lp(inst, False, monkeypatch) == pytest.approx(3.75, abs=1e-3)
    assert _lp(inst, where, monkeypatch) == pytest.approx(2.0, abs=1e-3)


def _rows(inst: Instance, on: bool | str, monkeypatch: pytest.MonkeyPatch) -> int:
    """The model's rows and the LP bound's own rows."""
    monkeypatch.setattr(constraints, "ISOLATION_OTHERS", on)
    m = CpsatModel(inst)
    return len(m.model.Proto().constraints) + len(m.lp_cuts)


def test_the_rows_only_act_where_spread_replicas_cannot_all_have_nodes_of_their_own(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the model gains rows only for another tenant's spread request that, with the owner's
    spread replicas, needs more nodes than it may use: two nodes for 2 + 2 replicas (a row on each
    node), none on four nodes (each request gets two of its own, optimum 4, and the LP finds it without
    the rows), none without a node-isolated tenant (sharing)."""
    assert _rows(_two_spreads(), "lp", monkeypatch) == _rows(_two_spreads(), False, monkeypatch) + 2
    four = _two_spreads(4)
    assert _rows(four, "lp", monkeypatch) == _rows(four, False, monkeypatch)
    assert _lp(four, False, monkeypatch) == pytest.approx(4.0, abs=1e-3)
    assert solve(four, time_limit=5, workers=1).objective == pytest.approx(4.0)
    inst = generate("sharing", 0, nodes=8)
    assert not any(t.isolation == "node" for t in inst.tenants)
    assert _rows(inst, "lp", monkeypatch) == _rows(inst, False, monkeypatch)


def test_with_the_rows_in_the_lp_only_the_search_model_is_the_one_without_them(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that "lp" leaves the CP-SAT model byte for byte as it is without the rows (the search is
    unchanged, only the bound's LP has them) where "model" adds them, on an 8-node hetero instance whose
    LP they tighten."""
    inst = generate("hetero", 3, nodes=8)
    protos = {}
    for where in (False, "lp", "model"):
        monkeypatch.setattr(constraints, "ISOLATION_OTHERS", where)
        m = CpsatModel(inst)
        protos[where] = (str(m.model.Proto()), len(m.lp_cuts))
    assert protos["lp"][0] == protos[False][0] and protos["lp"][1] > 0
    assert protos["model"][0] != protos[False][0] and protos["model"][1] == 0


@pytest.mark.parametrize("family,seed", [("hetero", 3), ("haein", 1)])
def test_the_bound_stays_above_the_plan_and_below_the_old_bound(family: str, seed: int,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests on 8-node instances of two families with node isolation and spread work that the LP with the
    rows is no higher than without and no lower than the plan CP-SAT finds (with the rows), which checks."""
    inst = generate(family, seed, nodes=8)
    off = _lp(inst, False, monkeypatch)
    on = _lp(inst, "lp", monkeypatch)
    plan = solve(inst, time_limit=8, workers=1)
    assert check(inst, plan).ok
    assert plan.objective - 1e-6 <= on <= off + 1e-6


@st.composite
def contested(draw: st.DrawFn) -> Instance:
    """2-3 small H100 nodes (full or MIG); a node-isolated tenant and one or two others, each with spread
    requests (whole GPUs or MIG profiles, one or two per node) and at times a node gang: the structure
    the rows act on, at random sizes and priorities."""
    nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=draw(st.integers(1, 4)),
                       mode=draw(st.sampled_from(["any", "any", "full", "mig"]))) for i in range(draw(st.integers(2, 3))))
    reqs = []
    for k in range(draw(st.integers(2, 5))):
        # The first two: the owner's spread replicas and another tenant's, at least two each.
        tenant = ["sec", "oth"][k] if k < 2 else draw(st.sampled_from(["sec", "oth", "lab"]))
        spread = Spread(level="node", max_per_domain=1 if k < 2 else draw(st.integers(1, 2)))
        prio = draw(st.sampled_from([1.0, 1.5, 2.0]))
        low = 2 if k < 2 else 1
        if draw(st.booleans()):
            reqs.append(Request(id=f"r{k}", tenant=tenant, kind="gpu", count=draw(st.integers(low, 4)),
                                priority=prio, spread=spread))
        else:
            reqs.append(Request(id=f"r{k}", tenant=tenant, kind="mig", count=draw(st.integers(low, 4)), priority=prio,
                                profile=draw(st.sampled_from(["1g.10gb", "3g.40gb", "7g.80gb"])), spread=spread))
    if draw(st.booleans()):
        reqs.append(Request(id="gang", tenant=draw(st.sampled_from(["oth", "lab"])), kind="gpu",
                            count=draw(st.integers(2, 4)), priority=1.0, locality=Locality(level="node", required=True)))
    return Instance(name="contested", nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth"), Tenant(id="lab")))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(contested(), contested(), strategies.instances()))
def test_the_bound_with_the_rows_is_never_below_the_optimum(inst: Instance) -> None:
    """Tests on random small instances (contested spread work as above, or the suite's random mixes with
    node isolation and spread drawn among the rest) that the LP with the rows is at least the optimum
    proven without them, at most the LP without them, the same whether the rows sit in the LP only or in
    the model, and that the plan of the model with them checks and is as good where both are proven."""
    old = constraints.ISOLATION_OTHERS
    try:
        constraints.ISOLATION_OTHERS = False
        without = solve(inst, time_limit=5, workers=1, hint=False)
        constraints.ISOLATION_OTHERS = "model"
        with_rows = solve(inst, time_limit=5, workers=1, hint=False)
        bound_in_model = lp_bound(CpsatModel(inst), None)
        constraints.ISOLATION_OTHERS = "lp"
        bound = lp_bound(CpsatModel(inst), None)
        constraints.ISOLATION_OTHERS = False
        old_bound = lp_bound(CpsatModel(inst), None)
    finally:
        constraints.ISOLATION_OTHERS = old
    assert check(inst, with_rows).ok
    if bound is not None and old_bound is not None:
        assert bound <= old_bound + 1e-6
        assert bound_in_model == pytest.approx(bound, abs=1e-3)
    if without.status == "optimal":
        if bound is not None:
            assert bound >= without.objective - 1e-6
        if with_rows.status == "optimal":
            assert with_rows.objective == pytest.approx(without.objective, abs=1e-6)
