"""Tests of the running-cluster re-optimizer (packer.cpsat.reopt), its classes, bound and CLI."""

from __future__ import annotations

import json
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cli import main
from packer.cpsat import reopt, solve
from packer.cpsat.model import CpsatModel
from packer.formats import load_plan, save_instance
from packer.generate import generate
from packer.model import Instance
from packer.plans import objective_value
from tests.running_states import capped, fragmented_running


def running_state(inst: Instance, *, release: float = 0.35, seed: int = 0, movable: str = "all") -> Instance:
    """``inst`` packed by greedy, then a share of its new work released: a fragmented running cluster."""
    return fragmented_running(inst, release=release, seed=seed, movable=movable)


@pytest.fixture(scope="module")
def haein16() -> Instance:
    return running_state(generate("haein", 1, nodes=16, demand=1.6), seed=1)


def test_fixed_work_of_one_shape_shares_a_class() -> None:
    """Tests that GPUs whose running work cannot move and looks the same form one class, and that the
    classes stay exact: the same optimum as one class per GPU."""
    inst = running_state(generate("small", 2), seed=2, movable="none")
    agg = CpsatModel(inst)
    single = CpsatModel(inst, aggregate=False)
    dirty = [c for c in agg.data.classes if c.running]
    assert any(c.size > 1 for c in dirty)
    per_gpu = [c for c in CpsatModel(reopt.pinned(inst)).data.classes if c.running]
    assert len(per_gpu) == len(dirty)
    for c in dirty:  # every GPU of the class holds the same work
        shapes = {tuple(sorted((u.profile, u.start, u.gpu_milli) for _, u in c.running if u.gpu == g)) for g in c.gpus}
        assert len(shapes) == 1
    a = solve(inst, time_limit=20, workers=1)
    assert check(inst, a).ok
    assert a.status == "optimal"
    assert len(agg.data.classes) < len(single.data.classes)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 40), release=st.sampled_from([0.3, 0.6]))
def test_fixed_running_classes_are_exact(seed: int, release: float) -> None:
    """Tests that the aggregated model with fixed running work proves the same optimum as one class per GPU."""
    inst = running_state(generate("tiny", seed), release=release, seed=seed, movable="none")
    a = solve(inst, time_limit=10, workers=1)
    b = solve(inst, time_limit=10, workers=1, aggregate=False)
    assert check(inst, a).ok and check(inst, b).ok
    if a.status == "optimal" and b.status == "optimal":
        assert a.objective == pytest.approx(b.objective, abs=1e-6)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 40), cap=st.sampled_from([0, 1, 2, None]))
def test_budget_bound_is_an_upper_bound(seed: int, cap: int | None) -> None:
    """Tests that the relaxed LP bound of a budget is at least the proven optimum with that many moves."""
    inst = running_state(generate("tiny", seed), release=0.5, seed=seed)
    exact = solve(capped(inst, cap), time_limit=10, workers=1, aggregate=False)
    bound = reopt.budget_bound(inst, [cap])[cap]
    assert bound is not None
    if exact.status == "optimal":
        assert bound >= exact.objective - 1e-6


def test_budget_bound_is_not_trivial(haein16: Instance) -> None:
    """Tests that the bound accounts for running work: it grows with the budget, stays below everything
    placed, and budget 0 is close to the no-move plan."""
    bounds = reopt.budget_bound(haein16, [0, 4, None])
    everything = sum(r.priority * sum(haein16.unit_size(r, u) for u in r.placement) if r.placement
                     else 0.0 for r in haein16.requests)
    assert bounds[0] is not None and bounds[4] is not None and bounds[None] is not None
    assert bounds[0] <= bounds[4] + 1e-6 <= bounds[None] + 2e-6
    plan = reopt.no_move_plan(haein16, time_limit=10, workers=1)
    assert plan.bound is not None and plan.bound >= plan.objective - 1e-6
    assert bounds[0] >= plan.objective - 1e-6
    assert everything < bounds[None]  # running work alone is below it: new work counts too
    total = sum(r.priority * r.count * 1.0 for r in haein16.requests)
    assert bounds[None] < total


