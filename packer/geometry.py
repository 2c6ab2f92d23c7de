"""MIG geometry: which instances fit on a GPU, as bit masks over memory positions.

A MIG GPU's state is a bit mask of occupied memory positions plus a count per profile. An instance of
profile P at start s occupies ``[s, s + size)``; it fits when those bits are free, ``s`` is a legal
start of P and P is below its maximum count. This module precomputes, per GPU model, the mask of
every legal (profile, start), so a fit test is one AND; it also enumerates whole-GPU layouts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from packer.catalog import GpuModel, Profile


def span_mask(start: int, size: int) -> int:
    """Bit mask of memory positions ``[start, start + size)``."""
    return ((1 << size) - 1) << start


@dataclass(frozen=True)
class Placement:
    """One legal (profile, start) of a model, with its memory mask."""

    profile: Profile
    start: int
    mask: int


class Geometry:
    """Precomputed placements of one GPU model."""

    def __init__(self, model: GpuModel) -> None:
        if not model.has_mig:
            raise ValueError(f"{model.name} has no MIG profiles")
        assert model.memory_positions is not None
        self.model = model
        self.positions = model.memory_positions
        self.full_mask = (1 << self.positions) - 1
        self.placements: tuple[Placement, ...] = tuple(
            Placement(p, s, span_mask(s, p.size)) for p in model.profiles for s in p.starts
        )
        self.by_profile: dict[str, tuple[Placement, ...]] = {
            p.name: tuple(sorted((pl for pl in self.placements if pl.profile is p), key=lambda pl: pl.start))
            for p in model.profiles
        }

    def fits(self, profile: Profile, start: int, occupied: int, count: int) -> bool:
        """True when one more ``profile`` instance fits at ``start``."""
        if count >= profile.max_count or start not in profile.starts:
            return False
        return not (occupied & span_mask(start, profile.size))

    def free_positions(self, occupied: int) -> int:
        """Memory positions not in ``occupied``."""
        return self.positions - bin(occupied & self.full_mask).count("1")

    def first_free_start(self, profile: Profile | str, occupied: int, count: int = 0) -> int:
        """The lowest start where one more ``profile`` instance fits now, or -1."""
        p = self.model.profile(profile) if isinstance(profile, str) else profile
        if p is None or count >= p.max_count:
            return -1
        for pl in self.by_profile[p.name]:
            if not (occupied & pl.mask):
                return pl.start
        return -1

    def fit_count(self, profile: Profile | str, occupied: int, count: int = 0) -> int:
        """How many more ``profile`` instances fit on a GPU whose occupied positions are ``occupied``.

        ``count`` instances of the profile are there already (its ``max_count`` caps the total).
        Placing each at its lowest free legal start is optimal: all instances of one profile span
        the same number of positions, so the earliest-ending choice never blocks a better packing.
        """
        p = self.model.profile(profile) if isinstance(profile, str) else profile
        if p is None:
            return 0
        return _pack(self.by_profile[p.name], occupied, p.max_count - count)

    def free_starts(self, profile: Profile | str, occupied: int, count: int = 0) -> list[int]:
        """Starts where one more ``profile`` instance fits now, given occupied positions and its count."""
        p = self.model.profile(profile) if isinstance(profile, str) else profile
        if p is None or count >= p.max_count:
            return []
        return [pl.start for pl in self.by_profile[p.name] if not (occupied & pl.mask)]

    def layouts(
        self, profiles: Iterable[str] | None = None, *, maximal: bool = False
    ) -> list[tuple[tuple[str, int], ...]]:
        """Every valid non-empty layout (sorted (profile, start) tuples) using only ``profiles``.

        With ``maximal``, only layouts to which no allowed instance can be added.
        """
        names = set(profiles) if profiles is not None else {p.name for p in self.model.profiles}
        cands = [pl for pl in self.placements if pl.profile.name in names]
        out: list[tuple[tuple[str, int], ...]] = []

        def rec(i: int, occ: int, counts: dict[str, int], chosen: list[Placement]) -> None:
            if i == len(cands):
                if not chosen:
                    return
                if maximal and any(
                    not (occ & pl.mask) and counts.get(pl.profile.name, 0) < pl.profile.max_count
                    for pl in cands
                ):
                    return
                out.append(tuple(sorted((pl.profile.name, pl.start) for pl in chosen)))
                return
            rec(i + 1, occ, counts, chosen)
            pl = cands[i]
            c = counts.get(pl.profile.name, 0)
            if not (occ & pl.mask) and c < pl.profile.max_count:
                counts[pl.profile.name] = c + 1
                chosen.append(pl)
                rec(i + 1, occ | pl.mask, counts, chosen)
                chosen.pop()
                counts[pl.profile.name] = c

        rec(0, 0, {}, [])
        return sorted(set(out))

    def geometries(
        self, profiles: Iterable[str] | None = None, *, maximal: bool = False
    ) -> list[tuple[tuple[str, int], ...]]:
        """Distinct valid profile multisets (sorted (profile, count) tuples), as FACTS §2.1 counts them.

        With ``maximal``, only multisets that no other valid multiset strictly contains.
        """
        sets = {
            tuple(sorted(Counter(name for name, _ in layout).items()))
            for layout in self.layouts(profiles)
        }
        if not maximal:
            return sorted(sets)

        def contains(big: tuple[tuple[str, int], ...], small: tuple[tuple[str, int], ...]) -> bool:
            b = dict(big)
            return big != small and all(b.get(k, 0) >= v for k, v in small)

        return sorted(m for m in sets if not any(contains(o, m) for o in sets))

    def occupancy(self, instances: Sequence[tuple[str, int]]) -> tuple[int, dict[str, int]]:
        """The (mask, counts) of a list of (profile, start); raises ValueError when it is not valid."""
        occ = 0
        counts: dict[str, int] = {}
        for name, start in instances:
            p = self.model.profile(name)
            if p is None:
                raise ValueError(f"{self.model.name} has no profile {name!r}")
            if not self.fits(p, start, occ, counts.get(name, 0)):
                raise ValueError(f"{name}@{start} does not fit")
            occ |= span_mask(start, p.size)
            counts[name] = counts.get(name, 0) + 1
        return occ, counts


def _pack(placements: Sequence[Placement], occupied: int, room: int) -> int:
    """Instances placed at the lowest free start, one after another, until ``room`` or no start is left."""
    n = 0
    for pl in placements:
        if n >= room:
            break
        if not (occupied & pl.mask):
            occupied |= pl.mask
            n += 1
    return n


@lru_cache(maxsize=256)
def _geometry(model: GpuModel) -> Geometry:
    return Geometry(model)


def geometry(model: GpuModel) -> Geometry:
    """The (cached) geometry of a MIG-capable model."""
    return _geometry(model)


@dataclass(frozen=True)
class MigTables:
    """Per-model MIG tables as NumPy arrays, for kernels that cannot hold Python objects (numba).

    Models are indexed as in the ``models`` sequence given to :func:`mig_tables`; profiles by their
    catalog index (``Profile.index``); a model without MIG has ``positions`` 0 and no profiles.
    ``M`` models, ``P`` the most profiles of any model, ``S`` the most legal starts of any profile,
    ``2^K`` masks where ``K`` is the most memory positions of any model. Padding is -1 for starts,
    0 for sizes, counts, masks and fits.
    """

    #: int64 [M]: memory positions of each model (the mask width).
    positions: np.ndarray
    #: int64 [M]: compute slices of each model (0 without MIG).
    compute_slices: np.ndarray
    #: int64 [M]: profiles of each model.
    num_profiles: np.ndarray
    #: int64 [M, P]: memory positions one instance of the profile spans.
    size: np.ndarray
    #: int64 [M, P]: compute slices of the profile.
    compute: np.ndarray
    #: int64 [M, P]: the most instances of the profile on one GPU.
    max_count: np.ndarray
    #: int64 [M, P]: legal starts of the profile.
    num_starts: np.ndarray
    #: int64 [M, P, S]: legal starts, ascending, -1 padded.
    starts: np.ndarray
    #: int64 [M, P, S]: bit mask of the positions an instance at that start occupies, 0 padded.
    start_mask: np.ndarray
    #: int64 [M, P, 2^K]: lowest legal start where one instance fits on a GPU with that occupied mask,
    #: or -1 (the profile's count limit is not applied: the caller knows the count).
    first_start: np.ndarray
    #: int64 [M, P, 2^K]: how many instances fit on a GPU with that occupied mask, ignoring the
    #: count limit (cap with ``max_count - count`` as :meth:`Geometry.fit_count` does).
    fit: np.ndarray


def mig_tables(models: Sequence[GpuModel]) -> MigTables:
    """The :class:`MigTables` of ``models`` (in that order)."""
    nm = max(len(models), 1)
    migs = [m for m in models if m.has_mig]
    np_ = max([len(m.profiles) for m in migs] or [1])
    ns = max([len(p.starts) for m in migs for p in m.profiles] or [1])
    nk = 1 << max([m.memory_positions or 0 for m in migs] or [0])
    i64 = np.int64
    t = MigTables(
        positions=np.zeros(nm, i64), compute_slices=np.zeros(nm, i64), num_profiles=np.zeros(nm, i64),
        size=np.zeros((nm, np_), i64), compute=np.zeros((nm, np_), i64), max_count=np.zeros((nm, np_), i64),
        num_starts=np.zeros((nm, np_), i64), starts=np.full((nm, np_, ns), -1, i64),
        start_mask=np.zeros((nm, np_, ns), i64), first_start=np.full((nm, np_, nk), -1, i64),
        fit=np.zeros((nm, np_, nk), i64),
    )
    for mi, model in enumerate(models):
        if not model.has_mig:
            continue
        geo = geometry(model)
        t.positions[mi] = geo.positions
        t.compute_slices[mi] = model.compute_slices or 0
        t.num_profiles[mi] = len(model.profiles)
        for p in model.profiles:
            pls = geo.by_profile[p.name]
            t.size[mi, p.index] = p.size
            t.compute[mi, p.index] = p.compute
            t.max_count[mi, p.index] = p.max_count
            t.num_starts[mi, p.index] = len(pls)
            for k, pl in enumerate(pls):
                t.starts[mi, p.index, k] = pl.start
                t.start_mask[mi, p.index, k] = pl.mask
            for occ in range(1 << geo.positions):
                t.first_start[mi, p.index, occ] = geo.first_free_start(p, occ)
                t.fit[mi, p.index, occ] = _pack(pls, occ, len(pls))
    return t


def base_profile_names(model: GpuModel) -> list[str]:
    """The base profiles of a model, one per compute size (the one with the most instances).

    This is the "A100 base" set of FACTS §2.1: 1g (the 1-position one), 2g, 3g, 4g, 7g.
    """
    best: dict[int, Profile] = {}
    for p in model.profiles:
        if not p.is_base:
            continue
        cur = best.get(p.compute)
        if cur is None or (p.max_count, -p.size) > (cur.max_count, -cur.size):
            best[p.compute] = p
    return [best[c].name for c in sorted(best)]


__all__ = ["Geometry", "MigTables", "Placement", "base_profile_names", "geometry", "mig_tables", "span_mask"]
