"""LNS neighbourhoods chosen by value: free the domains where waiting work of high value could go.

A random step frees two racks wherever they are; it reaches a waiting priority-2 gang only when it
happens to free the node that the gang could take, and it never frees a priority-1 gang spread over
four racks. A *value* step starts from what is waiting instead:

1. a request group that can still grow (unplaced or partly placed), drawn at random among the
   VALUE_TOP of highest value per GPU-equivalent (under SPEC's objective, its priority);
2. from the incumbent, per GPU class the group may use: the free GPU-equivalents plus those held by
   placed work of *lower* value per unit (a cheap estimate; MIG geometry and shapes are CP-SAT's
   business);
3. the domain at the group's locality level (node, rack, pod; the step's own level when it has none)
   whose classes could hold one request of the group that way, preferring the one with the most free
   room (least to displace), random among the best two;
4. the step's domains (its level, e.g. racks) that hold that room, the fewest that cover the need.

Then one of two flavours:

- *value*: plus the domain with the most free room for that kind of work outside the step, where
  what is displaced can go;
- *exchange*: plus every other domain of the lower-value requests that hold room in the chosen
  classes and span several domains (a gang over racks can only leave if all its racks are free),
  lowest value first, up to VALUE_MAX_DOMAINS in all.

Room is not all a waiting request needs: when its tenant's quota (``max_gpus``) has less left than
one request takes, it can only be placed if the same tenant gives up lower-value work, wherever that
sits. With QUOTA, such a step also frees the domains that hold the most of the tenant's lower-value
GPU-equivalents, until they cover what the quota lacks (within VALUE_MAX_DOMAINS), and a group whose
tenant holds too little lower-value work to make way is not drawn (no step could place it). With
NET_QUOTA, "lower value" is net of the capacity's price (the capacity LP's dual of each kind: what other
waiting work would pay for a GPU the tenant gives up), and a gang is freed whole or not at all.

The step owns the chosen group's "placed" count (in parallel steps no other step may add to it).
Everything here reads the incumbent's values with numpy; nothing builds or solves a model.
"""

from __future__ import annotations

import random
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
from ortools.sat.python import cp_model

from packer.cpsat.data import domain_of, unit_value

if TYPE_CHECKING:
    from packer.cpsat.model import CpsatModel

#: A value step draws its request group among this many of the highest value per GPU-equivalent
#: (every group whose value per unit is at least the VALUE_TOP-th best, so ties all take part).
VALUE_TOP = 8
#: A value or exchange step frees at most this many domains of the step's level.
VALUE_MAX_DOMAINS = 4
#: A value step covers the need of a request without locality with at most this many domains.
VALUE_FIT_DOMAINS = 2
#: Whether value steps free the domains of the waiting group's tenant's lower-value work when its
#: quota lacks room for one request (see the module docstring).
QUOTA = True
#: Whether "lower value" in the quota rule is the value per GPU-equivalent *net of the price of the
#: capacity it holds*: the dual of its kind's capacity row in :func:`packer.cpsat.bound.capacity_lp`
#: (1 per whole GPU where waiting whole-GPU work would refill any whole GPU given up, 0 for MIG
#: capacity nobody else wants). A quota-full tenant whose whole-GPU work of priority 1 holds GPUs that
#: other tenants' waiting priority-1 work would take at no loss can then give that work up for its own
#: waiting MIG work of the same priority on idle MIG GPUs: the exchange gains the MIG work's whole
#: value, which the plain rule (priority only) never lets a step try (training-102: 16.7 of a 1.2% gap).
#: With it, too, the tenant's work a step frees for the quota is taken a request at a time: a gang that
#: spans several domains only with all of them (off: the domains holding most of that work, so a
#: 32-GPU gang over three racks was never wholly inside a step).
NET_QUOTA = True


@dataclass
class _Waiting:
    group: int
    var: int  # index of the group's "placed" count
    top: int  # its largest value
    density: float  # value per GPU-equivalent (the priority)
    need: float  # GPU-equivalents of one request (need_count units at the smallest unit size)
    level: str | None  # required locality level, None when it has none
    classes: np.ndarray  # GPU classes the group may use
    tenant: int = -1  # index of its tenant in ValueIndex.quota (-1: none)
    net: float = 0.0  # density less its kind's capacity price (NET_QUOTA)


