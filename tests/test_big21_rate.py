"""Session 21: blocks' time given by what it buys (packer.cpsat.reopt_blocks.BY_RATE), and the blocks'
statistics (gain curves, per-block records) that the rule and the profile read."""

from __future__ import annotations

import time

import pytest

from packer.cpsat import reopt
from packer.cpsat.reopt_blocks import _end_rate, block_steps
from packer.generate import generate
from packer.plans import objective_value


def test_end_rate_is_the_gain_per_cpu_second_of_the_runs_second_half() -> None:
    # 10 CPU s: 30 gained by 5 s, 36 at the end → 6 in the last 5 s
    assert _end_rate({"cpu_s": 10.0, "gain": 36.0, "curve": [(1.0, 20.0), (5.0, 30.0), (8.0, 36.0)]}) == pytest.approx(1.2)
    # all of it in the second half
    assert _end_rate({"cpu_s": 4.0, "gain": 8.0, "curve": [(3.0, 8.0)]}) == pytest.approx(4.0)
    # flat at the end, nothing at all, no CPU
    assert _end_rate({"cpu_s": 4.0, "gain": 8.0, "curve": [(1.0, 8.0)]}) == 0.0
    assert _end_rate({"cpu_s": 4.0, "gain": 0.0, "curve": []}) == 0.0
    assert _end_rate({"cpu_s": 0.0, "gain": 0.0, "curve": None}) == 0.0


def _start(cap: int | None):  # type: ignore[no-untyped-def]
    inst = generate("fragmented", seed=0, nodes=32)
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    capped = inst.model_copy(update={"objective": inst.objective.model_copy(update={"max_migrations": cap})})
    return inst, capped, {a.request: list(a.units) for a in start.assignments}


def test_each_parallel_block_run_leaves_its_record_and_gain_curve() -> None:
    inst, capped, placed0 = _start(6)
    out, stats = block_steps(inst, placed0, cap=6, deadline=time.perf_counter() + 120, workers=1,
                             max_steps=2, det=0.3, size=8, parallel=2)
    assert stats["blocks"] == 4 and stats["parallel"] == 2 and "blocks_lost" not in stats, stats
    runs = stats["per_block"]
    assert sorted(r["block"] for r in runs) == [0, 1, 2, 3]  # type: ignore[union-attr]
    assert sum(r["gain"] for r in runs if r["merged"]) == pytest.approx(stats["gain"], abs=1e-3)  # type: ignore[union-attr]
    assert objective_value(inst, out) == pytest.approx(objective_value(inst, placed0) + stats["gain"], abs=1e-3)
    for rec in runs:  # type: ignore[union-attr]
        assert rec["cpu_s"] is not None and rec["cpu_s"] >= 0 and rec["visit"] == 0
        gains = [g for _, g in rec["curve"]]
        assert gains == sorted(gains)  # the curve is the gain so far: it never falls
        assert (gains[-1] if gains else 0.0) == pytest.approx(rec["gain"], abs=1e-3)
    assert reopt._valid(capped, out)


@pytest.mark.parametrize("pack", [False, True])
def test_timed_blocks_by_rate_keep_a_valid_plan_within_the_cap(pack: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("packer.cpsat.reopt_blocks.BY_RATE", True)
    monkeypatch.setattr("packer.cpsat.reopt_blocks.BLOCK_PACK", pack)
    inst, capped, placed0 = _start(6)
    out, stats = block_steps(inst, placed0, cap=6, deadline=time.perf_counter() + 12, workers=2, size=8, parallel=2)
    assert stats["blocks"] == 4 and stats["parallel"] == 2 and "rate_order" in stats
    assert objective_value(inst, out) >= objective_value(inst, placed0) - 1e-9
    assert reopt.moves(inst, out) <= 6 and reopt._valid(capped, out)
