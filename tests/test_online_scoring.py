"""The shared numba rules (packer.online.scoring) against their one definition elsewhere: MIG fit
counts and free starts against packer.geometry, FGD's fragmentation against a plain statement of
traces README §5.7, and the policy registry's one code space."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from packer.catalog import Catalog
from packer.geometry import geometry, mig_tables
from packer.online import scoring
from packer.online.policies import ALIASES, ENGINES, REGISTRY, resolve

MODELS = [m for m in Catalog.builtin() if m.has_mig]


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_kernel_fit_count_and_first_start_equal_geometry(data) -> None:  # type: ignore[no-untyped-def]
    """Tests that the kernels' fit count and lowest free start equal Geometry's on every model and mask."""
    model = data.draw(st.sampled_from(MODELS))
    p = data.draw(st.sampled_from(model.profiles))
    geo = geometry(model)
    occ = data.draw(st.integers(0, (1 << geo.positions) - 1))
    count = data.draw(st.integers(0, p.max_count))
    t = mig_tables([model])
    starts, n = t.starts[0, p.index], int(t.num_starts[0, p.index])
    assert scoring.max_fit(occ, p.size, starts, n, p.max_count - count) == geo.fit_count(p, occ, count)
    assert scoring.first_free_start(occ, p.size, starts, n) == geo.first_free_start(p, occ)


def _frag_by_definition(free, whole_only, cpu, model, tp):  # type: ignore[no-untyped-def]
    total = 0.0
    for c, milli, num, spec, w in tp:
        usable = [f >= milli and (milli >= 1000 or not wo) for f, wo in zip(free, whole_only, strict=True)]
        runs = milli > 0 and (spec == 0 or (spec >> model) & 1) and sum(usable) >= num and cpu >= c
        total += w * (sum(f for f, u in zip(free, usable, strict=True) if not u) if runs else sum(free))
    return total


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_frag_of_is_fgd_fragmentation(data) -> None:  # type: ignore[no-untyped-def]
    """Tests FGD's node fragmentation (the one the online kernels and the replay share) against §5.7."""
    ng = data.draw(st.integers(0, 8))
    free = data.draw(st.lists(st.integers(0, 1000), min_size=ng, max_size=ng))
    whole_only = data.draw(st.lists(st.booleans(), min_size=ng, max_size=ng))
    cpu = data.draw(st.integers(0, 64000))
    model = data.draw(st.integers(0, 3))
    tp = data.draw(st.lists(st.tuples(st.integers(0, 32000), st.sampled_from([0, 100, 250, 500, 1000]),
                                      st.integers(1, 4), st.integers(0, 15), st.floats(0, 1)), min_size=1, max_size=5))
    cols = list(zip(*tp, strict=True))
    got = scoring.frag_of(np.array(free + [0], np.int64), np.array(whole_only + [False]), ng, cpu, model,
                          np.array(cols[0], np.int64), np.array(cols[1], np.int64), np.array(cols[2], np.int64),
                          np.array(cols[3], np.int64), np.array(cols[4], np.float64))
    assert got == pytest.approx(_frag_by_definition(free, whole_only, cpu, model, tp), abs=1e-6)


def test_sigmoid_score() -> None:
    """Tests FGD's ⌊100·σ(Δ/1000)⌋ at a few points."""
    assert [scoring.sigmoid_score(d) for d in (-1e9, 0.0, 1000.0, 1e9)] == [0, 50, 73, 100]


def test_registry_one_code_per_name_and_engine_aliases() -> None:
    """Tests that every policy has its own code and each engine's names resolve to one it runs."""
    assert len({p.code for p in REGISTRY.values()}) == len(REGISTRY)
    for engine in ENGINES:
        for alias, name in ALIASES[engine].items():
            assert resolve(alias, engine).name == name and engine in REGISTRY[name].engines
    assert resolve("packer", "replay").name == "packer-openb"
    assert resolve("packer", "replay-mig").name == "packer-mig"
    assert resolve("packer", "online").name == "packer"
    with pytest.raises(ValueError, match="unknown policy"):
        resolve("packer-openb", "online")
