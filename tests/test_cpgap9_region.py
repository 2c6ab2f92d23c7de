"""Region-step models (lns.REGION_STEPS, packer.cpsat.lns_region): a step's model over its free variables."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import packer.cpsat.solver as cpsat
from packer.check import check
from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region
from packer.cpsat.model import CpsatModel
from packer.generate import generate
from tests.strategies import suite_instances

FAMILIES = ("sharing", "tenants", "training", "haein", "inference", "hetero", "fragmented", "adversarial")


def _space(inst, det: float = 0.2):  # type: ignore[no-untyped-def]
    model = CpsatModel(inst)
    model.solve(time_limit=None, seed=0, workers=1, params={"max_deterministic_time": det})
    return model, lns_mod._space(model, "node")


def _region_objective(sub: lns_region.RegionModel, values: list[int]) -> float:
    obj = sub.model.proto.objective
    raw = sum(c * values[i] for i, c in zip(obj.vars, obj.coeffs, strict=True)) + obj.offset
    return raw * obj.scaling_factor if obj.scaling_factor else raw


@settings(max_examples=15)
@given(inst=suite_instances(max_nodes=3, families=FAMILIES), seed=st.integers(0, 1000))
def test_region_step_merged_back_is_valid_in_the_full_model(inst, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Tests that a region step's solution, merged into the incumbent, satisfies every row of the full
    model, that its objective is the full model's at the merged values, and that the step's hint is the
    incumbent (its objective the incumbent's)."""
    was = lns_mod.REGION_STEPS
    lns_mod.REGION_STEPS = True
    try:
        _check_merge(inst, seed)
    finally:
        lns_mod.REGION_STEPS = was


def _check_merge(inst, seed: int) -> None:  # type: ignore[no-untyped-def]
    model, space = _space(inst)
    if space is None or space.region is None or not space.names:
        return
    rng = random.Random(seed)
    free = set(rng.sample(space.names, rng.randint(1, len(space.names))))
    sub = space.sub_model(space.best, free, [])
    assert isinstance(sub, lns_region.RegionModel)
    hint = list(sub.model.proto.solution_hint.values)
    assert round(_region_objective(sub, hint)) == space.best_obj
    found = lns_mod._step(sub, space.best_obj - 10**12, seconds=5.0, det=0.3, seed=seed, workers=1)
    if found is None:
        return
    values, obj = found
    assert len(values) == len(space.best)
    assert round(model._raw_objective(values)) == obj
    if space.checker is not None:
        assert space.checker.feasible(np.array(values))
    # Every pinned variable kept its incumbent value.
    pinned = np.ones(len(values), dtype=bool)
    pinned[sub.free] = False
    assert (np.array(values)[pinned] == np.array(space.best)[pinned]).all()


@pytest.mark.parametrize("family", ["sharing", "tenants", "haein", "training"])
def test_region_step_reaches_the_clone_steps_optimum(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that, solved to optimality, a region step and a full-clone step over the same free domains
    reach the same objective (folding the pinned part loses no solution and adds none)."""
    model, space = _space(generate(family, seed=1, nodes=6))
    assert space is not None
    rng = random.Random(5)
    for _ in range(3):
        free = set(rng.sample(space.names, 2))
        got = []
        for region in (False, True):
            monkeypatch.setattr(lns_mod, "REGION_STEPS", region)
            got.append(_proven_optimum(space, space.sub_model(space.best, free, [])))
        assert got[0] == got[1]


def _proven_optimum(space, sub) -> int:  # type: ignore[no-untyped-def]
    """The objective of ``sub``'s step solved to proven optimality (the test is skipped if it is not)."""
    info: dict[str, float] = {}
    found = lns_mod._step(sub, space.best_obj - 10**12, seconds=30.0, det=20.0, seed=0, workers=1, info=info)
    assert found is not None
    if not info["proven"]:
        pytest.skip("step not solved to optimality within its budget")
    return found[1]


@pytest.mark.parametrize("family", ["sharing", "inference", "tenants"])
def test_region_step_never_returns_worse_than_its_hint(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a region step returns None or an objective above the incumbent it was hinted with."""
    monkeypatch.setattr(lns_mod, "REGION_STEPS", True)
    _, space = _space(generate(family, seed=2, nodes=8))
    assert space is not None
    rng = random.Random(2)
    for k in range(4):
        free = set(rng.sample(space.names, min(2, len(space.names))))
        sub = space.sub_model(space.best, free, [])
        found = lns_mod._step(sub, space.best_obj, seconds=5.0, det=0.2, seed=k, workers=1)
        assert found is None or found[1] > space.best_obj


def test_growth_cap_bounds_the_free_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a growth cap becomes the upper bound of that variable in the region model (without the
    fixed-variable folding, which pins a capped count left with one value: tests/test_cpgap12_fold.py)."""
    monkeypatch.setattr(lns_mod, "REGION_STEPS", True)
    monkeypatch.setattr(lns_region, "FOLD_FIXED", False)
    _, space = _space(generate("inference", seed=0, nodes=6))
    assert space is not None and space.growth
    cap = [(i, space.best[i]) for i, _ in space.growth]
    sub = space.sub_model(space.best, set(space.names[:1]), cap)
    assert isinstance(sub, lns_region.RegionModel)
    local = {int(v): j for j, v in enumerate(sub.free)}
    for i, top in cap:
        dom = list(sub.model.proto.variables[local[i]].domain)
        assert dom[-1] == top


def test_region_profile_consistent_and_plans_pass_the_checker(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that with region steps the profiler still has one entry a step with totals that add up, and
    that a whole solve with region steps returns a plan the checker accepts."""
    monkeypatch.setattr(lns_mod, "REGION_STEPS", True)
    monkeypatch.setattr(lns_mod, "PROFILE_STEPS", True)
    model, _ = _space(generate("sharing", seed=0, nodes=16), det=0.3)
    lns_mod.lns(model, level="rack", domains_per_step=1, step_s=1.0, deadline=1e18, seed=3, workers=1,
                steps=4, det_step=0.2)
    stats = model.lns_stats
    assert stats is not None
    prof = stats["profile"]
    assert len(prof) == stats["steps"] == 4
    for key in ("build_s", "presolve_s", "solve_s"):
        assert stats[key] == pytest.approx(sum(e[key] for e in prof))
    inst = generate("tenants", seed=3, nodes=6)
    plan = cpsat.solve(inst, time_limit=4.0, workers=2)
    assert check(inst, plan).ok


def test_supported_refuses_enforced_rows() -> None:
    """Tests that a model with an enforced constraint is not given region steps."""
    from ortools.sat.python import cp_model

    m = cp_model.CpModel()
    a, b = m.new_bool_var("a"), m.new_int_var(0, 5, "b")
    m.add(b <= 3)
    assert lns_region.supported(m.proto)
    m.add(b >= 4).only_enforce_if(a)
    assert not lns_region.supported(m.proto)
