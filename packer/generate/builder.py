"""The instance builder every family shares: nodes, tenants, running work that respects the rules."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from packer.catalog import Catalog
from packer.formats import instance_from_dict
from packer.geometry import geometry, span_mask
from packer.model import INSTANCE_FORMAT, Instance

#: Host resources of the B200/H100 nodes most families use (224 cores, 2 TiB).
NODE_CPU = 224000
NODE_MEM = 2 * 1024 * 1024


@dataclass
class _Gpu:
    mode: str
    occ: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    milli: int = 0
    used: bool = False
    tenants: set[str] = field(default_factory=set)


class Builder:
    """Builds nodes and running work while tracking what is already occupied."""

    def __init__(self, name: str, seed: int, levels: list[str]) -> None:
        self.rng = random.Random(seed)
        self.name = name
        self.levels = levels
        self.nodes: list[dict[str, Any]] = []
        self.gpus: dict[tuple[str, int], _Gpu] = {}
        self.node_gpus: dict[str, list[tuple[int, _Gpu]]] = {}
        self.tenants: list[dict[str, Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.node_cpu: dict[str, int] = {}
        self.node_mem: dict[str, int] = {}
        self.node_tenants: dict[str, set[str]] = {}
        self.extra_models: list[dict[str, Any]] = []
        self.catalog = Catalog.builtin()

    def add_node(self, nid: str, model: str, num_gpus: int, modes: list[str], domains: dict[str, str],
                 cpu: int, mem: int) -> None:
        """Adds node ``nid`` with one mode per GPU (stored as ``mode`` when they are all the same)."""
        uniform = len(set(modes)) == 1
        self.nodes.append({
            "id": nid, "gpu_model": model, "num_gpus": num_gpus,
            "mode": modes[0] if uniform else "full", "gpu_modes": None if uniform else modes,
            "cpu_milli": cpu, "memory_mib": mem, "domains": domains,
        })
        self.node_gpus[nid] = []
        for g, m in enumerate(modes):
            self.gpus[(nid, g)] = _Gpu(m)
            self.node_gpus[nid].append((g, self.gpus[(nid, g)]))
        self.node_cpu[nid] = cpu
        self.node_mem[nid] = mem
        self.node_tenants[nid] = set()

    def cluster(self, num_nodes: int, model: Callable[[int], str], modes: Callable[[int], list[str]], *,
                rack_nodes: int = 4, pod_nodes: int = 32, cpu: int = NODE_CPU, mem: int = NODE_MEM) -> None:
        """Adds ``num_nodes`` nodes ``n0000``.. with one NVLink domain per node, racks and pods."""
        for i in range(num_nodes):
            nid = f"n{i:04d}"
            ms = modes(i)
            self.add_node(nid, model(i), len(ms), ms,
                          {"nvlink": nid, "rack": f"r{i // rack_nodes:03d}", "pod": f"p{i // pod_nodes:02d}"},
                          cpu, mem)

    def declare_model(self, name: str) -> None:
        """Declares a GPU model without MIG (full and shared GPUs only) in the instance's catalog."""
        if all(e["name"] != name for e in self.extra_models):
            self.extra_models.append({"name": name})

    def _iso(self, tenant: str) -> str:
        return next(t["isolation"] for t in self.tenants if t["id"] == tenant)

    def _tenant_ok(self, nid: str, g: _Gpu, tenant: str) -> bool:
        others = self.node_tenants[nid] - {tenant}
        if others and (self._iso(tenant) == "node" or any(self._iso(t) == "node" for t in others)):
            return False
        gothers = g.tenants - {tenant}
        return not (gothers and (self._iso(tenant) == "gpu" or any(self._iso(t) == "gpu" for t in gothers)))

    def running(self, rid: str, tenant: str, kind: str, count: int, *, profile: str | None = None,
                gpu_milli: int | None = None, cpu: int = 0, mem: int = 0, movable: bool = False,
                priority: float = 1.0, tries: int | None = None, extra: dict[str, Any] | None = None) -> bool:
        """Adds a running request on free spots of one node; False when it found no room.

        Without ``tries`` every node is tried in a random order; with it, that many random nodes
        (fast on big clusters). ``extra`` adds fields to the request (e.g. a migration cost).
        """
        if tries is None:
            node_ids = [n["id"] for n in self.nodes]
            self.rng.shuffle(node_ids)
        else:
            node_ids = [self.nodes[self.rng.randrange(len(self.nodes))]["id"] for _ in range(tries)]
        model_of = {n["id"]: n["gpu_model"] for n in self.nodes} if kind == "mig" else {}
        for nid in node_ids:
            units = []
            taken: list[tuple[_Gpu, int, str | None]] = []
            if self.node_cpu[nid] < cpu * count or self.node_mem[nid] < mem * count:
                continue
            for gi, g in self.node_gpus[nid]:
                if len(units) == count or not self._tenant_ok(nid, g, tenant):
                    continue
                if kind == "gpu" and g.mode == "full" and not g.used:
                    units.append({"node": nid, "gpu": gi})
                    taken.append((g, 0, None))
                elif kind == "share" and g.mode == "shared" and g.milli + (gpu_milli or 0) <= 1000:
                    units.append({"node": nid, "gpu": gi, "gpu_milli": gpu_milli})
                    taken.append((g, gpu_milli or 0, None))
                elif kind == "mig" and g.mode == "mig":
                    geo = geometry(self.catalog[model_of[nid]])
                    p = geo.model.profile(profile or "")
                    if p is None:
                        break
                    starts = geo.free_starts(p, g.occ, g.counts.get(p.name, 0))
                    if starts:
                        s = starts[-1]
                        units.append({"node": nid, "gpu": gi, "profile": p.name, "start": s})
                        taken.append((g, span_mask(s, p.size), p.name))
            if len(units) < count:
                continue
            for g, amount, pname in taken:
                g.tenants.add(tenant)
                if kind == "gpu":
                    g.used = True
                elif kind == "share":
                    g.milli += amount
                else:
                    g.occ |= amount
                    assert pname is not None
                    g.counts[pname] = g.counts.get(pname, 0) + 1
            self.node_cpu[nid] -= cpu * count
            self.node_mem[nid] -= mem * count
            self.node_tenants[nid].add(tenant)
            req: dict[str, Any] = {"id": rid, "tenant": tenant, "kind": kind, "count": count,
                                   "priority": priority, "cpu_milli": cpu, "memory_mib": mem,
                                   "placement": units}
            if kind == "mig":
                req["profile"] = profile
            if kind == "share":
                req["gpu_milli"] = gpu_milli
            if movable:
                req["movable"] = True
            req.update(extra or {})
            self.requests.append(req)
            return True
        return False

    def base_profiles(self, model: str) -> dict[int, str]:
        """Per compute size, the base MIG profile of ``model`` with the most instances per GPU."""
        m = self.catalog[model]
        base: dict[int, str] = {}
        for p in m.profiles:
            if p.is_base and (p.compute not in base or p.max_count > m.profile(base[p.compute]).max_count):  # type: ignore[union-attr]
                base[p.compute] = p.name
        return base

    def build(self, objective: dict[str, Any] | None = None) -> Instance:
        """The instance, validated like any file (a generator bug raises InputError)."""
        data = {
            "format": INSTANCE_FORMAT,
            "name": self.name,
            "catalog": self.extra_models,
            "topology": {"levels": self.levels},
            "nodes": self.nodes,
            "tenants": self.tenants,
            "requests": self.requests,
            "objective": objective or {"locality_weight": 0.01, "migration_weight": 0.1, "max_migrations": None},
        }
        return instance_from_dict(data, file=f"<generated {self.name}>")


def size(req: dict[str, Any], compute_slices: int = 7) -> float:
    """GPU-equivalents a request dict asks for (MIG sizes over ``compute_slices``)."""
    if req["kind"] == "gpu":
        return float(req["count"])
    if req["kind"] == "share":
        return req["count"] * req["gpu_milli"] / 1000
    if req["kind"] == "host":
        return 0.0
    if "slices" in req:
        return req["count"] * req["slices"] / compute_slices
    return req["count"] * int(req["profile"].split("g.")[0]) / compute_slices


def mode_counts(b: Builder) -> dict[str, float]:
    """Whole GPUs per mode over the builder's nodes."""
    out = {"full": 0.0, "mig": 0.0, "shared": 0.0, "any": 0.0}
    for g in b.gpus.values():
        out[g.mode] += 1
    return out


def pick_modes(rng: random.Random, weights: dict[str, float]) -> str:
    """One mode drawn with the given weights (in a fixed order, so seeds reproduce)."""
    names = sorted(weights)
    return rng.choices(names, weights=[weights[n] for n in names])[0]


__all__ = ["NODE_CPU", "NODE_MEM", "Builder", "mode_counts", "pick_modes", "size"]
