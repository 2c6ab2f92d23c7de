"""Tests of MIG geometry against the facts of shared/mig/FACTS.md."""

from __future__ import annotations

import pytest

from packer.catalog import Catalog
from packer.geometry import base_profile_names, geometry

CAT = Catalog.builtin()
SEVEN_SLICE = ["A100-40GB", "A100-80GB", "H100-80GB", "H100-94GB", "H200-141GB", "B200-180GB", "GB200-186GB"]


@pytest.mark.parametrize("model", SEVEN_SLICE)
def test_4g_only_at_0_and_3g_at_0_or_4(model):
    """Tests that on an empty GPU 4g starts only at 0 and 3g at 0 or 4."""
    m = CAT[model]
    geo = geometry(m)
    four = next(p for p in m.profiles if p.is_base and p.compute == 4)
    three = next(p for p in m.profiles if p.is_base and p.compute == 3)
    assert geo.free_starts(four, 0) == [0]
    assert geo.free_starts(three, 0) == [0, 4]


@pytest.mark.parametrize("model", SEVEN_SLICE)
def test_seven_1g_leave_slice_7_idle(model):
    """Tests that seven 1-position 1g instances fill 0..6 and leave memory position 7 idle."""
    m = CAT[model]
    geo = geometry(m)
    one = base_profile_names(m)[0]
    occ, counts = geo.occupancy([(one, s) for s in range(7)])
    assert occ == 0b01111111
    assert geo.free_starts(one, occ, counts[one]) == []
    # ... and position 7 is reachable only by the 2-position 1g at 6 (FACTS §2 item 3).
    two_pos_1g = next((p for p in m.profiles if p.is_base and p.compute == 1 and p.size == 2), None)
    if two_pos_1g is not None:
        occ6, _ = geo.occupancy([(one, s) for s in range(6)])
        assert geo.free_starts(two_pos_1g, occ6) == [6]


@pytest.mark.parametrize("model", SEVEN_SLICE)
def test_twelve_maximal_base_geometries(model):
    """Tests that 7-slice/8-position models have 37 base geometries, 12 of them maximal."""
    m = CAT[model]
    geo = geometry(m)
    base = base_profile_names(m)
    assert len(geo.geometries(base)) == 37
    assert len(geo.geometries(base, maximal=True)) == 12


def test_four_maximal_a30_geometries():
    """Tests that the A30 has 9 base geometries, 4 maximal (NVIDIA's blog lists those 4)."""
    m = CAT["A30-24GB"]
    geo = geometry(m)
    base = base_profile_names(m)
    assert len(geo.geometries(base)) == 9
    maximal = geo.geometries(base, maximal=True)
    assert maximal == sorted([(("4g.24gb", 1),), (("2g.12gb", 2),), (("1g.6gb", 2), ("2g.12gb", 1)), (("1g.6gb", 4),)])


def test_a100_counts_with_all_profiles():
    """Tests FACTS §2.1: A100-40GB with 1g.10gb and 1g.5gb+me has 127 geometries, 44 maximal."""
    m = CAT["A100-40GB"]
    geo = geometry(m)
    names = ["1g.5gb", "1g.5gb+me", "1g.10gb", "2g.10gb", "3g.20gb", "4g.20gb", "7g.40gb"]
    assert len(geo.geometries(names)) == 127
    assert len(geo.geometries(names, maximal=True)) == 44


def test_4g_and_3g_only_as_4g0_3g4():
    """Tests that 4g + 3g coexist only as 4g@0 + 3g@4."""
    geo = geometry(CAT["H100-80GB"])
    layouts = [lay for lay in geo.layouts(["3g.40gb", "4g.40gb"]) if len(lay) == 2 and lay[0][0] != lay[1][0]]
    assert layouts == [(("3g.40gb", 4), ("4g.40gb", 0))]


def test_max_count_blocks_media_profiles():
    """Tests that a second +me instance does not fit even where memory is free."""
    m = CAT["H100-80GB"]
    geo = geometry(m)
    occ, counts = geo.occupancy([("1g.10gb+me", 0)])
    assert geo.free_starts("1g.10gb+me", occ, counts["1g.10gb+me"]) == []
    assert geo.free_starts("1g.10gb", occ, 0) == [1, 2, 3, 4, 5, 6]


def test_rtx_pro_6000_twelve_positions():
    """Tests that RTX PRO 6000 instances sit on its 12-position axis."""
    geo = geometry(CAT["RTX-PRO-6000-96GB"])
    occ, _ = geo.occupancy([("2g.48gb", 0), ("1g.24gb", 6)])
    assert geo.free_starts("1g.24gb", occ, 1) == [9]
    assert geo.free_starts("4g.96gb", occ) == []


def test_occupancy_rejects_overlap():
    """Tests that an overlapping layout is refused."""
    geo = geometry(CAT["H100-80GB"])
    with pytest.raises(ValueError):
        geo.occupancy([("4g.40gb", 0), ("2g.20gb", 2)])
