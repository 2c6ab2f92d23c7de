"""Waiting work of one shape folded into one request of a block LP, its values kept by columns per group.

A block LP (:class:`packer.cpsat.block_bound.BlockLP`) at 16,384 GPUs offers each block every waiting
request it could serve, and every import class (movable work of other blocks): on fragmented-0's block 0,
1,035 waiting and 377 import requests in ~470 model groups (groups differ in priority; an import or
pooled request is elastic and a group of its own), each with a placement column per GPU class and
option of the block's 128 nodes (546 classes): 73 k of its 121 k columns.

A *family*: waiting requests (import requests too where FOLD_TAGS says so) of one block with the same tenant, kind, shape (profile,
slices, memory, milli), models and host resources, no locality, no spread, fewest units 1, a tenant
that is not node-isolated, a unit worth the same GPU-equivalents on every model and option of the block,
not barred from any node. Its members differ in priority and count only. The folded instance has one
elastic request per family instead (``count`` = the members' units, ``min_count`` 1, priority the
lowest member's), and :class:`BlockLP` adds, per original model group o of the family (its waiting
class or import class), a column ``z_o`` ∈ [0, its units, or fewer where its tenant's quota allows
fewer: the model's own per-group quota cut] worth the priority above the lowest per unit, and the row
Σ_o z_o = the folded request's units.

Home movable work of one unit (tag "f", its original's fewest units 1) is folded likewise, but its
members stay in the instance (the stays rows of :func:`packer.cpsat.reopt_stays.stays_form` need them),
each at the family's lowest priority, so that the model makes one group of them and sums their stays
rows per class and option; per original group o, :class:`BlockLP` adds ``z_o`` as above, the row
"Σ stays of o's members ≤ z_o" (a member that stays has its unit placed) and o's own export row
(``z_o`` + its export columns = its units) instead of the model group's.

The LP is the same as the block's own, with its placement columns summed per class and option over
the family: every row of the model that holds a family member's placement column has a coefficient
that depends on the class and option only (capacity, quota, host resources, pools: one tenant and
shape), except each group's own rows (its units in [fewest, count] × placed, and for a group of
one request units per class ≤ its bound × placed), which for fewest units 1 and no locality say no more
than 0 ≤ units of o ≤ its count, the bounds of ``z_o``; the value is Σ_o priority_o × size × units_o
(one size). Any solution of the block LP gives one of the folded LP (sum its columns); any solution of
the folded LP splits back per group: a transportation problem, supplies z_o, demands the summed
columns y_{c,o}, arc bounds min(the class's unit cap, units of o); by max-flow min-cut it is feasible
because Σ_i min(a, b_i) ≥ min(a, Σ_i b_i). So the two LP optima are equal (up to the objective's
integer rounding of a priority); tests/test_block_fold_s19.py checks it on small states, and the
bound by blocks stays valid (its hypothesis test runs the folded form).

Waiting work of a required locality, all or nothing (gangs: ``count`` units in one domain), is folded
with its members kept (one model group at the lowest priority): the group's ``within`` rows summed over
the family split back per group in proportion (x_o,c = y_c × within_o,d / W_d). One difference: the
model's per-group quota cut (``placed ≤ ⌊room / (count × size)⌋``) then holds for the family at once,
a valid cut (every plan meets the quota) that the plain LP makes per group only; so with quotas the
folded LP can be lower (haein, a 12-node state: 188.71 against 193.55 at one draw of multipliers).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field

from packer.model import Instance, Request

#: BlockLP folds each block's waiting work (see the module docstring); False: one column per group.
FOLD = True
#: Tags of the work folded: "w" waiting, "f" home movable work, "i" imports (off: folded, the import
#: classes' share duals η came out different, and the own-node bound by blocks of fragmented-0 at 1,024
#: GPUs in 4 blocks ended at 1261.07 against the plain LPs' 1252.83; without them 1251.97, session 19).
FOLD_TAGS = ("w", "f")
#: The same for merged block LPs (typed relaxations): imports folded too. There the folded imports' prices
#: did better: fragmented-0 at 16,384 GPUs, 5 rounds, 21,505.30 against the plain LPs' 21,576.93, in 28 CPU-s
#: against 54 (session 19).
FOLD_TAGS_MERGED = ("w", "i", "f")


@dataclass
class Origin:
    """One model group of the block's own LP inside a family: its waiting class (``ids``) or import class."""

    ids: tuple[str, ...]
    tag: tuple
    units: int
    priority: float
    #: A group of equal count-1 requests (the model's quota cut ``placed ≤ most`` is per request);
    #: else one elastic request (the cut bars it only where not one unit fits).
    grouped: bool
    rep: Request
    #: Home movable work (tag "f"): each member's import class and fewest units (its tag's).
    homes: list[tuple[object, int]] = field(default_factory=list)


@dataclass
class Fold:
    """A family folded into the request ``rid`` (priority ``p_min``, units of ``size`` GPU-equivalents)."""

    rid: str
    size: float
    p_min: float
    origins: list[Origin] = field(default_factory=list)
    #: Home movable work: its members stay in the instance, each at priority ``p_min`` (one model group
    #: then, the stays rows summed over it), ``rid`` the first member's id.
    home: bool = False
    #: Members kept at priority ``p_min`` (home work, and waiting work of a required locality: one
    #: model group of equal requests); else one elastic request ``rid`` replaces them.
    keep: bool = False


def _sizes(inst: Instance, r: Request) -> set[float]:
    if r.kind == "gpu":
        return {1.0}
    if r.kind == "share":
        return {inst.unit_size_on(r, None)}
    allowed = inst.allowed_models(r)
    return {p.gpu_equivalents for m in inst.cluster_models if allowed is None or m.name in allowed
            for p in inst.profile_choices(r, m)}


