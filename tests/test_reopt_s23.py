"""Tests of session 23's incremental move-step work. The validity check by difference
(packer.cpsat.reopt_valid.Memo): after random sequences of plans, valid ones (work lifted and re-placed by
the placer, waiting work added, the order shuffled) and broken ones (a unit moved anywhere, work dropped,
work added on GPUs drawn at random, a running request moved or its units cut), it gives the whole checker's
verdict, plan for plan; move steps keep the same plans with it as without. The unit sizes remembered by the
plan's diff (reopt_base.SIZES): the running use, the view of the plan and the gang step's GPU use equal
their fresh computation exactly after random plan sequences."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt, reopt_base, reopt_gang, reopt_valid
from packer.generate import generate
from packer.model import Instance, ObjectiveWeights, Tenant, Unit
from packer.plans import request_size
from tests.test_reopt_base_s22 import _next_plan
from tests.test_reopt_clear_s19 import _ok, _placed


def _gpus(inst: Instance) -> list[tuple[str, int]]:
    return [(n.id, g) for n in inst.nodes for g in range(n.num_gpus)]


def _unit_on(inst: Instance, rid: str, like: Unit, node: str, gpu: int) -> Unit:
    """``like`` put on ``node``/``gpu`` (its profile, start and milli kept: it may not fit there)."""
    r = inst.request(rid)
    if r.kind == "host":
        return like.model_copy(update={"node": node})
    return like.model_copy(update={"node": node, "gpu": gpu})


def _tight(inst: Instance, cur: dict[str, list[Unit]], quota: bool = True, cap: bool = True) -> Instance:
    """``inst`` with each tenant's quota a little above what ``cur`` uses (``quota``) and a migration cap of 2
    (``cap``), so that they bind in the plans drawn."""
    used: dict[str, float] = {}
    for rid, units in cur.items():
        r = inst.request(rid)
        used[r.tenant] = used.get(r.tenant, 0.0) + request_size(inst, r, units)
    tenants = tuple(Tenant(id=t.id, isolation=t.isolation,
                           max_gpus=used.get(t.id, 0.0) + 1.5 if quota else t.max_gpus) for t in inst.tenants)
    weights = ObjectiveWeights(locality_weight=inst.objective.locality_weight,
                               migration_weight=inst.objective.migration_weight,
                               max_migrations=2 if cap else inst.objective.max_migrations)
    return inst.model_copy(update={"tenants": tenants, "objective": weights})


def _broken(inst: Instance, cur: dict[str, list[Unit]], rng: random.Random) -> dict[str, list[Unit]]:
    """``cur`` changed in a way that may break a rule (or may not): one of several edits, drawn."""
    out = {rid: list(us) for rid, us in cur.items()}
    gpus = _gpus(inst)
    kind = rng.randrange(5)
    placed = sorted(out)
    if kind == 0 and placed:  # one unit of a placed request moved to a GPU drawn at random
        rid = rng.choice(placed)
        i = rng.randrange(len(out[rid]))
        node, g = rng.choice(gpus)
        out[rid][i] = _unit_on(inst, rid, out[rid][i], node, g)
    elif kind == 1 and placed:  # a placed request dropped (running work: never allowed)
        del out[rng.choice(placed)]
    elif kind == 2:  # a waiting request put on GPUs drawn at random
        waiting = [r for r in inst.requests if r.id not in out and r.kind != "mig"]
        if waiting:
            r = rng.choice(waiting)
            units = []
            for _ in range(r.need_count):
                node, g = rng.choice(gpus)
                units.append(Unit(node=node, gpu=None if r.kind == "host" else g,
                                  gpu_milli=r.gpu_milli if r.kind == "share" else None))
            out[r.id] = units
    elif kind == 3:  # a running request's units cut to one (below its count, or a move if not movable)
        running = [rid for rid in placed if inst.request(rid).placement is not None and len(out[rid]) > 1]
        if running:
            rid = rng.choice(running)
            out[rid] = out[rid][:1]
    elif placed:  # two placed requests swap a unit's GPU
        a, b = rng.sample(placed, 2) if len(placed) > 1 else (placed[0], placed[0])
        ua, ub = out[a][0], out[b][0]
        if ua.gpu is not None and ub.gpu is not None:
            out[a][0] = _unit_on(inst, a, ua, ub.node, ub.gpu)
            out[b][0] = _unit_on(inst, b, ub, ua.node, ua.gpu)
    keys = list(out)
    rng.shuffle(keys)
    return {k: out[k] for k in keys}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), nodes=st.sampled_from([6, 8, 12]), draw=st.integers(0, 10_000),
       tight=st.sampled_from(["", "quota", "cap"]))
def test_the_check_by_difference_gives_the_whole_checkers_verdict(seed: int, nodes: int, draw: int,
                                                                   tight: str) -> None:
    """Tests Memo.valid against the whole checker over a random sequence of valid and broken plans: the same
    verdict every time; a broken plan found invalid leaves the remembered plan as it was. ``tight``: quotas
    or the migration cap bind (:func:`_tight`)."""
    inst = loose = generate("fragmented", seed, nodes=nodes)
    rng = random.Random(draw)
    cur = _placed(inst)
    if tight:  # plans drawn without the quotas and the cap (the placer keeps to them), checked with them
        inst = _tight(inst, cur, quota=tight == "quota", cap=tight == "cap")
    memo = reopt_valid.Memo(inst)
    assert memo.valid(cur) == _ok(inst, cur)
    verdicts = []
    for _ in range(12):
        trial = _next_plan(loose, cur, rng) if rng.random() < 0.5 else _broken(inst, cur, rng)
        want = _ok(inst, trial)
        assert memo.valid(trial) == want
        verdicts.append(want)
        if want:
            cur = trial
    assert memo.stats["diff"] + memo.stats["same"] + memo.stats["whole"] == 13


def test_the_check_by_difference_finds_each_kind_of_break() -> None:
    """A fixed fragmented state with quotas that bind: breaks of several rules (a unit on a taken GPU, running
    work dropped, a unit short, a tenant over its quota) are each found by the check by difference, as by the whole checker; the
    check looks only at part of the cluster."""
    loose = generate("fragmented", 3, nodes=8)
    cur = _placed(loose)
    inst = _tight(loose, cur)
    memo = reopt_valid.Memo(inst)
    assert memo.valid(cur) and _ok(inst, cur)
    rng = random.Random(5)
    invalid = 0
    for k in range(60):
        trial = _broken(inst, cur, rng) if k % 2 else _next_plan(loose, cur, rng)
        want = _ok(inst, trial)
        assert memo.valid(trial) == want
        invalid += int(not want)
    assert invalid >= 20  # most edits break a rule: the test is not of valid plans only
    assert memo.stats["diff"] >= 20 and memo.stats["nodes"] < memo.stats["diff"] * len(inst.nodes)


def test_move_steps_keep_the_same_plans_with_the_check_by_difference() -> None:
    """move_steps (deterministic, one worker) on a small fragmented state ends on the same plan with
    reopt_valid.DIFF and reopt_base.SIZES on and off, and that plan passes the checker."""
    inst = generate("fragmented", 0, nodes=16)
    placed = reopt.no_move_plan(inst, time_limit=5.0, seed=0, workers=1)
    start = {a.request: list(a.units) for a in placed.assignments}
    got = {}
    old = reopt_valid.DIFF, reopt_base.SIZES
    try:
        for on in (False, True):
            reopt_valid.DIFF = reopt_base.SIZES = on
            plan, stats = reopt.move_steps(inst, start, cap=None, deadline=1e18, seed=0, workers=1,
                                           max_steps=6, det=0.2)
            got[on] = (plan, stats["valid"])
    finally:
        reopt_valid.DIFF, reopt_base.SIZES = old
    assert got[True][0] == got[False][0]
    assert _ok(inst, got[True][0])
    assert got[True][1]["diff"] >= 1 and got[False][1]["diff"] == 0  # the kept results were checked by difference


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), nodes=st.sampled_from([4, 6, 8]), draw=st.integers(0, 10_000))
def test_remembered_sizes_give_the_fresh_sums_exactly(seed: int, nodes: int, draw: int) -> None:
    """Tests BaseCache.unit_sizes and what reads them over a random sequence of plans (work lifted, re-placed,
    added, the order shuffled): the running use per tenant, the view of the plan (room per GPU, movable use,
    quotas) and the gang step's GPU use equal the fresh computations exactly, float for float."""
    inst = generate("fragmented", seed, nodes=nodes)
    rng = random.Random(draw)
    cur = _placed(inst)
    cache = reopt_base.BaseCache(inst)
    for _ in range(6):
        assert dict(cache.running_use(cur)) == dict(reopt_gang.running_use(inst, cur))
        a, b = reopt._View(inst, cur, cache), reopt._View(inst, cur)
        assert (dict(a.used), dict(a.mov), dict(a.quota)) == (dict(b.used), dict(b.mov), dict(b.quota))
        assert a.isolated_nodes == b.isolated_nodes and a.spans == b.spans
        for kw in (False, True):
            assert reopt_gang._gpu_use(inst, cur, kw, cache=cache) == reopt_gang._gpu_use(inst, cur, kw)
        assert reopt_gang.gangs(inst, cur, cache.running_use(cur)) == reopt_gang.gangs(inst, cur)
        assert set(cache.sizes) >= set(cur)
        cur = _next_plan(inst, cur, rng)


