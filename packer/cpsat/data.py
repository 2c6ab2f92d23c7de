"""Preprocessing for the CP-SAT model: GPU classes, request groups, configurations and scales.

The model never looks at single GPUs when it does not have to. Free GPUs of one node in one
configured mode are interchangeable, so they form one *class* with a multiplicity. So are GPUs of one
node and mode whose running work cannot move and has the same shape (the same MIG instances at the
same starts, the same shares, a whole-GPU unit; the same isolation pools): that work is fixed
capacity, and the class's GPUs all offer the same room. A GPU that holds work that may move is a
class of its own. A *relaxed* build (for bounds only) puts every GPU of a node and mode in one class,
running work included, and keeps only rules that hold for any split of that work over the GPUs. Identical new requests (same tenant, kind, shape, priority,
locality, spread, models, host resources, all-or-nothing) form one *group* whose placed count is an
integer instead of a Boolean per request. Both cut symmetry out of the model instead of breaking it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from functools import cache

from packer.catalog import GpuModel
from packer.geometry import geometry
from packer.model import MILLI_PER_GPU, MODE_OF_KIND, Instance, Request, Unit

#: Placement options of a unit on a class: a MIG profile name, or None for gpu/share units.
Option = str | None
#: Pool of a GPU: the tenant id of a gpu-isolated tenant that owns it, or "" for everyone else.
SHARED_POOL = ""
#: The pseudo-mode of a host class (one per node, no GPU): units of ``host`` requests go there.
HOST_MODE = "host"


@dataclass
class GpuClass:
    """Interchangeable GPUs of one node: same configured mode, and no running work, the same fixed running
    work on each GPU, or movable running work on a single GPU (a relaxed build: any work, any count)."""

    index: int
    node: int
    gpus: list[int]
    mode: str  # configured mode: mig, full, shared or any; "host" for a node's host-only class
    model: GpuModel | None  # None only for a host class
    running: list[tuple[int, Unit]] = field(default_factory=list)  # (request index, unit)

    @property
    def size(self) -> int:
        return len(self.gpus)

    @property
    def dirty(self) -> bool:
        return bool(self.running)

    @property
    def host(self) -> bool:
        """A node's host resources without a GPU: where units of ``host`` requests go."""
        return self.mode == HOST_MODE

    def modes(self) -> list[str]:
        """Concrete modes this class's GPUs may take (none for a host class)."""
        if self.host:
            return []
        if self.mode != "any":
            return [self.mode]
        assert self.model is not None
        return ["mig", "full", "shared"] if self.model.has_mig else ["full", "shared"]


@dataclass
class Group:
    """Identical requests modelled together; a running or soft-locality request is a group of one."""

    index: int
    requests: list[int]  # request indices, in file order
    req: Request  # the representative

    @property
    def size(self) -> int:
        return len(self.requests)

    @property
    def running(self) -> bool:
        return self.req.placement is not None


@dataclass
class Data:
    """Everything the CP-SAT model is built from."""

    inst: Instance
    classes: list[GpuClass]
    groups: list[Group]
    #: (group, class) → placement options (profiles for mig, [None] otherwise).
    options: dict[tuple[int, int], list[Option]]
    #: Integer scale of the objective: value × scale is an integer for the usual inputs.
    scale: int
    #: True when shares are packed exactly per GPU (every share-capable class has one GPU).
    exact_shares: bool
    #: Request index → group index.
    group_of: dict[int, int]
    #: Class pools: class index → pools it may be given to.
    pools: dict[int, list[str]]
    #: A relaxed build (see the module docstring): an upper bound's model, never converted to units.
    relaxed: bool = False
    #: Groups of movable running requests whose moves do not count against max_migrations.
    uncounted: frozenset[int] = frozenset()

    @property
    def weights(self):  # type: ignore[no-untyped-def]
        return self.inst.objective


#: Whether work with a required locality gets no place in a domain whose nodes' CPU and memory cannot hold
#: the units one of its requests needs (:func:`_host_fit`). Exact: no plan changes, only the LP tightens
#: (sharing's bound by 0.6-0.8 %, session 16); off only for A/Bs.
HOST_FIT = True