@dataclass
class ValueIndex:
    """What value steps read, built once per LNS run from the model's data."""

    names: list[str]
    x_index: np.ndarray  # placement variable indices
    x_class: np.ndarray  # their GPU class
    x_group: np.ndarray  # their request group
    x_ge: np.ndarray  # GPU-equivalents per unit
    x_density: np.ndarray  # value per GPU-equivalent of their group
    x_single: np.ndarray  # True when the group is a single request (it can span domains as one)
    x_tenant: np.ndarray  # their tenant (index into quota)
    x_net: np.ndarray  # their density less the capacity price of their kind (NET_QUOTA)
    class_size: np.ndarray  # GPUs per class (0 for host classes)
    class_fixed: np.ndarray  # GPU-equivalents held by running work
    class_step: np.ndarray  # the class's domain at the step level (index into names)
    waiting: list[_Waiting]
    model: CpsatModel
    #: Per tenant: max_gpus less its running work's GPU-equivalents (inf without a quota).
    quota: np.ndarray = field(default_factory=lambda: np.zeros(0))
    _at_level: dict[str, np.ndarray] = field(default_factory=dict)

    def class_domains(self, level: str) -> np.ndarray:
        """Each class's domain index at ``level`` (cached)."""
        got = self._at_level.get(level)
        if got is None:
            d = self.model.data
            ids = [domain_of(d, c, level) if not c.host else "" for c in d.classes]
            code = {name: i for i, name in enumerate(sorted(set(ids)))}
            got = np.array([code[i] for i in ids], dtype=np.int64)
            self._at_level[level] = got
        return got


def value_index(model: CpsatModel, names: list[str], class_step: dict[int, int]) -> ValueIndex | None:
    """The index for value steps; None when there is nothing a value step could start from."""
    d, v, inst = model.data, model.vars, model.inst
    proto = model.model.proto
    tid = {t.id: i for i, t in enumerate(inst.tenants)}
    for r in inst.requests:  # a tenant the instance does not list has no quota: an index of its own
        tid.setdefault(r.tenant, len(tid))
    quota = np.full(len(tid), np.inf)
    for t in inst.tenants:
        if t.max_gpus is not None:
            quota[tid[t.id]] = t.max_gpus
    for r in inst.requests:
        if r.placement is not None:
            quota[tid[r.tenant]] -= sum(inst.unit_size(r, u) for u in r.placement)
    price = _kind_prices(inst) if NET_QUOTA else {}
    rows = []
    for (gi, ci, o), var in v.x.items():
        c = d.classes[ci]
        r = d.groups[gi].req
        if c.host or r.kind == "host":
            continue
        ge = unit_value(inst, r, c.model, o)
        if ge <= 0:
            continue
        rows.append((var.index, ci, gi, ge, float(r.priority), d.groups[gi].size == 1, tid[r.tenant],
                     float(r.priority) - price.get(r.kind, 0.0)))
    if not rows:
        return None
    cols = list(zip(*rows, strict=True))
    n = len(d.classes)
    size = np.zeros(n)
    fixed = np.zeros(n)
    step = np.full(n, -1, dtype=np.int64)
    for c in d.classes:
        if c.host:
            continue
        size[c.index] = c.size
        fixed[c.index] = sum(inst.unit_size(inst.requests[ri], u) for ri, u in c.running)
        step[c.index] = class_step.get(c.node, -1)
    x_class = np.array(cols[1], dtype=np.int64)
    x_group = np.array(cols[2], dtype=np.int64)
    x_ge = np.array(cols[3])
    classes_of: dict[int, set[int]] = defaultdict(set)
    smallest: dict[int, float] = {}
    for ci, gi, ge in zip(cols[1], cols[2], cols[3], strict=True):
        classes_of[gi].add(ci)
        smallest[gi] = min(ge, smallest.get(gi, ge))
    waiting = []
    for gi, act in sorted(v.active.items()):
        if not isinstance(act, cp_model.IntVar) or gi not in classes_of:
            continue  # movable running work ("1 - stay") or nothing to place on
        r = d.groups[gi].req
        dom = proto.variables[act.index].domain
        level = r.locality.level if r.locality is not None and r.locality.required else None
        waiting.append(_Waiting(group=gi, var=act.index, top=int(dom[len(dom) - 1]), density=float(r.priority),
                                need=r.need_count * smallest[gi], level=level,
                                classes=np.array(sorted(classes_of[gi]), dtype=np.int64), tenant=tid[r.tenant],
                                net=float(r.priority) - price.get(r.kind, 0.0)))
    return ValueIndex(names=names, x_index=np.array(cols[0], dtype=np.int64), x_class=x_class, x_group=x_group,
                      x_ge=x_ge, x_density=np.array(cols[4]), x_single=np.array(cols[5], dtype=bool),
                      x_tenant=np.array(cols[6], dtype=np.int64), x_net=np.array(cols[7]), class_size=size, class_fixed=fixed,
                      class_step=step, waiting=waiting, model=model, quota=quota)