@pytest.mark.parametrize("budget", [0, 3, None])
def test_reoptimize_moves_at_most_its_budget(haein16: Instance, budget: int | None) -> None:
    """Tests that a budget's plan is valid, moves at most the budget, is no worse than moving nothing,
    and stays below its bound."""
    pt = reopt.reoptimize(haein16, budget=budget, time_limit=12, workers=1, seed=0)
    assert check(haein16, pt.plan).ok
    placed = {a.request: a.units for a in pt.plan.assignments}
    assert pt.moves == reopt.moves(haein16, placed) == len(pt.plan.migrations)
    if budget is not None:
        assert pt.moves <= budget
    assert pt.plan.bound is not None and pt.plan.bound >= pt.plan.objective - 1e-6
    assert pt.plan.objective >= pt.info.get("no_move_objective", pt.plan.objective) - 1e-9
    assert objective_value(haein16, placed) == pytest.approx(pt.plan.objective)


def test_move_steps_move_running_work_for_waiting_work() -> None:
    """Tests that move steps on a fragmented cluster make room: the objective grows and work moves."""
    inst = running_state(generate("haein", 3, nodes=16, demand=1.6), release=0.4, seed=3)
    start = reopt.no_move_plan(inst, time_limit=8, workers=1)
    cur = {a.request: list(a.units) for a in start.assignments}
    import time

    out, stats = reopt.move_steps(inst, cur, cap=None, deadline=time.perf_counter() + 15, seed=0, workers=1)
    assert stats["steps"] > 0
    assert objective_value(inst, out) >= start.objective - 1e-9
    # Per aim kind: steps and improvements add up to the totals, the gains to the objective's growth.
    kinds = stats["by_kind"]
    assert sum(k["steps"] for k in kinds.values()) == stats["steps"]
    assert sum(k["improved"] for k in kinds.values()) == stats["improved"]
    assert sum(k["gain"] for k in kinds.values()) == pytest.approx(objective_value(inst, out) - start.objective,
                                                                   abs=0.01)
    assert all(k["nodes"] >= k["steps"] and min(k["build_s"], k["solve_s"], k["check_s"]) >= 0 for k in kinds.values())
    from packer.cpsat.reopt import _plan

    plan = _plan(inst, out, bound=None, seed=0, wall_s=0.0, info={})
    assert check(inst, plan).ok


def test_sub_instance_frees_work_inside_and_pins_work_across(haein16: Instance) -> None:
    """Tests a step's sub-instance: movable work wholly inside is free as it runs, work across the border
    is pinned with its units inside only, the cap and quotas carry over."""
    plan = reopt.no_move_plan(haein16, time_limit=5, workers=1)
    cur = {a.request: list(a.units) for a in plan.assignments}
    region = {n.id for n in haein16.nodes[:3]}
    sub, hint, uncounted = reopt._sub_instance(haein16, cur, region, 5, [], None, random.Random(0))
    assert not uncounted  # nothing moved yet
    assert sub.objective.max_migrations == 5
    assert {n.id for n in sub.nodes} == region
    for r in sub.requests:
        orig = haein16.request(r.id)
        units = cur[r.id]
        inside = all(u.node in region for u in units)
        if orig.movable and inside:
            assert r.movable and r.placement == orig.placement
        elif not inside:
            assert not r.movable and r.count == sum(1 for u in units if u.node in region)
    assert {a.request for a in hint.assignments} == {r.id for r in sub.requests}


def test_curve_is_monotone_and_respects_each_budget(haein16: Instance) -> None:
    """Tests that the curve's plans each move at most their budget and never lose value as it grows."""
    points = reopt.curve(haein16, [0, 2, None], time_limit=8, workers=1)
    assert [p.budget for p in points] == [0, 2, None]
    for p in points:
        assert check(haein16, p.plan).ok
        assert p.budget is None or p.moves <= p.budget
    objs = [p.plan.objective for p in points]
    assert objs == sorted(objs)
    assert points[0].moves == 0


def test_cli_reoptimize_writes_plans_and_curve(tmp_path, haein16: Instance, capsys) -> None:  # type: ignore[no-untyped-def]
    """Tests ``packer reoptimize``: one checked plan per budget, curve.json, the printed table."""
    state = tmp_path / "state.json"
    save_instance(haein16, state)
    out = tmp_path / "curve"
    code = main(["reoptimize", str(state), "--budgets", "0,2,all", "-o", str(out), "--time-limit", "5",
                 "--workers", "1"])
    assert code == 0
    doc = json.loads((out / "curve.json").read_text())
    assert [r["budget"] for r in doc["rows"]] == [0, 2, "all"]
    for r in doc["rows"]:
        plan = load_plan(out / r["plan"])
        assert check(haein16, plan).ok
        assert len(plan.migrations) == r["migrations"]
        assert r["bound"] >= r["objective"] - 1e-6
    text = capsys.readouterr().out
    assert "budget" in text and "migrations" in text and "utilization" in text


