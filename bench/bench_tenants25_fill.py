"""Session 25 (branch tenants25): where a quota-bound plan's gap lies — per tenant, and per GPU mode.

Per tenant: its quota, the GPU-equivalents it has placed by priority, the plan's value from it, and the
best it could reach by its quota alone (its requests, highest priority first, fractionally, up to
``max_gpus``: on tenants-106 their sum is the reported bound), and what waits by priority and kind
(MIG requests by ``slices`` at slices / 7). Per GPU: how many GPUs of each node mode hold which kinds
(idle included) in the plan. Reads an instance file and a plan file.

    python bench/bench_tenants25_fill.py INSTANCE.json PLAN.json
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

from packer.model import Instance, Plan


def main(inst_path: str, plan_path: str) -> None:
    inst = Instance.model_validate_json(open(inst_path).read())
    plan = Plan.model_validate_json(open(plan_path).read())
    placed = {a.request: a.units for a in plan.assignments}

    def one(r):  # type: ignore[no-untyped-def]
        if r.kind == "mig":
            if r.profile:
                return inst.unit_size_on(r, inst.model_of(inst.nodes[0]), r.profile)
            return (r.slices or 1) / 7.0
        return inst.unit_size_on(r, None)

    plan_total = knap_total = 0.0
    for t in inst.tenants:
        got: dict[float, float] = defaultdict(float)
        waits: dict[str, float] = defaultdict(float)
        items = []
        for r in inst.requests:
            if r.tenant != t.id:
                continue
            units = placed.get(r.id, ())
            ge = sum(inst.unit_size(r, u) for u in units)
            got[r.priority] += ge
            w = (r.count - len(units)) * one(r)
            if w > 0:
                waits[f"{r.priority}{r.kind[0]}"] += w
            items.append((r.priority, ge + w))
        left = t.max_gpus if t.max_gpus is not None else float("inf")
        best = 0.0
        for p, g in sorted(items, key=lambda x: -x[0]):
            take = min(left, g)
            best += p * take
            left -= take
            if left <= 0:
                break
        value = sum(p * g for p, g in got.items())
        plan_total += value
        knap_total += best
        print(t.id, t.isolation, t.max_gpus, "placed", round(sum(got.values()), 2),
              {p: round(g, 1) for p, g in sorted(got.items())}, "value", round(value, 2), "by quota", round(best, 2),
              "waiting", {k: round(v, 1) for k, v in sorted(waits.items())})
    print("plan", round(plan_total, 2), "sum of the quota fills", round(knap_total, 2))
    use: dict[tuple[str, int | None], set[str]] = defaultdict(set)
    req = {r.id: r for r in inst.requests}
    for rid, units in placed.items():
        for u in units:
            use[(u.node, u.gpu)].add(req[rid].kind)
    per = Counter()
    for n in inst.nodes:
        for g in range(n.num_gpus):
            mode = n.mode if n.gpu_modes is None else n.gpu_modes[g]
            per[(mode, "+".join(sorted(use.get((n.id, g), ()))) or "idle")] += 1
    for k, v in sorted(per.items()):
        print("gpus", k, v)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