def room_cover(ix: ValueIndex, rng: random.Random, w: _Waiting, held: np.ndarray, pool: list[str],
               movable_x: np.ndarray, fit_domains: int, max_domains: int) -> tuple[list[int], np.ndarray, np.ndarray] | None:
    """Where waiting group ``w`` could fit: its classes' room (free capacity plus what the placed work
    ``movable_x`` marks holds there) in ``pool``'s step domains, covered by at most ``fit_domains`` of
    them (no required level) or ``max_domains`` within one domain of its level drawn among the two with
    the most free room. (the chosen step-domain indices, free capacity per class, the pool as a mask per
    step domain), or None. Value and tie steps (:mod:`packer.cpsat.lns_tie`) differ only in
    ``movable_x``."""
    n = len(ix.class_size)
    occupied = np.bincount(ix.x_class, weights=held, minlength=n) + ix.class_fixed
    free = np.maximum(0.0, ix.class_size - occupied)
    movable = np.bincount(ix.x_class[movable_x], weights=held[movable_x], minlength=n)
    cls = w.classes
    room = free[cls] + movable[cls]
    in_pool = np.zeros(len(ix.names), dtype=bool)
    at = {name: i for i, name in enumerate(ix.names)}
    for name in pool:
        in_pool[at[name]] = True
    ok = (ix.class_step[cls] >= 0) & in_pool[np.maximum(ix.class_step[cls], 0)]
    cls, room, cfree = cls[ok], room[ok], free[cls][ok]
    if not len(cls):
        return None
    if w.level is None:
        chosen = _cover(ix.class_step[cls], room, cfree, w.need, fit_domains, rng)
    else:
        doms = ix.class_domains(w.level)[cls]
        ids = np.unique(doms)
        total = np.bincount(doms, weights=room)[ids]
        spare = np.bincount(doms, weights=cfree)[ids]
        fits = np.flatnonzero(total >= w.need - 1e-9)
        if not len(fits):
            return None
        order = sorted(fits.tolist(), key=lambda i: (-spare[i], -total[i]))
        pick = ids[rng.choice(order[:2])]
        inside = doms == pick
        chosen = _cover(ix.class_step[cls][inside], room[inside], cfree[inside], w.need, max_domains, rng)
    if chosen is None:
        return None
    return chosen, free, in_pool


