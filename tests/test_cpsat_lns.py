"""LNS on the CP-SAT model: parallel steps, the merge of their answers and its feasibility check."""

from __future__ import annotations

import numpy as np
import pytest
from ortools.sat.python import cp_model

from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region
from packer.cpsat.bound import linear_form
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from packer.model import Instance, Node, Request, Tenant, Topology

H100 = "H100-80GB"


def _two_racks(quota: float | None = None) -> Instance:
    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=1, mode="full", domains={"rack": f"r{i}"}) for i in range(2)]
    reqs = [Request(id="a", kind="gpu", count=1, priority=2.0, tenant="t"),
            Request(id="b", kind="gpu", count=1, tenant="t")]
    return Instance(name="t", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="t", max_gpus=quota),))


def _space(model: CpsatModel) -> lns_mod._Space:
    """The search space of ``model`` with an incumbent that places nothing."""
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
    empty = list(solver.response_proto.solution)
    space.best, space.best_obj = empty, int(round(model._raw_objective(empty)))
    space.stats.update(merged=0, conflicts=0)  # as the parallel search starts them
    return space


def _step(space: lns_mod._Space, base: list[int], rack: str, grow: str) -> tuple[list[int], int]:
    """The answer of a step that frees ``rack`` and may add request ``grow`` only."""
    allowed = space.model.vars.active[space.model.data.group_of[space.model.inst.request_index[grow]]]
    cap = [(i, base[i]) for i, _ in space.growth if i != allowed.index]  # type: ignore[union-attr]
    solver = cp_model.CpSolver()
    sub = space.sub_model(base, {rack}, cap)
    region = sub if isinstance(sub, lns_region.RegionModel) else None
    assert solver.solve(sub.model if region is not None else sub) == cp_model.OPTIMAL
    values = list(solver.response_proto.solution)
    return (region.expand(values) if region is not None else values), int(round(solver.objective_value))


def _checker(model: CpsatModel) -> lns_mod._Checker:
    form = linear_form(model.model)
    assert form is not None
    return lns_mod._Checker(*form[1:6])


def test_answers_of_disjoint_steps_merge() -> None:
    """Tests that a step finishing after another one moved the incumbent adds its own change to it."""
    model = CpsatModel(_two_racks())
    space = _space(model)
    base = space.best
    first = _step(space, base, "r0", "a")
    second = _step(space, base, "r1", "b")
    lns_mod._accept(space, base, space.best_obj, *first, lns_mod.SILENT)
    lns_mod._accept(space, base, space.best_obj, *second, lns_mod.SILENT)
    assert space.stats == {"steps": 0, "improved": 2, "merged": 1, "conflicts": 0}
    model.values = space.best
    placed, _, _ = model.placement()
    assert sorted(placed) == ["a", "b"]
    assert {placed["a"][0].node, placed["b"][0].node} == {"n0", "n1"}


def test_answers_that_place_the_same_request_do_not_merge() -> None:
    """Tests that two answers that both place one request are not merged: the better one alone stays."""
    model = CpsatModel(_two_racks())
    space = _space(model)
    base = space.best
    first = _step(space, base, "r0", "a")
    second = _step(space, base, "r1", "a")  # the same request on the other rack
    lns_mod._accept(space, base, space.best_obj, *first, lns_mod.SILENT)
    kept = space.best
    lns_mod._accept(space, base, space.best_obj, *second, lns_mod.SILENT)
    assert space.best is kept and space.stats["conflicts"] == 1 and space.stats["merged"] == 0
    model.values = space.best
    placed, _, _ = model.placement()
    assert list(placed) == ["a"]