@pytest.mark.parametrize("budgets", ["0,x", "-1", ","])
def test_cli_reoptimize_bad_budgets_exit_2(tmp_path, budgets: str, capsys) -> None:  # type: ignore[no-untyped-def]
    """Tests that a malformed --budgets exits 2 naming the field, and writes nothing."""
    state = tmp_path / "state.json"
    save_instance(generate("tiny", 0), state)
    out = tmp_path / "out"
    assert main(["reoptimize", str(state), "--budgets", budgets, "-o", str(out)]) == 2
    assert "--budgets" in capsys.readouterr().err
    assert not out.exists()


def test_cpsat_solve_hands_running_clusters_to_the_reoptimizer(haein16: Instance, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that ``cpsat.solve`` on a cluster with much movable work re-optimizes: a valid plan within the
    instance's cap, bounded, no worse than moving nothing."""
    monkeypatch.setattr(reopt, "MIN_MOVABLE", 16)
    assert len(reopt.movable_ids(haein16)) >= reopt.MIN_MOVABLE
    inst = capped(haein16, 2)
    plan = solve(inst, time_limit=10, workers=1)
    assert check(inst, plan).ok
    assert len(plan.migrations) <= 2
    assert plan.bound is not None and plan.bound >= plan.objective - 1e-6
    info = plan.solver.model_dump()
    assert info.get("budget", "missing") is None  # reoptimize's info: the instance's own cap applies


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 40))
def test_capacity_bound_counts_movable_work_in_capacity(seed: int) -> None:
    """Tests that the capacity bound stays an upper bound with movable running work, and gives that work
    no free capacity (it is at most the bound with the work pinned plus the work's best value)."""
    from packer.cpsat.bound import capacity_bound

    inst = running_state(generate("tiny", seed), release=0.5, seed=seed)
    exact = solve(inst, time_limit=10, workers=1, aggregate=False)
    cb = capacity_bound(inst)
    assert cb is not None
    if exact.status == "optimal":
        assert cb >= exact.objective - 1e-6


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 40), cap=st.sampled_from([1, 2, None]))
def test_small_clusters_use_the_exact_model(seed: int, cap: int | None) -> None:
    """Tests that a small running cluster is re-optimized with the exact model: a valid plan within the
    budget, the proven optimum when the exact solve proves one, and a bound no smaller than it."""
    inst = running_state(generate("tiny", seed), release=0.5, seed=seed)
    assert reopt.exact_share(inst) == 1.0
    pt = reopt.reoptimize(inst, budget=cap, time_limit=10, workers=1, seed=0)
    assert check(inst, pt.plan).ok
    assert cap is None or pt.moves <= cap
    if reopt.movable_ids(inst):
        assert "exact" in pt.info
    exact = solve(capped(inst, cap), time_limit=10, workers=1, aggregate=False)
    if exact.status == "optimal":
        assert pt.plan.bound is not None and pt.plan.bound >= exact.objective - 1e-6
        if pt.plan.status == "optimal":
            assert pt.plan.objective == pytest.approx(exact.objective, abs=1e-6)


def test_exact_share_follows_model_size(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Tests that the exact model's share of the time goes by its variables: all, part, none."""
    inst = running_state(generate("small", 2), seed=2)
    n = reopt.exact_variables(inst)
    assert n is not None and n > 0
    monkeypatch.setattr(reopt, "EXACT_MAX_VARIABLES", n)
    assert reopt.exact_share(inst) == 1.0
    monkeypatch.setattr(reopt, "EXACT_MAX_VARIABLES", n - 1)
    monkeypatch.setattr(reopt, "EXACT_HYBRID_VARIABLES", n)
    assert reopt.exact_share(inst) == reopt.EXACT_SHARE
    monkeypatch.setattr(reopt, "EXACT_HYBRID_VARIABLES", n - 1)
    assert reopt.exact_share(inst) == 0.0
    monkeypatch.setattr(reopt, "EXACT_MAX_PAIRS", len(inst.requests) * len(inst.nodes) - 1)
    assert reopt.exact_variables(inst) is None
