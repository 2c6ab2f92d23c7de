"""Why CP-SAT left a request unplaced: the first binding rule among model, quota, isolation, host
resources, capacity, locality and spread, found from the free capacity the plan leaves; else the
objective. The wording is :mod:`packer.reasons`' (the same as every solver's)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from typing import Any

from packer import reasons
from packer.geometry import geometry, span_mask
from packer.model import MILLI_PER_GPU, MODE_OF_KIND, Instance, Request, Unit


class _Free:
    """Free capacity per GPU after a placement."""

    def __init__(self, inst: Instance, placed: Mapping[str, Sequence[Unit]], modes: Mapping[tuple[str, int], str]):
        self.inst = inst
        self.mode: dict[tuple[str, int], str] = {}
        self.mask: dict[tuple[str, int], int] = defaultdict(int)
        self.counts: dict[tuple[str, int], dict[str, int]] = defaultdict(dict)
        self.milli: dict[tuple[str, int], int] = defaultdict(int)
        self.tenants: dict[tuple[str, int], set[str]] = defaultdict(set)
        self.node_tenants: dict[str, set[str]] = defaultdict(set)
        self.cpu: dict[str, int] = defaultdict(int)
        self.mem: dict[str, int] = defaultdict(int)
        self._cache: dict[tuple[object, ...], Any] = {}
        self._models = {n.id: inst.model_of(n) for n in inst.nodes}
        self.ok_nodes: dict[tuple[object, ...], list] = {}  # type: ignore[type-arg]
        for n, g in inst.gpus():
            m = n.gpu_mode(g)
            self.mode[(n.id, g)] = modes.get((n.id, g), m) if m == "any" else m
        for rid, units in placed.items():
            r = inst.request(rid)
            for u in units:
                self.node_tenants[u.node].add(r.tenant)
                self.cpu[u.node] += r.cpu_milli
                self.mem[u.node] += r.memory_mib
                if u.gpu is None:
                    continue  # a host unit: CPU and memory only
                key = (u.node, u.gpu)
                self.tenants[key].add(r.tenant)
                if self.mode[key] == "any":
                    self.mode[key] = MODE_OF_KIND[r.kind]
                if r.kind == "mig" and u.profile is not None and u.start is not None:
                    p = inst.model_of(inst.node(u.node)).profile(u.profile)  # type: ignore[union-attr]
                    assert p is not None
                    self.mask[key] |= span_mask(u.start, p.size)
                    self.counts[key][u.profile] = self.counts[key].get(u.profile, 0) + 1
                elif r.kind == "share":
                    self.milli[key] += u.gpu_milli or r.gpu_milli or 0
                else:
                    self.milli[key] = MILLI_PER_GPU

    def units(self, r: Request, node_id: str, g: int, *, isolation: bool) -> int:
        """Units of ``r`` that still fit on one GPU (cached per request shape and GPU state)."""
        key = (node_id, g)
        if isolation and not self._isolation_ok(r, key, node_id):
            return 0
        model = self._models[node_id]
        state = ((r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.gpu_models),
                 None if model is None else model.name, self.mode[key], self.mask[key],
                 tuple(sorted(self.counts[key].items())), self.milli[key])
        hit = self._cache.get(state)
        if hit is None:
            hit = self._cache[state] = self._units(r, node_id, g)
        return hit

    def _units(self, r: Request, node_id: str, g: int) -> int:
        inst = self.inst
        key = (node_id, g)
        allowed = inst.allowed_models(r)
        model = self._models[node_id]
        if model is None or (allowed is not None and model.name not in allowed):
            return 0
        mode = self.mode[key]
        if mode not in ("any", MODE_OF_KIND[r.kind]):
            return 0
        if r.kind == "gpu":
            return int(self.milli[key] == 0 and not self.mask[key])
        if r.kind == "share":
            return (MILLI_PER_GPU - self.milli[key]) // (r.gpu_milli or MILLI_PER_GPU)
        geo = geometry(model)
        occ, counts = self.mask[key], self.counts[key]
        return max((geo.fit_count(p, occ, counts.get(p.name, 0)) for p in inst.profile_choices(r, model)), default=0)

    def _isolation_ok(self, r: Request, key: tuple[str, int], node_id: str) -> bool:
        tm = self.inst.tenant_map
        others = self.tenants[key] - {r.tenant}
        if others and (tm[r.tenant].isolation == "gpu" or any(tm[t].isolation == "gpu" for t in others)):
            return False
        n_others = self.node_tenants[node_id] - {r.tenant}
        if n_others and (tm[r.tenant].isolation == "node" or any(tm[t].isolation == "node" for t in n_others)):
            return False
        return True

    def node_units(self, r: Request, node_id: str, *, isolation: bool, host: bool) -> int:
        shape = (r.tenant, r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.gpu_models,
                 r.cpu_milli, r.memory_mib)
        key = ("node", shape, node_id, isolation, host)
        hit = self._cache.get(key)
        if hit is None:
            hit = self._cache[key] = self._node_units(r, node_id, isolation=isolation, host=host)
        return hit

    def per_node(self, r: Request, nodes: list, *, isolation: bool, host: bool) -> tuple[dict[str, int], int]:  # type: ignore[type-arg]
        """(node id → units of ``r`` that fit there, their sum) over ``nodes``, cached per request shape.

        ``nodes`` must be the same list for the same shape (``ok_nodes``' cached lists are).
        """
        shape = (r.tenant, r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_milli, r.gpu_models,
                 r.cpu_milli, r.memory_mib)
        key = ("per_node", shape, id(nodes), isolation, host)
        hit = self._cache.get(key)
        if hit is None:
            units = {n.id: self.node_units(r, n.id, isolation=isolation, host=host) for n in nodes}
            hit = self._cache[key] = (units, sum(units.values()))
        return hit

    def _node_units(self, r: Request, node_id: str, *, isolation: bool, host: bool) -> int:
        node = self.inst.node(node_id)
        n = sum(self.units(r, node_id, g, isolation=isolation) for g in range(node.num_gpus))
        if host:
            if r.cpu_milli and node.cpu_milli is not None:
                n = min(n, max(0, node.cpu_milli - self.cpu[node_id]) // r.cpu_milli)
            if r.memory_mib and node.memory_mib is not None:
                n = min(n, max(0, node.memory_mib - self.mem[node_id]) // r.memory_mib)
        return n


def unplaced_reasons(inst: Instance, placed: Mapping[str, Sequence[Unit]],
                     modes: Mapping[tuple[str, int], str]) -> dict[str, str]:
    """Request id → reason, for every request not in ``placed``."""
    out = reasons_by(inst, placed, modes, None)
    assert out is not None
    return out


def reasons_by(inst: Instance, placed: Mapping[str, Sequence[Unit]], modes: Mapping[tuple[str, int], str],
               deadline: float | None) -> dict[str, str] | None:
    """:func:`unplaced_reasons`, or None once ``deadline`` (perf_counter; None: none) has passed:
    checked before the free-capacity scan and before each request, so it ends at most one request's
    work late."""
    out, left = _reasons(inst, placed, modes, deadline)
    return None if left else out


def reasons_until(inst: Instance, placed: Mapping[str, Sequence[Unit]], modes: Mapping[tuple[str, int], str],
                  deadline: float | None, *, solver: str, seconds: float) -> tuple[dict[str, str], int]:
    """Every unplaced request's reason, as far as ``deadline`` allows; the requests not reached by then
    get the time-limit reason (the search left them out, and the solver's time ended before their
    binding rule was found). Returns the reasons and how many were cut short."""
    out, left = _reasons(inst, placed, modes, deadline)
    if left:
        late = reasons.unexplained(solver, seconds)
        out.update((r.id, late) for r in left)
    return out, len(left)


def _reasons(inst: Instance, placed: Mapping[str, Sequence[Unit]], modes: Mapping[tuple[str, int], str],
             deadline: float | None) -> tuple[dict[str, str], list[Request]]:
    """The reasons found by ``deadline``, and the unplaced requests left without one."""
    waiting = [r for r in inst.requests if r.id not in placed]
    if deadline is not None and time.perf_counter() >= deadline:
        return {}, waiting
    free = _Free(inst, placed, modes)
    used: dict[str, float] = defaultdict(float)
    for rid, units in placed.items():
        r = inst.request(rid)
        used[r.tenant] += sum(inst.unit_size(r, u) for u in units)
    out = {}
    for i, r in enumerate(waiting):
        if deadline is not None and time.perf_counter() >= deadline:
            return out, waiting[i:]
        out[r.id] = _reason(inst, free, used, r)
    return out, []


def _reason(inst: Instance, free: _Free, used: Mapping[str, float], r: Request) -> str:
    if r.kind == "host":
        return _host_reason(inst, free, r)
    need = r.need_count
    shape = (r.kind, r.profile, r.slices, r.min_memory_gib, r.gpu_models)
    ok_models = free.ok_nodes.get(shape)
    if ok_models is None:
        ok_models = free.ok_nodes[shape] = _ok_nodes(inst, r)
    if not ok_models:
        return reasons.no_model(r, (m.name for m in inst.cluster_models), why="mode")
    return _binding(inst, free, used, r, need, ok_models)


def _ok_nodes(inst: Instance, r: Request) -> list:  # type: ignore[type-arg]
    allowed = inst.allowed_models(r)
    want = MODE_OF_KIND[r.kind]
    return [
        n for n in inst.nodes
        if n.num_gpus and (allowed is None or inst.gpu_catalog.canonical(n.gpu_model or "") in allowed)
        and any(n.gpu_mode(g) in (want, "any") for g in range(n.num_gpus))
        and (r.kind != "mig" or inst.profile_choices(r, inst.model_of(n)))  # type: ignore[arg-type]
    ]


def _binding(inst: Instance, free: _Free, used: Mapping[str, float], r: Request, need: int,
             ok_models: list) -> str:  # type: ignore[type-arg]
    t = inst.tenant_map[r.tenant]
    if t.max_gpus is not None:
        smallest = inst.request_unit_size(r)
        if used[r.tenant] + need * smallest > t.max_gpus + 1e-9:
            return reasons.quota(t.id, used[r.tenant], t.max_gpus, need * smallest)
    per_node, total = free.per_node(r, ok_models, isolation=True, host=True)
    if total < need:
        loose = free.per_node(r, ok_models, isolation=False, host=True)[1]
        if loose >= need:
            return reasons.isolation(r, total, need, without=loose)
        no_host = free.per_node(r, ok_models, isolation=True, host=False)[1]
        if no_host >= need:
            return reasons.host_resources(r, total, need, without=no_host)
        return reasons.capacity(r, total, need)
    if r.locality is not None and r.locality.required:
        level = r.locality.level
        if level == "gpu":
            best = max((free.units(r, n.id, g, isolation=True) for n in ok_models for g in range(n.num_gpus)), default=0)
        else:
            key = ("best_domain", id(per_node), level)  # per_node is cached per shape: same free state
            best = free._cache.get(key)
            if best is None:
                per_dom: dict[str, int] = defaultdict(int)
                for n in ok_models:
                    per_dom[inst.domain(n, level)] += per_node[n.id]
                best = free._cache[key] = max(per_dom.values(), default=0)
        if best < need:
            return reasons.locality(r, level, best, need, cluster=total)
    if r.spread is not None:
        return reasons.spread(r)
    return reasons.objective(r)


def _host_reason(inst: Instance, free: _Free, r: Request) -> str:
    """Why a host request (CPU and memory only) is unplaced: isolation, host resources, locality, spread."""
    need = r.need_count
    tm = inst.tenant_map

    def fits(node, isolation: bool) -> int:  # type: ignore[no-untyped-def]
        if isolation:
            others = free.node_tenants[node.id] - {r.tenant}
            if others and (tm[r.tenant].isolation == "node" or any(tm[t].isolation == "node" for t in others)):
                return 0
        n = r.count
        if r.cpu_milli and node.cpu_milli is not None:
            n = min(n, max(0, node.cpu_milli - free.cpu[node.id]) // r.cpu_milli)
        if r.memory_mib and node.memory_mib is not None:
            n = min(n, max(0, node.memory_mib - free.mem[node.id]) // r.memory_mib)
        return n

    per_node = {n.id: fits(n, True) for n in inst.nodes}
    total = sum(per_node.values())
    if total < need:
        loose = sum(fits(n, False) for n in inst.nodes)
        if loose >= need:
            return reasons.isolation(r, total, need, without=loose)
        return reasons.host_resources(r, total, need)
    if r.locality is not None and r.locality.required:
        level = r.locality.level
        per_dom: dict[str, int] = defaultdict(int)
        for n in inst.nodes:
            per_dom[inst.domain(n, level)] += per_node[n.id]
        best = max(per_dom.values(), default=0)
        if best < need:
            return reasons.locality(r, level, best, need, cluster=total)
    if r.spread is not None:
        return reasons.spread(r)
    return reasons.objective(r)
