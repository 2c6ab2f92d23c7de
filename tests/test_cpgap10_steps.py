"""LNS step settings of session 10: the region row index read once per run, the step presolve limit."""

from __future__ import annotations

import time

import numpy as np
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
        def __init__(self, proto, matrix=None, read=None) -> None:  # type: ignore[no-untyped-def]
            built.append(1)
            super().__init__(proto, matrix, read)

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


def _rows(index: lns_region.RegionIndex) -> list[list[tuple[int, int]]]:
    """Every row's terms as sorted (variable, coefficient) pairs, duplicates summed."""
    out = []
    for r in range(len(index.bounds)):
        lo, hi = int(index.starts[r]), int(index.starts[r + 1])
        terms: dict[int, int] = {}
        for v, c in zip(index.vars[lo:hi].tolist(), index.coeffs[lo:hi].tolist(), strict=True):
            terms[v] = terms.get(v, 0) + c
        out.append(sorted((v, c) for v, c in terms.items() if c))
    return out


@pytest.mark.parametrize("family", ["sharing", "hetero", "tenants", "inference", "adversarial"])
def test_region_index_from_the_lp_matrix_is_the_protos(family: str) -> None:
    """Tests that the row index read from the LP bound's matrix holds the same rows (terms, bounds),
    variable domains and objective as the one read from the proto."""
    model = CpsatModel(generate(family, seed=3, nodes=6))
    proto = model.model.proto
    form = model.linear_form
    assert form is not None
    a = lns_region.RegionIndex(proto)
    b = lns_region.RegionIndex(proto, form[1])
    assert _rows(a) == _rows(b)
    assert a.bounds == b.bounds and a.domains == b.domains
    for key in ("row_lo", "row_hi", "single", "var_lo", "var_hi", "holes", "obj_vars", "obj_coeffs"):
        assert np.array_equal(getattr(a, key), getattr(b, key)), key
    assert (a.obj_offset, a.obj_scale, a.n) == (b.obj_offset, b.obj_scale, b.n)


def test_region_index_refuses_a_matrix_it_cannot_read_exactly() -> None:
    """Tests that a matrix of another shape, with a fractional, a zero or a too large entry, is not used
    (the index reads the proto instead)."""
    from scipy.sparse import csr_matrix

    model = CpsatModel(generate("haein", seed=1, nodes=4))
    proto = model.model.proto
    form = model.linear_form
    assert form is not None
    good = form[1]
    assert lns_region._terms(good, *good.shape) is not None
    assert lns_region._terms(good, good.shape[0] + 1, good.shape[1]) is None
    for bad in (0.5, 0.0, 2.0 ** 60):
        m = csr_matrix(good, copy=True)
        m.data[0] = bad
        assert lns_region._terms(m, *m.shape) is None
    assert _rows(lns_region.RegionIndex(proto, m)) == _rows(lns_region.RegionIndex(proto))


def test_region_steps_use_the_lp_matrix_when_it_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the space's row index takes the model's LP matrix when the model already built it, and
    reads the proto (building no matrix) when it did not."""
    got: list[object] = []
    real = lns_region.RegionIndex

    class Spy(real):  # type: ignore[misc, valid-type]
        def __init__(self, proto, matrix=None, read=None) -> None:  # type: ignore[no-untyped-def]
            got.append(matrix)
            super().__init__(proto, matrix, read)

    monkeypatch.setattr(lns_region, "RegionIndex", Spy)
    model = _model(nodes=6)
    space = lns_mod._space(model, "node")
    assert space is not None and space.region is not None
    assert got == [None] and "linear_form" not in model.__dict__
    form = model.linear_form
    space = lns_mod._space(model, "node")
    assert space is not None and space.region is not None
    assert got[1] is form[1]
