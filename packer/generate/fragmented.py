"""Family ``fragmented``: a running cluster, 60-80% busy with scattered work, part of it movable.

Running work (whole GPUs, MIG instances, shares) lands on random nodes until each mode is filled to
the drawn fraction, which scatters it; about 40% is movable, with varied migration costs. Waiting
requests (gangs that need a whole node or rack, MIG replicas, shares) ask for more than is free, so
the best plans move running work to make room (see the re-optimization issue).
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder, mode_counts, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]


def fragmented(seed: int, num_nodes: int = 128, demand: float = 1.15, name: str = "fragmented") -> Instance:
    """A fragmented running cluster on ``num_nodes`` B200 nodes; ``demand`` counts running and new work."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    b.cluster(num_nodes, lambda i: "B200-180GB",
              lambda i: [pick_modes(rng, {"full": 0.45, "mig": 0.35, "shared": 0.15, "any": 0.05})] * 8)
    ng = 8 * num_nodes
    b.tenants = [
        {"id": "train", "max_gpus": None, "isolation": "none"},
        {"id": "serve", "max_gpus": round(0.45 * ng), "isolation": "gpu"},
        {"id": "vault", "max_gpus": round(0.15 * ng) or 1, "isolation": "node"},
        {"id": "lab", "max_gpus": round(0.3 * ng), "isolation": "none"},
    ]
    tenants, weights = ["train", "serve", "vault", "lab"], [4, 3, 0.7, 2]
    base = b.base_profiles("B200-180GB")
    busy = rng.uniform(0.6, 0.8)
    caps = mode_counts(b)
    fill = min(0.95, busy * ng / max(1.0, ng - caps["any"]))  # 'any' GPUs hold no running work
    target = {"full": fill * caps["full"], "mig": fill * caps["mig"], "shared": fill * caps["shared"]}
    held = dict.fromkeys(target, 0.0)
    quotas = {t["id"]: t["max_gpus"] for t in b.tenants}
    used = dict.fromkeys(quotas, 0.0)
    misses, j = 0, 0
    while misses < 20 + num_nodes // 4:
        mode = max(target, key=lambda m: (target[m] - held[m], m))
        if target[mode] - held[mode] <= 0:
            break
        tenant = rng.choices(tenants, weights=weights)[0]
        movable = rng.random() < 0.4
        extra = {"migration_cost": rng.choice([0.05, 0.2, 0.5, 1.0])} if movable and rng.random() < 0.5 else {}
        common: dict[str, Any] = {"movable": movable, "priority": rng.choice([1.0, 1.5]), "tries": 12, "extra": extra}
        # a request of the drawn shape, and when no sampled node has room for it, the smallest one
        for attempt in range(2):
            if mode == "full":
                count = 1 if attempt else rng.choice([1, 1, 2, 4, 8])
                shape: dict[str, Any] = {"kind": "gpu", "count": count, "cpu": 16000, "mem": 131072}
                amount = float(count)
            elif mode == "mig":
                c, count = (1, 1) if attempt else (rng.choice([1, 1, 2, 3, 4]), rng.choice([1, 2]))
                shape = {"kind": "mig", "count": count, "profile": base[c], "cpu": 4000, "mem": 32768}
                amount = count * c / 7
            else:
                milli = 250 if attempt else rng.choice([250, 300, 500, 700])
                shape = {"kind": "share", "count": 1, "gpu_milli": milli, "cpu": 2000, "mem": 16384}
                amount = milli / 1000
            quota = quotas[tenant]
            who = tenant if quota is None or used[tenant] + amount <= quota else "train"  # running work within quota
            if b.running(f"run-{j:05d}", who, **shape, **common):
                held[mode] += amount
                used[who] += amount
                j += 1
                break
        else:
            misses += 1
    asked = sum(held.values())
    k = 0
    while asked < demand * ng:
        req: dict[str, Any] = {"id": f"req-{k:05d}", "tenant": rng.choices(tenants, weights=weights)[0]}
        r = rng.random()
        if r < 0.35:  # gangs that need an emptied node or rack
            count = rng.choice([4, 8, 8, 16]) if ng >= 64 else rng.choice([2, 4, 8])
            req.update(kind="gpu", count=count, priority=rng.choice([1.5, 2.0]), cpu_milli=16000, memory_mib=131072,
                       locality={"level": "node" if count <= 8 else "rack", "required": True})
        elif r < 0.7:
            req.update(kind="mig", profile=base[rng.choice([1, 2, 3, 4, 7])], count=rng.choice([1, 2, 4, 8]),
                       priority=rng.choice([1.0, 1.2]), cpu_milli=4000, memory_mib=32768)
            if req["count"] > 1:
                req["spread"] = {"level": "node", "max_per_domain": rng.choice([1, 2, 4])}
                if rng.random() < 0.5:
                    req["min_count"] = 1
        else:
            req.update(kind="share", gpu_milli=rng.choice([250, 300, 500, 700, 1000]), count=rng.choice([1, 2, 4]),
                       priority=1.0, cpu_milli=2000, memory_mib=16384)
        b.requests.append(req)
        asked += size(req)
        k += 1
    return b.build({"locality_weight": 0.01, "migration_weight": 0.1, "max_migrations": None})
