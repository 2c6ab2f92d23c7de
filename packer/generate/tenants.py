"""Family ``tenants``: many tenants with tight quotas, node and gpu isolation, and elastic requests.

Eight tenants share H100 nodes; their quotas add up to about 95% of the GPUs and each asks about 1.5
times its quota, so quotas bind for everyone. A quarter of the tenants are node-isolated and three
eighths gpu-isolated; most multi-unit requests are elastic (``min_count``).
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]
ISOLATION = ("none", "node", "gpu", "none", "gpu", "node", "none", "gpu")


def tenants(seed: int, num_nodes: int = 128, demand: float = 1.4, name: str = "tenants") -> Instance:
    """A tenant-heavy instance on ``num_nodes`` H100 nodes; ``demand`` is what tenants ask over GPUs."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    b.cluster(num_nodes, lambda i: "H100-80GB",
              lambda i: [pick_modes(rng, {"full": 0.4, "mig": 0.35, "shared": 0.1, "any": 0.15})] * 8)
    ng = 8 * num_nodes
    shares = [rng.uniform(0.5, 2.0) for _ in ISOLATION]
    quotas = [max(1, round(0.95 * ng * s / sum(shares))) for s in shares]
    b.tenants = [{"id": f"t{j}", "max_gpus": float(q), "isolation": iso}
                 for j, (q, iso) in enumerate(zip(quotas, ISOLATION, strict=True))]
    base = b.base_profiles("H100-80GB")
    k = 0
    for j, quota in enumerate(quotas):
        asked = 0.0
        while asked < demand / 0.95 * quota:
            req: dict[str, Any] = {"id": f"t{j}-{k:05d}", "tenant": f"t{j}", "priority": rng.choice([1.0, 1.0, 1.5, 2.0])}
            r = rng.random()
            if r < 0.35:  # whole-GPU jobs on one node, never bigger than the tenant's quota
                count = min(rng.choice([1, 2, 4, 8]), quota)
                req.update(kind="gpu", count=count, cpu_milli=16000, memory_mib=131072)
                if count > 1:
                    req["locality"] = {"level": "node", "required": rng.random() < 0.7}
            elif r < 0.75:  # MIG replicas
                req.update(kind="mig", count=rng.choice([1, 2, 4, 6, 8]), cpu_milli=4000, memory_mib=32768)
                if rng.random() < 0.5:
                    req["profile"] = base[rng.choice([1, 1, 2, 3, 4])]
                else:
                    req["slices"] = rng.choice([1, 2, 3])
                if req["count"] > 1 and rng.random() < 0.5:
                    req["spread"] = {"level": "node", "max_per_domain": rng.choice([1, 2, 4])}
            else:  # shares
                req.update(kind="share", gpu_milli=rng.choice([100, 250, 300, 500, 700]),
                           count=rng.choice([1, 2, 4, 8]), cpu_milli=2000, memory_mib=16384)
            if req["count"] > 1 and rng.random() < 0.7:
                req["min_count"] = rng.randint(1, req["count"] - 1)
            b.requests.append(req)
            asked += size(req)
            k += 1
    rng.shuffle(b.requests)  # tenants' requests arrive interleaved
    return b.build()
