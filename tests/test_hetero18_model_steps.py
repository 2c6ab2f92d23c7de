"""Model LNS steps (issue 16 part 3, session 18): the whole-GPU nodes of the GPU models a waiting
model-restricted whole-GPU request may use, and of the models the work in its way may use, freed at once."""

from __future__ import annotations

import random
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import lns
from packer.cpsat.model import CpsatModel
from packer.cpsat.reasons import unplaced_reasons
from packer.generate import generate
from packer.greedy.solver import solve as greedy_solve
from packer.plans import build_plan


def _space(family: str = "hetero", seed: int = 0, nodes: int = 32):  # type: ignore[no-untyped-def]
    inst = generate(family, seed=seed, nodes=nodes)
    model = CpsatModel(inst)
    model.hint(greedy_solve(inst, seed=0))
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    space = lns._space(model, "rack")
    assert space is not None
    return inst, model, space


def _whole_only(space, base) -> set[int]:  # type: ignore[no-untyped-def]
    vals = np.asarray(base)
    return {ni for ni in space.whole_nodes if not (len(space.other_x[ni]) and vals[space.other_x[ni]].any())}


def test_the_model_groups_are_the_restricted_whole_gpu_groups() -> None:
    """Tests what the space reads for model steps: each node's model, the models of each whole-GPU unit's
    group (the models of the nodes it has variables on) aligned with whole_x, and the whole-GPU groups of
    at least MODEL_MIN_COUNT GPUs that may use fewer models than all whole-GPU work together."""
    inst, model, space = _space()
    d, v = model.data, model.vars
    models_of: dict[int, set[str]] = {}
    for (gi, ci, _), _var in v.x.items():
        if d.groups[gi].req.kind == "gpu":
            models_of.setdefault(gi, set()).add(inst.nodes[d.classes[ci].node].gpu_model)
    every = set().union(*models_of.values())
    assert len(every) >= 2
    want = {v.active[gi].index: frozenset(ms) for gi, ms in models_of.items()
            if hasattr(v.active[gi], "index") and d.groups[gi].req.count >= lns.MODEL_MIN_COUNT and ms < every}
    assert want, "hetero at 32 nodes has model-restricted gangs"
    assert {g[0]: g[3] for g in space.model_groups} == want
    assert space.whole_models == frozenset(every)
    for var, top, value, _ in space.model_groups:
        gi = next(g for g, act in v.active.items() if hasattr(act, "index") and act.index == var)
        dom = model.model.proto.variables[var].domain
        assert top == dom[len(dom) - 1]
        assert value == pytest.approx(d.groups[gi].req.priority * d.groups[gi].req.count)
    index_group = {var.index: gi for (gi, ci, _), var in v.x.items()}
    for ni in space.whole_nodes:
        assert space.node_model[ni] == inst.nodes[ni].gpu_model
        assert len(space.whole_x_models[ni]) == len(space.whole_x[ni])
        for var, ms in zip(space.whole_x[ni].tolist(), space.whole_x_models[ni], strict=True):
            assert ms == frozenset(models_of[index_group[var]])


