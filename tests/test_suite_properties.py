"""Property tests over the benchmark suite's families: every solver's plan passes the checker."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings

from packer.check import check
from packer.dispatch import solve
from packer.formats import dumps, instance_from_dict, instance_to_dict, parse_json
from tests.strategies import suite_instances

FEW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _assert_valid(inst, plan) -> None:
    report = check(inst, plan)
    assert report.ok, f"{inst.name}: {report.format()}"
    assert abs(report.objective - plan.objective) <= 1e-6 * max(1.0, abs(plan.objective))
    assert {a.request for a in plan.assignments} | {u.request for u in plan.unplaced} == {r.id for r in inst.requests}


@FEW
@given(suite_instances())
def test_greedy_plans_pass_check(inst):
    """Tests that the greedy placer's plan of any suite instance passes the checker."""
    _assert_valid(inst, solve(inst, "greedy"))


@FEW
@given(suite_instances())
def test_online_plans_pass_check(inst):
    """Tests that the online placer's plans (default policy, and first-fit by size) pass the checker."""
    _assert_valid(inst, solve(inst, "online"))
    _assert_valid(inst, solve(inst, "online", policy="first-fit", order="size-desc"))


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(suite_instances(max_nodes=1))
def test_cpsat_plans_pass_check(inst):
    """Tests that CP-SAT's plan (2 s) of a one-node suite instance passes the checker within its bound."""
    plan = solve(inst, "cpsat", time_limit=2, workers=1)
    _assert_valid(inst, plan)
    assert plan.bound is None or plan.objective <= plan.bound + 1e-6


@settings(max_examples=10, deadline=None)
@given(suite_instances(max_nodes=2))
def test_suite_instances_round_trip(inst):
    """Tests that a suite instance survives its own JSON form (what `packer generate` writes)."""
    assert instance_from_dict(parse_json(dumps(instance_to_dict(inst)), file="<test>")) == inst
