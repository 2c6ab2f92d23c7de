"""Family ``quota``: tenants whose quota can buy either contested or uncontested capacity.

The structure came from training-102 (session 20): a tenant at its quota held whole GPUs with a gang
that another tenant's waiting gangs of the same priority would have filled at no loss, while its own
MIG work waited beside idle MIG GPUs. The best plan spends such a tenant's quota where nobody else
can use the capacity, which no per-request order sees: value per GPU-equivalent is the same for both
kinds of work, so only the competition for the capacity tells them apart.

B200 nodes of 8 GPUs, racks of 4 nodes, pods of 32; node modes about 50% mig, 35% full, 15% any.
Five tenants: two "tight" ones (one of them gpu-isolated) whose quota is about 55% of what they ask,
three with room in their quota (one node-isolated). Every tenant asks both whole-GPU gangs (1-8 GPUs
on one node, 16 in one rack, all required locality) and MIG work (replicas by profile, some spread
one a node, and elastic experiments by ``slices``), with priorities drawn from the same set for both
kinds. Whole-GPU work asks about ``demand`` × 1.5 of the full and any GPUs, MIG work about ``demand``
× 0.7 of the MIG GPUs: whole GPUs are contested, MIG slices are not.
"""

from __future__ import annotations

from typing import Any

from packer.generate.builder import Builder, mode_counts, pick_modes, size
from packer.model import Instance

LEVELS = ["node", "nvlink", "rack", "pod"]
#: (tenant, isolation, tight): a tight tenant's quota is about 55% of what it asks.
TENANTS = (("alpha", "none", True), ("beta", "gpu", True), ("gamma", "none", False),
           ("delta", "node", False), ("omega", "none", False))
PRIORITIES = (1.0, 1.0, 1.5, 2.0)


def quota(seed: int, num_nodes: int = 128, demand: float = 1.0, name: str = "quota") -> Instance:
    """A quota-bound instance on ``num_nodes`` B200 nodes; ``demand`` scales both kinds of work alike."""
    b = Builder(f"{name}-{seed}", seed, LEVELS)
    rng = b.rng
    b.cluster(num_nodes, lambda i: "B200-180GB",
              lambda i: [pick_modes(rng, {"mig": 0.5, "full": 0.35, "any": 0.15})] * 8)
    caps = mode_counts(b)
    whole_goal = demand * 1.5 * (caps["full"] + caps["any"])
    mig_goal = demand * 0.7 * max(caps["mig"], 1.0)
    base = b.base_profiles("B200-180GB")
    rack = 16 if num_nodes >= 4 else 8
    weights = [rng.uniform(0.7, 1.3) for _ in TENANTS]
    share = [w / sum(weights) for w in weights]
    reqs: list[dict[str, Any]] = []
    asked = [0.0] * len(TENANTS)
    k = 0
    for j, (tenant, _, _) in enumerate(TENANTS):
        whole, mig = 0.0, 0.0
        while whole < share[j] * whole_goal:  # whole-GPU gangs with required locality
            count = rng.choices([1, 2, 4, 8, rack], weights=[2, 2, 3, 3, 1])[0]
            level = "rack" if count > 8 else "node"
            req: dict[str, Any] = {"id": f"q-{k:05d}", "tenant": tenant, "kind": "gpu", "count": count,
                                   "priority": rng.choice(PRIORITIES), "cpu_milli": 16000, "memory_mib": 131072}
            if count > 1:
                req["locality"] = {"level": level, "required": True}
            reqs.append(req)
            whole += size(req)
            k += 1
        while mig < share[j] * mig_goal:  # MIG replicas by profile and elastic experiments by slices
            req = {"id": f"q-{k:05d}", "tenant": tenant, "kind": "mig", "priority": rng.choice(PRIORITIES),
                   "cpu_milli": 4000, "memory_mib": 32768}
            if rng.random() < 0.6:
                req.update(profile=base[rng.choice([1, 1, 2, 3, 4, 7])], count=rng.choice([2, 4, 6, 8]))
                if rng.random() < 0.5:
                    req["spread"] = {"level": "node", "max_per_domain": rng.choice([1, 2])}
            else:
                req.update(slices=rng.choice([1, 1, 2, 3]), count=rng.choice([2, 4, 8]))
                req["min_count"] = rng.randint(1, req["count"] - 1)
            reqs.append(req)
            mig += size(req)
            k += 1
        asked[j] = whole + mig
    b.tenants = [{"id": t, "max_gpus": float(max(1, round((0.55 if tight else 1.2) * asked[j]))), "isolation": iso}
                 for j, (t, iso, tight) in enumerate(TENANTS)]
    rng.shuffle(reqs)  # the tenants' requests arrive interleaved, both kinds mixed
    b.requests = reqs
    return b.build()
