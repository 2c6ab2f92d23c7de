"""Waiting whole-GPU requests that no plan of a running cluster can place: a fixing for the repack LP.

Every running request stays placed in every plan (SPEC: running requests are never dropped), and each of
its whole-GPU units holds one GPU in ``full`` mode. A GPU can be in ``full`` mode only if it is a
``full`` GPU or an ``any`` GPU (modes are otherwise fixed). So whatever moves, waiting whole-GPU work gets
at most F = (``full`` and ``any`` GPUs) − (whole-GPU units of running requests; of a movable one, at
most its ``need_count``) GPUs, and a waiting
whole-GPU request of which even its fewest units (``need_count``) exceed F is placed by no plan.

The repack LP (``reopt.repack_model``: the stays LP and the repack LP, the re-optimizer's bounds) does not
know this: it places such a gang fractionally. On haein-100 F = 47 (492 − 445), and the stays LP places
0.63 of a 64-GPU pod gang of priority 2 (80.5 of its 1,251.2; bench/RESULTS_reopt.md "Session 18"); on
haein-5 F = 36 against a 64-GPU gang of priority 1.5. Fixing such requests' placed count at 0 keeps the
LP a valid bound (no plan places them) and takes that value out of it.
"""

from __future__ import annotations

from packer.model import Instance

#: Fix the placed count of the unplaceable whole-GPU requests (:func:`unplaceable`) at 0 in the repack
#: model. False: the LP as before (the A/B arm).
FIX = True


def free_whole_gpus(inst: Instance) -> int:
    """F (module doc): GPUs that may be in ``full`` mode less the whole-GPU units of running requests."""
    can = sum(1 for n in inst.nodes for g in range(n.num_gpus) if n.gpu_mode(g) in ("full", "any"))
    # a movable running request keeps at least its fewest units wherever it goes (min_count), a pinned one all
    held = sum(len(r.placement) if not r.movable else min(len(r.placement), r.need_count)
               for r in inst.requests if r.placement is not None and r.kind == "gpu")
    return can - held


def unplaceable(inst: Instance) -> frozenset[str]:
    """Ids of the waiting whole-GPU requests whose fewest units exceed :func:`free_whole_gpus`."""
    free = free_whole_gpus(inst)
    return frozenset(r.id for r in inst.requests if r.placement is None and r.kind == "gpu" and r.need_count > free)
