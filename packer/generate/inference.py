"""Family ``inference``: MIG-heavy serving on H100 and H200 racks.

Most GPUs are in MIG mode; requests ask for every base profile of a model, or for compute
``slices`` with a ``min_memory_gib`` that only some profiles (and models) meet, spread over nodes or
racks, many elastic (``min_count``). A few whole-GPU requests use the full and any GPUs.
"""

from __future__ import annotations

import math
from typing import Any

from packer.generate.builder import Builder, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]
MODELS = ("H100-80GB", "H200-141GB")


def inference(seed: int, num_nodes: int = 128, demand: float = 1.2, name: str = "inference") -> Instance:
    """An inference-heavy instance on ``num_nodes`` nodes (one model per rack)."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    rack_model = [rng.choice(MODELS) for _ in range((num_nodes + 3) // 4)]
    b.cluster(num_nodes, lambda i: rack_model[i // 4],
              lambda i: [pick_modes(rng, {"mig": 0.7, "any": 0.15, "full": 0.15})] * 8)
    ng = 8 * num_nodes
    b.tenants = [
        {"id": "chat", "max_gpus": round(0.5 * ng), "isolation": "gpu"},
        {"id": "search", "max_gpus": round(0.35 * ng), "isolation": "none"},
        {"id": "vision", "max_gpus": round(0.25 * ng), "isolation": "none"},
        {"id": "edge", "max_gpus": max(1, round(0.08 * ng)), "isolation": "node"},
    ]
    tenants, weights = ["chat", "search", "vision", "edge"], [5, 3.5, 2.5, 0.8]
    models = sorted(set(rack_model))
    profiles = {m: [p for p in b.catalog[m].profiles if p.is_base] for m in models}
    asked, k = 0.0, 0
    while asked < demand * ng:
        req: dict[str, Any] = {"id": f"req-{k:05d}", "tenant": rng.choices(tenants, weights=weights)[0]}
        r = rng.random()
        model = rng.choice(models)
        p = rng.choice(profiles[model])
        if r < 0.45:  # replicas of one exact profile
            req.update(kind="mig", profile=p.name, gpu_models=[model], count=rng.choice([2, 3, 4, 6, 8, 12, 16]),
                       priority=rng.choice([1.0, 1.2, 1.5]), cpu_milli=4000, memory_mib=32768)
        elif r < 0.8:  # by slices, with a memory floor that this profile meets (and smaller ones may not)
            req.update(kind="mig", slices=p.compute, count=rng.choice([1, 2, 4, 6, 8]),
                       priority=rng.choice([1.0, 1.2]), cpu_milli=4000, memory_mib=32768)
            if rng.random() < 0.7:
                req["min_memory_gib"] = float(math.floor(0.95 * p.memory_gib))
        elif r < 0.95:  # small experiments
            req.update(kind="mig", slices=1, count=rng.choice([1, 2, 4]), priority=rng.choice([0.5, 1.0]),
                       cpu_milli=2000, memory_mib=16384)
        else:  # whole GPUs for the odd large model
            req.update(kind="gpu", count=rng.choice([1, 2, 4]), priority=1.0, cpu_milli=16000, memory_mib=131072,
                       locality={"level": "node", "required": True})
        if req["count"] > 1:
            if rng.random() < 0.6:
                level = rng.choice(["node", "rack"])
                cap = rng.choice([1, 2, 4]) if level == "node" else rng.choice([4, 8])
                if req["kind"] != "gpu":
                    req["spread"] = {"level": level, "max_per_domain": cap}
            if req["kind"] == "mig" and rng.random() < 0.5:
                req["min_count"] = max(1, req["count"] // 2)
        b.requests.append(req)
        asked += size(req)
        k += 1
    return b.build()
