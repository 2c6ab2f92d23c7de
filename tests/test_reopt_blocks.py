"""Move steps block by block on running clusters too big for whole-cluster steps (packer.cpsat.reopt_blocks).

At 16,384 GPUs the re-optimizer made no move at all: the no-move solve took the whole limit. Here the
huge path is forced on small clusters (tuning.DECOMPOSE_ABOVE = 0), and the blocks are made small.
"""

from __future__ import annotations

import time

import pytest

from packer.check import check
from packer.cpsat import reopt, tuning
from packer.cpsat.reopt_blocks import block_steps, blocks
from packer.generate import generate
from packer.plans import objective_value


def test_blocks_cover_every_node_once_in_whole_domains() -> None:
    inst = generate("fragmented", seed=1, nodes=64)
    parts = blocks(inst, 16)
    flat = [n for b in parts for n in b]
    assert sorted(flat) == sorted(n.id for n in inst.nodes) and len(flat) == len(set(flat))
    assert all(len(b) <= 16 for b in parts) and len(parts) >= 4
    rack = {n: d for d, ns in inst.cluster_topology.domains("rack").items() for n in ns}
    for b in parts:  # racks (4 nodes) are never cut
        racks = {rack[n] for n in b}
        assert sum(1 for n in inst.nodes if rack[n.id] in racks) == len(b)
    assert blocks(inst, 10**6) == [[n.id for n in inst.nodes]]


@pytest.mark.parametrize("cap", [None, 3])
def test_block_steps_improve_within_the_cap_and_stay_valid(cap: int | None) -> None:
    inst = generate("fragmented", seed=0, nodes=32)
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    placed0 = {a.request: list(a.units) for a in start.assignments}
    out, stats = block_steps(inst, placed0, cap=cap, deadline=time.perf_counter() + 120, workers=1,
                             max_steps=4, det=0.5, size=16)
    assert stats["blocks"] == 2 and stats["passes"] == 1  # a deterministic budget: one pass
    assert objective_value(inst, out) > objective_value(inst, placed0) + 1e-9, stats
    assert cap is None or reopt.moves(inst, out) <= cap
    assert reopt._valid(inst.model_copy(update={"objective": inst.objective.model_copy(
        update={"max_migrations": cap})}), out)


def test_huge_reoptimizer_moves_work_block_by_block(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    monkeypatch.setattr("packer.cpsat.reopt_blocks.BLOCK_NODES", 16)
    inst = generate("fragmented", seed=0, nodes=32)
    pt = reopt.reoptimize(inst, budget=4, time_limit=20, workers=1)
    assert pt.info["no_move"] == "hint" and pt.info["steps"]["blocks"] == 2  # type: ignore[index]
    assert 0 < pt.moves <= 4
    assert pt.plan.objective > pt.info["no_move_objective"] + 1e-9  # type: ignore[operator]
    rep = check(inst, pt.plan)
    assert rep.ok, [(v.kind, v.message) for v in rep.violations][:5]
    assert len(pt.plan.migrations) == pt.moves


def test_a_budget_of_zero_keeps_the_no_move_solve(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tuning, "DECOMPOSE_ABOVE", 0)
    inst = generate("fragmented", seed=0, nodes=16)
    pt = reopt.reoptimize(inst, budget=0, time_limit=10, workers=1)
    assert "no_move" not in pt.info or pt.info["no_move"] != "hint"
    assert pt.moves == 0 and check(inst, pt.plan).ok


def _movable_start(family: str, seed: int, **kw: float):  # type: ignore[no-untyped-def]
    """A generated 32-node running cluster with all its running work movable, and the fast placers'
    no-move placement of it (request id → units)."""
    inst = generate(family, seed=seed, nodes=32, **kw)
    inst = inst.model_copy(update={"requests": tuple(
        r.model_copy(update={"movable": True}) if r.placement is not None else r for r in inst.requests)})
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    return inst, {a.request: list(a.units) for a in start.assignments}


def test_block_steps_keep_the_plan_valid() -> None:
    inst, placed0 = _movable_start("haein", 2, demand=1.4)
    out, stats = block_steps(inst, placed0, cap=None, deadline=time.perf_counter() + 120, workers=1,
                             max_steps=3, det=0.5, size=16)
    assert stats["steps_gain_s"][1] > 0  # type: ignore[index]
    assert objective_value(inst, out) >= objective_value(inst, placed0) - 1e-9
    assert reopt._valid(inst, out)


def test_parallel_blocks_only_in_timed_runs_and_never_more_than_blocks() -> None:
    from packer.cpsat.reopt_blocks import parallel_of

    assert parallel_of(2, None, 16) == 2
    assert parallel_of(8, None, 3) == 3
    assert parallel_of(2, 0.5, 16) == 1  # reproducible runs: one block at a time, as before
    assert parallel_of(1, None, 16) == 1
    assert parallel_of(None, None, 1) == 1


def test_a_wave_deals_disjoint_offers_and_splits_the_slack() -> None:
    from packer.cpsat.decompose import _totals
    from packer.cpsat.reopt_blocks import BLOCK_OFFER, _wave_shares

    inst = generate("tenants", seed=3, nodes=32)
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    placed = {a.request: list(a.units) for a in start.assignments}
    parts = blocks(inst, 16)
    cap = 7
    capped = inst.model_copy(update={"objective": inst.objective.model_copy(update={"max_migrations": cap})})
    shares = _wave_shares(capped, placed, parts, range(len(parts)))
    offered = [r.id for s in shares for r in s.offer]
    assert len(offered) == len(set(offered)) and all(len(s.offer) <= BLOCK_OFFER for s in shares)
    waiting = {r.id for r in inst.requests if r.id not in placed and r.placement is None}
    assert set(offered) <= waiting and offered
    used, moved = _totals(capped, placed)
    assert sum(cap - moved - s.withheld_moves for s in shares) == cap - moved  # the free moves, split
    for t in inst.tenants:
        if t.max_gpus is None or t.max_gpus - used[t.id] <= 0:
            continue
        own = [s for s in shares if any(r.tenant == t.id for r in [*s.candidates, *s.offer])]
        # every block holding the tenant's work gets 1/len(own) of its slack: the parts sum to the slack
        assert sum(t.max_gpus - used[t.id] - s.withheld[t.id] for s in own) == pytest.approx(t.max_gpus - used[t.id])


@pytest.mark.parametrize("cap", [None, 3])
def test_parallel_blocks_merge_into_a_valid_plan_within_the_cap(cap: int | None) -> None:
    inst, placed0 = _movable_start("tenants", 1)
    out, stats = block_steps(inst, placed0, cap=cap, deadline=time.perf_counter() + 120, workers=1,
                             max_steps=4, det=0.5, size=16, parallel=2)
    assert stats["parallel"] == 2 and stats["blocks"] == 2 and stats["passes"] == 1, stats
    assert "blocks_lost" not in stats and stats["blocks_improved"] == 2, stats  # both answers merged
    assert objective_value(inst, out) > objective_value(inst, placed0) + 1e-9
    assert cap is None or reopt.moves(inst, out) <= cap
    capped = inst.model_copy(update={"objective": inst.objective.model_copy(update={"max_migrations": cap})})
    assert reopt._valid(capped, out)
