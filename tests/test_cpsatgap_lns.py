"""LNS step reach (issue 16 part 3): a request spread over two racks needs a step over two racks.

Session 4's adaptive step sizes (GROW_BELOW) were removed in session 27 (git tag flags-s26)."""

from __future__ import annotations

import time

import pytest
from ortools.sat.python import cp_model

from packer.cpsat import lns as lns_mod
from packer.cpsat.model import CpsatModel
from packer.model import Instance, Node, Request, Spread, Tenant, Topology
from packer.progress import SILENT

H100 = "H100-80GB"


def _spread_pair() -> tuple[CpsatModel, lns_mod._Space]:
    """Eight racks of one 1-GPU node and one request for two GPUs, at most one per rack (so it needs
    two racks at once); the incumbent places nothing."""
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=1, mode="full", domains={"rack": f"r{i}"}) for i in range(8)]
    reqs = [Request(id="w", kind="gpu", count=2, tenant="t", spread=Spread(level="rack", max_per_domain=1))]
    inst = Instance(name="pair", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="t"),))
    model = CpsatModel(inst)
    model.solve(time_limit=1, seed=0, workers=1)
    space = lns_mod._space(model, "rack")
    assert space is not None
    nothing = model.model.clone()
    for i, _ in space.growth:
        dom = nothing.proto.variables[i].domain
        dom.clear()
        dom.extend([0, 0])
    solver = cp_model.CpSolver()
    assert solver.solve(nothing) == cp_model.OPTIMAL
    space.best = list(solver.response_proto.solution)
    space.best_obj = int(round(model._raw_objective(space.best)))
    space.stats.update(merged=0, conflicts=0)
    return model, space


@pytest.mark.parametrize("value", [True, False])
def test_only_value_steps_place_a_request_that_needs_two_racks(monkeypatch: pytest.MonkeyPatch, value: bool) -> None:
    """One-rack random steps can never place a request spread over two racks (session 27 removed the rules
    that grew random steps after quick proofs); value steps free the racks it needs and place it."""
    monkeypatch.setattr(lns_mod, "VALUE_SHARE", 0.5 if value else 0.0)
    monkeypatch.setattr(lns_mod, "EXCHANGE_SHARE", 0.0)
    model, space = _spread_pair()
    start = space.best_obj
    lns_mod._parallel(space, 2, domains_per_step=1, step_s=0.5, deadline=time.perf_counter() + 3.0, seed=0,
                      progress=SILENT)
    assert space.stats["steps"] >= 4
    if value:
        assert space.best_obj > start
        assert model._raw_objective(space.best) == pytest.approx(space.best_obj)
    else:
        assert space.best_obj == start