def host_units(n_cpu: int | None, n_mem: int | None, cpu: int | None, mem: int | None) -> float:
    """How many units asking ``cpu`` milli-cores and ``mem`` MiB each a node with ``n_cpu`` and ``n_mem``
    holds at most (inf where nothing is asked or the node has no limit)."""
    most = math.inf
    if cpu and n_cpu is not None:
        most = min(most, n_cpu // cpu)
    if mem and n_mem is not None:
        most = min(most, n_mem // mem)
    return most


def _host_fit(inst: Instance, groups: Sequence[Group], classes: Sequence[GpuClass],
              options: dict[tuple[int, int], list[Option]]) -> dict[tuple[int, int], list[Option]]:
    """``options`` without the places of new work with a required locality in a domain whose nodes' CPU
    and memory cannot hold the units one of its requests needs (``need_count``) at once.

    Such a request puts at least ``need_count`` units in one domain of its level, and each unit takes
    its host resources from its own node, so a domain whose nodes hold fewer (per node: its CPU over
    the unit's, and the same for memory) can never take it. The model's rows say as much of integer
    plans; its LP does not: it spreads a fraction of the request over many nodes. On ``sharing`` the
    openb trace's 8-GPU pods ask 64-120 cores per GPU (a node has 96 for its 8 GPUs), so they fit on no
    node, yet the LP placed two priority-1.5 ones in place of 16 GPUs of priority-1 work: +8.0 of
    sharing-0's 8.0 between its best plans and the LP (session 16).
    """
    if not HOST_FIT:
        return options
    nodes_of: dict[tuple[str, str], list[int]] = {}
    room: dict[tuple[object, ...], float] = {}
    out: dict[tuple[int, int], list[Option]] = {}
    for (gi, ci), opts in options.items():
        r = groups[gi].req
        loc = r.locality
        if (loc is None or not loc.required or loc.level in ("gpu", "cluster") or r.placement is not None
                or not (r.cpu_milli or r.memory_mib)):
            out[(gi, ci)] = opts
            continue
        dom = inst.domain(inst.nodes[classes[ci].node], loc.level)
        key = (loc.level, dom, r.cpu_milli, r.memory_mib)
        if key not in room:
            if not nodes_of:
                for lv in inst.topology.all_levels:
                    if lv in ("gpu", "cluster"):
                        continue
                    for ni, n in enumerate(inst.nodes):
                        nodes_of.setdefault((lv, inst.domain(n, lv)), []).append(ni)
            room[key] = sum(host_units(inst.nodes[ni].cpu_milli, inst.nodes[ni].memory_mib, r.cpu_milli,
                                       r.memory_mib) for ni in nodes_of.get((loc.level, dom), ()))
        if room[key] >= r.need_count:
            out[(gi, ci)] = opts
    return out


def _lcm(values: Sequence[int]) -> int:
    out = 1
    for v in values:
        out = out * v // math.gcd(out, v)
    return out


def _levels_at_gpu(inst: Instance) -> bool:
    return any(
        (r.locality is not None and r.locality.level == "gpu") or (r.spread is not None and r.spread.level == "gpu")
        for r in inst.requests
    )


def build_data(inst: Instance, *, aggregate: bool | None = None,
               barred: Mapping[str, AbstractSet[str]] | None = None, relaxed: bool = False,
               uncounted: AbstractSet[str] = frozenset()) -> Data:
    """Groups GPUs into classes and requests into groups; ``aggregate=False`` keeps every GPU apart.

    Aggregation is on by default; a locality or spread at level ``gpu`` needs single GPUs, so it
    turns aggregation off. ``barred`` (request id → node ids) keeps requests off nodes: a group gets
    no place on a node that every one of its requests is barred from. ``relaxed``: one class per
    node and mode, running work included (a relaxation, for bounds). ``uncounted``: ids of movable
    running requests whose moves are not counted against ``max_migrations``.
    """
    if aggregate is None:
        aggregate = True
    if _levels_at_gpu(inst):
        aggregate = False
        relaxed = False
    exact_shares = not aggregate
    cat = inst.gpu_catalog

    running_on: dict[tuple[int, int], list[tuple[int, Unit]]] = {}
    for ri, r in enumerate(inst.requests):
        for u in r.placement or ():
            running_on.setdefault((inst.node_index[u.node], u.gpu), []).append((ri, u))

    classes: list[GpuClass] = []
    for ni, n in enumerate(inst.nodes):
        if n.num_gpus == 0 or n.gpu_model is None:
            continue
        model = cat[n.gpu_model]
        free: dict[tuple[object, ...], list[int]] = {}
        for g in range(n.num_gpus):
            mode = n.gpu_mode(g)
            run = running_on.get((ni, g))
            if relaxed:
                free.setdefault((mode,), []).append(g)
            elif not aggregate or (run and any(inst.requests[ri].movable for ri, _ in run)):
                classes.append(GpuClass(len(classes), ni, [g], mode, model, list(run or [])))
            else:
                free.setdefault((mode, *_shape(inst, run or [])), []).append(g)
        for key, gpus in free.items():
            run = [(ri, u) for g in gpus for ri, u in running_on.get((ni, g), ())]
            classes.append(GpuClass(len(classes), ni, gpus, str(key[0]), model, run))

    groups, group_of = _group_requests(inst, aggregate)
    if any(gr.req.kind == "host" and (gr.req.placement is None or gr.req.movable) for gr in groups):
        # One host class per node (GPU-less nodes included): capacity is its CPU and memory only.
        for ni in range(len(inst.nodes)):
            classes.append(GpuClass(len(classes), ni, [], HOST_MODE, None))

    options: dict[tuple[int, int], list[Option]] = {}
    choice_cache: dict[tuple[int, str], list[Option]] = {}
    for gr in groups:
        r = gr.req
        off: AbstractSet[str] = frozenset()
        if barred:
            sets = [barred.get(inst.requests[ri].id, frozenset()) for ri in gr.requests]
            off = frozenset.intersection(*map(frozenset, sets))
        if r.kind == "host":
            for c in classes:
                if c.host:
                    options[(gr.index, c.index)] = [None]
            continue
        allowed = inst.allowed_models(r)
        want = MODE_OF_KIND[r.kind]
        for c in classes:
            if c.model is None or (allowed is not None and c.model.name not in allowed):
                continue
            if off and inst.nodes[c.node].id in off:
                continue
            if want not in c.modes():
                continue
            if r.kind == "mig":
                key = (gr.index, c.model.name)
                if key not in choice_cache:
                    choice_cache[key] = [p.name for p in inst.profile_choices(r, c.model)]
                opts: list[Option] = choice_cache[key]
                if not opts:
                    continue
            else:
                opts = [None]
            options[(gr.index, c.index)] = opts

    options = _host_fit(inst, groups, classes, options)

    pools: dict[int, list[str]] = {}
    tenants = inst.tenant_map
    isolated_on: dict[int, set[str]] = {}
    for (gi, ci) in options:
        t = groups[gi].req.tenant
        if tenants[t].isolation == "gpu" and not classes[ci].host:
            isolated_on.setdefault(ci, set()).add(t)
    for c in classes:
        if c.running and not relaxed and not any(inst.requests[ri].movable for ri, _ in c.running):
            # Fixed work decides the pool of its GPUs (gpu isolation: one pool per GPU).
            pools[c.index] = sorted({pool_of(inst, inst.requests[ri]) for ri, _ in c.running})
            continue
        ps = {SHARED_POOL} | isolated_on.get(c.index, set())
        for ri, _ in c.running:
            t = inst.requests[ri].tenant
            if tenants[t].isolation == "gpu":
                ps.add(t)
        pools[c.index] = sorted(ps)
    # Work of a pool a class cannot be given to has no place there.
    options = {(gi, ci): opts for (gi, ci), opts in options.items()
               if classes[ci].host or pool_of(inst, groups[gi].req) in pools[ci]}

    slices = [m.compute_slices for m in {c.model.name: c.model for c in classes if c.model}.values()
              if m.compute_slices]
    scale = _lcm([*slices, MILLI_PER_GPU]) * 1000
    host_units = sum(gr.req.count * gr.size for gr in groups if gr.req.kind == "host")
    if host_units:
        # Host units earn 1 each as a tie-break; scaling GPU values by (host units + 1) keeps that
        # tie-break below the smallest step of the GPU objective (lexicographic), if numbers stay small.
        most = sum(gr.req.priority * gr.req.count * gr.size for gr in groups if gr.req.kind != "host")
        if scale * (host_units + 1) * (most + 1) < 2**52:
            scale *= host_units + 1
    ids = set(uncounted)
    skip = frozenset(gr.index for gr in groups if gr.req.id in ids)
    return Data(inst, classes, groups, options, scale, exact_shares, group_of, pools, relaxed, skip)


def _shape(inst: Instance, run: Sequence[tuple[int, Unit]]) -> tuple[object, ...]:
    """What fixed running work on one GPU looks like to new work: (pool, kind, profile, start, milli) each."""
    return tuple(sorted(
        (pool_of(inst, inst.requests[ri]), inst.requests[ri].kind, u.profile or "", u.start or 0,
         u.gpu_milli or inst.requests[ri].gpu_milli or 0)
        for ri, u in run))


def running_milli(inst: Instance, c: GpuClass, gpu: int) -> int:
    """Milli of the running share units on ``gpu`` of class ``c`` (all of them, staying or not)."""
    return sum(u.gpu_milli or inst.requests[ri].gpu_milli or 0 for ri, u in c.running
               if u.gpu == gpu and inst.requests[ri].kind == "share")


def share_room(data: Data, c: GpuClass) -> int | None:
    """Milli free for new shares on every GPU of ``c``, the same on each: 1000 less its fixed running
    shares (an aggregated class has the same fixed work on every GPU); None where the GPUs' running work
    differs (a relaxed build) or may move."""
    if c.dirty and (data.relaxed or any(movable(data.inst.requests[ri]) for ri, _ in c.running)):
        return None
    return MILLI_PER_GPU - running_milli(data.inst, c, c.gpus[0]) if c.gpus else MILLI_PER_GPU


def _group_key(r: Request) -> tuple[object, ...] | None:
    """The identity of a request for grouping, or None when it must stay alone."""
    if r.placement is not None or r.need_count != r.count:
        return None
    if r.locality is not None and not r.locality.required:
        return None
    return (
        r.tenant, r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.count, r.priority,
        r.gpu_models, r.cpu_milli, r.memory_mib,
        None if r.locality is None else r.locality.level,
        None if r.spread is None else (r.spread.level, r.spread.max_per_domain),
    )


def _group_requests(inst: Instance, aggregate: bool) -> tuple[list[Group], dict[int, int]]:
    groups: list[Group] = []
    by_key: dict[tuple[object, ...], int] = {}
    group_of: dict[int, int] = {}
    for ri, r in enumerate(inst.requests):
        key = _group_key(r)
        if key is not None and _spread_coarser_than_locality(inst, r):
            key = None
        if key is not None and key in by_key:
            gi = by_key[key]
            groups[gi].requests.append(ri)
        else:
            gi = len(groups)
            groups.append(Group(gi, [ri], r))
            if key is not None:
                by_key[key] = gi
        group_of[ri] = gi
    return groups, group_of


def _spread_coarser_than_locality(inst: Instance, r: Request) -> bool:
    if r.locality is None or r.spread is None:
        return False
    levels = inst.topology.all_levels
    return levels.index(r.spread.level) > levels.index(r.locality.level)


@cache
def mig_configs(model: GpuModel, profiles: tuple[str, ...]) -> list[dict[str, int]]:
    """Maximal profile multisets of ``model`` over ``profiles`` (each realizable as a layout)."""
    return [dict(g) for g in geometry(model).geometries(profiles, maximal=True)]


@cache
def mig_layouts(model: GpuModel, profiles: tuple[str, ...]) -> list[tuple[tuple[str, int], ...]]:
    """Maximal layouts (profile, start) of ``model`` over ``profiles``."""
    return geometry(model).layouts(profiles, maximal=True)


@cache
def layout_of(model: GpuModel, profiles: tuple[str, ...], config: tuple[tuple[str, int], ...]) -> tuple[tuple[str, int], ...]:
    """One layout realizing the profile multiset ``config``."""
    want = dict(config)
    for lay in geometry(model).layouts(profiles):
        counts: dict[str, int] = {}
        for name, _ in lay:
            counts[name] = counts.get(name, 0) + 1
        if counts == want:
            return lay
    raise ValueError(f"no layout of {model.name} realizes {config}")


def unit_value(inst: Instance, r: Request, model: GpuModel | None, option: Option) -> float:
    """GPU-equivalents of one unit of ``r`` placed with ``option`` on a GPU of ``model``
    (:meth:`Instance.unit_size_on`, the one size definition)."""
    return inst.unit_size_on(r, model, option)


def domain_of(data: Data, c: GpuClass, level: str) -> str:
    """The domain id of class ``c`` at ``level`` (a GPU id at level ``gpu``)."""
    node = data.inst.nodes[c.node]
    if level == "gpu":
        assert c.size == 1
        return f"{node.id}/{c.gpus[0]}"
    return data.inst.domain(node, level)


def movable(r: Request) -> bool:
    return r.placement is not None and r.movable


def pool_of(inst: Instance, r: Request) -> str:
    """The pool whose GPUs may hold ``r``'s units."""
    return r.tenant if inst.tenant_map[r.tenant].isolation == "gpu" else SHARED_POOL


def scaled(value: float, scale: int) -> int:
    return int(round(value * scale))


#: Above this many share patterns a class falls back to a capacity relaxation (and first-fit packing).
MAX_SHARE_PATTERNS = 3000


@cache
def share_patterns(sizes: tuple[int, ...], room: int = MILLI_PER_GPU) -> list[dict[int, int]] | None:
    """Maximal multisets of share sizes (milli) that fit ``room`` milli of one GPU, or None when there
    are too many."""
    order = sorted(set(sizes), reverse=True)
    out: list[dict[int, int]] = []

    def rec(i: int, left: int, cur: dict[int, int]) -> bool:
        if len(out) > MAX_SHARE_PATTERNS:
            return False
        if i == len(order):
            if cur and all(s > left for s in order):
                out.append(dict(cur))
            return True
        s = order[i]
        for k in range(left // s, -1, -1):
            if k:
                cur[s] = k
            else:
                cur.pop(s, None)
            if not rec(i + 1, left - k * s, cur):
                return False
        cur.pop(s, None)
        return True

    return out if rec(0, room, {}) else None
