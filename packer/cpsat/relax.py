"""Merged-node relaxations: instances small enough for an LP whose optimum bounds the original.

The full model of a 16,384-GPU cluster has millions of variables; its LP does not finish in a
solve's time limit. Merging every node of one domain at ``level`` (and one GPU model) into a single
*super node* keeps what makes the LP tight on these instances (the GPUs themselves, their modes and
MIG geometry, required locality at ``level`` and coarser, quotas) and relaxes the rest:

- host CPU and memory are summed over the merged nodes, except that a request with a required
  locality that no single domain of its level can hold by its nodes' CPU and memory (each unit takes
  its own node's) is barred from the super node (the :class:`_Rooms` rule, for host resources);
- a locality finer than ``level`` becomes ``node`` (the super node) where every domain of that level
  lies inside one super node, and ``level`` otherwise; a soft one can then only cost less;
- a spread finer than ``level`` is dropped, and so is a spread or locality at level ``gpu``: it
  would keep every GPU a class of its own (:func:`packer.cpsat.data.build_data`), 16,384 classes at
  16,384 GPUs, whose model no solve's budget builds. Without them the ``adversarial`` relaxations
  bound 1340.44 against the full model's LP 1338.23 (seed 100, 1,024 GPUs), and at 16,384 GPUs they
  are built at all: 21529.51 instead of the capacity LP's 21757.60;
- node isolation becomes GPU isolation (which node isolation implies);
- running work keeps its GPUs (renumbered inside the super node), so a request that stays in the
  original stays in the relaxation.

Every plan of the original maps GPU for GPU onto a plan of the relaxation with at least its
objective, so the relaxation's optimum, and any LP bound of it, bounds the original's optimum.

The *typed* relaxation (:func:`typed_relaxation`) merges further: all domains at ``level`` with the
same make-up (the GPU modes of their nodes) become one super node, wherever they are, so a cluster of
512 racks of a few kinds becomes a few dozen super nodes. What it keeps that merging by cluster
loses is *room*: a request that must lie in one domain of ``level`` or finer may use a super node
only if one of the original domains inside it could hold the whole request on its own (its
``barred`` super nodes are those where none could). Coarser domains no longer exist, so a locality
coarser than ``level`` is dropped and every spread but ``cluster`` too.

The typed relaxation also keeps what node isolation makes of running work that cannot move: a node
that holds such work of a node-isolated tenant takes no other tenant's units, and a node that holds
another tenant's takes none of that tenant's. Domains are typed by those *owners* as well, and a
super node none of whose domains has a node a tenant could use is barred for that tenant's requests
(:func:`_owner_bars`). On the suite's ``fragmented`` clusters this is most of what the merged LP lost
against the LP on real nodes: turning node isolation into GPU isolation alone raised that LP from
1243.8 to 1348.6 (seed 100, 1,024 GPUs, every movable request freed).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable, Mapping
from dataclasses import dataclass

from packer.cpsat import data as data_mod
from packer.cpsat.data import host_units
from packer.model import MILLI_PER_GPU, Instance, Node, Request, Topology, Unit

#: Original (node, GPU) — GPU None for the node itself — to (super node, GPU) of a relaxation.
Where = dict[tuple[str, int | None], tuple[str, int | None]]


@dataclass(frozen=True)
class Relaxation:
    """A relaxed instance, where every original GPU went, and super nodes some requests may not use."""

    instance: Instance
    where: Where
    #: Request id → ids of super nodes it gets no place on (the typed relaxation's room rule).
    barred: Mapping[str, frozenset[str]]


def merge_levels(inst: Instance) -> list[str]:
    """The topology levels a relaxation can merge at, fine to coarse (``cluster`` last)."""
    return [lv for lv in inst.topology.all_levels if lv not in ("gpu", "node")]


def super_nodes(inst: Instance, level: str) -> int:
    """How many super nodes merging at ``level`` makes (without building the relaxation)."""
    return len({(inst.domain(n, level), n.gpu_model or "") for n in inst.nodes})


def typed_super_nodes(inst: Instance, level: str) -> int:
    """How many super nodes the typed relaxation at ``level`` makes."""
    return len(set(_typed_groups(inst, level, _owners(inst))))


def relaxed_instance(inst: Instance, level: str) -> Instance:
    """The merged-node relaxation of ``inst`` at ``level`` (see the module's docstring)."""
    return merged_relaxation(inst, level).instance


def merged_relaxation(inst: Instance, level: str) -> Relaxation:
    """:func:`relaxed_instance` with the map of GPUs (nothing is barred)."""
    levels = _check_level(inst, level)
    at = levels.index(level)
    kept = [lv for lv in levels[at:] if lv != "cluster"]  # ``level`` and coarser keep their domains
    groups: dict[Hashable, list[Node]] = defaultdict(list)
    for n in inst.nodes:
        groups[(tuple(inst.domain(n, lv) for lv in kept), n.gpu_model or "")].append(n)
    nodes, where, super_of = _merge(inst, groups, lambda i, ms: f"s{i}:{inst.domain(ms[0], level)}", kept)
    inside = _inside(inst, levels[1:at], super_of)

    def coarse(lv: str) -> bool:
        return lv == "gpu" or levels.index(lv) >= at

    requests: list[Request] = []
    rooms = _Rooms(inst)
    barred: dict[str, frozenset[str]] = {}
    for r in inst.requests:
        upd: dict[str, object] = _without_gpu_levels(r)
        loc = r.locality
        if loc is not None and not coarse(loc.level):
            upd["locality"] = loc.model_copy(update={"level": "node" if inside[loc.level] else level})
            if data_mod.HOST_FIT and inside[loc.level] and loc.required and r.kind != "host" and r.placement is None \
                    and (r.cpu_milli or r.memory_mib):
                # Summed over a super node, CPU and memory would let a request in that no single domain
                # of its level can hold (the room rule, here for host resources only).
                bar = rooms.barred(r, loc.level, super_of)
                if bar:
                    barred[r.id] = bar
        if r.spread is not None and not coarse(r.spread.level):
            upd["spread"] = None
        requests.append(_moved_request(r, upd, where))
    return Relaxation(_relaxed(inst, f"merged-{level}", ("node", *kept), nodes, requests), where, barred)


def typed_relaxation(inst: Instance, level: str) -> Relaxation:
    """The typed relaxation of ``inst`` at ``level`` (see the module's docstring). A required locality
    coarser than ``level`` is dropped (its domains span super nodes); session 18's room rule for it
    (``rooms_above``, block_bound.ROOMS_ABOVE) was measured, left off and removed in session 27."""
    levels = _check_level(inst, level)
    at = levels.index(level)
    owners = _owners(inst)
    groups = _typed_groups(inst, level, owners)
    nodes, where, super_of = _merge(inst, groups, lambda i, ms: f"t{i}", [])
    inside = _inside(inst, levels[1:at + 1], super_of)
    rooms = _Rooms(inst)
    requests: list[Request] = []
    barred: dict[str, frozenset[str]] = _owner_bars(inst, owners, super_of)
    for r in inst.requests:
        upd: dict[str, object] = _without_gpu_levels(r)
        loc = r.locality
        if loc is not None and loc.level not in ("gpu", "cluster"):
            if levels.index(loc.level) <= at and inside[loc.level]:
                upd["locality"] = loc.model_copy(update={"level": "node"})
                if loc.required and r.kind != "host":
                    bar = rooms.barred(r, loc.level, super_of)
                    if bar:
                        barred[r.id] = barred.get(r.id, frozenset()) | bar
            else:
                upd["locality"] = None
        if r.spread is not None and r.spread.level != "cluster":
            upd["spread"] = None
        requests.append(_moved_request(r, upd, where))
    return Relaxation(_relaxed(inst, f"typed-{level}", ("node",), nodes, requests), where, barred)


def _without_gpu_levels(r: Request) -> dict[str, object]:
    """The updates that drop ``r``'s spread and locality at level ``gpu`` (see the module's docstring)."""
    upd: dict[str, object] = {}
    if r.spread is not None and r.spread.level == "gpu":
        upd["spread"] = None
    if r.locality is not None and r.locality.level == "gpu":
        upd["locality"] = None
    return upd


def _check_level(inst: Instance, level: str) -> list[str]:
    if level not in merge_levels(inst):
        raise ValueError(f"cannot merge nodes at level {level!r}; one of {merge_levels(inst)}")
    return list(inst.topology.all_levels)


def _typed_groups(inst: Instance, level: str, owners: Mapping[str, str | None]) -> dict[Hashable, list[Node]]:
    """Nodes grouped by the make-up of their domain at ``level`` (per GPU model): the GPU modes of its
    nodes and the owners (:func:`_owners`) its nodes have."""
    pieces: dict[tuple[str, str], list[Node]] = defaultdict(list)
    for n in inst.nodes:
        pieces[(inst.domain(n, level), n.gpu_model or "")].append(n)
    groups: dict[Hashable, list[Node]] = defaultdict(list)
    for (_, model), members in pieces.items():
        kind = tuple(sorted(tuple(n.gpu_mode(g) for g in range(n.num_gpus)) for n in members))
        held = frozenset(owners.get(n.id, FREE) for n in members) if owners else frozenset()
        groups[(kind, model, held)].extend(members)
    return groups


#: Owner of a node without running work that cannot move (:func:`_owners`): any tenant may use it.
FREE = ""
#: Owner of a node whose fixed running work is not a node-isolated tenant's (or is several tenants'):
#: None, which no tenant id can be (FREE cannot either: ids are not empty).
OTHERS = None


def _owners(inst: Instance) -> dict[str, str | None]:
    """Node id → who may use the node, from its running work that cannot move, where node isolation
    decides it: the node-isolated tenant whose work it holds, or OTHERS. Nodes without such work are
    left out (FREE). Empty when no tenant is node-isolated."""
    isolated = {t.id for t in inst.tenants if t.isolation == "node"}
    if not isolated:
        return {}
    owners: dict[str, str | None] = {}
    for r in inst.requests:
        if r.placement is None or r.movable:
            continue
        tag = r.tenant if r.tenant in isolated else OTHERS
        for u in r.placement:
            owners[u.node] = tag if owners.get(u.node, tag) == tag else OTHERS
    return owners


def _owner_bars(inst: Instance, owners: Mapping[str, str | None],
                super_of: Mapping[str, str]) -> dict[str, frozenset[str]]:
    """Request id → super nodes on none of whose original nodes node isolation lets the request's tenant
    work: for a node-isolated tenant, nodes owned by anyone else; for any other tenant, nodes owned by
    a node-isolated tenant. Running work that cannot move is left out (it has no choice to bar)."""
    if not owners:
        return {}
    usable: dict[str, set[str | None]] = defaultdict(set)  # super node → owners of its nodes
    for n in inst.nodes:
        usable[super_of[n.id]].add(owners.get(n.id, FREE))
    isolated = {t.id for t in inst.tenants if t.isolation == "node"}
    bars: dict[str, frozenset[str]] = {}
    cache: dict[str | None, frozenset[str]] = {}
    for r in inst.requests:
        if r.placement is not None and not r.movable:
            continue
        who = r.tenant if r.tenant in isolated else OTHERS
        if who not in cache:
            if who == OTHERS:
                cache[who] = frozenset(s for s, held in usable.items() if held <= isolated)
            else:
                cache[who] = frozenset(s for s, held in usable.items() if not held & {FREE, who})
        if cache[who]:
            bars[r.id] = cache[who]
    return bars


def _merge(inst: Instance, groups: Mapping[Hashable, list[Node]], name, kept: list[str],  # type: ignore[no-untyped-def]
           ) -> tuple[list[Node], Where, dict[str, str]]:
    """One super node per group: every GPU with its mode, host resources summed."""
    nodes: list[Node] = []
    where: Where = {}
    super_of: dict[str, str] = {}
    for i, members in enumerate(groups.values()):
        model = members[0].gpu_model
        sid = f"{name(i, members)}:{model or 'host'}"
        modes = []
        cpu: int | None = 0
        mem: int | None = 0
        for n in members:
            super_of[n.id] = sid
            where[(n.id, None)] = (sid, None)
            for g in range(n.num_gpus):
                where[(n.id, g)] = (sid, len(modes))
                modes.append(n.gpu_mode(g))
            cpu = None if cpu is None or n.cpu_milli is None else cpu + n.cpu_milli
            mem = None if mem is None or n.memory_mib is None else mem + n.memory_mib
        nodes.append(Node(id=sid, gpu_model=model, num_gpus=len(modes), mode="full",
                          gpu_modes=tuple(modes) if modes else None, cpu_milli=cpu, memory_mib=mem,
                          domains={lv: inst.domain(members[0], lv) for lv in kept}))
    return nodes, where, super_of


def _inside(inst: Instance, levels: list[str], super_of: Mapping[str, str]) -> dict[str, bool]:
    """Per level: does every domain of that level lie inside one super node?"""
    inside: dict[str, bool] = {}
    for lv in levels:
        owner: dict[str, str] = {}
        inside[lv] = all(owner.setdefault(inst.domain(n, lv), super_of[n.id]) == super_of[n.id] for n in inst.nodes)
    return inside


def _moved_request(r: Request, upd: dict[str, object], where: Where) -> Request:
    if r.placement is not None:
        upd["placement"] = tuple(_moved(u, where[(u.node, u.gpu)]) for u in r.placement)
    return r.model_copy(update=upd) if upd else r


def _relaxed(inst: Instance, what: str, levels: tuple[str, ...], nodes: list[Node],
             requests: list[Request]) -> Instance:
    tenants = tuple(t.model_copy(update={"isolation": "gpu"}) if t.isolation == "node" else t for t in inst.tenants)
    return Instance(name=f"{inst.name}/{what}", catalog=inst.catalog, topology=Topology(levels=levels),
                    nodes=tuple(nodes), tenants=tenants, requests=tuple(requests), objective=inst.objective)


def _moved(u: Unit, to: tuple[str, int | None]) -> Unit:
    return u.model_copy(update={"node": to[0], "gpu": to[1]})


class _Rooms:
    """How many units of a request fit in a domain at most, counting every GPU of a fitting mode as free
    and each node's CPU and memory (whole) as free.

    Running work, isolation and spread are ignored, so this over-counts: a super node barred for a
    request is one where it cannot lie in any single domain of its level.
    """

    def __init__(self, inst: Instance) -> None:
        self.inst = inst
        self._cap: dict[tuple[Hashable, str], int] = {}
        self._bar: dict[tuple[Hashable, str], frozenset[str]] = {}

    def barred(self, r: Request, level: str, super_of: Mapping[str, str]) -> frozenset[str]:
        shape = (r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.gpu_models, r.need_count,
                 r.cpu_milli, r.memory_mib)
        key = (shape, level)
        if key not in self._bar:
            room: dict[str, int] = defaultdict(int)
            where: dict[str, str] = {}
            for n in self.inst.nodes:
                d = self.inst.domain(n, level)
                room[d] += self._node_cap(r, shape, n)
                where[d] = super_of[n.id]  # every domain lies in one super node (the caller checked)
            best: dict[str, int] = defaultdict(int)
            for d, k in room.items():
                best[where[d]] = max(best[where[d]], k)
            self._bar[key] = frozenset(s for s, k in best.items() if k < r.need_count)
        return self._bar[key]

    def _node_cap(self, r: Request, shape: Hashable, n: Node) -> int:
        modes = tuple(n.gpu_mode(g) for g in range(n.num_gpus))
        key = (shape, f"{n.gpu_model}/{modes}", n.cpu_milli, n.memory_mib)
        if key not in self._cap:
            gpus = sum(self._gpu_cap(r, n, m) for m in modes)
            host = host_units(n.cpu_milli, n.memory_mib, r.cpu_milli, r.memory_mib) if data_mod.HOST_FIT else gpus
            self._cap[key] = int(min(gpus, host))
        return self._cap[key]

    def _gpu_cap(self, r: Request, n: Node, mode: str) -> int:
        inst = self.inst
        if n.gpu_model is None:
            return 0
        allowed = inst.allowed_models(r)
        model = inst.gpu_catalog[n.gpu_model]
        if allowed is not None and model.name not in allowed:
            return 0
        if r.kind == "gpu":
            return 1 if mode in ("full", "any") else 0
        if r.kind == "share":
            return MILLI_PER_GPU // (r.gpu_milli or MILLI_PER_GPU) if mode in ("shared", "any") else 0
        if r.kind == "mig" and mode in ("mig", "any"):
            return max((p.max_count for p in inst.profile_choices(r, model)), default=0)
        return 0