def family_key(inst: Instance, r: Request, tag: tuple | None,
               barred: Mapping[str, AbstractSet[str]] | None = None,
               fold_tags: tuple[str, ...] | None = None) -> tuple | None:
    """The family of ``r`` in block instance ``inst`` (tagged ``tag``), or None where it is not folded
    (``fold_tags``: the tags folded, FOLD_TAGS by default)."""
    if tag is None or tag[0] not in (FOLD_TAGS if fold_tags is None else fold_tags):
        return None
    gang = None
    if tag[0] == "f":
        # Home movable work of one unit (its original's fewest units 1); at most one per model group's key.
        if r.placement is None or not r.movable or r.count != 1 or tag[2] != 1:
            return None
    elif r.placement is not None:
        return None
    if (tag[0] == "w" and r.locality is not None and r.locality.required and r.spread is None
            and r.need_count == r.count):
        gang = (r.count, r.locality.level)  # waiting work of a required locality, all or nothing
    elif r.locality is not None or r.spread is not None or r.need_count != 1:
        return None
    if r.kind == "host":
        return None
    t = inst.tenant_map.get(r.tenant)
    if t is not None and t.isolation == "node":
        return None
    if len(_sizes(inst, r)) != 1:
        return None
    bars = frozenset(barred.get(r.id, ())) if barred else frozenset()
    return (tag[0] == "f", gang, r.tenant, r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.gpu_models,
            r.cpu_milli, r.memory_mib, bars)


def fold_instance(inst: Instance, tags: Mapping[str, tuple], barred: Mapping[str, AbstractSet[str]] | None = None,
                  fold_tags: tuple[str, ...] | None = None) -> tuple[Instance, list[Fold], dict[str, AbstractSet[str]] | None]:
    """``inst`` with each family of two or more model groups folded, the families (see the module
    docstring) and ``barred`` with each folded request barred as its members (their bars are equal).
    Requests keep their order; a folded request takes its first member's place."""
    fam: dict[tuple, list[Request]] = defaultdict(list)
    key_of: dict[str, tuple] = {}
    for r in inst.requests:
        k = family_key(inst, r, tags.get(r.id), barred, fold_tags)
        if k is not None:
            fam[k].append(r)
            key_of[r.id] = k
    folds: dict[tuple, Fold] = {}
    for k, members in fam.items():
        origins: dict[tuple, Origin] = {}
        for r in members:
            tag = tags[r.id]
            # The model's groups: equal count-1 requests (need = count) share one; an elastic one is alone.
            if tag[0] == "f" or k[1] is not None:
                ok: tuple = (tag[0], r.priority)  # members kept: the model's group key (one shape and count)
            else:
                ok = (tag[0], tag[1], r.priority, r.count) if r.need_count == r.count else ("alone", r.id)
            o = origins.get(ok)
            if o is None:
                o = origins[ok] = Origin((r.id,), tag, r.count, r.priority, r.need_count == r.count, r)
            else:
                o.ids = (*o.ids, r.id)
                o.units += r.count
            if tag[0] == "f":
                o.homes.append((tag[1], tag[2]))
        if len(origins) < 2:
            continue
        size = next(iter(_sizes(inst, members[0])))
        home = bool(k[0])
        keep = home or k[1] is not None
        folds[k] = Fold(members[0].id if keep else f"fold-{len(folds)}", size,
                        min(o.priority for o in origins.values()), list(origins.values()), home, keep)
    if not folds:
        return inst, [], barred
    bars = dict(barred) if barred else None
    out: list[Request] = []
    done: set[tuple] = set()
    for r in inst.requests:
        k = key_of.get(r.id)
        f = folds.get(k) if k is not None else None
        if f is None:
            out.append(r)
            continue
        if f.keep:
            out.append(r.model_copy(update={"priority": f.p_min}) if r.priority != f.p_min else r)
            continue
        if k in done:
            continue
        done.add(k)
        n = sum(o.units for o in f.origins)
        out.append(r.model_copy(update={"id": f.rid, "count": n, "min_count": 1, "priority": f.p_min}))
        if bars is not None and r.id in bars:
            bars[f.rid] = bars[r.id]
    return inst.replace(requests=out), list(folds.values()), bars


def quota_room(inst: Instance, tenant: str, scale: int) -> float | None:
    """The room the model's per-group quota cut sees for ``tenant`` in ``inst`` (a repack instance: its
    running work is pinned), in GPU-equivalents; None without a quota (as
    :meth:`packer.cpsat.constraints.Constraints.quota`)."""
    from packer.cpsat.data import scaled

    t = inst.tenant_map.get(tenant)
    if t is None or t.max_gpus is None:
        return None
    const = 0
    for r in inst.requests:
        if r.tenant == tenant and r.placement is not None:
            const += scaled(sum(inst.unit_size(r, u) for u in r.placement), scale)
    return (t.max_gpus * scale - const) / scale


def z_upper(o: Origin, size: float, room: float | None) -> float:
    """The upper bound of origin ``o``'s column: its units, less where the model's quota cut
    (``Constraints._quota_per_group``: placed ≤ ⌊room / (fewest units × size)⌋) is below them."""
    import math

    if room is None or size <= 0:
        return float(o.units)
    if o.grouped:  # equal requests of ``count`` units each: placed × count = units
        most = math.floor(max(0.0, room) / (o.rep.count * size) + 1e-9)
        return float(min(o.units, most * o.rep.count))
    most = math.floor(max(0.0, room) / size + 1e-9)
    return float(o.units) if most >= 1 else 0.0


__all__ = ["FOLD", "FOLD_TAGS", "FOLD_TAGS_MERGED", "Fold", "Origin", "family_key", "fold_instance", "quota_room", "z_upper"]
