"""Family ``training``: priority-weighted whole-GPU gangs with required node, rack or pod locality
competing with each other, beside MIG inference and experiments (the 1,024-GPU B200 cluster of
issue 16's "Why").

B200 nodes of 8 GPUs, racks of 4 nodes, pods of 32; node modes about 45% mig, 15% any, 40% full;
four tenants (one node-isolated, one gpu-isolated); about a quarter of the requests are gangs of
1-8 GPUs on one node or 16/32 GPUs in one rack or pod, priority 1 or 2; the rest MIG replicas by
profile (spread or soft rack locality) and experiments by ``slices`` with ``min_count``. Gangs are
larger than MIG requests, so whole-GPU work is over-asked and MIG work under-asked.
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]


def training(seed: int, num_nodes: int = 128, demand: float = 1.08, name: str = "training") -> Instance:
    """A training-heavy instance on ``num_nodes`` B200 nodes asking ``demand`` × its GPUs."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    b.cluster(num_nodes, lambda i: "B200-180GB",
              lambda i: [pick_modes(rng, {"mig": 0.45, "any": 0.15, "full": 0.40})] * 8)
    ng = 8 * num_nodes
    b.tenants = [
        {"id": "frontier", "max_gpus": round(0.6 * ng), "isolation": "none"},
        {"id": "secure", "max_gpus": round(0.25 * ng), "isolation": "node"},
        {"id": "serving", "max_gpus": round(0.4 * ng), "isolation": "gpu"},
        {"id": "lab", "max_gpus": round(0.15 * ng) or 1, "isolation": "none"},
    ]
    base = b.base_profiles("B200-180GB")
    big = [s for s in (16, 32) if s <= ng // 2] or [8]
    asked, k = 0.0, 0
    while asked < demand * ng:
        req: dict[str, Any] = {"id": f"req-{k:05d}"}
        if rng.random() < 0.25:  # training gang
            req["tenant"] = rng.choices(["frontier", "secure", "lab"], weights=[6, 2.5, 1.5])[0]
            if rng.random() < 0.3:
                count = rng.choice(big)
                level = "rack" if count <= 16 or rng.random() < 0.3 else "pod"
            else:
                count = rng.choices([1, 2, 4, 8], weights=[2, 2, 3, 3])[0]
                level = "node"
            req.update(kind="gpu", count=count, priority=rng.choice([1.0, 2.0]), cpu_milli=16000,
                       memory_mib=131072, locality={"level": level, "required": True})
        elif rng.random() < 0.6:  # inference replicas by profile
            req.update(tenant=rng.choices(["serving", "frontier"], weights=[3, 1])[0], kind="mig",
                       profile=base[rng.choice([1, 1, 2, 3, 4, 7])], count=rng.choice([2, 4, 6, 8]),
                       priority=rng.choice([1.0, 1.5]), cpu_milli=4000, memory_mib=32768)
            if rng.random() < 0.6:
                req["spread"] = {"level": "node", "max_per_domain": rng.choice([1, 2, 4])}
            else:
                req["locality"] = {"level": "rack", "required": False}
        else:  # experiments by slices, elastic
            count = rng.choice([2, 4, 8])
            req.update(tenant=rng.choice(["lab", "frontier"]), kind="mig", slices=rng.choice([1, 1, 2]),
                       count=count, min_count=1, priority=1.0, cpu_milli=2000, memory_mib=16384)
        b.requests.append(req)
        asked += size(req)
        k += 1
    return b.build()