def pick_value(ix: ValueIndex, rng: random.Random, pool: list[str], base: list[int], *, exchange: bool,
               reserved: set[int] | frozenset[int] = frozenset()) -> tuple[set[str], list[int]] | None:
    """(the step-level domains a value step frees, the growth variables it owns), or None when no
    waiting group has a domain within ``pool`` where it could fit (see the module docstring)."""
    b = np.asarray(base, dtype=np.int64)
    cand = [w for w in ix.waiting if b[w.var] < w.top and w.var not in reserved]
    if not cand:
        return None
    held = b[ix.x_index] * ix.x_ge
    lack = _quota_lack(ix, held, cand) if QUOTA else None
    if lack is not None:
        cand = [w for w in cand if lack[w.group] >= 0.0]
        if not cand:
            return None
    cand.sort(key=lambda w: -w.density)  # stable: file order among equals
    cut = cand[min(len(cand), VALUE_TOP) - 1].density
    w = rng.choice([w for w in cand if w.density >= cut])
    got = room_cover(ix, rng, w, held, pool, ix.x_density < w.density, VALUE_FIT_DOMAINS, VALUE_MAX_DOMAINS)
    if got is None:
        return None
    chosen, free, in_pool = got
    out = set(chosen)
    if lack is not None and lack[w.group] > 0.0:
        _add_quota(ix, held, w, lack[w.group], in_pool, out)
    if exchange:
        _add_gangs(ix, b, w, chosen, in_pool, out)
    else:
        _add_landing(ix, free, w, in_pool, out)
    return {ix.names[i] for i in out}, [w.var]


def _kind_prices(inst) -> dict[str, float]:  # type: ignore[no-untyped-def]
    """:func:`packer.capacity.kind_prices` (the greedy reads the same prices)."""
    from packer.capacity import kind_prices

    return kind_prices(inst)


def _quota_lack(ix: ValueIndex, held: np.ndarray, cand: list[_Waiting]) -> dict[int, float]:
    """Per candidate group: the GPU-equivalents its tenant must give up for one more request (0 when
    the quota has room), or -1 when the tenant's placed work of lower value than the group's does not
    cover that (no step can place the group). Value here is the net value per GPU-equivalent
    (:data:`NET_QUOTA`; the priority when it is off)."""
    nt = len(ix.quota)
    used = np.bincount(ix.x_tenant, weights=held, minlength=nt)
    left = ix.quota - used
    levels = np.unique(ix.x_net)
    key = ix.x_tenant * len(levels) + np.searchsorted(levels, ix.x_net)
    per = np.bincount(key, weights=held, minlength=nt * len(levels)).reshape(nt, len(levels))
    below = np.zeros((nt, len(levels) + 1))
    np.cumsum(per, axis=1, out=below[:, 1:])  # below[t, j]: the tenant's work on the j lowest values
    out: dict[int, float] = {}
    for w in cand:
        short = w.need - left[w.tenant]
        if short <= 1e-9:
            out[w.group] = 0.0
            continue
        lower = below[w.tenant, np.searchsorted(levels, w.net)]
        out[w.group] = float(short) if lower >= short - 1e-9 else -1.0
    return out


def _add_quota(ix: ValueIndex, held: np.ndarray, w: _Waiting, short: float, in_pool: np.ndarray,
               out: set[int]) -> None:
    """Adds step domains in the pool that hold ``w``'s tenant's lower-value work (what the step already
    frees counts first) until giving that work up covers ``short``, within VALUE_MAX_DOMAINS.

    A single request or all-or-nothing gangs that span several domains (a gang over racks; the model
    groups identical gangs, so their units are not told apart) can only leave when all of them are in
    the step, so they are taken whole or not at all, the lowest value first; the tenant's other
    work counts domain by domain; the lowest value first, then the most GPU-equivalents."""
    mine = (ix.x_tenant == w.tenant) & (ix.x_net < w.net) & (held > 0)
    steps = ix.class_step[ix.x_class]
    ok = mine & (steps >= 0)
    give_up(ix, held, ok, short, in_pool, out, VALUE_MAX_DOMAINS, by_request=NET_QUOTA)


