"""LNS step settings of session 10: the region row index read once per run, the step presolve limit."""

from __future__ import annotations

import time

import pytest

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region
from packer.cpsat.model import CpsatModel
from packer.generate import generate


def _model(family: str = "sharing", nodes: int = 8) -> CpsatModel:
    model = CpsatModel(generate(family, seed=2, nodes=nodes))
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": 0.05})
    return model


def test_parallel_lns_reads_the_region_rows_once_before_any_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a parallel LNS run with region steps builds the row index exactly once, and before its
    threads build their first step (not inside a step, where it counted as that step's build)."""
    built: list[int] = []
    ready_at_step: list[bool] = []
    real_index, real_sub = lns_region.RegionIndex, lns_mod._Space.sub_model

    class Counting(real_index):  # type: ignore[misc, valid-type]
        def __init__(self, proto) -> None:  # type: ignore[no-untyped-def]
            built.append(1)
            super().__init__(proto)

    def sub_model(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        ready_at_step.append("region" in self.__dict__)
        return real_sub(self, *args, **kwargs)

    monkeypatch.setattr(lns_region, "RegionIndex", Counting)
    monkeypatch.setattr(lns_mod._Space, "sub_model", sub_model)
    monkeypatch.setattr(lns_mod, "REGION_STEPS", True)
    model = _model()
    lns_mod.lns(model, level="node", domains_per_step=1, step_s=0.3, deadline=time.perf_counter() + 2.0,
                seed=0, workers=2)
    assert model.lns_stats["steps"] >= 2
    assert model.lns_stats.get("threads", 1) >= 2
    assert built == [1]
    assert ready_at_step and all(ready_at_step)


def test_clone_steps_read_no_region_rows(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with REGION_STEPS off no row index is built at all."""
    monkeypatch.setattr(lns_region, "RegionIndex", lambda proto: pytest.fail("index built"))
    monkeypatch.setattr(lns_mod, "REGION_STEPS", False)
    model = _model(nodes=6)
    lns_mod.lns(model, level="node", domains_per_step=1, step_s=1.0, deadline=time.perf_counter() + 30.0,
                seed=0, workers=1, steps=2, det_step=0.1)
    assert model.lns_stats["steps"] == 2


@pytest.mark.parametrize("limit", [None, 1])
def test_step_presolve_limit_reaches_cpsat(limit: int | None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that STEP_PRESOLVE_ITERATIONS sets CP-SAT's max_presolve_iterations in every step (and
    leaves CP-SAT's default when None), and that the steps still answer."""
    seen: list[int] = []
    real = lns_mod.solve_guarded

    def spy(solver, model, *args):  # type: ignore[no-untyped-def]
        seen.append(solver.parameters.max_presolve_iterations)
        return real(solver, model, *args)

    default = type(lns_mod.cp_model.CpSolver().parameters)().max_presolve_iterations
    monkeypatch.setattr(lns_mod, "solve_guarded", spy)
    monkeypatch.setattr(lns_mod, "STEP_PRESOLVE_ITERATIONS", limit)
    model = _model(nodes=6)
    lns_mod.lns(model, level="node", domains_per_step=1, step_s=1.0, deadline=time.perf_counter() + 30.0,
                seed=0, workers=1, steps=3, det_step=0.1)
    assert len(seen) == 3
    assert set(seen) == {default if limit is None else limit}
