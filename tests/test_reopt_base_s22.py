"""Tests of session 22's incremental placer state for the re-optimizer's placer steps
(packer.cpsat.reopt_base.BaseCache, reopt_spread.INCREMENTAL): the placer kept across steps and brought to
each new plan by its difference equals a placer loaded fresh with that plan, array for array; the
remembered objective is the objective to the last bit; spread steps give the same plans with it as
without, and their plans pass the checker."""

from __future__ import annotations

import random
import time

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt, reopt_base, reopt_spread
from packer.generate import generate
from packer.model import Instance, Unit
from packer.plans import objective_value
from tests.test_reopt_clear_s19 import _ok, _placed


def _same_state(a, b) -> None:  # type: ignore[no-untyped-def]
    """Asserts that two placers hold the same state: every kernel array, the placed requests in the same
    order on the same rows, each tenant's use (exactly), reasons and released running work."""
    for name, x, y in zip(a.a._fields, a.a, b.a, strict=True):
        assert np.array_equal(x, y), name
    assert list(a._placed) == list(b._placed)
    for rid, rec in a._placed.items():
        other = b._placed[rid]
        assert np.array_equal(rec.rows, other.rows), rid
        assert (rec.size, list(rec.nodes), rec.tag) == (other.size, list(other.nodes), other.tag), rid
    assert a._used == b._used
    assert a._reasons == b._reasons and a._released_running == b._released_running


def _next_plan(inst: Instance, cur: dict[str, list[Unit]], rng: random.Random) -> dict[str, list[Unit]]:
    """A random next plan, as a step might leave it: some movable running or placed waiting work lifted,
    the lifted running work re-placed (best-fit; left where it was when it finds no room), waiting work
    offered in a random order, the plan's order shuffled."""
    placer = reopt_base.fresh(inst, cur)
    free = [rid for rid in cur if (q := inst.request(rid)).placement is None or q.movable]
    lifted = rng.sample(free, min(len(free), rng.randint(0, 4)))
    for rid in lifted:
        placer.release(rid)
    for rid in lifted:
        q = inst.request(rid)
        if q.placement is not None and not placer.place(q.model_copy(update={"placement": None}), explain=False).ok:
            placer._place_exact(q, cur[rid])
    waiting = [q for q in inst.requests if q.id not in placer._placed]
    rng.shuffle(waiting)
    for q in waiting[:rng.randint(0, 6)]:
        placer.place(q, explain=False)
    out = {rid: list(placer.units(rid)) for rid in placer.placed_ids()}
    keys = list(out)
    rng.shuffle(keys)
    return {k: out[k] for k in keys}


@settings(max_examples=7, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), nodes=st.sampled_from([3, 4]), draw=st.integers(0, 1000))
def test_the_kept_placer_equals_a_fresh_load_after_random_step_sequences(seed: int, nodes: int, draw: int) -> None:
    """Tests BaseCache.get over a random sequence of plans (work lifted, re-placed, added, the order
    shuffled; between syncs the placer is used as spread steps use it: openings' releases and forks):
    after every sync the kept placer equals a placer loaded fresh with the plan, and the remembered
    objective equals objective_value exactly."""
    inst = generate("fragmented", seed, nodes=nodes)
    rng = random.Random(draw)
    cur = _placed(inst)
    cache = reopt_base.BaseCache(inst)
    spread = [q for q in inst.requests if q.spread is not None and q.spread.level != "gpu" and q.count > 1
              and q.kind != "host"]
    for _ in range(5):
        got = cache.get(cur)
        _same_state(got, reopt_base.fresh(inst, cur))
        assert cache.objective(cur) == objective_value(inst, cur)
        if spread:  # what a spread step does to the base: releases tried and undone, a fork placed on
            q = rng.choice(spread)
            if q.id not in cur:
                reopt_spread.openings(inst, cur, q, got)
                fork = got.fork()
                fork.place(q, explain=False)
        cur = _next_plan(inst, cur, rng)
    assert cache.stats["syncs"] == 4 and cache.stats["loads"] == 1


def _steps(inst: Instance, incremental: bool, n: int, seed: int):  # type: ignore[no-untyped-def]
    """``n`` spread steps from the running plan, each result kept when better, as the move steps keep
    them: [(aim, value or None, the plan as sorted unit keys)], and the last plan."""
    keep = reopt_spread.INCREMENTAL
    reopt_spread.INCREMENTAL = incremental
    try:
        rng = random.Random(seed)
        cur = _placed(inst)
        best = objective_value(inst, cur)
        cache = reopt_base.BaseCache(inst)
        waiting = [q for q in inst.requests if q.id not in cur]
        log = []
        for _ in range(n):
            cands = reopt_spread.spreads(inst, cur, None)
            if not cands:
                break
            r = reopt_spread.pick(rng, inst, cands, None)
            out, info = reopt_spread.spread_step(inst, cur, r, rng, waiting, None, None, cache=cache)
            v = None if out is None else float(info["value"])  # type: ignore[arg-type]
            if out is not None:
                assert v == objective_value(inst, out)
            log.append((r.id, v, None if out is None else
                        sorted((k, sorted(u.key() for u in us)) for k, us in out.items())))
            if out is not None and v > best + 1e-9:  # type: ignore[operator]
                cur, best = out, v
        return log, cur
    finally:
        reopt_spread.INCREMENTAL = keep


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 30), nodes=st.sampled_from([4, 6]), draw=st.integers(0, 50))
def test_incremental_spread_steps_give_the_same_plans(seed: int, nodes: int, draw: int) -> None:
    """Tests reopt_spread.INCREMENTAL: a sequence of spread steps (results kept when better) gives the same
    aims, values and plans with the kept placer, kept units and remembered objective as with a placer
    loaded per step and every unit read back; the plans pass the checker."""
    inst = generate("fragmented", seed, nodes=nodes)
    off, last_off = _steps(inst, False, 4, draw)
    on, last_on = _steps(inst, True, 4, draw)
    assert on == off
    assert _ok(inst, last_on)


