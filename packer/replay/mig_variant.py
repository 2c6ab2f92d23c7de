"""The MIG variant of the openb replay: the same pods on a cluster of MIG GPUs (an instance family).

Modelling assumptions (ours; the trace has no MIG): every openb node keeps its GPU count, CPU and
memory, and its GPU model becomes a 7-slice MIG model (:data:`MIG_MODEL_OF`: the G2/G3 servers become
H100-80GB, the older V100/T4/P100/A10 servers A100-40GB), so a pod's profile has the same compute on
every node. A pod's ``gpu_milli``
maps to the smallest base profile of the node's MIG model with enough compute (compute slices /
model slices × 1000 ≥ gpu_milli; fewest memory positions among those); whole-GPU pods take whole,
empty GPUs (full mode). Allocation counts the compute of the instances handed out (a 3g on a
7-slice GPU is 3/7 GPU), so rounding a pod up to its profile counts as allocated, as MIG does.
"""

from __future__ import annotations

from statistics import mean
from typing import Any

import numpy as np

from packer.catalog import Catalog
from packer.geometry import geometry
from packer.online.policies import REPLAY_MIG, resolve
from packer.replay.kpi import curves
from packer.replay.openb import Cluster, Pods
from packer.replay.protocol import TypicalPods, make_stream, typical_pods

#: openb GPU model -> MIG model of the MIG cluster.
MIG_MODEL_OF = {"G2": "H100-80GB", "G3": "H100-80GB", "V100M32": "A100-40GB", "V100M16": "A100-40GB",
                "T4": "A100-40GB", "P100": "A100-40GB", "A10": "A100-40GB"}
#: The MIG replay's policy names -> kernel code (``packer`` is the registry's ``packer-mig``).
MIG_POLICIES = {name: resolve(name, REPLAY_MIG).code for name in ("firstfit", "bestfit", "fgd", "packer")}


class MigTables:
    """Profile tables of the MIG models of a cluster, and the milli -> profile map per model."""

    def __init__(self, cluster: Cluster, model_of: dict[str, str] | None = None) -> None:
        model_of = model_of or MIG_MODEL_OF
        cat = Catalog.builtin()
        self.mig_names = [model_of.get(m, "A100-40GB") for m in cluster.models]
        self.models = [cat[name] for name in self.mig_names]
        self.slices = np.array([m.compute_slices for m in self.models], np.int64)
        prof: list[Any] = []
        self.base: list[list[int]] = []  # per model: base profile ids, by compute then size
        for m in self.models:
            ids = []
            for p in sorted((p for p in m.profiles if p.is_base), key=lambda p: (p.compute, p.size)):
                if p.max_count < len(p.starts):
                    raise ValueError(f"{m.name} {p.name}: max_count below its starts; not modelled")
                ids.append(len(prof))
                prof.append(p)
            self.base.append(ids)
        self.profiles = prof
        self.q_compute = np.array([p.compute for p in prof], np.int64)
        self.q_size = np.array([p.size for p in prof], np.int64)
        # legal starts, ascending, as the geometry lists them (the one home of MIG placement rules)
        self.q_starts = np.zeros((len(prof), 8), np.int64)
        self.q_nstarts = np.zeros(len(prof), np.int64)
        q = 0
        for m, ids in zip(self.models, self.base, strict=True):
            geo = geometry(m)
            for _ in ids:
                starts = [pl.start for pl in geo.by_profile[prof[q].name]]
                self.q_starts[q, : len(starts)] = starts
                self.q_nstarts[q] = len(starts)
                q += 1

    def profile_for(self, milli: int, k: int) -> int:
        """Smallest base profile id of model k with compute ≥ milli (-1: whole GPU or CPU-only)."""
        if milli <= 0 or milli >= 1000:
            return -1
        for q in self.base[k]:
            if self.q_compute[q] * 1000 >= milli * self.slices[k]:
                return q
        return -1

    def prof_matrix(self, milli: np.ndarray) -> np.ndarray:
        out = np.full((len(milli), len(self.models)), -1, np.int64)
        cache: dict[int, list[int]] = {}
        for i, g in enumerate(milli.tolist()):
            if g not in cache:
                cache[g] = [self.profile_for(g, k) for k in range(len(self.models))]
            out[i] = cache[g]
        return out


