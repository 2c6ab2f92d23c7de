"""Which placements the driver picks when a tool creates MIG instances without naming a start.

mig-parted (and ``nvidia-smi mig -cgi <ids>``) call ``CreateGpuInstance`` without a placement, so the
driver chooses the start (FACTS §2 item 7). NVIDIA does not document how. This module models it with
one rule that is **inferred**, not documented:

    Put the new instance at the legal free start that removes the fewest still-possible placements
    (of every profile of the model, while below its maximum count); on a tie take the lowest start.

The rule reproduces every observation in the MIG User Guide that we have: ``-cgi 19,14,5`` on an empty
A100-40GB gives 1g.5gb@6, 2g.10gb@4, 4g.20gb@0; ``-cgi 19,19,14,9`` fails with "Insufficient
Resources" (the 3g-first known issue); ``-cgi 9,19,14,19`` gives 3g.20gb@4, 1g.5gb@0, 2g.10gb@2,
1g.5gb@1; ``-cgi 9,9`` gives 3g.20gb@4 then @0. Treat every start derived from it as a prediction to
verify with ``nvidia-smi mig -lgi`` after applying.

mig-parted's order: it flattens a GPU's ``mig-devices`` counts into a list sorted by compute slices
(largest first) and tries permutations of that list, starting with the sorted one, until every
creation succeeds (``iteratePermutationsUntilSuccess`` in ``pkg/mig/config/config.go``;
``MigConfig.Flatten`` in ``pkg/types/mig_config.go``, read at mig-parted commit 6c4d01a; the order
among profiles with equal G and C is not fixed there).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import permutations

from packer.catalog import GpuModel
from packer.geometry import Geometry, geometry, span_mask

Layout = tuple[tuple[str, int], ...]


def _canon(layout: Sequence[tuple[str, int]]) -> Layout:
    return tuple(sorted(layout, key=lambda x: (x[1], x[0])))


class DriverModel:
    """The inferred driver placement rule for one GPU model."""

    def __init__(self, model: GpuModel) -> None:
        self.model = model
        self.geo: Geometry = geometry(model)

    def _alive(self, occupied: int, counts: dict[str, int]) -> list[tuple[str, int, int]]:
        return [
            (pl.profile.name, pl.start, pl.mask)
            for pl in self.geo.placements
            if not (occupied & pl.mask) and counts.get(pl.profile.name, 0) < pl.profile.max_count
        ]

    def pick(self, profile: str, occupied: int, counts: dict[str, int]) -> int | None:
        """The start the driver is predicted to give one more ``profile`` instance, or None if it fails."""
        p = self.model.profile(profile)
        if p is None:
            raise ValueError(f"{self.model.name} has no profile {profile!r}")
        free = self.geo.free_starts(p, occupied, counts.get(profile, 0))
        if not free:
            return None
        alive = self._alive(occupied, counts)
        best: tuple[int, int] | None = None
        for s in free:
            mask = span_mask(s, p.size)
            after = dict(counts)
            after[profile] = after.get(profile, 0) + 1
            killed = sum(
                1
                for name, _st, m in alive
                if (m & mask) or after.get(name, 0) >= self.model.profile(name).max_count  # type: ignore[union-attr]
            )
            if best is None or (killed, s) < best:
                best = (killed, s)
        assert best is not None
        return best[1]

    def create(self, order: Sequence[str]) -> Layout | None:
        """Creates ``order`` one by one on an empty GPU; the predicted layout, or None on a failure."""
        occ = 0
        counts: dict[str, int] = {}
        out: list[tuple[str, int]] = []
        for name in order:
            s = self.pick(name, occ, counts)
            if s is None:
                return None
            p = self.model.profile(name)
            assert p is not None
            occ |= span_mask(s, p.size)
            counts[name] = counts.get(name, 0) + 1
            out.append((name, s))
        return _canon(out)


def migparted_flatten(model: GpuModel, counts: dict[str, int]) -> list[str]:
    """mig-parted's first creation order: largest compute first, catalog order among equals."""
    index = {p.name: i for i, p in enumerate(model.profiles)}
    names = [n for n, c in counts.items() for _ in range(c)]

    def key(n: str) -> tuple[int, int]:
        p = model.profile(n)
        return (-(p.compute if p is not None else 0), index.get(n, 99))

    return sorted(names, key=key)


def _unique_permutations(items: list[str]) -> list[tuple[str, ...]]:
    """Distinct orderings in mig-parted's swap order (the sorted one first)."""
    out: list[tuple[str, ...]] = []
    mps = list(items)

    def rec(i: int) -> None:
        if i >= len(mps):
            out.append(tuple(mps))
            return
        for j in range(i, len(mps)):
            if mps[j] not in mps[i:j]:
                mps[i], mps[j] = mps[j], mps[i]
                rec(i + 1)
                mps[i], mps[j] = mps[j], mps[i]

    rec(0)
    return out


