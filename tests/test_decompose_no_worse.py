"""The decomposed search never makes the plan worse than its incumbent.

A sub-problem's hint used to carry objective 0, so the monolithic solve's "hand the hint back when
the search found less" guard never fired, and the merge took whatever came back: at 16,384 GPUs
(sharing, seed 0) 56 accepted sub-plans netted a loss. Here every sub-solve returns an empty plan
(the worst answer there is); the incumbent must come out unchanged, by both the sequential and the
parallel search.
"""

from __future__ import annotations

import time

import pytest

from packer.cpsat.decompose import SubJob, _sub_instance, lns_by_domain, lns_by_domain_parallel
from packer.generate import generate
from packer.greedy.solver import solve as greedy_solve
from packer.model import Plan, SolverInfo
from packer.plans import objective_value


def _empty(sub_name: str) -> Plan:
    return Plan(instance=sub_name, status="feasible", objective=0.0, solver=SolverInfo(name="empty"), assignments=())


@pytest.fixture(scope="module")
def case():  # type: ignore[no-untyped-def]
    inst = generate("haein", seed=3, nodes=16)
    placed = {a.request: list(a.units) for a in greedy_solve(inst).assignments}
    assert placed
    return inst, placed


def test_the_hint_carries_its_true_objective(case) -> None:  # type: ignore[no-untyped-def]
    inst, placed = case
    level = inst.cluster_topology.levels[-2]
    for nodes in inst.cluster_topology.domains(level).values():
        sub, hint = _sub_instance(inst, placed, set(nodes), offset=0)
        assert hint is not None
        got = {a.request: list(a.units) for a in hint.assignments}
        assert hint.objective == pytest.approx(objective_value(sub, got))
        if got:
            assert hint.objective > 0


def test_sequential_search_rejects_a_worse_sub_plan(case) -> None:  # type: ignore[no-untyped-def]
    inst, placed = case
    before = objective_value(inst, placed)
    calls = []

    def worse(sub, hint, budget, det):  # type: ignore[no-untyped-def]
        calls.append(sub.name)
        return _empty(sub.name)

    out, stats = lns_by_domain(inst, placed, deadline=time.perf_counter() + 60, solve_sub=worse, rounds=1)
    assert calls, "no sub-problem was solved"
    assert objective_value(inst, out) == pytest.approx(before)
    assert stats["improved"] == 0


def test_parallel_search_rejects_a_worse_sub_plan(case) -> None:  # type: ignore[no-untyped-def]
    inst, placed = case
    before = objective_value(inst, placed)

    def batch(jobs: list[SubJob], timeout: float) -> list[Plan | None]:
        return [_empty(j.instance.name) for j in jobs]

    out, stats = lns_by_domain_parallel(inst, placed, deadline=time.perf_counter() + 60, solve_batch=batch,
                                        parallel=2, rounds=1)
    assert stats["subproblems"] > 0
    assert objective_value(inst, out) == pytest.approx(before)
    assert stats["improved"] == 0 and stats["rejected"] == stats["subproblems"]
