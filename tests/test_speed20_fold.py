"""The region step's fold that reads only its free variables' terms (lns_region.FAST_FOLD, session 20)
builds the same step model as the pass over every term of the model, and the step solves the same."""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.cpsat import lns as lns_mod
from packer.cpsat import lns_region
from packer.generate import generate
from tests.strategies import suite_instances
from tests.test_cpgap9_region import _space

FAMILIES = ("sharing", "tenants", "training", "haein", "inference", "hetero", "fragmented", "adversarial")


def _both(space, base: list[int], free: set[str], cap: list[tuple[int, int]], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """The step model of ``free`` built with FAST_FOLD off, then on."""
    monkeypatch.setattr(lns_mod, "REGION_STEPS", True)
    out = []
    for fast in (False, True):
        monkeypatch.setattr(lns_region, "FAST_FOLD", fast)
        sub = space.sub_model(base, free, cap)
        assert isinstance(sub, lns_region.RegionModel)
        out.append(sub)
    return out


def _same(a: lns_region.RegionModel, b: lns_region.RegionModel) -> None:
    assert np.array_equal(a.free, b.free)
    assert str(a.model.proto) == str(b.model.proto)  # every variable, row, the objective and the hint


@settings(max_examples=20, deadline=None)
@given(inst=suite_instances(max_nodes=3, families=FAMILIES), seed=st.integers(0, 1000), fold=st.booleans())
def test_fast_fold_builds_the_same_step_model(inst, seed: int, fold: bool) -> None:  # type: ignore[no-untyped-def]
    """Tests that, over small instances of every family, random free domains, random growth caps and
    both settings of FOLD_FIXED, the step model built from the free variables' terms is the one built
    from every term (same variables, domains, rows, objective and hint), also after the incumbent
    changes, and that both solve to the same answer with the same seed."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(lns_region, "FOLD_FIXED", fold)
        _, space = _space(inst)
        if space is None or space.region is None or not space.names:
            return
        rng = random.Random(seed)
        base = list(space.best)
        for k in range(3):
            free = set(rng.sample(space.names, rng.randint(1, len(space.names))))
            cap = [(i, base[i]) for i, _ in space.growth if rng.random() < 0.5]
            slow, fast = _both(space, base, free, cap, mp)
            _same(slow, fast)
            got = [lns_mod._step(sub, space.best_obj - 10**12, seconds=5.0, det=0.2, seed=seed, workers=1)
                   for sub in (slow, fast)]
            assert got[0] == got[1]
            if got[1] is not None and k < 2:
                base = got[1][0]  # the next step starts from this step's answer (a new incumbent)


@pytest.mark.parametrize("family", ["tenants", "sharing", "hetero"])
def test_fast_fold_same_model_on_a_larger_cluster(family: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests the same on 8 nodes, two domains at a time (rows shared by many nodes: quotas, group counts)."""
    _, space = _space(generate(family, seed=3, nodes=8))
    assert space is not None and space.region is not None
    rng = random.Random(11)
    for _ in range(4):
        free = set(rng.sample(space.names, min(2, len(space.names))))
        cap = [(i, space.best[i]) for i, _ in space.growth if rng.random() < 0.5]
        _same(*_both(space, space.best, free, cap, monkeypatch))


def test_incumbent_cache_follows_changes_in_place() -> None:
    """Tests that the per-incumbent arrays are recomputed when the same list is changed in place, and that
    the row activities are the model's rows evaluated at the incumbent."""
    _, space = _space(generate("inference", seed=0, nodes=4))
    assert space is not None and space.region is not None
    index = space.region
    base = list(space.best)
    values, activity = index.at(base)
    rows = np.repeat(np.arange(len(index.bounds)), np.diff(index.starts))
    expect = np.zeros(len(index.bounds), dtype=np.int64)
    np.add.at(expect, rows, index.coeffs * np.asarray(base, dtype=np.int64)[index.vars])
    assert np.array_equal(activity, expect)
    assert index.at(base)[1] is activity  # the same incumbent: no new pass
    i = int(index.vars[0])
    base[i] += 1
    values2, activity2 = index.at(base)
    assert values2[i] == values[i] + 1
    assert not np.array_equal(activity2, activity)


@settings(max_examples=15, deadline=None)
@given(inst=suite_instances(max_nodes=4, families=FAMILIES), seed=st.integers(0, 1000))
def test_pinned_mask_from_the_free_nodes(inst, seed: int) -> None:  # type: ignore[no-untyped-def]
    """Tests that the mask a step builds from its free nodes (``_Space._fixed``) pins exactly the
    variables that ``_Space._pinned`` lists, for free domains and for free node sets (tenant, whole and
    model steps), and that no variable is listed under two nodes (the mask's premise)."""
    _, space = _space(inst)
    if space is None or not space.names:
        return
    assert space.node_vars is not None
    rng = random.Random(seed)
    every = sorted(space.per_node)
    for _ in range(3):
        free = set(rng.sample(space.names, rng.randint(1, len(space.names))))
        nodes = None if rng.random() < 0.5 else set(rng.sample(every, rng.randint(0, len(every))))
        expect = np.zeros(len(space.best), dtype=bool)
        expect[space._pinned(free, nodes)] = True
        assert np.array_equal(space._fixed(free, nodes), expect)
