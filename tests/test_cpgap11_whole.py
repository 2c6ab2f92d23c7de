"""Whole-GPU LNS steps (issue 16 part 3, session 11): every node that holds only whole-GPU work, freed
at once when a big whole-GPU request waits."""

from __future__ import annotations

import random

import numpy as np
import pytest

from packer.check import check
from packer.cpsat import lns
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from packer.greedy.solver import solve as greedy_solve


def _space(family: str = "adversarial", seed: int = 1, nodes: int = 16):  # type: ignore[no-untyped-def]
    inst = generate(family, seed=seed, nodes=nodes)
    model = CpsatModel(inst)
    model.hint(greedy_solve(inst, seed=0))
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    space = lns._space(model, "rack")
    assert space is not None
    return inst, model, space


def _emptied(space) -> list[int]:  # type: ignore[no-untyped-def]
    """The incumbent with every whole-GPU unit and every big whole-GPU request taken out (as values
    for the step choice only): all whole GPUs idle, every big group waiting."""
    base = list(space.best)
    for xs in space.whole_x.values():
        for i in xs.tolist():
            base[i] = 0
    for i, _, _ in space.big_whole:
        base[i] = 0
    return base


def test_the_whole_nodes_and_the_big_groups_are_the_models() -> None:
    """Tests what the space reads: nodes that have whole-GPU placement variables, the variables of other
    kinds on them, and the "placed" variables of whole-GPU groups of at least WHOLE_MIN_COUNT GPUs."""
    inst, model, space = _space(nodes=8)
    d, v = model.data, model.vars
    whole = {d.classes[ci].node for (gi, ci, _), _var in v.x.items() if d.groups[gi].req.kind == "gpu"}
    assert set(space.whole_nodes) == whole and whole
    for ni in space.whole_nodes:
        want = sorted(var.index for (gi, ci, _), var in v.x.items()
                      if d.classes[ci].node == ni and d.groups[gi].req.kind != "gpu")
        assert sorted(space.other_x[ni].tolist()) == want
    big = {v.active[gi].index for gi, gr in enumerate(d.groups)
           if gr.req.kind == "gpu" and gr.req.count >= lns.WHOLE_MIN_COUNT and hasattr(v.active[gi], "index")}
    assert {i for i, _, _ in space.big_whole} == big and big
    count = {v.active[gi].index: gr.req.count for gi, gr in enumerate(d.groups) if hasattr(v.active[gi], "index")}
    for i, top, n in space.big_whole:
        dom = model.model.proto.variables[i].domain
        assert top == dom[len(dom) - 1] and top >= 1 and n == count[i]
    for ni in space.whole_nodes:
        cap = sum(c.size for c in d.classes if c.node == ni and c.mode in ("full", "any") and not c.running)
        assert space.whole_cap[ni] == cap
        want = sorted(var.index for (gi, ci, _), var in v.x.items()
                      if d.classes[ci].node == ni and d.groups[gi].req.kind == "gpu")
        assert sorted(space.whole_x[ni].tolist()) == want