def test_answers_that_break_a_quota_together_do_not_merge() -> None:
    """Tests that two answers each within the tenant's quota are not merged when together they exceed it."""
    model = CpsatModel(_two_racks(quota=1))
    space = _space(model)
    base = space.best
    first = _step(space, base, "r0", "a")
    second = _step(space, base, "r1", "b")
    chk = _checker(model)
    both = np.array(first[0]) + np.array(second[0]) - np.array(base)
    lo, hi = chk.lo, chk.hi
    assert ((both >= lo) & (both <= hi)).all()  # every value in its domain: only the quota row is broken
    assert not chk.feasible(both)
    lns_mod._accept(space, base, space.best_obj, *first, lns_mod.SILENT)
    lns_mod._accept(space, base, space.best_obj, *second, lns_mod.SILENT)
    assert space.stats["merged"] == 0 and space.stats["conflicts"] == 1
    model.values = space.best
    placed, _, _ = model.placement()
    assert list(placed) == ["a"]


def test_checker_rejects_a_value_out_of_its_domain() -> None:
    """Tests the merge's feasibility check on a value beyond its variable's domain."""
    model = CpsatModel(_two_racks())
    space = _space(model)
    first, _ = _step(space, space.best, "r0", "a")
    chk = _checker(model)
    assert chk.feasible(np.array(first))
    out = np.array(first)
    out[0] = chk.hi[0] + 1
    assert not chk.feasible(out)


def test_parallel_lns_gives_a_valid_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that LNS steps in two threads keep the plan valid, no worse than the hint, and take turns."""
    import packer.cpsat.solver as cpsat
    from packer.cpsat import tuning
    from packer.cpsat.proof import lp_bound
    from packer.greedy.solver import solve as greedy_solve

    monkeypatch.setattr(tuning, "LNS_MIN_VARIABLES", 0)
    monkeypatch.setattr(tuning, "LNS_MIN_S", 0.5)
    monkeypatch.setattr(tuning, "LNS_FIRST_MIN_S", 0.2)
    inst = generate("haein", seed=1, nodes=16)
    plan = cpsat.solve(inst, time_limit=6, workers=2)
    rep = check(inst, plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations]
    assert plan.objective >= greedy_solve(inst).objective - 1e-9
    lns = plan.solver.model_extra.get("lns")  # type: ignore[union-attr]
    assert lns is not None and lns["threads"] == 2 and lns["steps"] >= 2
    # the LP ran beside the search and its bound is the plan's (CP-SAT proves nothing tighter here)
    info = plan.solver.model_extra  # type: ignore[union-attr]
    assert info["lp_beside_search"] is True
    lp = lp_bound(CpsatModel(inst), None)
    assert lp is not None and info["lp_bound"] == pytest.approx(lp, abs=1e-6)
    assert plan.objective - 1e-9 <= plan.bound <= lp + 1e-9  # type: ignore[operator]


def test_reproducible_runs_solve_the_lp_first(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with one worker the LP runs before the search, not beside it (same plan twice)."""
    import packer.cpsat.solver as cpsat
    from packer.cpsat import tuning

    monkeypatch.setattr(tuning, "LNS_MIN_VARIABLES", 0)
    monkeypatch.setattr(tuning, "LNS_MIN_S", 0.5)
    monkeypatch.setattr(tuning, "LNS_FIRST_MIN_S", 0.2)
    inst = generate("haein", seed=1, nodes=8)
    plans = [cpsat.solve(inst, time_limit=4, workers=1) for _ in range(2)]
    assert plans[0].solver.model_extra["lp_beside_search"] is False  # type: ignore[index]
    assert plans[0].assignments == plans[1].assignments and plans[0].bound == plans[1].bound


def test_background_job_waits_a_limited_time_and_passes_errors_on() -> None:
    """Tests the LP's thread: its value when done, None when not done in time, its error re-raised."""
    import threading

    from packer.cpsat.background import Background as _Background

    assert _Background(lambda: 42).result(timeout=5.0) == 42
    gate = threading.Event()
    slow = _Background(lambda: gate.wait(5.0) and 7)
    assert slow.result(timeout=0.05) is None
    gate.set()
    assert slow.result(timeout=5.0) == 7

    def boom() -> None:
        raise ValueError("no LP")

    with pytest.raises(ValueError, match="no LP"):
        _Background(boom).result(timeout=5.0)


