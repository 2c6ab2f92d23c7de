"""Tests of session 21's priced exchange in the gang step (packer.cpsat.reopt_gang.PRICED): besides its
drawn tries, a gang step tries the domains cheapest to clear by value (reopt_clear.prices: migrations of
what leaves plus the least waiting value given up for its room) with the gang put exactly on the priced
GPUs. It finds an exchange the drawn tries miss, changes nothing where no domain is worth clearing, checks
what it puts the gang on, and every kept plan is valid, within the cap and never worse."""

from __future__ import annotations

import random
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt, reopt_gang
from packer.generate import generate
from packer.model import Instance, Locality, Node, Request, Tenant, Topology, Unit
from packer.online import OnlinePlacer
from packer.plans import objective_value
from tests.test_reopt_clear_s19 import _ok, _placed
from tests.test_reopt_clear_s20 import _state


def _norm(out):  # type: ignore[no-untyped-def]
    return None if out is None else sorted((k, sorted((u.node, u.gpu) for u in v)) for k, v in out.items())


def _gang_step(inst: Instance, cur, priced: bool, seed: int = 0):  # type: ignore[no-untyped-def]
    keep = reopt_gang.PRICED
    reopt_gang.PRICED = priced
    try:
        waiting = [r for r in inst.requests if r.id not in cur]
        return reopt_gang.gang_step(inst, cur, inst.request("gang"), random.Random(seed), waiting, None)
    finally:
        reopt_gang.PRICED = keep


def test_the_priced_exchange_gives_up_cheaper_waiting_work_instead_of_moving_running_work() -> None:
    """Tests, on two 4-GPU nodes (n0: three running 1-GPU jobs at migration cost 0.1 and a free GPU; n1: four
    placed waiting 1-GPU jobs of priority 1; a 4-GPU node gang of priority 1.5 waits), that the drawn tries
    clear n0 (the cheaper node by size: 9.7, three moves) and the priced try takes n1 (its price 3 < 0.3 + 3):
    the gang on n1, three waiting jobs given up, one on n0's free GPU, nothing moved (10.0); both plans valid."""
    inst, cur = _state(1.0)
    off, _ = _gang_step(inst, cur, False)
    on, info = _gang_step(inst, cur, True)
    assert off is not None and on is not None and _ok(inst, off) and _ok(inst, on)
    assert abs(objective_value(inst, off) - 9.7) < 1e-9 and reopt.moves(inst, off) == 3
    assert abs(objective_value(inst, on) - 10.0) < 1e-9 and reopt.moves(inst, on) == 0
    assert info["priced"] is True and abs(float(info["value"]) - 10.0) < 1e-9  # type: ignore[arg-type]
    assert sorted((u.node, u.gpu) for u in on["gang"]) == [("n1", g) for g in range(4)]


def test_where_no_domain_is_worth_clearing_the_step_is_unchanged() -> None:
    """Tests that with waiting work of 2.0 a GPU (no domain priced below the gang's 6) the priced step
    returns exactly the drawn tries' result."""
    inst, cur = _state(2.0)
    off, _ = _gang_step(inst, cur, False)
    on, info = _gang_step(inst, cur, True)
    assert _norm(on) == _norm(off) and not info.get("priced")


def _iso_state() -> tuple[Instance, dict[str, list[Unit]]]:
    """One 4-GPU node: a pinned 1-GPU job of node-isolated tenant ``v`` on GPU 0; GPUs 1-3 free. A 2-GPU
    node gang of tenant ``t`` (quota 2) waits."""
    node = Node(id="n0", gpu_model="H100-80GB", num_gpus=4, mode="full")
    reqs = (Request(id="p", kind="gpu", count=1, tenant="v", placement=(Unit(node="n0", gpu=0),), movable=False),
            Request(id="gang", kind="gpu", count=2, tenant="t", locality=Locality(level="node", required=True)),
            Request(id="w", kind="gpu", count=1, tenant="t"))
    inst = Instance(name="iso", topology=Topology(levels=("node",)), nodes=(node,), requests=reqs,
                    tenants=(Tenant(id="t", max_gpus=2), Tenant(id="v", isolation="node")))
    return inst, _placed(inst)


