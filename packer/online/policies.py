"""Placement policies: the registry (name → kernel code) and the per-model MIG tables they score with.

A MIG GPU's state is a mask of occupied memory positions. For each GPU model, profile and mask the
tables hold the start the policy would choose (``gstart``, −1 when the profile has no free legal
start) and its GPU-level score (``gscore``, lower is better), so that inside the kernels a MIG fit
test and its score are one lookup. Tables exist for models with at most :data:`MAX_POSITIONS`
memory positions (every model of the built-in catalog has 4 to 12).

The ``packer`` policy scores a MIG start by the *placement potential* it destroys: the potential of
a mask is Σ over the target workload's base profiles q of w_q × (how many more q instances fit in
the free positions, slot exact), with w_q = demand share of q × its size. The start that keeps the
most valuable future placements possible is the one that loses the least potential.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from packer.catalog import GpuModel
from packer.geometry import geometry
from packer.model import Instance

#: Largest number of memory positions a MIG model may have for the online placer's tables.
MAX_POSITIONS = 12

#: FGD's MIG table score is its fragmentation change times this (a power of two), floored.
FGD_SCALE = 1024.0


#: The engines a policy can run on: the online placer (:class:`packer.online.OnlinePlacer`, also
#: ``packer solve --solver online`` and ``packer replay --engine placer``), the openb replay's
#: fractional kernels (``packer replay``, :mod:`packer.replay.engine`) and its MIG variant
#: (:mod:`packer.replay.engine.mig_kernels`).
ONLINE, REPLAY, REPLAY_MIG = "online", "replay", "replay-mig"
ENGINES = (ONLINE, REPLAY, REPLAY_MIG)

# Kernel codes: one code space for every engine (the kernels compare with these names only).
(PACKER, FIRST_FIT, BEST_FIT, FGD, RANDOM, DOTPRODUCT, GPUPACKING, GPUCLUSTERING, PACKER_OPENB,
 PACKER_MIG) = range(10)


@dataclass(frozen=True)
class PolicyInfo:
    """One placement policy: its code inside the kernels, what it does, and the engines that run it."""

    name: str
    code: int
    summary: str
    engines: tuple[str, ...] = (ONLINE,)


_POLICY_LIST = [
    PolicyInfo("packer", PACKER, "packer's own: least lost MIG placement potential, tightest GPU/node, tightest gang domain"),
    PolicyInfo("first-fit", FIRST_FIT, "the first node, GPU and start that fit", ENGINES),
    PolicyInfo("best-fit", BEST_FIT, "traces README §5.8 BestFit: node left with the least free CPU and idle GPU", ENGINES),
    PolicyInfo("fgd", FGD, "traces README §5.9 fragmentation gradient descent over the target workload", ENGINES),
    PolicyInfo("random", RANDOM, "traces README §5.8 Random: a uniformly random feasible node and device", (ONLINE, REPLAY)),
    PolicyInfo("dotproduct", DOTPRODUCT, "traces README §5.8 DotProd: smallest dot product of free and requested",
               (ONLINE, REPLAY)),
    PolicyInfo("gpupacking", GPUPACKING, "traces README §5.8 GpuPacking: shared device, then used node, then small node",
               (ONLINE, REPLAY)),
    PolicyInfo("gpuclustering", GPUCLUSTERING, "traces README §5.8 GpuClustering: nodes hosting pods of the same tag",
               (ONLINE, REPLAY)),
    PolicyInfo("packer-openb", PACKER_OPENB, "the openb replay's own: FGD's score, ties by the tightest device "
               "and the node's CPU balance against its idle GPUs (packer.replay.policy)", (REPLAY,)),
    PolicyInfo("packer-mig", PACKER_MIG, "the MIG replay's own: the start that loses the least weighted "
               "placement potential of the typical pods (slot exact)", (REPLAY_MIG,)),
]

#: Every policy of every engine, by its one name.
REGISTRY: dict[str, PolicyInfo] = {p.name: p for p in _POLICY_LIST}

#: name → PolicyInfo, for every policy the online placer knows.
POLICIES: dict[str, PolicyInfo] = {p.name: p for p in _POLICY_LIST if ONLINE in p.engines}

#: The names users type on each engine's command line that are not registry names: the replay's
#: FGD-style names, and ``packer`` meaning each engine's own policy.
ALIASES: dict[str, dict[str, str]] = {
    ONLINE: {"firstfit": "first-fit", "bestfit": "best-fit"},
    REPLAY: {"firstfit": "first-fit", "bestfit": "best-fit", "packer": "packer-openb"},
    REPLAY_MIG: {"firstfit": "first-fit", "bestfit": "best-fit", "packer": "packer-mig"},
}


def resolve(name: str, engine: str = ONLINE) -> PolicyInfo:
    """The policy ``name`` means on ``engine`` (a registry name or one of that engine's aliases);
    ValueError names the choices."""
    info = REGISTRY.get(ALIASES[engine].get(name, name))
    if info is None or engine not in info.engines:
        known = sorted({*ALIASES[engine], *(p.name for p in _POLICY_LIST if engine in p.engines)})
        raise ValueError(f"unknown policy {name!r} for the {engine} engine; choose one of {known}")
    return info


def policy_code(name: str | None) -> int:
    """The kernel code of online policy ``name`` (None means ``packer``); ValueError names the choices."""
    if name is None:
        return PACKER
    info = POLICIES.get(name)
    if info is None:
        raise ValueError(f"unknown policy {name!r}; choose one of {sorted(POLICIES)}")
    return info.code


@dataclass(frozen=True)
class TargetWorkload:
    """The typical workload a policy plans for (FGD's M).

    ``shares``: (cpu_milli, gpu_milli per GPU, num_gpu, probability) of non-MIG pod shapes (gpu_milli
    1000 stands for whole GPUs); ``mig``: (compute slices, probability). Probabilities are normalised
    within each list.
    """

    shares: Sequence[tuple[float, float, float, float]] = field(default_factory=tuple)
    mig: Sequence[tuple[int, float]] = field(default_factory=tuple)

    @classmethod
    def from_instance(cls, inst: Instance, popularity_pct: float = 95.0) -> TargetWorkload:
        """Shapes of the instance's requests by popularity until ``popularity_pct`` % are covered."""
        share_shapes: Counter[tuple[float, float, float]] = Counter()
        mig_shapes: Counter[int] = Counter()
        for r in inst.requests:
            if r.kind == "host":
                continue  # no GPU: not a shape of the GPU workload
            if r.kind == "mig":
                if r.slices is not None:
                    mig_shapes[r.slices] += r.count
                else:
                    for m in inst.gpu_catalog:
                        p = m.profile(r.profile or "")
                        if p is not None:
                            mig_shapes[p.compute] += r.count
                            break
            else:
                milli = 1000 if r.kind == "gpu" else (r.gpu_milli or 0)
                share_shapes[(float(r.cpu_milli * r.count), float(milli), float(r.count))] += 1
        return cls(shares=_popular(share_shapes, popularity_pct), mig=_popular(mig_shapes, popularity_pct))


def _popular(counts: Counter, pct: float) -> tuple:  # type: ignore[type-arg]
    if not counts:
        return ()
    ranked = sorted(counts.items(), key=lambda kv: -kv[1])
    total = sum(counts.values())
    kept, covered = [], 0
    for k, c in ranked:
        kept.append((k, c))
        covered += c
        if covered * 100 >= pct * total:
            break
    z = sum(c for _, c in kept)
    out = []
    for k, c in kept:
        if isinstance(k, tuple):
            out.append((*k, c / z))
        else:
            out.append((k, c / z))
    return tuple(out)


def base_targets(model: GpuModel, target: TargetWorkload) -> list[tuple[int, float]]:
    """(profile index, probability) of the model's base profiles that serve the MIG target shapes."""
    shapes = list(target.mig)
    if not shapes:
        sizes = sorted({p.compute for p in model.profiles if p.is_base})
        shapes = [(c, 1.0 / len(sizes)) for c in sizes]
    z = sum(pr for _, pr in shapes) or 1.0
    out = []
    for c, pr in shapes:
        choices = model.profiles_for_slices(int(c))
        if choices:
            out.append((choices[0].index, pr / z))
    return out


def maxpack(starts: Sequence[int], size: int, max_count: int, mask: int) -> int:
    """How many more instances of one profile fit in the free positions of ``mask`` (slot exact).

    Kept for callers that have only starts and sizes; with a model at hand use
    :meth:`packer.geometry.Geometry.fit_count`, the one home of this rule."""
    n = 0
    occ = mask
    for s in sorted(starts):
        pm = ((1 << size) - 1) << s
        if not occ & pm:
            occ |= pm
            n += 1
            if n == max_count:
                break
    return n


def potential_weights(model: GpuModel, target: TargetWorkload) -> list[tuple[int, int]]:
    """(profile index, integer weight) of the ``packer`` potential: 1000 × demand share × size."""
    assert model.compute_slices is not None
    out = []
    for pi, pr in base_targets(model, target):
        p = model.profiles[pi]
        out.append((pi, int(round(1000 * pr * p.compute / model.compute_slices)) + 1))
    return out


def build_mig_tables(
    models: Sequence[GpuModel], policy: int, target: TargetWorkload, num_profiles: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(gstart int8 [M, P, 2^pos], gscore int64 [M, P, 2^pos], frag float64 [M, 2^pos]) for ``policy``."""
    pos_max = max([m.memory_positions or 0 for m in models if m.has_mig] or [1])
    num_masks = 1 << pos_max
    nm = max(len(models), 1)
    gstart = np.full((nm, max(num_profiles, 1), num_masks), -1, dtype=np.int8)
    gscore = np.zeros((nm, max(num_profiles, 1), num_masks), dtype=np.int64)
    frag = np.zeros((nm, num_masks), dtype=np.float64)
    for mi, model in enumerate(models):
        if not model.has_mig:
            continue
        pos = model.memory_positions or 0
        nmask = 1 << pos
        weights = potential_weights(model, target)
        targets = base_targets(model, target)
        geo = geometry(model)
        pot = np.zeros(nmask, dtype=np.int64)
        fits_any = np.zeros((len(model.profiles), nmask), dtype=bool)
        for mask in range(nmask):
            pot[mask] = sum(w * geo.fit_count(model.profiles[pi], mask) for pi, w in weights)
            for p in model.profiles:
                fits_any[p.index, mask] = geo.first_free_start(p, mask) >= 0
            idle = 1000.0 * (pos - bin(mask).count("1")) / pos
            f = 0.0
            for pi, pr in targets:
                if not fits_any[pi, mask]:
                    f += pr * idle
            frag[mi, mask] = f
        for p in model.profiles:
            for mask in range(nmask):
                best_s, best_k = -1, 0
                best_f = 0.0
                for s in sorted(p.starts):
                    pm = ((1 << p.size) - 1) << s
                    if mask & pm:
                        continue
                    after = mask | pm
                    if policy == PACKER:
                        k = int(pot[mask] - pot[after])
                        if best_s < 0 or k < best_k:
                            best_s, best_k = s, k
                    elif policy == FGD:
                        fv = float(frag[mi, after] - frag[mi, mask])
                        if best_s < 0 or fv < best_f:
                            # the score, ⌊change × FGD_SCALE⌋, is an exact lower bound of the
                            # kernels' change × FGD_SCALE (a power of two: the product is exact):
                            # the aggregates of the GPUs that hold the start bound FGD's node key
                            best_s, best_f, best_k = s, fv, math.floor(fv * FGD_SCALE)
                    elif policy in (FIRST_FIT, RANDOM):
                        if best_s < 0:
                            best_s, best_k = s, 0
                    else:  # "best" device choice: fewest free positions after, lowest start
                        if best_s < 0:
                            best_s, best_k = s, pos - bin(after).count("1")
                gstart[mi, p.index, mask] = best_s
                gscore[mi, p.index, mask] = best_k
    return gstart, gscore, frag


__all__ = [
    "ALIASES",
    "ENGINES",
    "FGD_SCALE",
    "MAX_POSITIONS",
    "POLICIES",
    "PolicyInfo",
    "TargetWorkload",
    "base_targets",
    "build_mig_tables",
    "maxpack",
    "policy_code",
    "potential_weights",
    "REGISTRY",
    "resolve",
]
