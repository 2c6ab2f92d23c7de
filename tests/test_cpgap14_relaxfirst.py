"""The LP thread's first job: the cluster-merged relaxation's bound (tuning.LP_RELAXED_LEVEL, issue 16
part 3, session 14), and the LNS gate that can open on it (tuning.LP_GATE_RELAXED)."""

from __future__ import annotations

import threading
import time

import pytest
from hypothesis import given, settings

from packer.check import check
from packer.cpsat import solve, tuning
from packer.cpsat.proof import relaxed_bound
from packer.cpsat.search import RelaxedFirst
from packer.generate import generate
from packer.model import Instance
from tests import strategies


@settings(max_examples=12, deadline=None)
@given(strategies.suite_instances(max_nodes=3, families=("inference", "sharing", "tenants", "hetero",
                                                         "adversarial", "training", "haein")))
def test_cluster_bound_is_above_the_proven_optimum_on_every_family(inst: Instance) -> None:
    """Tests that the relaxation's LP at the level the LP thread uses bounds the proven optimum, on small
    draws of every family whose solves use it (the relaxation argument itself is tested in
    tests/test_cpsat_relax.py)."""
    plan = solve(inst, time_limit=10, workers=1, hint=False)
    if plan.status != "optimal":
        return  # nothing proven to compare with
    bound = relaxed_bound(inst, "cluster")
    assert bound is None or bound >= plan.objective - 1e-6


def test_then_runs_the_relaxation_first_and_the_full_lp_in_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the order and the limits: the relaxation gets LP_RELAXED_SHARE of the limit, the model's LP
    the rest, the event is set before the model's LP starts, and the value returned is the latter's."""
    monkeypatch.setattr(tuning, "LP_RELAXED_LEVEL", "cluster")
    inst = generate("sharing", 0, nodes=4)
    job = RelaxedFirst(inst, 20.0)
    seen: dict[str, object] = {}

    def full(limit: float | None) -> float:
        seen["limit"] = limit
        seen["done_before"] = job.done.is_set()
        return 123.0

    assert job.then(full) == 123.0
    assert seen["done_before"] is True
    assert isinstance(seen["limit"], float) and 15.0 < seen["limit"] < 20.0
    assert job.value is not None and job.value == relaxed_bound(inst, "cluster")
    assert job.info(0.0)["level"] == "cluster"


def test_off_for_running_work_and_when_the_level_is_none(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the relaxation is skipped (no value, the event still set, the full LP gets the whole
    limit) for instances with running work and with LP_RELAXED_LEVEL None."""
    running = generate("fragmented", 0, nodes=4)
    assert any(r.placement is not None for r in running.requests)
    monkeypatch.setattr(tuning, "LP_RELAXED_LEVEL", "cluster")
    cases = [RelaxedFirst(running, 10.0)]
    monkeypatch.setattr(tuning, "LP_RELAXED_LEVEL", None)
    cases.append(RelaxedFirst(generate("sharing", 0, nodes=4), 10.0))
    for job in cases:
        limits: list[float | None] = []

        def full(lim: float | None, into: list[float | None] = limits) -> float:
            into.append(lim)
            return 1.0

        assert job.then(full) == 1.0
        assert job.level is None and job.value is None and job.done.is_set()
        assert limits and limits[0] is not None and limits[0] > 9.9


def test_gate_opens_on_the_relaxation_only_when_asked_and_when_it_answered(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests LP_GATE_RELAXED: off, the gate is the model LP's own event; on, it opens when the relaxation
    has a bound, and waits for the model's LP when the relaxation gave none."""
    monkeypatch.setattr(tuning, "LP_RELAXED_LEVEL", "cluster")
    inst = generate("inference", 0, nodes=4)
    lp_done = threading.Event()
    monkeypatch.setattr(tuning, "LP_GATE_RELAXED", False)
    assert RelaxedFirst(inst, 10.0).gate(lp_done) is lp_done
    monkeypatch.setattr(tuning, "LP_GATE_RELAXED", True)
    answered = RelaxedFirst(inst, 10.0)
    gate = answered.gate(lp_done)
    assert not gate.wait(0.05)
    answered.value = 1.0
    answered.done.set()
    assert gate.wait(5.0) and not lp_done.is_set()
    silent = RelaxedFirst(inst, 10.0)
    gate = silent.gate(lp_done)
    silent.done.set()  # no value
    time.sleep(0.05)
    assert not gate.is_set()
    lp_done.set()
    assert gate.wait(5.0)


@pytest.mark.parametrize("opened", [False, True])
def test_a_solve_reports_the_smaller_bound_and_a_valid_plan(monkeypatch: pytest.MonkeyPatch, opened: bool) -> None:
    """Tests the LP thread in a small LNS solve (gate on the model's LP or on the relaxation): the plan
    passes the checker, solver_info has the relaxation's bound, and the plan's bound is at most it."""
    monkeypatch.setattr(tuning, "LNS_MIN_VARIABLES", 0)
    monkeypatch.setattr(tuning, "LNS_MIN_S", 0.5)
    monkeypatch.setattr(tuning, "LNS_FIRST_MIN_S", 0.2)
    monkeypatch.setattr(tuning, "LP_RELAXED_LEVEL", "cluster")
    monkeypatch.setattr(tuning, "LP_GATE_RELAXED", opened)
    inst = generate("sharing", seed=1, nodes=8)
    plan = solve(inst, time_limit=6, workers=2)
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    info = plan.solver.model_extra  # type: ignore[union-attr]
    assert info["lp_beside_search"] is True
    rel = info["relaxed_first"]
    assert rel["level"] == "cluster" and rel["bound"] is not None
    assert plan.bound is not None and plan.bound <= rel["bound"] + 1e-6
    assert plan.bound >= plan.objective - 1e-6
