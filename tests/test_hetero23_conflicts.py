"""Node isolation across nodes in the LP bound (packer/cpsat/constraints.py, ISOLATION_CONFLICTS).

A node-isolated tenant's request and another tenant's request cannot both be placed when the nodes each
needs cannot be disjoint: the owner's units keep everyone else off their nodes. The LP splits every node
between the two (own = 0.5 on three nodes holds half of a spread of two for each, and the other half
too), so both look placeable. hetero-102 (session 23): 1248.71 -> 1247.02.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import constraints
from packer.cpsat.bound import branch_value
from packer.cpsat.lpchild import lp_value_in_child
from packer.cpsat.model import CpsatModel
from packer.cpsat.proof import lp_bound, padded_bound
from packer.cpsat.solver import solve
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Spread, Tenant, Topology


def _spreads(num_nodes: int) -> Instance:
    """Full 8-GPU nodes; a node-isolated tenant asks two 1-GPU replicas one a node at priority 2 (value
    4), another tenant the same at priority 1 (value 2). On three nodes only one of them fits (the
    owner's two nodes leave one): the optimum is 4."""
    nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=8, mode="full") for i in range(num_nodes))
    one_per_node = Spread(level="node", max_per_domain=1)
    reqs = (Request(id="sec", tenant="sec", kind="gpu", count=2, priority=2.0, spread=one_per_node),
            Request(id="oth", tenant="oth", kind="gpu", count=2, spread=one_per_node))
    return Instance(name="spreads", nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth")))


def _lp(inst: Instance, on: bool | str, monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(constraints, "ISOLATION_CONFLICTS", on)
    b = lp_bound(CpsatModel(inst), None)
    assert b is not None
    return b


@pytest.mark.parametrize("where", ["lp", "model"])
def test_the_conflict_takes_the_lp_to_the_optimum(where: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the hand-made case on three nodes: without the row the LP owns the nodes at 2/3 and places
    the owner's request and half of the other's (2 x 2 + 0.5 x 2 = 5, the node-share rows of
    ISOLATION_OTHERS included); with it, 4, the optimum CP-SAT proves."""
    inst = _spreads(3)
    plan = solve(inst, time_limit=5, workers=1)
    assert plan.status == "optimal" and plan.objective == pytest.approx(4.0)
    assert check(inst, plan).ok
    assert _lp(inst, False, monkeypatch) == pytest.approx(5.0, abs=1e-3)
    assert _lp(inst, where, monkeypatch) == pytest.approx(4.0, abs=1e-3)


def _conflicts(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> int:
    """LP-only rows with the conflicts minus without them."""
    monkeypatch.setattr(constraints, "ISOLATION_CONFLICTS", "lp")
    on = len(CpsatModel(inst).lp_cuts)
    monkeypatch.setattr(constraints, "ISOLATION_CONFLICTS", False)
    return on - len(CpsatModel(inst).lp_cuts)


def test_a_conflict_only_where_the_nodes_cannot_be_disjoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the pair gets one row on three nodes (2 + 2 > 3), none on four (each gets two nodes
    of its own: the LP is the optimum 6 without it), none without a node-isolated tenant (sharing);
    and that a rack gang needs its nodes in one rack: a 16-GPU gang of the owner on racks of two 8-GPU
    nodes and another tenant's 8-GPU node gang conflict on one rack, not on two."""
    assert _conflicts(_spreads(3), monkeypatch) == 1
    four = _spreads(4)
    assert _conflicts(four, monkeypatch) == 0
    assert _lp(four, False, monkeypatch) == pytest.approx(6.0, abs=1e-3)
    inst = generate("sharing", 0, nodes=8)
    assert not any(t.isolation == "node" for t in inst.tenants)
    assert _conflicts(inst, monkeypatch) == 0
    for racks, rows in ((1, 1), (2, 0)):
        nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=8, domains={"rack": f"r{i // 2}"})
                      for i in range(2 * racks))
        reqs = (Request(id="g", tenant="sec", kind="gpu", count=16, locality=Locality(level="rack", required=True)),
                Request(id="h", tenant="oth", kind="gpu", count=8, locality=Locality(level="node", required=True)))
        gangs = Instance(name="gangs", topology=Topology(levels=("rack",)), nodes=nodes, requests=reqs,
                         tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth")))
        assert _conflicts(gangs, monkeypatch) == rows


def test_with_the_conflicts_in_the_lp_only_the_search_model_is_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that "lp" leaves the CP-SAT model byte for byte as it is without the rows where "model" adds
    them, on an 8-node isolated instance that has conflicts."""
    inst = generate("isolated", 3, nodes=8)
    protos = {}
    for where in (False, "lp", "model"):
        monkeypatch.setattr(constraints, "ISOLATION_CONFLICTS", where)
        m = CpsatModel(inst)
        protos[where] = (str(m.model.Proto()), len(m.lp_cuts))
    assert protos["lp"][0] == protos[False][0] and protos["lp"][1] > protos[False][1]
    assert protos["model"][0] != protos[False][0] and protos["model"][1] == protos[False][1]


@st.composite
def mixes(draw: st.DrawFn) -> Instance:
    """2-6 small nodes (1-4 GPUs, full, any or MIG) in racks of two or three; a node-isolated tenant and
    two others with spread replicas (whole GPUs or MIG, one or two a node, min_count at times), node
    gangs and rack gangs, at random sizes and priorities."""
    per_rack = draw(st.integers(2, 3))
    n = draw(st.integers(2, 6))
    nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=draw(st.integers(1, 4)),
                       mode=draw(st.sampled_from(["any", "full", "full", "mig"])),
                       domains={"rack": f"r{i // per_rack}"}) for i in range(n))
    reqs = []
    for k in range(draw(st.integers(2, 6))):
        tenant = ["sec", "oth"][k] if k < 2 else draw(st.sampled_from(["sec", "oth", "lab"]))
        prio = draw(st.sampled_from([1.0, 1.5, 2.0]))
        shape = draw(st.sampled_from(["spread", "spread", "node", "rack"]))
        count = draw(st.integers(1, 5))
        if shape == "spread":
            spread = Spread(level="node", max_per_domain=draw(st.integers(1, 2)))
            low = draw(st.integers(1, count))
            if draw(st.booleans()):
                reqs.append(Request(id=f"r{k}", tenant=tenant, kind="gpu", count=count, min_count=low,
                                    priority=prio, spread=spread))
            else:
                reqs.append(Request(id=f"r{k}", tenant=tenant, kind="mig", count=count, min_count=low,
                                    priority=prio, spread=spread,
                                    profile=draw(st.sampled_from(["1g.10gb", "3g.40gb", "7g.80gb"]))))
        else:
            reqs.append(Request(id=f"r{k}", tenant=tenant, kind="gpu", count=count + (2 if shape == "rack" else 0),
                                priority=prio, locality=Locality(level=shape, required=True)))
    return Instance(name="mix", topology=Topology(levels=("rack",)), nodes=nodes, requests=tuple(reqs),
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth"), Tenant(id="lab")))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mixes())
def test_the_bound_with_the_conflicts_is_never_below_the_optimum(inst: Instance) -> None:
    """Tests on random small mixes with node isolation, spread replicas and rack gangs that the LP with
    the conflicts is at least the optimum CP-SAT proves without them and at most the LP without them,
    the same in the LP only or in the model, that the branched bound (bound.branch_value on the owner's
    placed counts) lies between that optimum and the LP, and that the model with the rows proves the
    same optimum with a plan that checks."""
    old = constraints.ISOLATION_CONFLICTS
    try:
        constraints.ISOLATION_CONFLICTS = False
        without = solve(inst, time_limit=5, workers=1, hint=False)
        old_bound = lp_bound(CpsatModel(inst), None)
        constraints.ISOLATION_CONFLICTS = "model"
        with_rows = solve(inst, time_limit=5, workers=1, hint=False)
        bound_in_model = lp_bound(CpsatModel(inst), None)
        constraints.ISOLATION_CONFLICTS = "lp"
        model = CpsatModel(inst)
        bound = lp_bound(model, None)
        raw = branch_value(model.bound_form, model.lp_branch, max_lps=9) if model.lp_branch else None
        branched = None if raw is None else padded_bound(model, raw)
    finally:
        constraints.ISOLATION_CONFLICTS = old
    assert check(inst, with_rows).ok
    if bound is not None and old_bound is not None:
        assert bound <= old_bound + 1e-6
        assert bound_in_model == pytest.approx(bound, abs=1e-3)
    if bound is not None and branched is not None:
        assert branched <= bound + 1e-6
    if without.status == "optimal":
        if bound is not None:
            assert bound >= without.objective - 1e-6
        if branched is not None:
            assert branched >= without.objective - 1e-6
        if with_rows.status == "optimal":
            assert with_rows.objective == pytest.approx(without.objective, abs=1e-6)


def test_branching_on_the_owners_placed_counts_takes_the_bound_to_the_optimum(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests bound.branch_value on three 8-GPU nodes: the owner asks 2 replicas one a node at priority 5
    (value 10), a third tenant the same at priority 1 (value 2: it conflicts with the owner's, 2 + 2 >
    3), another tenant two 8-GPU node gangs (value 8 each). Placed, the owner's replicas take two whole
    nodes and leave one gang (18); without them both gangs (16): the optimum is 18. The LP places the
    owner's request in part beside both gangs (21.75; 21.43 with the conflict row); branched on the
    owner's placed count the bound is 18. With one LP (the root) it is the LP."""
    nodes = tuple(Node(id=f"n{i}", gpu_model="H100-80GB", num_gpus=8, mode="full") for i in range(3))
    one = Spread(level="node", max_per_domain=1)
    gang = Locality(level="node", required=True)
    reqs = (Request(id="sec", tenant="sec", kind="gpu", count=2, priority=5.0, spread=one),
            Request(id="lab", tenant="lab", kind="gpu", count=2, spread=one),
            Request(id="g0", tenant="oth", kind="gpu", count=8, locality=gang),
            Request(id="g1", tenant="oth", kind="gpu", count=8, locality=gang))
    inst = Instance(name="branch", nodes=nodes, requests=reqs,
                    tenants=(Tenant(id="sec", isolation="node"), Tenant(id="oth"), Tenant(id="lab")))
    plan = solve(inst, time_limit=5, workers=1)
    assert plan.status == "optimal" and plan.objective == pytest.approx(18.0) and check(inst, plan).ok
    assert _lp(inst, False, monkeypatch) == pytest.approx(21.75, abs=1e-3)
    monkeypatch.setattr(constraints, "ISOLATION_CONFLICTS", "lp")
    model = CpsatModel(inst)
    assert len(model.lp_branch) == 1
    lp = lp_bound(model, None)
    assert lp == pytest.approx(21.43, abs=1e-2)
    one_lp = branch_value(model.bound_form, model.lp_branch, max_lps=1)
    assert one_lp is not None and padded_bound(model, one_lp) == pytest.approx(lp, abs=1e-6)
    got = branch_value(model.bound_form, model.lp_branch, max_lps=9)
    assert got is not None and padded_bound(model, got) == pytest.approx(18.0, abs=1e-3)
    # The same in the LP's child process (the solve's path when tuning.LP_IN_CHILD is on).
    child = lp_value_in_child(model.bound_form, 30.0, 0, (model.lp_branch, 9))
    assert child is not None and child == pytest.approx(got, abs=1e-6)