def test_incremental_spread_steps_change_a_plan_on_a_state_where_they_gain() -> None:
    """Tests that the comparison above is not vacuous: on fragmented-24 with 6 nodes, spread steps keep a
    better plan within four steps (and step on from it), the same with and without INCREMENTAL."""
    inst = generate("fragmented", 24, nodes=6)
    start = objective_value(inst, _placed(inst))
    off, last_off = _steps(inst, False, 4, 1)
    on, last_on = _steps(inst, True, 4, 1)
    assert on == off
    assert objective_value(inst, last_on) > start + 1e-9 and _ok(inst, last_on)


def test_move_steps_with_the_kept_placer_match_and_stay_valid() -> None:
    """Tests move_steps (deterministic: one worker, fixed steps and deterministic time) with
    INCREMENTAL and SHARED on and off (placer steps on the kept placer, every step's objective from the
    remembered parts): the same plan, valid, and the kept placer synced rather than reloaded."""
    inst = generate("fragmented", 24, nodes=6)
    cur = _placed(inst)
    got = {}
    keep = reopt_spread.INCREMENTAL, reopt_base.SHARED
    try:
        for inc in (False, True):
            reopt_spread.INCREMENTAL = reopt_base.SHARED = inc
            out, stats = reopt.move_steps(inst, cur, cap=None, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                          max_steps=3, det=0.1)
            got[inc] = (objective_value(inst, out), sorted((k, sorted(u.key() for u in v)) for k, v in out.items()),
                        stats.get("spread", 0), stats["base_cache"])
            assert _ok(inst, out)
    finally:
        reopt_spread.INCREMENTAL, reopt_base.SHARED = keep
    assert got[True][:3] == got[False][:3]
    if got[True][2]:
        assert got[True][3]["loads"] == 1


def _placer_steps(inst: Instance, shared: bool, kind: str, n: int, seed: int):  # type: ignore[no-untyped-def]
    """``n`` gang or pack steps from the running plan with one BaseCache, each result kept when better:
    [(value or None, the plan as sorted unit keys)], and the last plan."""
    from packer.cpsat import reopt_gang, reopt_pack

    keep = reopt_base.SHARED
    reopt_base.SHARED = shared
    try:
        rng = random.Random(seed)
        cur = _placed(inst)
        best = objective_value(inst, cur)
        cache = reopt_base.BaseCache(inst)
        waiting = [q for q in inst.requests if q.id not in cur]
        log = []
        for i in range(n):
            if kind == "gang":
                cands = reopt_gang.gangs(inst, cur)
                if not cands:
                    break
                out, info = reopt_gang.gang_step(inst, cur, reopt_gang.pick_gang(rng, cands, None), rng, waiting,
                                                 None, cache=cache)
            else:
                ts = reopt_pack.tenants(inst, cur)
                if not ts:
                    break
                t = sorted(ts)[i % len(ts)]
                out, info = reopt_pack.pack_step(inst, cur, t, ts[t], rng, waiting, cache=cache)
            v = None if out is None else float(info["value"])  # type: ignore[arg-type]
            log.append((v, None if out is None else sorted((k, sorted(u.key() for u in us)) for k, us in out.items())))
            if out is not None and v > best + 1e-9:  # type: ignore[operator]
                cur, best = out, v
        return log, cur
    finally:
        reopt_base.SHARED = keep


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 30), nodes=st.sampled_from([4, 6]), draw=st.integers(0, 50))
def test_gang_steps_on_the_kept_placer_give_the_same_plans(seed: int, nodes: int, draw: int) -> None:
    """Tests reopt_base.SHARED: gang steps forking the kept placer (synced by the plan's diff) give the same
    values and plans as steps that load their own placer; the plans pass the checker. (Gang steps gain
    within four steps on 38 of these 62 states.)"""
    inst = generate("fragmented", seed, nodes=nodes)
    off, _ = _placer_steps(inst, False, "gang", 4, draw)
    on, last = _placer_steps(inst, True, "gang", 4, draw)
    assert on == off
    assert _ok(inst, last)


def test_pack_steps_on_the_kept_placer_give_the_same_plans() -> None:
    """Tests reopt_base.SHARED on pack steps: on fragmented-0 with 16 nodes (a node-isolated tenant on
    several nodes) three pack steps gain, and give the same values and plans with the kept placer and
    remembered objective as with a placer loaded per step; the plan passes the checker."""
    inst = generate("fragmented", 0, nodes=16)
    start = objective_value(inst, _placed(inst))
    off, _ = _placer_steps(inst, False, "pack", 3, 0)
    on, last = _placer_steps(inst, True, "pack", 3, 0)
    assert on == off
    assert objective_value(inst, last) > start + 1e-9 and _ok(inst, last)
