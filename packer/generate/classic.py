"""The first families: ``tiny``, ``small``, ``haein`` and ``xl`` (figures in bench/ depend on them
staying exactly as they are).
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder as _Builder
from packer.generate.builder import size as _size
from packer.geometry import geometry
from packer.model import Instance


def tiny(seed: int) -> Instance:
    b = _Builder(f"tiny-{seed}", seed, ["node"])
    rng = b.rng
    model = rng.choice(["H100-80GB", "A30-24GB", "A100-40GB"])
    geo = geometry(b.catalog[model])
    num_nodes = rng.choice([1, 2])
    per_node = rng.randint(1, 8 // num_nodes) if num_nodes == 2 else rng.randint(1, 4)
    for i in range(num_nodes):
        modes = [rng.choice(["mig", "mig", "full", "shared", "any"]) for _ in range(per_node)]
        b.add_node(f"n{i}", model, per_node, modes, {}, 64000, 512 * 1024)
    b.tenants = [{"id": "t0", "max_gpus": None, "isolation": "none"},
                 {"id": "t1", "max_gpus": float(rng.choice([1, 2, 3])), "isolation": rng.choice(["none", "gpu"])}]
    profiles = [p.name for p in geo.model.profiles if p.is_base]
    for j in range(rng.randint(2, 5)):
        kind = rng.choice(["mig", "mig", "gpu", "share"])
        req: dict[str, Any] = {"id": f"r{j}", "tenant": rng.choice(["t0", "t1"]), "kind": kind,
                               "count": rng.randint(1, 3), "priority": rng.choice([1.0, 1.0, 2.0]),
                               "cpu_milli": rng.choice([0, 8000, 16000])}
        if kind == "mig":
            if rng.random() < 0.7:
                req["profile"] = rng.choice(profiles)
            else:
                req["slices"] = rng.choice(sorted({geo.model.profile(p).compute for p in profiles}))  # type: ignore[union-attr]
        elif kind == "share":
            req["gpu_milli"] = rng.choice([250, 400, 500, 700])
        if req["count"] > 1 and rng.random() < 0.3:
            req["min_count"] = 1
        if num_nodes > 1 and rng.random() < 0.3:
            req["locality"] = {"level": "node", "required": rng.random() < 0.5}
        b.requests.append(req)
    return b.build()


def small(seed: int, demand: float) -> Instance:
    b = _Builder(f"small-{seed}", seed, ["node", "rack"])
    modes_cycle = ["full", "full", "mig", "mig", "shared", "full", "mig", "any"]
    for i in range(8):
        b.add_node(f"n{i}", "H100-80GB", 8, [modes_cycle[i]] * 8, {"rack": f"r{i // 4}"}, 224000, 2 * 1024 * 1024)
    b.tenants = [{"id": "train", "max_gpus": 40.0, "isolation": "none"},
                 {"id": "serve", "max_gpus": 24.0, "isolation": "gpu"},
                 {"id": "lab", "max_gpus": 8.0, "isolation": "none"}]
    _mix(b, 64, demand, scale=1, running=3)
    return b.build()


def haein(seed: int, num_nodes: int, demand: float, name: str = "haein") -> Instance:
    b = _Builder(f"{name}-{seed}", seed, ["node", "nvlink", "rack", "pod"])
    rng = b.rng
    for i in range(num_nodes):
        r = rng.random()
        mode = "full" if r < 0.45 else "mig" if r < 0.75 else "shared" if r < 0.9 else "any"
        b.add_node(f"n{i:04d}", "B200-180GB", 8, [mode] * 8,
                   {"nvlink": f"n{i:04d}", "rack": f"r{i // 4:03d}", "pod": f"p{i // 32:02d}"},
                   224000, 2 * 1024 * 1024)
    ng = num_nodes * 8
    b.tenants = [
        {"id": "frontier", "max_gpus": round(0.55 * ng), "isolation": "none"},
        {"id": "serving", "max_gpus": round(0.35 * ng), "isolation": "gpu"},
        {"id": "secure", "max_gpus": round(0.10 * ng), "isolation": "node"},
        {"id": "research", "max_gpus": round(0.25 * ng), "isolation": "none"},
        {"id": "students", "max_gpus": round(0.05 * ng), "isolation": "none"},
    ]
    _mix(b, ng, demand, scale=num_nodes // 128 or 1, running=max(4, num_nodes // 8))
    return b.build()


def _mix(b: _Builder, num_gpus: int, demand: float, *, scale: int, running: int) -> None:
    """Adds running work, then new requests until their demand reaches ``demand`` × num_gpus."""
    rng = b.rng
    tenants = [t["id"] for t in b.tenants]
    model = b.nodes[0]["gpu_model"]
    m = b.catalog[model]
    base: dict[int, str] = {}  # per compute size, the base profile with the most instances
    for p in m.profiles:
        if p.is_base and (p.compute not in base or p.max_count > m.profile(base[p.compute]).max_count):  # type: ignore[union-attr]
            base[p.compute] = p.name
    k = 0
    quota = {t["id"]: t.get("max_gpus") for t in b.tenants}
    used = dict.fromkeys(quota, 0.0)
    for j in range(running):
        # (the draws keep their order of old, so instances whose running work fits stay the same)
        kind = rng.choice(["gpu", "gpu", "mig", "share"])
        tenant = rng.choice(tenants)
        rid = f"run-{j:04d}"
        shape: dict[str, Any]
        if kind == "gpu":
            count = rng.choice([1, 2, 4])
            shape = {"kind": "gpu", "count": count, "cpu": 16000, "mem": 131072, "movable": rng.random() < 0.5}
            amount = float(count)
        elif kind == "mig":
            count = rng.choice([1, 2])
            c = rng.choice([1, 2, 3])
            shape = {"kind": "mig", "count": count, "profile": base[c], "cpu": 4000, "mem": 32768,
                     "movable": rng.random() < 0.5}
            amount = count * c / (m.compute_slices or 7)
        else:
            milli = rng.choice([300, 500])
            shape = {"kind": "share", "count": 1, "gpu_milli": milli, "cpu": 2000, "mem": 16384,
                     "movable": rng.random() < 0.5}
            amount = milli / 1000
        q = quota[tenant]
        if q is not None and used[tenant] + amount > q + 1e-9:
            continue  # running work never breaks its tenant's quota
        if b.running(rid, tenant, **shape):
            used[tenant] += amount
    # Demand per kind follows capacity per mode ('any' GPUs split between them), so every kind is
    # over-asked by about the same factor and no mode sits idle by construction.
    cap = {"gpu": 0.0, "mig": 0.0, "share": 0.0}
    for n in b.nodes:
        modes = n["gpu_modes"] or [n["mode"]] * n["num_gpus"]
        for md in modes:
            if md == "any":
                cap["gpu"] += 0.5
                cap["mig"] += 0.5
            else:
                cap[{"full": "gpu", "mig": "mig", "shared": "share"}[md]] += 1
    asked = {kd: 0.0 for kd in cap}
    for req in b.requests:
        asked[req["kind"]] += _size(req, m.compute_slices or 7)
    # Tenants ask in proportion to their quotas (slightly more than them, overall).
    weights = [t["max_gpus"] if t.get("max_gpus") else 1.0 for t in b.tenants]
    max_gang = 64 if num_gpus >= 512 else 16 if num_gpus >= 64 else 8
    gangs = [g for g in (2, 4, 8, 8, 16, 16, 32, 64) if g <= max_gang]
    while True:
        deficit = {kd: demand * cap[kd] - asked[kd] for kd in cap}
        kind = max(deficit, key=lambda kd: (deficit[kd], kd))
        if deficit[kind] <= 0:
            break
        tenant = rng.choices(tenants, weights=weights)[0]
        req: dict[str, Any] = {"id": f"req-{k:05d}", "tenant": tenant}
        r = rng.random()
        if kind == "gpu":
            if r < 0.55:  # training gang
                size = rng.choice(gangs)
                level = "node" if size <= 8 else "rack" if size <= 32 else "pod"
                req.update(kind="gpu", count=size, cpu_milli=16000, memory_mib=131072,
                           priority=rng.choice([1.0, 1.5, 2.0]),
                           locality={"level": level, "required": rng.random() < 0.7})
            else:  # single whole GPUs
                req.update(kind="gpu", count=rng.choice([1, 2, 2, 4]), cpu_milli=16000, memory_mib=131072)
        elif kind == "mig":
            if r < 0.5:  # inference replicas
                c = rng.choice([1, 2, 3])
                req.update(kind="mig", count=rng.choice([4, 6, 8, 12, 16, 24]), cpu_milli=4000, memory_mib=32768,
                           priority=rng.choice([1.0, 1.2]),
                           spread={"level": rng.choice(["node", "rack"]), "max_per_domain": rng.choice([1, 2, 4])})
                if rng.random() < 0.6:
                    req["profile"] = base[c]
                else:
                    req["slices"] = c
                if rng.random() < 0.4:
                    req["min_count"] = max(1, req["count"] // 2)
            elif r < 0.8:  # experiment slices
                req.update(kind="mig", profile=base[1], count=rng.choice([1, 2, 4]), cpu_milli=2000, memory_mib=16384)
            else:  # bigger single instances
                req.update(kind="mig", profile=base[rng.choice([2, 3, 4, 7])], count=1, cpu_milli=8000,
                           memory_mib=65536)
        else:
            req.update(kind="share", gpu_milli=rng.choice([100, 200, 250, 300, 500, 700]),
                       count=rng.choice([1, 2, 4, 8]), cpu_milli=2000, memory_mib=16384)
        b.requests.append(req)
        asked[kind] += _size(req, m.compute_slices or 7)
        k += 1

