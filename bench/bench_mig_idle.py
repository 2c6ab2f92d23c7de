"""Where a plan leaves MIG compute idle: layouts and owners of MIG GPUs that hold work (session 14).

Runs the re-optimizer's no-move start (``reopt.no_move_hint``: the fast placers' best plan, what a
16,384-GPU running cluster starts its blocks from) on a generated instance and prints the idle
compute slices of MIG GPUs with work, by the tenants on the GPU (and whether every unit on its node
is one node-isolated tenant's), then the commonest layouts with their idle slices::

    python bench/bench_mig_idle.py haein 2048 100

Session 14, haein-100 at 16,384 GPUs (hint 20,847.8, capacity bound 21,442.17): 2,986 idle compute
slices on 5,179 MIG GPUs (≈ 427 GPU-equivalents, 2.0% of the bound): 1,111 on the node-isolated
tenant's nodes, whose quota is full (its work spread over more nodes than it needs; nobody else may
use them), 1,157 GPUs with two 3g.90gb (memory full, one compute slice stranded), 239 GPUs with a
lone 3g.90gb (4 idle slices each) — while 1,494 1g.23gb and 197 4g.90gb requests wait, nearly all
for tenant isolation (the room is the node-isolated tenant's or on another tenant's GPU-isolated
GPUs), the isolated tenant's own for its full quota.
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict

from packer.cpsat import reopt
from packer.generate import generate


def main(argv: list[str]) -> int:
    fam, nodes, seed = argv[0], int(argv[1]), int(argv[2])
    inst = generate(fam, seed=seed, nodes=nodes)
    start = reopt.no_move_hint(inst, time_limit=120, seed=0)
    assert start is not None
    tenant_of = {r.id: r.tenant for r in inst.requests}
    isolated = {t.id for t in inst.tenants if t.isolation == "node"}
    profiles: dict[tuple[str, int], list[str]] = defaultdict(list)
    tenants: dict[tuple[str, int], set[str]] = defaultdict(set)
    on_node: dict[str, set[str]] = defaultdict(set)
    for a in start.assignments:
        for u in a.units:
            on_node[u.node].add(tenant_of[a.request])
            if u.profile:
                profiles[(u.node, u.gpu)].append(u.profile)
                tenants[(u.node, u.gpu)].add(tenant_of[a.request])
    cat = inst.gpu_catalog
    by_owner: Counter = Counter()
    by_layout: Counter = Counter()
    for (n, g), ps in profiles.items():
        m = cat[inst.node(n).gpu_model]
        idle = (m.compute_slices or 0) - sum(m.profile(p).compute for p in ps)  # type: ignore[union-attr]
        iso = len(on_node[n]) == 1 and next(iter(on_node[n])) in isolated
        by_owner[(tuple(sorted(tenants[(n, g)])), iso)] += idle
        by_layout[(tuple(sorted(Counter(ps).items())), idle)] += 1
    print(f"{inst.name}: plan {start.objective:.2f}; MIG GPUs with work {len(profiles)}, "
          f"idle compute slices {sum(by_owner.values())}")
    for (ts, iso), idle in by_owner.most_common(10):
        if idle:
            print(f"  idle {idle:5d} on GPUs of {', '.join(ts)}{' (node-isolated node)' if iso else ''}")
    for (layout, idle), count in by_layout.most_common(10):
        print(f"  {count:5d} GPUs, {idle} idle: {' + '.join(f'{k}×{p}' for p, k in layout)}")
    # Why the waiting work stays out: each unplaced request's reason, up to its first colon (the rule).
    shape = {r.id: (r.kind, r.profile or r.slices or r.gpu_milli, r.tenant) for r in inst.requests}
    why = Counter((shape[u.request], (u.reason or "").split(":", 1)[0]) for u in start.unplaced)
    for ((kind, what, tenant), rule), count in why.most_common(12):
        print(f"  {count:5d} waiting {kind} {what or ''} of {tenant}: {rule}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