def test_a_whole_step_frees_the_nodes_without_other_work_and_is_not_repeated_on_the_same_values() -> None:
    """Tests pick_whole: the nodes it frees hold no unit of another kind in the incumbent, every such
    node of the pool is in, the waiting big groups are preferred; the same values again give None,
    and so does an incumbent where no big group can grow."""
    _, _, space = _space()
    base = _emptied(space)
    vals = np.asarray(base)
    waiting = [i for i, top, _ in space.big_whole if base[i] < top]
    assert waiting
    got = space.pick_whole(random.Random(0), space.names, base)
    assert got is not None
    names, nodes, prefer = got
    clean = {ni for ni in space.whole_nodes if not vals[space.other_x[ni]].any()}
    assert nodes == clean and names == {space.node_domain[ni] for ni in nodes}
    assert prefer == waiting
    assert space.pick_whole(random.Random(0), space.names, base) is None  # seen: not again
    full = list(base)
    for i, top, _ in space.big_whole:
        full[i] = top
    space.whole_seen = None
    assert space.pick_whole(random.Random(0), space.names, full) is None
    # A pool without the nodes' domains: only the nodes in the pool's domains.
    # Too few idle whole GPUs for the smallest waiting request: no step, whatever else holds.
    space.whole_seen = None
    real = space.whole_cap
    space.whole_cap = {ni: 0 for ni in real}
    assert space.pick_whole(random.Random(0), space.names, base) is None
    space.whole_cap = real
    pool = sorted(names)[: len(names) // 2 + 1]
    space.whole_seen = None
    part = space.pick_whole(random.Random(0), pool, base)
    if part is not None:
        assert part[0] <= set(pool) and all(space.node_domain[ni] in pool for ni in part[1])


def test_the_first_step_is_whole_when_on_and_never_when_off(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose_kind: with WHOLE_SHARE on and a big gang waiting, the first step is a whole step;
    with it off no step is (over many draws)."""
    monkeypatch.setattr(lns, "WHOLE_SHARE", 0.1)
    _, _, space = _space()
    kind = space.choose_kind(random.Random(0), space.names, 2, _emptied(space))[3]
    assert kind == "whole" and space.stats.get("whole_steps") == 1
    space.whole_off = True  # what a whole step that found nothing sets: none after it
    assert all(space.choose_kind(random.Random(s), space.names, 2, _emptied(space))[3] != "whole" for s in range(40))
    monkeypatch.setattr(lns, "WHOLE_SHARE", 0.0)
    _, _, off = _space()
    kinds = {off.choose_kind(random.Random(s), off.names, 2, _emptied(off))[3] for s in range(60)}
    assert "whole" not in kinds and not off.whole_tried


def test_a_whole_step_improves_the_greedy_plan_and_stays_valid() -> None:
    """Tests one step over the whole-GPU nodes (deterministic time 3) from the greedy incumbent of
    adversarial-2 at 32 nodes (one pod; measured +3.0): it gains, and its answer is a valid plan."""
    inst, model, space = _space(seed=2, nodes=32)
    start = space.best_obj
    vals = np.asarray(space.best)
    nodes = {ni for ni in space.whole_nodes if not vals[space.other_x[ni]].any()}
    names = {space.node_domain[ni] for ni in nodes}
    found = lns._step(space.sub_model(space.best, names, [], nodes), start, seconds=60.0, det=3.0, seed=0,
                      workers=1, gap=space.gap)
    assert found is not None and found[1] > start
    model.values = found[0]
    placed, modes, _ = model.placement()
    from packer.cpsat.reasons import unplaced_reasons
    from packer.plans import build_plan

    plan = build_plan(inst, solver="cpsat", placed=placed, unplaced=unplaced_reasons(inst, placed, modes),
                      gpu_modes=modes, seed=0, wall_s=0.0, bound=None, status="feasible")
    assert plan.objective == pytest.approx(model.objective(), abs=1e-6)
    rep = check(inst, plan)
    assert rep.ok, [(x.kind, x.message) for x in rep.violations]


@pytest.mark.parametrize(("workers", "steps", "det_step"), [(1, 2, 2.0), (2, None, None)])
def test_lns_takes_a_whole_step_first_and_places_the_big_gangs_back(monkeypatch: pytest.MonkeyPatch, workers: int,
                                                                    steps: int | None, det_step: float | None) -> None:
    """Tests whole steps in the LNS: from greedy's plan of adversarial-1 at 32 nodes with every big gang
    taken out (idle whole GPUs, gangs waiting), the LNS with whole steps on takes one first; the
    reproducible run (one worker, deterministic steps) gains, and every answer is a valid plan."""
    import time

    from packer.cpsat.reasons import unplaced_reasons
    from packer.plans import build_plan

    monkeypatch.setattr(lns, "WHOLE_SHARE", 0.2)
    monkeypatch.setattr(lns, "WHOLE_STEP_S", 4.0)
    inst = generate("adversarial", seed=1, nodes=32)
    greedy = greedy_solve(inst, seed=0)
    big = {r.id for r in inst.requests if r.kind == "gpu" and r.count >= lns.WHOLE_MIN_COUNT}
    placed = {a.request: list(a.units) for a in greedy.assignments if a.request not in big}
    assert len(placed) < len(greedy.assignments), "greedy places a big gang here"
    modes = {(m.node, m.gpu): m.mode for m in greedy.gpu_modes}
    start = build_plan(inst, solver="greedy", placed=placed, unplaced=unplaced_reasons(inst, placed, modes),
                       gpu_modes=modes, seed=0)
    assert check(inst, start).ok
    model = CpsatModel(inst)
    model.hint(start)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.01})
    before = model._raw_objective(_hint_values(model))
    improved = lns.lns(model, level="rack", domains_per_step=1, step_s=1.0, deadline=time.perf_counter() + 8.0,
                       seed=0, workers=workers, steps=steps, det_step=det_step)
    stats = model.lns_stats
    assert stats.get("whole_steps", 0) >= 1
    if workers == 2:
        assert stats["threads"] == 2
    if not improved:
        assert det_step is None  # a loaded machine may stop a timed step early; a deterministic one gains
        return
    assert model._raw_objective(model.values) > before
    got, got_modes, _ = model.placement()
    plan = build_plan(inst, solver="cpsat", placed=got, unplaced=unplaced_reasons(inst, got, got_modes),
                      gpu_modes=got_modes, seed=0)
    rep = check(inst, plan)
    assert rep.ok, [(x.kind, x.message) for x in rep.violations]
    assert plan.objective > start.objective


def _hint_values(model: CpsatModel) -> list[int]:
    hint = model.model.proto.solution_hint
    out = [0] * len(model.model.proto.variables)
    for i, val in zip(hint.vars, hint.values, strict=True):
        out[i] = val
    return out
