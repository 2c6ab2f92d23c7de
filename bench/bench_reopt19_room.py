"""Where whole-GPU room is in a re-optimized plan, and what an 8-GPU node gang would take (session 19).

``free``: the plan's free GPUs that may be in full mode (``full``/``any`` GPUs no unit holds), on nodes a
node-isolated tenant holds and on the others, and the other full nodes by how many running units they hold.
``exchange REQ``: for a waiting whole-GPU request with a required locality (a node gang), every domain of
its level where it fits once the plan's placed waiting work there is taken out (online placer, first-fit,
every rule), with the value so lifted, what of it first-fit puts back elsewhere, and the net change.

    python bench/bench_reopt19_room.py free issue --seeds 5 --plan bench/reopt19_plans/haein-5-never-on-0.json.gz
    python bench/bench_reopt19_room.py exchange issue --seeds 5 --plan bench/reopt19_plans/haein-5-never-on-0.json.gz \
        --request req-00505
"""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    import argparse

    from bench_reopt import state
    from bench_reopt19_why import _load

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=("free", "exchange"))
    ap.add_argument("family", choices=("issue", "fragmented"))
    ap.add_argument("--seeds", type=int, nargs=1, required=True)
    ap.add_argument("--nodes", type=int, default=None)
    ap.add_argument("--plan", required=True)
    ap.add_argument("--request", default=None)
    args = ap.parse_args()

    from packer.online import OnlinePlacer
    from packer.plans import request_size

    inst = state(args.family, args.seeds[0], args.nodes)
    placed = {a.request: list(a.units) for a in _load(args.plan).assignments}
    iso = {t.id for t in inst.tenants if t.isolation == "node"}
    if args.what == "free":
        used: dict[str, set[int]] = defaultdict(set)
        ten: dict[str, set[str]] = defaultdict(set)
        for k, us in placed.items():
            for u in us:
                if u.gpu is not None:
                    used[u.node].add(u.gpu)
                ten[u.node].add(inst.request(k).tenant)
        free: Counter[str] = Counter()
        hist: Counter[int] = Counter()
        for n in inst.nodes:
            key = "isolated" if ten[n.id] & iso else "open"
            free[key] += sum(1 for g in range(n.num_gpus) if n.gpu_mode(g) in ("full", "any") and g not in used[n.id])
            if key == "open" and n.num_gpus and all(n.gpu_mode(g) in ("full", "any") for g in range(n.num_gpus)):
                hist[sum(1 for k, us in placed.items() if inst.request(k).placement is not None
                         for u in us if u.node == n.id and u.gpu is not None)] += 1
        print(f"{inst.name}: free full/any GPUs {dict(free)}; other full nodes by running units on them "
              f"{sorted(hist.items())}")
        return 0
    g = inst.request(args.request)
    level = g.locality.level if g.locality is not None and g.locality.required else "node"
    doms: dict[str, set[str]] = defaultdict(set)
    for n in inst.nodes:
        doms[n.id if level == "node" else inst.domain(n, level)].add(n.id)
    base = OnlinePlacer(inst, policy="first-fit", place_running=False, isolation_guard=None)
    for k, us in placed.items():
        base._place_exact(inst.request(k), us)
    value = g.priority * g.count  # a whole-GPU request: priority × GPUs
    rows = []
    for d, ns in doms.items():
        lift = [k for k, us in placed.items() if inst.request(k).placement is None and any(u.node in ns for u in us)]
        q = base.fork()
        for k in lift:
            q.release(k)
        allow = q._nallow
        allow[:] = 0
        for nid in ns:
            allow[q._node_ix[nid]] = 1
        ok = q.place(g, explain=False).ok
        allow[:] = 1
        if not ok:
            continue
        worth = {k: inst.request(k).priority * request_size(inst, inst.request(k), placed[k]) for k in lift}
        back = 0.0
        for k in sorted(lift, key=lambda k: -worth[k]):
            r = inst.request(k)
            if q.place(r, explain=False).ok:
                back += r.priority * request_size(inst, r, list(q.units(k)))
        lost = sum(worth.values())
        rows.append((value - lost + back, d, lost, back, len(lift), sorted({inst.request(k).tenant for k in lift})))
    rows.sort(key=lambda x: -x[0])
    print(f"{inst.name}: {g.id} (value {value:g}) fits in {len(rows)} domain(s) of level {level} once their waiting work is out")
    for net, d, lost, back, n_lift, tenants in rows[:8]:
        print(f"  {d}: net {net:+.2f} (lifted {lost:.2f} in {n_lift} waiting request(s) of {tenants}, first-fit puts back {back:.2f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