def mig_run(cluster: Cluster, pods: Pods, policy: str, seed: int, inflation: float = 1.3,
            tp: TypicalPods | None = None, tables: MigTables | None = None) -> dict[str, Any]:
    """One seeded replay of the MIG variant (same stream as the shared-GPU replay)."""
    from packer.replay.engine.mig_kernels import mig_replay
    from packer.replay.policy import cpu_per_gpu_milli

    tp = tp if tp is not None else typical_pods(pods)
    tables = tables or MigTables(cluster)
    stream = make_stream(pods, cluster, seed, inflation)
    p = stream.pods
    out = mig_replay(resolve(policy, REPLAY_MIG).code, cluster.cpu, cluster.mem, cluster.gpus, cluster.model, stream.node_rank,
                     tables.slices, p.cpu, p.mem, p.num_gpu, p.gpu_milli, p.spec, tables.prof_matrix(p.gpu_milli),
                     tables.q_compute, tables.q_size, tables.q_starts, tables.q_nstarts, tp.cpu, tp.gpu_milli,
                     tp.num_gpu, tp.spec, tables.prof_matrix(tp.gpu_milli), tp.prob, cpu_per_gpu_milli(tp))
    node, gpu, start, arrived, used, frag = out
    idle = cluster.capacity_milli - used
    c = curves(arrived, used, frag, idle, cluster.capacity_milli)
    placed_demand = int((p.gpu_demand * (node >= 0)).sum())
    return {"seed": seed, "failed_pods": int((node < 0).sum()), "final_allocation_pct": 100 * used[-1] / cluster.capacity_milli,
            "placed_demand_pct": 100 * placed_demand / cluster.capacity_milli,
            "placements": (node, gpu, start), **c}


def mig_policy(cluster: Cluster, pods: Pods, policy: str, seeds: list[int], inflation: float = 1.3) -> dict[str, Any]:
    """Seed means of the MIG variant for one policy."""
    tp = typical_pods(pods)
    tables = MigTables(cluster)
    runs = [mig_run(cluster, pods, policy, s, inflation, tp, tables) for s in seeds]
    for r in runs:
        r.pop("placements")
    return {"policy": policy, "seeds": seeds,
            "allocation_pct": {k: mean(r["allocation_pct"][int(k)] for r in runs) for k in ("100", "130")},
            "frag_amount_pct": {k: mean(r["frag_amount_pct"][int(k)] for r in runs) for k in ("100", "130")},
            "placed_demand_pct": mean(r["placed_demand_pct"] for r in runs),
            "per_seed": runs}


def openb_mig_instance(cluster: Cluster, pods: Pods, *, name: str = "openb-mig", node_indices: list[int] | None = None,
                       limit_pods: int | None = None):  # type: ignore[no-untyped-def]
    """The instance family: the openb pods on the MIG cluster, as a packer instance.

    ``node_indices`` picks nodes (default all), ``limit_pods`` keeps the first GPU pods only.

    Nodes are ``any``-mode GPUs of their MIG model (a solver picks mig or full per GPU); a fractional
    pod is a ``mig`` request for ``slices`` compute slices (its profile's; every MIG model here has 7
    slices, so the smallest profile with those slices is the replay's), a whole-GPU pod a ``gpu``
    request kept on one node. CPU-only pods are left out.
    """
    from packer.model import Instance, Locality, Node, Request

    tables = MigTables(cluster)
    chosen = list(range(cluster.num_nodes)) if node_indices is None else list(node_indices)
    nodes = []
    for i in chosen:
        nodes.append(Node(id=cluster.names[i], gpu_model=tables.mig_names[cluster.model[i]],
                          num_gpus=int(cluster.gpus[i]), mode="any", cpu_milli=int(cluster.cpu[i]),
                          memory_mib=int(cluster.mem[i])))
    present = sorted({int(cluster.model[i]) for i in chosen})
    reqs = []
    for i in range(len(pods)):
        if limit_pods is not None and len(reqs) >= limit_pods:
            break
        n, g = int(pods.num_gpu[i]), int(pods.gpu_milli[i])
        if n == 0:
            continue
        per = max(n, 1)
        common = dict(id=pods.names[i], cpu_milli=-(-int(pods.cpu[i]) // per), memory_mib=-(-int(pods.mem[i]) // per))
        if g < 1000:
            q = tables.profile_for(g, present[0])
            if q < 0:
                reqs.append(Request(kind="gpu", count=1, **common))
            else:
                reqs.append(Request(kind="mig", slices=int(tables.q_compute[q]), **common))
        else:
            loc = Locality(level="node", required=True) if n > 1 else None
            reqs.append(Request(kind="gpu", count=n, locality=loc, **common))
    return Instance(name=name, nodes=tuple(nodes), requests=tuple(reqs))


__all__ = ["MIG_MODEL_OF", "MIG_POLICIES", "MigTables", "mig_policy", "mig_run", "openb_mig_instance"]