def give_up(ix: ValueIndex, held: np.ndarray, ok: np.ndarray, short: float, in_pool: np.ndarray, out: set[int],
            most: int, *, by_request: bool = True) -> None:
    """Adds to ``out`` the step domains that hold the placed work ``ok`` marks (a tenant's work it could
    give up) until giving it up covers ``short`` GPU-equivalents, what ``out`` already frees counting
    first, while ``out`` stays within ``most`` domains. ``by_request``: single requests and
    all-or-nothing gangs come whole (all their domains or none), the rest domain by domain, the lowest
    net value first, then the most GPU-equivalents; else only the domains by GPU-equivalents held
    (session 18's rule). Value steps (:func:`_add_quota`) and tie steps (:mod:`packer.cpsat.lns_tie`)
    differ only in which work ``ok`` marks."""
    steps = ix.class_step[ix.x_class]
    n = len(ix.names)

    def per_domain(at: np.ndarray, net: float) -> list[tuple[float, float, frozenset[int]]]:
        per = np.bincount(steps[at], weights=held[at], minlength=n)
        return [(net, -float(per[i]), frozenset([i])) for i in np.flatnonzero(per > 0).tolist()]

    items: list[tuple[float, float, frozenset[int]]] = []  # (net value, -GPU-equivalents, its domains)
    if not by_request:
        items = per_domain(ok, 0.0)
    else:
        for g in np.unique(ix.x_group[ok]).tolist():
            at = ok & (ix.x_group == g)
            net = float(ix.x_net[at][0])
            req = ix.model.data.groups[g].req
            if ix.x_single[at][0] or (req.count > 1 and req.need_count == req.count):
                items.append((net, -float(held[at].sum()), frozenset(steps[at].tolist())))
            else:
                items.extend(per_domain(at, net))
    order = sorted(items, key=lambda t: (t[0], t[1], sorted(t[2])))
    covered = 0.0
    for _, neg, doms in order:
        if doms <= out:
            covered -= neg
    for _, neg, doms in order:
        if covered >= short - 1e-9:
            return
        if doms <= out or not all(in_pool[i] for i in doms) or len(out | doms) > most:
            continue
        out |= doms
        covered -= neg


def _cover(steps: np.ndarray, room: np.ndarray, spare: np.ndarray, need: float, most: int,
           rng: random.Random) -> list[int] | None:
    """The fewest step domains (at most ``most``) whose room covers ``need``: the roomiest first,
    ties broken by free room then at random; None if ``most`` of them do not cover it."""
    ids = np.unique(steps)
    total = np.bincount(steps, weights=room)[ids]
    free = np.bincount(steps, weights=spare)[ids]
    noise = [rng.random() for _ in range(len(ids))]
    order = sorted(range(len(ids)), key=lambda i: (-total[i], -free[i], noise[i]))
    got, covered = [], 0.0
    for i in order[:most]:
        got.append(int(ids[i]))
        covered += total[i]
        if covered >= need - 1e-9:
            return got
    return None


def _add_landing(ix: ValueIndex, free: np.ndarray, w: _Waiting, in_pool: np.ndarray, out: set[int]) -> None:
    """Adds the domain in the pool, outside the step, with the most free room on classes the chosen
    group could use (displaced work of that kind can go there)."""
    if len(out) >= VALUE_MAX_DOMAINS:
        return
    steps = ix.class_step[w.classes]
    ok = steps >= 0
    per = np.bincount(steps[ok], weights=free[w.classes][ok], minlength=len(ix.names))
    best, most = -1, 0.0
    for i in np.argsort(-per, kind="stable").tolist():
        if per[i] <= most:
            break
        if in_pool[i] and i not in out:
            best = i
            break
    if best >= 0:
        out.add(best)


def _add_gangs(ix: ValueIndex, b: np.ndarray, w: _Waiting, chosen: list[int], in_pool: np.ndarray,
               out: set[int]) -> None:
    """Adds the other domains of lower-value single requests that hold units in the chosen domains'
    classes the waiting group could use, lowest value first, while the step stays within VALUE_MAX_DOMAINS."""
    placed = b[ix.x_index] > 0
    usable = np.zeros(len(ix.class_size), dtype=bool)
    usable[w.classes] = True
    step_of_x = ix.class_step[ix.x_class]
    here = placed & ix.x_single & (ix.x_density < w.density) & usable[ix.x_class] & np.isin(step_of_x, chosen)
    gangs = sorted(set(ix.x_group[here].tolist()), key=lambda g: (float(ix.x_density[ix.x_group == g][0]), g))
    for g in gangs:
        spans = set(step_of_x[placed & (ix.x_group == g)].tolist()) - out
        if not spans or len(out) + len(spans) > VALUE_MAX_DOMAINS or not all(in_pool[i] for i in spans if i >= 0):
            continue
        out |= {i for i in spans if i >= 0}
