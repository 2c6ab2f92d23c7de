"""MIG fit counting and the array tables of :mod:`packer.geometry`, against brute force."""

from __future__ import annotations

import functools

from hypothesis import given, settings
from hypothesis import strategies as st

from packer.catalog import Catalog, GpuModelSpec
from packer.geometry import geometry, mig_tables

MODELS = [m for m in Catalog.builtin() if m.has_mig]


def _brute_fit(starts: tuple[int, ...], size: int, room: int, occupied: int) -> int:
    """The most instances (at most ``room``) placed on pairwise disjoint free spans: every subset tried."""

    @functools.cache
    def best(i: int, occ: int) -> int:
        if i == len(starts):
            return 0
        skip = best(i + 1, occ)
        span = ((1 << size) - 1) << starts[i]
        take = 1 + best(i + 1, occ | span) if not occ & span else 0
        return max(skip, take)

    return min(room, best(0, occupied))


@st.composite
def _case(draw):  # type: ignore[no-untyped-def]
    model = draw(st.sampled_from(MODELS))
    p = draw(st.sampled_from(model.profiles))
    occ = draw(st.integers(0, (1 << model.memory_positions) - 1))
    count = draw(st.integers(0, p.max_count))
    return model, p, occ, count


@settings(max_examples=300, deadline=None)
@given(_case())
def test_fit_count_is_the_most_that_fit(case) -> None:  # type: ignore[no-untyped-def]
    model, p, occ, count = case
    geo = geometry(model)
    assert geo.fit_count(p, occ, count) == _brute_fit(p.starts, p.size, p.max_count - count, occ)
    first = geo.first_free_start(p, occ, count)
    free = [s for s in p.starts if not occ & (((1 << p.size) - 1) << s)] if count < p.max_count else []
    assert first == (min(free) if free else -1)
    assert geo.free_positions(occ) == model.memory_positions - bin(occ).count("1")


def test_fit_count_by_name_and_unknown_profile() -> None:
    model = Catalog.builtin()["H100-80GB"]
    geo = geometry(model)
    assert geo.fit_count("1g.10gb", 0) == 7
    assert geo.fit_count("3g.40gb", 0) == 2
    assert geo.fit_count("3g.40gb", 0, count=1) == 1
    assert geo.fit_count("no-such", 0) == 0


@settings(max_examples=150, deadline=None)
@given(st.data())
def test_tables_agree_with_geometry(data) -> None:  # type: ignore[no-untyped-def]
    models = list(Catalog.builtin())
    t = mig_tables(models)
    mi = data.draw(st.sampled_from([i for i, m in enumerate(models) if m.has_mig]))
    model = models[mi]
    geo = geometry(model)
    p = data.draw(st.sampled_from(model.profiles))
    occ = data.draw(st.integers(0, (1 << model.memory_positions) - 1))
    assert t.positions[mi] == model.memory_positions and t.num_profiles[mi] == len(model.profiles)
    assert t.size[mi, p.index] == p.size and t.compute[mi, p.index] == p.compute
    assert t.max_count[mi, p.index] == p.max_count
    k = t.num_starts[mi, p.index]
    assert list(t.starts[mi, p.index, :k]) == sorted(p.starts) and all(t.starts[mi, p.index, k:] == -1)
    for j in range(k):
        assert t.start_mask[mi, p.index, j] == ((1 << p.size) - 1) << int(t.starts[mi, p.index, j])
    assert t.first_start[mi, p.index, occ] == geo.first_free_start(p, occ, 0)
    assert t.fit[mi, p.index, occ] == _brute_fit(p.starts, p.size, len(p.starts), occ)
    assert min(int(t.fit[mi, p.index, occ]), p.max_count) == geo.fit_count(p, occ, 0)


def test_tables_of_a_model_without_mig_are_empty() -> None:
    plain = Catalog.builtin().merged([GpuModelSpec(name="L40S-48GB")])["L40S-48GB"]
    assert not plain.has_mig
    t = mig_tables([plain, MODELS[0]])
    assert t.positions[0] == 0 and t.num_profiles[0] == 0 and t.fit[0].sum() == 0
    assert t.positions[1] == MODELS[0].memory_positions
