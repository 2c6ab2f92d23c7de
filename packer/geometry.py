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
            p.name: tuple(pl for pl in self.placements if pl.profile is p) for p in model.profiles
        }

    def fits(self, profile: Profile, start: int, occupied: int, count: int) -> bool:
        """True when one more ``profile`` instance fits at ``start``."""
        if count >= profile.max_count or start not in profile.starts:
            return False
        return not (occupied & span_mask(start, profile.size))

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


@lru_cache(maxsize=256)
def _geometry(model: GpuModel) -> Geometry:
    return Geometry(model)


def geometry(model: GpuModel) -> Geometry:
    """The (cached) geometry of a MIG-capable model."""
    return _geometry(model)


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


__all__ = ["Geometry", "Placement", "base_profile_names", "geometry", "span_mask"]
