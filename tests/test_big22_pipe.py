"""Pipelined block waves (packer.cpsat.reopt_blocks.PIPELINE): the next block is cut while the others run
and starts the moment a worker frees; its slack is settled as it starts, so merges are never refused."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from packer.cpsat import reopt
from packer.cpsat.decompose import _totals
from packer.cpsat.reopt_blocks import BLOCK_OFFER, _cut, _idle_share, _settle, _with_caps, block_steps, blocks
from packer.generate import generate
from packer.plans import objective_value


def _capped(family: str, seed: int, cap: int | None, nodes: int = 32):  # type: ignore[no-untyped-def]
    inst = generate(family, seed=seed, nodes=nodes)
    inst = inst.model_copy(update={"requests": tuple(
        r.model_copy(update={"movable": True}) if r.placement is not None else r for r in inst.requests)})
    start = reopt.no_move_hint(inst, time_limit=None, seed=0)
    assert start is not None
    capped = inst.model_copy(update={"objective": inst.objective.model_copy(update={"max_migrations": cap})})
    return inst, capped, {a.request: list(a.units) for a in start.assignments}


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(family=st.sampled_from(["tenants", "fragmented", "haein"]), seed=st.integers(0, 30),
       cap=st.integers(0, 9), order=st.permutations([0, 1, 2, 3]), par=st.integers(1, 3))
def test_settled_slack_of_running_blocks_never_exceeds_the_free_slack(family: str, seed: int, cap: int,
                                                                      order: list[int], par: int) -> None:
    # Blocks cut one after the other from the same plan (nothing merged meanwhile), each settled with
    # the ones before it still running: whatever each may add, all of them together fit every quota and
    # the migration cap, their offers are disjoint, and each sub-instance's caps hold its own hint.
    _, capped, placed = _capped(family, seed, cap, nodes=16)
    parts = blocks(capped, 4)
    used, moved = _totals(capped, placed)
    running: list = []
    held: set[str] = set()
    for b in [b for b in order if b < len(parts)]:
        job = _cut(capped, placed, parts, b, 0, held, used, moved, {})
        if job is None:
            continue
        _settle(capped, job, running, max(1, par - len(running)), used, moved, placed)
        assert not (job.offered & held) and len(job.offered) <= BLOCK_OFFER
        assert all(r.id in job.offered or r.id in job.here for r in job.sub.requests)
        held |= job.offered
        running.append(job)
        sub = _with_caps(job.sub, *job.caps)
        sub_t = {t.id: t.max_gpus for t in sub.tenants}
        for t, x in job.used_in.items():  # the hint fits the sub-instance's caps
            assert sub_t.get(t) is None or x <= sub_t[t] + 1e-9
        assert sub.objective.max_migrations == job.moved_in + job.give_moves
        assert objective_value(sub, job.here) == pytest.approx(objective_value(job.sub, job.here))
    assert reopt._valid(capped, placed)
    for t in capped.tenants:
        if t.max_gpus is not None:
            free = max(0.0, t.max_gpus - used[t.id])
            assert sum(j.give.get(t.id, 0.0) for j in running) <= free + 1e-9
    assert sum(j.give_moves for j in running) <= max(0, cap - moved)


def test_a_pipelined_reproducible_run_is_valid_within_the_cap_and_does_not_depend_on_timing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("packer.cpsat.reopt_blocks.PIPELINE", True)
    inst, capped, placed0 = _capped("tenants", 1, 3, nodes=24)
    runs = [block_steps(inst, placed0, cap=3, deadline=time.perf_counter() + 120, workers=1, max_steps=1,
                        det=0.2, size=8, parallel=2) for _ in range(2)]
    (out, stats), (out2, _) = runs
    assert stats["blocks"] == 3 and stats["parallel"] == 2 and stats["passes"] == 1, stats  # one cut ahead
    assert "refused" not in stats and "blocks_lost" not in stats, stats
    assert sorted(r["block"] for r in stats["per_block"]) == [0, 1, 2]  # type: ignore[union-attr]
    assert objective_value(inst, out) == pytest.approx(objective_value(inst, placed0) + stats["gain"], abs=1e-3)
    assert reopt.moves(inst, out) <= 3 and reopt._valid(capped, out)
    assert out == out2  # merges in start order: the same plan however the blocks' runs were timed
    assert all("sent" in r for r in stats["per_block"])  # type: ignore[union-attr]  # the pipeline ran
    assert 0.0 <= stats["idle_share"] <= 1.0  # type: ignore[operator]


@pytest.mark.parametrize("cap", [2])
def test_a_timed_pipelined_run_is_valid_within_the_cap(cap: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("packer.cpsat.reopt_blocks.PIPELINE", True)
    inst, capped, placed0 = _capped("fragmented", 0, cap)
    out, stats = block_steps(inst, placed0, cap=cap, deadline=time.perf_counter() + 5, workers=2, size=8,
                             parallel=2)
    assert stats["blocks"] == 4 and "refused" not in stats and "idle_share" in stats, stats
    assert all("sent" in r for r in stats.get("per_block", []))  # type: ignore[union-attr]  # the pipeline's records
    assert objective_value(inst, out) >= objective_value(inst, placed0) - 1e-9
    assert reopt.moves(inst, out) <= cap and reopt._valid(capped, out)


def test_idle_share_counts_the_worker_seconds_no_block_ran() -> None:
    st_ = {"per_block": [{"wall": (0.0, 4.0)}, {"wall": (1.0, 5.0)}, {"wall": (4.0, 9.0)}, {"wall": None}]}
    # 2 workers over 0-10 s: 20 worker-seconds, 4 + 4 + 5 busy
    assert _idle_share(st_, 2, 0.0, 10.0) == pytest.approx(1 - 13 / 20)
    assert _idle_share(st_, 2, 2.0, 6.0) == pytest.approx(1 - (2 + 3 + 2) / 8)  # clipped to the phase
    assert _idle_share({"per_block": []}, 2, 0.0, 1.0) is None