def _gang_steps(inst: Instance, lazy: bool, n: int, seed: int):  # type: ignore[no-untyped-def]
    """``n`` gang steps from the running plan (one BaseCache, each result kept when better) with
    reopt_gang.LAZY = ``lazy``: [(value, victims tier, tier gain, the plan as (id, unit keys) in its order)]."""
    from packer.cpsat import reopt_gang
    from packer.plans import objective_value

    keep = reopt_gang.LAZY
    reopt_gang.LAZY = lazy
    try:
        rng = random.Random(seed)
        cur = _placed(inst)
        best = objective_value(inst, cur)
        cache = reopt_base.BaseCache(inst)
        waiting = [q for q in inst.requests if q.id not in cur]
        log = []
        for _ in range(n):
            cands = reopt_gang.gangs(inst, cur)
            if not cands:
                break
            out, info = reopt_gang.gang_step(inst, cur, reopt_gang.pick_gang(rng, cands, None), rng, waiting, None,
                                             cache=cache)
            if out is None:
                log.append((None, info.get("fail")))
                continue
            assert isinstance(out, dict)
            v = float(info["value"])  # type: ignore[arg-type]
            log.append((v, info.get("victims"), info.get("tier_gain"),
                        [(k, [u.key() for u in us]) for k, us in out.items()]))
            if v > best + 1e-9:
                assert abs(v - objective_value(inst, out)) < 1e-6
                cur, best = out, v
        return log, cur
    finally:
        reopt_gang.LAZY = keep


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 40), nodes=st.sampled_from([4, 6, 8]), draw=st.integers(0, 50))
def test_gang_steps_with_shared_tries_give_the_same_plans(seed: int, nodes: int, draw: int) -> None:
    """Tests reopt_gang.LAZY: gang steps whose tries share the per-plan work and build only the best plan give
    the same values, tiers and plans (in the same order, unit for unit) as tries that do it all; the kept
    plans pass the checker."""
    inst = generate("fragmented", seed, nodes=nodes)
    off, _ = _gang_steps(inst, False, 4, draw)
    on, last = _gang_steps(inst, True, 4, draw)
    assert on == off
    assert _ok(inst, last)


def test_gang_steps_with_shared_tries_gain_the_same() -> None:
    """reopt_gang.LAZY on a state where gang steps gain (fragmented-5, 8 nodes: each of four steps finds a
    result, the first gains 27): the same steps, gains and plans with it as without."""
    from packer.plans import objective_value

    inst = generate("fragmented", 5, nodes=8)
    off, _ = _gang_steps(inst, False, 4, 0)
    on, last = _gang_steps(inst, True, 4, 0)
    assert all(step[0] is not None for step in on)
    assert on == off
    assert objective_value(inst, last) > objective_value(inst, _placed(inst)) + 1e-9 and _ok(inst, last)
