"""Family ``isolated``: a node-isolated tenant whose spread work contests node ownership.

The structure came from hetero-102 (session 22): a node-isolated tenant's MIG request spread one a
node over a scarce GPU model's MIG nodes owns most of those nodes while it holds one or two
instances on each, and other tenants' spread replicas, pinned to the same model, need those nodes
too. Whatever a node holds, one tenant's spread replica on it keeps every other tenant off when the
tenant is node-isolated, so the plan must choose which tenant owns which node. An LP that owns nodes
in fractions splits them (hetero-102's bound was 4.3 points above what the rows of
``constraints.ISOLATION_OTHERS`` allow), and a search that places in request order gives the nodes to
whoever comes first.

8-GPU nodes, racks of 4 nodes, pods of 32; one GPU model a rack: B200-180GB on three racks in four,
H100-80GB (the scarce model) on the fourth. Node modes about 40% mig, 45% full, 15% any on B200 and
70% mig, 20% full, 10% any on H100. Four tenants:
``vault`` (node-isolated), ``edge`` (gpu-isolated), ``serve`` and ``lab``. vault asks a few MIG
requests spread one a node over 50-90% of the H100 MIG nodes, small profiles; every tenant asks MIG
replicas pinned to H100 and spread one or two a node, MIG work on either model, whole-GPU gangs (node
or rack locality) and some shares. Demand about ``demand`` × the GPUs.
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]
SCARCE, COMMON = "H100-80GB", "B200-180GB"
TENANTS = (("vault", "node", 0.25), ("edge", "gpu", 0.35), ("serve", "none", 0.6), ("lab", "none", 0.4))


def isolated(seed: int, num_nodes: int = 128, demand: float = 1.2, name: str = "isolated") -> Instance:
    """An instance on ``num_nodes`` 8-GPU nodes where a node-isolated tenant's spread work contests the
    scarce model's MIG nodes with other tenants' spread replicas."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    racks = (num_nodes + 3) // 4
    scarce_rack = rng.randrange(4)
    rack_model = [SCARCE if r % 4 == scarce_rack % min(4, racks) else COMMON for r in range(racks)]
    weights = {SCARCE: {"mig": 0.7, "full": 0.2, "any": 0.1}, COMMON: {"mig": 0.4, "full": 0.45, "any": 0.15}}
    b.cluster(num_nodes, lambda i: rack_model[i // 4], lambda i: [pick_modes(rng, weights[rack_model[i // 4]])] * 8)
    scarce_mig = sum(1 for n in b.nodes if n["gpu_model"] == SCARCE and n["mode"] == "mig")
    ng = 8 * num_nodes
    b.tenants = [{"id": t, "max_gpus": float(max(1, round(q * ng))), "isolation": iso} for t, iso, q in TENANTS]
    small = [b.base_profiles(SCARCE)[c] for c in (1, 1, 2)]
    reqs: list[dict[str, Any]] = []

    def add(req: dict[str, Any]) -> None:
        req["id"] = f"iso-{len(reqs):05d}"
        reqs.append(req)

    for _ in range(rng.randint(1, 3) if scarce_mig >= 2 else 0):  # vault's one-a-node spread work
        add({"tenant": "vault", "kind": "mig", "profile": rng.choice(small), "gpu_models": [SCARCE],
             "count": max(2, round(rng.uniform(0.5, 0.9) * scarce_mig)), "priority": rng.choice([1.0, 1.5]),
             "spread": {"level": "node", "max_per_domain": 1}, "cpu_milli": 4000, "memory_mib": 32768})
    asked = sum(size(r) for r in reqs)
    names = [t for t, _, _ in TENANTS]
    while asked < demand * ng:
        req: dict[str, Any] = {"tenant": rng.choices(names, weights=[1, 2, 3, 2])[0]}
        r = rng.random()
        if r < 0.2 and scarce_mig >= 2:  # replicas pinned to the scarce model, spread one or two a node
            model = SCARCE
            req.update(kind="mig", profile=b.base_profiles(model)[rng.choice([1, 2, 3])], gpu_models=[model],
                       count=rng.choice([2, 4, 6]), priority=rng.choice([1.0, 1.2, 1.5]),
                       spread={"level": "node", "max_per_domain": rng.choice([1, 2])},
                       cpu_milli=4000, memory_mib=32768)
        elif r < 0.45:  # MIG work on either model
            req.update(kind="mig", slices=rng.choice([1, 2, 3, 4, 7]), count=rng.choice([1, 2, 4]),
                       priority=rng.choice([1.0, 1.2]), cpu_milli=4000, memory_mib=32768)
            if req["count"] > 1:
                req["min_count"] = 1
        elif r < 0.85:  # whole-GPU gangs with required locality
            count = rng.choice([1, 2, 4, 8, 8, 16] if num_nodes >= 4 else [1, 2, 4, 8])
            req.update(kind="gpu", count=count, priority=rng.choice([1.0, 1.5, 2.0]), cpu_milli=16000,
                       memory_mib=131072)
            if count > 1:
                req["locality"] = {"level": "node" if count <= 8 else "rack", "required": True}
        else:  # shares
            req.update(kind="share", gpu_milli=rng.choice([250, 500, 700]), count=rng.choice([1, 2]),
                       priority=1.0, cpu_milli=4000, memory_mib=16384)
        add(req)
        asked += size(req)
    rng.shuffle(reqs)
    for i, req in enumerate(reqs):  # ids in arrival order
        req["id"] = f"iso-{i:05d}"
    b.requests = reqs
    return b.build()
