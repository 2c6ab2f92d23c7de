"""Family ``adversarial``: built so that the natural orderings (file order, largest first, highest
priority first) lose value.

- Large low-priority gangs come first in the file and are the largest requests, against many small
  high-priority whole-GPU requests that together ask for most of the whole-GPU capacity.
- MIG geometry: 3g requests (priority 1.0) before 4g requests (0.9). Two 3g on one GPU strand a
  slice and shut out the 4g that pairs with a 3g to fill the GPU (4g takes start 0 only).
- Isolation: a node-isolated tenant asks for one small slice on each of many nodes (spread one per
  node, elastic); placing it whole shuts every other tenant out of those nodes. A gpu-isolated
  tenant's single 1g slices spread one per GPU strand the other six slices of each.
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder, mode_counts, pick_modes
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]


def adversarial(seed: int, num_nodes: int = 128, demand: float = 1.3, name: str = "adversarial") -> Instance:
    """An adversarial instance on ``num_nodes`` B200 nodes; ``demand`` scales every part alike."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    b.cluster(num_nodes, lambda i: "B200-180GB",
              lambda i: [pick_modes(rng, {"full": 0.5, "mig": 0.35, "any": 0.15})] * 8)
    ng = 8 * num_nodes
    caps = mode_counts(b)
    whole, mig = caps["full"] + caps["any"] / 2, caps["mig"] + caps["any"] / 2
    b.tenants = [
        {"id": "bulk", "max_gpus": None, "isolation": "none"},
        {"id": "urgent", "max_gpus": None, "isolation": "none"},
        {"id": "vault", "max_gpus": max(1, round(0.1 * ng)), "isolation": "node"},
        {"id": "edge", "max_gpus": max(1, round(0.1 * ng)), "isolation": "gpu"},
        {"id": "serve", "max_gpus": None, "isolation": "none"},
    ]
    base = b.base_profiles("B200-180GB")
    reqs: list[dict[str, Any]] = []

    def add(prefix: str, **fields: Any) -> None:
        reqs.append({"id": f"{prefix}-{len(reqs):05d}", **fields})

    # 1. big low-priority gangs, then many small urgent ones
    big = [s for s in (32, 64) if s <= ng // 2] or [max(2, ng // 4)]
    asked = 0.0
    while asked < 0.6 * demand * whole:
        count = rng.choice(big)
        add("bulk", tenant="bulk", kind="gpu", count=count, priority=0.5, cpu_milli=16000, memory_mib=131072,
            locality={"level": "pod" if count > 32 else "rack", "required": True})
        asked += count
    # 2. isolation traps: one slice per node for the node-isolated tenant, one per GPU for edge
    for _ in range(max(1, num_nodes // 16)):
        count = min(num_nodes, rng.choice([4, 8, 16]))
        add("vault", tenant="vault", kind="mig", profile=base[1], count=count, min_count=1, priority=1.1,
            cpu_milli=2000, memory_mib=16384, spread={"level": "node", "max_per_domain": 1})
    for _ in range(max(1, num_nodes // 16)):
        add("edge", tenant="edge", kind="mig", profile=base[1], count=rng.choice([2, 4, 8]), min_count=1,
            priority=1.2, cpu_milli=2000, memory_mib=16384, spread={"level": "gpu", "max_per_domain": 1})
    # 3. MIG geometry: 3g first, 4g after; then small 1g/2g fill
    mig_asked = 0.0
    while mig_asked < 0.55 * demand * mig:
        count = rng.choice([1, 2, 4])
        add("serve", tenant="serve", kind="mig", profile=base[3], count=count, priority=1.0, cpu_milli=4000,
            memory_mib=32768)
        mig_asked += count * 3 / 7
    while mig_asked < 0.95 * demand * mig:
        count = rng.choice([1, 2, 4])
        add("serve", tenant="serve", kind="mig", profile=base[4], count=count, priority=0.9, cpu_milli=4000,
            memory_mib=32768)
        mig_asked += count * 4 / 7
    while mig_asked < demand * mig:
        c = rng.choice([1, 2])
        add("serve", tenant="serve", kind="mig", profile=base[c], count=1, priority=1.0, cpu_milli=2000,
            memory_mib=16384)
        mig_asked += c / 7
    # 4. small urgent whole-GPU requests: worth more per GPU than the gangs, last in the file
    while asked < demand * whole:
        count = rng.choice([1, 1, 2])
        add("urgent", tenant="urgent", kind="gpu", count=count, priority=rng.choice([2.0, 3.0]),
            cpu_milli=16000, memory_mib=131072)
        asked += count
    b.requests = reqs
    return b.build()
