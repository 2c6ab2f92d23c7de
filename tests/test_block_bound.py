"""Tests of the bound by blocks (packer.cpsat.block_bound): for ANY nonnegative λ and any η it is at
least every plan's objective (the exact model's plan, its proven optimum where proved), on small
running states cut into 2-3 blocks by hand; with the multipliers of ``block_bound`` as well; each
block's LP on its own nodes and on its typed relaxation (merged nodes, ``block_bound.MERGE``)."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import solve
from packer.cpsat.block_bound import (
    block_bound,
    block_instances,
    block_lps,
    lagrangian,
    merge_level,
)
from packer.generate import generate
from packer.model import Instance
from tests.running_states import fragmented_running


def _state(family: str, seed: int, nodes: int, release: float) -> Instance:
    inst = generate(family, seed, nodes=nodes)
    if not any(r.placement for r in inst.requests):
        inst = fragmented_running(inst, release=release, seed=seed)
    return inst


def _parts(inst: Instance, k: int) -> list[list[str]]:
    """The nodes cut into ``k`` runs in file order (whatever the topology: a bound must hold for any cut)."""
    ids = [n.id for n in inst.nodes]
    step = -(-len(ids) // k)
    return [ids[i:i + step] for i in range(0, len(ids), step)]


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["fragmented", "tenants", "adversarial", "haein"]),
       nodes=st.sampled_from([2, 3, 4]), k=st.sampled_from([2, 3]), release=st.sampled_from([0.3, 0.6]),
       draw=st.integers(0, 10**6))
def test_block_bound_is_above_the_exact_plan_for_random_multipliers(seed: int, family: str, nodes: int, k: int,
                                                                     release: float, draw: int) -> None:
    """Tests Σ blocks' LP bounds + Σ λ U ≥ the exact model's plan for three random draws of λ ≥ 0, η,
    and for block_bound's own multipliers, with the blocks' own nodes and merged (typed relaxation at
    the finest level: the merged LP must stay a relaxation of the block, pinned and movable running
    work included)."""
    inst = _state(family, seed, nodes, release)
    parts = _parts(inst, k)
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    assert check(inst, exact).ok
    lvl = merge_level(inst, "auto")
    for merge in (None, lvl):
        lps, big_u = block_lps(inst, parts, merge=merge)
        rng = random.Random(draw)
        js = sorted({j for lp in lps for j in (*lp.imports, *lp.exports)}, key=repr)
        for _ in range(3):
            lam = {key: rng.uniform(0.0, 3.0) * rng.choice([0.0, 1.0]) for key in big_u}
            eta = {j: rng.uniform(-3.0, 3.0) for j in js}
            assert lagrangian(lps, big_u, lam, eta) >= exact.objective - 1e-6, merge
        got = block_bound(inst, parts, iterations=2, merge=merge)
        assert got.value >= exact.objective - 1e-6, merge


def test_block_with_only_running_work_has_an_lp() -> None:
    """Tests the state hypothesis found (fragmented seed 22, 2 nodes, 2 blocks, release 0.3): the second
    block holds only pinned running work, its CP-SAT model has constraints Python decided already
    (written by CP-SAT as a bool_or of a constant literal), and its LP must still be built, at least
    the exact plan, own nodes and merged."""
    inst = _state("fragmented", 22, 2, 0.3)
    parts = _parts(inst, 2)
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    for merge in (None, merge_level(inst, "auto")):
        lps, big_u = block_lps(inst, parts, merge=merge)
        assert lagrangian(lps, big_u, {key: 0.0 for key in big_u}, {}) >= exact.objective - 1e-6


def test_linear_form_reads_bool_or_as_a_row() -> None:
    """Tests that a bool_or (a decided comparison's constant literal, or ¬x ∨ y) becomes the row
    Σ literals ≥ 1 with ¬x as 1 − x, so such a model keeps its LP."""
    from ortools.sat.python import cp_model

    from packer.cpsat.bound import linear_form

    m = cp_model.CpModel()
    x, y = m.new_bool_var("x"), m.new_bool_var("y")
    m.add(sum([]) <= 3)  # Python decides it: CP-SAT writes bool_or(true)
    m.add_bool_or([~x, y])
    m.maximize(x - y)
    form = linear_form(m)
    assert form is not None
    c, a, bl, bh, lo, hi, _obj = form
    dense = a.toarray()
    assert dense.shape[0] == 2
    assert list(dense[1][:2]) == [-1.0, 1.0] and bl[1] == 0.0 and bh[1] == float("inf")
    assert bl[0] == 1.0


def test_block_instances_keep_pinned_work_and_quotas() -> None:
    """Tests the cut: every pinned unit lands in exactly one block, each block's quota is the
    tenant's less the pinned work outside it, and home movable work is in its own block only."""
    inst = _state("fragmented", 3, 4, 0.5)
    parts = _parts(inst, 2)
    subs, tags = block_instances(inst, parts)
    pinned = sum(len(r.placement) for r in inst.requests if r.placement is not None and not r.movable)
    got = sum(len(r.placement) for s in subs for r in s.requests if r.placement is not None and not r.movable)
    assert got == pinned
    movable = [r.id for r in inst.requests if r.placement is not None and r.movable]
    homes = [sum(1 for tg in tags if tg.get(rid, ("", None))[0] == "f") for rid in movable]
    assert all(h <= 1 for h in homes)
    for s in subs:
        for t in s.tenants:
            orig = inst.tenant_map[t.id]
            if orig.max_gpus is None:
                assert t.max_gpus is None
            else:
                assert t.max_gpus <= orig.max_gpus + 1e-9


def test_one_block_is_the_whole_state() -> None:
    """Tests that one block holding every node exports nothing (no other block could take it) and
    its bound is at least the exact plan."""
    inst = _state("fragmented", 5, 3, 0.5)
    parts = [[n.id for n in inst.nodes]]
    lps, big_u = block_lps(inst, parts)
    assert all(float(lps[0].hi[c]) == 0.0 for cols in lps[0].exports.values() for c in cols)
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    assert lagrangian(lps, big_u, {}, {}) >= exact.objective - 1e-6
    with pytest.raises(AssertionError):
        lagrangian(lps, big_u, {next(iter(big_u)): -1.0}, {}) if big_u else (_ for _ in ()).throw(AssertionError())


def test_huge_reoptimizer_reports_the_smaller_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the huge path (forced on 256 GPUs in blocks of 16 nodes) with the bound by blocks beside
    the steps: the plan is valid, its bound is at least its objective and never above the capacity
    bound, and it is the block bound where that is the smaller."""
    from packer.cpsat import reopt, tuning

    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    monkeypatch.setattr("packer.cpsat.reopt_blocks.BLOCK_NODES", 16)
    monkeypatch.setattr(reopt, "BLOCK_BOUND_MIN_S", 1.0)
    monkeypatch.setattr(reopt, "BLOCK_BOUND", True)
    inst = generate("fragmented", seed=0, nodes=32)
    pt = reopt.reoptimize(inst, budget=None, time_limit=25, workers=1)
    rep = check(inst, pt.plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations][:5]
    cb = pt.info["capacity_bound"]
    assert pt.plan.bound is not None and pt.plan.bound >= pt.plan.objective - 1e-6
    assert pt.plan.bound <= cb + 1e-6  # type: ignore[operator]
    got = pt.info["block_bound"]
    assert got is not None, pt.info.get("block_bound_error")
    assert pt.plan.bound == pytest.approx(min(got, cb))  # type: ignore[type-var]


def test_block_bound_child_ended_early_keeps_its_last_bound() -> None:
    """Tests the child's stream: a child ended while it still has rounds to go returns the last bound
    it sent (error "late"), a valid one (at least the exact plan's objective), not None."""
    import time

    from packer.cpsat.block_bound import Child

    inst = _state("fragmented", 2, 4, 0.5)
    parts = _parts(inst, 2)
    exact = solve(inst, time_limit=5, workers=1, aggregate=False)
    ch = Child(inst, time_limit=None, parts=parts, iterations=100_000, step=0.0)
    t = time.perf_counter()
    while ch.first_at is None and time.perf_counter() - t < 60:
        time.sleep(0.05)
    got = ch.get(0.0)
    assert ch.error == "late" and got is not None
    assert got.value >= exact.objective - 1e-6
    assert ch.proc.poll() is not None


def test_merged_block_lp_is_smaller_and_keeps_running_work() -> None:
    """Tests the merged form on a 16-node state cut in 2 blocks: each block's typed relaxation has
    fewer nodes and LP columns than the block itself, every pinned and movable running unit is still
    there (renumbered onto super nodes), and the bound by merged blocks is at least the exact plan's
    objective."""
    from packer.cpsat.block_bound import BlockLP

    inst = _state("fragmented", 7, 16, 0.5)
    parts = _parts(inst, 2)
    level = merge_level(inst, "auto")
    assert level is not None
    subs, tags = block_instances(inst, parts)
    checked = 0
    for s, tg in zip(subs, tags, strict=True):
        own = BlockLP(s, tg)
        try:
            merged = BlockLP(s, tg, merge=level)
        except ValueError:
            continue  # a merged model that is not all linear: block_lps falls back to the block's own
        checked += 1
        assert len(merged.sub.nodes) < len(s.nodes)
        assert merged.a.shape[1] < own.a.shape[1]
        running = sorted((r.id, len(r.placement)) for r in s.requests if r.placement is not None)
        assert sorted((r.id, len(r.placement)) for r in merged.sub.requests if r.placement is not None) == running
    assert checked >= 1
    exact = solve(inst, time_limit=10, workers=1)
    assert check(inst, exact).ok
    assert block_bound(inst, parts, iterations=1, merge=level).value >= exact.objective - 1e-6
