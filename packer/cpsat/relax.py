"""A merged-node relaxation: an instance small enough for an LP whose optimum bounds the original.

The full model of a 16,384-GPU cluster has millions of variables; its LP does not finish in a
solve's time limit. Merging every node of one domain at ``level`` (and one GPU model) into a single
*super node* keeps what makes the LP tight on these instances (the GPUs themselves, their modes and
MIG geometry, required locality at ``level`` and coarser, quotas) and relaxes the rest:

- host CPU and memory are summed over the merged nodes;
- a locality finer than ``level`` becomes ``node`` (the super node) where every domain of that level
  lies inside one super node, and ``level`` otherwise; a soft one can then only cost less;
- a spread finer than ``level`` (other than ``gpu``) is dropped;
- node isolation becomes GPU isolation (which node isolation implies);
- running work keeps its GPUs (renumbered inside the super node), so a request that stays in the
  original stays in the relaxation.

Every plan of the original maps GPU for GPU onto a plan of the relaxation with at least its
objective, so the relaxation's optimum, and any LP bound of it, bounds the original's optimum.
"""

from __future__ import annotations

from collections import defaultdict

from packer.model import Instance, Node, Request, Topology, Unit


def merge_levels(inst: Instance) -> list[str]:
    """The topology levels a relaxation can merge at, fine to coarse (``cluster`` last)."""
    return [lv for lv in inst.topology.all_levels if lv not in ("gpu", "node")]


def super_nodes(inst: Instance, level: str) -> int:
    """How many super nodes merging at ``level`` makes (without building the relaxation)."""
    return len({(inst.domain(n, level), n.gpu_model or "") for n in inst.nodes})


def relaxed_instance(inst: Instance, level: str) -> Instance:
    """The merged-node relaxation of ``inst`` at ``level`` (see the module's docstring)."""
    levels = inst.topology.all_levels
    if level not in merge_levels(inst):
        raise ValueError(f"cannot merge nodes at level {level!r}; one of {merge_levels(inst)}")
    at = levels.index(level)
    kept = [lv for lv in levels[at:] if lv != "cluster"]  # ``level`` and coarser keep their domains

    def key(n: Node) -> tuple[tuple[str, ...], str]:
        return tuple(inst.domain(n, lv) for lv in kept), n.gpu_model or ""

    groups: dict[tuple[tuple[str, ...], str], list[Node]] = defaultdict(list)
    for n in inst.nodes:
        groups[key(n)].append(n)
    nodes: list[Node] = []
    where: dict[tuple[str, int | None], tuple[str, int | None]] = {}
    super_of: dict[str, str] = {}
    for i, ((_, model), members) in enumerate(groups.items()):
        sid = f"s{i}:{inst.domain(members[0], level)}:{model or 'host'}"
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
        nodes.append(Node(id=sid, gpu_model=model or None, num_gpus=len(modes), mode="full",
                          gpu_modes=tuple(modes) if modes else None, cpu_milli=cpu, memory_mib=mem,
                          domains={lv: inst.domain(members[0], lv) for lv in kept}))

    # A finer level's domains each inside one super node: its locality can become the super node's.
    inside: dict[str, bool] = {}
    for lv in levels[1:at]:
        owner: dict[str, str] = {}
        inside[lv] = all(owner.setdefault(inst.domain(n, lv), super_of[n.id]) == super_of[n.id] for n in inst.nodes)

    def coarse(lv: str) -> bool:
        return lv == "gpu" or levels.index(lv) >= at

    requests: list[Request] = []
    for r in inst.requests:
        upd: dict[str, object] = {}
        if r.locality is not None and not coarse(r.locality.level):
            upd["locality"] = r.locality.model_copy(update={"level": "node" if inside[r.locality.level] else level})
        if r.spread is not None and not coarse(r.spread.level):
            upd["spread"] = None
        if r.placement is not None:
            upd["placement"] = tuple(_moved(u, where[(u.node, u.gpu)]) for u in r.placement)
        requests.append(r.model_copy(update=upd) if upd else r)
    tenants = tuple(t.model_copy(update={"isolation": "gpu"}) if t.isolation == "node" else t for t in inst.tenants)
    return Instance(name=f"{inst.name}/merged-{level}", catalog=inst.catalog,
                    topology=Topology(levels=("node", *kept)), nodes=tuple(nodes), tenants=tenants,
                    requests=tuple(requests), objective=inst.objective)


def _moved(u: Unit, to: tuple[str, int | None]) -> Unit:
    return u.model_copy(update={"node": to[0], "gpu": to[1]})