def _solved_haein16() -> tuple[Instance, CpsatModel]:
    """The haein mix on 16 nodes, its model hinted with the greedy plan and solved for a second."""
    from packer.greedy.solver import solve as greedy_solve

    inst = generate("haein", seed=1, nodes=16)
    model = CpsatModel(inst)
    model.hint(greedy_solve(inst))
    model.solve(time_limit=1.0, seed=0, workers=1)
    return inst, model


def _anchor_space() -> lns_mod._Space:
    """Six domains; group 0 placed over domains 1 and 2, group 1 over four, group 2 in one, and a
    group of several identical requests (-1) over two."""
    placement = [(0, 1, 3), (0, 2, 5), (1, 0, 1), (1, 3, 1), (1, 4, 1), (1, 5, 1), (2, 0, 2), (2, 5, 0),
                 (-1, 3, 1), (-1, 4, 2)]
    return lns_mod._Space(model=None, names=[f"r{i}" for i in range(6)], members={}, per_node={},  # type: ignore[arg-type]
                          growth=[], best=[units for _, _, units in placement], best_obj=0,
                          x_index=np.arange(len(placement)),
                          x_domain=np.array([dm for _, dm, _ in placement]),
                          x_group=np.array([g for g, _, _ in placement]))


def test_anchored_step_frees_the_domains_of_a_request_that_spans_several(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that an anchored step frees both racks of the one request spanning two (group 0; the
    four-rack one is too wide, the one-rack one moves in random steps anyway, the group of identical
    requests spans two racks one request each) plus one more."""
    import random

    monkeypatch.setattr(lns_mod, "ANCHORED_SHARE", 1.0)
    space = _anchor_space()
    for s in range(20):
        free = space.pick(random.Random(s), space.names, 2, space.best)
        assert {"r1", "r2"} < free and len(free) == 3


def test_anchored_step_falls_back_to_random_domains_when_an_anchor_is_busy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a request with a domain another step holds is no anchor: the step is random."""
    import random

    monkeypatch.setattr(lns_mod, "ANCHORED_SHARE", 1.0)
    space = _anchor_space()
    pool = ["r0", "r1", "r3", "r4", "r5"]  # r2 is busy
    picks = [space.pick(random.Random(s), pool, 2, space.best) for s in range(20)]
    assert all(len(free) == 2 and free <= set(pool) for free in picks)
    assert len({frozenset(free) for free in picks}) > 1


def test_steps_run_one_at_a_time_until_the_core_is_free(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests ``one_until``: while the LP holds a core, one LNS step runs at a time; after, two do."""
    import threading
    import time

    inst, model = _solved_haein16()
    real_step = lns_mod._step
    active = [0, 0]  # running now, most at once
    lock = threading.Lock()

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        with lock:
            active[0] += 1
            active[1] = max(active[1], active[0])
        try:
            time.sleep(0.1)  # room for a second thread to start a step meanwhile
            return real_step(*args, **kwargs)
        finally:
            with lock:
                active[0] -= 1

    monkeypatch.setattr(lns_mod, "_step", counted)
    for held, most in ((True, 1), (False, 2)):
        gate = threading.Event()
        if not held:
            gate.set()
        active[:] = [0, 0]
        lns_mod.lns(model, level="rack", domains_per_step=1, step_s=0.3, deadline=time.perf_counter() + 1.5,
                    seed=0, workers=2, one_until=gate)
        assert model.lns_stats["steps"] >= 2 and active[1] == most


def _isolated_tenant() -> tuple[CpsatModel, lns_mod._Space]:
    """Four racks of one 2-GPU node; node-isolated tenant ``sec`` holds a GPU in each (request ``s``,
    one per rack) and waits with ``w``: four GPUs, one per rack, worth twice as much. The incumbent
    leaves ``w`` out."""
    from packer.model import Spread

    nodes = [Node(id=f"n{i}", gpu_model=H100, num_gpus=2, mode="full", domains={"rack": f"r{i}"}) for i in range(4)]
    per_rack = Spread(level="rack", max_per_domain=1)
    reqs = [Request(id="s", kind="gpu", count=4, tenant="sec", spread=per_rack),
            Request(id="w", kind="gpu", count=4, priority=2.0, tenant="sec", spread=per_rack)]
    inst = Instance(name="iso", topology=Topology(levels=("node", "rack")), nodes=tuple(nodes), requests=tuple(reqs),
                    tenants=(Tenant(id="sec", isolation="node"),))
    model = CpsatModel(inst)
    model.solve(time_limit=1, seed=0, workers=1)
    space = lns_mod._space(model, "rack")
    assert space is not None and set(space.owned) == {"sec"}
    w = model.vars.active[model.data.group_of[inst.request_index["w"]]]
    without_w = model.model.clone()
    dom = without_w.proto.variables[w.index].domain  # type: ignore[union-attr]
    dom.clear()
    dom.extend([0, 0])
    solver = cp_model.CpSolver()
    assert solver.solve(without_w) == cp_model.OPTIMAL
    space.best = list(solver.response_proto.solution)
    space.best_obj = int(round(model._raw_objective(space.best)))
    return model, space


def test_tenant_step_frees_the_nodes_of_a_node_isolated_tenant(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a tenant step frees exactly the four nodes ``sec`` owns, is not repeated on the same
    incumbent, and that only such steps place a request spread over more racks than a step frees."""
    import random
    import time

    monkeypatch.setattr(lns_mod, "TENANT_SHARE", 1.0)
    model, space = _isolated_tenant()
    names, nodes, prefer = space.choose(random.Random(0), space.names, 1, space.best)
    assert names == {"r0", "r1", "r2", "r3"} and nodes == {0, 1, 2, 3} and prefer
    again = space.choose(random.Random(0), space.names, 1, space.best)
    assert again[1] is None and len(again[0]) == 1  # the same incumbent: a random one-rack step instead
    assert space.pick_tenant(random.Random(1), ["r0", "r1", "r2"], space.best) is None  # r3 is busy

    start = space.best_obj
    monkeypatch.setattr(lns_mod, "VALUE_SHARE", 0.0)  # an exchange step can free the four racks, too
    monkeypatch.setattr(lns_mod, "EXCHANGE_SHARE", 0.0)
    for share, gain in ((0.0, False), (1.0, True)):
        monkeypatch.setattr(lns_mod, "TENANT_SHARE", share)
        model, space = _isolated_tenant()
        lns_mod._sequential(space, domains_per_step=1, step_s=1.0, deadline=time.perf_counter() + 30, seed=0,
                            workers=1, steps=4, det_step=1.0, progress=lns_mod.SILENT)
        assert (space.best_obj > start) is gain


def test_sub_model_fixes_every_class_outside_the_step_whatever_the_base(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the kept fixed copy behind ``sub_model`` (full-clone steps): for changing bases, racks and
    node sets, its domains equal those of fixing every class outside the step in a fresh copy of the model."""
    import random

    monkeypatch.setattr(lns_mod, "REGION_STEPS", False)

    inst, model = _solved_haein16()
    space = lns_mod._space(model, "rack")
    assert space is not None
    original = model.model.proto.variables

    def plain(base: list[int], free: set[str], nodes: set[int] | None) -> list[list[int]]:
        keep = nodes if nodes is not None else {ni for name in free for ni in space.members[name]}
        doms = [list(original[i].domain) for i in range(len(original))]
        for ni, ixs in space.per_node.items():
            if ni not in keep:
                for i in ixs:
                    doms[i] = [base[i], base[i]]
        return doms

    rng = random.Random(3)
    fixable = sorted(i for ixs in space.per_node.values() for i in ixs)
    other = list(space.best)
    for i in rng.sample(fixable, 40):  # a second base: some class variables at their top value
        dom = original[i].domain
        other[i] = dom[len(dom) - 1]
    for k in range(6):
        base = other if k % 3 == 1 else space.best
        free = set(rng.sample(space.names, 2))
        nodes = set(rng.sample(range(len(inst.nodes)), 3)) if k % 2 else None
        sub = space.sub_model(base, free, [], nodes)  # kept: its proto's views die with it
        got = sub.proto.variables
        assert [list(got[i].domain) for i in range(len(got))] == plain(base, free, nodes)
