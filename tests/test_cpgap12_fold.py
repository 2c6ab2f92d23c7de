"""Region steps that fold the variables their folding fixes (lns_region.FOLD_FIXED, session 12)."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region
from packer.generate import generate
from tests.strategies import suite_instances
from tests.test_cpgap9_region import _check_merge, _proven_optimum, _space

FAMILIES = ("sharing", "tenants", "training", "haein", "inference", "hetero", "fragmented", "adversarial")


def _build(space, free, cap, fold: bool, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(lns_mod, "REGION_STEPS", True)
    monkeypatch.setattr(lns_region, "FOLD_FIXED", fold)
    sub = space.sub_model(space.best, free, cap)
    assert isinstance(sub, lns_region.RegionModel)
    return sub


@pytest.mark.parametrize("family", ["tenants", "hetero", "sharing", "inference", "adversarial"])
def test_folded_step_reaches_the_unfolded_steps_optimum(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that, solved to optimality, the folded and the unfolded region model of the same step reach
    the same objective (the folded variables have one value in every solution), and that the folded one
    holds no more variables and rows than the unfolded one."""
    _, space = _space(generate(family, seed=1, nodes=6))
    assert space is not None
    rng = random.Random(7)
    for _ in range(3):
        free = set(rng.sample(space.names, 2))
        subs = [_build(space, free, [], fold, monkeypatch) for fold in (False, True)]
        assert len(subs[1].free) <= len(subs[0].free)
        assert len(subs[1].model.proto.constraints) <= len(subs[0].model.proto.constraints)
        got = [_proven_optimum(space, sub) for sub in subs]
        assert got[0] == got[1]


def test_folding_removes_the_fixed_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that the folded model keeps no variable whose domain is a single value (the fixed point is
    reached) while the unfolded one has such variables, and that the folded one is smaller."""
    _, space = _space(generate("tenants", seed=0, nodes=8))
    assert space is not None
    free = set(space.names[:2])
    old = _build(space, free, [], False, monkeypatch)
    new = _build(space, free, [], True, monkeypatch)

    def singles(sub: lns_region.RegionModel) -> int:
        return sum(1 for v in sub.model.proto.variables if v.domain[0] == v.domain[len(v.domain) - 1])

    assert singles(old) > 0
    assert singles(new) == 0
    assert len(new.free) < len(old.free)


def test_folded_growth_caps_hold(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests that a capped growth variable is either still free with its upper bound at most the cap, or
    folded at the incumbent's value (which is at most the cap)."""
    _, space = _space(generate("inference", seed=0, nodes=6))
    assert space is not None and space.growth
    cap = [(i, space.best[i]) for i, _ in space.growth]
    sub = _build(space, set(space.names[:1]), cap, True, monkeypatch)
    local = {int(v): j for j, v in enumerate(sub.free)}
    for i, top in cap:
        if i in local:
            dom = list(sub.model.proto.variables[local[i]].domain)
            assert dom[-1] <= top
        else:
            assert sub.base[i] <= top


@settings(max_examples=15, deadline=None)
@given(inst=suite_instances(max_nodes=3, families=FAMILIES), seed=st.integers(0, 1000))
def test_folded_step_merged_back_is_valid(inst, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Tests that a folded step's hint has the incumbent's objective, and that its solution expanded into the
    full model satisfies every row there, keeps every pinned or folded variable at the incumbent's
    value, and has the full model's objective (the region steps' own check, folding on)."""
    was = (lns_mod.REGION_STEPS, lns_region.FOLD_FIXED)
    lns_mod.REGION_STEPS, lns_region.FOLD_FIXED = True, True
    try:
        _check_merge(inst, seed)
    finally:
        lns_mod.REGION_STEPS, lns_region.FOLD_FIXED = was
