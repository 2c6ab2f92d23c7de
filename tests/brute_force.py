"""An obviously correct exhaustive enumerator for tiny instances: the reference the CP-SAT model must match.

Every request gets every candidate placement (unplaced, or every combination of unit slots of every
allowed size), and a depth-first search over requests keeps a plain per-GPU state and rejects any
combination that breaks a rule. It shares no code with :mod:`packer.cpsat`; only the data model and
the catalog's raw numbers come from packer. Exponential: keep instances to a few GPUs and units.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from dataclasses import dataclass, field

from packer.model import Instance, Request, Unit

MILLI = 1000
KIND_MODE = {"mig": "mig", "gpu": "full", "share": "shared"}


class TooBig(Exception):
    """The instance has too many candidate placements to enumerate."""


@dataclass
class _Gpu:
    mode: str | None = None  # mode taken by its units (None: unused)
    used: set[int] = field(default_factory=set)  # memory positions
    counts: dict[str, int] = field(default_factory=dict)
    milli: int = 0
    whole: bool = False
    tenants: list[str] = field(default_factory=list)


def _size(inst: Instance, r: Request, u: Unit) -> float:
    if r.kind == "host":
        return 0.0
    if r.kind == "gpu":
        return 1.0
    if r.kind == "share":
        return (r.gpu_milli or 0) / MILLI
    model = inst.gpu_catalog[inst.node(u.node).gpu_model or ""]
    p = model.profile(u.profile or "")
    assert p is not None and model.compute_slices
    return p.spec.compute / model.compute_slices


def _slots(inst: Instance, r: Request) -> list[Unit]:
    """Every single-unit placement of ``r`` on a GPU whose configured mode and model allow it."""
    if r.kind == "host":
        return [Unit(node=n.id) for n in inst.nodes]  # CPU and memory only, on any node
    out = []
    allowed = None if r.gpu_models is None else {inst.gpu_catalog.canonical(m) for m in r.gpu_models}
    for n in inst.nodes:
        if n.num_gpus == 0:
            continue
        model = inst.gpu_catalog[n.gpu_model or ""]
        if allowed is not None and model.name not in allowed:
            continue
        for g in range(n.num_gpus):
            if n.gpu_mode(g) not in (KIND_MODE[r.kind], "any"):
                continue
            if r.kind == "gpu":
                out.append(Unit(node=n.id, gpu=g))
            elif r.kind == "share":
                out.append(Unit(node=n.id, gpu=g, gpu_milli=r.gpu_milli))
            else:
                for p in inst.profile_choices(r, model):
                    for s in p.starts:
                        out.append(Unit(node=n.id, gpu=g, profile=p.name, start=s))
    return out


def _domain(inst: Instance, u: Unit, level: str) -> str:
    if level == "gpu":
        return f"{u.node}/{u.gpu}"
    return inst.domain(inst.node(u.node), level)


def _request_ok(inst: Instance, r: Request, units: tuple[Unit, ...]) -> bool:
    """Rules that concern one request alone: required locality and spread."""
    if r.locality is not None and r.locality.required:
        if len({_domain(inst, u, r.locality.level) for u in units}) > 1:
            return False
    if r.spread is not None:
        per: dict[str, int] = defaultdict(int)
        for u in units:
            per[_domain(inst, u, r.spread.level)] += 1
        if any(v > r.spread.max_per_domain for v in per.values()):
            return False
    return True


def candidates(inst: Instance, r: Request, limit: int) -> list[tuple[Unit, ...] | None]:
    """Every placement of ``r`` (None = unplaced) that passes its own rules."""
    if r.placement is not None and not r.movable:
        return [tuple(r.placement)]
    out: list[tuple[Unit, ...] | None] = [] if r.placement is not None else [None]
    slots = _slots(inst, r)
    for k in range(r.need_count, r.count + 1):
        many = r.kind in ("share", "host")  # several units may share one GPU / one node
        combos = itertools.combinations_with_replacement(slots, k) if many else itertools.combinations(slots, k)
        for units in combos:
            if _request_ok(inst, r, units):
                out.append(units)
                if len(out) > limit:
                    raise TooBig(r.id)
    if r.placement is not None and not any(
        c is not None and sorted(u.key() for u in c) == sorted(u.key() for u in r.placement) for c in out
    ):
        out.append(tuple(r.placement))
    return out


def _place(inst: Instance, state: dict[tuple[str, int], _Gpu], r: Request, units: tuple[Unit, ...]) -> bool:
    """Adds units to the per-GPU state; False (state half-changed) when a GPU rule breaks."""
    if r.kind == "host":
        return True  # no GPU; CPU, memory and node isolation are global rules
    for u in units:
        g = state[(u.node, u.gpu)]
        want = KIND_MODE[r.kind]
        if g.mode is not None and g.mode != want:
            return False
        g.mode = want
        g.tenants.append(r.tenant)
        if r.kind == "gpu":
            if g.whole or g.tenants[:-1]:
                return False
            g.whole = True
        elif r.kind == "share":
            g.milli += r.gpu_milli or 0
            if g.milli > MILLI:
                return False
        else:
            model = inst.gpu_catalog[inst.node(u.node).gpu_model or ""]
            p = model.profile(u.profile or "")
            assert p is not None and u.start is not None
            span = set(range(u.start, u.start + p.spec.memory_positions_used))
            if span & g.used:
                return False
            g.used |= span
            g.counts[p.name] = g.counts.get(p.name, 0) + 1
            if g.counts[p.name] > p.spec.max_count:
                return False
        if g.whole and len(g.tenants) > 1:
            return False
    return True


def _global_ok(inst: Instance, chosen: dict[str, tuple[Unit, ...]], state: dict[tuple[str, int], _Gpu]) -> bool:
    """Rules across requests: host resources, quotas, isolation, max_migrations."""
    tm = inst.tenant_map
    cpu: dict[str, int] = defaultdict(int)
    mem: dict[str, int] = defaultdict(int)
    gpus_of: dict[str, float] = defaultdict(float)
    node_tenants: dict[str, set[str]] = defaultdict(set)
    moved = 0
    for rid, units in chosen.items():
        r = inst.request(rid)
        for u in units:
            cpu[u.node] += r.cpu_milli
            mem[u.node] += r.memory_mib
            gpus_of[r.tenant] += _size(inst, r, u)
            node_tenants[u.node].add(r.tenant)
        if r.placement is not None and sorted(u.key() for u in units) != sorted(u.key() for u in r.placement):
            moved += 1
    for n in inst.nodes:
        if n.cpu_milli is not None and cpu[n.id] > n.cpu_milli:
            return False
        if n.memory_mib is not None and mem[n.id] > n.memory_mib:
            return False
        ts = node_tenants[n.id]
        if len(ts) > 1 and any(tm[t].isolation == "node" for t in ts):
            return False
    for t, used in gpus_of.items():
        if tm[t].max_gpus is not None and used > tm[t].max_gpus + 1e-9:
            return False
    for g in state.values():
        ts = set(g.tenants)
        if len(ts) > 1 and any(tm[t].isolation == "gpu" for t in ts):
            return False
    cap = inst.objective.max_migrations
    return cap is None or moved <= cap


def objective(inst: Instance, chosen: dict[str, tuple[Unit, ...]]) -> float:
    """SPEC §4, written out again: value placed − migrations − soft-locality penalty."""
    total = 0.0
    for rid, units in chosen.items():
        r = inst.request(rid)
        size = sum(_size(inst, r, u) for u in units)
        total += r.priority * size
        if r.placement is not None and sorted(u.key() for u in units) != sorted(u.key() for u in r.placement):
            if r.migration_cost is not None:
                total -= r.migration_cost
            else:
                total -= inst.objective.migration_weight * sum(_size(inst, r, u) for u in r.placement)
        if r.locality is not None and not r.locality.required and units:
            total -= inst.objective.locality_weight * (len({_domain(inst, u, r.locality.level) for u in units}) - 1)
    return total


def brute_force(inst: Instance, *, limit: int = 20000) -> tuple[float, dict[str, tuple[Unit, ...]]]:
    """The optimal objective and one optimal placement (request id → units), by enumeration."""
    cands = [(r, candidates(inst, r, limit)) for r in inst.requests]
    best: list[object] = [float("-inf"), {}]

    def dfs(i: int, chosen: dict[str, tuple[Unit, ...]]) -> None:
        if i == len(cands):
            state = {(n.id, g): _Gpu() for n in inst.nodes for g in range(n.num_gpus)}
            for rid, units in chosen.items():
                if not _place(inst, state, inst.request(rid), units):
                    return
            if not _global_ok(inst, chosen, state):
                return
            val = objective(inst, chosen)
            if val > best[0] + 1e-9:  # type: ignore[operator]
                best[0], best[1] = val, dict(chosen)
            return
        r, options = cands[i]
        for units in options:
            if units is not None:
                chosen[r.id] = units
                if _partial_ok(inst, chosen):
                    dfs(i + 1, chosen)
                del chosen[r.id]
            else:
                dfs(i + 1, chosen)

    dfs(0, {})
    return best[0], best[1]  # type: ignore[return-value]


def _partial_ok(inst: Instance, chosen: dict[str, tuple[Unit, ...]]) -> bool:
    """Prunes the search: the units chosen so far already break a GPU or global rule."""
    state = {(n.id, g): _Gpu() for n in inst.nodes for g in range(n.num_gpus)}
    for rid, units in chosen.items():
        if not _place(inst, state, inst.request(rid), units):
            return False
    # Every global rule only gets harder as requests are added, so a broken partial choice is final.
    return _global_ok(inst, chosen, state)
