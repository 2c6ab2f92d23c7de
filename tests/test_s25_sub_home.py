"""Tests the batch decomposition's sub-instance around running work the incumbent moved within a domain
(session 25): when work pinned in the sub-instance (crossing its border) holds a GPU of such a
request's home, the request is pinned where it is now instead of running at home, so the sub-instance
never holds two running units on one GPU. Case: haein-104 at 1,024 GPUs, a reproducible 40-step plan
(bench/tenants25_h104_det40_plan.json) in which run-0000 moved from n0027/0 to n0027/1 and req-00346,
which spans 15 nodes, took n0027/0."""

from __future__ import annotations

from pathlib import Path

import pytest

from packer.cpsat.decompose import _sub_instance
from packer.generate import generate
from packer.model import Plan, validate_instance

PLAN = Path(__file__).resolve().parents[1] / "bench" / "tenants25_h104_det40_plan.json"


@pytest.mark.parametrize("modes", [("mig", "shared"), ("mig",)])
def test_moved_running_work_does_not_run_at_a_taken_home(modes: tuple[str, ...]) -> None:
    """Tests that the sub-instance passes the instance checks, that run-0000 is pinned at n0027/1 (its
    place in the plan) and counts as moved outside the sub-problem, and that req-00346's unit there
    stays pinned."""
    inst = generate("haein", seed=104, nodes=128)
    plan = Plan.model_validate_json(PLAN.read_text())
    placed = {a.request: list(a.units) for a in plan.assignments}
    assert [(u.node, u.gpu) for u in placed["run-0000"]] == [("n0027", 1)]
    home = inst.request("run-0000").placement
    assert home is not None and [(u.node, u.gpu) for u in home] == [("n0027", 0)]
    nodes = {n.id for n in inst.nodes if n.mode in modes}
    sub, hint = _sub_instance(inst, placed, nodes, 0, offer=10**6, rule="fit")
    validate_instance(sub)  # raised "MIG instance overlaps running run-0000 on GPU n0027/0" before
    run = sub.request("run-0000")
    assert run.placement is not None and [(u.node, u.gpu) for u in run.placement] == [("n0027", 1)]
    assert not run.movable
    crossing = sub.request("req-00346")
    assert crossing.placement is not None and ("n0027", 0) in {(u.node, u.gpu) for u in crossing.placement}
    assert hint is not None and hint.objective > 0


def test_work_moved_within_a_domain_to_a_free_home_still_moves_freely() -> None:
    """Tests that running work moved within the domain whose home no pinned work holds stays free (as
    it runs at home, movable) — the rule pins only where the home is taken."""
    inst = generate("haein", seed=104, nodes=128)
    plan = Plan.model_validate_json(PLAN.read_text())
    placed = {a.request: list(a.units) for a in plan.assignments}
    everything = {n.id for n in inst.nodes}
    sub, _ = _sub_instance(inst, placed, everything, 0, offer=10**6, rule="fit")
    # With every node in the domain nothing crosses its border: every moved running request runs at home.
    for r in inst.requests:
        if r.placement is None or r.id not in placed:
            continue
        got = sub.request(r.id)
        assert got.movable == r.movable and got.placement == r.placement