@pytest.mark.parametrize("family", ["tenants", "training", "adversarial"])
def test_no_model_steps_without_restricted_gangs_and_the_same_draws(family: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a family without model-restricted whole-GPU work has no model groups, never draws a
    model step, and draws the same steps as with model steps off (so nothing there changes)."""
    _, _, space = _space(family, seed=0, nodes=16)
    assert space.model_groups == []

    def draws(share: float) -> list[tuple]:  # type: ignore[type-arg]
        monkeypatch.setattr(lns, "MODEL_SHARE", share)
        _, _, sp = _space(family, seed=0, nodes=16)
        rng = random.Random(3)
        out = []
        for _ in range(30):
            names, nodes, grow, kind = sp.choose_kind(rng, sp.names, 2, sp.best)
            out.append((sorted(names), None if nodes is None else sorted(nodes), sorted(grow), kind))
        return out

    on, off = draws(0.1), draws(0.0)
    assert on == off and all(k != "model" for *_, k in on)


def _check_pick(space, base, got) -> None:  # type: ignore[no-untyped-def]
    """The invariants of a model step's choice."""
    names, nodes, grow = got
    clean = _whole_only(space, base)
    assert nodes <= clean and nodes
    assert names == {space.node_domain[ni] for ni in nodes}
    assert len(nodes) <= lns.WHOLE_MAX_NODES
    waiting = {g[0] for g in space.model_groups if base[g[0]] < g[1]}
    assert set(grow) <= waiting and grow


def test_a_model_step_frees_the_whole_nodes_of_its_models_and_of_the_work_in_the_way() -> None:
    """Tests pick_models with one waiting group: every whole-only node of its models is in, and of the
    models the whole-GPU work placed there may use; the rest of the nodes are the landing nodes (other
    models, idle whole GPUs, at most MODEL_LANDING_NODES); the same values again give None."""
    _, _, space = _space()
    base = list(space.best)
    vals = np.asarray(base)
    # One waiting group only: every other model group counts as fully placed in these values.
    target = space.model_groups[0]
    for var, top, _, _ in space.model_groups:
        base[var] = top
    base[target[0]] = 0
    got = space.pick_models(random.Random(0), space.names, base)
    assert got is not None
    _check_pick(space, base, got)
    names, nodes, grow = got
    clean = _whole_only(space, base)
    models = set(target[3])
    for ni in clean:
        if space.node_model[ni] in target[3]:
            for var, ms in zip(space.whole_x[ni].tolist(), space.whole_x_models[ni], strict=True):
                if vals[var] > 0 and ms < space.whole_models:
                    models |= ms
    inner = {ni for ni in clean if space.node_model[ni] in models}
    if len(inner) <= lns.WHOLE_MAX_NODES:
        assert inner <= nodes
        landing = nodes - inner
        assert len(landing) <= lns.MODEL_LANDING_NODES
        for ni in landing:
            assert space.node_model[ni] not in models
            assert space.whole_cap[ni] - int(vals[space.whole_x[ni]].sum()) > 0
    assert grow == [target[0]]
    assert space.pick_models(random.Random(0), space.names, base) is None  # seen: not again
    space.models_seen.clear()
    space.models_done.add(target[0])  # a proven step found nothing for it: never drawn again
    assert space.pick_models(random.Random(0), space.names, base) is None
    space.models_done.clear()
    assert space.pick_models(random.Random(0), space.names, base) is not None
    for var, top, _, _ in space.model_groups:
        base[var] = top
    assert space.pick_models(random.Random(0), space.names, base) is None  # nothing waits


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 200), draw=st.integers(0, 1000), nodes=st.sampled_from([16, 32]))
def test_model_step_choices_hold_their_invariants_and_stay_in_the_pool(seed: int, draw: int, nodes: int) -> None:
    """Hypothesis: on hetero instances of any seed, a model step's choice frees only whole-only nodes,
    lets only waiting model groups grow, and stays within a pool of half the domains."""
    _, _, space = _space(seed=seed, nodes=nodes)
    rng = random.Random(draw)
    base = list(space.best)
    for var, _, _, _ in space.model_groups:
        if rng.random() < 0.5:
            base[var] = 0
    got = space.pick_models(rng, space.names, base)
    if got is not None:
        _check_pick(space, base, got)
    pool = sorted(rng.sample(space.names, max(1, len(space.names) // 2)))
    space.models_seen.clear()
    part = space.pick_models(rng, pool, base)
    if part is not None:
        _check_pick(space, base, part)
        assert part[0] <= set(pool)


@pytest.mark.parametrize(("workers", "steps", "det_step"), [(1, 12, 0.5), (2, None, None)])
def test_lns_with_model_steps_returns_valid_plans(monkeypatch: pytest.MonkeyPatch, workers: int,
                                                  steps: int | None, det_step: float | None) -> None:
    """Tests model steps inside the LNS (a high share, so that several run): from the greedy plan of
    hetero-0 at 32 nodes, the reproducible run and the parallel run take model steps, never lose value,
    and every answer is a valid plan."""
    monkeypatch.setattr(lns, "MODEL_SHARE", 0.6)
    monkeypatch.setattr(lns, "MODEL_STEP_S", 2.0)
    inst = generate("hetero", seed=0, nodes=32)
    start = greedy_solve(inst, seed=0)
    model = CpsatModel(inst)
    model.hint(start)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    lns.lns(model, level="rack", domains_per_step=1, step_s=1.0, deadline=time.perf_counter() + 10.0,
            seed=0, workers=workers, steps=steps, det_step=det_step)
    stats = model.lns_stats
    assert stats.get("model_steps", 0) + stats.get("model_none", 0) >= 1
    if workers == 1:
        assert stats.get("model_steps", 0) >= 1
    if model.values is None:
        return
    got, modes, _ = model.placement()
    plan = build_plan(inst, solver="cpsat", placed=got, unplaced=unplaced_reasons(inst, got, modes),
                      gpu_modes=modes, seed=0)
    rep = check(inst, plan)
    assert rep.ok, [(x.kind, x.message) for x in rep.violations]
    assert plan.objective >= start.objective - 1e-6


@pytest.mark.parametrize("family", ["adversarial", "hetero"])
def test_a_whole_step_counts_the_gpus_of_lower_priority_whole_work(family: str,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests WHOLE_DISPLACE in pick_whole: with no idle whole GPU left, a whole step is taken when whole-GPU
    work of lower priority than a waiting big request holds at least its GPUs, and refused when that work's
    priority is not lower, or with WHOLE_DISPLACE off (the idle GPUs alone decide, as before)."""
    _, _, space = _space(family, seed=1, nodes=32)
    assert space.big_whole
    base = list(space.best)
    waiting = min(space.big_whole, key=lambda g: (g[2], g[0]))
    base[waiting[0]] = 0  # one big request waits (values for the choice only)
    vals = np.asarray(base)
    clean = _whole_only(space, base)
    used = {ni: int(vals[space.whole_x[ni]].sum()) for ni in space.whole_nodes}
    if sum(used[ni] for ni in clean) < waiting[2]:
        pytest.skip("the greedy plan holds fewer whole GPUs than the request needs")
    space.whole_cap = dict(used)  # no idle whole GPU anywhere
    prio = space.big_whole_priority[waiting[0]]
    assert prio == pytest.approx(max(0.0, prio))
    for on, level, want in [(False, -1.0, False), (True, -1.0, True), (True, 0.0, False), (True, 1.0, False)]:
        monkeypatch.setattr(lns, "WHOLE_DISPLACE", on)
        space.whole_x_priority = {ni: np.full(len(space.whole_x[ni]), prio + level) for ni in space.whole_nodes}
        space.whole_seen = None
        got = space.pick_whole(random.Random(0), space.names, base)
        assert (got is not None) == want, (on, level)
        if got is not None:
            assert got[1] == clean and waiting[0] in got[2]


def test_whole_priorities_are_the_groups() -> None:
    """Tests what the space reads for WHOLE_DISPLACE: each big group's priority and, per whole-GPU node, the
    priority of each whole unit's group, aligned with whole_x."""
    _, model, space = _space("adversarial", seed=1, nodes=16)
    d, v = model.data, model.vars
    group_of = {var.index: gi for (gi, _, _), var in v.x.items()}
    for ni in space.whole_nodes:
        want = [float(d.groups[group_of[i]].req.priority) for i in space.whole_x[ni].tolist()]
        assert space.whole_x_priority[ni].tolist() == want
    act = {act.index: gi for gi, act in v.active.items() if hasattr(act, "index")}
    assert set(space.big_whole_priority) == {i for i, _, _ in space.big_whole}
    for i, p in space.big_whole_priority.items():
        assert p == float(d.groups[act[i]].req.priority)