def test_the_exact_placement_checks_gpus_isolation_and_quota() -> None:
    """Tests :func:`reopt_gang._exact_fits`: a GPU that holds work, a node that a node-isolated other tenant
    holds, and a tenant quota the gang would pass each rule the units out; free GPUs of a node the gang's
    tenant may share, within its quota, fit."""
    inst, cur = _iso_state()
    gang = inst.request("gang")
    placer = OnlinePlacer(inst, policy="best-fit", place_running=False)
    for rid, units in cur.items():
        placer._place_exact(inst.request(rid), units)
    two = [Unit(node="n0", gpu=1), Unit(node="n0", gpu=2)]
    assert not reopt_gang._exact_fits(inst, placer, gang, two, {})  # v is node-isolated on n0
    free_inst = inst.model_copy(update={"tenants": (Tenant(id="t", max_gpus=2), Tenant(id="v"))})
    placer2 = OnlinePlacer(free_inst, policy="best-fit", place_running=False)
    for rid, units in cur.items():
        placer2._place_exact(free_inst.request(rid), units)
    assert reopt_gang._exact_fits(free_inst, placer2, gang, two, {})
    assert not reopt_gang._exact_fits(free_inst, placer2, gang, [Unit(node="n0", gpu=0), Unit(node="n0", gpu=1)], {})
    placer2._place_exact(free_inst.request("w"), [Unit(node="n0", gpu=3)])  # t's quota: 1 + 2 > 2
    assert not reopt_gang._exact_fits(free_inst, placer2, gang, two, {})


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), nodes=st.sampled_from([2, 3, 4]), cap=st.sampled_from([0, 1, None]))
def test_priced_gang_steps_keep_only_valid_better_plans(seed: int, nodes: int, cap: int | None) -> None:
    """Tests, on small states of the fragmented family, that gang steps with priced exchanges (one per waiting
    gang, in turn, as move_steps keeps them) return a plan the checker accepts, within the cap, never worse
    than the start; and that a priced try's own result, kept or not, is a valid plan."""
    inst = generate("fragmented", seed, nodes=nodes)
    cur = _placed(inst)
    before = objective_value(inst, cur)
    keep = reopt_gang.PRICED
    reopt_gang.PRICED = True
    try:
        best = before
        for gang in reopt_gang.gangs(inst, cur):
            waiting = [r for r in inst.requests if r.id not in cur]
            for out, _info in reopt_gang._priced_tries(inst, cur, gang, random.Random(seed), waiting, None,
                                                        reopt_gang.POLICY, [None]):
                assert out is None or _ok(inst, out)
            stats: dict = {"steps": 0, "improved": 0, "rejected": 0}
            cur, best = reopt._gang(inst, cur, best, cap, [gang], waiting, random.Random(seed), None, stats, {},
                                    time.perf_counter(), reopt.SILENT)
    finally:
        reopt_gang.PRICED = keep
    assert best >= before - 1e-9 and abs(objective_value(inst, cur) - best) < 1e-6 and _ok(inst, cur)
    assert cap is None or reopt.moves(inst, cur) <= cap


@pytest.mark.parametrize("priced", [False, True])
def test_move_steps_with_priced_gang_steps_stay_valid(priced: bool) -> None:
    """Tests that a short deterministic run of move steps (gang steps drawn half the time) on a 4-node
    fragmented state gives a valid plan, never worse, with or without priced exchanges."""
    inst = generate("fragmented", 3, nodes=4)
    cur = _placed(inst)
    keep = reopt_gang.PRICED, reopt_gang.GANG_SHARE
    reopt_gang.PRICED, reopt_gang.GANG_SHARE = priced, 0.5
    try:
        out, _stats = reopt.move_steps(inst, cur, cap=None, deadline=time.perf_counter() + 60, seed=0, workers=1,
                                       max_steps=2, det=0.3)
    finally:
        reopt_gang.PRICED, reopt_gang.GANG_SHARE = keep
    assert objective_value(inst, out) >= objective_value(inst, cur) - 1e-9 and _ok(inst, out)


def test_the_fallback_runs_the_priced_tries_only_where_the_drawn_ones_find_nothing() -> None:
    """Tests PRICED_FALLBACK: where the drawn tries gain (9.7 > 7.0) the step keeps their result and no priced
    try runs; with the running jobs' migration cost 1.0 the drawn tries reach only 7.0 (no gain) and the
    priced exchange on n1 (10.0, nothing moved) is taken."""
    inst, cur = _state(1.0)
    dear = inst.model_copy(update={"requests": tuple(r.model_copy(update={"migration_cost": 1.0})
                                                     if r.placement is not None else r for r in inst.requests)})
    keep = reopt_gang.PRICED_FALLBACK
    reopt_gang.PRICED_FALLBACK = True
    try:
        gained, info = _gang_step(inst, cur, True)
        rescued, info2 = _gang_step(dear, cur, True)
        stuck, _ = _gang_step(dear, cur, False)
    finally:
        reopt_gang.PRICED_FALLBACK = keep
    assert gained is not None and abs(objective_value(inst, gained) - 9.7) < 1e-9 and not info.get("priced")
    assert stuck is not None and objective_value(dear, stuck) <= 7.0 + 1e-9
    assert rescued is not None and info2.get("priced") and abs(objective_value(dear, rescued) - 10.0) < 1e-9
    assert reopt.moves(dear, rescued) == 0 and _ok(dear, rescued)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 80), nodes=st.sampled_from([3, 4]), draw=st.integers(0, 5))
def test_forked_spread_steps_give_the_same_plans(seed: int, nodes: int, draw: int) -> None:
    """Tests reopt_spread.FORK: a spread step whose tries fork one placer loaded with the plan gives exactly
    the plan (and value) of the step that loads a new placer per try, on small fragmented states."""
    from packer.cpsat import reopt_spread

    inst = generate("fragmented", seed, nodes=nodes)
    cur = _placed(inst)
    cands = reopt_spread.spreads(inst, cur, None)
    if not cands:
        return
    r = reopt_spread.pick(random.Random(draw), inst, cands, None)
    waiting = [q for q in inst.requests if q.id not in cur]
    got = {}
    keep = reopt_spread.FORK
    try:
        for fork in (False, True):
            reopt_spread.FORK = fork
            out, info = reopt_spread.spread_step(inst, cur, r, random.Random(seed + draw), waiting, None, None)
            got[fork] = (_norm(out), info.get("fail"), None if out is None else round(float(info["value"]), 9))  # type: ignore[arg-type]
    finally:
        reopt_spread.FORK = keep
    assert got[False] == got[True]
