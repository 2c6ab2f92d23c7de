"""Family ``sharing``: fractional GPU shares and small whole-GPU pods shaped like Alibaba's openb trace.

Pod shapes (CPU, memory, GPU count, GPU milli) are drawn from the real openb default pod list
(``traces/alibaba-gpu-v2023/csv/openb_pod_list_default.csv`` under ``$PACKER_SHARED`` or the
``shared/`` folder beside the repository) when it is there, and otherwise from :data:`FALLBACK_SHAPES`,
the 30 most common shapes of that file plus its two most common 2-, 4- and 8-GPU shapes, with their
counts. A pod below 1000 milli becomes a ``share`` request, a whole-GPU pod a ``gpu`` request on one
node, a CPU-only pod a ``host`` request. Nodes are openb's 8-GPU type (96 cores, 384 GiB) with
non-MIG GPUs; the fraction of shared-mode nodes follows the shapes' share of fractional demand.
"""

from __future__ import annotations

import csv
import os
from functools import cache
from pathlib import Path
from typing import Any

from packer.generate.builder import Builder, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "rack", "pod"]
POD_LIST = Path("traces") / "alibaba-gpu-v2023" / "csv" / "openb_pod_list_default.csv"

#: (cpu_milli, memory_mib, num_gpu, gpu_milli, pods) of openb_pod_list_default.csv's common shapes.
FALLBACK_SHAPES: tuple[tuple[int, int, int, int, int], ...] = (
    (3152, 5600, 1, 810, 1047), (11300, 49152, 1, 1000, 857), (11400, 48128, 1, 1000, 534),
    (3152, 5600, 1, 1000, 470), (11908, 47104, 1, 470, 388), (12500, 57344, 0, 0, 364),
    (8000, 30517, 1, 470, 360), (32000, 49152, 0, 0, 284), (18708, 64512, 1, 1000, 255),
    (11908, 47104, 1, 650, 237), (9810, 41560, 1, 1000, 195), (8000, 30517, 0, 0, 163),
    (12000, 24576, 1, 1000, 158), (15700, 58368, 1, 1000, 158), (11908, 47104, 1, 1000, 153),
    (15400, 51200, 0, 0, 120), (4000, 22888, 1, 320, 111), (16000, 32768, 1, 1000, 108),
    (8000, 16384, 1, 1000, 104), (4000, 24576, 1, 1000, 104), (12000, 16384, 1, 1000, 99),
    (16500, 51200, 0, 0, 95), (14200, 58368, 1, 1000, 93), (4000, 30517, 1, 230, 84),
    (24200, 93184, 1, 1000, 84), (4000, 15258, 1, 320, 78), (3152, 5600, 1, 590, 75),
    (8000, 30517, 1, 320, 72), (4152, 10600, 1, 550, 72), (11400, 77824, 1, 1000, 65),
    (16200, 66560, 2, 1000, 7), (6000, 65536, 2, 1000, 3), (32200, 132096, 4, 1000, 9),
    (32000, 131072, 4, 1000, 3), (88000, 327680, 8, 1000, 18), (64200, 263168, 8, 1000, 18),
)


def _pod_list_path() -> Path | None:
    roots = [os.environ.get("PACKER_SHARED"), Path(__file__).resolve().parents[2].parent / "shared"]
    for root in roots:
        if root and (Path(root) / POD_LIST).is_file():
            return Path(root) / POD_LIST
    return None


@cache
def pod_shapes() -> tuple[tuple[int, int, int, int, int], ...]:
    """Shapes (cpu_milli, memory_mib, num_gpu, gpu_milli, pods) of the openb pod list, or the fallback."""
    path = _pod_list_path()
    if path is None:
        return FALLBACK_SHAPES
    counts: dict[tuple[int, int, int, int], int] = {}
    with path.open(newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            key = (int(row["cpu_milli"]), int(row["memory_mib"]), int(row["num_gpu"]), int(row["gpu_milli"]))
            counts[key] = counts.get(key, 0) + 1
    return tuple(k + (n,) for k, n in sorted(counts.items()))


def sharing(seed: int, num_nodes: int = 128, demand: float = 1.1, name: str = "sharing") -> Instance:
    """A fractional-sharing instance on ``num_nodes`` 8-GPU nodes asking ``demand`` × its GPUs."""
    shapes = pod_shapes()
    frac = sum(n * g * m for _, _, g, m, n in shapes if m < 1000)
    whole = sum(n * g * m for _, _, g, m, n in shapes if m == 1000)
    shared_share = frac / (frac + whole)
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    for model in ("V100-32GB", "A10-24GB"):
        b.declare_model(model)
    for i in range(num_nodes):
        mode = pick_modes(rng, {"shared": 0.85 * shared_share, "full": 0.85 * (1 - shared_share), "any": 0.15})
        b.add_node(f"n{i:04d}", "V100-32GB" if i % 4 else "A10-24GB", 8, [mode] * 8,
                   {"rack": f"r{i // 4:03d}", "pod": f"p{i // 32:02d}"}, 96000, 393216)
    ng = 8 * num_nodes
    b.tenants = [
        {"id": "prod", "max_gpus": round(0.6 * ng), "isolation": "none"},
        {"id": "dev", "max_gpus": round(0.4 * ng), "isolation": "none"},
        {"id": "notebooks", "max_gpus": round(0.2 * ng) or 1, "isolation": "gpu"},
    ]
    weights = [s[4] for s in shapes]
    asked, k = 0.0, 0
    while asked < demand * ng:
        cpu, mem, num_gpu, milli, _ = rng.choices(shapes, weights=weights)[0]
        replicas = 1 if rng.random() < 0.6 else rng.choice([2, 3, 4])
        req: dict[str, Any] = {"id": f"pod-{k:05d}", "tenant": rng.choices(["prod", "dev", "notebooks"], [5, 3, 2])[0],
                               "cpu_milli": cpu, "memory_mib": mem, "priority": rng.choice([1.0, 1.0, 1.5])}
        if num_gpu == 0:
            req.update(kind="host", count=replicas)
        elif milli < 1000:
            req.update(kind="share", gpu_milli=milli, count=replicas)
        elif num_gpu == 1:
            req.update(kind="gpu", count=replicas)
        else:  # one multi-GPU pod: all its GPUs on one node
            req.update(kind="gpu", count=num_gpu, locality={"level": "node", "required": True})
        if req["count"] > 1 and num_gpu <= 1 and rng.random() < 0.5:
            req["min_count"] = 1
        if num_gpu and rng.random() < 0.1:
            req["gpu_models"] = [rng.choice(["V100-32GB", "A10-24GB"])]
        b.requests.append(req)
        asked += size(req)
        k += 1
    return b.build()
