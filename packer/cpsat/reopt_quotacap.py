"""Waiting requests that no plan of a running cluster can fit in their tenant's quota: a cut for the
repack LP (session 19, branch reopt19).

Every running request stays placed in every plan (SPEC: running requests are never dropped), with at
least its ``need_count`` units (all of them when it may not move), and each unit takes at least the
smallest size the request can have here (``reopt._least_size``: whole GPU 1, share milli / 1000, a MIG
unit its smallest serving profile on the models it may use). A tenant's running work therefore uses at
least R(t) = Σ of those sizes of its quota in every plan, and its waiting work gets at most
room(t) = ``max_gpus`` − R(t). A waiting request needs at least its own fewest GPU-equivalents, so

- a waiting request whose fewest GPU-equivalents exceed room(t) is placed by no plan (fixed at 0), and
- of a group of identical waiting requests (the model's groups) at most ⌊room(t) / that size⌋ are placed.

The repack LP (``reopt.repack_model``: the stays and repack LPs, the re-optimizer's bounds at 1,024 GPUs)
has the tenant's quota row, but it may count the running work at its smallest and the waiting request
fractionally: on haein-5 the tenant ``research`` has 256 GPUs of quota and running work of at least 252.5,
and the LP placed 0.42 of an 8-GPU node gang of priority 2 in the 3.5 left (bench/RESULTS_reopt.md
"Session 19"). The model's own per-group quota cut (``constraints._quota_per_group``) counts only the
running work that may not move, which in a running state is none of it. Both rules here keep the LP a
valid bound: no plan is cut. No parameter (a 1e-6 margin beside the checker's 1e-9 for float sums).
"""

from __future__ import annotations

import math
import os
from collections import defaultdict

from packer.model import Instance, Request

#: Fix the quota-unplaceable waiting requests at 0 and cap each waiting group's placed count by its
#: tenant's room in the repack model. **Off**: valid, but at 1,024 GPUs it moves no report state's bound
#: (haein-5/100/101: 0; haein-2: −0.55, the only state of haein 0-5/100/101 and fragmented 0-4/100-104 where
#: it moves), and through the guide the deterministic A/B on the two tuning states where it adds rows went
#: +3.45 (haein-2) / −5.45 (haein-1) (bench/RESULTS_reopt.md "Session 19"). The environment variable
#: ``PACKER_QUOTACAP=1`` turns it on in this process and in the LP child (``reopt.LATE_LP`` spawns a fresh
#: interpreter, which sees the environment but not a flag set in the parent): the timed A/B's switch.
FIX = os.environ.get("PACKER_QUOTACAP", "0") == "1"

#: Margin on the quota comparisons (the checker allows ``max_gpus`` + 1e-9; sums of MIG sevenths carry
#: float error): a request is called unplaceable only if it exceeds the room by more than this.
MARGIN = 1e-6


def _least(inst: Instance, r: Request) -> float:
    from packer.cpsat.reopt import _least_size

    return _least_size(inst, r)


def rooms(inst: Instance) -> dict[str, float]:
    """Tenant id → its quota left for waiting work in every plan: ``max_gpus`` less its running requests'
    fewest GPU-equivalents (all units of a request that may not move). Tenants without a quota are left out."""
    held: dict[str, float] = defaultdict(float)
    for r in inst.requests:
        if r.placement is None:
            continue
        if r.movable:
            held[r.tenant] += _least(inst, r)
        else:
            held[r.tenant] += sum(inst.unit_size(r, u) for u in r.placement)
    return {t.id: t.max_gpus - held[t.id] for t in inst.tenants if t.max_gpus is not None}


def most_placed(inst: Instance, r: Request, room: dict[str, float] | None = None) -> int | None:
    """How many requests like waiting ``r`` (same tenant and fewest size) fit in its tenant's room at
    most, or None when its tenant has no quota or ``r`` takes no quota."""
    room = rooms(inst) if room is None else room
    left = room.get(r.tenant)
    need = _least(inst, r)
    if left is None or need <= 0:
        return None
    return max(0, math.floor((left + MARGIN) / need))


def unplaceable(inst: Instance) -> frozenset[str]:
    """Ids of the waiting requests whose fewest GPU-equivalents exceed their tenant's room (:func:`rooms`)."""
    room = rooms(inst)
    return frozenset(r.id for r in inst.requests if r.placement is None and most_placed(inst, r, room) == 0)


def add_caps(inst: Instance, model, freed: frozenset[str]) -> int:  # type: ignore[no-untyped-def]
    """Adds ``active[g] ≤ k + ⌊room / size⌋`` to the repack model ``model`` (of ``inst``'s repack instance)
    for every group whose waiting members (``k``: its freed running members, which the model places
    anyway) are capped below their number by their tenant's room; ``== 0`` where the group has only waiting
    members and none fits. Returns how many rows were added."""
    room = rooms(inst)
    if not room:
        return 0
    rp = model.data.inst
    added = 0
    for gr in model.data.groups:
        act = model.vars.active.get(gr.index)
        if act is None:
            continue
        ids = [rp.requests[ri].id for ri in gr.requests]
        k = sum(1 for rid in ids if rid in freed)
        waiting = [rid for rid in ids if rid not in freed and inst.request(rid).placement is None]
        if not waiting:
            continue
        most = most_placed(inst, inst.request(waiting[0]), room)
        if most is None or most >= len(waiting):
            continue
        model.model.add(act <= k + most)
        added += 1
    return added
