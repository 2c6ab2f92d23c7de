"""Session 24: each block's move steps guided by the block's own stays LP (reopt_blocks.BLOCK_GUIDE)."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.check import check
from packer.cpsat import reopt, reopt_blocks, solve
from packer.cpsat.decompose import _sub_instance
from packer.cpsat.reopt_blocks import _block_guide, block_steps
from packer.plans import objective_value
from tests.test_big21_rate import _start
from tests.test_block_bound import _parts, _state


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 60), family=st.sampled_from(["fragmented", "haein", "tenants"]),
       nodes=st.sampled_from([3, 4]), release=st.sampled_from([0.3, 0.6]))
def test_a_blocks_lp_is_above_the_exact_plan_of_its_sub_instance(seed: int, family: str, nodes: int,
                                                                 release: float) -> None:
    """The value the guided block records (its sub-instance's stays LP) bounds every plan of the
    sub-instance the block's steps run on (cut as the blocks cut it: border work pinned, waiting work
    offered, the rest of the plan's quota use held back): ≥ the exact model's checked plan there."""
    inst = _state(family, seed, nodes, release)
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    placed = {a.request: list(a.units) for a in start.assignments}
    for i, part in enumerate(_parts(inst, 2)):
        sub, hint = _sub_instance(inst, placed, set(part), i, offer=reopt_blocks.BLOCK_OFFER)
        if not sub.requests or hint is None:
            continue
        guide, value = _block_guide(sub, None)
        exact = solve(sub, time_limit=5, workers=1, aggregate=False)
        assert check(sub, exact).ok
        if value is None:  # no movable work: no stays LP, and then no guide either
            assert guide is None
            continue
        assert value >= exact.objective - 1e-6, (family, seed, i)
        assert value >= objective_value(sub, {a.request: list(a.units) for a in hint.assignments}) - 1e-6


def test_guided_parallel_blocks_record_their_lp_and_keep_a_valid_plan(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("packer.cpsat.reopt_blocks.BLOCK_GUIDE", True)
    inst, capped, placed0 = _start(6)
    out, stats = block_steps(inst, placed0, cap=6, deadline=time.perf_counter() + 120, workers=1,
                             max_steps=2, det=0.3, size=8, parallel=2)
    runs = stats["per_block"]
    assert sorted(r["block"] for r in runs) == [0, 1, 2, 3]  # type: ignore[union-attr]
    for rec in runs:  # type: ignore[union-attr]
        assert rec["lp"] is not None and rec["guide_cpu_s"] >= 0
        # the block's LP bounds what its steps reached on its sub-instance
        assert rec["lp"] >= rec["start"] + rec["gain"] - 1e-3, rec
    assert reopt.moves(inst, out) <= 6 and reopt._valid(capped, out)
    assert objective_value(inst, out) >= objective_value(inst, placed0) - 1e-9


def test_flag_off_solves_no_block_lp(monkeypatch: pytest.MonkeyPatch) -> None:
    """Off (the default): the blocks' steps run unguided, as before the flag: no block LP is solved
    (the in-process path would raise here) and no block record carries one."""
    assert reopt_blocks.BLOCK_GUIDE is False

    def boom(*_a, **_k):  # type: ignore[no-untyped-def]
        raise AssertionError("a block LP was solved with BLOCK_GUIDE off")

    monkeypatch.setattr("packer.cpsat.reopt_blocks._block_guide", boom)
    inst, capped, placed0 = _start(6)
    out, _ = block_steps(inst, placed0, cap=6, deadline=time.perf_counter() + 60, workers=1,
                         max_steps=1, det=0.3, size=8, parallel=1)
    assert reopt._valid(capped, out)
    # and on, the same in-process path does ask for it
    monkeypatch.setattr("packer.cpsat.reopt_blocks.BLOCK_GUIDE", True)
    with pytest.raises(AssertionError, match="BLOCK_GUIDE off"):
        block_steps(inst, placed0, cap=6, deadline=time.perf_counter() + 60, workers=1,
                    max_steps=1, det=0.3, size=8, parallel=1)
