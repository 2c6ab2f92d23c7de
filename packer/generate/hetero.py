"""Family ``hetero``: a mixed fleet (A100-40GB/80GB, H100, H200, B200 with MIG; L40S and A10 without)
with one model per rack and requests restricted to some models (``gpu_models``).

Gangs ask for the newest models only, profile requests name one model's profile, ``slices``
requests carry a memory floor that only some models meet, shares and single GPUs prefer the cards
without MIG. Demand per model family is uneven by construction: the newest GPUs are over-asked.
"""

from __future__ import annotations

import math
from typing import Any

from packer.generate.builder import Builder, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]
MIG_MODELS = ("A100-40GB", "A100-80GB", "H100-80GB", "H200-141GB", "B200-180GB")
PLAIN_MODELS = ("L40S-48GB", "A10-24GB")
NEWEST = ["H100-80GB", "H200-141GB", "B200-180GB"]


def hetero(seed: int, num_nodes: int = 128, demand: float = 1.15, name: str = "hetero") -> Instance:
    """A heterogeneous-fleet instance on ``num_nodes`` 8-GPU nodes (one model per rack)."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    for m in PLAIN_MODELS:
        b.declare_model(m)
    fleet = MIG_MODELS + PLAIN_MODELS
    rack_model = [fleet[(r + seed) % len(fleet)] if r < len(fleet) else rng.choice(fleet)
                  for r in range((num_nodes + 3) // 4)]

    def modes(i: int) -> list[str]:
        if rack_model[i // 4] in PLAIN_MODELS:
            return [pick_modes(rng, {"full": 0.5, "shared": 0.5})] * 8
        return [pick_modes(rng, {"mig": 0.4, "full": 0.35, "shared": 0.1, "any": 0.15})] * 8

    b.cluster(num_nodes, lambda i: rack_model[i // 4], modes)
    ng = 8 * num_nodes
    b.tenants = [
        {"id": "llm", "max_gpus": round(0.5 * ng), "isolation": "none"},
        {"id": "api", "max_gpus": round(0.4 * ng), "isolation": "gpu"},
        {"id": "gov", "max_gpus": round(0.15 * ng) or 1, "isolation": "node"},
        {"id": "uni", "max_gpus": round(0.3 * ng), "isolation": "none"},
    ]
    tenants, weights = ["llm", "api", "gov", "uni"], [4, 3, 1, 2.5]
    present = sorted(set(rack_model))
    mig_present = [m for m in present if m in MIG_MODELS]
    plain_present = [m for m in present if m in PLAIN_MODELS]
    newest = [m for m in NEWEST if m in present] or None
    asked, k = 0.0, 0
    while asked < demand * ng:
        req: dict[str, Any] = {"id": f"req-{k:05d}", "tenant": rng.choices(tenants, weights=weights)[0]}
        r = rng.random()
        if r < 0.2:  # training gangs on the newest GPUs
            count = rng.choice([1, 2, 4, 8, 8, 16] if ng >= 64 else [1, 2, 4, 8])
            req.update(kind="gpu", count=count, priority=rng.choice([1.0, 1.5, 2.0]), cpu_milli=16000,
                       memory_mib=131072, locality={"level": "node" if count <= 8 else "rack", "required": True})
            choice = rng.random()
            if choice < 0.5 and newest:
                req["gpu_models"] = newest
            elif choice < 0.75:
                req["gpu_models"] = [rng.choice(mig_present or present)]
        elif r < 0.5 and mig_present:  # one model's exact profile
            model = rng.choice(mig_present)
            p = rng.choice([q for q in b.catalog[model].profiles if q.is_base])
            req.update(kind="mig", profile=p.name, gpu_models=[model], count=rng.choice([1, 2, 4, 8]),
                       priority=rng.choice([1.0, 1.2]), cpu_milli=4000, memory_mib=32768)
            if req["count"] > 1:
                req["spread"] = {"level": "node", "max_per_domain": rng.choice([1, 2, 4])}
        elif r < 0.7 and mig_present:  # slices with a memory floor: which models qualify follows from it
            model = rng.choice(mig_present)
            p = rng.choice([q for q in b.catalog[model].profiles if q.is_base])
            req.update(kind="mig", slices=p.compute, count=rng.choice([1, 2, 4]), priority=1.0,
                       cpu_milli=4000, memory_mib=32768)
            if rng.random() < 0.7:
                req["min_memory_gib"] = float(math.floor(0.95 * p.memory_gib))
            if req["count"] > 1:
                req["min_count"] = 1
        elif r < 0.9:  # shares, mostly on the cards without MIG
            req.update(kind="share", gpu_milli=rng.choice([200, 250, 300, 500, 700]), count=rng.choice([1, 2, 4]),
                       priority=1.0, cpu_milli=4000, memory_mib=16384)
            if plain_present and rng.random() < 0.6:
                req["gpu_models"] = plain_present
        else:  # single whole GPUs for inference
            req.update(kind="gpu", count=rng.choice([1, 2]), priority=1.0, cpu_milli=8000, memory_mib=65536)
            if plain_present and rng.random() < 0.7:
                req["gpu_models"] = [rng.choice(plain_present)]
        b.requests.append(req)
        asked += size(req)
        k += 1
    return b.build()