def migparted_result(model: GpuModel, counts: dict[str, int]) -> tuple[tuple[str, ...], Layout] | None:
    """The order mig-parted ends up using for ``counts`` and the layout it predicts, or None if all fail."""
    drv = DriverModel(model)
    for order in _unique_permutations(migparted_flatten(model, counts)):
        got = drv.create(order)
        if got is not None:
            return order, got
    return None


def find_layout(model: GpuModel, counts: dict[str, int]) -> Layout | None:
    """A valid layout holding ``counts`` instances: mig-parted's predicted one, else any (by search)."""
    for name in counts:
        if model.profile(name) is None:
            return None
    res = migparted_result(model, counts)
    if res is not None:
        return res[1]
    geo = geometry(model)
    names = migparted_flatten(model, counts)

    def rec(i: int, occ: int, cnt: dict[str, int], acc: list[tuple[str, int]]) -> Layout | None:
        if i == len(names):
            return _canon(acc)
        p = model.profile(names[i])
        assert p is not None
        for s in sorted(geo.free_starts(p, occ, cnt.get(p.name, 0)), reverse=True):
            cnt[p.name] = cnt.get(p.name, 0) + 1
            acc.append((p.name, s))
            got = rec(i + 1, occ | span_mask(s, p.size), cnt, acc)
            acc.pop()
            cnt[p.name] -= 1
            if got is not None:
                return got
        return None

    return rec(0, 0, {}, [])


@dataclass(frozen=True)
class CreationOrder:
    """How to create one GPU's planned MIG instances so they land on the planned starts.

    ``order`` is a creation order that reproduces ``planned`` under the inferred driver rule (None when
    no order does: the starts then cannot be reached by count-based tools, only by an explicit
    placement through NVML ``nvmlDeviceCreateGpuInstanceWithPlacement``). ``migparted`` is the layout
    that mig-parted is predicted to produce from the counts alone.
    """

    node: str
    gpu: int
    model: str
    planned: Layout
    order: tuple[str, ...] | None
    profile_ids: tuple[int, ...] | None
    migparted: Layout | None
    migparted_matches: bool

    @property
    def reachable(self) -> bool:
        return self.order is not None

    def nvidia_smi(self) -> str | None:
        """``nvidia-smi mig -i <gpu> -cgi <ids> -C`` for the reproducing order, when IDs are known."""
        if self.profile_ids is None:
            return None
        return f"nvidia-smi mig -i {self.gpu} -cgi {','.join(str(i) for i in self.profile_ids)} -C"

    def describe(self) -> str:
        """One line for a person: what to run, and whether mig-parted alone gets there."""
        planned = " ".join(f"{n}@{s}" for n, s in self.planned)
        if not self.planned:
            return f"GPU {self.gpu}: MIG on, no instances"
        if self.migparted_matches:
            how = "mig-parted's own order reproduces these starts (inferred driver rule)"
        elif self.order is not None:
            cmd = self.nvidia_smi() or "create in order " + ",".join(self.order)
            how = f"mig-parted may choose other starts; this order reproduces them (inferred): {cmd}"
        else:
            how = (
                "no creation order reproduces these starts under the inferred driver rule; "
                "place them explicitly (NVML CreateGpuInstanceWithPlacement)"
            )
        return f"GPU {self.gpu}: {planned}: {how}"


def creation_order(model: GpuModel, node: str, gpu: int, planned: Sequence[tuple[str, int]]) -> CreationOrder:
    """Finds how to reproduce ``planned`` (profile, start) instances on an empty GPU."""
    target = _canon(planned)
    counts: dict[str, int] = {}
    for name, _ in target:
        counts[name] = counts.get(name, 0) + 1
    mp = migparted_result(model, counts) if target else ((), ())
    mp_layout = mp[1] if mp is not None else None
    order: tuple[str, ...] | None = None
    if mp is not None and mp_layout == target:
        order = mp[0]
    elif target:
        drv = DriverModel(model)
        # Creating instances in the planned order by start, then other distinct orders, smallest search first.
        names = [n for n, _ in target]
        seen: set[tuple[str, ...]] = set()
        candidates = [tuple(n for n, _ in sorted(target, key=lambda x: -x[1]))]
        candidates += [tuple(o) for o in _unique_permutations(migparted_flatten(model, counts))]
        if len(names) <= 7:
            candidates += list(permutations(names))
        for cand in candidates:
            if cand in seen:
                continue
            seen.add(cand)
            if drv.create(cand) == target:
                order = cand
                break
    ids: tuple[int, ...] | None = None
    if order is not None:
        raw = [model.profile(n).spec.id for n in order]  # type: ignore[union-attr]
        if all(i is not None for i in raw):
            ids = tuple(int(i) for i in raw)  # type: ignore[arg-type]
    return CreationOrder(
        node=node,
        gpu=gpu,
        model=model.name,
        planned=target,
        order=order,
        profile_ids=ids,
        migparted=mp_layout,
        migparted_matches=mp_layout == target,
    )


__all__ = [
    "CreationOrder",
    "DriverModel",
    "Layout",
    "creation_order",
    "find_layout",
    "migparted_flatten",
    "migparted_result",
]
