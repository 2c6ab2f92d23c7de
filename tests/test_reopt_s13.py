"""Tests of session 13's rows in the stays LP (packer.cpsat.reopt_stays.OTHER_ROWS): a node a
node-isolated tenant owns by a fraction gives every other tenant's group at most that group's per-node
cap times the rest, never more than the exact optimum allows, and strictly less than the capacity row
alone where another tenant's replicas are spread one a node."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_stays, solve
from packer.generate import generate
from packer.model import Instance, Node, Request, Spread, Tenant, Topology, Unit
from tests.running_states import fragmented_running

H100 = "H100-80GB"


def _spread_against_iso() -> Instance:
    """Two 2-GPU nodes; node-isolated tenant "iso" runs two identical movable 1-GPU jobs, one on each
    node; tenant "t" waits with one 2-GPU request spread one GPU a node (it needs both nodes).

    Every plan keeps iso on at least one node, so t's request never fits: the optimum is 2 (nothing
    moves) and 1.9 when one iso job moves beside the other. The capacity rows alone let the LP own
    each node by half, put one iso job and one of t's units on each (4 − two half moves = 3.9); the
    per-node rows cap t's unit on a node at 1 − own, so t gets at most one unit in all (half of its
    request: 2 + 1 − 0.1 = 2.9 at most)."""
    nodes = tuple(Node(id=f"n{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": "r0"})
                  for i in range(2))
    reqs = [Request(id=f"iso{i}", kind="gpu", count=1, tenant="iso", placement=(Unit(node=f"n{i}", gpu=0),),
                    movable=True, migration_cost=0.1) for i in range(2)]
    reqs.append(Request(id="spread", kind="gpu", count=2, tenant="t",
                        spread=Spread(level="node", max_per_domain=1)))
    return Instance(name="spread-iso", topology=Topology(levels=("node", "rack")), nodes=nodes,
                    requests=tuple(reqs), tenants=(Tenant(id="iso", isolation="node"), Tenant(id="t")))


def _bounds(inst: Instance, monkeypatch: pytest.MonkeyPatch) -> dict[bool, float]:
    model = reopt.repack_model(inst)
    assert model is not None
    got = {}
    for flag in (False, True):
        monkeypatch.setattr(reopt_stays, "OTHER_ROWS", flag)
        lp = reopt_stays.stays_lp(inst, model)
        assert lp is not None
        got[flag] = lp.bound
    return got


def test_other_rows_are_strictly_tighter_against_a_spread_replica(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that on the constructed state the bound without the rows is the fractional 3.9, with them
    at most 2.9, and both at least the exact optimum (2.0, proved)."""
    inst = _spread_against_iso()
    got = _bounds(inst, monkeypatch)
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, exact).ok
    assert exact.objective == pytest.approx(2.0, abs=1e-6)
    assert got[False] == pytest.approx(3.9, abs=1e-3)
    assert got[True] <= 2.9 + 1e-3
    assert got[True] >= exact.objective - 1e-6


def test_other_rows_leave_a_state_without_isolated_tenants_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that without a node-isolated tenant no row is added and the bound is unchanged."""
    inst = _spread_against_iso()
    inst = inst.replace(tenants=(Tenant(id="iso"), Tenant(id="t")))
    model = reopt.repack_model(inst)
    assert model is not None and not model.vars.owns
    sizes = {}
    for flag in (False, True):
        monkeypatch.setattr(reopt_stays, "OTHER_ROWS", flag)
        form = reopt_stays.stays_form(inst, model)
        assert form is not None
        sizes[flag] = form[0][1].shape[0]
    assert sizes[True] == sizes[False]
    got = _bounds(inst, monkeypatch)
    assert got[True] == pytest.approx(got[False], abs=1e-9)


def test_group_node_ub_takes_the_spread_cap() -> None:
    """Tests the per-node cap of a group: the spread's per-domain cap where it is below the columns'
    bounds, the columns' bounds otherwise."""
    inst = _spread_against_iso()
    model = reopt.repack_model(inst)
    assert model is not None
    data = model.data
    spread = next(g.index for g in data.groups if g.req.id == "spread")
    iso = next(g.index for g in data.groups if g.req.tenant == "iso")
    assert reopt_stays.group_node_ub(data, spread, [2]) == 1
    assert reopt_stays.group_node_ub(data, iso, [2]) == 2
    assert reopt_stays.group_node_ub(data, iso, [1]) == 1


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["fragmented", "tenants", "adversarial", "haein"]),
       nodes=st.sampled_from([2, 3]), release=st.sampled_from([0.3, 0.6]))
def test_stays_lp_with_other_rows_bounds_the_exact_optimum(seed: int, family: str, nodes: int,
                                                           release: float) -> None:
    """Tests on small generated running states with node-isolated tenants that the stays LP with the
    rows is at least the exact model's plan (its proven optimum where proved) and never above the LP
    without them."""
    inst = generate(family, seed, nodes=nodes)
    if not any(r.placement for r in inst.requests):
        inst = fragmented_running(inst, release=release, seed=seed)
    model = reopt.repack_model(inst)
    if model is None:
        return
    with pytest.MonkeyPatch.context() as mp:
        got = _bounds(inst, mp)
    assert got[True] <= got[False] + 1e-6
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    assert check(inst, exact).ok
    assert got[True] >= exact.objective - 1e-6
    if exact.status == "optimal":
        assert got[True] >= (exact.bound if exact.bound is not None else exact.objective) - 1e-6 \
            or got[True] >= exact.objective - 1e-6
